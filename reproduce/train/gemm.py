"""The CPU training path's matrix products through oneDNN's fp32 GEMM instead of MKL's.

Why: PyTorch sends an fp32 `mm`/`bmm` on CPU to MKL, which on CPUs it does not tune for (AMD's Zen, say) runs a
narrower code path; oneDNN, which PyTorch also ships, picks its kernels by the instructions the CPU has. On the
2-core AMD EPYC (Zen 5, AVX-512) these records were made on, a 100 x 1200 x 1200 product takes 0.6-0.8 ms through
oneDNN and 1.5 ms through MKL, and a teacher step is mostly such products. The math is unchanged: IEEE fp32 products
and sums (no TF32, no bf16), only the order of the additions inside a product differs, so results agree with MKL's
to float rounding, not bit for bit (tests check both against autograd's).

On an Intel Xeon (Emerald Rapids, AVX-512, no AMX in its VM; 2 cores) it runs the other way: MKL's own CPU, and the
core's teacher step takes 12.0 ms through MKL against 17.3 ms through oneDNN, the 4 x 2560 speech step 177 against
294 ms (results/bench-precision/, the Intel record). So no library is right everywhere: `auto`, the default, uses
oneDNN only for models large enough to gain (MIN_MACS_PER_EXAMPLE) where this PyTorch has it, it passes a check
on first use, and a one-time probe of this machine (precision.decide_step, cached with the CPU model) finds one
member's whole training step at the model's sizes faster through it than through MKL. The step, not its products
alone: on the 2-core AMD EPYC (Zen 4) oneDNN's products at the teacher's shapes timed 1.05x faster than MKL's while
the step they sit in ran 1.13x slower (15.48 against 13.70 ms, results/step-paths/amd-epyc.json). `REPRODUCE_CPU_GEMM=mkl` keeps every product on MKL; `onednn` insists on oneDNN for every model.
"""
from __future__ import annotations

import functools
import os

import torch

from ..errors import UserError

CHOICES = ("auto", "onednn", "mkl")


@functools.cache
def _op():
    try:
        return torch.ops.mkldnn._linear_pointwise.default
    except (AttributeError, RuntimeError):  # a PyTorch built without oneDNN (USE_MKLDNN=0) or from before the op
        return None


@functools.cache
def _works() -> bool:
    """oneDNN's product agrees with torch.mm on a small case (a build whose op misbehaves is never used)."""
    op = _op()
    if op is None or not torch.backends.mkldnn.is_available():
        return False
    g = torch.Generator().manual_seed(0)
    a, w, b = torch.randn(7, 13, generator=g), torch.randn(13, 5, generator=g), torch.randn(5, generator=g)
    try:
        got = op(a, w.t(), b, "relu", [], "")
    except RuntimeError:
        return False
    return bool(torch.allclose(got, torch.relu(a @ w + b), rtol=1e-5, atol=1e-5))


# oneDNN takes one matrix pair per call, so the members go one after another, and a call costs ~20 us whatever its
# size: below about a million multiply-adds per example (784-300-300-10 has 0.33 M) MKL's one bmm over all members
# is faster; above it (784-800-800-10: 1.3 M; the teacher: 2.4 M) oneDNN is. Measured on the 2-core Zen 5, ms per
# step MKL -> oneDNN: 784-100-100-10 x 12 members 3.8 -> 7.4, 784-300-300-10 x 12 11.6 -> 14.0, 784-800-800-10 x 6
# 22.1 -> 18.5, teacher x 1 9.5 -> 6.6, teacher x 10 79 -> 60, 784-256x3-201 (batch 256) x 10 27.0 -> 27.5,
# 784-512x3-201 x 4 28.7 -> 21.9. The rule reads the sizes only, so a member's run never depends on E.
MIN_MACS_PER_EXAMPLE = 1_000_000


def _choice() -> str:
    want = os.environ.get("REPRODUCE_CPU_GEMM", "auto").strip().lower() or "auto"
    if want not in CHOICES:
        raise UserError(f"REPRODUCE_CPU_GEMM={want!r} is not one of {', '.join(CHOICES)}; unset it to let the "
                        "suite choose")
    return want


# what auto chose in this process, {"784-1200-1200-10 x 100 rows": "MKL"}: records say which library ran
CHOSEN: dict[str, str] = {}


