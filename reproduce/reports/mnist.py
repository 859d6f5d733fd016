"""The MNIST chapter (section 3): the paper beside our runs, per-seed errors, learning curves, the verdict text,
and what the chapter shows of the distilled-student explorations (scripts/explore_mnist_distill.py): one table row
per grid cell, and a paragraph that compares the paper's recipe with the cell chosen on validation images."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .. import paper, verdicts
from ..results import RESULTS_DIR, read_records_in
from .common import (described_runs, earlier_label, fmt, is_chapter_run, plain, provenance_line, seeds_phrase,
                     single_seed_caveat)

ROLE_KEYS = {"teacher": "mnist.teacher_errors", "small": "mnist.small_errors", "distilled": "mnist.distilled_errors"}
ROLE_LABELS = {"teacher": "teacher 1200-1200, dropout + jitter", "small": "small 800-800, no regularization",
               "distilled": "small 800-800, distilled at T = 20"}
VERDICT_RULE = (verdicts.RULE + " Runs at the `smoke` or `quick` profile are too short to be compared: their "
                "verdict is *not comparable*.")



def verdict(role: str, summary: dict | None, profile: str | None, spread_sd: float | None = None) -> str:
    """The verdict rule (reproduce.verdicts) on one MNIST model; `spread_sd`: a seed spread to borrow for one seed."""
    if not summary:
        return "not yet run"
    if profile != "paper":
        return "not comparable"
    return verdicts.judge(ROLE_KEYS[role], summary, spread_sd)


def borrowed_spread(records: dict, role: str) -> float | None:
    """The recorded `quick` run's seed spread of a model, borrowed when the `paper` run has one seed."""
    p, q = records.get("paper"), records.get("quick")
    return verdicts.borrowed_sd(p and p["results"][role]["test_errors"], q and q["results"][role]["test_errors"])


def table(this_run: dict, records: dict, earlier: Sequence[tuple[str, dict]] = ()):
    """Paper vs recorded `paper` run vs the `earlier` `paper` runs (common.earlier_runs) vs recorded `quick` run vs
    this run, one row per model."""
    import pandas as pd
    rows = []
    _, *errors = paper.PUBLIC_REPRODUCTIONS[0]  # the full-recipe public reproduction
    best_public = dict(zip(("teacher", "small", "distilled"), errors))
    for role in ("teacher", "small", "distilled"):
        row = {"model": ROLE_LABELS[role], "paper": int(paper.paper(ROLE_KEYS[role])),
               "best public reproduction": best_public[role]}
        for prof in ("paper", "quick"):
            rec = records.get(prof)
            row[f"recorded `{prof}`"] = fmt(rec["results"][role]["test_errors"]) if rec else "not yet run"
            if prof == "paper":
                for tag, r in earlier:
                    row[earlier_label(tag, r)] = fmt(r["results"][role]["test_errors"])
        row[f"this run (`{this_run['profile']}`)"] = fmt(this_run["results"][role]["test_errors"])
        rec = records.get("paper")
        row["verdict (`paper` run)"] = verdict(role, rec["results"][role]["test_errors"] if rec else None, "paper",
                                               borrowed_spread(records, role))
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


def per_seed_table(record: dict):
    import pandas as pd
    rows = []
    for role, res in record["results"].items():
        for seed, err in zip(res["seeds"], res["test_errors"]["values"]):
            # a role resumed from a checkpoint (a shared teacher, or a run continued after an interruption) took
            # longer than this run's wall time: say from which epoch this run went on
            rows.append({"model": role, "seed": seed, "test errors": int(err), "wall s in this run": res["wall_s"],
                         "resumed from epoch": res.get("resumed_from_epoch", 0)})
    return pd.DataFrame(rows)


