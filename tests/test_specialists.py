"""Section 5's machinery on constructed cases with known answers."""
import torch

from reproduce.specialist_ensembles import combine, confusion_clusters


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


# ----------------------------------------------------------------------------------------------------
# Specialists' label spaces, prior correction and starting weights
# ----------------------------------------------------------------------------------------------------
from reproduce import specialist_ensembles as S  # noqa: E402


def _blocky(blocks, n_classes, n=800, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        b = blocks[int(torch.randint(0, len(blocks), (1,), generator=g))]
        p = torch.full((n_classes,), 1e-3)
        w = torch.rand(len(b), generator=g) ** 3
        p[b] = w / w.sum()
        rows.append(p / p.sum())
    return torch.stack(rows)


def test_subsets_drop_singletons_cap_sizes_and_overlap_only_when_asked():
    blocks = [[0, 1, 2, 3, 4, 5], [6, 7], [8], [9, 10, 11]]
    p = _blocky(blocks, 12)
    plain = S.specialist_subsets(p, 4, overlap=0.0, seed=1)
    assert sorted(map(tuple, plain)) == sorted(tuple(b) for b in blocks if len(b) >= 2)  # {8} gets no specialist
    capped = S.specialist_subsets(p, 4, overlap=0.0, max_size=3, seed=1)
    assert max(map(len, capped)) == 3 and all(set(s) <= set(blocks[0]) or s in blocks for s in capped)
    wide = S.specialist_subsets(p, 4, overlap=10.0, seed=1)  # every centre "nearly as close": subsets overlap
    assert sum(map(len, wide)) > sum(map(len, plain))


def test_label_maps_and_masks_put_the_dustbin_last():
    subsets = [[2, 5], [0, 1, 3]]
    m = S.label_maps(subsets, 6, 4)
    assert m.tolist() == [[3, 3, 0, 3, 3, 1], [0, 1, 3, 2, 3, 3]]
    mask = S.output_masks(subsets, 4)
    assert mask[0].tolist() == [0.0, 0.0, S.MASKED, 0.0] and mask[1].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_the_dustbin_shift_undoes_half_and_half_sampling_exactly():
    """A specialist that learned the posterior under 50/50 sampling, shifted, gives the natural posterior."""
    g = torch.Generator().manual_seed(5)
    prior = torch.rand(10, generator=g)
    prior /= prior.sum()
    lik = torch.rand(7, 10, generator=g)  # p(x | c) for 7 inputs
    post = lik * prior
    post /= post.sum(1, keepdim=True)
    s = [1, 4, 6]
    rest = [c for c in range(10) if c not in s]
    f = float(prior[s].sum())
    train_prior = prior.clone()
    train_prior[s] *= 0.5 / f
    train_prior[rest] *= 0.5 / (1 - f)
    z_train = torch.log(lik * train_prior)  # logits of the biased-sampling posterior (up to a constant per row)
    logits = torch.cat([z_train[:, s], torch.logsumexp(z_train[:, rest], 1, keepdim=True)], 1)
    probs = S.dustbin_probs(logits.unsqueeze(0), [s], [S.dustbin_shift(f)])[0]
    want = torch.cat([post[:, s], post[:, rest].sum(1, keepdim=True)], 1)
    assert torch.allclose(probs, want, atol=1e-6)
    assert abs(S.dustbin_shift(0.1) - 2.1972245773362196) < 1e-12  # log 9


def test_specialists_start_as_the_generalist_on_their_classes():
    from reproduce.train.cnn import BatchedCNN
    from reproduce.train import member_generators
    cpu = torch.device("cpu")
    gen = BatchedCNN((4, 8), 16, 9, 16, member_generators([1, 2], cpu), cpu)
    subsets = [[0, 3, 7], [5, 6]]
    spec = BatchedCNN((4, 8), 16, 4, 16, member_generators([3, 4], cpu), cpu)
    with torch.no_grad():
        S.init_from_generalist(gen, 1, subsets)(spec)
    x = torch.rand(6, 1, 16, 16)
    zg = gen(x.expand(2, *x.shape))[1]
    zs = spec(x.expand(2, *x.shape))
    assert torch.allclose(zs[0, :, :3], zg[:, subsets[0]], atol=1e-5)
    assert torch.allclose(zs[1, :, :2], zg[:, subsets[1]], atol=1e-5)
    full = BatchedCNN((4, 8), 16, 9, 16, member_generators([5], cpu), cpu)
    with torch.no_grad():
        S.init_from_generalist(gen, 1, None)(full)
    assert torch.allclose(full(x.unsqueeze(0))[0], zg, atol=1e-5)


def test_evaluate_counts_coverage_and_credits_a_good_specialist():
    """A generalist that confuses 0 and 1 (40/60 whatever the truth) and a specialist over {0, 1} that knows the
    answer: the combination fixes the images whose truth is 0; Table 4's rows add up to the test set."""
    n = 40
    labels = torch.tensor([0, 1] * (n // 2) + [2] * 10)
    pg = torch.full((len(labels), 4), 0.02)
    pg[: n, 0], pg[: n, 1] = 0.38, 0.58
    pg[n:, 2] = 0.94
    pm = torch.zeros(len(labels), 3)
    pm[torch.arange(n), labels[:n]] = 0.97
    pm[:n] += 0.01
    pm[n:, 2] = 1.0
    out = S.evaluate(pg, labels, [[0, 1]], [pm], steps=300)
    t3, t4 = out["table3"], out["table4"]
    assert t3["test_acc_generalist"] == 100 * 30 / 50 and t3["test_acc_combined"] == 100.0
    assert t3["conditional_images"] == n and t3["conditional_acc_generalist"] == 50.0
    assert sum(r["images"] for r in t4) == 50
    row1 = next(r for r in t4 if r["covering"] == "1")
    assert row1["images"] == n and row1["delta_correct"] == n // 2
    assert row1["wrong_to_right"] == n // 2 and row1["right_to_wrong"] == 0
    assert out["table4_row0"]["no_active_specialist"]["images"] == 10  # the 2s: no specialist is active for them
    assert out["table4_row0"]["no_active_specialist"]["delta_correct"] == 0
    # on its own 40 images the specialist is always right, the generalist (always 1) half the time
    ins = out["in_subset"]
    assert ins["images"] == [n] and ins["specialist_acc"] == [100.0] and ins["generalist_acc"] == [50.0]
    assert ins["specialists_better"] == 1


def test_an_active_specialist_can_change_an_image_whose_true_class_it_does_not_cover():
    """Table 4's row 0 is not only untouched images: a generalist that says 1 (wrong) for a true 2, beside a
    specialist over {0, 1} sure it is neither (its dustbin), moves the answer to 2 with no specialist covering 2."""
    labels = torch.tensor([2] * 10)
    pg = torch.full((10, 4), 0.05)
    pg[:, 1], pg[:, 2] = 0.5, 0.4
    pm = torch.zeros(10, 3)
    pm[:, 2] = 0.98  # the dustbin
    pm[:, :2] = 0.01
    out = S.evaluate(pg, labels, [[0, 1]], [pm], steps=300)
    split = out["table4_row0"]["active_but_uncovered"]
    assert split["images"] == 10 and split["generalist_correct"] == 0 and split["wrong_to_right"] == 10
    assert out["table4"][0]["covering"] == "0" and out["table4"][0]["delta_correct"] == 10


def test_classes_never_confused_do_not_collapse_into_one_giant_cluster():
    """45 classes the generalist always gets right (nearly orthogonal columns) beside 5 confusable triples: the
    triples stay together and no cluster takes most of the classes (Euclidean k-means put them all in one)."""
    blocks = [[3 * i, 3 * i + 1, 3 * i + 2] for i in range(5)] + [[c] for c in range(15, 60)]
    p = _blocky(blocks, 60, n=3000, seed=2)
    assign = S.confusion_clusters(p, 10, seed=0)
    for b in blocks[:5]:
        assert len(set(assign[b].tolist())) == 1
    assert torch.bincount(assign, minlength=10).max() <= 25  # Euclidean online k-means: 49 of the 60 here


def test_bad_specialist_settings_are_named_with_the_fix():
    import pytest

    from reproduce.errors import UserError
    from reproduce.experiments import specialists as X
    for override, message in (("dataset=imagenet", "needs data_root="), ("dataset=mnist", "allowed: glyphs"),
                              ("arch.width=3", "allowed: channels, hidden"), ("overlap=2", r"in \[0, 1\]"),
                              ("glyph_ranges=greek", "allowed: all, latin"), ("clusters=0", "clusters=0 must be")):
        with pytest.raises(UserError, match=message):
            X.resolve_config("smoke", overrides=[override])


def test_row0_split_generalist_is_never_right_where_an_active_specialist_misses_the_true_class():
    """Section 5.4 activates the specialists whose classes contain the generalist's top-1 class, so where the generalist
    is right every active specialist covers the true class: row 0's active-but-uncovered images are all generalist
    errors, and its correct answers all lie among the images no specialist is active for (never changed)."""
    g = torch.Generator().manual_seed(0)
    C, N = 12, 400
    labels = torch.randint(0, C, (N,), generator=g)
    pg = torch.softmax(3 * torch.randn(N, C, generator=g) + 2 * torch.nn.functional.one_hot(labels, C), -1)
    subsets = [[0, 1, 2], [2, 3, 4, 5], [6, 7]]
    probs = [torch.softmax(torch.randn(N, len(s) + 1, generator=g), -1) for s in subsets]
    out = S.evaluate(pg, labels, subsets, probs, steps=50)
    row0, split = out["table4"][0], out["table4_row0"]
    unc, none = split["active_but_uncovered"], split["no_active_specialist"]
    assert unc["images"] > 0 and none["images"] > 0 and unc["generalist_correct"] == 0
    assert unc["right_to_wrong"] == 0 and none["wrong_to_right"] == none["right_to_wrong"] == 0
    assert unc["images"] + none["images"] == row0["images"]
    assert none["generalist_correct"] == row0["generalist_correct"]
    assert unc["wrong_to_right"] == row0["delta_correct"]
    from reproduce.experiments.specialists import _pool_row0
    pooled = _pool_row0([split, split])
    assert pooled["active_but_uncovered"]["wrong_to_right"] == 2 * unc["wrong_to_right"]
    assert pooled["no_active_specialist"]["images"] == 2 * none["images"]


def test_the_combined_posterior_is_the_generalists_where_no_specialist_is_active():
    """combined_posterior (the distilled-back nets' targets): rows with an active specialist are combine()'s answer
    and agree with evaluate()'s choice; the others are the generalist's p, unchanged."""
    from reproduce import specialist_ensembles as S
    pg = _dirichlet(30, 5, seed=3)
    pg[:10, 0] += 3.0  # top-1 class 0: the specialist over {0, 1} is active
    pg[10:, 4] += 3.0  # top-1 class 4: no specialist
    pg = pg / pg.sum(-1, keepdim=True)
    pm = _dirichlet(30, 3, seed=4)
    q = S.combined_posterior(pg, [[0, 1]], [pm], steps=200)
    assert torch.equal(q[10:], pg[10:])
    want = combine(pg[:10], [(torch.tensor([0, 1]), pm[:10], torch.ones(10, dtype=torch.bool))], steps=200)
    torch.testing.assert_close(q[:10], want)
    assert not torch.allclose(q[:10], pg[:10])
    labels = q.argmax(1)  # evaluate's combined answers are q's argmax: all right against these labels
    assert S.evaluate(pg, labels, [[0, 1]], [pm], steps=200)["table3"]["test_acc_combined"] == 100.0


def test_the_paper_profile_is_the_issues_regime_and_the_gpu_recipe_still_resolves():
    from reproduce.experiments.specialists import resolve_config
    from reproduce.profiles import SPECIALISTS_GPU_OVERRIDES
    p = resolve_config("paper")
    assert p["seeds"] == 3 and p["glyph_ranges"] == "all" and p["clusters"] >= 30 and p["dataset"] == "glyphs"
    assert p["generalist"]["epochs"] > resolve_config("quick")["generalist"]["epochs"]
    gpu = resolve_config("paper", overrides=SPECIALISTS_GPU_OVERRIDES)
    assert gpu["arch"] == {"channels": [64, 128], "hidden": 512} and gpu["back_widen"] == [1, 2]
    assert gpu["dustbin"]["epochs"] == 8 and gpu["generalist"]["batch_size"] == 256


def _combine_by_autograd(p_general, specialists, steps, lr=1.0):
    """The objective of section 5.4 written as a loss and descended with autograd's gradient (the reference the
    closed-form gradient of combine() must match)."""
    eps = 1e-12
    z = torch.log(p_general.clamp_min(eps)).clone().requires_grad_(True)
    mass = torch.ones(len(z))
    for _, _, active in specialists:
        mass = mass + active.float()
    for _ in range(steps):
        if z.grad is not None:
            z.grad.zero_()
        logq = torch.log_softmax(z, -1)
        loss = -(p_general * logq).sum(-1)
        for classes, pm, active in specialists:
            inside = logq[:, classes]
            log_dust = torch.log((1 - inside.exp().sum(-1)).clamp_min(eps))
            loss = loss - active * ((pm[:, :-1] * inside).sum(-1) + pm[:, -1] * log_dust)
        loss.sum().backward()
        with torch.no_grad():
            z -= (lr / mass).unsqueeze(-1) * z.grad
    return torch.softmax(z.detach(), -1)


def test_the_closed_form_gradient_descends_exactly_as_autograd_does():
    g = torch.Generator().manual_seed(3)
    N, C = 64, 40
    p = torch.softmax(torch.randn(N, C, generator=g) * 2, -1)
    specs = []
    for size in (5, 9, 9, 14):  # overlapping class sets, each active on a random third of the rows
        classes = torch.randperm(C, generator=g)[:size]
        specs.append((classes, torch.softmax(torch.randn(N, size + 1, generator=g) * 2, -1),
                      torch.rand(N, generator=g) < 0.4))
    for steps in (1, 50):
        want = _combine_by_autograd(p, specs, steps)
        got = combine(p, specs, steps=steps)
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-4), (got - want).abs().max()
    assert not torch.allclose(combine(p, specs, steps=50), p, atol=1e-3)  # it did move the active rows
