"""How the batched CNN (cnn.py) lays out its E members' convolutions on the CPU: the fastest of three, by a one-time
probe of this machine at the model's shape.

- "grouped": one convolution with groups=E over (B, E*C, H, W) in PyTorch's default NCHW layout (the original);
- "grouped-nhwc": the same grouped convolution on channels-last tensors, which oneDNN vectorizes over the channels;
- "per-member": E ordinary convolutions, one per member, on (B, C, H, W) slices of the same weights.

All three compute the same function: "per-member" agrees with "grouped" bit for bit on the CPUs tried,
"grouped-nhwc" to float rounding (about 1e-6; the order of a sum inside a kernel differs), so the choice is not
part of a checkpoint's key, and records name it in their provenance (cpu_cnn_layout_chosen). None is fastest
everywhere: on the 2-core Intel Xeon (Emerald Rapids) a training step of the [16, 32]-channel glyph CNN ran, in
member-images a second, 1416 / 1557 / 1719 for 24 specialists of batch 32 (per-member fastest, and 2.5x faster
in the forward pass alone, which every prediction of the specialists is), but 1707 / 2360 / 1922 for 3 generalist
seeds of batch 128 (channels-last fastest). So each (E, batch, architecture) is timed once here, a whole training
step and a forward pass without gradients (predictions may take another layout), the layouts in turn, and the
decisions are cached with the CPU model, torch version and thread count in $REPRODUCE_DATA_DIR/conv-probe.json. Models too small for the choice to matter (under
MIN_MACS multiply-adds a step) take "grouped" without a probe. `REPRODUCE_CNN_LAYOUT=<layout>` fixes the layout for
every model. CUDA always takes "grouped" (cuDNN's grouped convolution is the fast path there).
"""
from __future__ import annotations

import json
import os
import statistics
import time

import torch
import torch.nn.functional as F

from ..errors import UserError
from ..io import atomic_write_json, data_dir

LAYOUTS = ("grouped", "grouped-nhwc", "per-member")
MIN_MACS = 1_000_000_000  # a step's convolution multiply-adds (E x batch x per image) below which no probe is made:
# the smoke profile and the tests' models stay under it, every quick and paper model is above
_CACHE: dict | None = None
# what auto chose in this process, {"E=24 x 32 rows, channels [16, 32], 32 px": "per-member"}, for provenance
CHOSEN: dict[str, str] = {}


def _env() -> str:
    want = os.environ.get("REPRODUCE_CNN_LAYOUT", "auto").strip().lower() or "auto"
    if want not in ("auto", *LAYOUTS):
        raise UserError(f"REPRODUCE_CNN_LAYOUT={want!r} is not one of auto, {', '.join(LAYOUTS)}; unset it to let "
                        "the suite choose")
    return want


def conv_macs(channels, side: int, in_channels: int = 1) -> int:
    """Multiply-adds of one image's convolutions (two 3x3 convolutions per entry of channels, then a 2x2 pool)."""
    total, c_in, s = 0, in_channels, side
    for c in channels:
        total += s * s * 9 * (c_in * c + c * c)
        c_in, s = c, s // 2
    return total


def features(x: torch.Tensor, convs, biases, E: int, layout: str) -> torch.Tensor:
    """(E, B, C, H, W) -> (E, B, features): the members' convolution stacks (weights (E*out, in, 3, 3), groups=E)
    in the given layout; the feature order is NCHW's in every layout."""
    if layout == "per-member":
        outs = []
        for e in range(E):
            h = x[e]
            for i, (w, b) in enumerate(zip(convs, biases)):
                c = w.shape[0] // E
                h = F.relu(F.conv2d(h, w[e * c:(e + 1) * c], b[e * c:(e + 1) * c], padding=1))
                if i % 2 == 1:
                    h = F.max_pool2d(h, 2)
            outs.append(h.reshape(h.shape[0], -1))
        return torch.stack(outs)
    B = x.shape[1]
    h = x.permute(1, 0, 2, 3, 4).reshape(B, E * x.shape[2], *x.shape[3:])
    if layout == "grouped-nhwc":
        h = h.contiguous(memory_format=torch.channels_last)
    for i, (w, b) in enumerate(zip(convs, biases)):
        h = F.relu(F.conv2d(h, w, b, padding=1, groups=E))
        if i % 2 == 1:
            h = F.max_pool2d(h, 2)
    return h.contiguous().reshape(B, E, -1).transpose(0, 1)


