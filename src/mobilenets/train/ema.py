"""An exponential moving average of a model's weights and buffers, evaluated alongside it."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


class ModelEma(AveragedModel):
    """``AveragedModel`` with an EMA whose decay warms up like TensorFlow's
    ``ExponentialMovingAverage(decay, num_updates)``: the n-th update (n counted from 0) uses
    ``min(decay, (1 + n) / (10 + n))``, so early averages are not dominated by the random
    initial weights. The first update copies the model. Buffers (batch-norm statistics) are
    averaged too. ``ema.module`` is the averaged network; ``state_dict()`` saves it with the
    update count.
    """

    def __init__(
        self,
        model: nn.Module,
        decay: float = 0.9999,
        *,
        warmup: bool = True,
        device: torch.device | str | None = None,
    ) -> None:
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"EMA decay must be in [0, 1], got {decay}")
        super().__init__(model, device=device, use_buffers=True)
        self.decay = decay
        self.warmup = warmup

    def current_decay(self) -> float:
        """The decay the next update will use."""
        n = int(self.n_averaged)
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        self.multi_avg_fn = get_ema_multi_avg_fn(self.current_decay())
        super().update_parameters(model)