def use_onednn(sizes, rows: int = 100, precision: str = "fp32") -> bool:
    """Whether the CPU training path of an MLP with these layer sizes, trained on `rows` examples per member per step,
    multiplies through oneDNN (else MKL). auto: at least MIN_MACS_PER_EXAMPLE, and one member's whole training step
    through oneDNN at least ONEDNN_MIN_GAIN times faster than through MKL (or, with bf16 asked, the oneDNN step with
    bf16 products MIN_GAIN times faster than both), by the one-time probe of this machine (precision.decide_step)."""
    want = _choice()
    if want == "mkl":
        return False
    if not _works():
        if want == "onednn":
            raise UserError("REPRODUCE_CPU_GEMM=onednn, but this PyTorch has no working oneDNN linear "
                            "(torch.ops.mkldnn._linear_pointwise); install a PyTorch built with oneDNN "
                            "(the PyPI wheels are) or unset REPRODUCE_CPU_GEMM")
        return False
    if want == "onednn":
        return True
    if sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) < MIN_MACS_PER_EXAMPLE:
        return False
    from . import precision as P  # it times this module's products
    step = P.decide_step(sizes, rows)
    asked = precision == "bf16" and P.available()
    faster = bool(step["onednn"]) or (asked and bool(step["bf16"]))
    CHOSEN[f"{'-'.join(map(str, sizes))} x {rows} rows{' (bf16 asked)' if asked else ''}"] = \
        "oneDNN" if faster else "MKL"
    return faster


def policy() -> str:
    """Which library the CPU path multiplies through, in words, for records' provenance."""
    want = _choice()
    if want != "auto":
        return f"{'MKL' if want == 'mkl' else 'oneDNN'} (REPRODUCE_CPU_GEMM={want})"
    if not _works():
        return "MKL (this PyTorch has no working oneDNN linear)"
    return (f"oneDNN for MLPs of >= {MIN_MACS_PER_EXAMPLE:,} multiply-adds per example where this machine's probe "
            "finds it faster than MKL, else MKL")


def to_bf16(t: torch.Tensor) -> torch.Tensor:
    """A bf16 copy of an fp32 operand (round to nearest even), for the bf16 products below (precision.py)."""
    return t.to(torch.bfloat16)


def linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, relu: bool, bf16: bool = False) -> torch.Tensor:
    """x (B, in) @ w (in, out) + b (out,), then ReLU if asked: a fresh fp32 (B, out) tensor. bf16: w is already bf16
    (to_bf16, once per step), x and b are rounded here, the product accumulates in fp32 and its output is rounded
    to bf16 before it comes back as fp32."""
    # oneDNN's weight is (out, in); the transposed view of ours is read in place, and faster than a contiguous copy
    if bf16:
        return _op()(to_bf16(x), w.t(), to_bf16(b), "relu" if relu else "none", [], "").float()
    return _op()(x, w.t(), b, "relu" if relu else "none", [], "")


def grad_input(g: torch.Tensor, w: torch.Tensor, bf16: bool = False) -> torch.Tensor:
    """g (B, out) @ w (in, out)^T: the gradient with respect to the layer's input, a fresh fp32 (B, in) tensor
    (bf16: w already bf16, as for linear)."""
    if bf16:
        return _op()(to_bf16(g), w, None, "none", [], "").float()
    return _op()(g, w, None, "none", [], "")


def grad_weight(a: torch.Tensor, g: torch.Tensor, bf16: bool = False) -> torch.Tensor:
    """a (B, in)^T @ g (B, out): the gradient with respect to the weight, a fresh (in, out) tensor (bf16: a bf16
    tensor, which SGD's fp32 momentum buffer takes as it is)."""
    # both operands copied to (in, B) and (out, B): small, and faster than letting oneDNN read them strided; in
    # bf16 the copy is the cast
    if bf16:
        at = torch.empty(a.shape[1], a.shape[0], dtype=torch.bfloat16).copy_(a.t())
        gt = torch.empty(g.shape[1], g.shape[0], dtype=torch.bfloat16).copy_(g.t())
        return _op()(at, gt, None, "none", [], "")
    return _op()(a.t().contiguous(), g.t().contiguous(), None, "none", [], "")
