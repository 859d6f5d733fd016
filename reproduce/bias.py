"""Bias correction for classes a transfer set left out (section 3): shift some classes' logits (equivalently
their output biases) by s, and count errors as a function of s."""
from __future__ import annotations

from typing import Sequence

import torch


def shifted_predictions(logits: torch.Tensor, classes: Sequence[int], shift: float) -> torch.Tensor:
    """argmax of logits (..., C) after adding `shift` to the logits of `classes`."""
    z = logits.clone()
    z[..., list(classes)] += shift
    return z.argmax(-1)


def sweep(logits: torch.Tensor, labels: torch.Tensor, classes: Sequence[int], shifts: torch.Tensor,
          chunk: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Errors (E, S) over all examples, and errors (E, S) on examples whose label is in `classes`.

    logits (E, N, C), labels (N,), shifts (S,): one row per member, one column per shift.
    """
    E, N, C = logits.shape
    add = torch.zeros(C, dtype=logits.dtype, device=logits.device)
    add[list(classes)] = 1.0
    on = torch.isin(labels, torch.as_tensor(list(classes), device=labels.device))
    total, special = [], []
    for start in range(0, len(shifts), chunk):
        s = shifts[start:start + chunk].to(logits.dtype).to(logits.device)
        pred = (logits.unsqueeze(1) + s.view(1, -1, 1, 1) * add).argmax(-1)  # (E, s, N)
        wrong = pred != labels
        total.append(wrong.sum(-1))
        special.append((wrong & on).sum(-1))
    return torch.cat(total, 1), torch.cat(special, 1)


def best_shift(errors: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Per member (row), the shift with the fewest errors; among ties, the one nearest the middle of the tied run
    nearest zero, so a flat optimum does not pick an arbitrary edge."""
    out = []
    for row in errors:
        best = row.min()
        idx = torch.nonzero(row == best).flatten()
        # split the tied indices into contiguous runs; take the run containing the smallest |shift|, then its middle
        runs, cur = [], [int(idx[0])]
        for i in idx[1:].tolist():
            if i == cur[-1] + 1:
                cur.append(i)
            else:
                runs.append(cur)
                cur = [i]
        runs.append(cur)
        run = min(runs, key=lambda r: float(shifts[r].abs().min()))
        out.append(shifts[run[len(run) // 2]])
    return torch.stack(out)


def prior_matched_shift(logits: torch.Tensor, classes: Sequence[int], prior: float, shifts: torch.Tensor,
                        chunk: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Per member, the shift on the grid that brings the mean predicted probability of `classes` (summed) over the
    images of `logits` (E, N, C) closest to `prior`, their share of the training labels: a correction that reads no
    label of the images it is applied to. Returns (shifts (E,), the mean probability at each grid shift (E, S))."""
    E, N, C = logits.shape
    add = torch.zeros(C, dtype=logits.dtype, device=logits.device)
    add[list(classes)] = 1.0
    mass = []
    for start in range(0, len(shifts), chunk):
        s = shifts[start:start + chunk].to(logits.dtype).to(logits.device)
        p = torch.softmax(logits.unsqueeze(1) + s.view(1, -1, 1, 1) * add, -1)  # (E, s, N, C)
        mass.append(p[..., list(classes)].sum(-1).mean(-1))
    mass = torch.cat(mass, 1)
    return shifts[(mass - prior).abs().argmin(1)], mass


def confusion(pred: torch.Tensor, labels: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    return torch.bincount(labels * n_classes + pred, minlength=n_classes * n_classes).view(n_classes, n_classes)
