"""The building blocks: conv-BN-activation, depthwise separable and flattened convolutions,
and TensorFlow's SAME padding (stride-2 convolutions pad right and bottom only)."""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = ("relu", "relu6")
PADDINGS = ("symmetric", "tf_same")


class TFSamePad2d(nn.Module):
    """Pads as TensorFlow's SAME does for a strided convolution: the extra pixel goes
    right/bottom, so released TF and Keras weights see the same inputs as they were trained on."""

    def __init__(self, kernel: int, stride: int, dilation: int = 1) -> None:
        super().__init__()
        self.kernel, self.stride, self.dilation = kernel, stride, dilation

    def _amount(self, size: int) -> int:
        effective = (self.kernel - 1) * self.dilation + 1
        return max((math.ceil(size / self.stride) - 1) * self.stride + effective - size, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h, pad_w = self._amount(x.shape[-2]), self._amount(x.shape[-1])
        return F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, stride={self.stride}, dilation={self.dilation}"


class ConvBnAct(nn.Sequential):
    """[pad], convolution(s), batch norm and activation, run in sequence (timm's ConvNormAct).

    Plain on purpose: exported, traced and FX graphs, inference and timm's weights see these
    layers as written. The training loop swaps faster CPU formulations in for its own run
    (``mobilenets.train.cpu_speedups``)."""


def make_activation(name: str) -> nn.Module:
    """ReLU as in the paper, or ReLU6 as in the released weights."""
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "relu6":
        return nn.ReLU6(inplace=True)
    raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {name!r}")


def _symmetric_padding(kernel: int, dilation: int) -> int:
    return (kernel - 1) * dilation // 2


def conv_bn_act(
    in_channels: int,
    out_channels: int,
    kernel: int,
    stride: int = 1,
    *,
    dilation: int = 1,
    groups: int = 1,
    padding: str = "symmetric",
    activation: str = "relu",
    bn_eps: float = 1e-3,
) -> ConvBnAct:
    """A bias-free convolution, batch norm and activation: every layer of the body but the FC."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if padding == "tf_same" and stride > 1:
        layers["pad"] = TFSamePad2d(kernel, stride, dilation)
        conv_padding = 0
    else:
        conv_padding = _symmetric_padding(kernel, dilation)
    layers["conv"] = nn.Conv2d(
        in_channels,
        out_channels,
        kernel,
        stride,
        conv_padding,
        dilation=dilation,
        groups=groups,
        bias=False,
    )
    layers["bn"] = nn.BatchNorm2d(out_channels, eps=bn_eps)
    layers["act"] = make_activation(activation)
    return ConvBnAct(layers)


def flattened_conv_bn_act(
    in_channels: int,
    out_channels: int,
    kernel: int,
    stride: int = 1,
    *,
    dilation: int = 1,
    padding: str = "symmetric",
    activation: str = "relu",
    bn_eps: float = 1e-3,
) -> ConvBnAct:
    """Jin et al.'s flattened convolution: a C x 1 x 1 lateral filter across channels, then a
    vertical k x 1 and a horizontal 1 x k filter per channel (C + k + k weights per filter
    instead of C * k * k), then batch norm and activation."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if padding == "tf_same" and stride > 1:
        layers["pad"] = TFSamePad2d(kernel, stride, dilation)
        pad = 0
    else:
        pad = _symmetric_padding(kernel, dilation)
    layers["lateral"] = nn.Conv2d(in_channels, out_channels, 1, bias=False)
    layers["vertical"] = nn.Conv2d(
        out_channels,
        out_channels,
        (kernel, 1),
        (stride, 1),
        (pad, 0),
        dilation=(dilation, 1),
        groups=out_channels,
        bias=False,
    )
    layers["horizontal"] = nn.Conv2d(
        out_channels,
        out_channels,
        (1, kernel),
        (1, stride),
        (0, pad),
        dilation=(1, dilation),
        groups=out_channels,
        bias=False,
    )
    layers["bn"] = nn.BatchNorm2d(out_channels, eps=bn_eps)
    layers["act"] = make_activation(activation)
    return ConvBnAct(layers)


def depthwise_separable(
    in_channels: int,
    out_channels: int,
    kernel: int,
    stride: int = 1,
    *,
    dilation: int = 1,
    padding: str = "symmetric",
    activation: str = "relu",
    bn_eps: float = 1e-3,
) -> OrderedDict[str, ConvBnAct]:
    """The paper's block: a depthwise kxk conv then a 1x1 pointwise conv, each with BN and
    activation. Returned as two named parts so each is an endpoint of its own."""
    options = dict(padding=padding, activation=activation, bn_eps=bn_eps)
    return OrderedDict(
        depthwise=conv_bn_act(
            in_channels,
            in_channels,
            kernel,
            stride,
            dilation=dilation,
            groups=in_channels,
            **options,
        ),
        pointwise=conv_bn_act(in_channels, out_channels, 1, **options),
    )
