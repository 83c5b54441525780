"""The machine a figure was measured on, named the same way by every benchmark and latency table."""
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


# The instruction sets the int8 and bf16 kernels of oneDNN, XNNPACK, MLAS and OpenVINO choose by.
KERNEL_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")


def cpu_flags() -> list[str]:
    """The CPU's kernel-relevant flags (:data:`KERNEL_FLAGS` that ``/proc/cpuinfo`` lists), in
    that order; empty where the file is unreadable."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                present = set(line.split(":", 1)[1].split())
                return [flag for flag in KERNEL_FLAGS if flag in present]
    except OSError:
        pass
    return []


def has_vnni() -> bool:
    """Whether u8 x s8 dot products run without 16-bit saturation (AVX-512 VNNI or AVX-VNNI)."""
    return bool({"avx512_vnni", "avx_vnni"}.intersection(cpu_flags()))
