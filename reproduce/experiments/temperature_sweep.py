"""Section 3, which temperatures work: students of several widths distilled from the MNIST teacher at many T.

All temperatures and seeds of one width train as ONE batched model, each member with its own T, seed and data
order, plus `seeds` undistilled members (hard labels only, weight 1 on the hard term) as the width's reference.
The paper's claims, tested with the rule in `claims()`:
(a) with 300 or more units per layer, all T above 8 give similar results;
(b) with 30 units per layer, T in 2.5..4 is clearly better than higher or lower T.
"""
from __future__ import annotations

import statistics

from ..errors import UserError
from ..profiles import apply_overrides, check_int, get_profile
from ..results import summarize
from ..verdicts import TEMPERATURE_CLAIM_RULE as CLAIM_RULE  # noqa: F401 (the rule of claims())
from ..verdicts import temperature_claims as claims
from . import teacher as shared_teacher
from .common import Run, experiment, recipe_sized_elsewhere, train_role

NAME = "temperature-sweep"
SEEDS = (1, 64)  # the allowed `seeds` (CLI --seeds, notebook parameter)
SEED_BASE = 6000
def resolve_config(profile: str, seeds: int | None = None, overrides=None) -> dict:
    recipes = apply_overrides(get_profile(NAME, profile), overrides)
    n = check_int("seeds", recipes["seeds"] if seeds is None else seeds, *SEEDS)
    temps = [float(t) for t in recipes["temperatures"]]
    widths = [int(w) for w in recipes["widths"]]
    if not temps or any(not (0 < t <= 1000) for t in temps):
        raise UserError(f"temperatures={temps} must be a non-empty list of values in (0, 1000]")
    if not widths or any(not (1 <= w <= 8192) for w in widths):
        raise UserError(f"widths={widths} must be a non-empty list of integers in 1..8192")
    teacher_cfg = shared_teacher.teacher_config(profile, recipes["teacher_seeds"])
    student = recipe_sized_elsewhere(recipes["student"], "student", "`widths` (784-w-w-10 for each width w)")
    if student["temperature"] is None:
        raise UserError("student.temperature must be set (any value: each member gets its own T)")
    return {"experiment": NAME, "profile": profile, "seeds": n, "temperatures": temps, "widths": widths,
            "student": student, "teacher": teacher_cfg["teacher"], "teacher_seeds": teacher_cfg["seeds"]}


@experiment(NAME, resolve_config)
def run(run_: Run, progress: bool, log):
    cfg, dev = run_.cfg, run_.device
    m, train, test, teacher = shared_teacher.data_and_teacher(cfg, dev, progress)
    logits = teacher.predict(train)
    n, temps = cfg["seeds"], cfg["temperatures"]
    # member order: for each T, seeds 0..n-1; then the n undistilled references (T is unused for them)
    member_t = [t for t in temps for _ in range(n)] + [1.0] * n
    member_a = [cfg["student"]["hard_weight"]] * (len(temps) * n) + [1.0] * n
    member_seed = [SEED_BASE + i for _ in temps for i in range(n)] + [SEED_BASE + i for i in range(n)]
    teacher_of = [i % cfg["teacher_seeds"] for _ in temps for i in range(n)] + [0] * n
    out = {"teacher_test_errors": summarize(teacher.count_errors(test).tolist()), "widths": {}}
    for w in cfg["widths"]:
        recipe = dict(cfg["student"], sizes=(784, w, w, 10))
        result = train_role(f"sweep-w{w}", recipe, member_seed, train, test, logits[teacher_of], progress,
                                  cfg["profile"], temperatures=member_t, hard_weights=member_a)
        errs = result.model.count_errors(test).tolist()
        by_t = {t: errs[k * n:(k + 1) * n] for k, t in enumerate(temps)}
        ref = errs[len(temps) * n:]
        out["widths"][str(w)] = {
            "errors_by_T": {str(t): summarize(v) for t, v in by_t.items()},
            "reference_errors": summarize(ref), "claims": claims(by_t),
            "wall_s": round(result.wall_s, 2), "members": len(member_t)}
        c = out["widths"][str(w)]["claims"]
        log(f"width {w}: best T {c['best_T']} ({c['best_mean']:.1f} errors), undistilled {statistics.fmean(ref):.1f}; "
            f"claim a {c['a_high_T_similar']['holds']}, claim b {c['b_mid_T_best'] and c['b_mid_T_best']['holds']}")
    return m.source, out
