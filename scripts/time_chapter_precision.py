"""One chapter end to end in fp32 and in bf16, back to back on one machine: wall time and the chapter's numbers
(issue: the training core at this machine's limit, "the end-to-end time of one chapter's run with and without it").

    python scripts/time_chapter_precision.py mnist --profile quick
    python scripts/time_chapter_precision.py omitted-digit --profile paper   # after `reproduce run mnist --profile paper`

Each precision is the real `reproduce run` command line, in its own fresh checkpoint folder (nothing resumed), with
every role of the chapter set to that precision (`--set ROLE.precision=...`); both share one products probe, taken
first, so neither pays for it and both make the same per-layer choice. A chapter built on the shared MNIST teacher
(omitted-digit) loads that teacher in both runs from its checkpoint, linked into each fresh folder: the teacher is
the MNIST chapter's training, not this chapter's, and must exist first. The two records and a summary go to
<results-dir>/precision/<experiment>-<profile>-<cpu>.json. Only the MNIST chapters have MLPs large enough for the bf16
path (gemm.MIN_MACS_PER_EXAMPLE); the speech chapter's nets are below it at every profile. Run it on a quiet
machine: the times are only comparable to each other.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reproduce.datasets import mnist  # noqa: E402
from reproduce.io import atomic_write_json  # noqa: E402
from reproduce.machine import cpu_slug  # noqa: E402
from reproduce.profiles import PROFILE_NAMES, get_profile  # noqa: E402
from reproduce.results import RESULTS_DIR, provenance, set_invocation  # noqa: E402
from reproduce.train import gemm, precision  # noqa: E402

# the figures of each chapter that the comparison prints, {role: key of its test errors}; the whole result block is
# kept in the record
HEADLINE = {"mnist": {"teacher": "test_errors", "small": "test_errors", "distilled": "test_errors"},
            "omitted-digit": {"no3": "errors_val_chosen", "only78": "errors_val_chosen"}}

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("experiment", choices=sorted(HEADLINE), help="the chapter to time")
ap.add_argument("--profile", default="quick", choices=PROFILE_NAMES)
ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="ROLE.FIELD=VALUE",
                help="passed to both runs")
ap.add_argument("--results-dir", default=str(RESULTS_DIR), help="the record goes to <this>/precision/")
args = ap.parse_args()
set_invocation(["python", "scripts/time_chapter_precision.py", *sys.argv[1:]])

roles = [k for k, v in get_profile(args.experiment, args.profile).items() if isinstance(v, dict) and "epochs" in v]
cached = mnist.cache_path()
if not cached.exists():
    sys.exit(f"MNIST is not cached at {cached}: run `reproduce data mnist` first")
from reproduce.experiments import get as get_experiment  # noqa: E402
cfg = get_experiment(args.experiment).resolve_config(args.profile, None, args.overrides)
teacher_files = []
if args.experiment != "mnist":  # built on the shared teacher: both runs load it, neither trains it in its clock
    from reproduce.experiments import teacher as shared_teacher
    from reproduce.experiments.common import runs_dir
    from reproduce.train import Trainer, TrainConfig
    _, train, _ = shared_teacher.device_data(torch.device("cpu"))
    ck = Trainer(TrainConfig(**cfg["teacher"]), shared_teacher.teacher_seeds(cfg["teacher_seeds"]), train,
                 checkpoint_dir=runs_dir(), name="teacher", progress=False).checkpoint
    if not ck.exists():
        sys.exit(f"the {args.profile} teacher's checkpoint {ck} does not exist: run `reproduce run mnist --profile "
                 f"{args.profile}` first (its training is not this chapter's)")
    teacher_files = [ck, *ck.parent.glob(f"{ck.stem}-epoch*.pt")]
t_start = time.perf_counter()
runs = {}
with tempfile.TemporaryDirectory(prefix="chapter-precision-") as tmp:
    tmp = Path(tmp)
    # the probes both runs' choices come from, taken here, outside both clocks (a run that probed would pay for it),
    # and what the bf16 run will use in each role: precision.plan's answer from them
    os.environ["REPRODUCE_DATA_DIR"] = str(tmp / "probe")
    (tmp / "probe").mkdir()
    chosen = {}
    for r in roles:
        sizes, rows = tuple(cfg[r]["sizes"]), cfg[r]["batch_size"]
        gemm.use_onednn(sizes, rows, "fp32")
        chosen[r] = list(precision.plan("bf16", sizes, rows, torch.device("cpu")))
    if teacher_files:  # the loaded teacher's model picks its library too
        gemm.use_onednn(tuple(cfg["teacher"]["sizes"]), cfg["teacher"]["batch_size"], "fp32")
    probe = tmp / "probe" / "products-probe.json"
    for prec in ("fp32", "bf16"):
        home = tmp / prec / "data"
        (home / "mnist").mkdir(parents=True)
        for f in cached.parent.iterdir():
            os.symlink(f, home / "mnist" / f.name)
        if teacher_files:
            (home / "runs").mkdir()
            for f in teacher_files:
                os.symlink(f, home / "runs" / f.name)
        if probe.exists():
            shutil.copy(probe, home / probe.name)
        res = tmp / prec / "results"
        cmd = [sys.executable, "-m", "reproduce.cli", "run", args.experiment, "--profile", args.profile, "--rerun",
               "--results-dir", str(res), "--no-progress"]
        for o in [*args.overrides, *(f"{r}.precision={prec}" for r in roles)]:
            cmd += ["--set", o]
        print("$", " ".join(cmd[1:]), flush=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, env=dict(os.environ, REPRODUCE_DATA_DIR=str(home)))
        wall = time.perf_counter() - t0
        rec = json.loads((res / args.profile / f"{args.experiment}.json").read_text())
        # a run stopped part of the way (SIGSTOP while CI ran beside it) is timed by the seconds it was not stopped
        paused = rec["provenance"].get("paused_s", 0.0)
        runs[prec] = {"wall_s": round(wall, 1), "paused_s": paused, "working_s": round(wall - paused, 1), "record": rec}
        print(f"{prec}: {wall:.0f} s" + (f", {paused:.0f} s of them stopped" if paused else ""), flush=True)

fp32, bf16 = (runs[p]["record"]["results"] for p in ("fp32", "bf16"))
summary = {}
for role, key in HEADLINE[args.experiment].items():
    a, b = fp32[role][key], bf16[role][key]
    summary[role] = {"fp32_test_errors": a, "bf16_test_errors": b}
    print(f"{role}: test errors fp32 {a['mean']:.1f} (sd {a['std']:.1f}) vs bf16 {b['mean']:.1f} (sd {b['std']:.1f})")
out = {"comparison": f"the {args.experiment} chapter end to end, fp32 vs bf16 products in every role",
       "experiment": args.experiment, "profile": args.profile, "roles": roles, "overrides": args.overrides,
       "wall_s": {p: runs[p]["wall_s"] for p in runs}, "paused_s": {p: runs[p]["paused_s"] for p in runs},
       "speedup": round(runs["fp32"]["working_s"] / runs["bf16"]["working_s"], 3),
       "bf16_layers_chosen": chosen, "gemm_chosen": {p: runs[p]["record"]["provenance"].get("cpu_gemm_chosen")
                                                       for p in runs},
       "headline": summary, "runs": {p: runs[p]["record"] for p in runs},
       "provenance": provenance(torch.device("cpu"), time.perf_counter() - t_start)}
slug = cpu_slug()
path = Path(args.results_dir) / "precision" / f"{args.experiment}-{args.profile}-{slug}.json"
atomic_write_json(path, out)
print(f"x{out['speedup']:.2f} end to end (fp32 {out['wall_s']['fp32']:.0f} s, bf16 {out['wall_s']['bf16']:.0f} s); "
      f"recorded {path}")
