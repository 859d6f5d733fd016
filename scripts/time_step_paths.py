"""The MNIST nets' whole training step on each CPU path, side by side: fp32 through MKL, fp32 through oneDNN and bf16
through oneDNN (every layer but the last), for 1 and 2 members batched, in ROUNDS rounds. It checks the products probe
(train/precision.py: the layer products that pick the bf16 layers, and the one-member step probe that decides)
against the trainer's real step.

    python scripts/time_step_paths.py

Writes results/step-paths/<cpu>.json. Run it on a quiet machine.
"""
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reproduce.bench import time_interleaved  # noqa: E402
from reproduce.datasets import mnist as data  # noqa: E402
from reproduce.io import atomic_write_json  # noqa: E402
from reproduce.machine import cpu_slug  # noqa: E402
from reproduce.profiles import get_profile  # noqa: E402
from reproduce.results import RESULTS_DIR, provenance, set_invocation  # noqa: E402
from reproduce.train import DeviceImages, TrainConfig, Trainer  # noqa: E402
from reproduce.train import precision as P  # noqa: E402

set_invocation(["python", "scripts/time_step_paths.py", *sys.argv[1:]])
ROUNDS = 3
PATHS = (("fp32 MKL", "fp32", False), ("fp32 oneDNN", "fp32", True), ("bf16 oneDNN", "bf16", True))
dev = torch.device("cpu")
t0 = time.perf_counter()
m = data.load_mnist()
train = DeviceImages(m.train_x, m.train_y, dev)
rows = {}
for role in ("teacher", "small"):
    recipe = get_profile("mnist", "quick")[role]
    n = len(recipe["sizes"]) - 1
    steps = {}
    for E in (1, 2):
        for label, prec, onednn in PATHS:
            tr = Trainer(TrainConfig(**dict(recipe, precision=prec)), list(range(E)), train, use_cuda_graph=False,
                         progress=False)
            tr.model.onednn = onednn
            tr.model.bf16 = (True,) * (n - 1) + (False,) if prec == "bf16" else (False,) * n
            steps[(role, E, label)] = tr.step_fn()
    # the whole comparison ROUNDS times: on a shared 2-core VM a path's time can jump by a third for a minute, and
    # one round's ranking is then the neighbour's, not the path's
    rounds = [time_interleaved(steps, dev, 20, 5, 3)[0] for _ in range(ROUNDS)]
    probes = {f"{r}x{a}x{b}": P.decide(r, a, b) for r, a, b in
              ((recipe["batch_size"], a, b) for a, b in zip(recipe["sizes"][:-1], recipe["sizes"][1:]))}
    # the probe that decides, as a run would read it, and ROUNDS fresh ones beside it: how often it decides alike
    rows[role] = {"sizes": list(recipe["sizes"]), "probe": probes,
                  "step_probe": P.decide_step(recipe["sizes"], recipe["batch_size"]),
                  "step_probe_repeats": [P.step_probe(recipe["sizes"], recipe["batch_size"]) for _ in range(ROUNDS)],
                  "steps": {}}
    for key in steps:
        per_round = [1000 * statistics.median(r[key]) for r in rounds]
        ms, E, label = statistics.median(per_round), key[1], key[2]
        rows[role]["steps"][f"E={E} {label}"] = {"ms_per_step": round(ms, 3), "ms_per_member": round(ms / E, 3),
                                                 "ms_per_step_rounds": [round(t, 3) for t in per_round]}
        print(f"{role:<8} E={E} {label:<12} {ms:7.2f} ms/step {ms / E:7.2f} ms/member  rounds "
              + " ".join(f"{t:.2f}" for t in per_round))
    for r in rows[role]["step_probe_repeats"]:
        print(f"{role:<8} step probe: MKL {r['mkl_ms']:.2f}, oneDNN {r['fp32_ms']:.2f}, bf16 {r.get('bf16_ms', 0):.2f} ms"
              f" -> {'oneDNN' if r['onednn'] else 'MKL'} for fp32, bf16 {'pays' if r['bf16'] else 'does not pay'}")
rec = {"benchmark": "the MNIST nets' whole step per CPU path (MKL fp32, oneDNN fp32, oneDNN bf16), E = 1 and 2, "
                    f"{ROUNDS} rounds; the step probe that decides, and {ROUNDS} fresh repeats of it",
       "rows": rows, "provenance": provenance(dev, time.perf_counter() - t0)}
slug = cpu_slug()
path = RESULTS_DIR / "step-paths" / f"{slug}.json"
atomic_write_json(path, rec)
print(f"recorded {path}")
