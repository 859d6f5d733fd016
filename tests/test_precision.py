"""The opt-in bf16 products (reproduce/train/precision.py): they are bf16 (not fp32 in disguise), close to fp32,
chosen per layer from a cached probe, part of the checkpoint fingerprint, and fp32 stays the default."""
import json

import pytest
import torch

from reproduce.errors import UserError
from reproduce.train import BatchedMLP, DeviceImages, TrainConfig, Trainer, gemm, member_generators
from reproduce.train import precision as P

CPU = torch.device("cpu")
needs_bf16 = pytest.mark.skipif(not P.available(), reason="this PyTorch/CPU has no oneDNN bf16 GEMM")


# a probe's answer where oneDNN's fp32 beats MKL and bf16 beats both (timings in ms)
FAST_BF16 = {"bf16": True, "onednn": True, "mkl_ms": 3.0, "fp32_ms": 2.0, "bf16_ms": 1.0}


def fast_bf16_step(sizes, rows, fresh=False):
    """The whole-step probe's answer where the oneDNN step beats MKL's and bf16 in every layer beats both."""
    return dict(FAST_BF16, bf16_layers=[True] * (len(sizes) - 1), gain=2.0, bf16_gain_on_onednn=2.0)


def rel(a, b):
    return float((a.float() - b.float()).norm() / b.float().norm())


@needs_bf16
def test_bf16_products_round_like_bf16_and_stay_close_to_fp32():
    g = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(64, 300, generator=g), torch.randn(300, 200, generator=g), torch.randn(200, generator=g)
    grad = torch.randn(64, 200, generator=g)
    wb = gemm.to_bf16(w)
    pairs = [(gemm.linear(x, wb, b, relu=False, bf16=True), x @ w + b),
             (gemm.grad_input(grad, wb, bf16=True), grad @ w.t()),
             (gemm.grad_weight(x, grad, bf16=True), x.t() @ grad)]
    for got, exact in pairs:
        # bf16 keeps 8 significant bits: a relative error of order 2^-8 / sqrt(terms) to 2^-8, never fp32's 1e-7
        assert 1e-4 < rel(got, exact) < 2e-2
        assert got.shape == exact.shape
    assert pairs[0][0].dtype == torch.float32 and pairs[2][0].dtype == torch.bfloat16


def test_fp32_is_the_default_and_bad_precisions_are_named():
    assert TrainConfig().precision == "fp32"
    m = BatchedMLP((784, 1200, 1200, 10), member_generators([0], CPU), CPU)
    assert m.bf16 == (False, False, False)
    with pytest.raises(UserError, match="precision='fp16'.*allowed: 'fp32', 'bf16'"):
        TrainConfig(precision="fp16")


def test_small_mlps_and_cnns_stay_fp32(monkeypatch):
    monkeypatch.setattr(P, "decide", lambda *a: {"bf16": True})
    assert P.plan("bf16", (784, 30, 10), 100, CPU) == (False, False)  # MKL path: no bf16 products there
    from reproduce.train.cnn_trainer import CNNTrainer
    with pytest.raises(UserError, match="MLP recipes only"):
        CNNTrainer(TrainConfig(sizes=(), precision="bf16"), [0], None, {"channels": [4], "hidden": 8}, 3)


def test_the_probe_is_cached_per_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRODUCE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(P, "_CACHE", None)
    calls = []
    monkeypatch.setattr(P, "probe", lambda r, a, b: calls.append((r, a, b)) or dict(FAST_BF16, bf16=min(a, b) > 1000))

    def step_probe(sizes, rows):  # the real step probe's decision rule, on stubbed layer probes and no timing
        calls.append(("step", sizes, rows))
        layers = [bool(P.decide(rows, a, b)["bf16"]) for a, b in zip(sizes[:-1], sizes[1:])]
        return {"bf16_layers": layers, "onednn": True, "bf16": any(layers), "bf16_gain_on_onednn": 2.0}
    monkeypatch.setattr(P, "step_probe", step_probe)
    monkeypatch.setattr(P, "available", lambda: True)
    sizes = (784, 1200, 1200, 10)
    assert P.plan("bf16", sizes, 100, CPU) == (False, True, False)
    assert P.plan("bf16", sizes, 100, CPU) == (False, True, False)
    # probed once per shape and once for the step
    assert calls == [("step", sizes, 100), (100, 784, 1200), (100, 1200, 1200), (100, 1200, 10)]
    cache = json.loads((tmp_path / "products-probe.json").read_text())
    assert list(cache) == [P.machine_key()] and set(cache[P.machine_key()]) == {
        "100x784x1200", "100x1200x1200", "100x1200x10", "step 784-1200-1200-10 x 100"}
    monkeypatch.setattr(P, "_CACHE", None)  # a new process reads the file instead of probing
    assert P.plan("bf16", sizes, 100, CPU) == (False, True, False) and len(calls) == 4
    assert "layers 2 of 3" in P.describe("bf16", (False, True, False)) and "all 3 layers" in P.describe("bf16", (True,) * 3)


