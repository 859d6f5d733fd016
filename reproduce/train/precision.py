"""Opt-in bf16 products for the CPU training path, layer by layer, only where this CPU runs them faster.

`TrainConfig.precision = "bf16"` asks for bf16 operands with fp32 accumulation inside the product (oneDNN's bf16
GEMM accumulates in fp32), fp32 master weights, fp32 momentum buffers and fp32 activations between layers: a
product's inputs are rounded to bf16 (8 significant bits) and its output from fp32 to bf16; nothing else changes.
"fp32", the default, never rounds.

Whether bf16 pays depends on the CPU and on the product's shape: on a Xeon with AMX a 2048 x 2560 x 2560 product
ran 4.9x faster in bf16, a 100 x 1200 x 1200 one only 1.2x; on an AMD EPYC with AVX512-BF16 about 2x; on a CPU
without bf16 instructions it is slower. So each layer's three products (forward, gradient of the input, gradient
of the weight), casts included, are timed once in fp32 and in bf16 at the layer's shape (decide), which picks the
layers worth rounding (at least MIN_GAIN faster); then one member's whole step is timed through MKL, through oneDNN
in fp32 and through oneDNN with those layers in bf16 (decide_step), and bf16 is used only when its step beats the
faster fp32 step by MIN_GAIN. The step decides, not the products: the casts, copies and calls around the products
count too (on the 2-core AMD EPYC, Zen 4, the teacher's oneDNN products timed 1.05x faster than MKL's and its step
1.13x slower: results/step-paths/amd-epyc.json). Both probes are cached per CPU model, torch version and thread count in
$REPRODUCE_DATA_DIR/products-probe.json (gemm.use_onednn reads the step's fp32 timings too), so a machine decides
once, and the bf16 layers enter the checkpoint fingerprint (a run resumes only into the same arithmetic).
Evaluation (predict, test errors, soft targets) stays fp32.

Only the oneDNN path (large MLPs, gemm.use_onednn) has bf16 products; elsewhere (small MLPs on MKL, CUDA, the CNNs)
"bf16" falls back to fp32 and plan() says so.
"""
from __future__ import annotations

import json
import statistics
import time

import torch

from ..errors import UserError
from ..io import atomic_write_json, data_dir
from ..machine import cpu_info
from . import gemm
from .config import PRECISIONS
from .timing import time_interleaved
MIN_GAIN = 1.1  # bf16 for a layer only when its three products run at least this much faster, casts included
ONEDNN_MIN_GAIN = 1.05  # oneDNN's fp32 for a model only when its layers' products run this much faster than MKL's
_CACHE: dict | None = None


def check(precision: str) -> str:
    if precision not in PRECISIONS:
        raise UserError(f"precision={precision!r}; allowed: {', '.join(PRECISIONS)}")
    return precision


def available() -> bool:
    """Whether oneDNN has a bf16 GEMM on this CPU (AVX512-BF16, AMX, or its emulation on AVX-512)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and gemm._works()
    except (AttributeError, RuntimeError):
        return False


def machine_key() -> str:
    c = cpu_info()
    return f"{c['cpu_model']} [{c['cpu_family_model_stepping']}] | torch {torch.__version__} | " \
           f"{torch.get_num_threads()} threads"


def _cache_path():
    return data_dir() / "products-probe.json"


def _load() -> dict:
    global _CACHE
    if _CACHE is None:
        try:
            _CACHE = json.loads(_cache_path().read_text())
        except (OSError, ValueError):
            _CACHE = {}
    return _CACHE


def _mkl_layer(x, w, b, grad, momentum_buf):
    """The MKL path's three products of one member's layer, as mlp.py runs them (one batched product per call)."""
    x3, w3, g3 = x.unsqueeze(0), w.unsqueeze(0), grad.unsqueeze(0)
    torch.baddbmm(b.view(1, 1, -1), x3, w3).clamp_(min=0)
    momentum_buf.baddbmm_(x3.transpose(1, 2), g3, beta=0.9)
    torch.bmm(g3, w3.transpose(1, 2))


def layer_products(rows: int, fan_in: int, fan_out: int, path: str, repeats: int = 7, calls: int = 3,
                   generator_seed: int = 0) -> float:
    """Median seconds of one layer's three products (forward with bias and ReLU, the input's gradient, the weight's
    gradient into SGD's momentum buffer) at this shape, on one path: "mkl" (fp32, one batched MKL product, the small
    MLPs' path), "fp32" (oneDNN) or "bf16" (oneDNN, with every cast a training step makes)."""
    g = torch.Generator().manual_seed(generator_seed)
    x, w = torch.randn(rows, fan_in, generator=g), torch.randn(fan_in, fan_out, generator=g) * fan_in ** -0.5
    b, grad = torch.randn(fan_out, generator=g), torch.randn(rows, fan_out, generator=g)
    buf = torch.zeros(1, fan_in, fan_out)
    bf16 = path == "bf16"

    def step():
        if path == "mkl":
            return _mkl_layer(x, w, b, grad, buf)
        wb = gemm.to_bf16(w) if bf16 else w
        gemm.linear(x, wb, b, relu=True, bf16=bf16)
        gemm.grad_input(grad, wb, bf16=bf16)
        torch.add(gemm.grad_weight(x, grad, bf16=bf16), buf[0], alpha=0.9, out=buf[0])

    step()  # warm-up: oneDNN builds its kernels on first use
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            step()
        times.append((time.perf_counter() - t0) / calls)
    return statistics.median(times)


