"""Result records: results/<profile>/<experiment>.json with metrics per seed, summary and provenance.

Records are written atomically (temp file, fsync, rename), so an interrupted run never leaves a half
record and a record written earlier survives any failure of a later run.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import torch

from .train import conv_layout, gemm
from .io import atomic_write_json
from .machine import cpu_info
from . import pauses

# from the first import, so that a record's paused_s covers the whole run of the process that writes it
pauses.start()

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "results"


def summarize(values: Sequence[float]) -> dict:
    """Mean, sample standard deviation, min, max and n of per-seed values."""
    vals = [float(v) for v in values]
    return {"values": vals, "n": len(vals), "mean": statistics.fmean(vals),
            "std": statistics.stdev(vals) if len(vals) > 1 else 0.0, "min": min(vals), "max": max(vals)}


def git_commit() -> str:
    """HEAD's sha, with "-dirty" appended when tracked files differ from it (such a record is not judged)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (sha or "unknown") + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {platform.machine()} ({torch.get_num_threads()} threads)"


_INVOCATION: list[str] | None = None


def set_invocation(argv: list[str] | None) -> None:
    """The command line a record should name (the CLI sets it, and None after; by default, this process's argv)."""
    global _INVOCATION
    _INVOCATION = None if argv is None else list(argv)


def invocation(call: str | None = None) -> str:
    """The exact command line of this process, overrides included, as a shell would take it; `call` (a Python call
    such as a notebook's run(...)) where no command line was set and the process is a kernel or an interpreter."""
    if _INVOCATION is not None:
        return shlex.join(_INVOCATION)
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]]
    if call and (not sys.argv[0] or "ipykernel" in sys.argv[0] or argv[0] in ("-c", "pytest", "__main__.py")):
        return call
    return shlex.join(argv) + (f" -> {call}" if call else "")


def provenance(device: torch.device, wall_s: float, commit: str | None = None, command: str | None = None) -> dict:
    """Where a result came from; pass the commit read when the run STARTED (code may change during a run).

    Every record, benchmark and exploration carries this: the commit and whether the tree was clean (a record made
    from a dirty tree is never judged), torch and Python, the device, the CPU's model and ISA, the GEMM library
    rule and what it chose for each large MLP this process built, the CNN layout rule and its choices, the thread and rank counts, the seconds the process was stopped (paused_s), and the exact command line."""
    commit = commit or git_commit()
    return {"commit": commit, "clean": not commit.endswith("-dirty") and commit != "unknown",
            "torch": torch.__version__, "python": platform.python_version(),
            "device": device_name(device), "wall_s": round(wall_s, 2),
            "paused_s": round(pauses.paused_seconds(), 1),  # of wall_s (this process's part): stopped, not working
            "ranks": int(os.environ.get("WORLD_SIZE", 1)),  # torchrun processes that trained the members
            "threads": torch.get_num_threads(), **cpu_info(),
            **({"cpu_gemm": gemm.policy(), "cpu_gemm_chosen": dict(gemm.CHOSEN),
                "cpu_cnn_layout": conv_layout.policy(), "cpu_cnn_layout_chosen": dict(conv_layout.CHOSEN)}
               if device.type == "cpu" else {}),
            "command": command or invocation(),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def is_clean(record: dict) -> bool:
    """Whether a record was made from a clean commit (records from before this field existed name it in `commit`)."""
    p = record.get("provenance", {})
    return bool(p.get("clean", not str(p.get("commit", "unknown")).endswith("-dirty")))


def record_path(profile: str, experiment: str, results_dir: Path | str | None = None) -> Path:
    return Path(results_dir or RESULTS_DIR) / profile / f"{experiment}.json"


def write_record(record: dict, profile: str, experiment: str, results_dir: Path | str | None = None) -> Path:
    return atomic_write_json(record_path(profile, experiment, results_dir), record)


def read_records_in(folder: Path | str) -> list[tuple[str, dict]]:
    """(file stem, record) of every JSON record in a folder of explorations, by name; [] when there is none."""
    return [(p.stem, json.loads(p.read_text())) for p in sorted(Path(folder).glob("*.json"))]


def read_record(profile: str, experiment: str, results_dir: Path | str | None = None) -> dict | None:
    """The recorded result, or None if there is none; an unreadable record is an error, never ignored."""
    path = record_path(profile, experiment, results_dir)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        from .errors import UserError
        raise UserError(f"recorded result {path} is not valid JSON ({e}); restore it with "
                        f"`git checkout -- {os.path.relpath(path, REPO_ROOT)}` or delete it to rerun") from None