@needs_bf16
def test_a_bf16_step_trains_close_to_fp32_and_keys_its_own_checkpoint(monkeypatch):
    monkeypatch.setattr(P, "decide", lambda *a: FAST_BF16)
    monkeypatch.setattr(P, "decide_step", fast_bf16_step)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(400, 28, 28, generator=g) * 255).to(torch.uint8)
    y = torch.randint(0, 10, (400,), generator=g)
    data = DeviceImages(x, y, CPU)
    recipe = dict(sizes=(784, 1000, 1000, 10), epochs=2, batch_size=50, lr=0.05)
    runs = {}
    for prec in ("fp32", "bf16"):
        t = Trainer(TrainConfig(**recipe, precision=prec), [3], data, progress=False)
        assert t.model.bf16 == ((prec == "bf16"),) * 3
        runs[prec] = (t, t.run())
    (t32, r32), (t16, r16) = runs["fp32"], runs["bf16"]
    assert t32.fingerprint != t16.fingerprint
    w32, w16 = r32.model.weights[0].detach(), r16.model.weights[0].detach()
    assert w16.dtype == torch.float32  # master weights stay fp32
    drift = rel(w16, w32)
    moved = rel(w32, BatchedMLP(recipe["sizes"], member_generators([3], CPU), CPU).weights[0].detach())
    assert 0 < drift < 0.2 * moved  # bf16 rounding changes the run, far less than training moved the weights


@needs_bf16
@pytest.mark.parametrize("dropout", [True, False])
def test_bf16_backward_is_autograds_to_bf16_rounding(dropout, monkeypatch):
    """The hand-written backward with bf16 products gives autograd's fp32 gradients to bf16 rounding, member by
    member, and fused into SGD's momentum buffers as well."""
    monkeypatch.setenv("REPRODUCE_CPU_GEMM", "onednn")
    monkeypatch.setattr(P, "decide", lambda *a: FAST_BF16)
    monkeypatch.setattr(P, "decide_step", fast_bf16_step)
    model = BatchedMLP((20, 16, 12, 5), member_generators([0, 1], CPU), CPU, precision="bf16", rows=7)
    assert model.onednn and model.bf16 == (True, True, True)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 7, 20, generator=gen)
    masks = [(torch.rand(2, 7, h, generator=gen) > 0.5) * 2.0 for h in (16, 12)] if dropout else None
    y = torch.randint(0, 5, (2, 7), generator=gen)
    loss = lambda z: torch.nn.functional.cross_entropy(z.reshape(-1, 5), y.reshape(-1), reduction="sum")  # noqa: E731
    expected = torch.autograd.grad(loss(model(x, masks)), list(model.parameters()))
    z = model.forward_for_backward(x, masks).requires_grad_()
    assert 0 < rel(z.detach(), model(x, masks).detach()) < 2e-2
    model.backward_into(torch.autograd.grad(loss(z), z)[0])
    for want, p in zip(expected, model.parameters()):
        assert rel(p.grad, want) < 3e-2, p.shape
    old = [torch.randn(p.shape, generator=gen) for p in model.parameters()]
    bufs = [b.clone() for b in old]
    z = model.forward_for_backward(x, masks).requires_grad_()
    model.backward_into(torch.autograd.grad(loss(z), z)[0], 0.7, bufs)
    for want, b, o in zip(expected, bufs, old):
        assert b.dtype == torch.float32 and rel(b, 0.7 * o + want) < 3e-2


