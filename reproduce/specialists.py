"""Section 5's machinery, independent of any dataset (groundwork for the specialists chapter, issue 6):
clusters of confusable classes from the generalist's predictions, and the KL combination of a generalist with the
specialists that cover a test case's likely classes.
"""
from __future__ import annotations

import torch


def confusion_clusters(probs: torch.Tensor, k: int, iters: int = 50, seed: int = 0) -> torch.Tensor:
    """Cluster id of every class, (C,): k-means on the columns of the covariance matrix of the generalist's
    predicted probabilities (N, C) on held-out images. No true labels are used: classes the generalist often
    predicts together have similar columns (section 5.2)."""
    if not 1 <= k <= probs.shape[1]:
        raise ValueError(f"k={k} must be between 1 and the number of classes {probs.shape[1]}")
    p = probs - probs.mean(0, keepdim=True)
    cov = p.T @ p / max(1, probs.shape[0] - 1)                 # (C, C)
    cols = cov / cov.norm(dim=0, keepdim=True).clamp_min(1e-12)  # cosine geometry: scale of a class is irrelevant
    pts = cols.T                                                # one point per class
    g = torch.Generator(device="cpu").manual_seed(seed)
    centres = pts[torch.randperm(pts.shape[0], generator=g)[:k].to(pts.device)].clone()
    assign = torch.zeros(pts.shape[0], dtype=torch.long, device=pts.device)
    for _ in range(iters):
        assign = torch.cdist(pts, centres).argmin(1)
        sums = torch.zeros_like(centres).index_add_(0, assign, pts)
        counts = torch.bincount(assign, minlength=k).unsqueeze(1)
        centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)  # an empty cluster keeps its centre
    return assign


def combine(p_general: torch.Tensor, specialists: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
            steps: int = 500, lr: float = 1.0) -> torch.Tensor:
    """q = softmax(z) minimizing KL(p_g, q) + sum over active specialists m of KL(p_m, q_m) (section 5.4), for all
    N test cases at once by gradient descent on z from z = log p_g. The objective is a sum of cross-entropies in z
    (convex); each row's step is lr / (its total target mass, 1 + active specialists), which keeps plain gradient
    descent stable and leaves a row already at its optimum where it is.

    p_general: (N, C). Each specialist is (classes (S,) long, probs (N, S + 1) with the dustbin last, active (N,)
    bool). q_m is q over the specialist's classes plus the summed mass of every other class as its dustbin."""
    eps = 1e-12
    z = torch.log(p_general.clamp_min(eps)).clone().requires_grad_(True)
    mass = torch.ones(len(z), device=z.device)  # each row's total target mass: 1 + its active specialists
    for _, _, active in specialists:
        mass = mass + active.float()
    step = (lr / mass).unsqueeze(-1)
    for _ in range(steps):
        if z.grad is not None:
            z.grad.zero_()
        logq = torch.log_softmax(z, -1)
        loss = -(p_general * logq).sum(-1)  # KL up to the constant entropy of p_g
        for classes, pm, active in specialists:
            inside = logq[:, classes]
            q_in = inside.exp().sum(-1)
            log_dust = torch.log((1 - q_in).clamp_min(eps))
            loss = loss - active * ((pm[:, :-1] * inside).sum(-1) + pm[:, -1] * log_dust)
        loss.sum().backward()
        with torch.no_grad():
            z -= step * z.grad
    return torch.softmax(z.detach(), -1)
