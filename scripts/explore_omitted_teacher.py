"""The omitted-digit students' teacher, chosen on validation images (issue 26, part 4): the chapter rerun on each kept
state of the shared teacher (an earlier epoch is a softer teacher) at each temperature, since a softer teacher may
transfer more about the classes the student never sees.

Every cell is the real `reproduce run omitted-digit` command with `--set teacher_epoch=E --set no3.temperature=T
--set only78.temperature=T` (and the students' epochs with --short), in its own results folder; its record then
lands as an exploration, <results-dir>/<profile>/omitted-digit-explore/teacher-e<E>-T<T>[-short].json, which the
chapter's table and its validation choice read (copy it into results/paper/omitted-digit-explore/ from a clean
commit). A cell whose exploration exists is skipped; an interrupted cell resumes from its students' checkpoints.

    python scripts/explore_omitted_teacher.py --short --results-dir ~/res-paper          # a tenth of the cost
    python scripts/explore_omitted_teacher.py --epochs 300,1000 --temperatures 20 --results-dir ~/res-paper

--short trains each cell's students for a tenth of the profile's epochs (30 and 120 at `paper`, the recorded
exploration `epochs-30-120` showed the ranking of teachers there); a full cell costs about 45 min on 2 CPU cores.
Nothing here is chosen on the test set: the chapter ranks the cells by their validation errors.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reproduce.experiments import omitted_digit  # noqa: E402
from reproduce.experiments import teacher as shared_teacher  # noqa: E402
from reproduce.io import atomic_write_json  # noqa: E402
from reproduce.profiles import PROFILE_NAMES  # noqa: E402
from reproduce.results import RESULTS_DIR  # noqa: E402


def numbers(text: str, kind):
    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        sys.exit(f"error: {text!r} is not a comma-separated list of numbers (e.g. 300,1000)")


ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--profile", default="paper", choices=PROFILE_NAMES)
ap.add_argument("--epochs", help="the teacher's kept epochs to try, comma-separated (default: every kept one)")
ap.add_argument("--temperatures", default="8,20", help="comma-separated (default 8,20)")
ap.add_argument("--short", action="store_true", help="students train a tenth of the profile's epochs")
ap.add_argument("--results-dir", default=str(RESULTS_DIR),
                help="explorations go to <this>/<profile>/omitted-digit-explore/")
args = ap.parse_args()

cfg = omitted_digit.resolve_config(args.profile)
kept = shared_teacher.kept_epochs(cfg["teacher"])
epochs = numbers(args.epochs, int) if args.epochs else kept
bad = [e for e in epochs if e not in kept]
if bad:
    sys.exit(f"error: the {args.profile} teacher keeps its state at epochs {kept}, not at {bad}")
temperatures = numbers(args.temperatures, float)
if not temperatures or any(t <= 0 for t in temperatures):
    sys.exit(f"error: --temperatures {args.temperatures!r}: give positive temperatures")

out_dir = Path(args.results_dir).expanduser() / args.profile / "omitted-digit-explore"
work = Path(args.results_dir).expanduser() / args.profile / "omitted-digit-teacher-cells"  # each cell's own folder
short = {}
if args.short:
    for name in omitted_digit.TRANSFER_SETS:
        e = max(1, cfg[name]["epochs"] // 10)
        short[name] = {"epochs": e, "eval_every": max(1, min(cfg[name]["eval_every"], e // 10))}
cells = [(e, t) for e in epochs for t in temperatures]
for i, (e, t) in enumerate(cells, 1):
    tag = f"teacher-e{e}-T{t:g}" + ("-short" if args.short else "")
    dest = out_dir / f"{tag}.json"
    if dest.exists():
        print(f"[{i}/{len(cells)}] {tag}: recorded already ({dest})", flush=True)
        continue
    sets = [f"teacher_epoch={e}"] + [f"{n}.temperature={t:g}" for n in omitted_digit.TRANSFER_SETS]
    sets += [f"{n}.{k}={v}" for n, kv in short.items() for k, v in kv.items()]
    cmd = [sys.executable, "-m", "reproduce.cli", "run", "omitted-digit", "--profile", args.profile,
           "--results-dir", str(work / tag)] + [a for s in sets for a in ("--set", s)]
    print(f"[{i}/{len(cells)}] {tag}: $ {' '.join(cmd[1:])}", flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    # whole or absent: a cell interrupted here is simply rerun (its record is reused)
    atomic_write_json(dest, json.loads((work / tag / args.profile / "omitted-digit.json").read_text()))
    print(f"[{i}/{len(cells)}] {tag}: recorded {dest}", flush=True)
print(f"{len(cells)} cells in {out_dir}; the chapter (notebooks/02_omitted_digit.ipynb) ranks them on validation "
      "errors once they are in results/paper/omitted-digit-explore/")
