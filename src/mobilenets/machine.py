"""The machine a figure was measured on, named the same way by every benchmark and latency table,
and what its CPU can do."""

from __future__ import annotations

import os
import platform
import time
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


# The instruction sets the int8 and bf16 kernels of oneDNN, XNNPACK, MLAS and OpenVINO choose by
# (x86, then Arm's names).
KERNEL_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "bf16",
    "i8mm",
    "sve",
)


def _all_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux lists them (``flags`` on x86, ``Features`` on Arm);
    empty where ``/proc/cpuinfo`` is not readable."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_flags() -> list[str]:
    """The CPU's kernel-relevant flags (:data:`KERNEL_FLAGS` that ``/proc/cpuinfo`` lists), in
    that order; empty where the file is unreadable."""
    present = _all_flags()
    return [flag for flag in KERNEL_FLAGS if flag in present]


def isa_cap() -> str | None:
    """The instruction-set ceiling set for oneDNN (``ONEDNN_MAX_CPU_ISA``, or its older name
    ``DNNL_MAX_CPU_ISA``), upper-cased; None when none is set. PyTorch's and OpenVINO's
    kernels stay below it, whatever the CPU lists."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA")
    return None if not cap or cap.upper() in ("ALL", "DEFAULT") else cap.upper()


def _cap_allows(*names: str) -> bool:
    """Whether the ISA cap (none: everything) names one of ``names``' instruction sets or a later
    one (oneDNN's caps containing BF16, FP16, AMX or AVX10 include VNNI and BF16)."""
    cap = isa_cap()
    return cap is None or any(name in cap for name in (*names, "BF16", "FP16", "AMX", "AVX10"))


def native_bf16() -> bool:
    """Whether the CPU computes bf16 in hardware (x86 AVX-512 BF16 or AMX, Arm's BF16), the
    only CPUs on which bf16 autocast can train faster than fp32; False when an ISA cap below
    AVX-512 BF16 (e.g. ``ONEDNN_MAX_CPU_ISA=AVX2``) leaves the kernels to emulate bf16."""
    return _cap_allows() and bool(_all_flags() & {"avx512_bf16", "amx_bf16", "bf16"})


def has_vnni() -> bool:
    """Whether u8 x s8 dot products run without 16-bit saturation (AVX-512 VNNI or AVX-VNNI),
    within the ISA cap: OpenVINO capped at AVX512_CORE saturates (measured: int8 errors up to
    66% of the largest logit instead of 17%)."""
    return _cap_allows("VNNI") and bool({"avx512_vnni", "avx_vnni"}.intersection(cpu_flags()))


def _busy_seconds() -> float | None:
    """Seconds all CPUs have spent busy since boot (user, nice, system, irq, softirq and steal:
    time a hypervisor gave to other guests is taken from us too), from ``/proc/stat``."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """How much CPU other processes took during a ``with`` block: the machine's busy time
    (``/proc/stat``) less this process's own (``os.times``), in cores (1.0: one core's worth of
    wall time). ``cores`` is None where ``/proc/stat`` is not readable."""

    def __enter__(self) -> OtherLoad:
        self._start = (_busy_seconds(), _own_seconds(), time.perf_counter())
        self.cores: float | None = None
        return self

    def __exit__(self, *exc_info: object) -> None:
        busy, own, wall = _busy_seconds(), _own_seconds(), time.perf_counter()
        if busy is not None and self._start[0] is not None and wall > self._start[2]:
            other = (busy - self._start[0]) - (own - self._start[1])
            self.cores = round(max(0.0, other) / (wall - self._start[2]), 2)

    def contended(self, threads: int) -> bool:
        """Whether others needed cores that a ``threads``-thread measurement was using: more
        than the machine's idle cores plus a tenth of one (clock-tick noise)."""
        return self.cores is not None and self.cores > max(0, (os.cpu_count() or 1) - threads) + 0.1


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system
