"""The verdict rule, written once: how a recorded number is judged against the paper's, with bands derived from
the seed spread and the paper's printed resolution (the scorecard and every chapter call this).

Why these bands. The paper reports single runs; a rerun of its recipe with another seed would land elsewhere by the
recipe's run-to-run spread. Our records estimate that spread by the standard deviation over seeds, s. The difference
between our mean over n seeds and the paper's one run then has a standard error se = s * sqrt(1/n + 1), never below
the paper's printed resolution (half its last digit: 0.5 for a count of errors, 0.05 for 98.6%). A number is
*reproduced* when it is on the paper's side or within 2 se of it (what the noise allows at about 95%), *close* when
it is beyond that by at most a tenth of the paper's value (a difference a reader would still call small), else *not
reproduced*. Percentages of correct answers are judged on their complement, the error rate (83.8% of 3s correct is
16.2% wrong against the paper's 1.4%: eleven times as many, not "15% off"). With one seed, s is borrowed from the
`quick` record of the same number (the same recipe, shorter) when that has two or more seeds, and the verdict is
provisional. A bias shift is a means, not a result: it *matches* or *differs* (within 2 se or not) and is never
counted as reproduced.
"""
from __future__ import annotations

import math
import statistics

from . import paper
from .stats import ci95, spearman, spearman_p

MARGIN = 0.10  # "close": beyond the noise band by at most this fraction of the paper's value (on the error scale)
Z = 2.0        # the noise band in standard errors (about 95% two-sided)
TWO_SIDED = {"mnist.small_errors"}  # a baseline: fewer errors than the paper's would widen the gap, not reproduce it
MEANS = {"omitted3.bias_shift", "only78.bias_shift"}  # means to a result, shown as matches / differs
# accuracies and shares correct are judged on their complement (the error rate), where relative size makes sense
ERROR_SCALE = {k for k, n in paper.NUMBERS.items() if n.unit == "%" and ("acc" in k or "correct" in k)}

RULE = (
    f"Only runs at the `paper` profile are judged, and only from a clean commit. The paper reports single runs, so a "
    f"rerun of its recipe would differ from it by the recipe's seed-to-seed spread s (our records' standard deviation "
    f"over seeds): our mean over n seeds differs from the paper's one run with standard error se = s·√(1/n + 1), "
    f"never below half the paper's last printed digit. *Reproduced*: on the paper's side, or within {Z:g}·se of it. "
    f"*Close*: beyond that by at most {int(MARGIN * 100)}% of the paper's value. Otherwise *not reproduced*. "
    "Percentages of correct answers are judged as error rates (100 − x), so 83.8% of 3s correct is 16.2% wrong "
    "against the paper's 1.4%, not 15% off. The small MNIST net is a baseline, judged on both sides. With one seed, "
    "s is borrowed from the `quick` run of the same number (same recipe, shorter) and the verdict is provisional. "
    "Bias shifts are means, not results: they *match* (within the band) or *differ*, and never count as reproduced.")


def resolution(value: float) -> float:
    """Half the last printed digit of a paper number (3.5 -> 0.05, 67 -> 0.5)."""
    text = f"{value:g}"
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10 ** -decimals


def band(key: str, summary: dict, spread_sd: float | None = None) -> dict:
    """The numbers behind a verdict: the value and the paper's on the judged scale, se, and the two bands."""
    num = paper.NUMBERS[key]
    n = summary["n"]
    s = summary["std"] if n > 1 else (spread_sd or 0.0)
    se = max(s * math.sqrt(1.0 / n + 1.0), resolution(num.value))
    ours, theirs = summary["mean"], num.value
    if key in ERROR_SCALE:
        ours, theirs = 100.0 - ours, 100.0 - theirs
    lower_better = num.lower_is_better or key in ERROR_SCALE
    worse_by = (ours - theirs) if lower_better else (theirs - ours)
    return {"ours": ours, "paper": theirs, "se": se, "noise": Z * se, "close": Z * se + MARGIN * abs(theirs),
            "worse_by": abs(ours - theirs) if key in TWO_SIDED | MEANS else worse_by,
            "sd_borrowed": n == 1 and bool(spread_sd)}


def borrowed_sd(summary: dict | None, quick: dict | None) -> float | None:
    """The `quick` run's seed spread of the same number, for a `paper` summary of one seed (None: nothing to borrow)."""
    if summary and summary["n"] == 1 and quick and quick["n"] > 1:
        return quick["std"]
    return None


def judge(key: str, summary: dict, spread_sd: float | None = None) -> str:
    """reproduced / close / not reproduced (matches / differs for a bias shift) for a paper number's summary."""
    b = band(key, summary, spread_sd)
    if key in MEANS:
        return "matches" if b["worse_by"] <= b["noise"] else "differs"
    if b["worse_by"] <= b["noise"]:
        return "reproduced"
    return "close" if b["worse_by"] <= b["close"] else "not reproduced"


