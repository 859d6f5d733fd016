"""Phone error rate: Viterbi over frame posteriors with a phone bigram, this proxy's counterpart of the paper's WER
(issue 27 part 4).

A hybrid decoder (Bourlard & Morgan, 1994): each label (phone, state) is an HMM state whose scaled likelihood is the
frame posterior divided by the label's prior. Within a phone the states only move forward (0 -> 1 -> 2, with skips,
since a phone shorter than three frames skips states in the labels); leaving a phone enters the next one with the
bigram's probability. Everything the decoder knows (state transitions, exits, entries, the bigram, the priors) is
counted on the training labels only, and its two scales (the bigram's weight and the prior's exponent) are chosen on
validation utterances, never on test.

The error rate is the Levenshtein distance between the decoded and the reference phone sequences, silence left out
of both, over the number of reference phones. A phone segment starts where the phone changes or the state goes back,
in the reference and in the decoded path alike.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

STATES = 3
LM_WEIGHTS = (0.5, 1.0, 2.0, 4.0)  # the bigram's weight against the acoustic scores (validation grid)
PRIOR_SCALES = (0.0, 0.5, 1.0)     # exponent of the label prior divided out of the posteriors (validation grid)
NEG = -1e30


@dataclass
class PhoneModel:
    """Log probabilities counted on training labels: within[p, s, s'] (forward moves inside phone p), exit[p, s]
    (leaving p from state s), entry[q, s'] (the first state of q), bigram[p, q], start[q] (the utterance's first
    phone), prior[label]; silence is the phone index `silence` (or None)."""
    within: torch.Tensor
    exit: torch.Tensor
    entry: torch.Tensor
    bigram: torch.Tensor
    start: torch.Tensor
    prior: torch.Tensor
    silence: int | None

    @property
    def phones(self) -> int:
        return self.within.shape[0]


def _starts(phone: np.ndarray, state: np.ndarray) -> np.ndarray:
    """Whether each frame starts a phone segment: the phone changes or the state goes back."""
    new = np.ones(len(phone), bool)
    new[1:] = (phone[1:] != phone[:-1]) | (state[1:] < state[:-1])
    return new


def segments(labels: np.ndarray) -> np.ndarray:
    """Phone index of each phone segment of one utterance's frame labels (phone * 3 + state)."""
    labels = np.asarray(labels)
    phone = labels // STATES
    return phone[_starts(phone, labels % STATES)]


def utterances(frame_utt: np.ndarray) -> list[slice]:
    """Slices of consecutive frames of one utterance (frames of a split are in utterance order)."""
    frame_utt = np.asarray(frame_utt)
    cut = np.flatnonzero(np.diff(frame_utt)) + 1
    edges = np.concatenate([[0], cut, [len(frame_utt)]])
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def fit(labels: np.ndarray, frame_utt: np.ndarray, n_labels: int, silence: int | None = None,
        smoothing: float = 0.5) -> PhoneModel:
    """Count the phone model on training frames (labels in utterance order, frame_utt their utterances)."""
    n_phones = n_labels // STATES
    within = np.zeros((n_phones, STATES, STATES))
    leave = np.zeros((n_phones, STATES))
    entry = np.zeros((n_phones, STATES))
    bigram = np.zeros((n_phones, n_phones))
    start = np.zeros(n_phones)
    labels = np.asarray(labels)
    for sl in utterances(frame_utt):
        lab = labels[sl]
        phone, state = lab // STATES, lab % STATES
        new = _starts(phone, state)
        stay = ~new[1:]
        np.add.at(within, (phone[:-1][stay], state[:-1][stay], state[1:][stay]), 1)
        heads = np.flatnonzero(new)
        np.add.at(entry, (phone[heads], state[heads]), 1)
        np.add.at(leave, (phone[heads[1:] - 1], state[heads[1:] - 1]), 1)
        seg = phone[heads]
        np.add.at(bigram, (seg[:-1], seg[1:]), 1)
        start[seg[0]] += 1
    forward = np.triu(np.ones((STATES, STATES), bool))
    within = np.where(forward, within + smoothing, 0.0)
    leave = leave + smoothing
    total = within.sum(-1) + leave  # every way out of (p, s): a forward move or leaving the phone
    with np.errstate(divide="ignore"):
        log_within = np.where(forward, np.log(within / total[..., None]), NEG)
    entry = entry + smoothing
    bigram = bigram + smoothing
    start = start + smoothing
    counts = np.bincount(labels, minlength=n_labels).astype(float) + smoothing
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return PhoneModel(t(log_within), t(np.log(leave / total)), t(np.log(entry / entry.sum(-1, keepdims=True))),
                      t(np.log(bigram / bigram.sum(-1, keepdims=True))), t(np.log(start / start.sum())),
                      t(np.log(counts / counts.sum())), silence)


def viterbi(log_post: torch.Tensor, lengths: list[int], pm: PhoneModel, lm_weight: float, prior_scale: float
            ) -> list[np.ndarray]:
    """The best label path of each utterance. log_post: (U, T, labels) frame log posteriors, padded past each
    utterance's length. The phone structure keeps a step at O(U (P^2 + P S^2)) rather than O(U (P S)^2)."""
    U, T, L = log_post.shape
    P = pm.phones
    emit = (log_post - prior_scale * pm.prior).view(U, T, P, STATES)
    lengths_t = torch.as_tensor(lengths)
    enter_cost = lm_weight * pm.bigram  # (P, Q)
    delta = (lm_weight * pm.start[:, None] + pm.entry + emit[:, 0]).clone()  # (U, P, S)
    back = torch.zeros(U, T, P, STATES, dtype=torch.int16)
    own = torch.arange(P * STATES, dtype=torch.int16).view(P, STATES)
    phone_base = (torch.arange(P) * STATES)[None, :]
    for t in range(1, T):
        stay_score, stay_from = (delta[..., :, None] + pm.within).max(dim=2)  # (U, P, S'): from state s of p
        exit_score, exit_state = (delta + pm.exit).max(dim=2)                # (U, P)
        enter_score, enter_from = (exit_score[:, :, None] + enter_cost).max(dim=1)  # (U, Q): from phone p
        cross = enter_score[:, :, None] + pm.entry                           # (U, Q, S')
        cross_from = (enter_from * STATES + exit_state.gather(1, enter_from))[:, :, None].expand(-1, -1, STATES)
        take_cross = cross > stay_score
        best = torch.where(take_cross, cross, stay_score) + emit[:, t]
        frm = torch.where(take_cross, cross_from, phone_base[..., None] + stay_from)
        alive = (t < lengths_t)[:, None, None]
        delta = torch.where(alive, best, delta)
        back[:, t] = torch.where(alive, frm.to(torch.int16), own)
    # backtrace all utterances at once: delta stopped changing at each one's last frame, and its padded steps
    # point to themselves, so every path can start from the last step
    flat_back = back.view(U, T, P * STATES)
    rows = torch.arange(U)
    state = delta.view(U, -1).argmax(-1)
    path = torch.empty(U, T, dtype=torch.int64)
    for t in range(T - 1, -1, -1):
        path[:, t] = state
        state = flat_back[rows, t, state].long()
    return [path[u, :n].numpy() for u, n in enumerate(lengths)]


def edit_distance(a: np.ndarray, b: np.ndarray) -> int:
    """Levenshtein distance (substitutions, insertions, deletions of one phone each cost 1)."""
    a, b = np.asarray(a), np.asarray(b)
    row = np.arange(len(b) + 1)
    cols = np.arange(len(b) + 1)
    for i in range(1, len(a) + 1):
        best = np.concatenate([[i], np.minimum(row[:-1] + (b != a[i - 1]), row[1:] + 1)])
        # insertions chain along the row: row[j] = min over k <= j of best[k] + (j - k)
        row = np.minimum.accumulate(best - cols) + cols
    return int(row[-1])


def _phones(labels: np.ndarray, silence: int | None) -> np.ndarray:
    seg = segments(labels)
    return seg if silence is None else seg[seg != silence]


def error_rate(log_post: torch.Tensor, labels: np.ndarray, frame_utt: np.ndarray, pm: PhoneModel,
               lm_weight: float, prior_scale: float, batch_frames: int = 400_000) -> float:
    """Phone error rate (%) of frame log posteriors (N, labels) of a split whose frames are in utterance order."""
    spans = utterances(frame_utt)
    order = sorted(range(len(spans)), key=lambda i: spans[i].stop - spans[i].start)  # similar lengths padded together
    errors = ref_total = 0
    i = 0
    while i < len(order):
        group = [order[i]]
        i += 1
        while i < len(order) and (spans[order[i]].stop - spans[order[i]].start) * (len(group) + 1) <= batch_frames:
            group.append(order[i])
            i += 1
        longest = spans[group[-1]].stop - spans[group[-1]].start
        lengths = [spans[g].stop - spans[g].start for g in group]
        batch = torch.full((len(group), longest, log_post.shape[1]), 0.0)
        for k, g in enumerate(group):
            batch[k, : lengths[k]] = log_post[spans[g]]
        for g, path in zip(group, viterbi(batch, lengths, pm, lm_weight, prior_scale)):
            ref = _phones(labels[spans[g]], pm.silence)
            errors += edit_distance(_phones(path, pm.silence), ref)
            ref_total += len(ref)
    return 100.0 * errors / max(1, ref_total)


def choose_scales(log_post_val: torch.Tensor, labels_val: np.ndarray, utt_val: np.ndarray, pm: PhoneModel
                  ) -> dict:
    """The (lm_weight, prior_scale) of lowest validation phone error rate, with the grid's rates."""
    grid = {(w, s): error_rate(log_post_val, labels_val, utt_val, pm, w, s) for w in LM_WEIGHTS for s in PRIOR_SCALES}
    (w, s), per = min(grid.items(), key=lambda kv: kv[1])
    return {"lm_weight": w, "prior_scale": s, "val_per": per,
            "grid": [{"lm_weight": a, "prior_scale": b, "val_per": r} for (a, b), r in grid.items()]}
