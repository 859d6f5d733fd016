"""Timing loops shared by the benchmarks (reproduce.bench) and the training core's own probes (precision.py): the
core may not import the application layer, so the loops live here, below both."""
from __future__ import annotations

import time
from typing import Callable

import torch


def time_steps(step: Callable[[], None], device, n_steps: int, repeats: int, warmup: int) -> list[float]:
    """Seconds per step, one value per repeat of n_steps (after `warmup` steps)."""
    for _ in range(warmup):
        step()
    out = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(n_steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append((time.perf_counter() - t) / n_steps)
    return out


def time_interleaved(steps: dict, device, n_steps: int, repeats: int, warmup: int) -> tuple[dict, dict]:
    """time_steps for several setups, their repeats taken in turn (A B C A B C ...), so a machine that speeds up or
    slows down during the run (shared CPUs do) moves every setup alike and their ratios stay fair. Returns seconds
    per step {name: [one value per repeat]} and, on CUDA, peak memory in MiB {name: max over its repeats}, which
    includes what the other setups hold resident (all are built before timing starts)."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    secs, peak = {name: [] for name in steps}, {name: None for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            secs[name] += time_steps(step, device, n_steps, 1, 0)
            if device.type == "cuda":
                peak[name] = max(peak[name] or 0.0, torch.cuda.max_memory_allocated(device) / 2**20)
    return secs, peak
