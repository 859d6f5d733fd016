"""One row per number the paper reports: paper vs recorded `paper` run vs recorded `quick` run vs this build."""
from __future__ import annotations

from importlib import import_module
from typing import Callable

from . import paper, verdicts
from .catalog import EXPERIMENTS, report_module
from .reports.common import badge, fmt, relative_pct, seeds_phrase
from .results import is_clean, read_record, summarize


# paper key -> (experiment, per-seed values from its record): each chapter's report names the paper numbers it
# measures (PAPER_NUMBERS); the chapters come from the one list in catalog.py
EXTRACT: dict[str, tuple[str, Callable[[dict], list]]] = {
    key: (name, get) for name in EXPERIMENTS for key, get in import_module(report_module(name)).PAPER_NUMBERS.items()}
# Frame accuracies on our generated corpus are not comparable with the paper's on 2000 hours of voice search:
# shown, never judged. Only the relative claims (share of the gain kept, share of the gap closed) are judged.
# Likewise accuracies on the glyph proxy say nothing about JFT's; only the relative top-1 gain is judged.
OTHER_CORPUS = {k for k in paper.NUMBERS if k.startswith(("speech.", "reg.", "jft.")) and not k.endswith("_pct")}
# Word error rates need a decoder and a language model, which the stand-in corpus does not have.
NOT_MEASURED = {k for k in paper.NUMBERS if k.endswith("_wer")}
SETTINGS = {"mnist.distill_temperature", "jft.n_specialists"}  # recipe settings, not outcomes: never judged

VERDICT_RULE = (
    verdicts.RULE + " Recipe settings (such as T = 20) are shown, not judged; frame accuracies on our generated speech "
    "corpus and accuracies on the glyph proxy for JFT are shown as *other corpus*, not judged, since only the relative "
    "claims (share of the ensemble's gain kept, share of the 3% gap closed, relative top-1 gain of the specialists) "
    "carry over; word error rates are *not measured* (no decoder). A number with no run says *not yet run*; a run "
    "made from a dirty tree says *not judged (dirty tree)*.")
DIRTY = "not judged (dirty tree)"


def verdict(key: str, summary: dict | None, spread_sd: float | None = None, clean: bool = True) -> str:
    """The scorecard's verdict on one paper number: `summary` of the `paper` run, `spread_sd` the seed spread to
    borrow when it has one seed (the `quick` run's), `clean` whether its record came from a clean commit."""
    if key in SETTINGS:
        return "setting"
    if key in NOT_MEASURED:
        return "not measured"
    if summary is None:
        return "not yet run"
    if key in OTHER_CORPUS:
        return "other corpus"
    if not clean:
        return DIRTY
    return verdicts.judge(key, summary, spread_sd)


borrowed_sd = verdicts.borrowed_sd


def rows(this_dir=None) -> list[dict]:
    """Every paper number with our summaries; `this_dir` is the results folder of this build's runs."""
    records = {}

    def rec(profile, experiment, folder=None):
        k = (profile, experiment, str(folder))
        if k not in records:
            records[k] = read_record(profile, experiment, folder)
        return records[k]

    out = []
    for key, num in paper.NUMBERS.items():
        row = {"section": num.section, "number": num.what, "unit": num.unit, "paper": num.value, "key": key}
        exp, get = EXTRACT.get(key, (None, None))
        for col, profile, folder in (("paper run", "paper", None), ("quick run", "quick", None)):
            r = rec(profile, exp, folder) if exp else None
            row[col] = summarize(get(r)) if r else None
            if r and col == "paper run":
                row["paper run device"] = r["provenance"]["device"]
                row["paper run commit"] = r["provenance"]["commit"][:12]
        row["this build"] = None
        if exp and this_dir is not None:
            for profile in ("paper", "quick", "smoke"):
                r = rec(profile, exp, this_dir)
                if r:
                    row["this build"] = summarize(get(r))
                    row["this build profile"] = profile
                    break
        sd = borrowed_sd(row["paper run"], row["quick run"])
        r = rec("paper", exp, None) if exp else None
        row["verdict"] = verdict(key, row["paper run"], sd, is_clean(r) if r else True)
        judged = row["verdict"] in RANKED and row["paper run"] is not None
        row["band"] = verdicts.band_text(key, row["paper run"], sd) if judged else ""
        out.append(row)
    return out


def table(this_dir=None):
    import pandas as pd
    data = []
    for r in rows(this_dir):
        data.append({
            "§": r["section"], "number": r["number"], "paper": _num(r["paper"]),
            "recorded `paper` run": fmt(r["paper run"], 2),
            "recorded `quick` run": fmt(r["quick run"], 2),
            "band": r["band"],
            "verdict": badge(r["verdict"]),
        })
    return pd.DataFrame(data)


