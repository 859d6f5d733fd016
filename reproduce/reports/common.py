"""What every chapter's page shares: parameter checks, formatting, provenance lines, caveats, downloads. Each
chapter's own tables, figures and verdict text live in the module of reports/ named like its experiment."""
from __future__ import annotations

from typing import Sequence

from ..results import read_record


def described_runs(records: dict, this_run: dict) -> list[tuple[str, dict, bool]]:
    """(name in prose, record, judged) for a verdict paragraph: the recorded `paper` run (the only one judged), the
    recorded `quick` run and this run, those that exist."""
    runs = (("the recorded `paper` run", records.get("paper"), True),
            ("the recorded `quick` run", records.get("quick"), False), ("this run", this_run, False))
    return [(name, r, judged) for name, r, judged in runs if r is not None]


def relative_pct(pct: float) -> str:
    """A relative change as '+1.2%'; 'undefined' where the record holds NaN (nothing to divide by)."""
    return "undefined" if pct != pct else f"{pct:+.1f}%"


def paper_explorations(folder: str, results_dir=None) -> list[tuple[str, dict]]:
    """(tag, record) of the explorations recorded in results/paper/<folder>/, by tag; [] when there is none."""
    from pathlib import Path

    from ..results import RESULTS_DIR, read_records_in
    return read_records_in(Path(results_dir or RESULTS_DIR) / "paper" / folder)


def earlier_runs(experiment: str, results_dir=None) -> list[tuple[str, dict]]:
    """(tag, record) of a chapter's earlier `paper` runs, kept beside its explorations as whole `reproduce run`
    records (results/paper/<experiment>-explore/<tag>.json; e.g. the run on a one-seed teacher that a 3-seed run
    replaced), by tag; the folder's other records (an exploration script's grids) are not runs of the chapter."""
    return [(t, r) for t, r in paper_explorations(f"{experiment}-explore", results_dir)
            if is_chapter_run(r, experiment)]


def is_chapter_run(record: dict, experiment: str) -> bool:
    """Whether an exploration folder's record is a whole `paper` run of the chapter (earlier_runs), not a script's."""
    return record.get("experiment") == experiment and record.get("profile") == "paper"


def earlier_label(tag: str, record: dict) -> str:
    return f"earlier `paper` run `{tag}` ({seeds_phrase(record['config'])})"


def with_explorations(paper_record: dict | None, explored: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """(name in prose, record): the recorded `paper` run, if any, then each exploration by its tag."""
    return ([("the recorded `paper` run", paper_record)] if paper_record else []) + [(f"exploration `{t}`", r)
                                                                                   for t, r in explored]


def verdict_word(ok: bool, judged: bool = True) -> str:
    """': **reproduced**' or ': **not reproduced**' after a judged run's numbers; nothing after an unjudged one."""
    return f": **{'reproduced' if ok else 'not reproduced'}**" if judged else ""


def fmt(summary: dict | None, digits: int = 1) -> str:
    if not summary:
        return "not yet run"
    if summary["n"] == 1:
        return f"{summary['mean']:.{digits}f} (n=1)"
    return f"{summary['mean']:.{digits}f} ± {summary['std']:.{digits}f} (n={summary['n']})"


def recorded(experiment: str, profiles: Sequence[str] = ("paper", "quick")) -> dict:
    """The recorded results in the repository's results/ folder, by profile (None where not run)."""
    return {p: read_record(p, experiment) for p in profiles}


def shown_runs(records: dict, this_run: dict, earlier: Sequence[tuple[str, dict]] = ()) -> list[tuple[str, dict]]:
    """(label, record) of the runs a chapter's figures show: the recorded `paper` run, the `earlier` `paper` runs
    (earlier_runs) and the recorded `quick` run, those that exist (the CI-built book runs `smoke`, so these carry the
    evidence), then this run unless it is one of them."""
    runs = [(f"recorded `{p}` run", records[p]) for p in ("paper",) if records.get(p)]
    runs += [(earlier_label(t, r), r) for t, r in earlier]
    runs += [(f"recorded `{p}` run", records[p]) for p in ("quick",) if records.get(p)]
    if any(r == this_run for _, r in runs):
        return runs
    return runs + [(f"this run (`{this_run['profile']}`)", this_run)]


def plain(label: str) -> str:
    """A markdown label as a figure title: backticks read as noise there."""
    return label.replace("`", "")


def provenance_line(record: dict) -> str:
    p = record["provenance"]
    cpu = f" ({p['cpu_model']})" if p.get("cpu_model") and p["device"].startswith("CPU") else ""
    return (f"profile `{record['profile']}`, {seeds_phrase(record['config'])}, {p['device']}{cpu}, torch {p['torch']}, "
            f"commit `{p['commit'][:12]}`, {wall_phrase(p)}, {p['date']}")


def wall_phrase(provenance: dict) -> str:
    """'95.0 min', or '95.0 min (11.2 of them stopped)' where the process was paused for half a minute or more
    (records from before paused_s existed cannot say)."""
    text = f"{provenance['wall_s'] / 60:.1f} min"
    paused = provenance.get("paused_s", 0.0)
    return text + (f" ({paused / 60:.1f} of them stopped)" if paused >= 30 else "")


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


def provenance_box(this_run: dict, records: dict, earlier: Sequence[tuple[str, dict]] = ()) -> str:
    """Markdown lines: where this page's numbers and the recorded ones (and the `earlier` runs shown) came from."""
    lines = [f"- **this run**: {provenance_line(this_run)}"]
    for prof, rec in records.items():
        lines.append(f"- **recorded `{prof}`**: " + (provenance_line(rec) if rec else "not yet run"))
    lines += [f"- **{earlier_label(t, r)}**: {provenance_line(r)}" for t, r in earlier]
    return "\n".join(lines)


# a verdict's badge class: its colour in _static/verdicts.css (green, amber, red, grey), the word always shown too
BADGE_CLASS = {"reproduced": "good", "matches": "good", "close": "near", "inconclusive": "open",
               "not reproduced": "bad", "differs": "bad"}


def badge(verdict: str) -> str:
    """Inline HTML: the verdict as a coloured badge with its word (a reader without colour still reads it)."""
    import html
    return (f'<span class="verdict verdict-{BADGE_CLASS.get(verdict, "none")}">{html.escape(verdict)}</span>')

