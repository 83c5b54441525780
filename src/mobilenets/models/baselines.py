"""The paper's comparison networks, from torchvision (random weights: for counting cost)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision.models as tvm
from torch import nn

# name -> (constructor, input resolution the paper's figures assume)
BASELINES: dict[str, tuple[Callable[[], nn.Module], int]] = {
    "vgg16": (lambda: tvm.vgg16(weights=None), 224),
    "googlenet": (lambda: tvm.googlenet(weights=None, aux_logits=False, init_weights=False), 224),
    "alexnet": (lambda: tvm.alexnet(weights=None), 224),
    "squeezenet1_0": (lambda: tvm.squeezenet1_0(weights=None), 224),
    "squeezenet1_1": (lambda: tvm.squeezenet1_1(weights=None), 224),
    "inception_v3": (
        lambda: tvm.inception_v3(weights=None, aux_logits=False, init_weights=False),
        299,
    ),
}


def create_baseline(name: str, device: str | torch.device = "meta") -> tuple[nn.Module, int]:
    """A torchvision comparison network and the input resolution to count it at. On the
    default "meta" device it holds shapes but no memory: enough to count its cost at once."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    constructor, resolution = BASELINES[name]
    with torch.device(device):
        return constructor(), resolution
