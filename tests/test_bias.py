"""Bias-shift sweep and the transfer-set filters of the omitted-digit chapter."""
import numpy as np
import pytest
import torch

from reproduce import bias
from reproduce.experiments import omitted_digit as od
from reproduce.experiments import teacher as shared_teacher


def constructed_logits():
    """Two members, 6 examples, 3 classes; class 2 is under-predicted by a known margin.

    Examples of class 2 have logit(2) = logit(0) - d_i with d = (1, 2, 3): a shift s > d_i fixes example i.
    Examples of class 0 have logit(0) - logit(2) = 4 or 5: a shift s > 4 breaks them.
    So errors = 3 (s <= 1), 2 (1 < s <= 2), 1 (2 < s <= 3), 0 (3 < s <= 4), 1 (4 < s <= 5), 2 (s > 5).
    """
    z = torch.zeros(6, 3)
    labels = torch.tensor([2, 2, 2, 0, 0, 1])
    for i, d in enumerate((1.0, 2.0, 3.0)):
        z[i, 0], z[i, 2] = d, 0.0
    z[3, 0], z[4, 0] = 4.0, 5.0
    z[5, 1] = 10.0
    return torch.stack([z, z]), labels


def test_sweep_counts_errors_against_known_answers():
    logits, labels = constructed_logits()
    shifts = torch.tensor([0.0, 1.5, 2.5, 3.5, 4.5, 6.0], dtype=torch.float64)
    tot, special = bias.sweep(logits, labels, [2], shifts, chunk=4)
    assert tot[0].tolist() == [3, 2, 1, 0, 1, 2] and torch.equal(tot[0], tot[1])
    assert special[0].tolist() == [3, 2, 1, 0, 0, 0]


def test_best_shift_finds_the_optimum_and_breaks_ties_in_the_middle():
    logits, labels = constructed_logits()
    shifts = torch.arange(0, 8.001, 0.25, dtype=torch.float64)
    tot, _ = bias.sweep(logits, labels, [2], shifts)
    best = bias.best_shift(tot, shifts)
    # zero errors for 3 < s <= 4: grid points 3.25, 3.5, 3.75, 4.0 -> the middle one (index 2 of 4) is 3.75
    assert best.tolist() == [3.75, 3.75]
    assert tot[0, int(torch.searchsorted(shifts, best[0:1]))] == 0


def test_negative_shifts_for_over_predicted_classes():
    z = torch.tensor([[[0.0, 3.0], [0.0, 1.0], [0.0, -1.0]]])  # class 1 over-predicted by ~2
    labels = torch.tensor([1, 0, 0])
    shifts = torch.arange(-4, 1.001, 0.5, dtype=torch.float64)
    tot, _ = bias.sweep(z, labels, [1], shifts)
    best = float(bias.best_shift(tot, shifts)[0])
    assert -3.0 < best <= -1.0 and int(tot.min()) == 0


def test_confusion_rows_are_true_classes():
    c = bias.confusion(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]), 3)
    assert c.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


def test_transfer_filters():
    labels = np.array([3, 7, 8, 1, 3, 8, 0, 7, 9, 3])
    pool, val = od.split_indices(len(labels), 3)
    assert len(val) == 3 and len(pool) == 7 and not set(pool) & set(val)
    no3 = od.transfer_indices(labels, pool, od.TRANSFER_SETS["no3"][0])
    only78 = od.transfer_indices(labels, pool, od.TRANSFER_SETS["only78"][0])
    assert 3 not in labels[no3] and set(no3) == {i for i in pool if labels[i] != 3}
    assert set(labels[only78]) <= {7, 8} and set(only78) == {i for i in pool if labels[i] in (7, 8)}


def test_validation_split_is_fixed():
    a = od.split_indices(60000, 5000)
    b = od.split_indices(60000, 5000)
    assert np.array_equal(a[1], b[1]) and len(np.intersect1d(a[0], a[1])) == 0


class _Logits:
    """A stand-in model whose predictions are fixed logits per image set."""

    def __init__(self, by_set):
        self.by_set = by_set

    def predict(self, images):
        return self.by_set[id(images)]


def _set_with_deficit(n_per_class: int, deficit: float, margin: float, seed: int):
    """Ten classes; a 3 scores `deficit` below the runner-up, every other digit `margin` above class 3 (so a 3-bias
    shift in (deficit, margin) is optimal). Returns (DeviceImages, logits (1, N, 10))."""
    from reproduce.train import DeviceImages
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(10).repeat_interleave(n_per_class)
    z = torch.randn(len(y), 10, generator=g) * 0.1
    for i, c in enumerate(y.tolist()):
        other = (c + 1) % 10 if c != 3 else 4
        if c == 3:
            z[i, 4], z[i, 3] = 5.0, 5.0 - deficit
        else:
            z[i, c], z[i, 3] = 5.0, 5.0 - margin
            z[i, other] = 0.0
    images = DeviceImages(np.zeros((len(y), 28, 28), np.uint8), y.numpy(), torch.device("cpu"))
    return images, z.unsqueeze(0)