def claim_rows(results_dir=None) -> list[dict]:
    """One row per claim of verdicts.CLAIMS: its verdict on the `paper` run, the `quick` run's for comparison."""
    out = []
    for key, (section, words) in verdicts.CLAIMS.items():
        exp, judge = verdicts.CLAIM_JUDGES[key]
        row = {"key": key, "section": section, "claim": words}
        for profile in ("paper", "quick"):
            r = read_record(profile, exp, results_dir)
            j = judge(r) if r else {"verdict": "not yet run", "why": ""}
            if r and profile == "paper" and not is_clean(r):
                j = {"verdict": DIRTY, "why": j["why"]}
            row[profile] = j
        out.append(row)
    return out


def claims_table(results_dir=None):
    import pandas as pd
    return pd.DataFrame([{"§": r["section"], "claim": r["claim"],
                          "recorded `paper` run": f"{r['paper']['verdict']}: {r['paper']['why']}".rstrip(": "),
                          "recorded `quick` run": f"{r['quick']['verdict']}: {r['quick']['why']}".rstrip(": "),
                          "verdict": r["paper"]["verdict"]} for r in claim_rows(results_dir)])


def paper_runs_text(results_dir=None) -> str:
    """Which `paper`-profile runs are recorded, with their seeds, device and commit: the column's numbers are
    only as strong as these (one seed on a CPU is not three on a GPU)."""
    runs, one_seed = [], False
    for exp in EXPERIMENTS:
        r = read_record("paper", exp, results_dir)
        if r:
            one_seed |= r["config"]["seeds"] == 1 or r["config"].get("teacher_seeds") == 1
            runs.append(f"{exp} ({seeds_phrase(r['config'])}, {r['provenance']['device']}, "
                        f"commit `{r['provenance']['commit'][:12]}`)")
    if not runs:
        return "No `paper`-profile run is recorded yet: every verdict reads *not yet run*."
    return ("Recorded `paper`-profile runs: " + "; ".join(runs) + ". The others read *not yet run*."
            + (" A verdict on one seed (of the model or of its teacher) is provisional." if one_seed else ""))


def coverage_table():
    """Table 4 of the paper (specialists by coverage) beside the recorded runs' relative changes (dustbin
    specialists, pooled over seeds; our test sets are far smaller, so rows are sparser)."""
    import pandas as pd
    ours = {}
    for profile in ("paper", "quick"):
        r = read_record(profile, "specialists")
        rows = r["results"]["summary"]["dustbin"]["table4_pooled"] if r else []
        ours[profile] = {row["covering"]: f"{relative_pct(row['relative_change_pct'])} of {row['images']:,}" for row in rows}
    return pd.DataFrame([{"specialists covering the correct class": c, "test examples": n,
                          "change in top-1 correct": d, "relative change %": p,
                          **{f"recorded `{prof}`": ours[prof].get(c, "not yet run" if not ours[prof] else "no images")
                             for prof in ("paper", "quick")}}
                         for c, n, d, p in paper.JFT_COVERAGE_TABLE])


def _num(v: float) -> str:
    return f"{v:g}"


VERDICTS_FILE = "verdicts.json"  # in results/: the verdicts of the recorded runs, checked by the tests
RANK = {"not yet run": 0, DIRTY: 0, "not reproduced": 1, "inconclusive": 1, "close": 2, "reproduced": 3,
        "setting": 3, "other corpus": 3, "not measured": 3, "matches": 3, "differs": 3}  # the last six: not ranked
RANKED = {"not reproduced", "inconclusive", "close", "reproduced", "matches", "differs"}


def recorded_verdicts(results_dir=None) -> dict:
    """{profile: {paper key or claim: verdict}} for the recorded `paper` and `quick` runs, by the scorecard's rule
    (at `quick` the verdict says how that short run compares, not whether the paper is reproduced)."""
    out = {}
    quick = {key: read_record("quick", exp, results_dir) for key, (exp, _) in EXTRACT.items()}
    for profile in ("paper", "quick"):
        out[profile] = {}
        for key, (exp, get) in EXTRACT.items():
            rec = read_record(profile, exp, results_dir)
            summary = summarize(get(rec)) if rec else None
            q = summarize(get(quick[key])) if quick[key] and profile == "paper" else None
            out[profile][key] = verdict(key, summary, borrowed_sd(summary, q), is_clean(rec) if rec else True)
    for row in claim_rows(results_dir):
        for profile in ("paper", "quick"):
            out[profile][row["key"]] = row[profile]["verdict"]
    return out


