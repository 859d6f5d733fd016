"""Section 5's machinery, independent of any dataset: clusters of confusable classes from the generalist's
predictions, specialists' label spaces (their classes plus one dustbin) and starting weights, the prior correction
of the dustbin, the KL combination of a generalist with the specialists that cover a test case's likely classes,
and the paper's two tables (3: accuracy with and without specialists; 4: the change by number of covering
specialists).
"""
from __future__ import annotations

import math

import torch

MASKED = -1e9  # logit of an unused (padding) output of a specialist with fewer classes than the widest one


def confusion_clusters(probs: torch.Tensor, k: int, passes: int = 10, seed: int = 0) -> torch.Tensor:
    """Cluster id of every class, (C,): k-means on the columns of the covariance matrix of the generalist's
    predicted probabilities (N, C) on held-out images. No true labels are used: classes the generalist often
    predicts together have similar columns (section 5.2)."""
    pts = covariance_columns(probs)
    return torch.cdist(pts, kmeans(pts, k, passes, seed)).argmin(1)


def covariance_columns(probs: torch.Tensor) -> torch.Tensor:
    """One point per class (C, C): its column of the covariance of predicted probabilities, scaled to unit norm
    (cosine geometry: how often a class is predicted does not matter, only with which others)."""
    p = probs - probs.mean(0, keepdim=True)
    cov = p.T @ p / max(1, probs.shape[0] - 1)
    return (cov / cov.norm(dim=0, keepdim=True).clamp_min(1e-12)).T


def kmeans(pts: torch.Tensor, k: int, passes: int = 10, seed: int = 0) -> torch.Tensor:
    """k unit-norm centres of the unit vectors pts (n, d) by online spherical k-means (MacQueen's sequential
    k-means in cosine geometry): points visited one at a time in a random order, each joining the centre it is most
    similar to, whose direction becomes the mean direction of the points it has taken; `passes` passes; centres
    start at k distinct random points. Plain Euclidean k-means fails on these points: the columns of classes the
    generalist never confuses are nearly orthogonal, and the short mean of many of them is nearer to every such
    point than any single one, so one giant cluster swallows them all. Runs on the CPU (n = the number of classes)."""
    if not 1 <= k <= pts.shape[0]:
        raise ValueError(f"k={k} must be between 1 and the number of classes {pts.shape[0]}")
    x = pts.detach().to("cpu", torch.float64)
    g = torch.Generator().manual_seed(seed)
    sums = x[torch.randperm(x.shape[0], generator=g)[:k]].clone()
    centres = sums / sums.norm(dim=1, keepdim=True).clamp_min(1e-12)
    for _ in range(passes):
        for i in torch.randperm(x.shape[0], generator=g).tolist():
            j = int((centres @ x[i]).argmax())
            sums[j] += x[i]
            centres[j] = sums[j] / sums[j].norm().clamp_min(1e-12)
    return centres.to(pts.device, pts.dtype)


def specialist_subsets(probs: torch.Tensor, k: int, overlap: float = 0.0, min_size: int = 2,
                       max_size: int | None = None, passes: int = 10, seed: int = 0) -> list[list[int]]:
    """Class subsets for specialists from the generalist's predicted probabilities (N, C) on held-out images.

    k-means on the covariance columns; a class joins its nearest centre and every centre within (1 + overlap)
    times that distance, so subsets overlap as the paper allows. A cluster larger than max_size keeps the
    max_size classes nearest its centre; clusters under min_size classes (nothing to tell apart) get no
    specialist; identical subsets are kept once. Ordered by size, largest first."""
    if overlap < 0:
        raise ValueError(f"overlap={overlap} must be >= 0")
    pts = covariance_columns(probs)
    d = torch.cdist(pts, kmeans(pts, k, passes, seed))              # (C, k)
    near = d <= d.min(1, keepdim=True).values * (1 + overlap) + 1e-9
    out, seen = [], set()
    for j in range(d.shape[1]):
        members = torch.nonzero(near[:, j]).squeeze(1)
        if max_size is not None and len(members) > max_size:
            members = members[d[members, j].argsort()[:max_size]]
        s = tuple(sorted(members.tolist()))
        if len(s) >= min_size and s not in seen:
            seen.add(s)
            out.append(list(s))
    return sorted(out, key=len, reverse=True)


