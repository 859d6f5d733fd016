"""A chapter notebook's setup in one call: its parameters checked (here and nowhere else), profile "auto" resolved,
and its experiment run or its matching record reused.

    record = run_chapter("mnist", profile=profile, seeds=seeds, device=device, rerun=rerun,
                         results_dir=results_dir, overrides=overrides)
"""
from __future__ import annotations

from pathlib import Path

from . import experiments
from .catalog import EXPERIMENTS
from .errors import UserError, is_int
from .profiles import PROFILE_NAMES, default_profile
from .results import REPO_ROOT


def check_params(profile: str, seeds, device: str, rerun, results_dir, overrides=(), seeds_range=(1, 64),
                 seeds_note: str = "") -> None:
    """Validate notebook parameters; raise UserError naming the bad one and what is allowed."""
    if profile not in ("auto", *PROFILE_NAMES):
        raise UserError(f"parameter profile={profile!r} is not allowed; use one of: auto, {', '.join(PROFILE_NAMES)}")
    lo, hi = seeds_range
    if seeds is not None and (not is_int(seeds) or not lo <= seeds <= hi):
        raise UserError(f"parameter seeds={seeds!r} must be None (the profile's) or an integer from {lo} to {hi}"
                        + (f": {seeds_note}" if seeds_note else ""))
    if not isinstance(device, str) or not (device in ("auto", "cpu") or device.startswith("cuda")):
        raise UserError(f"parameter device={device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    if not isinstance(rerun, bool):
        raise UserError(f"parameter rerun={rerun!r} must be True or False")
    if not isinstance(results_dir, str) or not results_dir:
        raise UserError(f"parameter results_dir={results_dir!r} must be a folder path")
    if not isinstance(overrides, (list, tuple, dict)) or (
            not isinstance(overrides, dict) and not all(isinstance(o, str) for o in overrides)):
        raise UserError(f"parameter overrides={overrides!r} must be a list of strings like 'teacher.epochs=5' "
                        "(or a dict like {'teacher.epochs': 5})")


def _extra_overrides(name: str, extra: dict, overrides):
    """Chapter-specific parameters (the specialists' dataset and data_root) as overrides of its profile; their
    values are the experiment's to check (its resolve_config names the allowed datasets)."""
    allowed = getattr(experiments.get(name), "EXTRA_PARAMS", ())
    unknown = sorted(set(extra) - set(allowed))
    if unknown:
        raise UserError(f"parameter {unknown[0]} is not one of the {name} chapter's"
                        + (f"; its extra parameters: {', '.join(allowed)}" if allowed else " (it has no extra ones)"))
    if extra.get("data_root") is not None and not isinstance(extra["data_root"], str):
        raise UserError(f"parameter data_root={extra['data_root']!r} must be None or a folder path")
    extra = {k: v for k, v in extra.items() if v is not None}
    if not extra:
        return dict(overrides) if isinstance(overrides, dict) else list(overrides)
    if isinstance(overrides, dict):
        return {**extra, **overrides}
    return [f"{k}={v}" for k, v in extra.items()] + list(overrides)


def run_chapter(name: str, profile: str = "auto", seeds=None, device: str = "auto", rerun: bool = False,
                results_dir: str = "results", overrides=(), progress: bool = True, **extra) -> dict:
    """Check a chapter notebook's parameters, then run its experiment (or reuse the matching record in
    `results_dir`, relative to the repository root unless absolute); returns the record."""
    if name not in EXPERIMENTS:
        raise UserError(f"unknown chapter {name!r}; allowed: {', '.join(EXPERIMENTS)}")
    module = experiments.get(name)
    check_params(profile, seeds, device, rerun, results_dir, overrides, module.SEEDS,
                 getattr(module, "SEEDS_NOTE", ""))
    overrides = _extra_overrides(name, extra, overrides)
    profile = default_profile() if profile == "auto" else profile
    out = Path(results_dir) if Path(results_dir).is_absolute() else REPO_ROOT / results_dir
    return module.run(profile=profile, seeds=seeds, device=device, overrides=overrides, rerun=rerun,
                      results_dir=out, progress=progress)


def hide_parameter_cells(path) -> int:
    """Tag the cell papermill injects (`injected-parameters`) `remove-cell`, as the notebooks' own parameters cell
    is: the rendered page shows the chapter, not how it was parameterized. Returns how many cells it tagged."""
    import json
    path = Path(path)
    nb = json.loads(path.read_text())
    n = 0
    for cell in nb["cells"]:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if ("injected-parameters" in tags or "parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")
            n += 1
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return n


if __name__ == "__main__":  # python -m reproduce.chapter EXECUTED.ipynb ...: hide their parameter cells
    import sys
    for arg in sys.argv[1:]:
        hide_parameter_cells(arg)
