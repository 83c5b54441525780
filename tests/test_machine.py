"""The machine's description: CPU flags and native bf16, checked against torch's own detection."""

from __future__ import annotations

import os
import platform

import pytest
import torch

from mobilenets import machine
from mobilenets.machine import OtherLoad, cpu_flags, has_vnni, native_bf16


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64"),
    reason="torch's CPU feature checks below are x86's",
)
def test_native_bf16_agrees_with_torch(monkeypatch) -> None:
    # torch's checks read the CPU, not the ISA cap CI sets for its AVX2 rerun.
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    assert ("avx2" in cpu_flags()) == torch.cpu._is_avx2_supported()
    assert native_bf16() == (
        torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    )


def test_an_isa_cap_below_bf16_means_no_native_bf16(monkeypatch) -> None:
    monkeypatch.setattr(machine, "_all_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    for cap, native in [
        ("AVX2", False),
        ("avx512_core", False),
        ("AVX512_CORE_VNNI", False),
        ("AVX512_CORE_BF16", True),
        ("AVX512_CORE_AMX", True),
        ("ALL", True),
    ]:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert native_bf16() is native, cap
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setenv("DNNL_MAX_CPU_ISA", "AVX2")
    assert not native_bf16()


def test_an_isa_cap_below_vnni_means_saturating_int8(monkeypatch) -> None:
    monkeypatch.setattr(machine, "_all_flags", lambda: frozenset({"avx2", "avx512_vnni"}))
    for cap, vnni in [
        ("AVX2", False),
        ("AVX512_CORE", False),
        ("AVX512_CORE_VNNI", True),
        ("AVX512_CORE_BF16", True),
        ("DEFAULT", True),
    ]:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert has_vnni() is vnni, cap


def test_other_load_is_busy_time_less_our_own_over_wall_time(monkeypatch) -> None:
    """The arithmetic on given counters, not on whatever the machine is doing now: 3.5 busy
    seconds of which 0.5 were ours over 2 s of wall time are 1.5 other cores."""
    counters = iter([(10.0, 1.0, 100.0), (13.5, 1.5, 102.0)])
    current = {}

    def step():
        current["busy"], current["own"], current["wall"] = next(counters)

    monkeypatch.setattr(machine, "_busy_seconds", lambda: current["busy"])
    monkeypatch.setattr(machine, "_own_seconds", lambda: current["own"])
    monkeypatch.setattr(machine.time, "perf_counter", lambda: current["wall"])
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    step()
    with OtherLoad() as load:
        step()
    assert load.cores == 1.5
    assert load.contended(1) and load.contended(2)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert not load.contended(2) and load.contended(3)


def test_other_load_is_unknown_without_proc_stat(monkeypatch) -> None:
    monkeypatch.setattr(machine, "_busy_seconds", lambda: None)
    with OtherLoad() as load:
        pass
    assert load.cores is None and not load.contended(1)
