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


# Below this many pixels a side, oneDNN trains a depthwise convolution with a generic kernel.
SMALL_FEATURE_MAP = 4
# Up to this many pixels (4x4), a 1x1 convolution trains faster as one matrix product.
SMALL_MAP_PIXELS = 16


def _running() -> bool:
    """Run eagerly or under torch.compile, not traced, scripted or exported: exported graphs
    keep the plain convolution (what ONNX, phone runtimes and FX quantization expect)."""
    return not (
        torch.jit.is_scripting()
        or torch.jit.is_tracing()
        or torch.compiler.is_exporting()
        or torch.fx._symbolic_trace.is_fx_symbolic_tracing()
    )


def whole_window_taps(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor | None:
    """The filter taps over ``x`` of a depthwise convolution with a single output pixel whose
    window covers the whole input (the last layers at 32 px: 1x1 and 2x2 maps), else None.

    Such a layer is a per-channel weighted sum, ``(x * taps).sum((-2, -1))``: oneDNN (torch 2.14)
    trains the 1x1-map case 40x slower as a convolution (9.7 against 0.2 ms, fp32, batch 64 x 1024
    channels; BENCHMARKS.md)."""
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


class ConvBnAct(nn.Sequential):
    """[pad], convolution(s), batch norm and activation, run in sequence.

    When training on CPU, eagerly or under torch.compile (inference, and traced and exported graphs
    keep the plain layers), these layers run as oneDNN (torch 2.14) trains fastest, measured in
    BENCHMARKS.md:

    - in channels-last memory format whatever the input's: NCHW depthwise convolutions train up to
      7x slower (10.7 against 1.6 ms on a 2x2 map, batch 64 x 512 channels), so a caller who never
      asked for channels_last gets its speed; the values are the same;

    - under CPU autocast, a depthwise convolution that is strided, or that sees a feature map
      under 4 pixels a side, runs (with its BN and activation) in fp32: oneDNN has no bf16
      training kernel for those and falls back to generic ones 10-100x slower than fp32
      (``ONEDNN_VERBOSE``: ``brgconv_strided`` backward-data, ``jit_bf16`` backward-weights).
      Depthwise layers hold about 3% of the mult-adds, so the pointwise ones keep bf16's gain;
    - a depthwise convolution with one output pixel that sees its whole input is a per-channel
      weighted sum (``whole_window_taps``);
    - a 1x1 convolution on a map of at most 4x4 pixels is one matrix product over the
      channels-last pixels (``F.linear``): oneDNN's convolution trains those 1.3-4.9x slower
      (bf16 and fp32; 7.8 against 1.6 ms for 1024 -> 1024 channels on 1x1 maps, batch 64).

    Under torch.compile the layers keep all of these but the small-map products.
    """

    def __init__(self, layers: OrderedDict[str, nn.Module]) -> None:
        super().__init__(layers)
        convs = [module for module in layers.values() if isinstance(module, nn.Conv2d)]
        self.grouped = any(conv.groups > 1 for conv in convs)
        self.strided = any(max(conv.stride) > 1 for conv in convs)
        conv = layers.get("conv")
        depthwise = (
            isinstance(conv, nn.Conv2d) and conv.groups == conv.in_channels == conv.out_channels > 1
        )
        self.depthwise = depthwise and "pad" not in layers and isinstance(conv.padding, tuple)
        self.pointwise = (
            isinstance(conv, nn.Conv2d)
            and conv.groups == 1
            and conv.kernel_size == (1, 1)
            and conv.stride == (1, 1)
            and conv.padding == (0, 0)
            and conv.dilation == (1, 1)
            and "pad" not in layers
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Training only, so inference gives timm's logits bit for bit from the same weights;
        # `_running()` before any shape test: graph tracers (FX, jit.trace, export) never reach one.
        if not (self.training and _running()):
            return super().forward(x)
        if x.device.type == "cpu" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)  # a no-op after the first layer
            # Not under torch.compile: once a size is traced as a symbol (a second size seen by this
            # code, in any model), inductor (torch 2.14) fails on the product's channels-last view
            # ("cannot determine truth value of Relational").
            if (
                self.pointwise
                and x.shape[-2] * x.shape[-1] <= SMALL_MAP_PIXELS
                and not torch.compiler.is_compiling()
            ):
                out = F.linear(x.permute(0, 2, 3, 1), self.conv.weight.flatten(1), self.conv.bias)
                return self.act(self.bn(out.permute(0, 3, 1, 2)))  # NCHW view of channels-last data
        if not self.grouped:
            return super().forward(x)
        if torch.is_autocast_enabled("cpu") and (
            self.strided or min(x.shape[-2:]) < SMALL_FEATURE_MAP
        ):
            with torch.autocast("cpu", enabled=False):
                return self._depthwise_forward(x.float())
        return self._depthwise_forward(x)

    def _depthwise_forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = whole_window_taps(self.conv, x) if self.depthwise else None
        if taps is None:
            return super().forward(x)
        return self.act(self.bn((x * taps).sum((-2, -1), keepdim=True)))


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
