"""Statistics that records, reports and verdicts share (below all of them: imports nothing of the package)."""
from __future__ import annotations

import itertools
import math
import random
import statistics
from typing import Sequence

# two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom (then the normal's 1.96)
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean +- t(0.975, n-1) * s / sqrt(n): a 95% confidence interval for the mean over seeds."""
    n = len(values)
    m = statistics.fmean(values)
    if n < 2:
        return m, m
    half = (T975[n - 2] if n - 1 <= len(T975) else 1.96) * statistics.stdev(values) / math.sqrt(n)
    return m - half, m + half


def _ranks(v: Sequence[float]) -> list[float]:
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(v):  # ties share their mean rank
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); nan when either side is constant."""
    a, b = _ranks(list(x)), _ranks(list(y))
    if len(set(a)) < 2 or len(set(b)) < 2:
        return float("nan")
    ma, mb = statistics.fmean(a), statistics.fmean(b)
    cov = sum((p - ma) * (q - mb) for p, q in zip(a, b))
    return cov / math.sqrt(sum((p - ma) ** 2 for p in a) * sum((q - mb) ** 2 for q in b))


def spearman_p(x: Sequence[float], y: Sequence[float], draws: int = 20000) -> tuple[float, float]:
    """One-sided permutation p-values (for a positive trend, for a negative trend) of Spearman's rho: exact over all
    orders up to 8 points, else from `draws` random orders (seeded)."""
    rho = spearman(x, y)
    if math.isnan(rho):
        return 1.0, 1.0
    y = list(y)
    rng = random.Random(0)  # one stream for all draws (a fresh Random(0) per draw would repeat one order)
    perms = itertools.permutations(y) if len(y) <= 8 else (rng.sample(y, len(y)) for _ in range(draws))
    ge = le = total = 0
    for p in perms:
        r = spearman(x, p)
        r = 0.0 if math.isnan(r) else r
        ge += r >= rho - 1e-12
        le += r <= rho + 1e-12
        total += 1
    return ge / total, le / total


def gain_kept_pct(distilled: float, baseline: float, ensemble: float) -> float:
    """The share (%) of the ensemble's gain over the baseline that the distilled model keeps; NaN without a gain."""
    gain = ensemble - baseline
    return 100 * (distilled - baseline) / gain if gain > 0 else float("nan")


def gap_closed_pct(soft: float, hard: float, full: float) -> float:
    """The share (%) of the gap between a model on 3% of the data (hard targets) and the full-data model that the
    soft-target model on the same 3% closes; NaN without a gap."""
    return 100 * (soft - hard) / (full - hard) if full > hard else float("nan")
