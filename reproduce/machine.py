"""What machine this is, for provenance and for per-CPU decisions (the bf16 probe's cache): CPU model, vendor,
family/model/stepping, the ISA flags that decide which kernels run, and torch's CPU capability."""
from __future__ import annotations

import functools
import os
import platform
import re
from pathlib import Path

import torch

# the CPU features that decide which kernels (and so which rounding) a product gets: AMX and AVX512-BF16 for bf16,
# AVX-512 and AVX2 for fp32; Intel and AMD CPUs of one ISA still pick different MKL paths
ISA_FLAGS = ("amx_tile", "amx_bf16", "amx_int8", "avx512_bf16", "avx512f", "avx512_vnni", "avx2", "fma")


@functools.cache
def cpu_info() -> dict:
    """The CPU's model name, vendor and relevant ISA flags (from /proc/cpuinfo where there is one), and the kernel
    level torch dispatches to."""
    model, vendor, family, flags = platform.processor() or platform.machine(), "", "", set()
    try:
        text = Path("/proc/cpuinfo").read_text()
        if m := re.search(r"^model name\s*:\s*(.+)$", text, re.M):
            model = m.group(1).strip()
        if m := re.search(r"^vendor_id\s*:\s*(.+)$", text, re.M):
            vendor = m.group(1).strip()
        # a VM may show only "AMD EPYC": family/model/stepping tell the generation (25/17: Zen 4)
        family = "/".join(m.group(1) for k in ("cpu family", "model", "stepping")
                          if (m := re.search(rf"^{k}\s*:\s*(\d+)$", text, re.M)))
        if m := re.search(r"^flags\s*:\s*(.+)$", text, re.M):
            flags = set(m.group(1).split())
    except OSError:
        pass
    try:
        capability = torch.backends.cpu.get_cpu_capability()
    except AttributeError:  # torch before 2.1
        capability = "unknown"
    return {"cpu_model": model, "cpu_vendor": vendor, "cpu_family_model_stepping": family, "cpu_isa": [f for f in ISA_FLAGS if f in flags],
            "torch_cpu_capability": capability, "cpu_cores": os.cpu_count()}


def cpu_slug() -> str:
    """This CPU's model as a file-name stem ("AMD EPYC" -> "amd-epyc"), for records kept per CPU model."""
    return re.sub(r"[^A-Za-z0-9]+", "-", cpu_info()["cpu_model"]).strip("-").lower()