# ----------------------------------------------------------------------------------------------------
# A specialist's label space: its classes at outputs 0..|S|-1, padding, and the dustbin as the LAST output
# ----------------------------------------------------------------------------------------------------
def label_maps(subsets: list[list[int]], n_classes: int, n_out: int) -> torch.Tensor:
    """(E, C) long: specialist e's target for true class c (its position in S_e, else the dustbin n_out - 1)."""
    m = torch.full((len(subsets), n_classes), n_out - 1, dtype=torch.long)
    for e, s in enumerate(subsets):
        m[e, s] = torch.arange(len(s))
    return m


def output_masks(subsets: list[list[int]], n_out: int) -> torch.Tensor:
    """(E, n_out): 0 on each specialist's classes and dustbin, MASKED on its padding."""
    m = torch.full((len(subsets), n_out), MASKED)
    for e, s in enumerate(subsets):
        m[e, : len(s)] = 0.0
    m[:, -1] = 0.0
    return m


def dustbin_shift(fraction: float) -> float:
    """The dustbin's logit correction for training on half special, half other images when the special classes
    are `fraction` of the natural data: by Bayes, log(prior / training prior) per class, i.e. the special classes
    were oversampled relative to the dustbin by (1 - f) / f. Equals the paper's log(oversampling factor) when
    the oversampling is read relative to the dustbin."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction={fraction} must be in (0, 1)")
    return math.log((1 - fraction) / fraction)


def init_from_generalist(generalist, member: int, subsets: list[list[int]] | None):
    """A function setting a BatchedCNN's E members to generalist member `member`'s weights: all layers copied;
    with subsets, each specialist's output layer keeps the generalist's columns of its classes, and its dustbin
    starts as the mean of the other columns, its bias raised by log(their number), roughly their log-sum-exp."""
    def pick(t, c):  # member `member` of a batched parameter whose first axis is E * c
        return t.detach().view(generalist.E, c, *t.shape[1:])[member]

    def init(m):
        E = m.E
        for dst, src, db, sb, c in zip(m.convs, generalist.convs, m.conv_biases, generalist.conv_biases,
                                       [c for c in generalist.channels for _ in range(2)]):
            dst.copy_(pick(src, c).repeat(E, 1, 1, 1))
            db.copy_(pick(sb, c).repeat(E))
        m.head[0].copy_(generalist.head[0][member].expand_as(m.head[0]))
        m.head_biases[0].copy_(generalist.head_biases[0][member].expand_as(m.head_biases[0]))
        W, b = generalist.head[1][member].detach(), generalist.head_biases[1][member, 0].detach()
        if subsets is None:
            m.head[1].copy_(W.expand_as(m.head[1]))
            m.head_biases[1].copy_(b.expand_as(m.head_biases[1]))
            return
        m.head[1].zero_()
        m.head_biases[1].zero_()
        for e, s in enumerate(subsets):
            rest = torch.ones(W.shape[1], dtype=torch.bool, device=W.device)
            rest[s] = False
            m.head[1][e, :, : len(s)] = W[:, s]
            m.head_biases[1][e, 0, : len(s)] = b[s]
            m.head[1][e, :, -1] = W[:, rest].mean(1)
            m.head_biases[1][e, 0, -1] = b[rest].mean() + math.log(int(rest.sum()))
    return init


def dustbin_probs(logits: torch.Tensor, subsets: list[list[int]], shifts: list[float]) -> list[torch.Tensor]:
    """Each dustbin specialist's probabilities (N, |S| + 1) over its classes and its dustbin (last), after the
    prior correction of the dustbin logit. logits: (E, N, n_out)."""
    out = []
    for e, s in enumerate(subsets):
        z = torch.cat([logits[e, :, : len(s)], logits[e, :, -1:] + shifts[e]], 1)
        out.append(torch.softmax(z, -1))
    return out


def full_softmax_probs(logits: torch.Tensor, subsets: list[list[int]]) -> list[torch.Tensor]:
    """A full-softmax specialist's probabilities folded into the same shape: its classes, then the summed mass of
    all other classes as the dustbin. logits: (E, N, C)."""
    out = []
    for e, s in enumerate(subsets):
        p = torch.softmax(logits[e], -1)
        inside = p[:, s]
        out.append(torch.cat([inside, (1 - inside.sum(1, keepdim=True)).clamp_min(0)], 1))
    return out


def combine(p_general: torch.Tensor, specialists: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
            steps: int = 500, lr: float = 1.0) -> torch.Tensor:
    """q = softmax(z) minimizing KL(p_g, q) + sum over active specialists m of KL(p_m, q_m) (section 5.4), for all
    N test cases at once by gradient descent on z from z = log p_g. The objective is a sum of cross-entropies in z
    (convex); each row's step is lr / (its total target mass, 1 + active specialists), which keeps plain gradient
    descent stable and leaves a row already at its optimum where it is.

    p_general: (N, C). Each specialist is (classes (S,) long, probs (N, S + 1) with the dustbin last, active (N,)
    bool). q_m is q over the specialist's classes plus the summed mass of every other class as its dustbin.

    The gradient is written out instead of taken by autograd (the same descent; on the 2-core Xeon, 8192 rows of
    1371 classes with 24 specialists, ~1 s a step through autograd's per-specialist gathers, which made the
    combination a large part of the specialists chapter's time, and 0.07 s written out): specialist
    m's term contributes q - t_m, with t_m its probability p_m(s) on each of its classes s and, on every other
    class j, its dustbin mass spread in proportion to q: p_m(dustbin) q_j / (1 - Q_m), Q_m = q's mass on its
    classes. Summed: grad = (1 + sum_m a_m) q - p_g - P - q * (A - D), where a_m is 1 where m is active,
    P = sum_m a_m p_m(s) on m's classes (fixed), c_m = a_m p_m(dustbin) / (1 - Q_m), A = sum_m c_m, and
    D = sum_m c_m on m's classes (tests/test_specialists.py checks it against autograd's)."""
    eps = 1e-12
    N, C = p_general.shape
    dev = p_general.device
    z = torch.log(p_general.clamp_min(eps))
    if not specialists:
        return torch.softmax(z, -1)
    member = torch.zeros(len(specialists), C, device=dev)       # (E, C) 0/1: class j is one of m's classes
    a = torch.stack([act.float() for _, _, act in specialists], 1)             # (N, E)
    dust = torch.stack([pm[:, -1] for _, pm, _ in specialists], 1) * a         # (N, E): a_m p_m(dustbin)
    fixed = p_general.clone()                                                  # p_g + P
    for e, (classes, pm, _) in enumerate(specialists):
        member[e, classes] = 1.0
        fixed.index_add_(1, classes, pm[:, :-1] * a[:, e:e + 1])
    mass = (1 + a.sum(1, keepdim=True))
    step = lr / mass
    for _ in range(steps):
        q = torch.softmax(z, -1)
        c = dust / (1 - q @ member.T).clamp_min(eps)                          # (N, E)
        # grad = q * (mass - A + D) - (p_g + P), in place: the (N, C) passes are the step's cost
        grad = (c @ member).add_(mass - c.sum(1, keepdim=True)).mul_(q).sub_(fixed)
        z.addcmul_(grad, step, value=-1.0)
    return torch.softmax(z, -1)


# ----------------------------------------------------------------------------------------------------
# Inference over a test set, and the paper's tables
# ----------------------------------------------------------------------------------------------------
def _membership(subsets: list[list[int]], n_classes: int, device) -> torch.Tensor:
    """(C, E) bool: class c is one of specialist e's classes."""
    member = torch.zeros(n_classes, len(subsets), dtype=torch.bool, device=device)
    for e, s in enumerate(subsets):
        member[s, e] = True
    return member


