"""The scorecard covers every paper number and judges by its stated rule."""
from pathlib import Path

import pytest

from reproduce import paper, scorecard

PAPER_MD = Path(__file__).resolve().parents[2] / "shared" / "PAPER.md"


def test_one_row_per_paper_number_and_never_blank(tmp_path):
    rows = scorecard.rows(tmp_path)  # an empty build folder: this build has no runs
    assert [r["key"] for r in rows] == list(paper.NUMBERS)
    for r in rows:
        assert r["verdict"] in {"reproduced", "close", "not reproduced", "not yet run", "setting", "not measured"}
        assert r["this build"] is None
    table = scorecard.table(tmp_path)
    assert len(table) == len(paper.NUMBERS) and not table.isna().any().any()


def test_every_extractor_names_a_paper_number():
    assert set(scorecard.EXTRACT) <= set(paper.NUMBERS)


def s(mean):
    return {"values": [mean], "n": 1, "mean": mean, "std": 0.0, "min": mean, "max": mean}


@pytest.mark.parametrize("key, mean, expected", [
    ("mnist.teacher_errors", 60, "reproduced"), ("mnist.teacher_errors", 67, "reproduced"),
    ("mnist.teacher_errors", 75, "close"), ("mnist.teacher_errors", 90, "not reproduced"),
    ("omitted3.pct_3_correct_after", 99.0, "reproduced"), ("omitted3.pct_3_correct_after", 90.0, "close"),
    ("omitted3.pct_3_correct_after", 50.0, "not reproduced"),
    ("omitted3.bias_shift", 3.0, "reproduced"), ("omitted3.bias_shift", 5.0, "not reproduced"),
    ("only78.bias_shift", -7.0, "reproduced"), ("mnist.distill_temperature", 20, "setting"),
    ("mnist.small_errors", None, "not yet run"),
    # the small net is a baseline: the MNIST chapter's +-20 errors, on either side (as the chapter judges it)
    ("mnist.small_errors", 150, "reproduced"), ("mnist.small_errors", 130, "reproduced"),
    ("mnist.small_errors", 120, "not reproduced"), ("mnist.small_errors", 170, "not reproduced"),
    # speech accuracies on our corpus are not the paper's corpus: shown, not judged; relative claims are judged
    ("speech.baseline_frame_acc", 58.0, "other corpus"), ("reg.soft3_test_acc", 99.0, "other corpus"),
    ("speech.baseline_wer", 10.0, "not measured"), ("speech.gain_transferred_pct", 85.0, "reproduced"),
    ("speech.gain_transferred_pct", 40.0, "not reproduced"), ("reg.gap_recovered_pct", 90.0, "reproduced"),
])
def test_verdict_rule(key, mean, expected):
    assert scorecard.verdict(key, s(mean) if mean is not None else None) == expected


@pytest.mark.skipif(not PAPER_MD.exists(), reason="shared/PAPER.md is not beside the checkout")
def test_paper_numbers_are_the_ones_in_PAPER_md():
    text = PAPER_MD.read_text().replace(",", "")
    for key, num in paper.NUMBERS.items():
        if key in paper.DERIVED:
            continue
        v = num.value
        shown = f"{v:g}" if key != "jft.baseline_top1" else "25.0"
        assert shown.lstrip("-") in text, key
    for c, n, d, p in paper.JFT_COVERAGE_TABLE:
        assert f"| {n} | +{d} |" in text or f"| {n} | {d} |" in text, c


def test_recorded_runs_keep_their_verdicts():
    """A change that re-records a paper or quick run with worse numbers fails here, unless results/verdicts.json
    is updated with it (`reproduce verdicts --write`), which a reviewer then sees in the diff."""
    import json

    from reproduce.results import RESULTS_DIR
    recorded = json.loads((RESULTS_DIR / scorecard.VERDICTS_FILE).read_text())["verdicts"]
    assert scorecard.worsened(scorecard.recorded_verdicts(), recorded) == []


def test_worsened_detects_a_drop():
    was = {"paper": {"mnist.teacher_errors": "reproduced", "mnist.small_errors": "close"}}
    now = {"paper": {"mnist.teacher_errors": "close", "mnist.small_errors": "reproduced"}}
    assert scorecard.worsened(now, was) == ["paper mnist.teacher_errors: reproduced -> close"]


def test_paper_runs_text_names_each_recorded_paper_run_and_its_seeds(tmp_path):
    import json
    import shutil
    assert "No `paper`-profile run is recorded yet" in scorecard.paper_runs_text(tmp_path)
    (tmp_path / "paper").mkdir()
    rec = json.loads((Path(scorecard.__file__).parents[1] / "results" / "quick" / "mnist.json").read_text())
    rec["profile"], rec["config"]["seeds"] = "paper", 1
    (tmp_path / "paper" / "mnist.json").write_text(json.dumps(rec))
    text = scorecard.paper_runs_text(tmp_path)
    assert f"mnist (1 seed, {rec['provenance']['device']}, commit `{rec['provenance']['commit'][:12]}`)" in text
    assert "provisional" in text and "omitted-digit" not in text
    shutil.copy(Path(scorecard.__file__).parents[1] / "results" / "quick" / "omitted-digit.json",
                tmp_path / "paper" / "omitted-digit.json")
    assert "omitted-digit (2 seeds" in scorecard.paper_runs_text(tmp_path)
    omitted = json.loads((tmp_path / "paper" / "omitted-digit.json").read_text())
    omitted["config"]["teacher_seeds"] = 1
    (tmp_path / "paper" / "omitted-digit.json").write_text(json.dumps(omitted))
    assert "omitted-digit (2 seeds on a teacher of 1 seed, " in scorecard.paper_runs_text(tmp_path)
