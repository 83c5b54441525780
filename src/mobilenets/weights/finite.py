"""Weights with NaN or infinite values load without complaint and then predict nothing: such
files are refused where they are read, naming the first bad tensor."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch


def check_finite(state: Mapping[str, Any], source: Any) -> None:
    """ValueError naming the first floating-point tensor of ``state`` that holds NaN or inf."""
    for name, tensor in state.items():
        if (
            isinstance(tensor, torch.Tensor)
            and tensor.is_floating_point()
            and not bool(torch.isfinite(tensor).all())
        ):
            raise ValueError(f"{source}: the weights' {name} holds NaN or infinite values")