PATHS = ("mkl", "fp32", "bf16")


def probe(rows: int, fan_in: int, fan_out: int) -> dict:
    """MKL, oneDNN fp32 and oneDNN bf16 timings of one layer's products, taken in turn (A B C A B C ...) so that
    drift moves them alike; "onednn": oneDNN's fp32 beats MKL by ONEDNN_MIN_GAIN here; "bf16": bf16 beats the faster
    fp32 path by MIN_GAIN (the bf16 rows are absent where this CPU has no oneDNN bf16 GEMM)."""
    paths = PATHS if available() else PATHS[:2]
    times = {p: [] for p in paths}
    for r in range(3):
        for p in paths:
            times[p].append(layer_products(rows, fan_in, fan_out, p, generator_seed=r))
    med = {p: statistics.median(v) for p, v in times.items()}
    flop = 3 * 2 * rows * fan_in * fan_out
    out = {}
    for p in paths:
        # 3 significant digits: a product slowed to under 0.05 GFLOP/s by a busy machine must not read as 0
        out[f"{p}_ms"], out[f"{p}_gflops"] = float(f"{1e3 * med[p]:.4g}"), float(f"{flop / med[p] / 1e9:.3g}")
    out["onednn_gain"] = round(med["mkl"] / med["fp32"], 3)
    out["onednn"] = med["mkl"] / med["fp32"] >= ONEDNN_MIN_GAIN
    if "bf16" in med:
        out["gain"] = round(min(med["mkl"], med["fp32"]) / med["bf16"], 3)  # against the faster fp32 path
        out["bf16"] = out["gain"] >= MIN_GAIN
    else:
        out["gain"], out["bf16"] = None, False
    return out


def _cached(key: str, measure, fresh: bool) -> dict:
    """This machine's cached answer under `key`, measured and cached when new or when `fresh`."""
    cache = _load()
    mine = cache.setdefault(machine_key(), {})
    if fresh or key not in mine:
        mine[key] = measure()
        try:
            atomic_write_json(_cache_path(), cache)
        except OSError:  # a read-only data folder: decide again next time
            pass
    return mine[key]


def decide(rows: int, fan_in: int, fan_out: int, fresh: bool = False) -> dict:
    """The cached probe of this shape on this machine, probed (a second to a few seconds) and cached when new, or
    when `fresh` (a benchmark measures now, and the next plan uses what it measured)."""
    return _cached(f"{rows}x{fan_in}x{fan_out}", lambda: probe(rows, fan_in, fan_out), fresh)


def _member_step(sizes, rows: int, onednn: bool, bf16_layers, seed: int = 0):
    """One member's training step at these sizes on one path, as the core runs it on CPU (the hand-written forward
    and backward, the weight gradients fused into SGD's momentum buffers, the update), on random data; the parts of
    a real step that do not depend on the path (loss, dropout masks, max-norm) are left out."""
    from .mlp import BatchedMLP
    g = torch.Generator().manual_seed(seed)
    model = BatchedMLP(sizes, [g], torch.device("cpu"), path=(onednn, tuple(bf16_layers)))
    x = torch.rand(1, rows, sizes[0], generator=g)
    grad = torch.randn(1, rows, sizes[-1], generator=g) / rows
    params = list(model.parameters())
    bufs = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step():
        model.forward_for_backward(x)
        model.backward_into(grad, 0.9, bufs)
        for p, b in zip(params, bufs):
            p.sub_(b, alpha=1e-4)
    return step


