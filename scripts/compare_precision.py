"""bf16 against fp32 on the speech chapter's frame classifier: validation and test frame accuracy over seeds, and
the wall time of each, side by side on one machine (issue: the training core at this machine's limit, part 3).

    python scripts/compare_precision.py --profile quick --hidden 1024,1024,1024 --epochs 4 --seeds 3

The net is the chapter's baseline recipe with the given hidden layers (large enough for the oneDNN path, which has
the bf16 products); the corpus is the profile's. Each precision trains its seeds as one batched model with the same
seeds, so the two runs differ only in the rounding of their products. The record goes to
results/precision/speech-<cpu>.json with its provenance; the verdict: bf16 passes where the difference of the mean
validation accuracies is within the seed spread (one sample standard deviation of either run).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reproduce.experiments import speech as S  # noqa: E402
from reproduce.io import atomic_write_json  # noqa: E402
from reproduce.machine import cpu_slug  # noqa: E402
from reproduce.results import RESULTS_DIR, provenance, set_invocation, summarize  # noqa: E402
from reproduce.train import TrainConfig, Trainer  # noqa: E402
from reproduce.train import precision as P  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--profile", default="quick", help="whose corpus and baseline recipe (default quick)")
ap.add_argument("--hidden", default="1024,1024,1024", help="hidden widths, comma-separated")
ap.add_argument("--epochs", type=int, default=4)
ap.add_argument("--seeds", type=int, default=3)
args = ap.parse_args()
set_invocation(["python", "scripts/compare_precision.py", *sys.argv[1:]])

dev = torch.device("cpu")
cfg = S.resolve_config(args.profile)
corpus, d = S.device_corpus(cfg, dev, True, print)
hidden = [int(h) for h in args.hidden.split(",")]
sizes = (d["train"].dim, *hidden, int(corpus["labels"].max()) + 1)
seeds = [S.SEED_BASE["baseline"] + i for i in range(args.seeds)]
recipe = dict(cfg["baseline"], sizes=sizes, epochs=args.epochs, eval_every=args.epochs)
t_start = time.perf_counter()
out = {}
for prec in ("fp32", "bf16"):
    t0 = time.perf_counter()
    tr = Trainer(TrainConfig(**dict(recipe, precision=prec)), seeds, d["train"], d["test"], evals={"val": d["val"]},
                 progress=True, name=f"precision-{prec}", desc=f"{prec} {'-'.join(map(str, sizes))}")
    res = tr.run()
    wall = time.perf_counter() - t0
    val, _ = S.ensemble_eval(res.model, d["val"])
    test, _ = S.ensemble_eval(res.model, d["test"])
    out[prec] = {"layers": P.describe(prec, tr.model.bf16), "bf16_layers": list(tr.model.bf16),
                 "val_acc": summarize(val), "test_acc": summarize(test), "wall_s": round(wall, 1),
                 "s_per_epoch": round(wall / args.epochs, 2)}
    print(f"{prec}: val {statistics.fmean(val):.2f}% test {statistics.fmean(test):.2f}% in {wall:.0f} s "
          f"({out[prec]['layers']})")
diff = out["bf16"]["val_acc"]["mean"] - out["fp32"]["val_acc"]["mean"]
spread = max(out["fp32"]["val_acc"]["std"], out["bf16"]["val_acc"]["std"])
passes = abs(diff) <= spread
rec = {"comparison": "bf16 vs fp32 products, speech baseline recipe", "profile": args.profile, "sizes": list(sizes),
       "epochs": args.epochs, "seeds": seeds, "frames": {k: d[k].n for k in ("train", "val", "test")},
       "runs": out, "val_diff_points": round(diff, 3), "seed_spread_points": round(spread, 3),
       "bf16_passes": passes, "speedup": round(out["fp32"]["wall_s"] / out["bf16"]["wall_s"], 3),
       "rule": "bf16 passes when |mean val accuracy (bf16) - mean val accuracy (fp32)| <= the larger seed sd",
       "provenance": provenance(dev, time.perf_counter() - t_start)}
slug = cpu_slug()
path = RESULTS_DIR / "precision" / f"speech-{slug}.json"
atomic_write_json(path, rec)
print(f"val difference {diff:+.3f} points, seed spread {spread:.3f}: bf16 {'passes' if passes else 'fails'}; "
      f"x{rec['speedup']:.2f} faster end to end; recorded {path}")