def band_text(key: str, summary: dict, spread_sd: float | None = None) -> str:
    """'±8.5 (close ≤ +15.2)' in the judged scale, for a table column."""
    b = band(key, summary, spread_sd)
    scale = " (error rate)" if key in ERROR_SCALE else ""
    return f"noise ±{b['noise']:.2g}{' (s borrowed)' if b['sd_borrowed'] else ''}{scale}"


# ----------------------------------------------------------------------------------------------------
# The paper's claims that are not single numbers: the temperature sweep (section 3) and Table 4's trend (section 5)
# ----------------------------------------------------------------------------------------------------
CLAIMS = {
    # key: (section, the paper's claim in words)
    "temperature.high_T_similar": ("3", "with 300 or more units per layer, all T above 8 give similar results"),
    "temperature.mid_T_best_at_30": ("3", "with 30 units per layer, T in 2.5..4 is clearly better than higher or lower T"),
    "jft.table4_trend": ("5", "the gain from specialists grows with the number of specialists covering the correct "
                              "class (Table 4: +3.4% at 1 to +14.1% at 10 or more)"),
}
P_TREND = 0.05  # one-sided permutation p-value for Table 4's trend to count as shown (or shown reversed)

CLAIMS_RULE = (
    "Claims that are not single numbers, each judged on 95% intervals over seeds (mean ± t·s/√n). *All T above 8 "
    "similar* (widths of 300 units or more): *reproduced* when every pair of those intervals overlaps and each is "
    f"narrower than ±{int(MARGIN * 100)}% of its mean (so a {int(MARGIN * 100)}% difference would have shown); "
    "*not reproduced* when two of them do not overlap; *inconclusive* when they overlap only because they are wide. "
    "*T in 2.5..4 best* (30 units): *reproduced* when the best T in 2.5..4 has an interval entirely below those of the "
    "best T under 2.5 and the best T over 4; *not reproduced* when one of those lies entirely below it; else "
    "*inconclusive*. *Table 4's trend*: Spearman's correlation between the number of specialists covering the correct "
    "class (1 and up, rows of at least 50 test images, pooled over seeds) and the relative change; *reproduced* when "
    f"an exact permutation test finds it positive at p < {P_TREND}, *not reproduced* when it finds it negative at "
    f"p < {P_TREND}, else *inconclusive* (too few rows or too weak a trend to tell).")


def _errors_by_t(width_result: dict) -> dict[float, list[float]]:
    return {float(t): v["values"] for t, v in width_result["errors_by_T"].items()}


def high_t_similar(record: dict) -> dict:
    """Claim (a) on every width of 300 units or more in a temperature-sweep record."""
    widths = {w: r for w, r in record["results"]["widths"].items() if int(w) >= 300}
    if not widths:
        return {"verdict": "not yet run", "why": "no width of 300 units or more in this run"}
    words, why = [], []
    for w, r in widths.items():
        by_t = {t: v for t, v in _errors_by_t(r).items() if t > 8}
        if len(by_t) < 2 or min(len(v) for v in by_t.values()) < 2:
            words.append("inconclusive")
            why.append(f"{w} units: fewer than two T above 8 or two seeds")
            continue
        ci = {t: ci95(v) for t, v in by_t.items()}
        apart = [(a, b) for a in ci for b in ci if a < b and (ci[a][1] < ci[b][0] or ci[b][1] < ci[a][0])]
        widest = max((hi - lo) / 2 / abs((hi + lo) / 2) for lo, hi in ci.values())
        if apart:
            words.append("not reproduced")
            why.append(f"{w} units: T = {apart[0][0]:g} and {apart[0][1]:g} differ")
        elif widest > MARGIN:
            words.append("inconclusive")
            why.append(f"{w} units: intervals overlap but are as wide as ±{100 * widest:.0f}% of the mean")
        else:
            words.append("reproduced")
            why.append(f"{w} units: intervals overlap, all within ±{100 * widest:.0f}%")
    order = ("not reproduced", "inconclusive", "reproduced")
    return {"verdict": next(v for v in order if v in words), "why": "; ".join(why)}


