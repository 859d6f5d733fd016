"""The benchmark's step functions do the same work as training (no timing is asserted here)."""
import pytest
import torch

from reproduce import bench
from reproduce.train import DeviceImages, TrainConfig, Trainer
from reproduce.errors import UserError
from test_core import synthetic

CPU = torch.device("cpu")


def _trained_one_epoch_and_fresh():
    """The parameters of Trainer.run after one epoch, and a fresh Trainer of the same members and data."""
    x, y = synthetic(300)
    train = DeviceImages(x, y, CPU)
    cfg = TrainConfig(sizes=(784, 32, 10), epochs=1, batch_size=50, lr=0.05, jitter=2, hidden_dropout=0.5)
    ref = Trainer(cfg, [3, 4], train, progress=False).run().model
    return ref, Trainer(cfg, [3, 4], train, progress=False)


def test_step_fn_is_one_epoch_of_training():
    ref, t = _trained_one_epoch_and_fresh()
    step = t.step_fn()
    for _ in range(t.steps_per_epoch):
        step()
    assert all(torch.equal(a, b) for a, b in zip(ref.parameters(), t.model.parameters()))
    step()  # past the epoch it wraps around instead of running off the schedule
    assert int(t.step) == 1


def test_reference_loop_trains():
    x, y = synthetic(400)
    cfg = TrainConfig(sizes=(784, 64, 10), epochs=1, batch_size=50, lr=0.1, momentum=0.9, max_norm=2.0, jitter=2)
    step = bench.reference_step_fn(x, y, cfg, CPU)
    secs = bench.time_steps(step, CPU, n_steps=4, repeats=2, warmup=1)
    assert len(secs) == 2 and all(s > 0 for s in secs)
    assert bench.flops_per_step(cfg, 2) == 2 * 3 * 2 * (784 * 64 + 64 * 10) * 50


@pytest.mark.parametrize("gemm", ["mkl", "onednn"])
def test_a_core_on_onednn_is_also_timed_on_mkl(gemm, monkeypatch):
    """Where the core multiplies through oneDNN, a row times it on MKL (the reference loop's library) too, and that
    row's step really runs on MKL; a core on MKL has no such row."""
    monkeypatch.setenv("REPRODUCE_CPU_GEMM", gemm)
    x, y = synthetic(300)
    cfg = TrainConfig(sizes=(784, 32, 10), epochs=1, batch_size=50, lr=0.05, jitter=2)
    rows = bench.compare(bench.reference_step_fn(x, y, cfg, CPU), DeviceImages(x, y, CPU), cfg, 2, CPU, n_steps=1,
                         repeats=1, warmup=1, log=lambda m: None)
    assert (bench.MKL_ROW in rows) == (gemm == "onednn")
    assert rows["core, eager, E=1"]["models"] == 1 and rows[bench.REFERENCE]["speedup_vs_reference_per_model"] == 1
    calls = []
    real = bench.gemm.linear
    monkeypatch.setattr(bench.gemm, "linear", lambda *a, **k: calls.append(1) or real(*a, **k))
    bench.core_step_fn(DeviceImages(x, y, CPU), cfg, 1, graph=False, onednn=False)()
    assert calls == []
    bench.core_step_fn(DeviceImages(x, y, CPU), cfg, 1, graph=False)()
    assert bool(calls) == (gemm == "onednn")


def test_sweep_benchmark_runs_both_ways():
    rec = bench.sweep("cpu", widths=(8,), temperatures=2, seeds=1, n_steps=1, repeats=1, warmup=1, log=lambda m: None)
    row = rec["rows"]["8"]
    assert row["members"] == 2 and row["batched_ms"] > 0 and row["sequential_ms"] > 0 and row["speedup"] > 0
    assert row["speedup"] == pytest.approx(row["sequential_ms"] / row["batched_ms"])  # > 1: batching is faster


def test_speech_benchmark_runs_every_row():
    rec = bench.speech("cpu", sizes=(1040, 16, 7), n_frames=600, ensemble=2, n_steps=1, repeats=1, warmup=1,
                       log=lambda m: None)
    assert len(rec["rows"]) == 5 and all(r["median_ms"] > 0 for r in rec["rows"].values())
    assert rec["rows"]["core, eager, E=1, autograd backward"]["models"] == 1  # the CPU path's own row
    assert rec["rows"]["core, eager, E=2 batched"]["models"] == 2


def test_specialists_benchmark_times_every_layout_beside_one_after_another():
    from reproduce.train.conv_layout import LAYOUTS
    rec = bench.specialists("cpu", members=2, n_steps=1, repeats=1, warmup=1, log=lambda m: None)
    assert [r["layout"] for r in rec["rows"].values()] == list(LAYOUTS)
    assert sum(r["chosen"] for r in rec["rows"].values()) == 1
    assert sum(r["chosen_for_predictions"] for r in rec["rows"].values()) == 1
    for row in rec["rows"].values():
        assert row["members"] == 2 and row["batched_ms"] > 0 and row["sequential_ms"] > 0 and row["speedup"] > 0
        assert row["predict_images_per_s"] > 0
    assert rec["config"]["arch"]["channels"] == [16, 32]  # the quick profile's CNN on a CPU


