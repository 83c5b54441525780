"""Moving batches of any shape (tensors inside tuples, lists and dicts) to a device."""

from __future__ import annotations

from typing import Any

import torch


def to_device(batch: Any, device: torch.device, *, channels_last: bool = False) -> Any:
    """``batch`` with every tensor on ``device`` (4-d float tensors channels-last if asked)."""
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.dim() == 4 and batch.is_floating_point():
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, (list, tuple)):
        moved = [to_device(item, device, channels_last=channels_last) for item in batch]
        return type(batch)(moved) if not hasattr(batch, "_fields") else type(batch)(*moved)
    if isinstance(batch, dict):
        return {
            key: to_device(value, device, channels_last=channels_last)
            for key, value in batch.items()
        }
    return batch
