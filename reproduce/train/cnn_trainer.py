"""The core's Trainer for E small CNNs on augmented images: a generalist's seeds, or all specialists at once.

It keeps everything the core gives (device-resident data, one optimizer step for all members, per-member
generators, schedules as device tensors, CUDA-graph capture, checkpoints and resume) and changes what a step sees:
- each member draws its own batch from the ImagePool with its own generator, either in epochs (its own permutation,
  like the core) or, for a specialist, half from its class subset and half from the rest (SubsetSampler);
- each member may relabel the classes (a specialist's classes, and the dustbin for all the others);
- a member may start from given weights (a specialist from the generalist) and may distil from an online teacher
  (the generalist run on the same augmented batch: the images are new every step, so no table of logits exists);
- early stopping: on a fixed validation draw of each member's own task, each member's best weights are kept and
  restored at the end.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..errors import UserError
from .cnn import BatchedCNN
from .config import TrainConfig
from .fingerprint import tensor_digest
from .loss import distillation_loss, hard_cross_entropy
from .trainer import Trainer

# with the core's CODE_DIGEST (in Trainer's fingerprint) and the image pool's own code digest (in its digest())
CODE = hashlib.sha256(b"".join((Path(__file__).parent / f).read_bytes()
                               for f in ("cnn_trainer.py", "cnn.py"))).hexdigest()[:12]


class SubsetSampler:
    """Member e's batch: half drawn uniformly from the pool images whose class is in subsets[e], half from the rest.
    Index tables padded to a common width live on the device, so a draw is a gather without host syncs."""

    def __init__(self, labels: torch.Tensor, subsets: Sequence[Sequence[int]], n_classes: int):
        dev = labels.device
        member = torch.zeros(len(subsets), n_classes, dtype=torch.bool)
        for e, s in enumerate(subsets):
            member[e, list(s)] = True
        inside = member[:, labels.cpu()]  # (E, M)
        self.n_in = inside.sum(1)
        self.n_out = (~inside).sum(1)
        if bool((self.n_in == 0).any()) or bool((self.n_out == 0).any()):
            raise UserError("every specialist needs training images both inside and outside its classes")
        self.fraction = (self.n_in.double() / labels.numel()).tolist()  # natural share of each subset
        self.in_table = _padded([torch.nonzero(r).squeeze(1) for r in inside]).to(dev)
        self.out_table = _padded([torch.nonzero(~r).squeeze(1) for r in inside]).to(dev)
        self.n_in_f, self.n_out_f = self.n_in.float().to(dev), self.n_out.float().to(dev)
        self.digest = hashlib.sha256(repr([sorted(map(int, s)) for s in subsets]).encode()).hexdigest()[:16]

    def draw(self, e: int, generator: torch.Generator, batch: int) -> torch.Tensor:
        half = batch // 2
        u = torch.rand(batch, device=self.in_table.device, generator=generator)
        i_in = (u[:half] * self.n_in_f[e]).long()
        i_out = (u[half:] * self.n_out_f[e]).long()
        return torch.cat([self.in_table[e, i_in], self.out_table[e, i_out]])

    def balanced(self, e: int, k: int, rng: np.random.Generator) -> np.ndarray:
        """k indices into the pool, half inside member e's subset and half outside (for a fixed validation draw)."""
        a = self.in_table[e, : int(self.n_in[e])].cpu().numpy()
        b = self.out_table[e, : int(self.n_out[e])].cpu().numpy()
        return np.concatenate([rng.choice(a, k // 2), rng.choice(b, k - k // 2)])


def _padded(rows: list[torch.Tensor]) -> torch.Tensor:
    width = max(len(r) for r in rows)
    out = torch.zeros(len(rows), width, dtype=torch.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


class CNNTrainer(Trainer):
    """Trainer with a BatchedCNN (arch: {"channels": [...], "hidden": n}) with n_out outputs per member.

    label_map (E, C) long: member e's target for true class c (None: the class itself). out_mask (E, n_out): 0 for
    real outputs, -1e9 for padding. init(model): sets the starting weights, init_digest names them. teacher: a
    BatchedCNN with one member whose logits on the same batch are the soft targets (recipes with a temperature).
    early_stop: (FixedImages, (E, K) indices into it, (E, K) labels already mapped): validation loss at each
    evaluation; each member's best weights are restored at the end."""

    def __init__(self, cfg: TrainConfig, seeds, train, arch: dict, n_out: int,
                 test=None, *, sampler: SubsetSampler | None = None,
                 label_map: torch.Tensor | None = None, out_mask: torch.Tensor | None = None,
                 init: Callable[[BatchedCNN], None] | None = None, init_digest: str | None = None,
                 teacher: BatchedCNN | None = None, early_stop: tuple | None = None, **kw):
        if cfg.precision != "fp32":
            raise UserError(f"precision={cfg.precision!r}: bf16 products are implemented for the MLP recipes only "
                            "(reproduce/train/precision.py); the CNN recipes train in fp32")
        if cfg.input_dropout or cfg.hidden_dropout or cfg.jitter or cfg.max_norm:
            raise UserError("the CNN recipes take no dropout, jitter or max-norm (augmentation is the image pool's)")
        self.arch, self.n_out, self.sampler = dict(arch), int(n_out), sampler
        self.label_map = None if label_map is None else label_map.to(train.device)
        self.out_mask, self.init, self.init_digest = out_mask, init, init_digest
        self.online_teacher, self.early = teacher, early_stop
        E = len(seeds)
        for name, t in (("label_map", label_map), ("out_mask", out_mask)):
            if t is not None and t.shape[0] != E:
                raise ValueError(f"{name} has {t.shape[0]} rows for {E} members")
        top = int(train.labels.max()) if label_map is None else int(label_map.max())
        if top >= n_out:
            raise ValueError(f"targets go up to {top} but the model has {n_out} outputs; pass a label_map")
        if sampler is not None and sampler.in_table.shape[0] != E:
            raise ValueError(f"the sampler has {sampler.in_table.shape[0]} subsets for {E} members")
        super().__init__(cfg, seeds, train, test, **kw)

    def _build_model(self) -> BatchedCNN:
        x = self.train.images
        m = BatchedCNN(self.arch["channels"], self.arch["hidden"], self.n_out, x.shape[-1], self.gens, self.device,
                       in_channels=x.shape[1], rows=self.B)
        if self.init is not None:
            with torch.no_grad():
                self.init(m)
        if self.out_mask is not None:
            m.out_mask = self.out_mask.to(self.device).view(self.E, 1, self.n_out)
        return m

    def _setup_distill(self, teacher_logits, temperatures, hard_weights):
        if self.online_teacher is None:
            raise ValueError("a CNN distillation recipe needs teacher= (a one-member BatchedCNN)")
        self.online_teacher.eval()
        self.temperature = torch.tensor([float(self.cfg.temperature)] * self.E, device=self.device)
        self.hard_weight = torch.tensor([float(self.cfg.hard_weight)] * self.E, device=self.device)

    def _alloc_randoms(self):
        if self.early is not None:
            self.early_data, idx, labels = self.early
            self._val_idx, self._val_y = idx.to(self.device), labels.to(self.device)
            self.best_loss = torch.full((self.E,), float("inf"), device=self.device)
            self.best = [p.detach().clone() for p in self.model.parameters()]

    def _fingerprint_extra(self) -> dict:
        return {"cnn": CODE, "arch": self.arch, "n_out": self.n_out,
                "sampler": None if self.sampler is None else self.sampler.digest,
                "label_map": tensor_digest(self.label_map), "out_mask": tensor_digest(self.out_mask),
                "init": self.init_digest,
                "online_teacher": None if self.online_teacher is None else
                tensor_digest(torch.cat([p.detach().flatten() for p in self.online_teacher.parameters()])),
                "early_stop": None if self.early is None else [self.early[0].digest(), *(tensor_digest(t) for t in self.early[1:])]}

    def _draw(self):
        pass  # every random draw happens in _loss, member by member, from the member's generator

    def _loss(self):
        xs, idxs = [], []
        for e, g in enumerate(self.gens):
            if self.sampler is None:
                idx = self.perm[e, self.step_in_epoch * self.B + self.arange_b]
            else:
                idx = self.sampler.draw(e, g, self.B)
            xs.append(self.train.draw(idx, g))
            idxs.append(idx)
        x, idx = torch.stack(xs), torch.stack(idxs)  # (E, B, C, H, W), (E, B)
        y = self.train.labels[idx]
        if self.label_map is not None:
            y = self.label_map.gather(1, y)
        logits = self.model(x)
        if not self.distill:
            return hard_cross_entropy(logits, y)
        with torch.no_grad():
            soft = self.online_teacher(x.reshape(1, -1, *x.shape[2:])).view(self.E, self.B, -1)
        return distillation_loss(logits, soft, y, self.temperature, self.hard_weight, per_member=True)

    # -- early stopping -----------------------------------------------------------------------------------
    @torch.no_grad()
    def validation_loss(self) -> torch.Tensor:
        """Per-member cross-entropy on its fixed validation draw (E,)."""
        total = torch.zeros(self.E, device=self.device)
        K = self._val_idx.shape[1]
        for s in range(0, K, 256):
            i = self._val_idx[:, s:s + 256]
            total += hard_cross_entropy(self.model(self.early_data.batch(i)), self._val_y[:, s:s + 256]) * i.shape[1]
        return total / K

    def _on_eval(self, point: dict) -> None:
        if self.early is None:
            return
        loss = self.validation_loss()
        point["val_loss"] = loss.tolist()
        better = loss < self.best_loss
        self.best_loss = torch.where(better, loss, self.best_loss)
        with torch.no_grad():
            for b, p in zip(self.best, self.model.parameters()):
                bv, pv = b.view(self.E, -1), p.detach().view(self.E, -1)
                bv.copy_(torch.where(better.view(-1, 1), pv, bv))

    def _extra_state(self) -> list:
        return [] if self.early is None else [self.best_loss, *self.best]

    def _load_extra_state(self, tensors: list) -> None:
        if self.early is not None and tensors:
            with torch.no_grad():
                for t, s in zip([self.best_loss, *self.best], tensors):
                    t.copy_(s)

    def _finish(self) -> None:
        if self.early is not None:
            with torch.no_grad():
                for p, b in zip(self.model.parameters(), self.best):
                    p.copy_(b)
