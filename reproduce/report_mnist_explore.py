"""What the MNIST chapter shows of the distilled-student explorations (scripts/explore_mnist_distill.py): one table row
per grid cell, and a paragraph that compares the paper's recipe with the cell chosen on validation images."""
from __future__ import annotations

from pathlib import Path

from .results import RESULTS_DIR, read_records_in

FOLDER = RESULTS_DIR / "paper" / "mnist-explore"
PAPER_CELL = {"temperature": 20.0, "hard_weight": 0.1, "lr": 0.05, "jitter_copies": 1}  # the profiles' recipe


def plateau(record: dict | None, role: str = "distilled", within: int = 5) -> str:
    """Markdown: the first evaluated epoch from which the first seed's test errors stay within `within` of its final
    count, in a recorded MNIST run; how long training keeps paying."""
    if record is None:
        return "(no `paper`-profile run is recorded yet)"
    curves = record["results"][role]["curves"]
    epochs = sorted(curves, key=int)
    errs = [curves[e]["test_errors"][0] for e in epochs]
    first = next(i for i in range(len(errs)) if all(abs(v - errs[-1]) <= within for v in errs[i:]))
    return (f"comes within {within} errors of its final {errs[-1]} by epoch {epochs[first]} of {epochs[-1]} "
            f"({errs[first]} errors there)")


def load(folder: Path | None = None) -> list[dict]:
    """The recorded explorations, by file name; [] when none is recorded."""
    return [rec for _, rec in read_records_in(folder or FOLDER)]


def cells(records: list[dict]) -> list[dict]:
    """Every grid cell of every record, flat, with its record's learning rate, transfer set and commit."""
    out = []
    for rec in records:
        r = rec["results"]
        for c in r["grid"]:
            out.append(dict(c, lr=r["lr"], jitter_copies=r["jitter_copies"], epochs=r["recipe"]["epochs"],
                            val_size=r["val_size"], commit=rec["provenance"]["commit"][:8]))
    return out


def is_paper_cell(c: dict) -> bool:
    return all(c[k] == v for k, v in PAPER_CELL.items())


def table(records: list[dict]):
    """One row per cell; the unjittered cell with the fewest validation errors is marked (ties: the paper's)."""
    import pandas as pd
    rows = cells(records)
    best = best_cell(rows)
    return pd.DataFrame([{
        "transfer set": "as the paper (no shifts)" if c["jitter_copies"] == 1 else
        f"{c['jitter_copies']} copies, {c['jitter_copies'] - 1} shifted (not the paper's)",
        "passes": c["epochs"], "lr": f"{c['lr']:g}", "T": f"{c['temperature']:g}",
        "hard weight": f"{c['hard_weight']:g}",
        f"val. errors (of {c['val_size']:,})": c["val_errors"], "test errors (of 10,000)": c["test_errors"],
        "": "; ".join(n for n in ("the paper's recipe" if is_paper_cell(c) else "",
                                   "best on validation" if c is best else "",
                                   "diverged" if c["val_errors"] > c["val_size"] / 2 else "") if n),
        "commit": c["commit"]} for c in rows])


def best_cell(all_cells: list[dict]) -> dict | None:
    """The cell with the paper's transfer set that makes the fewest validation errors (the paper's recipe on a tie)."""
    own = [c for c in all_cells if c["jitter_copies"] == 1]
    return min(own, key=lambda c: (c["val_errors"], not is_paper_cell(c)), default=None)


def _paper(all_cells: list[dict]) -> dict | None:
    return next((c for c in all_cells if is_paper_cell(c)), None)


def noise(ref: dict) -> float:
    """Validation errors below which a one-seed difference is noise: about two binomial standard errors."""
    return 2 * ref["val_errors"] ** 0.5


def beats_paper(ref: dict, best: dict) -> bool:
    """Whether the best cell on validation beats the paper's recipe by more than the noise."""
    return best is not ref and ref["val_errors"] - best["val_errors"] >= noise(ref)


def finding(records: list[dict]) -> str:
    """One clause for other chapters: what the exploration found about the paper's recipe ('' when none is recorded)."""
    all_cells = cells(records)
    ref, best = _paper(all_cells), best_cell(all_cells)
    if ref is None or best is None:
        return ""
    where = "its exploration (the MNIST chapter's section *The distilled gap: what we tried*)"
    if not beats_paper(ref, best):
        return f"{where} found no cell better than it on validation images beyond the noise"
    return (f"{where} found a better cell on validation images: T = {best['temperature']:g}, hard weight "
            f"{best['hard_weight']:g}, lr {best['lr']:g}")


def summary(records: list[dict]) -> str:
    """Markdown: the paper's recipe against the validation-chosen cell, and the jittered-transfer ablation."""
    if not records:
        return ("No exploration of the distilled student is recorded (`python scripts/explore_mnist_distill.py`, "
                "results/paper/mnist-explore/).")
    all_cells = cells(records)
    ref, best = _paper(all_cells), best_cell(all_cells)
    lines = []
    if ref is not None and best is not None:
        lines.append(f"With one seed and {ref['val_size']:,} validation images, differences under about "
                     f"{noise(ref):.0f} validation "
                     f"errors (two binomial standard errors) are noise.")
        lines.append(
            f"The paper's recipe (T = 20, hard weight 0.1, lr 0.05) makes {ref['val_errors']} validation errors and "
            f"{ref['test_errors']} test errors. "
            + ("No other cell with the paper's transfer set does better on validation."
               if best is ref else
               f"The cell best on validation (T = {best['temperature']:g}, hard weight {best['hard_weight']:g}, lr "
               f"{best['lr']:g}) makes {best['val_errors']} validation errors "
               f"({best['val_errors'] - ref['val_errors']:+d}) "
               f"and {best['test_errors']} test errors ({best['test_errors'] - ref['test_errors']:+d}): "
               + ("beyond the noise." if beats_paper(ref, best) else
                  "within the noise, so the profiles keep the paper's recipe.")))
    jit = [c for c in all_cells if c["jitter_copies"] > 1]
    if jit and ref is not None:
        j = min(jit, key=lambda c: c["val_errors"])
        lines.append(
            f"Distilling on {j['jitter_copies']} copies of each transfer image, {j['jitter_copies'] - 1} of them "
            f"shifted by up to 2 pixels (which the paper's transfer set did not have), gives, at its best cell, "
            f"{j['val_errors']} validation and "
            f"{j['test_errors']} test errors, against {ref['val_errors']} and {ref['test_errors']} without the shifts.")
    return " ".join(lines)
