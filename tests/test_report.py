"""The MNIST and omitted-digit chapters' tables and verdicts (per-seed table, one-seed paper records)."""
from reproduce.reports import common as report
from reproduce.reports import mnist as report_mnist


def _role(seeds, errors, wall_s, resumed=None):
    res = {"seeds": seeds, "test_errors": {"values": errors}, "wall_s": wall_s}
    return res if resumed is None else dict(res, resumed_from_epoch=resumed)


def test_per_seed_table_says_when_a_role_was_resumed():
    # a teacher reused from a finished checkpoint took 0 s in this run; a record from before the column existed
    # has no resumed_from_epoch and reads as trained from scratch
    record = {"results": {"teacher": _role([1000, 1001], [91.0, 102.0], 0.0, resumed=60),
                          "small": _role([2000, 2001], [150.0, 153.0], 120.5, resumed=0),
                          "distilled": _role([3000, 3001], [119.0, 121.0], 130.0)}}
    df = report_mnist.per_seed_table(record)
    assert list(df["model"]) == ["teacher", "teacher", "small", "small", "distilled", "distilled"]
    assert list(df["test errors"]) == [91, 102, 150, 153, 119, 121]
    assert list(df["resumed from epoch"]) == [60, 60, 0, 0, 0, 0]
    assert list(df["wall s in this run"]) == [0.0, 0.0, 120.5, 120.5, 130.0, 130.0]


def _record(profile, errors_by_role, commit="abc1234"):
    from reproduce.results import summarize
    return {"profile": profile, "config": {"seeds": len(errors_by_role["teacher"])},
            "provenance": {"commit": commit, "device": "cpu", "torch": "2.13.0", "wall_s": 60.0, "date": "2026-12-01"},
            "results": {r: {"test_errors": summarize(e)} for r, e in errors_by_role.items()}}


def test_one_seed_paper_record_is_called_provisional_with_the_quick_spread():
    quick = _record("quick", {"teacher": [91, 102], "small": [150, 153], "distilled": [119, 121]})
    one = _record("paper", {"teacher": [68], "small": [147], "distilled": [80]})
    text = report_mnist.verdict_text({"paper": one, "quick": quick}, quick)
    assert "profile `paper`, 1 seed, cpu" in text and "**one seed** (trained on cpu)" in text and "teacher ± 7.8" in text and "small ± 2.1" in text
    # the paper run's own gap closed is stated: (147 - 80) / (147 - 68) = 85%
    assert "In the recorded `paper` run (`paper`) distillation removes 85%" in text
    three = _record("paper", {"teacher": [66, 69, 69], "small": [147, 145, 150], "distilled": [80, 75, 77]})
    assert "one seed" not in report_mnist.verdict_text({"paper": three, "quick": quick}, quick)


def test_omitted_digit_verdict_on_a_one_seed_paper_record():
    import copy

    from reproduce.reports import omitted_digit as report_omitted
    from reproduce.results import read_record, summarize
    quick = read_record("quick", "omitted-digit")
    one = copy.deepcopy(quick)
    one["profile"], one["config"]["seeds"] = "paper", 1
    for tset in ("no3", "only78"):
        for key, val in one["results"][tset].items():
            if isinstance(val, dict) and "values" in val:
                one["results"][tset][key] = summarize(val["values"][:1])
    text = report_omitted.verdict_text({"paper": one, "quick": quick}, quick)
    spread = report_omitted.value(quick, "no3", "errors_test_optimal")["std"]
    assert "**one seed**" in text and f"{spread:.1f} errors (no 3s, test-optimal shift)" in text
    assert "In the recorded `paper` run (`paper`)" in text
    assert "one seed" not in report_omitted.verdict_text({"paper": quick, "quick": quick}, quick)
    shared = copy.deepcopy(quick)  # two students on a one-seed teacher: a spread, but over students only
    shared["profile"], shared["config"]["teacher_seeds"] = "paper", 1
    text = report_omitted.verdict_text({"paper": shared, "quick": quick}, quick)
    assert "one seed" not in text and "Its 2 students learned from **one teacher**" in text


def test_seeds_phrase_names_a_teacher_of_another_seed_count():
    assert report.seeds_phrase({"seeds": 1}) == "1 seed"
    assert report.seeds_phrase({"seeds": 3, "teacher_seeds": 3}) == "3 seeds"
    assert report.seeds_phrase({"seeds": 3, "teacher_seeds": 1}) == "3 seeds on a teacher of 1 seed"
    assert report.seeds_phrase({"seeds": 1, "teacher_seeds": 2}) == "1 seed on a teacher of 2 seeds"
    assert report.shared_teacher_caveat({"config": {"seeds": 1, "teacher_seeds": 1}}) == ""
    assert report.shared_teacher_caveat({"config": {"seeds": 3}}) == ""