def step_probe(sizes, rows: int, rounds: int = 7, round_s: float = 0.1) -> dict:
    """One member's whole training step timed through MKL, through oneDNN in fp32 and, where this CPU has a oneDNN
    bf16 GEMM and some layer's products gain (decide), through oneDNN with bf16 products in those layers; in turn
    (A B C A B C ...) so that drift moves them alike. "onednn": oneDNN's fp32 step beats MKL's by ONEDNN_MIN_GAIN;
    "bf16": the bf16 step beats the faster fp32 one by MIN_GAIN. One member, because a member's arithmetic must not
    depend on how many seeds share its run."""
    n = len(sizes) - 1
    layers = tuple(bool(decide(rows, a, b)["bf16"]) for a, b in zip(sizes[:-1], sizes[1:])) if available() \
        else (False,) * n
    steps = {"mkl": _member_step(sizes, rows, False, (False,) * n), "fp32": _member_step(sizes, rows, True, (False,) * n)}
    if any(layers):
        steps["bf16"] = _member_step(sizes, rows, True, layers)
    for step in steps.values():  # warm-up: oneDNN builds its kernels on first use
        step()
    t0 = time.perf_counter()
    steps["mkl"]()
    calls = max(2, int(round_s / max(time.perf_counter() - t0, 1e-6)))
    times = time_interleaved(steps, torch.device("cpu"), calls, rounds, warmup=0)[0]
    med = {p: statistics.median(v) for p, v in times.items()}
    out = {f"{p}_ms": float(f"{1e3 * t:.4g}") for p, t in med.items()}
    # the rounds' range: on a shared 2-core VM a step's time wanders by tens of percent within a minute, and a
    # record should show how close a decision was
    out.update({f"{p}_ms_range": [float(f"{1e3 * min(v):.4g}"), float(f"{1e3 * max(v):.4g}")]
                for p, v in times.items()})
    out["bf16_layers"] = list(layers)
    out["onednn_gain"] = round(med["mkl"] / med["fp32"], 3)
    out["onednn"] = med["mkl"] / med["fp32"] >= ONEDNN_MIN_GAIN
    if "bf16" in med:
        out["gain"] = round(min(med["mkl"], med["fp32"]) / med["bf16"], 3)
        out["bf16"] = out["gain"] >= MIN_GAIN
        out["bf16_gain_on_onednn"] = round(med["fp32"] / med["bf16"], 3)
    else:
        out["gain"], out["bf16"], out["bf16_gain_on_onednn"] = None, False, None
    out["calls_per_round"], out["rounds"] = calls, rounds
    return out


def decide_step(sizes, rows: int, fresh: bool = False) -> dict:
    """The cached whole-step probe of an MLP of these sizes at `rows` examples per step on this machine, probed (a
    second to a minute, by the model's size) and cached when new or when `fresh`."""
    sizes = tuple(int(s) for s in sizes)
    return _cached(f"step {'-'.join(map(str, sizes))} x {rows}", lambda: step_probe(sizes, rows), fresh)


def plan(precision: str, sizes, rows: int, device: torch.device) -> tuple[bool, ...]:
    """Per layer: whether its products run in bf16 (rows: examples per member per step). bf16 is used only where
    the whole step with it beats the fp32 step this model would otherwise take: under auto the faster of MKL and
    oneDNN by MIN_GAIN, with oneDNN insisted on (REPRODUCE_CPU_GEMM=onednn) oneDNN's fp32 step."""
    n = len(sizes) - 1
    if check(precision) == "fp32" or device.type != "cpu" or not available() or \
            not gemm.use_onednn(sizes, rows, precision):
        return (False,) * n
    step = decide_step(sizes, rows)
    pays = step["bf16"] if gemm._choice() == "auto" else \
        (step["bf16_gain_on_onednn"] is not None and step["bf16_gain_on_onednn"] >= MIN_GAIN)
    return tuple(bool(b) for b in step["bf16_layers"]) if pays else (False,) * n


def describe(precision: str, layers: tuple[bool, ...]) -> str:
    """In words, for records and progress: which layers multiply in bf16."""
    if precision == "fp32":
        return "fp32"
    if not any(layers):
        return "bf16 asked for, fp32 used (no layer is faster in bf16 here, or no oneDNN bf16 path)"
    if all(layers):
        return f"bf16 products (fp32 accumulation and weights) in all {len(layers)} layers"
    return "bf16 products (fp32 accumulation and weights) in layers " + \
        ", ".join(str(i + 1) for i, on in enumerate(layers) if on) + f" of {len(layers)}, fp32 in the others"
