"""Per-step learning-rate schedules: linear warm-up, then the reference recipe's staircase
exponential decay (x0.94 every 2 epochs, TF-slim's train_image_classifier), cosine, or constant."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.optim.lr_scheduler import LambdaLR

SCHEDULES = ("exponential", "cosine", "constant")


@dataclass(frozen=True)
class LrFactor:
    """The factor multiplying each group's base learning rate at optimizer step ``step``.

    Warm-up rises linearly to 1 over ``warmup_steps`` (reaching 1 at step ``warmup_steps - 1``).
    The exponential decay counts from step 0, like TF-slim's ``exponential_decay(global_step,
    staircase=True)``, so adding warm-up does not shift the later learning rates; cosine decays to
    zero over the steps after warm-up.
    """

    name: str
    total_steps: int
    warmup_steps: int
    decay_rate: float
    decay_steps: float

    def __call__(self, step: int) -> float:
        warmup = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        if self.name == "exponential":
            return warmup * self.decay_rate ** math.floor(step / self.decay_steps)
        if self.name == "cosine":
            progress = min(
                1.0, max(0, step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps)
            )
            return warmup * 0.5 * (1.0 + math.cos(math.pi * progress))
        return warmup


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    name: str,
    *,
    epochs: int,
    steps_per_epoch: int,
    warmup_epochs: float = 0,
    decay_rate: float = 0.94,
    decay_epochs: float = 2.0,
) -> LambdaLR:
    """A ``LambdaLR`` to step once per optimizer step; its ``state_dict`` holds the step count
    and the schedule's parameters, so a resumed run continues exactly."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    if epochs < 1 or steps_per_epoch < 1:
        raise ValueError(
            f"epochs and steps_per_epoch must be >= 1, got {epochs} and {steps_per_epoch}"
        )
    if not 0 <= warmup_epochs <= epochs:
        raise ValueError(f"warmup_epochs must be in [0, epochs={epochs}], got {warmup_epochs}")
    if not 0.0 < decay_rate <= 1.0:
        raise ValueError(f"decay_rate must be in (0, 1], got {decay_rate}")
    if decay_epochs <= 0:
        raise ValueError(f"decay_epochs must be > 0, got {decay_epochs}")
    factor = LrFactor(
        name=name,
        total_steps=epochs * steps_per_epoch,
        warmup_steps=round(warmup_epochs * steps_per_epoch),
        decay_rate=decay_rate,
        decay_steps=decay_epochs * steps_per_epoch,
    )
    return LambdaLR(optimizer, factor)
