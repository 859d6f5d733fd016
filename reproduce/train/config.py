"""What a run of the training core is: its recipe (TrainConfig, one dict per recipe in profiles.py, units in the
field comments), its per-step schedules, its members' random streams and its device."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import torch

from ..errors import UserError, is_int, is_number

PAD = 2  # images are stored padded by this many pixels so that jitter is a pure gather
PRECISIONS = ("fp32", "bf16")  # of the products; "bf16" where faster on this CPU (precision.py)


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


# fields added after records were made, with the value that leaves training as it was (TrainConfig.to_dict)
LATER_FIELDS = {"lr_decay": 1.0, "damped_momentum": False}


@dataclass
class TrainConfig:
    sizes: tuple = (784, 800, 800, 10)  # layer widths
    epochs: int = 10                    # passes over the training set (drop-last batches)
    batch_size: int = 100               # examples per member per step
    lr: float = 0.05                    # peak learning rate
    lr_schedule: str = "cosine"         # "cosine" (to zero over the run), "constant" or "exponential"
    lr_decay: float = 1.0               # "exponential": the lr's factor per epoch (Hinton et al. 2012: 0.998)
    warmup_epochs: float = 0.0          # linear warm-up of the lr, in epochs
    momentum: float = 0.9               # final momentum
    momentum_start: float | None = None  # if set, momentum ramps linearly from this ...
    momentum_ramp_epochs: float = 0.0   # ... to `momentum` over this many epochs (Hinton et al. 2012)
    damped_momentum: bool = False       # each step's lr times (1 - its momentum): the 2012 dropout paper's update,
                                        # whose step size does not grow 100x as momentum ramps to 0.99
    max_norm: float | None = None       # L2 bound on each unit's incoming weights, None = off
    jitter: int = 0                     # random shift of the input, in pixels (0..PAD)
    input_dropout: float = 0.0          # drop probability of input pixels
    hidden_dropout: float = 0.0         # drop probability of hidden units
    temperature: float | None = None    # distillation temperature; None = hard labels only
    hard_weight: float = 1.0            # weight a of the hard-label term (1 - a on the T^2-scaled soft term)
    train_subset: int | None = None     # use only the first N training images (smoke runs)
    eval_every: int = 1                 # epochs between learning-curve points
    precision: str = "fp32"             # products: "fp32", or "bf16" where faster on this CPU (precision.py)

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
        if self.precision not in PRECISIONS:
            raise UserError(f"precision={self.precision!r}; allowed: {', '.join(map(repr, PRECISIONS))} (bf16 "
                            "products where this CPU runs them faster; see reproduce/train/precision.py)")
        if self.lr_schedule not in ("cosine", "constant", "exponential"):
            raise UserError(f"lr_schedule={self.lr_schedule!r}; allowed: 'cosine', 'constant', 'exponential'")
        if not 0 < self.lr_decay <= 1:
            raise UserError(f"lr_decay={self.lr_decay} must be in (0, 1] (the lr's factor per epoch)")

    def _check_types(self) -> None:
        """Each field of the type its annotation says (an int is a float; a bool is neither), so that a value
        given as text (`--set teacher.epochs=abc`) is an error naming the field, not a TypeError deep inside."""
        kinds = {"int": is_int, "float": is_number, "str": lambda v: isinstance(v, str),
                 "bool": lambda v: isinstance(v, bool),
                 "tuple": lambda v: isinstance(v, (tuple, list))}
        for f in dataclasses.fields(self):
            value, (base, *rest) = getattr(self, f.name), [t.strip() for t in str(f.type).split("|")]
            if value is None and "None" in rest:
                continue
            ok = kinds[base](value)
            if ok and base == "tuple":  # layer widths; () for a CNN, whose shape is its `arch`
                ok = len(value) != 1 and all(is_int(w) and w >= 1 for w in value)
            if not ok:
                want = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
                        "tuple": "a list of at least two positive integers, e.g. [784, 800, 800, 10]"}[base]
                raise UserError(f"{f.name}={value!r} must be {want}" + (" or null" if "None" in rest else ""))

    def to_dict(self) -> dict:
        """The fields, less those added after records were made when they hold their no-op value: a recipe that
        does not use a later option keeps the fingerprint (of its record, of its checkpoints) it had before."""
        return {k: v for k, v in dataclasses.asdict(self).items()
                if not (k in LATER_FIELDS and v == LATER_FIELDS[k])}


def schedules(cfg: TrainConfig, steps_per_epoch: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-step learning rate and momentum as device tensors (indexed by the device step counter)."""
    total = cfg.epochs * steps_per_epoch
    t = torch.arange(total, dtype=torch.float64)
    if cfg.lr_schedule == "cosine":
        lr = cfg.lr * 0.5 * (1 + torch.cos(math.pi * t / total))
    elif cfg.lr_schedule == "exponential":  # once per epoch, as in Hinton et al. 2012
        lr = cfg.lr * cfg.lr_decay ** torch.div(t, steps_per_epoch, rounding_mode="floor")
    else:
        lr = torch.full_like(t, cfg.lr)
    warm = cfg.warmup_epochs * steps_per_epoch
    if warm > 0:
        lr = lr * torch.clamp((t + 1) / warm, max=1.0)
    mom = torch.full_like(t, cfg.momentum)
    if cfg.momentum_start is not None and cfg.momentum_ramp_epochs > 0:
        frac = torch.clamp(t / (cfg.momentum_ramp_epochs * steps_per_epoch), max=1.0)
        mom = cfg.momentum_start + (cfg.momentum - cfg.momentum_start) * frac
    if cfg.damped_momentum:  # v = m v + (1 - m) g, w -= lr v; exact for a constant m, close while m ramps slowly
        lr = lr * (1 - mom)
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
