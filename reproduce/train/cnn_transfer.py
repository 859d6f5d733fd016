"""A CNN distilled from a table of target distributions on a fixed transfer set (section 7's open question: the
generalist and its specialists distilled back into one net).

The generalist and the specialists train on images drawn afresh every step, so their soft targets are computed on
the batch (CNNTrainer's online teacher). A combined posterior is not: each image's q comes out of an optimization
(specialist_ensembles.combine) over all of its active specialists, far too slow to run on every batch. So the
student learns from a fixed set of augmented draws of the training images (image_sets.fixed_draws), each with its q
computed once, and sees those images as they are (no augmentation on top: its targets belong to these very pixels).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .cnn_trainer import CNNTrainer
from .trainer import Trainer

CODE = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


class TransferCNNTrainer(CNNTrainer):
    """CNNTrainer whose members learn from teacher_logits (E or 1, N, C), a table over the N transfer images (log
    probabilities serve: softmax(log q / 1) = q at temperature 1), with the hard labels at cfg.hard_weight; member e
    goes through the transfer set in its own order, one epoch at a time, like the core's MLPs."""

    _setup_distill = Trainer._setup_distill  # the table of logits, not CNNTrainer's online teacher

    def _fingerprint_extra(self) -> dict:
        return {**super()._fingerprint_extra(), "transfer": CODE}

    def _loss(self):
        idx = self.perm[:, self.step_in_epoch * self.B + self.arange_b]  # (E, B)
        return self._head_loss(self.model(self.train.batch(idx)), idx)  # one gather: (E, B, C, H, W)
