"""The machine's description: CPU flags and native bf16, checked against torch's own detection."""

from __future__ import annotations

import platform

import pytest
import torch

from mobilenets.machine import cpu_flags, native_bf16


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64"),
    reason="torch's CPU feature checks below are x86's",
)
def test_native_bf16_agrees_with_torch() -> None:
    assert ("avx2" in cpu_flags()) == torch.cpu._is_avx2_supported()
    assert native_bf16() == (
        torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    )
