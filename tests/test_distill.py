"""Golden values and properties of the distillation objective (paper section 2)."""
import math

import torch

from reproduce.train.loss import distillation_loss, hard_cross_entropy, soft_cross_entropy, soft_kl

# Student logits give q = (1/6, 2/6, 3/6) at T = 1; teacher logits give p = (1/2, 1/3, 1/6).
Z = torch.tensor([[0.0, math.log(2), math.log(3)]], dtype=torch.float64)
V = torch.tensor([[math.log(3), math.log(2), 0.0]], dtype=torch.float64)
Y = torch.tensor([2])


def test_golden_soft_terms_at_T1():
    # CE(p, q) = -(1/2 ln 1/6 + 1/3 ln 2/6 + 1/6 ln 3/6), computed by hand
    ce = -(0.5 * math.log(1 / 6) + (1 / 3) * math.log(2 / 6) + (1 / 6) * math.log(3 / 6))
    assert abs(float(soft_cross_entropy(Z, V, 1.0)) - ce) < 1e-12
    # KL(p || q) = 1/2 ln 3 + 1/3 ln 1 + 1/6 ln(1/3) = ln(3) / 3
    assert abs(float(soft_kl(Z, V, 1.0)) - math.log(3) / 3) < 1e-12


def test_golden_hard_term():
    assert abs(float(hard_cross_entropy(Z, Y)) - math.log(2)) < 1e-12  # -ln q_2 = -ln 1/2


def test_golden_weighted_loss_T1():
    # 0.75 * 1 * ln3/3 + 0.25 * ln 2 = 0.25 ln 6
    loss = distillation_loss(Z, V, Y, temperature=1.0, hard_weight=0.25)
    assert abs(float(loss) - 0.25 * math.log(6)) < 1e-12


def test_golden_weighted_loss_T2():
    # at T = 2 the soft distributions are proportional to sqrt of the T = 1 odds
    q = [1, math.sqrt(2), math.sqrt(3)]
    p = [math.sqrt(3), math.sqrt(2), 1]
    q = [x / sum(q) for x in q]
    p = [x / sum(p) for x in p]
    kl = sum(pi * math.log(pi / qi) for pi, qi in zip(p, q))
    expected = 0.5 * 4 * kl + 0.5 * math.log(2)
    loss = distillation_loss(Z, V, Y, temperature=2.0, hard_weight=0.5)
    assert abs(float(loss) - expected) < 1e-12


def test_reduction_mean_over_batch_sum_over_members():
    torch.manual_seed(0)
    z = torch.randn(3, 5, 10, dtype=torch.float64)
    v = torch.randn(3, 5, 10, dtype=torch.float64)
    y = torch.randint(0, 10, (3, 5))
    per = distillation_loss(z, v, y, 4.0, 0.3, per_member=True)
    assert per.shape == (3,)
    for e in range(3):
        one = distillation_loss(z[e], v[e], y[e], 4.0, 0.3)
        assert torch.allclose(per[e], one)
        # mean over the batch: the loss of a batch equals the mean of its single-example losses
        singles = [distillation_loss(z[e, i:i + 1], v[e, i:i + 1], y[e, i:i + 1], 4.0, 0.3) for i in range(5)]
        assert torch.allclose(one, torch.stack(singles).mean())
    assert torch.allclose(distillation_loss(z, v, y, 4.0, 0.3), per.sum())


def test_per_member_temperatures():
    torch.manual_seed(1)
    z = torch.randn(2, 4, 10, dtype=torch.float64)
    v = torch.randn(2, 4, 10, dtype=torch.float64)
    y = torch.randint(0, 10, (2, 4))
    per = distillation_loss(z, v, y, torch.tensor([2.0, 8.0], dtype=torch.float64), 0.1, per_member=True)
    assert torch.allclose(per[0], distillation_loss(z[0], v[0], y[0], 2.0, 0.1))
    assert torch.allclose(per[1], distillation_loss(z[1], v[1], y[1], 8.0, 0.1))


def test_soft_gradient_is_q_minus_p_over_T():
    torch.manual_seed(2)
    z = torch.randn(1, 10, dtype=torch.float64, requires_grad=True)
    v = torch.randn(1, 10, dtype=torch.float64)
    T = 3.0
    soft_cross_entropy(z, v, T).backward()
    q = torch.softmax(z.detach() / T, -1)
    p = torch.softmax(v / T, -1)
    assert torch.allclose(z.grad, (q - p) / T)


def test_high_temperature_gradient_matches_logits():
    """dC/dz -> (z - v) / (N T^2) for zero-mean logits as T grows (section 2)."""
    torch.manual_seed(3)
    N = 10
    z = torch.randn(1, N, dtype=torch.float64) * 3
    v = torch.randn(1, N, dtype=torch.float64) * 3
    z, v = z - z.mean(), v - v.mean()
    rel = []
    for T in (10.0, 100.0, 1000.0):
        zz = z.clone().requires_grad_(True)
        soft_cross_entropy(zz, v, T).backward()
        approx = (z - v) / (N * T * T)
        rel.append(float((zz.grad - approx).norm() / approx.norm()))
    assert rel[2] < 1e-2
    assert rel[0] > rel[1] > rel[2]  # the approximation improves with T


def test_T_squared_keeps_soft_gradient_scale():
    """With the T^2 factor, the soft term's gradient tends to a T-independent limit (logit matching)."""
    torch.manual_seed(4)
    z = torch.randn(1, 10, dtype=torch.float64)
    v = torch.randn(1, 10, dtype=torch.float64)
    z, v = z - z.mean(), v - v.mean()
    grads = []
    for T in (200.0, 2000.0):
        zz = z.clone().requires_grad_(True)
        distillation_loss(zz, v, torch.tensor([0]), T, 0.0).backward()
        grads.append(zz.grad)
    limit = (z - v) / 10
    assert float((grads[0] - grads[1]).norm() / limit.norm()) < 2e-2
    assert float((grads[1] - limit).norm() / limit.norm()) < 2e-3
    # without the T^2 factor the gradient would shrink by the ratio of T^2 (100x here)
