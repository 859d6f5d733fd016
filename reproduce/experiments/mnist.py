"""Section 3 headline: teacher (67 errors), small net (146) and distilled small net (74) on MNIST.

All seeds of one recipe train as one batched model. Roles run in order teacher -> small -> distilled;
each role checkpoints under $REPRODUCE_DATA_DIR/runs/, so an interrupted run picks up where it stopped, and
other chapters that need the same teacher load it instead of training it again.
"""
from __future__ import annotations

from pathlib import Path

from .. import data as mnist_data
from ..core import DeviceImages, TrainConfig
from ..distributed import train_members
from ..profiles import apply_overrides, check_int, get_profile
from ..results import summarize
from .common import Run, experiment, role_config

NAME = "mnist"
ROLES = ("teacher", "small", "distilled")
SEED_BASE = {"teacher": 1000, "small": 2000, "distilled": 3000}  # member i of role r has seed SEED_BASE[r] + i


def resolve_config(profile: str, seeds: int | None = None, overrides=None) -> dict:
    recipes = apply_overrides(get_profile(NAME, profile), overrides)
    n = check_int("seeds", recipes["seeds"] if seeds is None else seeds, 1, 64)
    cfg = {"experiment": NAME, "profile": profile, "seeds": n}
    for role in ROLES:
        cfg[role] = role_config(role, recipes[role])  # validates every field
    return cfg


def teacher_config(profile: str, teacher_seeds: int | None = None) -> dict:
    """This chapter's config whose teacher recipe and seed count the chapters built on its teacher reuse
    (None: the profile's seeds; 1 reuses the teacher of `reproduce run mnist --seeds 1`)."""
    if teacher_seeds is not None:
        check_int("teacher_seeds", teacher_seeds, 1, 64)
    return resolve_config(profile, teacher_seeds)


def runs_dir() -> Path:
    return mnist_data.data_dir() / "runs"


def train_role(role: str, recipe: dict, seeds: list, train: DeviceImages, test: DeviceImages,
               teacher_logits=None, progress: bool = True, label: str = "", **per_member):
    """Train (or resume, or load when finished) one recipe's seeds as one batched model.

    per_member: `temperatures` and `hard_weights`, one value per member, for sweeps."""
    tc = TrainConfig(**recipe)
    return train_members(tc, seeds, train, test, teacher_logits=teacher_logits if tc.temperature else None,
                         checkpoint_dir=runs_dir(), progress=progress, name=role, desc=f"{label} {role}".strip(),
                         **per_member)


def device_data(dev):
    """MNIST (fetched and verified if needed) and its train and test sets resident on `dev`."""
    m = mnist_data.load_mnist()
    return m, DeviceImages(m.train_x, m.train_y, dev), DeviceImages(m.test_x, m.test_y, dev)


def data_and_teacher(cfg: dict, dev, progress: bool):
    """For chapters built on the MNIST teacher: the data on `dev` and the teacher of cfg["teacher"] (with
    cfg["teacher_seeds"] members), loaded from its shared checkpoint or trained on demand."""
    m, train, test = device_data(dev)
    seeds_t = [SEED_BASE["teacher"] + i for i in range(cfg["teacher_seeds"])]
    teacher = train_role("teacher", cfg["teacher"], seeds_t, train, test, progress=progress, label=cfg["profile"])
    return m, train, test, teacher.model


@experiment(NAME, resolve_config)
def run(run_: Run, progress: bool, log):
    """Train teacher, small and distilled nets; run() (common.experiment) reuses or records the result."""
    cfg, dev = run_.cfg, run_.device
    m, train, test = device_data(dev)
    n = cfg["seeds"]
    roles = {}
    teacher_logits = None
    for role in ROLES:
        seeds_r = [SEED_BASE[role] + i for i in range(n)]
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
