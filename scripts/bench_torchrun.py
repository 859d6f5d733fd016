"""Benchmark: the speech chapter's ensemble (smoke corpus, E members) trained by one process vs by torchrun with
N CPU ranks, side by side, alternating, on this machine. Wall time of the whole command and the record's own
wall time (corpus load + training + evaluation). Records results/bench-torchrun/<device>.json with --record.

    .venv/bin/python scripts/bench_torchrun.py --seeds 10 --ranks 2 --repeats 2 --record
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="ensemble members")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=6, help="baseline epochs (the rest of the chapter is shortened)")
    ap.add_argument("--set", dest="extra", action="append", default=[], help="more overrides, e.g. hidden=[256,256]")
    ap.add_argument("--record", action="store_true")
    a = ap.parse_args()
    from reproduce.io import atomic_write_json
    import torch

    from reproduce.results import git_commit, provenance
    args = ["run", "speech", "--profile", "smoke", "--no-progress", "--rerun", "--seeds", str(a.seeds),
            "--set", f"baseline.epochs={a.epochs}", "--set", "distilled.epochs=1", "--set", "hard3.epochs=1",
            "--set", "soft3.epochs=1"] + [x for kv in a.extra for x in ("--set", kv)]
    tmp = Path(tempfile.mkdtemp(prefix="bench-torchrun-"))
    threads = os.cpu_count() or 1
    env = dict(os.environ, REPRODUCE_DATA_DIR=str(tmp / "data"), REPRODUCE_NO_PROGRESS="1")
    torchrun = Path(sys.executable).parent / "torchrun"
    cmds = {"one process": ([sys.executable, "-m", "reproduce.cli"], dict(env, OMP_NUM_THREADS=str(threads))),
            f"torchrun, {a.ranks} ranks": ([str(torchrun), f"--nproc_per_node={a.ranks}", "-m", "reproduce.cli"],
                                           dict(env, OMP_NUM_THREADS=str(max(1, threads // a.ranks))))}
    subprocess.run([sys.executable, "-m", "reproduce.cli", "data", "speech", "--profile", "smoke"], env=env,
                   check=True, capture_output=True, cwd=ROOT)
    times = {k: [] for k in cmds}
    inner = {k: [] for k in cmds}
    for rep in range(a.repeats):
        for name, (cmd, e) in cmds.items():
            shutil.rmtree(tmp / "data" / "runs", ignore_errors=True)  # train from scratch every time
            t0 = time.perf_counter()
            done = subprocess.run([*cmd, *args, "--results-dir", str(tmp / name.replace(" ", "_"))], env=e,
                                  capture_output=True, text=True, cwd=ROOT)
            times[name].append(time.perf_counter() - t0)
            if done.returncode != 0:
                sys.exit(f"{name} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
            rec = json.loads((tmp / name.replace(" ", "_") / "smoke" / "speech.json").read_text())
            inner[name].append(rec["provenance"]["wall_s"])
            print(f"repeat {rep}: {name}: {times[name][-1]:.1f} s (record's wall {inner[name][-1]:.1f} s)")
    base = statistics.median(times["one process"])
    rows = {k: {"median_s": statistics.median(v), "runs_s": v, "record_wall_s": inner[k],
                "speedup_vs_one_process": base / statistics.median(v)} for k, v in times.items()}
    for k, r in rows.items():
        print(f"{k:<24} {r['median_s']:7.1f} s   x{r['speedup_vs_one_process']:.2f}")
    if a.record:
        dev = f"cpu-{platform.machine()}-{threads}-cores".lower()
        out = {"what": f"speech smoke chapter{' with ' + ', '.join(a.extra) if a.extra else ''}, {a.seeds}-member "
                       f"ensemble ({a.epochs} epochs), one process with "
                       f"{threads} threads vs torchrun with {a.ranks} ranks of {max(1, threads // a.ranks)} thread(s)",
               "config": vars(a), "rows": rows,
               "provenance": provenance(torch.device("cpu"), sum(sum(v) for v in times.values()), git_commit())}
        tag = "".join(c if c.isalnum() else "-" for c in "-".join(a.extra)).strip("-")
        path = ROOT / "results" / "bench-torchrun" / f"{dev}{'-' + tag if tag else ''}.json"
        atomic_write_json(path, out)
        print(f"recorded {path}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
