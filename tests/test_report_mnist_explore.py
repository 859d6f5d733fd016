"""The MNIST chapter's view of the distilled-student explorations: which cell is chosen, and what the text says."""
import json

from reproduce.reports import mnist as rx


def _record(path, tag, lr, copies, grid, **newer):
    rec = {"results": {"grid": [dict(temperature=t, hard_weight=a, val_errors=v, test_errors=e,
                                     best_val_errors_on_curve=v) for t, a, v, e in grid],
                       "lr": lr, "jitter_copies": copies, "val_size": 5000, "recipe": {"epochs": 50 // copies},
                       **newer},  # seeds, teacher_seeds, overrides: records from --seeds/--set on
           "provenance": {"commit": "abcdef0123456789"}}
    (path / f"{tag}.json").write_text(json.dumps(rec))


def test_chosen_is_the_fewest_validation_errors_with_the_papers_transfer_set(tmp_path):
    _record(tmp_path, "a", 0.05, 1, [(20, 0.1, 50, 100), (20, 0.0, 44, 104), (8, 0.1, 47, 90)])
    _record(tmp_path, "b", 0.05, 4, [(20, 0.1, 30, 70)])  # better, but not the paper's transfer set
    recs = rx.explorations(tmp_path)
    best = rx.best_cell(rx.cells(recs))
    assert (best["temperature"], best["hard_weight"], best["val_errors"]) == (20, 0.0, 44)
    text = rx.explorations_summary(recs)
    assert "makes 50 validation errors and 100 test errors" in text and "under about 14 validation errors" in text
    # chosen on validation, worse on test, and within the noise
    assert "44 validation errors (-6) and 104 test errors (+4): within the noise, so the profiles keep" in text
    assert "gives, at its best cell, 30 validation and 70 test errors, against 50 and 100" in text
    df = rx.explorations_table(recs)
    assert list(df[""]) == ["the paper's recipe", "best on validation", "", ""]
    _record(tmp_path, "c", 0.2, 1, [(20, 0.1, 4500, 9000), (20, 0.3, 20, 60)])  # one cell diverged, one far better
    recs = rx.explorations(tmp_path)
    assert "20 validation errors (-30) and 60 test errors (-40): beyond the noise." in rx.explorations_summary(recs)
    assert list(rx.explorations_table(recs)[""])[-2:] == ["diverged", "best on validation"]
    assert list(df["transfer set"])[-1] == "4 copies, 3 shifted (not the paper's)"


def test_a_tie_on_validation_keeps_the_papers_recipe(tmp_path):
    _record(tmp_path, "a", 0.05, 1, [(8, 0.1, 50, 90), (20, 0.1, 50, 100)])
    recs = rx.explorations(tmp_path)
    assert rx.is_paper_cell(rx.best_cell(rx.cells(recs)))
    assert "No other cell with the paper's transfer set does better on validation." in rx.explorations_summary(recs)


def test_no_record_says_how_to_make_one(tmp_path):
    assert rx.explorations(tmp_path) == []
    assert "scripts/explore_mnist_distill.py" in rx.explorations_summary([])
    assert rx.best_cell([]) is None


def test_plateau_is_where_the_curve_stays_near_its_final_count():
    curves = {str(e): {"test_errors": [v]} for e, v in [(5, 130), (10, 104), (15, 96), (20, 110), (25, 99), (30, 97)]}
    rec = {"results": {"distilled": {"curves": curves}}}
    assert rx.plateau(rec) == "comes within 5 errors of its final 97 by epoch 25 of 30 (99 errors there)"
    assert rx.plateau(rec, within=13) == "comes within 13 errors of its final 97 by epoch 10 of 30 (104 errors there)"
    assert "no `paper`-profile run" in rx.plateau(None)


def test_finding_for_other_chapters(tmp_path):
    assert rx.finding([]) == ""
    _record(tmp_path, "a", 0.05, 1, [(20, 0.1, 50, 100), (20, 0.3, 45, 98)])
    assert "found no cell better than it on validation images beyond the noise" in rx.finding(rx.explorations(tmp_path))
    _record(tmp_path, "b", 0.1, 1, [(20, 0.1, 20, 60)])
    assert rx.finding(rx.explorations(tmp_path)).endswith("found a better cell on validation images: T = 20, hard weight 0.1, lr 0.1")


def test_the_newest_teacher_s_cells_are_compared_as_means_over_seeds(tmp_path):
    """Cells of the one-seed teacher stay in the table but are not compared with the 3-seed teacher's; a cell with
    other recipe changes is not the paper's recipe; the noise of a mean over 3 seeds is sqrt(3) smaller."""
    _record(tmp_path, "old", 0.05, 1, [(20, 0.1, 50, 100), (20, 0.0, 10, 20)])  # one-seed teacher: not compared
    _record(tmp_path, "new", 0.05, 1, [(20, 0.1, 48.0, 90.0), (8, 0.1, 47.0, 95.0)], seeds=3, teacher_seeds=3)
    _record(tmp_path, "sched", 1.0, 1, [(20, 0.1, 40.0, 80.0)], seeds=3, teacher_seeds=3,
            overrides={"lr_schedule": "exponential", "damped_momentum": True})
    recs = rx.explorations(tmp_path)
    all_cells = rx.cells(recs)
    best = rx.best_cell(all_cells)
    assert (best["val_errors"], best["overrides"]["lr_schedule"]) == (40.0, "exponential")
    assert not rx.is_paper_cell(best) and rx._paper(all_cells)["val_errors"] == 48.0
    assert abs(rx.noise(rx._paper(all_cells)) - 2 * (48 / 3) ** 0.5) < 1e-9
    text = rx.explorations_summary(recs)
    assert "With 3 seeds a cell (means) and 5,000 validation images, differences under about 8" in text
    assert ("(T = 20, hard weight 0.1, lr 1, damped_momentum=True, lr_schedule=exponential) makes 40 validation "
            "errors (-8) and 80 test errors (-10): beyond the noise.") in text
    assert "lr_schedule=exponential" in rx.finding(recs)
    df = rx.explorations_table(recs)
    assert list(df["teacher seeds"]) == [3, 3, 1, 1, 3]  # records by file name: new, old, sched and list(df[""])[-1] == "best on validation"
    assert list(df["other recipe changes"])[-1] == "damped_momentum=True, lr_schedule=exponential"