def _combined_rows(p_general, subsets, probs, member, steps, chunk):
    """(rows, q) chunk by chunk for the images with at least one active specialist (section 5.4: the generalist's
    top-1 class is one of its classes); every other image's q is the generalist's p."""
    dev = p_general.device
    active = member[p_general.argmax(1)]
    rows = torch.nonzero(active.any(1)).squeeze(1)
    for start in range(0, len(rows), chunk):
        r = rows[start:start + chunk]
        used = torch.nonzero(active[r].any(0)).squeeze(1).tolist()
        specs = [(torch.as_tensor(subsets[e], device=dev), probs[e][r], active[r, e]) for e in used]
        yield r, combine(p_general[r], specs, steps=steps)


def combined_posterior(p_general: torch.Tensor, subsets: list[list[int]], probs: list[torch.Tensor],
                       steps: int = 300, chunk: int = 8192) -> torch.Tensor:
    """q (N, C) of section 5.4 for every image: combine()'s answer where a specialist is active, else p_general;
    the soft targets that distil the generalist and its specialists back into one net."""
    q = p_general.clone()
    for r, qr in _combined_rows(p_general, subsets, probs, _membership(subsets, p_general.shape[1],
                                                                       p_general.device), steps, chunk):
        q[r] = qr
    return q


