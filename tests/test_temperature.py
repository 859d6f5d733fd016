"""The statistical rule of the temperature chapter, on constructed per-seed errors with known answers."""
import math

import pytest

from reproduce.errors import UserError
from reproduce.experiments import temperature_sweep as ts
from reproduce.stats import ci95


def test_ci95_matches_a_hand_computation():
    lo, hi = ci95([10.0, 12.0, 14.0])  # mean 12, s = 2, t(0.975, 2) = 4.303
    half = 4.303 * 2 / math.sqrt(3)
    assert abs(lo - (12 - half)) < 1e-9 and abs(hi - (12 + half)) < 1e-9
    assert ci95([5.0]) == (5.0, 5.0)


def test_claim_b_holds_when_mid_T_is_clearly_best():
    by_t = {1.0: [300, 305, 310], 2.0: [250, 255, 252], 3.0: [200, 202, 201], 4.0: [210, 212, 209],
            8.0: [260, 262, 258], 20.0: [280, 285, 283]}
    c = ts.claims(by_t)
    assert c["b_mid_T_best"]["holds"] is True and c["b_mid_T_best"]["best_mid"] == 3.0 and c["best_T"] == 3.0


def test_claim_b_fails_when_a_high_T_is_as_good():
    by_t = {1.0: [300, 305, 310], 3.0: [200, 202, 201], 7.5: [199, 203, 200]}
    assert ts.claims(by_t)["b_mid_T_best"]["holds"] is False


def test_claim_a_similar_vs_distinguishable_high_T():
    similar = {10.0: [100, 104, 98], 15.0: [101, 99, 103], 20.0: [102, 100, 97]}
    assert ts.claims(similar)["a_high_T_similar"]["holds"] is True
    apart = {10.0: [100, 101, 100], 15.0: [100, 99, 101], 20.0: [130, 131, 129]}
    assert ts.claims(apart)["a_high_T_similar"]["holds"] is False
    assert ts.claims({3.0: [1, 2], 10.0: [1, 2]})["a_high_T_similar"]["holds"] is None  # one T above 8


def test_claim_b_not_testable_without_all_three_ranges():
    assert ts.claims({3.0: [1, 2], 10.0: [3, 4]})["b_mid_T_best"] is None


def test_config_is_validated():
    with pytest.raises(UserError, match="temperatures"):
        ts.resolve_config("smoke", overrides=["temperatures=[0, 2]"])
    with pytest.raises(UserError, match="widths"):
        ts.resolve_config("smoke", overrides=["widths=[]"])
    cfg = ts.resolve_config("smoke", overrides=["widths=[30]"])
    assert cfg["widths"] == [30] and cfg["teacher"]["sizes"] == (784, 1200, 1200, 10)
    # the record must not show TrainConfig's default 800-800 widths for students sized by `widths`
    assert "sizes" not in cfg["student"] and cfg["student"]["temperature"] == 20.0
    with pytest.raises(UserError, match="student.sizes .*widths"):
        ts.resolve_config("smoke", overrides=["student.sizes=[784,30,30,10]"])


@pytest.mark.parametrize("module", ["omitted_digit", "temperature_sweep"])
def test_teacher_seeds_follow_the_mnist_chapter_unless_set(module):
    """The chapters built on the MNIST teacher reuse its checkpoint: same recipe, same seed count by default, or the
    seed count of `reproduce run mnist --seeds N` when teacher_seeds=N is set (a CPU paper run with one seed)."""
    import importlib
    from reproduce.experiments import mnist
    mod = importlib.import_module(f"reproduce.experiments.{module}")
    cfg = mod.resolve_config("paper")
    assert cfg["teacher_seeds"] == mnist.resolve_config("paper")["seeds"] == 3
    assert cfg["teacher"] == mnist.resolve_config("paper")["teacher"]
    assert mod.resolve_config("paper", overrides=["teacher_seeds=1"])["teacher_seeds"] == 1
    for bad in ("0", "true", "1.5"):
        with pytest.raises(UserError, match="teacher_seeds"):
            mod.resolve_config("paper", overrides=[f"teacher_seeds={bad}"])


def test_chapter_shows_the_recorded_runs_beside_this_run():
    """The book is built at smoke in CI: the recorded quick/paper sweeps must carry the verdicts, each labelled."""
    import copy

    from reproduce.reports import temperature_sweep as R
    from reproduce.results import read_record
    quick, smoke = read_record("quick", "temperature-sweep"), read_record("smoke", "temperature-sweep")
    shown = R.runs_shown({"paper": None, "quick": quick}, smoke)
    assert [s for s, _, _ in shown] == ["recorded `quick` run", "this run (`smoke`)"]
    assert len(R.runs_shown({"paper": None, "quick": quick}, quick)) == 1  # a reused record is shown once
    text = R.all_verdicts_text({"paper": None, "quick": quick}, smoke)
    assert text.startswith("**No `paper`-profile run is recorded yet**")
    assert text.index("**Recorded `quick` run: profile `quick`") < text.index("**This run (`smoke`): profile `smoke`")
    assert text.count("- **30 units**") == 2 and "teacher of 2 seeds" in text
    paper = copy.deepcopy(quick)
    paper["profile"], paper["config"]["teacher_seeds"] = "paper", 1
    text = R.all_verdicts_text({"paper": paper, "quick": quick}, smoke)
    assert "No `paper`-profile run" not in text and "**Recorded `paper` run: profile `paper`" in text
    assert "profile `paper`, 3 seeds on a teacher of 1 seed, " in text
    # an earlier `paper` run that a newer one replaced (issue 26: the one-teacher-seed sweep) keeps its figure and
    # verdicts, after the recorded `paper` run and labelled with its teacher
    three = copy.deepcopy(paper)
    three["config"]["teacher_seeds"] = 3
    text = R.all_verdicts_text({"paper": three, "quick": quick}, smoke, [("one-teacher-seed", paper)])
    assert text.index("**Recorded `paper` run: profile `paper`, 3 seeds, ") < text.index(
        "**Earlier `paper` run `one-teacher-seed` (3 seeds on a teacher of 1 seed): profile `paper`") < text.index(
        "**Recorded `quick` run")
    assert text.count("- **30 units**") == 4