def test_one_benchmark_at_a_time():
    from reproduce.cli import main
    assert main(["bench", "--sweep", "--specialists"]) != 0
    assert main(["bench", "--scaling", "--speech"]) != 0


def test_setups_are_timed_in_turn():
    """Repeats alternate between setups (A B A B ...), so drift of a shared machine moves every setup alike."""
    calls = []
    steps = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    secs, peak = bench.time_interleaved(steps, CPU, n_steps=2, repeats=3, warmup=1)
    assert calls == ["a", "b"] + ["a", "a", "b", "b"] * 3
    assert {k: len(v) for k, v in secs.items()} == {"a": 3, "b": 3} and peak == {"a": None, "b": None}


def test_epoch_fn_is_one_epoch_of_training_each_call():
    ref, t = _trained_one_epoch_and_fresh()
    epoch = bench.epoch_fn(t)
    epoch()
    assert all(torch.equal(a, b) for a, b in zip(ref.parameters(), t.model.parameters()))
    epoch()  # a second epoch restarts the one-epoch schedule instead of running off it
    assert int(t.step) == t.steps_per_epoch == 6


def test_scaling_summary_tells_linear_from_worse():
    linear = bench.scaling_summary({1000: 1.0, 2000: 2.1, 4000: 3.9}, {1: 1.0, 2: 1.5, 4: 2.4})
    assert linear["linear_in_data"] and linear["at_most_linear_in_members"]
    assert linear["per_example_vs_smallest_n"][2000] == pytest.approx(1.05)
    assert linear["per_member_vs_one"][4] == pytest.approx(0.6)
    # a quadratic term in the data, or members that cost more together than apart, fail
    assert not bench.scaling_summary({1000: 1.0, 4000: 4.0 + 1.0}, {1: 1.0})["linear_in_data"]
    assert not bench.scaling_summary({1000: 1.0}, {1: 1.0, 8: 8 * 1.2})["at_most_linear_in_members"]


def test_scaling_benchmark_times_every_setup():
    x, y = synthetic(400)
    rec = bench.scaling("cpu", sizes_n=(200, 400), members=(1, 2), repeats=1, warmup=0, images=(x, y),
                        log=lambda m: None)
    assert sorted(rec["rows"]) == ["N=200, E=1", "N=200, E=2", "N=400, E=1"]
    assert rec["rows"]["N=400, E=1"]["steps"] == 4 and all(r["epoch_s"] > 0 for r in rec["rows"].values())
    assert set(rec["summary"]["per_member_vs_one"]) == {"1", "2"}
    with pytest.raises(UserError, match="exceed the 400 images"):
        bench.scaling("cpu", sizes_n=(800,), images=(x, y), log=lambda m: None)


def test_the_precision_benchmark_reports_peaks_and_fractions(tmp_path, monkeypatch):
    """bench --precision on a small speech-sized net: both peaks, every step beside the reference loop, fractions
    of the peaks that agree with the step's GFLOP/s, and the probes' decisions left in the cache for plan()."""
    monkeypatch.setenv("REPRODUCE_DATA_DIR", str(tmp_path))
    from reproduce.train import precision as P
    monkeypatch.setattr(P, "_CACHE", None)
    recipe = dict(bench.SPEECH, sizes=(1040, 1024, 201))
    rec = bench.precision("cpu", n_steps=1, repeats=1, warmup=1, recipes={"small": recipe}, log=lambda m: None)
    r = rec["recipes"]["small"]
    assert set(r["probe"]) == {"256x1040x1024", "256x1024x201"} and r["peak_gflops"]["fp32"] > 0
    assert bench.REFERENCE in r["rows"] and r["rows"]["core, fp32"]["speedup_vs_core_fp32"] == 1.0
    for row in r["rows"].values():
        assert row["of_fp32_peak"] == pytest.approx(row["gflop_per_s"] / r["peak_gflops"]["fp32"])
    if P.available():
        assert "core, bf16 in every layer" in r["rows"]
        layers = [r["probe"][k]["bf16"] for k in ("256x1040x1024", "256x1024x201")]
        assert r["step_probe"]["bf16_layers"] == layers  # the products pick the layers, the whole step decides
        assert r["bf16_layers"] == (layers if r["step_probe"]["bf16"] else [False, False])
    other = "core, fp32 through MKL" if r["core_fp32_library"] == "oneDNN" else "core, fp32 through oneDNN"
    assert other in r["rows"]  # the library auto did not choose, timed beside it
    assert r["peak_gflops"]["fp32"] == max(r["peak_gflops"]["fp32 MKL"], r["peak_gflops"]["fp32 oneDNN"])
    assert rec["provenance"]["cpu_model"] and (tmp_path / "products-probe.json").exists()
