"""Section 5's machinery on constructed cases with known answers."""
import torch

from reproduce.specialists import combine, confusion_clusters


def _dirichlet(n, c, seed):
    g = torch.Generator().manual_seed(seed)
    x = -torch.log(torch.rand(n, c, generator=g))
    return x / x.sum(-1, keepdim=True)


def test_without_specialists_the_generalist_stands():
    p = _dirichlet(20, 6, 0)
    assert torch.allclose(combine(p, []), p, atol=1e-4)


def test_one_specialist_matches_the_closed_form():
    """Minimizing -sum_k c_k log q_k - d log(sum_{k not in S} q_k): q_k = (p_g,k + p_m,k) / 2 inside S and
    q_k = p_g,k (C_out + d) / (2 C_out) outside, with C_out = sum_{k not in S} p_g,k and d the dustbin mass."""
    p = _dirichlet(30, 8, 1)
    S = torch.tensor([1, 4, 6])
    pm = _dirichlet(30, 4, 2)  # 3 classes + dustbin
    q = combine(p, [(S, pm, torch.ones(30))])
    want = torch.empty_like(p)
    out = torch.ones(8, dtype=torch.bool)
    out[S] = False
    c_out = p[:, out].sum(-1, keepdim=True)
    want[:, S] = (p[:, S] + pm[:, :3]) / 2
    want[:, out] = p[:, out] * (c_out + pm[:, 3:]) / (2 * c_out)
    assert torch.allclose(want.sum(-1), torch.ones(30), atol=1e-6)
    assert torch.allclose(q, want, atol=2e-3)


def test_an_inactive_specialist_changes_nothing():
    p = _dirichlet(10, 5, 3)
    pm = _dirichlet(10, 3, 4)
    q = combine(p, [(torch.tensor([0, 2]), pm, torch.zeros(10))])
    assert torch.allclose(q, p, atol=1e-4)


def test_clusters_recover_blocks_of_confusable_classes():
    """A generalist that confuses classes only within blocks {0,1,2}, {3,4}, {5,6,7}: the clusters are the blocks."""
    g = torch.Generator().manual_seed(0)
    blocks = [[0, 1, 2], [3, 4], [5, 6, 7]]
    rows = []
    for _ in range(600):
        b = blocks[int(torch.randint(0, 3, (1,), generator=g))]
        p = torch.full((8,), 1e-3)
        w = torch.rand(len(b), generator=g) ** 3
        p[b] = w / w.sum()
        rows.append(p / p.sum())
    assign = confusion_clusters(torch.stack(rows), 3, seed=1)
    groups = {tuple(sorted((assign == j).nonzero().flatten().tolist())) for j in range(3)}
    assert groups == {tuple(b) for b in blocks}
