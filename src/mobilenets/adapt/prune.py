"""Narrowing one layer of a trained MobileNet: keep its filters of largest L2 norm, and the
matching inputs of the layer after it (depthwise filters, pointwise or classifier columns)."""

from __future__ import annotations

import torch
from torch import nn

from ..models import MobileNetV1
from .latency_table import layer_groups


def layer_widths(model: MobileNetV1) -> list[int]:
    """The output width of each body layer (``channels``, or alpha's widths)."""
    return [info["num_chs"] for info in model.feature_info]


def filter_importance(model: MobileNetV1, layer: int) -> torch.Tensor:
    """The L2 norm of each output filter of body layer ``layer`` (its last convolution: the
    pointwise one of a separable layer)."""
    modules = [getattr(model.features, name) for name in layer_groups(model)[layer]]
    convolutions = [
        module for group in modules for module in group.modules() if isinstance(module, nn.Conv2d)
    ]
    return convolutions[-1].weight.detach().flatten(1).norm(dim=1)


def narrowed(model: MobileNetV1, layer: int, width: int) -> MobileNetV1:
    """A copy of ``model`` whose body layer ``layer`` keeps its ``width`` most important filters
    (in their original order); every tensor that depends on that width is sliced to match."""
    channels = layer_widths(model)
    channels[layer] = width
    kept = filter_importance(model, layer).topk(width).indices.sort().values
    smaller = MobileNetV1(**{**model.config, "channels": channels})
    target = smaller.state_dict()
    state = {}
    for key, tensor in model.state_dict().items():
        for dim, (have, want) in enumerate(zip(tensor.shape, target[key].shape)):
            if have != want:  # only dimensions sized by the narrowed layer change
                tensor = tensor.index_select(dim, kept)
        state[key] = tensor
    smaller.load_state_dict(state)
    smaller.pretrained_cfg = {**model.pretrained_cfg}
    return smaller.train(model.training)
