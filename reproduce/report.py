"""What the notebooks show: comparison tables, verdicts, figures. Notebooks stay thin and call these."""
from __future__ import annotations

from typing import Sequence

from . import paper, verdicts
from .errors import UserError, is_int
from .profiles import PROFILE_NAMES
from .results import read_record

ROLE_KEYS = {"teacher": "mnist.teacher_errors", "small": "mnist.small_errors", "distilled": "mnist.distilled_errors"}
ROLE_LABELS = {"teacher": "teacher 1200-1200, dropout + jitter", "small": "small 800-800, no regularization",
               "distilled": "small 800-800, distilled at T = 20"}
VERDICT_RULE = (verdicts.RULE + " Runs at the `smoke` or `quick` profile are too short to be compared: their "
                "verdict is *not comparable*.")


def check_params(profile: str, seeds, device: str, rerun, results_dir, overrides=()) -> None:
    """Validate notebook parameters; raise UserError naming the bad one and what is allowed."""
    if profile not in ("auto", *PROFILE_NAMES):
        raise UserError(f"parameter profile={profile!r} is not allowed; use one of: auto, {', '.join(PROFILE_NAMES)}")
    if seeds is not None and (not is_int(seeds) or not 1 <= seeds <= 64):
        raise UserError(f"parameter seeds={seeds!r} must be None (the profile's) or an integer from 1 to 64")
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


def fmt(summary: dict | None, digits: int = 1) -> str:
    if not summary:
        return "not yet run"
    if summary["n"] == 1:
        return f"{summary['mean']:.{digits}f} (n=1)"
    return f"{summary['mean']:.{digits}f} ± {summary['std']:.{digits}f} (n={summary['n']})"


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


def recorded(experiment: str, profiles: Sequence[str] = ("paper", "quick")) -> dict:
    """The recorded results in the repository's results/ folder, by profile (None where not run)."""
    return {p: read_record(p, experiment) for p in profiles}


def mnist_table(this_run: dict, records: dict):
    """Paper vs recorded `paper` run vs recorded `quick` run vs this run, one row per model."""
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


def shown_runs(records: dict, this_run: dict) -> list[tuple[str, dict]]:
    """(label, record) of the runs a chapter's figures show: the recorded `paper` and `quick` runs that exist (the
    CI-built book runs `smoke`, so these carry the evidence), then this run unless it is one of them."""
    runs = [(f"recorded `{p}` run", records[p]) for p in ("paper", "quick") if records.get(p)]
    if any(r == this_run for _, r in runs):
        return runs
    return runs + [(f"this run (`{this_run['profile']}`)", this_run)]


def plain(label: str) -> str:
    """A markdown label as a figure title: backticks read as noise there."""
    return label.replace("`", "")


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


def provenance_line(record: dict) -> str:
    p = record["provenance"]
    return (f"profile `{record['profile']}`, {seeds_phrase(record['config'])}, {p['device']}, torch {p['torch']}, "
            f"commit `{p['commit'][:12]}`, {p['wall_s'] / 60:.1f} min, {p['date']}")


def seeds_phrase(config: dict) -> str:
    """'3 seeds', or '3 seeds on a teacher of 1 seed' for a chapter built on a teacher of another seed count."""
    n, t = config["seeds"], config.get("teacher_seeds")
    text = f"{n} seed{'' if n == 1 else 's'}"
    return text if t is None or t == n else f"{text} on a teacher of {t} seed{'' if t == 1 else 's'}"


def shared_teacher_caveat(record: dict) -> str:
    """'' unless several students learned from one teacher: then their spread is over students only."""
    n, t = record["config"]["seeds"], record["config"].get("teacher_seeds")
    return (f"Its {n} students learned from **one teacher**: the spread is over students, not over teachers."
            if t == 1 and n > 1 else "")


def gap_closed(results: dict) -> float | None:
    """Share of the small net's excess errors over the teacher that distillation removes (paper: 79/79 -> 91%)."""
    t, s, d = (results[r]["test_errors"]["mean"] for r in ("teacher", "small", "distilled"))
    return None if s <= t else (s - d) / (s - t)


def mnist_verdict_text(records: dict, this_run: dict) -> str:
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
    shown = [(name, r) for name, r in (("the recorded `paper` run", rec), ("the recorded `quick` run", records.get("quick")),
                                       ("this run", this_run)) if r]
    for name, r in shown:
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


def single_seed_caveat(record: dict, spread: str = "") -> str:
    """Why a one-seed `paper` record's verdicts are provisional; `spread`: the seed spread a `quick` record measured."""
    text = (f"That `paper` run has **one seed** (trained on {record['provenance']['device']}): no spread can be given, "
            "and a verdict on one seed is provisional.")
    if spread:
        text += f" For scale, the seed-to-seed standard deviation of the recorded `quick` run: {spread}."
    return text


def csv_download(df, filename: str, label: str):
    """A link that downloads `df` as CSV, self-contained in the page (a data: URI), so no file has to travel."""
    import base64
    import html

    from IPython.display import HTML
    b64 = base64.b64encode(df.to_csv(index=False).encode()).decode()
    return HTML(f'<a download="{html.escape(filename)}" href="data:text/csv;base64,{b64}">{html.escape(label)}</a>')


def provenance_box(this_run: dict, records: dict) -> str:
    """Markdown lines: where this page's numbers and the recorded ones came from."""
    lines = [f"- **this run**: {provenance_line(this_run)}"]
    for prof, rec in records.items():
        lines.append(f"- **recorded `{prof}`**: " + (provenance_line(rec) if rec else "not yet run"))
    return "\n".join(lines)
