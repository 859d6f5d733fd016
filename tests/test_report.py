"""The MNIST chapter's per-seed table."""
from reproduce import report


def _role(seeds, errors, wall_s, resumed=None):
    res = {"seeds": seeds, "test_errors": {"values": errors}, "wall_s": wall_s}
    return res if resumed is None else dict(res, resumed_from_epoch=resumed)


def test_per_seed_table_says_when_a_role_was_resumed():
    # a teacher reused from a finished checkpoint took 0 s in this run; a record from before the column existed
    # has no resumed_from_epoch and reads as trained from scratch
    record = {"results": {"teacher": _role([1000, 1001], [91.0, 102.0], 0.0, resumed=60),
                          "small": _role([2000, 2001], [150.0, 153.0], 120.5, resumed=0),
                          "distilled": _role([3000, 3001], [119.0, 121.0], 130.0)}}
    df = report.per_seed_table(record)
    assert list(df["model"]) == ["teacher", "teacher", "small", "small", "distilled", "distilled"]
    assert list(df["test errors"]) == [91, 102, 150, 153, 119, 121]
    assert list(df["resumed from epoch"]) == [60, 60, 0, 0, 0, 0]
    assert list(df["wall s in this run"]) == [0.0, 0.0, 120.5, 120.5, 130.0, 130.0]