def test_mnist_curves_show_the_recorded_runs_then_this_run_once():
    quick = _record("quick", {"teacher": [91, 102], "small": [150, 153], "distilled": [119, 121]})
    one = _record("paper", {"teacher": [68], "small": [147], "distilled": [80]})
    smoke = _record("smoke", {"teacher": [700, 650], "small": [1000, 1010], "distilled": [1100, 1150]})
    labels = [lab for lab, _ in report.shown_runs({"paper": one, "quick": quick}, smoke)]
    assert labels == ["recorded `paper` run", "recorded `quick` run", "this run (`smoke`)"]
    assert [lab for lab, _ in report.shown_runs({"paper": None, "quick": quick}, quick)] == ["recorded `quick` run"]


def test_omitted_shortfall_splits_the_excess_between_the_3s_and_the_digits_seen():
    import copy

    from reproduce.reports import omitted_digit as report_omitted
    from reproduce.results import read_record, summarize
    rec = copy.deepcopy(read_record("quick", "omitted-digit"))
    rec["results"]["no3"]["errors_test_optimal"] = summarize([140.0, 150.0])
    rec["results"]["no3"]["special_errors_test_optimal"] = summarize([30.0, 40.0])
    mnist_rec = _record("paper", {"teacher": [60], "small": [150], "distilled": [90]})
    text = report_omitted.shortfall_text(rec, mnist_rec, "found nothing")
    # 145 errors, 35 on 3s, 110 on the rest; paper 109, 14, 95; the MNIST distilled net 90 vs 74
    assert "make 145.0 test errors, 35.0 of them on 3s and 110.0 on the other digits (paper: 109, 14 and 95)" in text
    assert "+15.0 errors of the students' excess over the paper are on digits they saw" in text
    assert "(that chapter's shortfall: +16.0) and +21.0 on the 3s" in text and text.endswith("; found nothing.")
    assert "Needs recorded `paper` runs" in report_omitted.shortfall_text(None, mnist_rec)


def test_omitted_epochs_are_chosen_on_validation(tmp_path):
    import copy
    import json

    from reproduce.reports import omitted_digit as report_omitted
    from reproduce.results import read_record, summarize
    long = read_record("quick", "omitted-digit")
    short = copy.deepcopy(long)
    short["config"]["no3"]["epochs"], short["config"]["only78"]["epochs"] = 3, 12
    short["results"]["no3"]["val_errors_at_val_shift"] = summarize([1.0, 2.0])  # fewer: wins for no3
    short["results"]["only78"]["val_errors_at_val_shift"] = summarize([1e6, 1e6])  # loses for only78
    folder = tmp_path / "paper" / report_omitted.EXPLORE_FOLDER
    folder.mkdir(parents=True)
    (folder / "short.json").write_text(json.dumps(short))
    explored = report_omitted.explorations(tmp_path)
    assert [t for t, _ in explored] == ["short"]
    text = report_omitted.epochs_text(long, explored)
    assert "for the no-3s student, 3 epochs at T = 20 (exploration `short`: 1.5 validation errors" in text
    assert f"for the 7s-and-8s student, {long['config']['only78']['epochs']} epochs at T = 20 (the recorded `paper` run" \
        in text
    short["results"]["no3"]["teacher_absent_mass"] = {"classes": [3], "temperature": 20.0, "at_T": summarize(
        [0.0412, 0.0388]), "at_1": summarize([0.00031, 0.00029])}
    (folder / "short.json").write_text(json.dumps(short))
    t = report_omitted.epochs_table(long, report_omitted.explorations(tmp_path))
    assert len(t) == 4 and "teacher_absent_mass" not in long["results"]["no3"]
    assert list(t["teacher's % on the absent classes"]) == [
        "not recorded (an older run)", "not recorded (an older run)",
        "4.00 ± 0.17 (n=2) at T = 20; 0.030 ± 0.001 (n=2) at T = 1", "not recorded (an older run)"]
    assert "No exploration" in report_omitted.epochs_text(long, [])
    other = copy.deepcopy(short)  # another teacher: never chosen among the epochs, reported on its own
    other["config"]["teacher"]["epochs"], other["results"]["teacher_test_errors"] = 7, summarize([300.0])
    other["results"]["no3"]["val_errors_at_val_shift"] = summarize([0.5])
    (folder / "teacher7.json").write_text(json.dumps(other))
    text = report_omitted.epochs_text(long, report_omitted.explorations(tmp_path))
    assert "for the no-3s student, 3 epochs at T = 20 (exploration `short`" in text
    assert "On another teacher (`quick` teacher, 7 epochs, 2 seeds, 300.0 test errors), exploration `teacher7` with 3 / 12 epochs (2 seeds of students)" in text
    # an earlier state of the same teacher, at another T, competes with the rest and is named when it wins
    soft = copy.deepcopy(short)
    soft["config"]["teacher_epoch"], soft["config"]["no3"]["temperature"] = 300, 8.0
    soft["results"]["no3"]["val_errors_at_val_shift"] = summarize([0.25])
    (folder / "teacher300.json").write_text(json.dumps(soft))
    text = report_omitted.epochs_text(long, report_omitted.explorations(tmp_path))
    assert ("for the no-3s student, 3 epochs at T = 8 from the teacher's state after epoch 300 (exploration "
            "`teacher300`: 0.2 validation errors") in text
    assert "its state after epoch 300" in report_omitted.teacher_label(soft)


