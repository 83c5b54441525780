"""CPU training speed-ups: the layer shapes oneDNN (torch 2.14) trains slowly, computed another
way with the same values (BENCHMARKS.md, "Why bf16 was slow" and "Four more layouts").

``swap_in(model, channels_last=..., compiling=...)`` replaces the model's eligible ``ConvBnAct``
blocks with the variants below, built from the same child modules (the same parameters, buffers
and state_dict keys); ``swap_out(model)`` puts the plain blocks back. The training loop swaps
them in on CPU for its own run only, so exported, traced, scripted, FX and compiled graphs of a
model from a checkpoint see the plain layers. The variants compute the plain way in eval mode,
so the loop's evaluation equals ``eval``'s.

- A depthwise (or flattened) layer that is strided, or sees a map under 4 pixels a side, runs
  in fp32 under CPU autocast (with its BN and activation): oneDNN has no bf16 training kernel
  for those and falls back to generic ones 10-100x slower (``ONEDNN_VERBOSE``:
  ``brgconv_strided`` backward-data, ``jit_bf16`` backward-weights). Depthwise layers hold
  about 3% of the mult-adds, so the pointwise ones keep bf16's gain.
- A depthwise convolution with one output pixel that sees its whole input is a per-channel
  weighted sum (``whole_window_taps``): 9.7 against 0.2 ms on a 1x1 map (fp32, batch 64 x 1024).
- With channels-last, a 1x1 convolution on a map of at most 4x4 pixels is one matrix product
  over the pixels (``F.linear``): oneDNN's convolution trains those 1.3-4.9x slower (bf16 and
  fp32; 7.8 against 1.6 ms for 1024 -> 1024 channels on 1x1 maps, batch 64). Not under
  torch.compile: once a size is traced as a symbol, inductor (torch 2.14) fails on the
  product's channels-last view ("cannot determine truth value of Relational").
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..models import ConvBnAct

# Below this many pixels a side, oneDNN trains a bf16 depthwise convolution with a generic kernel.
SMALL_FEATURE_MAP = 4
# Up to this many pixels (4x4), a 1x1 convolution trains faster as one matrix product.
SMALL_MAP_PIXELS = 16


def whole_window_taps(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor | None:
    """The filter taps over ``x`` of a depthwise convolution with a single output pixel whose
    window covers the whole input (the last layers at 32 px: 1x1 and 2x2 maps), else None."""
    height, width = x.shape[-2:]
    (kh, kw), (ph, pw), (sh, sw) = conv.kernel_size, conv.padding, conv.stride
    if conv.dilation != (1, 1) or height + ph > kh or width + pw > kw:
        return None  # some input pixel lies outside the window
    if (
        height + 2 * ph < kh
        or width + 2 * pw < kw
        or height + 2 * ph - kh >= sh
        or width + 2 * pw - kw >= sw
    ):
        return None  # not exactly one output pixel
    return conv.weight[:, 0, ph : ph + height, pw : pw + width]


class CpuDepthwise(ConvBnAct):
    """A block with grouped convolutions: fp32 islands under CPU autocast, whole-window sums."""

    def __init__(self, layers: OrderedDict[str, nn.Module]) -> None:
        super().__init__(layers)
        convs = [module for module in layers.values() if isinstance(module, nn.Conv2d)]
        self.strided = any(max(conv.stride) > 1 for conv in convs)
        conv = layers.get("conv")
        self.whole_window = (
            isinstance(conv, nn.Conv2d)
            and conv.groups == conv.in_channels == conv.out_channels > 1
            and "pad" not in layers
            and isinstance(conv.padding, tuple)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        if torch.is_autocast_enabled("cpu") and (
            self.strided or min(x.shape[-2:]) < SMALL_FEATURE_MAP
        ):
            with torch.autocast("cpu", enabled=False):
                return self._forward(x.float())
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = whole_window_taps(self.conv, x) if self.whole_window else None
        if taps is None:
            return super().forward(x)
        return self.act(self.bn((x * taps).sum((-2, -1), keepdim=True)))


class CpuPointwise(ConvBnAct):
    """A 1x1 convolution block whose small (channels-last) maps train as one matrix product."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or x.shape[-2] * x.shape[-1] > SMALL_MAP_PIXELS:
            return super().forward(x)
        out = F.linear(x.permute(0, 2, 3, 1), self.conv.weight.flatten(1), self.conv.bias)
        return self.act(self.bn(out.permute(0, 3, 1, 2)))  # an NCHW view of channels-last data


def _is_pointwise(block: ConvBnAct) -> bool:
    conv = getattr(block, "conv", None)
    return (
        type(conv) is nn.Conv2d
        and list(block._modules) == ["conv", "bn", "act"]
        and conv.groups == 1
        and conv.kernel_size == (1, 1)
        and conv.stride == (1, 1)
        and conv.padding == (0, 0)
        and conv.dilation == (1, 1)
    )


def _variant(block: nn.Module, *, products: bool) -> type[ConvBnAct] | None:
    """The speed-up class for a plain block, or None to keep it."""
    if type(block) is not ConvBnAct:
        return None
    if any(isinstance(m, nn.Conv2d) and m.groups > 1 for m in block.children()):
        return CpuDepthwise
    if products and _is_pointwise(block):
        return CpuPointwise
    return None


def _replace(model: nn.Module, choose: Callable[[nn.Module], type | None]) -> int:
    """Rebuilds every block ``choose`` names a class for, from the same children; the count."""
    swapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            cls = choose(child)
            if cls is not None:
                replacement = cls(OrderedDict(child.named_children()))
                replacement.train(child.training)
                setattr(parent, name, replacement)
                swapped += 1
    return swapped


def swap_in(model: nn.Module, *, channels_last: bool, compiling: bool = False) -> int:
    """Swaps the speed-up variants in for ``model``'s eligible blocks; how many were swapped.
    The small-map products only with ``channels_last`` (their output is channels-last) and
    not when ``compiling``."""
    products = channels_last and not compiling
    return _replace(model, lambda block: _variant(block, products=products))


def swap_out(model: nn.Module) -> int:
    """Puts the plain ``ConvBnAct`` back for every speed-up variant; how many."""
    variants = (CpuDepthwise, CpuPointwise)
    return _replace(model, lambda block: ConvBnAct if type(block) in variants else None)
