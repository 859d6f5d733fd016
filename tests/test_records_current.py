"""The committed records describe the current recipes: a run of `reproduce run X --profile P` reuses them instead of
training again, and the book's numbers are those of the code it ships with."""
import copy

import pytest

from reproduce import experiments
from reproduce.experiments.common import matching_record, same_config
from reproduce.results import read_record, write_record

# Records waiting for a rerun on the current recipe, with the reason; each must really be stale (the test below fails
# once it is rerun, so the entry cannot outlive its reason).
AWAITING_RERUN = {
    ("paper", "omitted-digit"): "issue 26: the one-seed record waits for the 3-seed teacher's run",
    ("paper", "temperature-sweep"): "issue 26: three widths on a one-seed teacher; the profile has four on three",
}


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
@pytest.mark.parametrize("name", sorted(experiments.REGISTRY))
def test_every_committed_record_is_of_its_profile_s_current_recipe(profile, name):
    rec = read_record(profile, name)
    if rec is None:
        pytest.skip(f"no {profile} record of {name}")
    current = same_config(rec["config"], experiments.get(name).resolve_config(profile, None, None))
    if (profile, name) in AWAITING_RERUN:
        assert not current, f"{profile}/{name} matches its profile now: remove it from AWAITING_RERUN"
    else:
        assert current, (f"results/{profile}/{name}.json was made with another recipe than the profile's: rerun "
                         f"`reproduce run {name} --profile {profile} --rerun` or restore the profile")


def test_an_option_a_record_predates_counts_as_its_no_op_value(tmp_path):
    cfg = experiments.get("mnist").resolve_config("smoke", None, None)
    old = copy.deepcopy(cfg)
    for role in ("teacher", "small", "distilled"):
        del old[role]["precision"], old[role]["momentum"]
        old[role]["momentum"] = cfg[role]["momentum"]  # the same recipe, keys in another order
    assert same_config(old, cfg)
    bf16 = copy.deepcopy(cfg)
    bf16["distilled"]["precision"] = "bf16"
    assert not same_config(old, bf16)  # a record without the option is fp32, not bf16
    longer = copy.deepcopy(cfg)
    longer["distilled"]["epochs"] += 1
    assert not same_config(old, longer)

    write_record({"fingerprint": "made-before-precision", "config": old, "provenance": {"commit": "0" * 40}},
                 "smoke", "mnist", tmp_path)
    reuse = lambda c, rerun=False: matching_record("mnist", c, rerun, tmp_path, lambda *a: None)
    assert reuse(cfg)["fingerprint"] == "made-before-precision"
    assert reuse(longer) is None and reuse(bf16) is None and reuse(cfg, rerun=True) is None