def worsened(current: dict, recorded: dict) -> list[str]:
    """Keys whose verdict is worse now than in the recorded verdicts file."""
    bad = []
    for profile, verdicts in recorded.items():
        for key, was in verdicts.items():
            now = current.get(profile, {}).get(key, "not yet run")
            if RANK[now] < RANK[was]:
                bad.append(f"{profile} {key}: {was} -> {now}")
    return bad


# The headline: one row per claim of the paper (not per number), in the paper's order, each judged by the verdict of
# the number that carries it (scorecard rule) or by its claim judge (verdicts.CLAIM_JUDGES).
HEADLINE = (
    ("3", "A small net distilled from a big one gets most of its generalization "
          f"({paper.paper('mnist.distilled_errors'):g} errors against {paper.paper('mnist.small_errors'):g})",
     "mnist.distilled_errors"),
    ("3", "A student that never saw a 3 gets most test 3s right after a bias shift", "omitted3.pct_3_correct_after"),
    ("3", "A student that saw only 7s and 8s recognizes the other digits after a bias shift", "only78.error_pct_after"),
    ("3", "With 300 or more units, all T above 8 distil about equally well", "temperature.high_T_similar"),
    ("3", "With 30 units, T in 2.5..4 distils best", "temperature.mid_T_best_at_30"),
    ("4", "One distilled model keeps more than 80% of a 10-model ensemble's gain", "speech.gain_transferred_pct"),
    ("5", "Specialists raise a generalist's top-1 accuracy (relative gain)", "jft.relative_top1_gain_pct"),
    ("5", "The specialists' gain grows with how many cover the correct class", "jft.table4_trend"),
    ("6", "Soft targets let a model trained on 3% of the data keep most of the full-data accuracy",
     "reg.gap_recovered_pct"),
)


# what the paper shows for a claim that is not one number (the temperature claims are stated in words only)
_T4 = paper.JFT_COVERAGE_TABLE
CLAIM_PAPER = {"jft.table4_trend": f"Table 4: {_T4[1][3]:+.1f}% with {_T4[1][0]} covering specialist to "
                                   f"{_T4[-1][3]:+.1f}% with {_T4[-1][0]}"}


def experiment_of(key: str) -> str:
    return verdicts.CLAIM_JUDGES[key][0] if key in verdicts.CLAIM_JUDGES else EXTRACT[key][0]


def headline_rows(results_dir=None, experiment: str | None = None) -> list[dict]:
    """The headline's rows (of one experiment's chapter, if given): the claim, the paper's number, ours at `paper`
    with its spread, and the verdict."""
    numbers = {r["key"]: r for r in rows()}
    claims = {r["key"]: r for r in claim_rows(results_dir)}
    out = []
    for section, claim, key in HEADLINE:
        if experiment is not None and experiment_of(key) != experiment:
            continue
        if key in claims:
            c = claims[key]["paper"]
            theirs, ours, verdict = CLAIM_PAPER.get(key, "a claim, no number"), c["why"] or "not yet run", c["verdict"]
        else:
            n = numbers[key]
            unit = "" if not n["unit"] else n["unit"] if n["unit"] == "%" else f" {n['unit']}"
            theirs, verdict = f"{_num(n['paper'])}{unit}", n["verdict"]
            ours = "not yet run" if n["paper run"] is None else fmt(n["paper run"], 1) + unit
        out.append({"section": section, "claim": claim, "key": key, "experiment": experiment_of(key),
                    "paper": theirs, "ours": ours, "verdict": verdict})
    return out


def headline_table(results_dir=None, experiment: str | None = None):
    """The headline (of one chapter, if given) as a table with verdict badges: a reader's answer in ten seconds."""
    import pandas as pd
    return pd.DataFrame([{"§": r["section"], "the paper's claim": r["claim"], "paper": r["paper"],
                          "ours (paper run)": r["ours"], "verdict": badge(r["verdict"])}
                         for r in headline_rows(results_dir, experiment)])


def headline_counts(results_dir=None) -> str:
    """Markdown: how many headline claims have each verdict, as badges."""
    from collections import Counter

    counts = Counter(r["verdict"] for r in headline_rows(results_dir))
    order = sorted(counts, key=lambda v: (-RANK.get(v, 0), v))
    return ", ".join(f"{counts[v]} {badge(v)}" for v in order)


def this_build_table(this_dir):
    """This build's numbers (the smoke profile in CI), apart from the paper's: they only show the code runs."""
    import pandas as pd
    data = [{"§": r["section"], "number": r["number"],
             "this build": fmt(r["this build"], 2) + f" [{r['this build profile']}]"}
            for r in rows(this_dir) if r["this build"]]
    return pd.DataFrame(data)
