"""The "consistent teacher" variant of distillation (Beyer et al. 2021, "a good teacher is patient and consistent"):
the student trains on jittered views of the transfer images, and its soft targets are the teacher's logits on the
very view it sees at that step, not a table of the teacher's logits on the unjittered images.

It is NOT the paper's recipe (the paper's distilled MNIST net never saw a jittered image); the MNIST chapter shows it
beside the faithful one, labelled as such. Each student member e learns from teacher member e mod E_teacher, whose
forward pass (no dropout, no gradient) runs on the student's batch every step, so a step costs a teacher forward
on top of the student's step.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from ..errors import UserError
from .fingerprint import tensor_digest
from .loss import distillation_loss
from .mlp import BatchedMLP
from .trainer import Trainer

# with the core's CODE_DIGEST (in Trainer's fingerprint): a change here never resumes an old run
CODE = hashlib.sha256((Path(__file__).parent / "consistent.py").read_bytes()).hexdigest()[:12]


class ConsistentTeacherTrainer(Trainer):
    """Trainer whose soft targets come from `teacher` (a trained BatchedMLP) run on each step's own inputs."""

    def __init__(self, cfg, seeds, train, test=None, *, teacher: BatchedMLP, **kw):
        if cfg.temperature is None:
            raise UserError("the consistent-teacher variant distils: set the recipe's temperature")
        if not cfg.jitter:
            raise UserError("the consistent-teacher variant is about jittered views: set the recipe's jitter (px)")
        if cfg.input_dropout or cfg.hidden_dropout:
            raise UserError("the consistent-teacher student takes no dropout (its teacher sees its exact inputs)")
        self.online_teacher = teacher
        n_classes = teacher.sizes[-1]
        # the base class keys checkpoints by a table of teacher logits; here the teacher's weights stand for it
        placeholder = torch.zeros(1, 1, n_classes, device=train.device)
        super().__init__(cfg, seeds, train, test, teacher_logits=placeholder, **kw)

    def _setup_distill(self, teacher_logits, temperatures, hard_weights):
        super()._setup_distill(teacher_logits, temperatures, hard_weights)
        sel = torch.arange(self.E, device=self.device) % self.online_teacher.n_models
        # each student member's teacher, gathered once into a model of E members (the teacher never changes)
        view = BatchedMLP(self.online_teacher.sizes, [torch.Generator(device=self.device) for _ in range(self.E)],
                          self.device)
        with torch.no_grad():
            for dst, src in zip(view.parameters(), self.online_teacher.parameters()):
                dst.copy_(src[sel])
        self._teacher = view.requires_grad_(False)

    def _fingerprint_extra(self) -> dict:
        weights = torch.cat([p.detach().flatten() for p in self.online_teacher.parameters()])
        return {"online_teacher": tensor_digest(weights), "consistent_code": CODE}

    @torch.no_grad()
    def teacher_logits_on(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (E, B, C) of each member's teacher on that member's inputs x (E, B, in), no dropout."""
        return self._teacher(x)

    def _loss(self):
        x, masks, idx = self._batch()
        y = self.train.labels[idx]
        return distillation_loss(self.model(x, masks), self.teacher_logits_on(x), y, self.temperature,
                                 self.hard_weight, per_member=True)