def plot_curves(record: dict, ax=None, label: str = ""):
    """Test errors against epoch for each model: mean over seeds, band from min to max, paper's value dashed."""
    import matplotlib.pyplot as plt
    import numpy as np
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    colors = {"teacher": "C0", "small": "C1", "distilled": "C2"}
    for role, res in record["results"].items():
        pts = [(int(k), v["test_errors"]) for k, v in res["curves"].items() if "test_errors" in v]
        if not pts:
            continue
        ep = np.array([p[0] for p in pts])
        err = np.array([p[1] for p in pts], dtype=float)
        ax.plot(ep, err.mean(1), color=colors[role], label=f"{role} (mean of {err.shape[1]})")
        ax.fill_between(ep, err.min(1), err.max(1), color=colors[role], alpha=0.2)
        ax.axhline(paper.paper(ROLE_KEYS[role]), color=colors[role], ls="--", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test errors (of 10,000)")
    ax.set_title(f"{plain(label) or 'profile ' + record['profile']}: MNIST test errors during training (dashed: paper)",
                 fontsize=10)
    ax.legend(fontsize=8)
    return ax


def gap_closed(results: dict) -> float | None:
    """Share of the small net's excess errors over the teacher that distillation removes (paper: 79/79 -> 91%)."""
    t, s, d = (results[r]["test_errors"]["mean"] for r in ("teacher", "small", "distilled"))
    return None if s <= t else (s - d) / (s - t)


def verdict_text(records: dict, this_run: dict) -> str:
    p = {r: paper.paper(k) for r, k in ROLE_KEYS.items()}
    paper_gap = (p["small"] - p["distilled"]) / (p["small"] - p["teacher"])
    lines = []
    rec = records.get("paper")
    if rec is None:
        lines.append("**No `paper`-profile run is recorded yet** (minutes on one GPU, hours on a CPU, resuming "
                     "where it stopped: `reproduce run mnist --profile paper`), so no row can be called reproduced; "
                     "the table says *not yet run*.")
    else:
        parts = [f"{r} {fmt(rec['results'][r]['test_errors'])}: "
                 f"**{verdict(r, rec['results'][r]['test_errors'], 'paper', borrowed_spread(records, r))}**"
                 for r in ROLE_KEYS]
        lines.append("Recorded `paper` run (" + provenance_line(rec) + "): " + "; ".join(parts) + ".")
        if rec["config"]["seeds"] == 1:
            q = records.get("quick")
            spread = (", ".join(f"{r} ± {q['results'][r]['test_errors']['std']:.1f}" for r in ROLE_KEYS) + " errors"
                      if q and q["config"]["seeds"] > 1 else "")
            lines.append(single_seed_caveat(rec, spread))
    for name, r, _ in described_runs(records, this_run):
        g = gap_closed(r["results"])
        d, s = r["results"]["distilled"]["test_errors"]["mean"], r["results"]["small"]["test_errors"]["mean"]
        if g is None:
            lines.append(f"In {name} (`{r['profile']}`) the teacher is not better than the small net, "
                         "so there is no gap for distillation to close.")
        else:
            lines.append(f"In {name} (`{r['profile']}`) distillation removes {100 * g:.0f}% of the small net's "
                         f"excess errors over the teacher (paper: {100 * paper_gap:.0f}%); the distilled net "
                         f"{'beats' if d < s else 'does not beat'} the unregularized one ({d:.1f} vs {s:.1f}).")
    return "\n\n".join(lines)


# ---- the distilled-student explorations ------------------------------------------------------------------
EXPLORE_FOLDER = RESULTS_DIR / "paper" / "mnist-explore"
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


def explorations(folder: Path | None = None) -> list[dict]:
    """The recorded explorations of scripts/explore_mnist_distill.py, by file name; [] when none is recorded. The
    folder's whole-chapter records (common.earlier_runs) are not grids and are shown in the table above instead."""
    return [rec for _, rec in read_records_in(folder or EXPLORE_FOLDER) if not is_chapter_run(rec, "mnist")]


def cells(records: list[dict]) -> list[dict]:
    """Every grid cell of every record, flat, with its record's learning rate, transfer set, recipe changes, seeds,
    teacher and commit (records before --seeds/--set: one student, one teacher seed, no changes)."""
    out = []
    for rec in records:
        r = rec["results"]
        for c in r["grid"]:
            out.append(dict(c, lr=r["lr"], jitter_copies=r["jitter_copies"], epochs=r["recipe"]["epochs"],
                            val_size=r["val_size"], commit=rec["provenance"]["commit"][:8],
                            overrides=r.get("overrides") or {}, seeds=r.get("seeds", 1),
                            teacher_seeds=r.get("teacher_seeds", 1)))
    return out


def is_paper_cell(c: dict) -> bool:
    return all(c[k] == v for k, v in PAPER_CELL.items()) and not c.get("overrides")


def current(all_cells: list[dict]) -> list[dict]:
    """The cells distilled from the newest teacher (the most teacher seeds): a choice compares cells of one teacher."""
    most = max((c.get("teacher_seeds", 1) for c in all_cells), default=1)
    return [c for c in all_cells if c.get("teacher_seeds", 1) == most]


def _recipe(c: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(c.get("overrides", {}).items())) or "the profile's"


def _n(v) -> str:  # a count, or a mean of counts over seeds
    return f"{v:g}" if isinstance(v, float) else str(v)


def explorations_table(records: list[dict]):
    """One row per cell; the unjittered cell of the newest teacher with the fewest validation errors is marked (ties:
    the paper's)."""
    import pandas as pd
    rows = cells(records)
    best = best_cell(rows)
    return pd.DataFrame([{
        "teacher seeds": c["teacher_seeds"], "student seeds": c["seeds"],
        "transfer set": "as the paper (no shifts)" if c["jitter_copies"] == 1 else
        f"{c['jitter_copies']} copies, {c['jitter_copies'] - 1} shifted (not the paper's)",
        "passes": c["epochs"], "lr": f"{c['lr']:g}", "T": f"{c['temperature']:g}",
        "hard weight": f"{c['hard_weight']:g}", "other recipe changes": _recipe(c),
        f"val. errors (of {c['val_size']:,}; mean)": _n(c["val_errors"]),
        "test errors (of 10,000; mean)": _n(c["test_errors"]),
        "": "; ".join(n for n in ("the paper's recipe" if is_paper_cell(c) else "",
                                   "best on validation" if c is best else "",
                                   "diverged" if c["val_errors"] > c["val_size"] / 2 else "") if n),
        "commit": c["commit"]} for c in rows])


def best_cell(all_cells: list[dict]) -> dict | None:
    """Of the newest teacher's cells with the paper's transfer set, the one with the fewest (mean) validation errors
    (the paper's recipe on a tie)."""
    own = [c for c in current(all_cells) if c["jitter_copies"] == 1]
    return min(own, key=lambda c: (c["val_errors"], not is_paper_cell(c)), default=None)


def _paper(all_cells: list[dict]) -> dict | None:
    return next((c for c in current(all_cells) if is_paper_cell(c)), None)


def noise(ref: dict) -> float:
    """Validation errors below which a difference is noise: about two binomial standard errors of a mean over the
    cell's seeds."""
    return 2 * (ref["val_errors"] / ref.get("seeds", 1)) ** 0.5


def beats_paper(ref: dict, best: dict) -> bool:
    """Whether the best cell on validation beats the paper's recipe by more than the noise."""
    return best is not ref and ref["val_errors"] - best["val_errors"] >= noise(ref)


def _cell_name(c: dict) -> str:
    extra = "" if not c.get("overrides") else f", {_recipe(c)}"
    return f"T = {c['temperature']:g}, hard weight {c['hard_weight']:g}, lr {c['lr']:g}{extra}"


def finding(records: list[dict]) -> str:
    """One clause for other chapters: what the exploration found about the paper's recipe ('' when none is recorded)."""
    all_cells = cells(records)
    ref, best = _paper(all_cells), best_cell(all_cells)
    if ref is None or best is None:
        return ""
    where = "its exploration (the MNIST chapter's section *The distilled gap: what we tried*)"
    if not beats_paper(ref, best):
        return f"{where} found no cell better than it on validation images beyond the noise"
    return f"{where} found a better cell on validation images: {_cell_name(best)}"


def explorations_summary(records: list[dict]) -> str:
    """Markdown: the paper's recipe against the validation-chosen cell, and the jittered-transfer ablation."""
    if not records:
        return ("No exploration of the distilled student is recorded (`python scripts/explore_mnist_distill.py`, "
                "results/paper/mnist-explore/).")
    all_cells = cells(records)
    ref, best = _paper(all_cells), best_cell(all_cells)
    lines = []
    if ref is not None and best is not None:
        who = "one seed" if ref.get("seeds", 1) == 1 else f"{ref['seeds']} seeds a cell (means)"
        lines.append(f"With {who} and {ref['val_size']:,} validation images, differences under about "
                     f"{noise(ref):.0f} validation "
                     f"errors (two binomial standard errors) are noise.")
        lines.append(
            f"The paper's recipe (T = 20, hard weight 0.1, lr 0.05) makes {_n(ref['val_errors'])} validation errors "
            f"and {_n(ref['test_errors'])} test errors. "
            + ("No other cell with the paper's transfer set does better on validation."
               if best is ref else
               f"The cell best on validation ({_cell_name(best)}) makes {_n(best['val_errors'])} validation errors "
               f"({best['val_errors'] - ref['val_errors']:+g}) "
               f"and {_n(best['test_errors'])} test errors ({best['test_errors'] - ref['test_errors']:+g}): "
               + ("beyond the noise." if beats_paper(ref, best) else
                  "within the noise, so the profiles keep the paper's recipe.")))
    jit = [c for c in current(all_cells) if c["jitter_copies"] > 1]
    if jit and ref is not None:
        j = min(jit, key=lambda c: c["val_errors"])
        lines.append(
            f"Distilling on {j['jitter_copies']} copies of each transfer image, {j['jitter_copies'] - 1} of them "
            f"shifted by up to 2 pixels (which the paper's transfer set did not have), gives, at its best cell, "
            f"{_n(j['val_errors'])} validation and "
            f"{_n(j['test_errors'])} test errors, against {_n(ref['val_errors'])} and {_n(ref['test_errors'])} "
            "without the shifts.")
    return " ".join(lines)


# ---- a labelled variant: the consistent teacher (scripts/explore_mnist_consistent.py) -------------------------


CONSISTENT_FOLDER = RESULTS_DIR / "paper" / "mnist-consistent"
CONSISTENT_HOW = ("`python scripts/explore_mnist_consistent.py --seeds 3 --tag consistent-T20`, recorded in "
                  "results/paper/mnist-consistent/")


def consistent_runs(folder: Path | None = None) -> list[tuple[str, dict]]:
    """(tag, record) of the recorded consistent-teacher runs of the `paper` profile, by tag; [] when none is."""
    return read_records_in(folder or CONSISTENT_FOLDER)


def _teacher_seeds(rec: dict) -> int:
    """A consistent-teacher record's teacher members (one test count each)."""
    return len(rec["results"]["teacher_test_errors"])


def _chapter_teacher_seeds(record: dict) -> int:
    """The teacher members of a recorded MNIST run (its own seeds unless it reused another teacher)."""
    return record["config"].get("teacher_seeds") or record["config"]["seeds"]


def consistent_table(runs: list[tuple[str, dict]], paper_record: dict | None):
    """The paper's distilled net, the recorded `paper` run's (the faithful recipe) and each consistent-teacher run,
    one row each, with what the student saw, its teacher and its validation and test errors."""
    import pandas as pd
    rows = [{"student": "paper: distilled 800-800, T = 20", "what the student saw": "the unshifted transfer set",
             "teacher": f"{int(paper.paper('mnist.teacher_errors'))} errors",
             "val. errors": "—", "test errors (of 10,000)": f"{paper.paper('mnist.distilled_errors'):g}"}]
    if paper_record:
        rows.append({"student": "recorded paper run: the faithful recipe",  # a table cell: no markdown
                     "what the student saw": "the unshifted training images (all 60,000)",
                     "teacher": f"{seeds_phrase({'seeds': _chapter_teacher_seeds(paper_record)})}, "
                                f"{paper_record['results']['teacher']['test_errors']['mean']:.1f} errors",
                     "val. errors": "—",
                     "test errors (of 10,000)": fmt(paper_record["results"]["distilled"]["test_errors"])})
    for tag, rec in runs:
        r, n_t = rec["results"], _teacher_seeds(rec)
        rows.append({"student": f"consistent teacher {tag} (not the paper's recipe)",
                     "what the student saw": f"views shifted by up to {r['recipe']['jitter']} px, the teacher's soft "
                                             f"targets on the same view ({r['transfer_size']:,} images)",
                     "teacher": f"{seeds_phrase({'seeds': n_t})}, {sum(r['teacher_test_errors']) / n_t:.1f} errors",
                     "val. errors": f"{fmt(r['val_errors'])} of {r['val_size']:,}",
                     "test errors (of 10,000)": fmt(r["test_errors"])})
    return pd.DataFrame(rows)


def consistent_text(runs: list[tuple[str, dict]], paper_record: dict | None) -> str:
    """Markdown: what the consistent teacher gives beside the faithful recipe on the same teacher, or how to run it."""
    if not runs:
        return f"No consistent-teacher run is recorded yet ({CONSISTENT_HOW})."
    lines = []
    for tag, rec in runs:
        r = rec["results"]
        t = r["test_errors"]
        line = (f"The consistent teacher `{tag}` ({r['test_errors']['n']} students, {rec['provenance']['device']}, "
                f"commit `{rec['provenance']['commit'][:12]}`) makes {fmt(t)} test errors (paper's distilled net: "
                f"{paper.paper('mnist.distilled_errors'):g}).")
        if paper_record:
            f = paper_record["results"]["distilled"]["test_errors"]
            same = _teacher_seeds(rec) == _chapter_teacher_seeds(paper_record)
            line += (f" The faithful recipe of the recorded `paper` run makes {fmt(f)} "
                     + ("on the same teacher" if same else "on a teacher of another seed count (not a paired "
                                                           "comparison)")
                     + f", so the consistent teacher's students differ from it by {t['mean'] - f['mean']:+.1f} "
                       f"errors, although their transfer set lacks the {r['val_size']:,} validation images the "
                       "faithful run trained on.")
        lines.append(line)
    return " ".join(lines)


# the paper's numbers this chapter measures: paper key (paper.NUMBERS) -> per-seed values from a record
PAPER_NUMBERS = {
    "mnist.teacher_errors": lambda r: r["results"]["teacher"]["test_errors"]["values"],
    "mnist.small_errors": lambda r: r["results"]["small"]["test_errors"]["values"],
    "mnist.distilled_errors": lambda r: r["results"]["distilled"]["test_errors"]["values"],
    "mnist.distill_temperature": lambda r: [r["config"]["distilled"]["temperature"]],
}
