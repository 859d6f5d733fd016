"""The specialists chapter's verdict rule and its sentences, on constructed records."""
import math

from reproduce.reports import specialists as R
from reproduce.results import summarize


def _record(rows, gain=2.0, n_spec=48, classes=1371, in_subset=(80.0, 75.0)):
    stat = lambda v: {"mean": v, "std": 0.0, "n": 1, "values": [v], "min": v, "max": v}
    table4 = [{"covering": k, "images": n, "generalist_correct": n // 2, "delta_correct": 0, "relative_change_pct": rel}
              for k, n, rel in rows]
    variant = {"relative_top1_gain_pct": stat(gain), "table4_pooled": table4,
               "in_subset_specialist_acc": stat(in_subset[0]), "in_subset_generalist_acc": stat(in_subset[1])}
    return {"profile": "paper",
            "results": {"card": {"classes": classes},
                        "per_seed": [{"n_specialists": n_spec, "dustbin": {"in_subset": {"specialists_better": 40}},
                                      "soft": {"in_subset": {"specialists_better": 30}}}],
                        "summary": {"dustbin": variant, "soft": variant, "n_specialists": stat(n_spec)}}}


GROWING = [("0", 5000, 0.0), ("1", 3000, 1.0), ("2", 800, 2.5), ("3", 200, 4.0), ("4", 60, 5.0), ("5", 10, -50.0)]
SHRINKING = [("0", 5000, 30.0), ("1", 3000, 4.0), ("2", 800, -1.0), ("3", 200, -3.0)]


def test_spearman_ranks_ties_and_constants():
    assert R.spearman([1, 2, 3], [10, 20, 30]) == 1.0
    assert R.spearman([1, 2, 3], [3, 2, 1]) == -1.0
    assert math.isclose(R.spearman([1, 2, 3, 4], [1, 1, 2, 3]), 0.9486832980505138)
    assert math.isnan(R.spearman([1, 2, 3], [5, 5, 5]))


def test_reproduced_needs_a_gain_that_grows_with_coverage_at_scale():
    c = R.claims(_record(GROWING))
    # row 0 and rows under MIN_ROW_IMAGES images do not count: the -50% of row 5 (10 images) is ignored
    assert c["rho"] == 1.0 and c["reproduced"] is True
    assert R.claims(_record(SHRINKING))["reproduced"] is False          # the quick run's shape: rho < 0
    assert R.claims(_record(GROWING, gain=-0.1))["reproduced"] is False
    assert R.claims(_record(GROWING, n_spec=24))["reproduced"] is False  # fewer than 30 specialists
    assert R.claims(_record(GROWING, classes=100))["reproduced"] is False
    assert math.isnan(R.claims(_record(GROWING[:3]))["rho"])             # two rows: no trend to judge


def test_in_subset_sentence_states_the_margin():
    text = R.in_subset_text(_record(GROWING))
    assert "80.00% vs the generalist's 75.00% (+5.00 points; better in 40 of 48" in text
    old = _record(GROWING)
    del old["results"]["summary"]["dustbin"]["in_subset_specialist_acc"]
    assert "predates" in R.in_subset_text(old)


def test_row0_split_is_shown_from_the_records_counts_and_old_records_say_so():
    rec = _record(SHRINKING)
    assert R.row0_table(rec) is None and "predates" in R.row0_text(rec)
    split = {"no_active_specialist": {"images": 300, "generalist_correct": 120, "wrong_to_right": 0,
                                      "right_to_wrong": 0},
             "active_but_uncovered": {"images": 200, "generalist_correct": 0, "wrong_to_right": 36,
                                      "right_to_wrong": 0}}
    for v in ("dustbin", "soft"):
        rec["results"]["summary"][v] = dict(rec["results"]["summary"][v], table4_row0_pooled=split)
    rec["results"]["summary"]["dustbin"]["table4_pooled"][0].update(generalist_correct=120, relative_change_pct=30.0)
    text = R.row0_text(rec)
    assert "On 300 no specialist is active" in text and "row 0's 120 correct" in text and "36 became right" in text
    assert "+30.0%" in text
    table = R.row0_table(rec)
    assert table.loc[R.ROW0_PARTS["active_but_uncovered"], "dustbin: wrong -> right / right -> wrong"] == "36 / 0"


def test_regime_sentence_states_both_curves_and_images_per_parameter_and_old_records_say_so():
    rec = _record(GROWING)
    rec["results"]["card"]["train_masters"] = 13748
    g = {"epochs": [10, 20], "test_acc_curve": [[60.0, 70.0], [62.0, 72.0]]}
    rec["results"]["generalist"] = dict(g)
    assert "predates" in R.regime_text(rec) and "71.00%" in R.regime_text(rec)
    rec["results"]["generalist"] = dict(g, val_acc_curve=[[70.0, 80.0], [71.0, 82.0]], parameters=1_000_000,
                                        training_images_seen=2_000_000)
    text = R.regime_text(rec)
    assert "81.00% top-1 on fresh draws" in text and "71.00% on the test faces" in text
    assert "2.00 per parameter" in text and "10.0-point gap" in text and "+10.50 points" in text
    assert "13,748 master renders" in text


def test_table4_shows_the_share_of_each_rows_errors_fixed():
    rec = _record(GROWING)
    for row in rec["results"]["summary"]["dustbin"]["table4_pooled"]:
        row["wrong_to_right"] = 1
    t = R.table4(rec)
    # row "1": 3000 images, 1500 correct, 1 of its 1500 errors fixed
    assert t.loc["1", "dustbin: errors fixed"] == "0.1%"
    del rec["results"]["summary"]["dustbin"]["table4_pooled"][0]["wrong_to_right"]  # records before the directions
    assert R.table4(rec).loc["0", "dustbin: errors fixed"] == "—"


def test_back_text_says_when_the_student_falls_short_of_the_generalist():
    rec = _record(GROWING)
    rec["config"] = {"back": {"epochs": 10}}
    rec["results"]["generalist"] = {"training_images_seen": 274_960}
    rec["results"]["distilled_back"] = {"transfer_images": 27_496, "transfer_draws": 2, "nets": {}}
    short = {"student_acc": summarize([64.0, 66.0]), "control_acc": summarize([64.0, 64.0]),
             "generalist_acc": summarize([72.0, 72.0]), "combined_acc": summarize([76.0, 76.0]),
             "gain_kept_pct": summarize([-200.0, -200.0])}
    rec["results"]["summary"]["distilled_back"] = {"generalist-sized": short}
    text = R.back_text(rec)
    assert "65.00% top-1" in text and "+1.00 points" in text
    assert "falls short of the generalist itself (-7.00 points)" in text and "274,960 fresh augmentations" in text
    short["student_acc"] = summarize([73.0, 75.0])  # above the generalist: no such sentence
    assert "falls short" not in R.back_text(rec)


def test_early_stop_sentence_counts_the_specialists_stopped_at_their_last_epoch():
    dustbin = lambda stops, curve: {"early_stop_epoch": stops, "val_loss_curve": {"epochs": [1, 2, 3], "mean": curve}}
    rec = {"config": {"dustbin": {"epochs": 3}},
           "results": {"per_seed": [{"dustbin": dustbin([3, 3, 2], [0.4, 0.3, 0.2])},
                                    {"dustbin": dustbin([3, 1, 3], [0.6, 0.5, 0.4])}]}}
    assert R.early_stop_text(rec) == ("Trained for 3 epochs, 4 of 6 specialists (all seeds) had their lowest "
                                      "validation loss at the last epoch (1 at epoch 1, 1 at epoch 2, 4 at epoch 3). "
                                      "Their mean validation loss by epoch: 0.500, 0.400, 0.300.")
    del rec["results"]["per_seed"][0]["dustbin"]["early_stop_epoch"]
    assert "predates" in R.early_stop_text(rec)


def test_points_sentence_puts_the_gain_in_points_beside_jfts():
    rec = {"results": {"summary": {"generalist": {"test_acc_generalist": {"mean": 75.0}},
                                   "dustbin": {"test_acc_combined": {"mean": 76.5}}}}}
    text = R.points_text(rec)
    assert "add +1.50 (from 75.00% to 76.50%" in text and "JFT's added +1.1 (from 25% to 26.1%)" in text
    assert "ours is 3.0 times JFT's: the paper's 1.1 points would be 1.5% relative on our generalist" in text
    assert "our 1.50 points 6.0% on JFT's" in text


def test_dustbin_epochs_table_puts_the_choice_s_evidence_beside_its_outcome(tmp_path):
    import json

    def run(epochs, commit, stops, last_loss, gains, margins):
        per_seed = [{"dustbin": {"early_stop_epoch": s, "val_loss_curve": {"epochs": list(range(1, epochs + 1)),
                                                                           "mean": [0.5] * (epochs - 1) + [l]}}}
                    for s, l in zip(stops, last_loss)]
        return {"config": {"dustbin": {"epochs": epochs}}, "provenance": {"commit": commit},
                "results": {"per_seed": per_seed, "summary": {"dustbin": {
                    "relative_top1_gain_pct": summarize(gains),
                    "in_subset_specialist_acc": summarize([80.0 + m for m in margins]),
                    "in_subset_generalist_acc": summarize([80.0] * len(margins))}}}}
    longer = run(8, "b" * 40, [[8, 7], [8, 8]], [0.2, 0.3], [4.0, 5.0], [2.5, 3.5])
    (tmp_path / "paper" / R.EXPLORE_FOLDER).mkdir(parents=True)
    (tmp_path / "paper" / R.EXPLORE_FOLDER / "dustbin3.json").write_text(
        json.dumps(run(3, "a" * 40, [[3, 3], [3, 2]], [0.25, 0.35], [2.0, 1.0], [1.0, 2.0])))
    t = R.dustbin_epochs_table(longer, R.explorations(tmp_path))
    assert list(t["dustbin epochs"]) == [3, 8] and list(t["commit"]) == ["aaaaaaa", "bbbbbbb"]
    assert list(t["lowest val. loss at the last epoch"]) == ["3 of 4", "3 of 4"]
    assert list(t["mean val. loss, last epoch"]) == ["0.300", "0.250"]
    assert t["top-1 gain (% relative)"].iloc[0].startswith("1.50 ± 0.71")
    assert t["own classes: specialist - generalist (points)"].iloc[1].startswith("3.00 ± 0.71")
    # a record from before the early-stopping measurement has no row rather than a wrong one
    del longer["results"]["per_seed"][0]["dustbin"]["early_stop_epoch"]
    assert list(R.dustbin_epochs_table(longer, [])) == []


def test_row0_with_an_active_specialist_on_every_image_has_no_relative_change():
    # the paper run's clusters cover every class, so no test image lacks an active specialist (results/paper)
    rec = _record(SHRINKING)
    split = {"no_active_specialist": {"images": 0, "generalist_correct": 0, "wrong_to_right": 0, "right_to_wrong": 0},
             "active_but_uncovered": {"images": 1084, "generalist_correct": 0, "wrong_to_right": 144,
                                      "right_to_wrong": 0}}
    for v in ("dustbin", "soft"):
        rec["results"]["summary"][v] = dict(rec["results"]["summary"][v], table4_row0_pooled=split)
        rec["results"]["summary"][v]["table4_pooled"][0].update(generalist_correct=0, relative_change_pct=math.nan)
    text = R.row0_text(rec)
    assert "nan" not in text and "On 0 " not in text
    assert "on all 1,084 of them" in text and "144 became right" in text and "undefined" in text
    assert R.table4(rec).iloc[0]["dustbin: relative"] == "undefined"
