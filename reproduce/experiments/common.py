"""What every experiment's run() shares: reuse of a matching record, and writing the new one with provenance."""
from __future__ import annotations

import time
from contextlib import nullcontext

from ..errors import UserError
from ..io import data_dir, exclusive_lock
from ..train import TrainConfig, config_fingerprint, distributed, resolve_device
from ..train.config import LATER_FIELDS
from ..train.distributed import train_members
from ..results import git_commit, invocation, provenance, read_record, record_path, write_record


# Training options added after some records were made, with the value that trains as before. `precision` predates
# LATER_FIELDS: checkpoint keys already include it, so only the comparison of records needs to know.
RECORD_LATER_FIELDS = {**LATER_FIELDS, "precision": "fp32"}


def _without_noop_options(cfg):
    if isinstance(cfg, dict):
        return {k: _without_noop_options(v) for k, v in cfg.items()
                if not (k in RECORD_LATER_FIELDS and v == RECORD_LATER_FIELDS[k])}
    return cfg


def same_config(recorded: dict, cfg: dict) -> bool:
    """Whether a record's config is this one: an option the record predates counts as holding its no-op value, so
    adding an option does not make every earlier record look stale (and retrain it)."""
    return config_fingerprint(_without_noop_options(recorded)) == config_fingerprint(_without_noop_options(cfg))


def matching_record(name: str, cfg: dict, rerun: bool, results_dir, log) -> dict | None:
    """The recorded result of the same configuration, unless a rerun is asked for."""
    if rerun:
        return None
    profile = cfg["profile"]
    old = read_record(profile, name, results_dir)
    if old is not None and same_config(old["config"], cfg):  # equal fingerprints imply this too
        log(f"reusing the recorded {profile} result ({old['provenance']['commit'][:12]}); rerun=True to train again")
        return old
    return None


def role_config(role: str, recipe: dict) -> dict:
    """A role's recipe checked by TrainConfig, as a dict; a bad field's error names the role too (teacher.epochs=...),
    the key a user sets with --set."""
    try:
        return TrainConfig(**recipe).to_dict()
    except UserError as e:
        raise UserError(f"{role}.{e}") from None


def recipe_sized_elsewhere(recipe: dict, role: str, sized_by: str) -> dict:
    """A role's TrainConfig dict without `sizes`, for roles whose layer widths the experiment sets (from `widths`, or
    from `hidden` and the data): a recorded config must not show TrainConfig's default widths for a net it never
    trained. Setting the role's sizes is an error that names the key to set instead."""
    if "sizes" in recipe:
        raise UserError(f"{role}.sizes cannot be set: this experiment sizes the net from {sized_by}; set that instead")
    out = role_config(role, recipe)
    del out["sizes"]
    return out


def experiment(name: str, resolve_config):
    """Turn `body(run, progress, log) -> (data_source, results)` into the experiment's public run(): reuse of a
    matching record, device, commit and clock (class Run), and the record written with provenance at the end."""
    def wrap(body):
        def run(profile: str = "smoke", seeds: int | None = None, device: str = "auto", overrides=None,
                rerun: bool = False, results_dir=None, progress: bool = True, log=print) -> dict:
            cfg = resolve_config(profile, seeds, overrides)
            main = distributed.is_main()  # under torchrun, rank 0 locks, logs and records; the others train
            log = log if main else (lambda *a, **k: None)
            lock = record_path(cfg["profile"], name, results_dir).with_name(f".{name}.lock")
            # two runs of one experiment would train the same checkpoints and race for one record
            with exclusive_lock(lock, f"`reproduce run {name} --profile {cfg['profile']}`") if main else nullcontext():
                call = (f"reproduce.experiments.get({name!r}).run(profile={profile!r}, seeds={seeds!r}, "
                        f"device={device!r}, overrides={overrides!r}, rerun={rerun!r})")
                run_ = Run(name, cfg, rerun, results_dir, device, log, call)
                if run_.reused:
                    return run_.reused
                return run_.record(*body(run_, progress and main, log), write=main)
        run.__doc__, run.__name__ = body.__doc__, "run"
        return run
    return wrap


class Run:
    """One experiment run: its configuration's fingerprint, the device, and the wall time and commit taken when
    it starts (the code may change while it runs). `reused` holds a matching record instead, when there is one."""

    def __init__(self, name: str, cfg: dict, rerun: bool, results_dir, device: str, log, call: str | None = None):
        self.name, self.cfg, self.results_dir, self.log, self.call = name, cfg, results_dir, log, call
        self.fingerprint = config_fingerprint(cfg)
        # a bad device is an error even when a matching record would make training unnecessary
        self.device = distributed.local_device(resolve_device(device))
        self.reused = matching_record(name, cfg, rerun, results_dir, log)
        self.t0 = time.perf_counter()
        self.commit = git_commit()

    def record(self, data_source: str, results: dict, write: bool = True) -> dict:
        profile = self.cfg["profile"]
        rec = {"experiment": self.name, "profile": profile, "fingerprint": self.fingerprint, "config": self.cfg,
               "data_source": data_source, "results": results,
               "provenance": provenance(self.device, time.perf_counter() - self.t0, self.commit,
                                         invocation(self.call))}
        if write:
            self.log(f"recorded {write_record(rec, profile, self.name, self.results_dir)}")
        return rec


def runs_dir():
    """Where every experiment's checkpoints live ($REPRODUCE_DATA_DIR/runs), keyed by their fingerprints."""
    return data_dir() / "runs"


def train_role(role: str, recipe: dict, seeds: list, train, test, teacher_logits=None, progress: bool = True,
               label: str = "", **per_member):
    """Train (or resume, or load when finished) one MLP recipe's seeds as one batched model.

    per_member: `temperatures` and `hard_weights`, one value per member, for sweeps."""
    tc = TrainConfig(**recipe)
    return train_members(tc, seeds, train, test, teacher_logits=teacher_logits if tc.temperature else None,
                         checkpoint_dir=runs_dir(), progress=progress, name=role, desc=f"{label} {role}".strip(),
                         **per_member)
