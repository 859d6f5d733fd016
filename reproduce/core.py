"""The training core: E models trained as ONE batched model on device-resident data.

Why this shape (airbench / hlb-CIFAR10 style):
- the whole dataset lives on the device as uint8; batches are sampled, jittered and dropped out there,
  so the hot loop has no DataLoader, no host copies and (on CUDA) no host syncs inside an epoch;
- weights carry a leading model axis (E, fan_in, fan_out) and every layer is one `torch.baddbmm`, so an
  ensemble, a seed sweep or a temperature sweep costs one optimizer step for all members;
- every member owns a torch.Generator seeded from its own seed, which draws its initialization, its data
  order, its jitter and its dropout masks: in exact arithmetic member e's run depends on its seed alone, not on E
  or on the other members, so members can be sharded across processes. In floating point it holds bit for bit
  where a member's products go through oneDNN one member at a time (large MLPs on CPU, on Intel and AMD alike),
  and to float rounding where they go through one batched MKL product (small MLPs on CPU): MKL may block a batch
  of 3 differently from a batch of 1 (it does on Intel Xeons; not on the AMD EPYC of the records), and training
  carries that last-bit difference along. tests/test_core.py checks it against a tolerance measured on the CPU
  at hand (tests/tolerances.py: MEMBER_REL_DIFF);
- schedules are device tensors indexed by a device step counter, which lets CUDA capture the whole step
  (sample, augment, forward, backward, SGD, max-norm) in one CUDA graph;
- on CPU, where a step is a few large GEMMs and everything else is memory traffic, the MLP's forward and backward
  are written by hand into buffers allocated once (no autograd graph, no fresh activation or gradient tensors, no
  zero-fill-and-accumulate), and SGD and max-norm make one pass per tensor; the gradients are autograd's (tested);
  a large MLP's products go through oneDNN, member by member, where MKL's path is slower (cpu_gemm.py).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from . import cpu_gemm
from .distill import distillation_loss, hard_cross_entropy
from .errors import UserError, env_number, is_int, is_number
from .io import atomic_write

PAD = 2  # images are stored padded by this many pixels so that jitter is a pure gather
# Checkpoints are keyed by the code that trains, too: a change to the core or the loss never resumes an old run.
CODE_DIGEST = hashlib.sha256(b"".join((Path(__file__).parent / f).read_bytes()
                                      for f in ("core.py", "distill.py", "cpu_gemm.py"))).hexdigest()[:12]


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; asking for CUDA without one is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device={name!r} was asked for but no CUDA GPU is visible to torch "
                        f"{torch.__version__}; use device='cpu' or 'auto'")
    if name != "cpu" and not name.startswith("cuda"):
        raise UserError(f"unknown device {name!r}; allowed: 'auto', 'cpu', 'cuda', 'cuda:N'")
    return torch.device(name)


# ----------------------------------------------------------------------------------------------------
# Data resident on the device
# ----------------------------------------------------------------------------------------------------
class DeviceImages:
    """uint8 images padded by PAD pixels and flattened, plus int64 labels, on the device."""

    def __init__(self, images_u8, labels, device: torch.device):
        x = torch.as_tensor(images_u8)
        n, h, w = x.shape
        self.n, self.h, self.w = n, h, w
        self.side = h + 2 * PAD
        padded = torch.zeros(n, self.side, self.side, dtype=torch.uint8)
        padded[:, PAD:PAD + h, PAD:PAD + w] = x
        self.pixels = padded.reshape(n, -1).to(device)
        self.labels = torch.as_tensor(labels, dtype=torch.int64).to(device)
        rows = torch.arange(h, device=device).view(h, 1) * self.side
        self._grid = (rows + torch.arange(w, device=device).view(1, w)).reshape(-1)  # (h*w,)
        self.device = device
        self._digest = None

    def digest(self) -> str:
        """A short hash of the images and labels (part of checkpoint fingerprints)."""
        if self._digest is None:
            self._digest = config_fingerprint([_tensor_digest(self.pixels), _tensor_digest(self.labels)])
        return self._digest

    def crop(self, idx: torch.Tensor, offsets: torch.Tensor | None = None) -> torch.Tensor:
        """Float images (..., h*w) in [0, 1] for indices idx (...), shifted by offsets (..., 2) in [0, 2*PAD]."""
        # (..., side*side) uint8; index_select gathers whole rows ~10x faster than advanced indexing on CPU
        rows = self.pixels.index_select(0, idx.reshape(-1)).view(*idx.shape, -1)
        if offsets is None:
            shift = PAD * self.side + PAD
        else:
            shift = (offsets[..., 0] * self.side + offsets[..., 1]).unsqueeze(-1)
        pos = (self._grid + shift).expand(*idx.shape, -1) if offsets is None else self._grid + shift
        return rows.gather(-1, pos).to(torch.float32).div_(255.0)


# ----------------------------------------------------------------------------------------------------
# The batched model
# ----------------------------------------------------------------------------------------------------
class BatchedMLP(torch.nn.Module):
    """E independent ReLU MLPs sizes[0]-...-sizes[-1] with weights (E, fan_in, fan_out)."""

    def __init__(self, sizes: Sequence[int], generators: Sequence[torch.Generator], device: torch.device):
        super().__init__()
        self.sizes = tuple(int(s) for s in sizes)
        E = len(generators)
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            # PyTorch's nn.Linear default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn per member from its own stream
            bound = 1.0 / math.sqrt(fan_in)
            w = torch.empty(E, fan_in, fan_out, device=device)
            b = torch.empty(E, 1, fan_out, device=device)
            for e, g in enumerate(generators):
                w[e].uniform_(-bound, bound, generator=g)
                b[e].uniform_(-bound, bound, generator=g)
            self.weights.append(torch.nn.Parameter(w))
            self.biases.append(torch.nn.Parameter(b))
        # the CPU path's products: oneDNN (member by member) or MKL (one bmm for all members); see cpu_gemm
        self.onednn = device.type == "cpu" and cpu_gemm.use_onednn(self.sizes)

    @property
    def n_models(self) -> int:
        return self.weights[0].shape[0]

    def forward(self, x: torch.Tensor, hidden_masks: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """x (E, B, in) -> logits (E, B, out); hidden_masks[i] (already scaled by 1/keep) multiplies hidden layer i."""
        h = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.relu(h)
                if hidden_masks is not None:
                    h = h * hidden_masks[i]
        return h

    # -- the CPU training path: forward and backward by hand into buffers allocated once ------------------
    # On CPU every fresh activation or gradient tensor is new memory (page faults) and every zero-fill or
    # accumulate is another pass over the weights; autograd does both each step. The math is autograd's: the same
    # baddbmm / bmm products in the same order (tests check the gradients against autograd's).
    def _buffer(self, key, shape) -> torch.Tensor:
        """A work tensor kept between steps (also max-norm's, on every device)."""
        bufs = self.__dict__.setdefault("_step_buffers", {})
        t = bufs.get(key)
        if t is None or t.shape != shape:
            t = bufs[key] = torch.empty(shape, device=self.weights[0].device)
        return t

    @torch.no_grad()
    def forward_for_backward(self, x: torch.Tensor, hidden_masks: Sequence[torch.Tensor] | None = None):
        """forward(), keeping each layer's input for backward_into(); returns fresh logits (E, B, out)."""
        if self.onednn:
            return self._forward_for_backward_onednn(x, hidden_masks)
        E, B = x.shape[0], x.shape[1]
        self._saved, self._masks = [x], hidden_masks
        h = x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            if i == last:
                return torch.baddbmm(b, h, w)
            h = torch.baddbmm(b, h, w, out=self._buffer(("h", i), (E, B, w.shape[2])))
            h.clamp_(min=0)
            if hidden_masks is not None:
                h.mul_(hidden_masks[i])
            self._saved.append(h)

    @torch.no_grad()
    def backward_into(self, grad_logits: torch.Tensor, momentum: float | None = None, bufs=None) -> None:
        """Gradients of the loss whose d/dlogits is grad_logits, written into each parameter's .grad; or, given SGD's
        momentum buffers `bufs` (in parameters() order) and the step's `momentum`, bufs = momentum * bufs + gradient
        with .grad untouched: the weight GEMM accumulates into its buffer, which saves writing a weight-sized
        gradient and reading it back (on CPU, this step is bound by passes over the weights)."""
        if self.onednn:
            return self._backward_into_onednn(grad_logits, momentum, bufs)
        g = grad_logits
        n = len(self.weights)
        for i in range(n - 1, -1, -1):
            w, b, a = self.weights[i], self.biases[i], self._saved[i]
            if bufs is not None:
                bufs[i].baddbmm_(a.transpose(1, 2), g, beta=momentum)
                bufs[n + i].mul_(momentum).add_(g.sum(1, keepdim=True))
            else:
                self._ensure_grads(w, b)
                torch.bmm(a.transpose(1, 2), g, out=w.grad)
                torch.sum(g, dim=1, keepdim=True, out=b.grad)
            if i == 0:
                break
            gh = torch.bmm(g, w.transpose(1, 2), out=self._buffer(("g", i), a.shape))
            if self._masks is not None:
                gh.mul_(self._masks[i - 1])
            # ReLU's backward as autograd's (a is relu(.) x mask, zero wherever either is), in place; on CPU
            # masked_fill_(a <= 0, 0) is ~10x slower than this vectorized kernel
            g = torch.ops.aten.threshold_backward.grad_input(gh, a, 0.0, grad_input=gh)
        self._saved = self._masks = None

    @staticmethod
    def _ensure_grads(w, b):
        if w.grad is None or w.grad.shape != w.shape:
            w.grad, b.grad = torch.empty_like(w), torch.empty_like(b)

    # oneDNN multiplies one matrix pair per call, so the members go one after another, each through its own
    # layers; a member's products do not depend on E (alone or batched, its run is the same bit for bit)
    def _forward_for_backward_onednn(self, x, hidden_masks):
        self._saved, self._masks = [[x[e]] for e in range(x.shape[0])], hidden_masks
        return torch.stack([self._logits_onednn(x[e], e, hidden_masks, saved)
                            for e, saved in enumerate(self._saved)])

    def _backward_into_onednn(self, grad_logits, momentum, bufs):
        n = len(self.weights)
        if bufs is None:
            for w, b in zip(self.weights, self.biases):
                self._ensure_grads(w, b)
        for e, saved in enumerate(self._saved):
            g = grad_logits[e]
            for i in range(n - 1, -1, -1):
                w, b, a = self.weights[i], self.biases[i], saved[i]
                gw = cpu_gemm.grad_weight(a, g)
                if bufs is not None:  # bufs = momentum * bufs + gradient, one pass
                    torch.add(gw, bufs[i][e], alpha=momentum, out=bufs[i][e])
                    bufs[n + i][e].mul_(momentum).add_(g.sum(0, keepdim=True))
                else:
                    w.grad[e].copy_(gw)
                    torch.sum(g, dim=0, keepdim=True, out=b.grad[e])
                if i == 0:
                    break
                gh = cpu_gemm.grad_input(g, w[e])
                if self._masks is not None:
                    gh.mul_(self._masks[i - 1][e])
                g = torch.ops.aten.threshold_backward.grad_input(gh, a, 0.0, grad_input=gh)
        self._saved = self._masks = None

    @torch.no_grad()
    def apply_max_norm(self, max_norm: float) -> None:
        """Clip each unit's incoming weight vector to L2 norm <= max_norm (Srivastava et al. 2014)."""
        for i, w in enumerate(self.weights):
            # sqrt of a sum of squares over fan_in, squares in a buffer kept between steps: on CPU, vector_norm over
            # this strided axis is twice as slow, and a fresh weight-sized temporary costs page faults every step
            norms = torch.mul(w, w, out=self._buffer(("sq", i), w.shape)).sum(1, keepdim=True).sqrt_()
            scale = torch.clamp(max_norm / (norms + 1e-12), max=1.0)
            # on CPU a look at the scales costs no sync, and a layer with no unit over the bound (the large hidden
            # layers, for most of training) is left alone instead of multiplied by ones: a pass over it saved
            if w.device.type != "cpu" or bool((scale < 1.0).any()):
                w.mul_(scale)

    @torch.no_grad()
    def predict(self, images: DeviceImages, chunk: int = 2000) -> torch.Tensor:
        """Logits (E, N, out) on all images, unjittered, no dropout."""
        E = self.n_models
        outs = []
        for start in range(0, images.n, chunk):
            idx = torch.arange(start, min(start + chunk, images.n), device=images.device)
            x = images.crop(idx)
            if self.onednn:
                outs.append(torch.stack([self._logits_onednn(x, e) for e in range(E)]))
            else:
                outs.append(self(x.unsqueeze(0).expand(E, -1, -1)))
        return torch.cat(outs, dim=1)

    def _logits_onednn(self, x: torch.Tensor, e: int, hidden_masks=None, saved: list | None = None) -> torch.Tensor:
        """Member e's logits of x (B, in) through oneDNN; masks its hidden layers and appends them to `saved`."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = cpu_gemm.linear(x, w[e], b[e, 0], relu=i < last)
            if i < last:
                if hidden_masks is not None:
                    x.mul_(hidden_masks[i][e])
                if saved is not None:
                    saved.append(x)
        return x

    def count_errors(self, images: DeviceImages) -> torch.Tensor:
        """Test errors per member (E,), as a device tensor."""
        return (self.predict(images).argmax(-1) != images.labels).sum(-1)


# ----------------------------------------------------------------------------------------------------
# Training configuration (one dict per recipe in profiles.py; units in the field comments)
# ----------------------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    sizes: tuple = (784, 800, 800, 10)  # layer widths
    epochs: int = 10                    # passes over the training set (drop-last batches)
    batch_size: int = 100               # examples per member per step
    lr: float = 0.05                    # peak learning rate
    lr_schedule: str = "cosine"         # "cosine" (to zero over the run) or "constant"
    warmup_epochs: float = 0.0          # linear warm-up of the lr, in epochs
    momentum: float = 0.9               # final momentum
    momentum_start: float | None = None  # if set, momentum ramps linearly from this ...
    momentum_ramp_epochs: float = 0.0   # ... to `momentum` over this many epochs (Hinton et al. 2012)
    max_norm: float | None = None       # L2 bound on each unit's incoming weights, None = off
    jitter: int = 0                     # random shift of the input, in pixels (0..PAD)
    input_dropout: float = 0.0          # drop probability of input pixels
    hidden_dropout: float = 0.0         # drop probability of hidden units
    temperature: float | None = None    # distillation temperature; None = hard labels only
    hard_weight: float = 1.0            # weight a of the hard-label term (1 - a on the T^2-scaled soft term)
    train_subset: int | None = None     # use only the first N training images (smoke runs)
    eval_every: int = 1                 # epochs between learning-curve points

    def __post_init__(self):
        self._check_types()
        self.sizes = tuple(self.sizes)
        if not 0 <= self.jitter <= PAD:
            raise UserError(f"jitter={self.jitter} px is out of range; allowed 0..{PAD}")
        for name in ("input_dropout", "hidden_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise UserError(f"{name}={getattr(self, name)} must be in [0, 1)")
        if self.temperature is not None and not self.temperature > 0:
            raise UserError(f"temperature={self.temperature} must be > 0")
        if self.epochs < 1 or self.batch_size < 1:
            raise UserError(f"epochs={self.epochs} and batch_size={self.batch_size} must be >= 1")
        if self.lr_schedule not in ("cosine", "constant"):
            raise UserError(f"lr_schedule={self.lr_schedule!r}; allowed: 'cosine', 'constant'")

    def _check_types(self) -> None:
        """Each field of the type its annotation says (an int is a float; a bool is neither), so that a value
        given as text (`--set teacher.epochs=abc`) is an error naming the field, not a TypeError deep inside."""
        kinds = {"int": is_int, "float": is_number, "str": lambda v: isinstance(v, str),
                 "tuple": lambda v: isinstance(v, (tuple, list))}
        for f in dataclasses.fields(self):
            value, (base, *rest) = getattr(self, f.name), [t.strip() for t in str(f.type).split("|")]
            if value is None and "None" in rest:
                continue
            ok = kinds[base](value)
            if ok and base == "tuple":  # layer widths; () for a CNN, whose shape is its `arch`
                ok = len(value) != 1 and all(is_int(w) and w >= 1 for w in value)
            if not ok:
                want = {"int": "an integer", "float": "a number", "str": "a string",
                        "tuple": "a list of at least two positive integers, e.g. [784, 800, 800, 10]"}[base]
                raise UserError(f"{f.name}={value!r} must be {want}" + (" or null" if "None" in rest else ""))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def schedules(cfg: TrainConfig, steps_per_epoch: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-step learning rate and momentum as device tensors (indexed by the device step counter)."""
    total = cfg.epochs * steps_per_epoch
    t = torch.arange(total, dtype=torch.float64)
    if cfg.lr_schedule == "cosine":
        lr = cfg.lr * 0.5 * (1 + torch.cos(math.pi * t / total))
    else:
        lr = torch.full_like(t, cfg.lr)
    warm = cfg.warmup_epochs * steps_per_epoch
    if warm > 0:
        lr = lr * torch.clamp((t + 1) / warm, max=1.0)
    mom = torch.full_like(t, cfg.momentum)
    if cfg.momentum_start is not None and cfg.momentum_ramp_epochs > 0:
        frac = torch.clamp(t / (cfg.momentum_ramp_epochs * steps_per_epoch), max=1.0)
        mom = cfg.momentum_start + (cfg.momentum - cfg.momentum_start) * frac
    # one extra entry so that the (unused) index after the last step stays in range
    pad = lambda v: torch.cat([v, v[-1:]]).to(torch.float32).to(device)  # noqa: E731
    return pad(lr), pad(mom)


def member_generators(seeds: Sequence[int], device: torch.device) -> list[torch.Generator]:
    gens = []
    for s in seeds:
        g = torch.Generator(device=device)
        g.manual_seed(int(s))
        gens.append(g)
    return gens


def config_fingerprint(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------------------------------
# The trainer
# ----------------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    model: BatchedMLP
    history: dict = field(default_factory=dict)  # epoch -> {"loss": [E], "test_errors": [E]}
    wall_s: float = 0.0
    resumed_from_epoch: int = 0


class Trainer:
    """Trains E members of one recipe at once; `run()` resumes from the checkpoint if it matches.

    The checkpoint is `checkpoint` if given, else `checkpoint_dir/<name>-<fingerprint>.pt`: the fingerprint covers
    the recipe, seeds, data size, device type and teacher, so experiments that need the same model (the MNIST
    teacher, say) share one checkpoint and train it once.
    """

    def __init__(self, cfg: TrainConfig, seeds: Sequence[int], train: DeviceImages, test: DeviceImages | None = None,
                 teacher_logits: torch.Tensor | None = None, temperatures: Sequence[float] | None = None,
                 hard_weights: Sequence[float] | None = None,
                 checkpoint: Path | None = None, checkpoint_dir: Path | None = None,
                 checkpoint_every_s: float | None = None, use_cuda_graph: bool = True, progress: bool = True,
                 name: str = "model", desc: str | None = None, evals: dict | None = None,
                 manual_backward: bool | None = None):
        self.evals = dict(evals or {})  # more sets to count errors on at each evaluation: history "<name>_errors"
        self.cfg, self.seeds, self.train, self.test = cfg, [int(s) for s in seeds], train, test
        self.device = train.device
        self.E = len(self.seeds)
        self.n_train = min(cfg.train_subset or train.n, train.n)
        self.B = cfg.batch_size
        if self.B > self.n_train:
            raise UserError(f"batch_size={self.B} is larger than the {self.n_train} training images")
        self.steps_per_epoch = self.n_train // self.B
        self.gens = member_generators(self.seeds, self.device)
        self.model = self._build_model()
        self.bufs = [torch.zeros_like(p) for p in self.model.parameters()]
        self.lr_table, self.mom_table = schedules(cfg, self.steps_per_epoch, self.device)
        self.step = torch.zeros((), dtype=torch.int64, device=self.device)
        self.step_in_epoch = torch.zeros((), dtype=torch.int64, device=self.device)
        self.perm = torch.empty(self.E, self.n_train, dtype=torch.int64, device=self.device)
        self.loss_sum = torch.zeros(self.E, device=self.device)
        self.arange_b = torch.arange(self.B, device=self.device)
        self.distill = cfg.temperature is not None
        if self.distill:
            self._setup_distill(teacher_logits, temperatures, hard_weights)
        self._alloc_randoms()
        if checkpoint_every_s is None:  # seconds between checkpoints; REPRODUCE_CHECKPOINT_EVERY_S=0: every epoch
            checkpoint_every_s = env_number("REPRODUCE_CHECKPOINT_EVERY_S", 60.0)
        self.fingerprint = config_fingerprint({"cfg": cfg.to_dict(), "seeds": self.seeds, "n": self.n_train,
                                               "data": train.digest(),
                                               "temps": list(temperatures) if temperatures is not None else None,
                                               "hard": list(hard_weights) if hard_weights is not None else None,
                                               "teacher": _tensor_digest(teacher_logits),
                                               "device": self.device.type, "code": CODE_DIGEST,
                                               # a resumed history must have the same curves
                                               **({"evals": {k: d.digest() for k, d in self.evals.items()}}
                                                  if self.evals else {}), **self._fingerprint_extra()})
        if checkpoint is None and checkpoint_dir is not None:
            checkpoint = Path(checkpoint_dir) / f"{name}-{self.fingerprint}.pt"
        self.checkpoint, self.checkpoint_every_s = checkpoint, checkpoint_every_s
        self.progress, self.desc = progress, desc or name
        self.use_cuda_graph = (use_cuda_graph and self.device.type == "cuda"
                               and os.environ.get("REPRODUCE_CUDA_GRAPH", "1") != "0")
        # the hand-written MLP backward (BatchedMLP.backward_into): the CPU default for the core's own MLP step
        if manual_backward is None:
            manual_backward = self.device.type == "cpu" and os.environ.get("REPRODUCE_CPU_BACKWARD", "1") != "0"
        self.manual_backward = bool(manual_backward and isinstance(self.model, BatchedMLP)
                                    and type(self)._loss is Trainer._loss)
        self._graph = None

    # -- what a subclass (another model family, another data pipeline) replaces ----------------------------
    def _build_model(self) -> torch.nn.Module:
        return BatchedMLP(self.cfg.sizes, self.gens, self.device)

    def _setup_distill(self, teacher_logits, temperatures, hard_weights):
        cfg = self.cfg
        if teacher_logits is None:
            raise ValueError("a distillation recipe needs teacher_logits (E or 1, N, C)")
        # member e learns from teacher member e mod E_teacher (one teacher per student seed)
        et = teacher_logits.shape[0]
        self.teacher_logits = teacher_logits[torch.arange(self.E) % et].to(self.device)
        temps = temperatures if temperatures is not None else [cfg.temperature] * self.E
        self.temperature = torch.tensor([float(t) for t in temps], device=self.device)
        if len(temps) != self.E or not bool((self.temperature > 0).all()):
            raise UserError(f"temperatures must be {self.E} positive values, got {list(temps)}")
        # per-member weight of the hard term: 1.0 makes a member a plain, undistilled reference
        hws = hard_weights if hard_weights is not None else [cfg.hard_weight] * self.E
        self.hard_weight = torch.tensor([float(a) for a in hws], device=self.device)
        if len(hws) != self.E or not bool(((self.hard_weight >= 0) & (self.hard_weight <= 1)).all()):
            raise UserError(f"hard_weights must be {self.E} values in [0, 1], got {list(hws)}")

    def _alloc_randoms(self):
        cfg = self.cfg
        h_sizes = cfg.sizes[1:-1]
        # per-member random buffers, filled in place from each member's generator (no cat, graph-safe)
        self._u_in = torch.empty(self.E, self.B, cfg.sizes[0], device=self.device)
        self._u_hid = [torch.empty(self.E, self.B, h, device=self.device) for h in h_sizes]
        self._off = torch.zeros(self.E, self.B, 2, dtype=torch.int64, device=self.device)
        # CPU, hidden dropout 0.5 (the paper's): each keep/drop is one random bit, 63 per int64 draw of the member's
        # generator, instead of one float uniform each (the CPU's Mersenne Twister made those the largest cost of a
        # step outside the GEMMs). Exactly Bernoulli(0.5) either way; only which draws make a mask differs.
        self._bits_hid = None
        if self.device.type == "cpu" and cfg.hidden_dropout == 0.5:
            self._bits_hid = [torch.empty(self.E, self.B, -(-h // 63), dtype=torch.int64) for h in h_sizes]
            self._bit_work = [torch.empty(self.E, self.B, -(-h // 63), 63, dtype=torch.int64) for h in h_sizes]
            self._bit_shifts = torch.arange(63, dtype=torch.int64)

    def _fingerprint_extra(self) -> dict:
        return {}

    def _on_eval(self, point: dict) -> None:
        """Called with each evaluation point (a subclass may add to it or keep the best weights)."""

    def _extra_state(self) -> list:
        return []  # tensors a subclass needs back when resuming (saved with the checkpoint)

    def _load_extra_state(self, tensors: list) -> None:
        pass

    def _finish(self) -> None:
        """Called once training is complete, before the result is returned."""

    # -- one step: sample, augment, forward, loss, backward, SGD, max-norm ------------------------------
    def _draw(self):
        cfg = self.cfg
        for e, g in enumerate(self.gens):
            if cfg.jitter:
                self._off[e].random_(PAD - cfg.jitter, PAD + cfg.jitter + 1, generator=g)
            if cfg.input_dropout:
                self._u_in[e].uniform_(generator=g)
            if cfg.hidden_dropout and self._bits_hid is not None:
                for r in self._bits_hid:
                    r[e].random_(generator=g)  # int64: 63 random bits each
            elif cfg.hidden_dropout:
                for u in self._u_hid:
                    u[e].uniform_(generator=g)

    def _batch(self):
        """This step's inputs (E, B, in), hidden dropout masks (or None) and image indices (E, B)."""
        cfg = self.cfg
        pos = self.step_in_epoch * self.B + self.arange_b
        idx = self.perm[:, pos]  # (E, B): each member's own data order
        offsets = self._off if cfg.jitter else None
        x = self.train.crop(idx, offsets)
        # the uniforms become their masks in place (redrawn every step): no new tensors, which cost page faults on CPU
        if cfg.input_dropout:
            x = x.mul_(self._u_in.ge_(cfg.input_dropout).mul_(1.0 / (1.0 - cfg.input_dropout)))
        masks = None
        if cfg.hidden_dropout and self._bits_hid is not None:
            masks = []
            for r, work, u in zip(self._bits_hid, self._bit_work, self._u_hid):
                bits = torch.bitwise_right_shift(r.unsqueeze(-1), self._bit_shifts, out=work).bitwise_and_(1)
                masks.append(torch.mul(bits.view(self.E, self.B, -1)[..., :u.shape[-1]], 2.0, out=u))
        elif cfg.hidden_dropout:
            masks = [u.ge_(cfg.hidden_dropout).mul_(1.0 / (1.0 - cfg.hidden_dropout)) for u in self._u_hid]
        return x, masks, idx

    def _loss(self):
        x, masks, idx = self._batch()
        return self._head_loss(self.model(x, masks), idx)

    def _head_loss(self, logits, idx):
        """Per-member loss (E,) of a batch's logits (E, B, C) for the training images idx (E, B)."""
        y = self.train.labels[idx]
        if self.distill:
            per = distillation_loss(logits, self.teacher_logits.gather(
                1, idx.unsqueeze(-1).expand(-1, -1, self.teacher_logits.shape[-1])), y,
                self.temperature, self.hard_weight, per_member=True)
        else:
            per = hard_cross_entropy(logits, y)
        return per

    def _update(self, momentum_done: bool = False):
        """SGD with momentum (bufs = momentum * bufs + grad, unless backward_into did it; params -= lr * bufs), then
        max-norm."""
        params = list(self.model.parameters())
        # index_select with the device step counter: no host sync, so CUDA can capture it
        at = self.step.view(1)
        lr = self.lr_table.index_select(0, at).squeeze(0)
        mom = self.mom_table.index_select(0, at).squeeze(0)
        with torch.no_grad():
            grads = [p.grad for p in params]
            if self.device.type == "cuda":  # multi-tensor kernels, captured in the graph
                if not momentum_done:
                    torch._foreach_mul_(self.bufs, mom)
                    torch._foreach_add_(self.bufs, grads)
                torch._foreach_add_(params, torch._foreach_mul(self.bufs, -lr))
            else:  # one pass per tensor and no weight-sized temporaries (on CPU each fresh one costs page faults)
                neg_lr = -lr
                for p, b, g in zip(params, self.bufs, grads):
                    if not momentum_done:
                        torch.addcmul(g, b, mom, out=b)
                    p.addcmul_(b, neg_lr)
            if self.cfg.max_norm:
                self.model.apply_max_norm(self.cfg.max_norm)
            self.step.add_(1)
            self.step_in_epoch.add_(1)

    def _train_step(self):
        if self.manual_backward:
            x, masks, idx = self._batch()
            logits = self.model.forward_for_backward(x, masks).requires_grad_()
            per = self._head_loss(logits, idx)
            (grad_logits,) = torch.autograd.grad(per.sum(), logits)
            # the momentum step rides on the gradient GEMMs; reading the step's momentum costs no sync on CPU
            mom = float(self.mom_table[int(self.step)])
            self.model.backward_into(grad_logits, mom, self.bufs)
        else:
            per = self._loss()
            per.sum().backward()
        self._update(momentum_done=self.manual_backward)
        with torch.no_grad():
            self.loss_sum.add_(per.detach())

    def _zero_grads(self):
        if self.manual_backward:  # backward_into overwrites the gradients
            return
        if self.use_cuda_graph:  # a captured graph needs the same gradient tensors on every replay
            for p in self.model.parameters():
                if p.grad is not None:
                    p.grad.zero_()
        else:  # backward then hands its fresh gradients over instead of zero-fill + accumulate
            for p in self.model.parameters():
                p.grad = None

    def _capture(self):
        """Capture _train_step in a CUDA graph; the warm-up steps are undone, so the math is unchanged."""
        state = (*self.model.parameters(), *self.bufs, self.step, self.step_in_epoch, self.loss_sum)
        saved = [t.detach().clone() for t in state]
        gen_states = [g.get_state() for g in self.gens]
        try:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):
                    self._train_step_with_draw()
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            for g in self.gens:  # custom generators must be known to the graph to advance on each replay
                graph.register_generator_state(g)
            with torch.cuda.graph(graph):
                self._train_step_with_draw()
            self._graph = graph
        finally:
            with torch.no_grad():
                for t, s in zip(state, saved):
                    t.copy_(s)
            for g, s in zip(self.gens, gen_states):
                g.set_state(s)

    def _train_step_with_draw(self):
        self._draw()
        # grads are overwritten, not accumulated: zero them inside the step so the graph can replay it
        self._zero_grads()
        self._train_step()

    def step_fn(self):
        """A callable doing one training step per call, for benchmarks: one data order, positions wrap around."""
        self._new_epoch()
        self._ensure_graph()
        done = [0]

        def step():
            if done[0] == self.steps_per_epoch:  # start the (single) epoch over: schedules and positions
                self.step_in_epoch.zero_()
                self.step.zero_()
                done[0] = 0
            done[0] += 1
            self._one_step()
        return step

    def _new_epoch(self):
        """Each member's own data order for the next epoch, drawn from its own generator."""
        for e, g in enumerate(self.gens):
            self.perm[e].copy_(torch.randperm(self.n_train, generator=g, device=self.device))
        self.step_in_epoch.zero_()
        self.loss_sum.zero_()

    def _ensure_graph(self):
        if self.use_cuda_graph and self._graph is None:
            try:
                self._capture()
            except Exception as err:  # keep training, eagerly, rather than fail a long run
                print(f"[reproduce] CUDA graph capture failed ({err}); running eagerly", file=sys.stderr)
                self.use_cuda_graph = False

    def _one_step(self):
        if self._graph is not None:
            self._graph.replay()
        else:
            self._train_step_with_draw()

    # -- checkpoints ----------------------------------------------------------------------------------
    def state_dict(self, epoch: int, history: dict) -> dict:
        return {"fingerprint": self.fingerprint, "epoch": epoch, "history": json.dumps(history),
                "params": [p.detach().cpu() for p in self.model.parameters()],
                "bufs": [b.cpu() for b in self.bufs], "step": int(self.step),
                "gens": [g.get_state() for g in self.gens], "extra": [t.detach().cpu() for t in self._extra_state()]}

    def _save(self, epoch: int, history: dict) -> None:
        if self.checkpoint is not None:
            state = self.state_dict(epoch, history)
            atomic_write(self.checkpoint, lambda f: torch.save(state, f))

    def _try_resume(self) -> tuple[int, dict]:
        if self.checkpoint is None or not Path(self.checkpoint).exists():
            return 0, {}
        try:
            state = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        except Exception as e:  # truncated or corrupt: start over rather than use it
            print(f"[reproduce] checkpoint {self.checkpoint} unreadable ({type(e).__name__}); starting fresh",
                  file=sys.stderr)
            return 0, {}
        if state.get("fingerprint") != self.fingerprint:
            print(f"[reproduce] checkpoint {self.checkpoint} is for another config; starting fresh", file=sys.stderr)
            return 0, {}
        with torch.no_grad():
            for p, s in zip(self.model.parameters(), state["params"]):
                p.copy_(s)
            for b, s in zip(self.bufs, state["bufs"]):
                b.copy_(s)
            self.step.fill_(state["step"])
        for g, s in zip(self.gens, state["gens"]):
            g.set_state(s)
        self._load_extra_state(state.get("extra", []))
        return int(state["epoch"]), {int(k): v for k, v in json.loads(state["history"]).items()}

    # -- the loop ---------------------------------------------------------------------------------------
    def run(self, stop_after_epoch: int | None = None) -> TrainResult:
        start_epoch, history = self._try_resume()
        t0 = time.perf_counter()
        last_save = time.monotonic()
        bar = _progress(range(start_epoch, self.cfg.epochs), self.progress, self.desc, self.cfg.epochs, start_epoch)
        for epoch in bar:
            self._new_epoch()
            self._ensure_graph()
            for _ in range(self.steps_per_epoch):
                self._one_step()
            done = epoch + 1
            if done % self.cfg.eval_every == 0 or done == self.cfg.epochs:
                point = {"loss": (self.loss_sum / self.steps_per_epoch).tolist()}
                if self.test is not None:
                    point["test_errors"] = self.model.count_errors(self.test).tolist()
                for key, data in self.evals.items():
                    point[f"{key}_errors"] = self.model.count_errors(data).tolist()
                self._on_eval(point)
                history[done] = point
                if hasattr(bar, "set_postfix"):
                    errs = point.get("test_errors")
                    shown = errs if errs is None or len(errs) <= 4 else f"mean {sum(errs) / len(errs):.0f}, " \
                        f"min {min(errs)}, max {max(errs)}"
                    bar.set_postfix(loss=f"{sum(point['loss']) / self.E:.4f}", err=shown)
            if done == self.cfg.epochs or time.monotonic() - last_save >= self.checkpoint_every_s:
                self._save(done, history)
                last_save = time.monotonic()
            if stop_after_epoch is not None and done >= stop_after_epoch:
                self._save(done, history)
                break
        if max(history, default=0) >= self.cfg.epochs:
            self._finish()
        return TrainResult(self.model, history, time.perf_counter() - t0, start_epoch)


def _tensor_digest(t: torch.Tensor | None) -> str | None:
    if t is None:
        return None
    return hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def _progress(it, enabled: bool, desc: str, total: int, initial: int):
    if not enabled:
        return it
    from tqdm.auto import tqdm
    return tqdm(it, desc=desc, total=total, initial=initial, unit="epoch", leave=False,
                disable=os.environ.get("REPRODUCE_NO_PROGRESS") == "1")
