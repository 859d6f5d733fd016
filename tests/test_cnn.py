"""The batched CNN (groundwork for the specialists chapter): member e of the grouped-convolution model computes
exactly what a plain nn.Sequential with member e's weights computes, and its initialization depends on its seed
alone."""
import torch

from reproduce.train.cnn import BatchedCNN
from reproduce.train import member_generators

CPU = torch.device("cpu")


def test_each_member_is_a_plain_cnn():
    torch.manual_seed(0)
    m = BatchedCNN((4, 8), 16, 7, 32, member_generators([1, 2, 3], CPU), CPU)
    x = torch.rand(3, 5, 1, 32, 32)
    out = m(x)
    assert out.shape == (3, 5, 7)
    for e in range(3):
        assert torch.allclose(out[e], m.member(e)(x[e]), atol=1e-5)
    # gradients stay inside a member: member 1's loss moves only member 1's weights
    out[1].sum().backward()
    g = m.convs[0].grad.view(3, 4, 1, 3, 3)
    assert g[0].abs().sum() == 0 and g[2].abs().sum() == 0 and g[1].abs().sum() > 0


def test_a_members_weights_depend_on_its_seed_alone():
    a = BatchedCNN((4,), 8, 5, 16, member_generators([7, 8], CPU), CPU)
    b = BatchedCNN((4,), 8, 5, 16, member_generators([9, 8, 10], CPU), CPU)
    assert torch.equal(a.convs[0].view(2, 4, 1, 3, 3)[1], b.convs[0].view(3, 4, 1, 3, 3)[1])
    assert torch.equal(a.head[1][1], b.head[1][1])


# -- conv_layout: the three layouts are one function; the choice follows the probe, the env var and the size rule

import pytest

from reproduce.errors import UserError
from reproduce.results import provenance
from reproduce.train import conv_layout as L


@pytest.mark.parametrize("layout", L.LAYOUTS)
def test_every_layout_computes_the_grouped_models_outputs_and_gradients(layout):
    ref = BatchedCNN((4, 8), 16, 7, 16, member_generators([1, 2, 3], CPU), CPU, layout="grouped")
    m = BatchedCNN((4, 8), 16, 7, 16, member_generators([1, 2, 3], CPU), CPU, layout=layout)
    x = torch.rand(3, 5, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    w = torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(1))
    (ref(x) * w).sum().backward()
    (m(x) * w).sum().backward()
    assert torch.allclose(m(x), ref(x), atol=1e-5)
    for a, b in zip(m.parameters(), ref.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-4, rtol=1e-4)
    for e in range(3):  # and each member is still the plain CNN with its weights
        assert torch.allclose(m(x)[e], m.member(e)(x[e]), atol=1e-5)


def test_layout_choice_follows_the_env_var_the_size_rule_and_the_probe(monkeypatch, data_dir):
    monkeypatch.setattr(L, "_CACHE", None)
    calls = []

    def fake_probe(E, rows, *a):
        calls.append((E, rows))
        return {"ms": {"grouped": 3.0, "grouped-nhwc": 1.0, "per-member": 2.0}, "layout": "grouped-nhwc",
                "predict_ms": {"grouped": 3.0, "grouped-nhwc": 2.0, "per-member": 1.0}, "predict_layout": "per-member"}

    monkeypatch.setattr(L, "probe", fake_probe)
    monkeypatch.delenv("REPRODUCE_CNN_LAYOUT", raising=False)
    # too small to matter: no probe
    assert L.choose(2, 8, (4,), 16, 10, 16, 1, CPU) == ("grouped", "grouped") and not calls
    # large: the probe's choices, probed once and then read from the cache on disk
    assert L.choose(24, 32, (16, 32), 256, 81, 32, 1, CPU) == ("grouped-nhwc", "per-member")
    monkeypatch.setattr(L, "_CACHE", None)
    m = BatchedCNN((16, 32), 256, 81, 32, member_generators(list(range(24)), CPU), CPU, rows=32)
    assert (m.layout, m.predict_layout) == ("grouped-nhwc", "per-member")
    assert calls == [(24, 32)] and (data_dir / "conv-probe.json").exists()
    chosen = provenance(CPU, 1.0, commit="abc")["cpu_cnn_layout_chosen"]
    assert "grouped-nhwc (training), per-member (predictions)" in chosen.values()
    monkeypatch.setenv("REPRODUCE_CNN_LAYOUT", "per-member")
    assert L.choose(24, 32, (16, 32), 256, 81, 32, 1, CPU) == ("per-member", "per-member")
    monkeypatch.setenv("REPRODUCE_CNN_LAYOUT", "nchw")
    with pytest.raises(UserError, match="REPRODUCE_CNN_LAYOUT='nchw'.*grouped-nhwc"):
        L.choose(24, 32, (16, 32), 256, 81, 32, 1, CPU)


def test_the_probe_times_every_layout_and_picks_the_fastest():
    with torch.no_grad():  # as when BatchedCNN.select builds a model: the probe's training step needs gradients
        r = L.probe(2, 16, (4, 8), 16, 7, 16, predict_rows=32)
    for prefix in ("", "predict_"):
        ms = r[f"{prefix}ms"]
        assert set(ms) == set(L.LAYOUTS) and all(t > 0 for t in ms.values())
        assert r[f"{prefix}layout"] == min(ms, key=ms.get)


def test_predictions_without_gradients_run_in_the_predict_layout(monkeypatch):
    m = BatchedCNN((4,), 8, 5, 16, member_generators([1, 2], CPU), CPU, layout="grouped")
    m.predict_layout = "per-member"
    seen = []
    real = L.features
    monkeypatch.setattr(L, "features", lambda *a: seen.append(a[-1]) or real(*a))
    x = torch.rand(2, 3, 1, 16, 16)
    m(x)
    with torch.no_grad():
        m(x)
    assert seen == ["grouped", "per-member"]


def test_conv_macs_counts_two_convolutions_per_stage():
    # 1->4 and 4->4 at 16 px, then 4->8 and 8->8 at 8 px
    assert L.conv_macs((4, 8), 16) == 16 * 16 * 9 * (1 * 4 + 4 * 4) + 8 * 8 * 9 * (4 * 8 + 8 * 8)
