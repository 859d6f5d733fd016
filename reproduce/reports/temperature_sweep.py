"""Figures, tables and verdicts of the temperature-sweep chapter."""
from __future__ import annotations

from ..verdicts import TEMPERATURE_CLAIM_RULE as CLAIM_RULE  # noqa: F401 (shown by the notebook)
from ..stats import ci95
from .common import plain


def _holds(v) -> str:
    return {True: "holds", False: "does not hold", None: "not testable"}[v]


def width_verdicts(record: dict) -> str:
    """One markdown bullet per width: best T and each claim's verdict."""
    lines = []
    for w, r in record["results"]["widths"].items():
        c = r["claims"]
        a = c["a_high_T_similar"]
        b = c["b_mid_T_best"]
        part_a = f"claim (a), all T > 8 similar: **{_holds(a['holds'])}** (spread of means {a['spread']:.1f} errors)" \
            if a["spread"] is not None else "claim (a): no T > 8 in this run"
        if b is None:
            part_b = "claim (b): not testable (needs T below 2.5, in 2.5..4 and above 4)"
        else:
            part_b = (f"claim (b), T in 2.5..4 best: **{_holds(b['holds'])}** (best there T = {b['best_mid']:g}; "
                      f"below: T = {b['best_low']:g}; above: T = {b['best_high']:g})")
        lines.append(f"- **{w} units** (best T = {c['best_T']:g}, {c['best_mean']:.1f} errors; undistilled "
                     f"{r['reference_errors']['mean']:.1f}): {part_a}; {part_b}.")
    return "\n".join(lines)


CONTEXT = ("The paper makes claim (a) for 300 or more units and claim (b) for 30 units; the lines for other widths are "
           "shown for context.")


def runs_shown(records: dict, this_run: dict, earlier=()) -> list[tuple[str, str, dict]]:
    """(label, label with provenance and seeds, record) of report.shown_runs (`earlier`: common.earlier_runs)."""
    from .common import provenance_line, shown_runs
    return [(lab, f"{lab[0].upper()}{lab[1:]}: {provenance_line(r)}", r)
            for lab, r in shown_runs(records, this_run, earlier)]


def all_verdicts_text(records: dict, this_run: dict, earlier=()) -> str:
    """The claims' verdicts of every run shown, each under its label."""
    parts = []
    if not records.get("paper"):
        parts.append("**No `paper`-profile run is recorded yet** (minutes on one GPU, hours on a CPU, resuming where "
                     "it stopped: `reproduce run temperature-sweep --profile paper`), so the verdicts below come from "
                     "shorter training than the paper's.")
    for _, label, rec in runs_shown(records, this_run, earlier):
        parts.append(f"**{label}**\n\n" + width_verdicts(rec))
    return "\n\n".join(parts + [CONTEXT])


def plot_errors_vs_T(record: dict, label: str = ""):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (w, r) in enumerate(record["results"]["widths"].items()):
        ts = sorted(float(t) for t in r["errors_by_T"])
        means = [r["errors_by_T"][_key(r, t)]["mean"] for t in ts]
        lo_hi = [ci95(r["errors_by_T"][_key(r, t)]["values"]) for t in ts]
        ax.errorbar(ts, means, yerr=[[m - lo for m, (lo, _) in zip(means, lo_hi)],
                                     [hi - m for m, (_, hi) in zip(means, lo_hi)]],
                    marker="o", ms=4, capsize=3, color=f"C{i}", label=f"{w} units")
        ax.axhline(r["reference_errors"]["mean"], color=f"C{i}", ls=":", lw=1)
    ax.axvspan(2.5, 4, color="0.9", zorder=0, label="T in 2.5..4 (paper, 30 units)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("distillation temperature T")
    ax.set_ylabel("test errors (of 10,000)")
    label = plain(label)
    ax.set_title((f"{label}: s" if label else "S") + "tudents of each width against T\n"
                 "(95% intervals over seeds; dotted: undistilled)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_heatmap(record: dict, label: str = ""):
    """Mean test errors relative to the width's undistilled reference (below 1: distillation helps)."""
    import matplotlib.pyplot as plt
    import numpy as np
    widths = list(record["results"]["widths"])
    ts = sorted(float(t) for t in record["results"]["widths"][widths[0]]["errors_by_T"])
    grid = np.array([[record["results"]["widths"][w]["errors_by_T"][_key(record["results"]["widths"][w], t)]["mean"]
                      / record["results"]["widths"][w]["reference_errors"]["mean"] for t in ts] for w in widths])
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(widths) + 1.6))
    im = ax.imshow(grid, cmap="RdBu_r", vmin=0.5, vmax=1.5, aspect="auto")
    for i in range(len(widths)):
        for j in range(len(ts)):
            ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(ts)), [f"{t:g}" for t in ts])
    ax.set_yticks(range(len(widths)), [f"{w} units" for w in widths])
    ax.set_xlabel("T")
    label = plain(label)
    ax.set_title((f"{label}: t" if label else "T") + "est errors / undistilled errors of the same width", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    return fig


def _key(r: dict, t: float) -> str:
    for k in r["errors_by_T"]:
        if float(k) == t:
            return k
    raise KeyError(t)


# no single paper number: the chapter's two claims are judged as claims (verdicts.CLAIM_JUDGES)
PAPER_NUMBERS: dict = {}
