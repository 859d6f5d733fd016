"""The distillation objective of section 2 of the paper.

For logits z of the student, logits v of the teacher, temperature T and hard-label weight a:

    loss = (1 - a) * T^2 * KL(softmax(v / T) || softmax(z / T)) + a * CE(onehot(y), softmax(z))

KL(p || q) = sum_i p_i (log p_i - log q_i) is the paper's soft-target cross-entropy minus the teacher's
entropy, a constant: the gradients are identical, and the loss reads 0 when the student matches. Both
terms are summed over classes and AVERAGED over the batch; with a leading model
axis (E, B, C) the per-member averages are SUMMED over members, so each member's gradient does not
depend on how many members share the batched model. The T^2 factor keeps the soft term's gradient
magnitude independent of T (it scales as 1/T^2, section 2). T and a may be per-member tensors (E,).
"""
from __future__ import annotations

import torch


def soft_cross_entropy(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature) -> torch.Tensor:
    """Per-member CE between softmax(v/T) and softmax(z/T), averaged over the batch: shape (E,) or ()."""
    T = _per_member(temperature, student_logits)
    p = torch.softmax(teacher_logits / T, dim=-1)
    return -(p * torch.log_softmax(student_logits / T, dim=-1)).sum(-1).mean(-1)


def soft_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature) -> torch.Tensor:
    """Per-member KL(softmax(v/T) || softmax(z/T)), averaged over the batch: shape (E,) or ()."""
    T = _per_member(temperature, student_logits)
    logp = torch.log_softmax(teacher_logits / T, dim=-1)
    return (logp.exp() * (logp - torch.log_softmax(student_logits / T, dim=-1))).sum(-1).mean(-1)


def hard_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-member CE against integer labels at T = 1, averaged over the batch: shape (E,) or ()."""
    logp = torch.log_softmax(logits, dim=-1)
    return -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1).mean(-1)


def distillation_loss(student_logits, teacher_logits, labels, temperature, hard_weight,
                      per_member: bool = False) -> torch.Tensor:
    """(1 - a) T^2 CE_soft(T) + a CE_hard(T=1); summed over members unless per_member."""
    T = _per_member(temperature, student_logits).squeeze(-1).squeeze(-1)
    a = _per_member(hard_weight, student_logits).squeeze(-1).squeeze(-1)
    loss = (1 - a) * T * T * soft_kl(student_logits, teacher_logits, temperature)
    loss = loss + a * hard_cross_entropy(student_logits, labels)
    return loss if per_member else loss.sum()


def _per_member(value, like: torch.Tensor) -> torch.Tensor:
    """A scalar or (E,) value as a tensor broadcastable against (E, B, C) logits."""
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if t.ndim == 1 and like.ndim == 3:
        t = t.view(-1, 1, 1)
    return t