def test_validation_chosen_shift_never_reads_the_test_labels():
    """The honest shifts read no test label. The validation-chosen one is the validation split's optimum, applied once to the test set: here the validation set
    wants a shift near 1 and the test set one near 3, and the record must keep them apart. Scrambling the test
    labels changes the test-optimal shift, never the validation-chosen one."""
    val, val_logits = _set_with_deficit(20, deficit=0.9, margin=1.2, seed=0)
    test, test_logits = _set_with_deficit(20, deficit=2.9, margin=3.2, seed=1)
    shifts = od.shift_grid("no3")
    r = od.analyse(_Logits({id(val): val_logits, id(test): test_logits}), test, val, [3], shifts, 0.1)
    assert 0.9 < r["shift_val_chosen"]["values"][0] < 1.2 and 2.9 < r["shift_test_optimal"]["values"][0] < 3.2
    assert r["errors_val_chosen"]["values"][0] == 20  # a shift near 1 fixes none of the 20 test 3s
    assert r["errors_test_optimal"]["values"][0] == 0 and r["val_errors_at_val_shift"]["values"][0] == 0
    scrambled = test.labels[torch.randperm(test.n, generator=torch.Generator().manual_seed(2))]
    test.labels = scrambled
    r2 = od.analyse(_Logits({id(val): val_logits, id(test): test_logits}), test, val, [3], shifts, 0.1)
    assert r2["shift_val_chosen"] == r["shift_val_chosen"]
    assert r2["shift_prior_matched"] == r["shift_prior_matched"]  # the label-free correction reads no label either


def test_prior_matched_shift_reads_no_labels_and_hits_the_prior():
    """The label-free correction (it takes no labels): the grid shift that brings the omitted class's mean predicted
    probability nearest its prior."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 500, 10, generator=g)
    logits[..., 3] -= 4.0  # a student that never saw a 3: its 3 logit is far too low
    shifts = torch.round(torch.arange(-2.0, 12.0001, 0.05) * 1000) / 1000
    s, mass = bias.prior_matched_shift(logits, [3], 0.1, shifts)
    assert s.shape == (2,) and mass.shape == (2, len(shifts))
    assert torch.all(mass[:, 1:] >= mass[:, :-1])  # more shift, more probability on the 3s
    for e in range(2):
        i = int(torch.searchsorted(shifts, s[e:e + 1]))
        assert abs(float(mass[e, i]) - 0.1) <= float((mass[e] - 0.1).abs().min()) + 1e-6 and abs(float(mass[e, i]) - 0.1) < 0.01
        assert 3.0 < float(s[e]) < 5.0  # undoes most of the -4 handicap


def test_absent_mass_is_the_teacher_s_mean_softened_probability_of_the_missing_classes():
    """Golden values: class 2 is absent. Image a's logits are equal (1/3 at any T); image b's are (ln 2, 0, 0), so
    class 2 gets 1/4 at T = 1 and 1/(2 + sqrt 2) at T = 2. A second teacher member sure of class 0 says almost nothing."""
    import math
    a, b = [0.0, 0.0, 0.0], [math.log(2.0), 0.0, 0.0]
    logits = torch.tensor([[a, b], [[30.0, 0.0, 0.0], [30.0, 0.0, 0.0]]], dtype=torch.float64)
    t1, t2 = od.absent_mass(logits, [2], 1.0), od.absent_mass(logits, [2], 2.0)
    assert t1[0] == pytest.approx(7 / 24, abs=1e-12) and t2[0] == pytest.approx((1 / 3 + 1 / (2 + math.sqrt(2))) / 2, abs=1e-12)
    assert t1[1] < 1e-12 < t2[1] < 1e-6
    assert od.absent_mass(logits, [1, 2], 2.0)[0] == pytest.approx(1 - (1 / 3 + math.sqrt(2) / (2 + math.sqrt(2))) / 2, abs=1e-12)


def test_the_omitted_digit_students_can_learn_from_an_earlier_teacher(tmp_path, monkeypatch):
    """teacher_epoch picks a snapshot of the shared teacher: the students learn from that state (its test errors,
    not the last state's, are recorded), and an epoch with no snapshot is a UserError naming the epochs kept."""
    import pytest
    from reproduce.errors import UserError
    from tests.conftest import private_mnist
    monkeypatch.setenv("REPRODUCE_DATA_DIR", str(private_mnist(tmp_path / "data")))
    monkeypatch.setenv("REPRODUCE_CPU_GEMM", "mkl")  # no probe of the library in the fresh data folder
    small = ["teacher_seeds=1", "no3.epochs=1", "only78.epochs=1", "no3.train_subset=1000", "only78.train_subset=1000"]
    early = od.run(profile="smoke", seeds=1, device="cpu", overrides=small + ["teacher_epoch=1"],
                   results_dir=tmp_path, progress=False, log=lambda *a: None)
    cfg = early["config"]
    assert cfg["teacher_epoch"] == 1 and "teacher_epoch" not in od.resolve_config("smoke", 1, small)
    _, train, test = shared_teacher.device_data(torch.device("cpu"))  # the run trained the teacher; this loads it
    last = shared_teacher.train_teacher(cfg["teacher"], 1, train, test, progress=False)
    assert last.resumed_from_epoch == cfg["teacher"]["epochs"]
    assert early["results"]["teacher_test_errors"]["values"] != last.model.count_errors(test).tolist()
    for tset, absent in (("no3", [3]), ("only78", [0, 1, 2, 3, 4, 5, 6, 9])):
        m = early["results"][tset]["teacher_absent_mass"]  # what the students hear of the missing classes
        assert m["classes"] == absent and m["temperature"] == cfg[tset]["temperature"] > 1
        assert 0.0 < m["at_1"]["mean"] < m["at_T"]["mean"] < 1.0
    with pytest.raises(UserError, match=r"teacher_epoch=5: the teacher keeps its state at epochs \[1, 2, 3, 4\]"):
        od.resolve_config("smoke", 1, small + ["teacher_epoch=5"])
