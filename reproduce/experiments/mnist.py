"""Section 3 headline: teacher (67 errors), small net (146) and distilled small net (74) on MNIST.

All seeds of one recipe train as one batched model. Roles run in order teacher -> small -> distilled;
each role checkpoints under $REPRODUCE_DATA_DIR/runs/, so an interrupted run picks up where it stopped, and
other chapters that need the same teacher load it instead of training it again.
"""
from __future__ import annotations

from ..profiles import apply_overrides, check_int, get_profile
from ..results import summarize
from . import teacher as shared_teacher
from .common import Run, experiment, role_config, train_role

NAME = "mnist"
SEEDS = (1, 64)  # the allowed `seeds` (CLI --seeds, notebook parameter)
ROLES = ("teacher", "small", "distilled")
SEED_BASE = {"teacher": shared_teacher.SEED_BASE, "small": 2000, "distilled": 3000}  # member i of role r has seed SEED_BASE[r] + i


def resolve_config(profile: str, seeds: int | None = None, overrides=None) -> dict:
    recipes = apply_overrides(get_profile(NAME, profile), overrides)
    n = check_int("seeds", recipes["seeds"] if seeds is None else seeds, *SEEDS)
    cfg = {"experiment": NAME, "profile": profile, "seeds": n}
    for role in ROLES:
        cfg[role] = role_config(role, recipes[role])  # validates every field
    return cfg


@experiment(NAME, resolve_config)
def run(run_: Run, progress: bool, log):
    """Train teacher, small and distilled nets; run() (common.experiment) reuses or records the result."""
    cfg, dev = run_.cfg, run_.device
    m, train, test = shared_teacher.device_data(dev)
    n = cfg["seeds"]
    roles = {}
    teacher_logits = None
    for role in ROLES:
        seeds_r = [SEED_BASE[role] + i for i in range(n)]
        if role == "teacher":
            result = shared_teacher.train_teacher(cfg[role], n, train, test, progress, cfg["profile"])
        else:
            result = train_role(role, cfg[role], seeds_r, train, test, teacher_logits, progress, cfg["profile"])
        errors = result.model.count_errors(test).tolist()
        roles[role] = {"seeds": seeds_r, "test_errors": summarize(errors), "wall_s": round(result.wall_s, 2),
                       "resumed_from_epoch": result.resumed_from_epoch,
                       "curves": {str(k): v for k, v in sorted(result.history.items())}}
        if role == "teacher":
            roles[role]["train_errors"] = summarize(result.model.count_errors(train).tolist())
            # soft targets: the teacher's logits on the unjittered training images, no dropout
            teacher_logits = result.model.predict(train)
        log(f"{role}: test errors {errors} (mean {roles[role]['test_errors']['mean']:.1f})")
    return m.source, roles
