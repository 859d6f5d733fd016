"""Result records: results/<profile>/<experiment>.json with metrics per seed, summary and provenance.

Records are written atomically (temp file, fsync, rename), so an interrupted run never leaves a half
record and a record written earlier survives any failure of a later run.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Sequence

import torch

from . import cpu_gemm
from .io import atomic_write_json

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "results"


def summarize(values: Sequence[float]) -> dict:
    """Mean, sample standard deviation, min, max and n of per-seed values."""
    vals = [float(v) for v in values]
    return {"values": vals, "n": len(vals), "mean": statistics.fmean(vals),
            "std": statistics.stdev(vals) if len(vals) > 1 else 0.0, "min": min(vals), "max": max(vals)}


def git_commit() -> str:
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


def provenance(device: torch.device, wall_s: float, commit: str | None = None) -> dict:
    """Where a result came from; pass the commit read when the run STARTED (code may change during a run)."""
    return {"commit": commit or git_commit(), "torch": torch.__version__, "python": platform.python_version(),
            "device": device_name(device), "wall_s": round(wall_s, 2),
            "ranks": int(os.environ.get("WORLD_SIZE", 1)),  # torchrun processes that trained the members
            **({"cpu_gemm": cpu_gemm.policy()} if device.type == "cpu" else {}),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


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