def test_an_earlier_paper_run_is_shown_beside_the_one_that_replaced_it_and_is_not_an_exploration_grid(tmp_path):
    # issue 26: the one-teacher-seed MNIST records stay in the book as explorations once 3-seed records replace them
    import json
    folder = tmp_path / "paper" / "mnist-explore"
    folder.mkdir(parents=True)
    one = dict(_record("paper", {"teacher": [59], "small": [150], "distilled": [97]}, commit="0ld0ne"),
               experiment="mnist")
    (folder / "one-teacher-seed.json").write_text(json.dumps(one))
    grid = {"results": {"grid": [dict(temperature=20, hard_weight=0.1, val_errors=35, test_errors=94,
                                      best_val_errors_on_curve=33)], "lr": 0.05, "jitter_copies": 1, "val_size": 5000,
                        "recipe": {"epochs": 50}}, "provenance": {"commit": "abcdef0123"}}
    (folder / "grid-lr0.05.json").write_text(json.dumps(grid))
    earlier = report.earlier_runs("mnist", tmp_path)
    assert [t for t, _ in earlier] == ["one-teacher-seed"]  # the grid is not a run of the chapter
    assert len(report_mnist.explorations(folder)) == 1  # and the run is not a grid (cells() would fail on it)
    three = _record("paper", {"teacher": [66, 68, 70], "small": [147, 150, 146], "distilled": [80, 84, 79]})
    quick = _record("quick", {"teacher": [91, 102], "small": [150, 153], "distilled": [119, 121]})
    df = report_mnist.table(quick, {"paper": three, "quick": quick}, earlier)
    col = "earlier `paper` run `one-teacher-seed` (1 seed)"
    assert list(df.columns).index(col) == list(df.columns).index("recorded `paper`") + 1
    assert list(df[col]) == ["59.0 (n=1)", "150.0 (n=1)", "97.0 (n=1)"]
    assert df.loc[df.index[0], "recorded `paper`"] == "68.0 ± 2.0 (n=3)"
    labels = [lab for lab, _ in report.shown_runs({"paper": three, "quick": quick}, quick, earlier)]
    assert labels == ["recorded `paper` run", col, "recorded `quick` run"]
    box = report.provenance_box(quick, {"paper": three, "quick": quick}, earlier)
    assert f"- **{col}**: profile `paper`, 1 seed, cpu, torch 2.13.0, commit `0ld0ne`" in box


def test_the_consistent_teacher_is_shown_as_a_labelled_variant_beside_the_faithful_recipe(tmp_path):
    import json

    from reproduce.results import summarize
    rec = {"results": {"test_errors": summarize([70.0, 74.0, 72.0]), "val_errors": summarize([30.0, 28.0, 29.0]),
                       "recipe": {"jitter": 2}, "teacher_test_errors": [66, 68, 70], "transfer_size": 55000,
                       "val_size": 5000},
           "provenance": {"device": "cpu", "commit": "c0ffee0123456"}}
    (tmp_path / "consistent-T20.json").write_text(json.dumps(rec))
    runs = report_mnist.consistent_runs(tmp_path)
    three = _record("paper", {"teacher": [66, 68, 70], "small": [147, 150, 146], "distilled": [80, 84, 79]})
    text = report_mnist.consistent_text(runs, three)
    assert "`consistent-T20` (3 students, cpu, commit `c0ffee012345`) makes 72.0 ± 2.0 (n=3) test errors" in text
    assert "makes 81.0 ± 2.6 (n=3) on the same teacher, so the consistent teacher's students differ from it by " \
           "-9.0 errors" in text and "not a paired" not in text
    one = _record("paper", {"teacher": [59], "small": [150], "distilled": [97]})
    assert "on a teacher of another seed count (not a paired comparison)" in report_mnist.consistent_text(runs, one)
    df = report_mnist.consistent_table(runs, three)
    assert list(df["test errors (of 10,000)"]) == ["74", "81.0 ± 2.6 (n=3)", "72.0 ± 2.0 (n=3)"]
    assert df["student"].iloc[-1] == "consistent teacher consistent-T20 (not the paper's recipe)"
    assert df["teacher"].iloc[-1] == "3 seeds, 68.0 errors" and df["teacher"].iloc[1] == "3 seeds, 68.0 errors"
    assert report_mnist.consistent_text([], three).startswith("No consistent-teacher run is recorded yet")
    assert len(report_mnist.consistent_table([], None)) == 1  # the paper's row alone