def probe(E: int, rows: int, channels, hidden: int, n_out: int, side: int, in_channels: int = 1,
          predict_rows: int = 256) -> dict:
    """Seconds of a training step of the whole model (forward, cross-entropy, backward) on `rows` images per member,
    and of a forward pass without gradients on `predict_rows`, in each layout, the layouts taken in turn. (The
    convolutions alone ranked the layouts differently from the whole step, and the forward pass alone differently
    again: 10 specialists of the glyph CNN trained fastest channels-last but predicted 1.4x faster per member.)"""
    from .cnn import BatchedCNN
    g = torch.Generator().manual_seed(0)
    m = BatchedCNN(channels, hidden, n_out, side, [torch.Generator().manual_seed(e) for e in range(E)],
                   torch.device("cpu"), in_channels, layout=LAYOUTS[0])
    x = torch.rand(E, max(rows, predict_rows), in_channels, side, side, generator=g)
    y = torch.randint(0, n_out, (E * rows,), generator=g)

    def step():
        m.zero_grad(set_to_none=True)
        F.cross_entropy(m(x[:, :rows]).reshape(E * rows, n_out), y).backward()

    def forward():
        with torch.no_grad():
            m(x[:, :predict_rows])

    times = {(what, lay): [] for what in ("train", "predict") for lay in LAYOUTS}
    with torch.enable_grad():  # a model may be built under no_grad (BatchedCNN.select is)
        return _timed(times, m, step, forward)


def _timed(times: dict, m, step, forward) -> dict:
    for _ in range(3):
        for (what, lay), t in times.items():
            m.layout = m.predict_layout = lay
            f = step if what == "train" else forward
            f()  # warm-up: oneDNN builds its kernels on first use
            t0 = time.perf_counter()
            f()
            t.append(time.perf_counter() - t0)
    out = {}
    for what, prefix in (("train", ""), ("predict", "predict_")):
        med = {lay: statistics.median(times[what, lay]) for lay in LAYOUTS}
        out[f"{prefix}ms"] = {lay: round(1e3 * t, 3) for lay, t in med.items()}
        out[f"{prefix}layout"] = min(med, key=med.get)
    return out


def _key(E, rows, channels, hidden, n_out, side, in_channels) -> str:
    return f"E={E} x {rows} rows, channels {list(channels)}, hidden {hidden}, {n_out} out, {in_channels} x {side} px"


def _load() -> dict:
    global _CACHE
    if _CACHE is None:
        try:
            _CACHE = json.loads((data_dir() / "conv-probe.json").read_text())
        except (OSError, ValueError):
            _CACHE = {}
    return _CACHE


def choose(E: int, rows: int, channels, hidden: int, n_out: int, side: int, in_channels: int,
           device: torch.device) -> tuple[str, str]:
    """The layouts (for training, for predictions without gradients) of a model of E members trained on `rows`
    images per member per step."""
    want = _env()
    if want != "auto":
        return want, want
    if device.type != "cpu" or E * rows * conv_macs(channels, side, in_channels) < MIN_MACS:
        return "grouped", "grouped"
    from .precision import machine_key  # the same key as the GEMM probe's
    key = _key(E, rows, channels, hidden, n_out, side, in_channels)
    mine = _load().setdefault(machine_key(), {})
    if key not in mine or "predict_layout" not in mine[key]:
        mine[key] = probe(E, rows, channels, hidden, n_out, side, in_channels)
        try:
            atomic_write_json(data_dir() / "conv-probe.json", _CACHE)
        except OSError:  # a read-only data folder: probe again next time
            pass
    CHOSEN[key] = f"{mine[key]['layout']} (training), {mine[key]['predict_layout']} (predictions)"
    return mine[key]["layout"], mine[key]["predict_layout"]


def policy() -> str:
    want = _env()
    if want != "auto":
        return f"{want} (REPRODUCE_CNN_LAYOUT={want})"
    return (f"the fastest of {', '.join(LAYOUTS)} by this machine's probe for models of >= {MIN_MACS:,} "
            "convolution multiply-adds a step, else grouped")
