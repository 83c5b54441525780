"""Inference preparation: batch norm folded into the convolution before it, channels_last
memory layout, and optionally torch.compile."""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_batch_norm(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` in which every Conv2d followed by a BatchNorm2d inside a
    Sequential (every MobileNet layer: [pad], conv, bn, act) becomes one biased Conv2d.

    The BN slot turns into an Identity, so layer names (endpoints, state_dict keys of the
    convolutions) stay as they were. The original model is left untouched.
    """
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, norm = module._modules[first], module._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                module._modules[first] = fuse_conv_bn_eval(conv, norm)
                module._modules[second] = nn.Identity()
    return folded


def prepare_for_inference(
    model: nn.Module, *, channels_last: bool = True, compile: bool = False
) -> nn.Module:
    """The fastest eager PyTorch form of ``model``: BN folded, weights in channels_last
    (NHWC, what oneDNN's convolutions run fastest on), and ``torch.compile`` when asked."""
    prepared = fold_batch_norm(model)
    if channels_last:
        prepared = prepared.to(memory_format=torch.channels_last)
    if compile:
        prepared = torch.compile(prepared, dynamic=False)
    return prepared
