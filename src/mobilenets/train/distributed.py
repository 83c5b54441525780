"""Distributed set-up from torchrun's environment: gloo on CPU, NCCL on CUDA, rank 0 writes.

Without torchrun (no WORLD_SIZE, or WORLD_SIZE=1) everything here degrades to one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    """Where this process stands: its rank, the world size and the device it trains on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def sum(self, values: dict[str, float]) -> dict[str, float]:
        """Sums a dict of numbers over all ranks (every rank must pass the same keys)."""
        if not self.enabled or not values:
            return dict(values)
        keys = sorted(values)
        tensor = torch.tensor(
            [float(values[key]) for key in keys], dtype=torch.float64, device=self.device
        )
        dist.all_reduce(tensor)
        return dict(zip(keys, tensor.tolist()))

    def all_true(self, flag: bool) -> bool:
        """True only when ``flag`` holds on every rank (so all ranks stop together)."""
        if not self.enabled:
            return flag
        tensor = torch.tensor([0.0 if flag else 1.0], device=self.device)
        dist.all_reduce(tensor)
        return tensor.item() == 0

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order (one-element list without distribution)."""
        if not self.enabled:
            return [value]
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if not self.enabled:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def is_main_process() -> bool:
    """Whether this process is rank 0 of a torchrun launch (or not launched by torchrun): the
    one that reports a run's results."""
    return int(os.environ.get("RANK", "0")) == 0


def setup(device: str = "auto") -> Distributed:
    """Joins the process group torchrun describes (if any) and picks this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but no CUDA device is available")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        target = torch.device("cuda", local_rank)
    else:
        target = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return Distributed(rank=rank, world_size=world_size, local_rank=local_rank, device=target)


def teardown(state: Distributed) -> None:
    if state.enabled and dist.is_initialized():
        dist.destroy_process_group()
