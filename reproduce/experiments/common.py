"""What every experiment's run() shares: reuse of a matching record, and writing the new one with provenance."""
from __future__ import annotations

import time

from ..results import git_commit, provenance, read_record, write_record


def matching_record(name: str, profile: str, fingerprint: str, rerun: bool, results_dir, log) -> dict | None:
    """The recorded result of the same configuration, unless a rerun is asked for."""
    if rerun:
        return None
    old = read_record(profile, name, results_dir)
    if old is not None and old.get("fingerprint") == fingerprint:
        log(f"reusing the recorded {profile} result ({old['provenance']['commit'][:12]}); rerun=True to train again")
        return old
    return None


class RunClock:
    """Wall time and the commit, both taken when the run starts (the code may change while it runs)."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.commit = git_commit()

    def record(self, name: str, profile: str, fingerprint: str, cfg: dict, data_source: str, results: dict,
               device, results_dir, log) -> dict:
        rec = {"experiment": name, "profile": profile, "fingerprint": fingerprint, "config": cfg,
               "data_source": data_source, "results": results,
               "provenance": provenance(device, time.perf_counter() - self.t0, self.commit)}
        log(f"recorded {write_record(rec, profile, name, results_dir)}")
        return rec