def test_a_fresh_probe_replaces_the_cached_one(tmp_path, monkeypatch):
    """The precision benchmark measures now (fresh=True) and leaves its measurement for the next plan."""
    monkeypatch.setenv("REPRODUCE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(P, "_CACHE", None)
    answers = iter([{"bf16": False}, {"bf16": True}])
    monkeypatch.setattr(P, "probe", lambda r, a, b: next(answers))
    assert P.decide(100, 1200, 1200) == {"bf16": False}
    assert P.decide(100, 1200, 1200) == {"bf16": False}  # cached: not probed again
    assert P.decide(100, 1200, 1200, fresh=True) == {"bf16": True}
    assert P.decide(100, 1200, 1200) == {"bf16": True}


def test_the_probe_times_every_path_at_the_layer_shape(tmp_path, monkeypatch):
    """A real probe (no stub): MKL, oneDNN fp32 and, where the CPU has it, bf16, each a positive time, and decisions
    that follow from those times by the stated margins."""
    monkeypatch.setenv("REPRODUCE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(P, "_CACHE", None)
    got = P.decide(64, 300, 200)
    paths = P.PATHS if P.available() else P.PATHS[:2]
    assert all(got[f"{p}_ms"] > 0 and got[f"{p}_gflops"] > 0 for p in paths)
    ratio = got["mkl_ms"] / got["fp32_ms"]  # of times rounded to 4 significant digits: a decision at the margin may differ
    assert got["onednn"] == (ratio >= P.ONEDNN_MIN_GAIN) or abs(ratio - P.ONEDNN_MIN_GAIN) < 0.01
    if P.available():
        assert got["gain"] == pytest.approx(min(got["mkl_ms"], got["fp32_ms"]) / got["bf16_ms"], rel=2e-2)
    assert json.loads((tmp_path / "products-probe.json").read_text())[P.machine_key()]["64x300x200"] == got


@pytest.mark.parametrize("faster", ["mkl", "onednn"])
def test_auto_multiplies_through_the_library_whose_step_this_machine_runs_faster(faster, monkeypatch):
    """auto follows the whole-step probe for a large MLP, whatever the products alone say: oneDNN where its step beats
    MKL's by the margin, else MKL (an Intel Xeon measured MKL faster; the AMD EPYC here oneDNN's products faster and
    its step slower); with bf16 asked, oneDNN where its bf16 step beats both fp32 steps."""
    monkeypatch.delenv("REPRODUCE_CPU_GEMM", raising=False)
    other = "mkl" if faster == "onednn" else "onednn"
    # the layer probe says the opposite of the step probe: the step must win
    monkeypatch.setattr(P, "decide", lambda *a: {"mkl_ms": 1.0, "fp32_ms": 1.6, "bf16_ms": 1.2, "bf16": False,
                                                 "onednn": False} if other == "mkl" else
                        {"mkl_ms": 1.6, "fp32_ms": 1.0, "bf16_ms": 1.2, "bf16": False, "onednn": True})
    step = {"onednn": faster == "onednn", "bf16": False, "bf16_layers": [True, True, False],
            "bf16_gain_on_onednn": 1.0}
    monkeypatch.setattr(P, "decide_step", lambda *a: step)
    monkeypatch.setattr(P, "available", lambda: True)
    teacher = (784, 1200, 1200, 10)
    assert gemm.use_onednn(teacher) == (faster == "onednn")
    assert BatchedMLP(teacher, member_generators([0], CPU), CPU).onednn == (faster == "onednn")
    assert not gemm.use_onednn((784, 300, 300, 10))  # below the size where oneDNN's call per member pays
    # bf16 asked, and its step does not pay: the fp32 choice stands, and no layer rounds
    assert gemm.use_onednn(teacher, 100, "bf16") == (faster == "onednn")
    assert P.plan("bf16", teacher, 100, CPU) == (False, False, False)
    step.update(bf16=True, bf16_gain_on_onednn=1.5)  # its step pays: oneDNN, with the layers the step timed
    assert gemm.use_onednn(teacher, 100, "bf16")
    assert P.plan("bf16", teacher, 100, CPU) == (True, True, False)
    assert gemm.use_onednn(teacher, 100, "fp32") == (faster == "onednn")
    from reproduce.results import provenance
    chosen = provenance(CPU, 1.0, commit="abc")["cpu_gemm_chosen"]  # records say which library each model used
    assert chosen["784-1200-1200-10 x 100 rows"] == ("oneDNN" if faster == "onednn" else "MKL")
    assert chosen["784-1200-1200-10 x 100 rows (bf16 asked)"] == "oneDNN"


def test_with_onednn_insisted_on_bf16_must_beat_onednns_own_fp32_step(monkeypatch):
    monkeypatch.setenv("REPRODUCE_CPU_GEMM", "onednn")
    monkeypatch.setattr(P, "available", lambda: True)
    step = {"onednn": False, "bf16": False, "bf16_layers": [True, True, False], "bf16_gain_on_onednn": 1.3}
    monkeypatch.setattr(P, "decide_step", lambda *a: step)
    teacher = (784, 1200, 1200, 10)
    assert P.plan("bf16", teacher, 100, CPU) == (True, True, False)  # MKL's step would be faster, but not allowed
    step["bf16_gain_on_onednn"] = 1.05
    assert P.plan("bf16", teacher, 100, CPU) == (False, False, False)
    step["bf16_gain_on_onednn"] = None  # no layer worth a bf16 step
    assert P.plan("bf16", teacher, 100, CPU) == (False, False, False)


def test_the_step_probe_times_every_path_and_decides_by_its_margins(tmp_path, monkeypatch):
    """A real whole-step probe (no stub), cached: each path a positive time, decisions that follow from the times by
    the stated margins, and a second ask read from the cache."""
    monkeypatch.setenv("REPRODUCE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(P, "_CACHE", None)
    sizes = (96, 256, 256, 10)
    got = P.decide_step(sizes, 32)
    assert got["mkl_ms"] > 0 and got["fp32_ms"] > 0 and len(got["bf16_layers"]) == 3
    ratio = got["mkl_ms"] / got["fp32_ms"]  # of rounded times: a decision at the margin may differ
    assert got["onednn"] == (ratio >= P.ONEDNN_MIN_GAIN) or abs(ratio - P.ONEDNN_MIN_GAIN) < 0.01
    if any(got["bf16_layers"]):
        gain = min(got["mkl_ms"], got["fp32_ms"]) / got["bf16_ms"]
        assert got["bf16"] == (gain >= P.MIN_GAIN) or abs(gain - P.MIN_GAIN) < 0.01
    else:
        assert got["bf16"] is False and "bf16_ms" not in got
    assert json.loads((tmp_path / "products-probe.json").read_text())[P.machine_key()]["step 96-256-256-10 x 32"] == got
    monkeypatch.setattr(P, "step_probe", lambda *a: pytest.fail("probed again instead of reading the cache"))
    assert P.decide_step(list(sizes), 32) == got


@needs_bf16
def test_the_step_probe_times_the_path_it_names(monkeypatch):
    """Each timed step runs its own path: MKL's batched products, oneDNN's in fp32, oneDNN's in bf16 (a step probe
    that timed the same path three times would always find no gain)."""
    seen = []
    real = P._member_step

    def spy(sizes, rows, onednn, bf16_layers, seed=0):
        step = real(sizes, rows, onednn, bf16_layers, seed)
        seen.append((onednn, tuple(bf16_layers)))
        return step
    monkeypatch.setattr(P, "_member_step", spy)
    monkeypatch.setattr(P, "decide", lambda r, a, b: {"bf16": a == 40})
    calls, real_linear = [], gemm.linear
    monkeypatch.setattr(gemm, "linear", lambda *a, **k: calls.append(k.get("bf16", False)) or real_linear(*a, **k))
    got = P.step_probe((30, 40, 5), 8, rounds=1, round_s=0.0)
    assert seen == [(False, (False, False)), (True, (False, False)), (True, (False, True))]
    assert set(got) >= {"mkl_ms", "fp32_ms", "bf16_ms"} and got["bf16_layers"] == [False, True]
    assert True in calls and False in calls  # the bf16 step multiplied in bf16, the fp32 one did not