def mid_t_best_at_30(record: dict) -> dict:
    """Claim (b) on the 30-unit width of a temperature-sweep record."""
    r = record["results"]["widths"].get("30")
    if r is None:
        return {"verdict": "not yet run", "why": "no 30-unit width in this run"}
    by_t = _errors_by_t(r)
    mean = {t: sum(v) / len(v) for t, v in by_t.items()}
    groups = {"mid": [t for t in by_t if 2.5 <= t <= 4], "low": [t for t in by_t if t < 2.5],
              "high": [t for t in by_t if t > 4]}
    if not all(groups.values()) or min(len(v) for v in by_t.values()) < 2:
        return {"verdict": "inconclusive", "why": "needs T below 2.5, in 2.5..4 and above 4, and two seeds"}
    best = {g: min(ts, key=mean.get) for g, ts in groups.items()}
    ci = {g: ci95(by_t[t]) for g, t in best.items()}
    text = ", ".join(f"best {g} T = {best[g]:g}: {mean[best[g]]:.0f} [{ci[g][0]:.0f}, {ci[g][1]:.0f}]"
                     for g in ("low", "mid", "high"))
    if ci["mid"][1] < ci["low"][0] and ci["mid"][1] < ci["high"][0]:
        return {"verdict": "reproduced", "why": text}
    if ci["low"][1] < ci["mid"][0] or ci["high"][1] < ci["mid"][0]:
        return {"verdict": "not reproduced", "why": text}
    return {"verdict": "inconclusive", "why": text + " (intervals overlap)"}


TABLE4_MIN_IMAGES = 50  # Table 4 rows with fewer test images are too noisy to count towards the trend
_COVERING = [str(i) for i in range(10)] + ["10 or more"]


def table4_points(record: dict, variant: str = "dustbin") -> tuple[list[int], list[float]]:
    """(covering specialists, relative change %) of Table 4's rows from 1 up with enough test images, pooled over
    seeds: the points the trend is judged on (here and in the specialists chapter)."""
    rows = [r for r in record["results"]["summary"][variant]["table4_pooled"]
            if r["covering"] != "0" and r["images"] >= TABLE4_MIN_IMAGES]
    return [_COVERING.index(r["covering"]) for r in rows], [r["relative_change_pct"] for r in rows]


def table4_trend(record: dict) -> dict:
    """Table 4's trend in a specialists record (dustbin specialists, pooled over seeds)."""
    x, y = table4_points(record)
    if len(x) < 3:
        return {"verdict": "inconclusive", "why": f"{len(x)} rows of Table 4 with >= {TABLE4_MIN_IMAGES} images"}
    rho = spearman(x, y)
    p_up, p_down = spearman_p(x, y)
    why = f"Spearman ρ = {rho:+.2f} over {len(x)} rows (p = {p_up:.3f} for a rise, {p_down:.3f} for a fall)"
    verdict = "reproduced" if p_up < P_TREND else "not reproduced" if p_down < P_TREND else "inconclusive"
    return {"verdict": verdict, "why": why}


CLAIM_JUDGES = {"temperature.high_T_similar": ("temperature-sweep", high_t_similar),
                "temperature.mid_T_best_at_30": ("temperature-sweep", mid_t_best_at_30),
                "jft.table4_trend": ("specialists", table4_trend)}


# The temperature chapter's two claims, computed when a sweep is recorded (experiments/temperature_sweep.py)
TEMPERATURE_CLAIM_RULE = (
    "Each member's test errors are grouped by temperature; a temperature's interval is its mean over seeds ± "
    "t(0.975, n-1)·s/√n (95%). Claim (a) holds for a width when the intervals of all T > 8 overlap pairwise "
    "(no temperature above 8 is distinguishable from another). Claim (b) holds when the best T in 2.5..4 has an "
    "interval entirely below the intervals of the best T under 2.5 and of the best T over 4.")


def temperature_claims(errors_by_t: dict[float, list[float]]) -> dict:
    """Apply TEMPERATURE_CLAIM_RULE to {T: [errors per seed]}; returns both verdicts with the numbers behind them."""
    ci = {t: ci95(v) for t, v in errors_by_t.items()}
    mean = {t: statistics.fmean(v) for t, v in errors_by_t.items()}
    high = [t for t in ci if t > 8]
    overlap = all(ci[a][0] <= ci[b][1] and ci[b][0] <= ci[a][1] for a in high for b in high)
    mid = [t for t in ci if 2.5 <= t <= 4]
    low = [t for t in ci if t < 2.5]
    hi4 = [t for t in ci if t > 4]
    b = None
    if mid and low and hi4:
        best_mid = min(mid, key=mean.get)
        best_low = min(low, key=mean.get)
        best_hi = min(hi4, key=mean.get)
        b = {"holds": ci[best_mid][1] < ci[best_low][0] and ci[best_mid][1] < ci[best_hi][0],
             "best_mid": best_mid, "best_low": best_low, "best_high": best_hi,
             "ci": {str(t): ci[t] for t in (best_mid, best_low, best_hi)}}
    best = min(mean, key=mean.get)
    return {"a_high_T_similar": {"holds": overlap if len(high) >= 2 else None, "temperatures": high,
                                 "spread": (max(mean[t] for t in high) - min(mean[t] for t in high)) if high else None},
            "b_mid_T_best": b, "best_T": best, "best_mean": mean[best]}