def evaluate(p_general: torch.Tensor, labels: torch.Tensor, subsets: list[list[int]], probs: list[torch.Tensor],
             steps: int = 300, chunk: int = 8192) -> dict:
    """Section 5.4 on every test image: the generalist's top-1 class k (n = 1), the active specialists (S_m
    contains k), q from combine(); then Table 3 and Table 4.

    covering(i) = the number of ACTIVE specialists whose classes contain image i's true class (Table 4's rows).
    Conditional test accuracy (the paper does not define it; ours): top-1 accuracy over the test images with at
    least one covering specialist, i.e. those on which the specialists can make a difference to a correct answer.
    """
    N, C = p_general.shape
    member = _membership(subsets, C, p_general.device)
    top1 = p_general.argmax(1)
    active = member[top1]                                        # (N, E)
    covering = (active & member[labels]).sum(1)
    final = top1.clone()
    for r, q in _combined_rows(p_general, subsets, probs, member, steps, chunk):
        final[r] = q.argmax(1)
    gen_ok, comb_ok = top1 == labels, final == labels
    cond = covering >= 1
    def acc(ok, m=None):  # from integer counts, so that 30 of 50 reads 60.0 exactly
        ok = ok if m is None else ok[m]
        return 100 * int(ok.sum()) / len(ok) if len(ok) else float("nan")
    table3 = {"test_acc_generalist": acc(gen_ok), "test_acc_combined": acc(comb_ok),
              "conditional_acc_generalist": acc(gen_ok, cond), "conditional_acc_combined": acc(comb_ok, cond),
              "conditional_images": int(cond.sum()), "images": N,
              "images_with_active_specialist": int(active.any(1).sum())}
    table3["relative_top1_gain_pct"] = (100 * (table3["test_acc_combined"] - table3["test_acc_generalist"])
                                        / table3["test_acc_generalist"]) if table3["test_acc_generalist"] else \
        float("nan")  # no relative gain over a generalist that gets nothing right
    table4 = []
    for lo, hi, name in [(i, i, str(i)) for i in range(10)] + [(10, 10 ** 9, "10 or more")]:
        m = (covering >= lo) & (covering <= hi)
        n = int(m.sum())
        if n == 0 and lo > 0:
            continue
        table4.append({"covering": name, **_change(gen_ok, comb_ok, m)})
    # Table 4's row 0 holds two kinds of image: those no specialist is active for (never changed, by construction)
    # and those with an active specialist whose classes miss the true class (its dustbin can still move the answer)
    none_active = ~active.any(1)
    row0 = {"no_active_specialist": _change(gen_ok, comb_ok, none_active),
            "active_but_uncovered": _change(gen_ok, comb_ok, (covering == 0) & ~none_active)}
    return {"table3": table3, "table4": table4, "table4_row0": row0,
            "in_subset": in_subset_accuracy(p_general, labels, subsets, probs)}


def _change(gen_ok: torch.Tensor, comb_ok: torch.Tensor, m: torch.Tensor) -> dict:
    """A Table 4 row over the images m: counts, the change in correct answers, and its two directions."""
    base, new = int(gen_ok[m].sum()), int(comb_ok[m].sum())
    return {"images": int(m.sum()), "generalist_correct": base, "delta_correct": new - base,
            "wrong_to_right": int((~gen_ok[m] & comb_ok[m]).sum()), "right_to_wrong": int((gen_ok[m] & ~comb_ok[m]).sum()),
            "relative_change_pct": 100 * (new - base) / base if base else float("nan")}


def in_subset_accuracy(p_general: torch.Tensor, labels: torch.Tensor, subsets: list[list[int]],
                       probs: list[torch.Tensor]) -> dict:
    """How much better each specialist is than the generalist at its own job: over the test images whose true
    class is in S_m, the accuracy of the specialist's argmax over S_m (dustbin ignored) and of the generalist's
    argmax restricted to S_m. The combination can only gain where the first beats the second."""
    spec, gen, images = [], [], []
    for s, pm in zip(subsets, probs):
        classes = torch.as_tensor(s, device=labels.device)
        m = torch.isin(labels, classes)
        n = int(m.sum())
        images.append(n)
        if n == 0:
            spec.append(float("nan"))
            gen.append(float("nan"))
            continue
        y = labels[m]
        spec.append(100 * int((classes[pm[m, :-1].argmax(1)] == y).sum()) / n)
        gen.append(100 * int((classes[p_general[m][:, classes].argmax(1)] == y).sum()) / n)
    ok = [i for i, n in enumerate(images) if n]
    mean = lambda v: sum(v[i] for i in ok) / len(ok) if ok else float("nan")
    return {"specialist_acc": spec, "generalist_acc": gen, "images": images,
            "mean_specialist_acc": mean(spec), "mean_generalist_acc": mean(gen),
            "specialists_better": sum(spec[i] > gen[i] for i in ok)}
