"""The machine a figure was measured on, named the same way by every benchmark and latency table,
and what its CPU can do."""
from __future__ import annotations

import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU model as Linux names it (``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux lists them (``flags`` on x86, ``Features`` on Arm);
    empty where ``/proc/cpuinfo`` is not readable."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16() -> bool:
    """Whether the CPU computes bf16 in hardware (x86 AVX-512 BF16 or AMX, Arm's BF16), the
    only CPUs on which bf16 autocast can train faster than fp32."""
    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16", "bf16"})
