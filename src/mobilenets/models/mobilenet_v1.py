"""MobileNet v1 (Howard et al., 2017) built from Table 1 held as data (``spec.py``).

Layers carry the reference endpoint names (``Conv2d_0``, ``Conv2d_{i}_depthwise``,
``Conv2d_{i}_pointwise``) that detection heads and weight converters rely on. The model API
follows timm: ``forward_features``, ``forward_head``, ``reset_classifier``, ``feature_info``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from ..ranges import FRACTION, Range, check_declared, count, declared
from .features import forward_intermediates
from .layers import ACTIVATIONS, PADDINGS, conv_bn_act, depthwise_separable, flattened_conv_bn_act
from .spec import VARIANTS, Conv, Flattened, Separable, body_spec, scaled_depth

OUTPUT_STRIDES = (8, 16, 32)
MIN_RESOLUTION = 32
# Bounds that keep a model buildable in memory (24 GiB): alpha 4 is 16x the widest released
# network's pointwise layers (54.6M parameters, 4096 features); 2048 px is 84x the mult-adds of
# 224 px; a million classes at alpha 1 are 4 GB of classifier weights.
ALPHA = Range(0, 4, low_open=True)
RESOLUTION = count(MIN_RESOLUTION, 2048)
NUM_CLASSES = count(0, 1_000_000)
IN_CHANNELS = count(1, 1024)
# Per-layer widths: 16,384 is 16x the widest layer of alpha 1, alpha 4's widest is 4,096.
CHANNELS = count(1, 16_384)


@dataclass
class MobileNetConfig:
    """The arguments of a MobileNet v1, declared once with the values each allows:
    ``MobileNetV1(**arguments)`` checks them here (as Keras applications do, up front) and
    records them as ``model.config`` (what a checkpoint rebuilds the network from). The command
    line parses ``--alpha``, ``--resolution`` and ``--num-classes`` against the same ranges."""

    alpha: float = declared(1.0, ALPHA)
    resolution: int = declared(224, RESOLUTION)
    num_classes: int = declared(1000, NUM_CLASSES)  # 0: no classifier
    in_channels: int = declared(3, IN_CHANNELS)
    dropout: float = declared(0.0, FRACTION)
    variant: str = declared("separable", choices=VARIANTS)
    activation: str = declared("relu", choices=ACTIVATIONS)
    bn_eps: float = declared(1e-3, Range(0, 1, low_open=True))
    padding: str = declared("symmetric", choices=PADDINGS)
    output_stride: int = declared(32, choices=OUTPUT_STRIDES)
    min_depth: int = declared(8, count(1, 1024))
    head_features: int = declared(0, count(0, 65_536))  # 0: no head convolution
    # The output width of every body layer (Conv2d_0, then each pointwise layer; a depthwise
    # layer keeps its input's width), in place of alpha's uniform widths. None: alpha's.
    channels: list[int] | None = declared(None)

    def validate(self) -> MobileNetConfig:
        """Raises ValueError naming the first bad argument and what it allows (None included)."""
        for argument in fields(self):
            if getattr(self, argument.name) is None and argument.name != "channels":
                raise ValueError(f"{argument.name} must be given; got None")
        check_declared(self)
        if self.channels is not None:
            self.channels = checked_channels(self.channels, len(body_spec(self.variant)))
        return self

    def widths(self) -> list[int]:
        """The output width of each body layer: ``channels``, else alpha's rule."""
        if self.channels is not None:
            return list(self.channels)
        return [
            scaled_depth(spec.depth, self.alpha, self.min_depth) for spec in body_spec(self.variant)
        ]


def checked_channels(channels: Any, layers: int) -> list[int]:
    """``channels`` as a list of ``layers`` whole numbers in ``CHANNELS``; ValueError otherwise."""
    if isinstance(channels, (str, bytes)) or not isinstance(channels, (list, tuple)):
        raise ValueError(f"channels must be a list of {layers} widths; got {channels!r:.200}")
    if len(channels) != layers:
        raise ValueError(
            f"channels must list {layers} widths (one per body layer); got {len(channels)}"
        )
    for index, width in enumerate(channels):
        CHANNELS.check(f"channels[{index}]", width)
    return [int(width) for width in channels]


class MobileNetV1(nn.Module):
    """MobileNet v1 with the width multiplier ``alpha`` and any input ``resolution`` >= 32; the
    arguments (alpha, resolution, num_classes, in_channels, dropout, variant, activation, bn_eps,
    padding, output_stride, min_depth, head_features, channels) and their defaults are
    :class:`MobileNetConfig`'s. ``channels`` gives every body layer its own width (NetAdapt's
    per-layer widths) instead of alpha's.

    ``resolution`` is the input size the model is meant for (the resolution multiplier times
    224); it is recorded in ``pretrained_cfg`` and used by cost accounting, while the network
    itself accepts any input of at least 32 pixels. ``head_features`` > 0 adds a 1x1
    convolution (with BN and activation) after the body, as timm's ``mobilenetv1_100h``.
    """

    def __init__(self, **arguments: Any) -> None:
        super().__init__()
        known = [field.name for field in fields(MobileNetConfig)]
        unknown = sorted(set(arguments) - set(known))
        if unknown:  # arguments may come from a file's config: one line, not a TypeError
            raise ValueError(
                f"MobileNetV1 takes no argument {', '.join(map(repr, unknown))}; it takes {', '.join(known)}"
            )
        settings = MobileNetConfig(**arguments).validate()
        self.config: dict[str, Any] = asdict(settings)
        self.alpha, self.resolution, self.variant = (
            settings.alpha,
            settings.resolution,
            settings.variant,
        )
        self.pretrained_cfg: dict[str, Any] = dict(
            input_size=(settings.in_channels, settings.resolution, settings.resolution),
            interpolation="bilinear",
            crop_pct=0.875,
            mean=(0.5,) * settings.in_channels,
            std=(0.5,) * settings.in_channels,
            num_classes=settings.num_classes,
        )
        self.feature_info: list[dict[str, Any]] = []

        layers: OrderedDict[str, nn.Module] = OrderedDict()
        options = dict(
            padding=settings.padding, activation=settings.activation, bn_eps=settings.bn_eps
        )
        channels, current_stride, rate = settings.in_channels, 1, 1
        for spec, depth in zip(body_spec(settings.variant), settings.widths()):
            # Past the output stride, strides become dilation (as TF-slim's output_stride).
            if current_stride == settings.output_stride:
                stride, dilation, rate = 1, rate, rate * spec.stride
            else:
                stride, dilation = spec.stride, 1
                current_stride *= spec.stride
            name = f"Conv2d_{spec.index}"
            if isinstance(spec, Separable):
                block = depthwise_separable(
                    channels, depth, spec.kernel, stride, dilation=dilation, **options
                )
                for part, module in block.items():
                    layers[f"{name}_{part}"] = module
                name = f"{name}_pointwise"
            elif isinstance(spec, Flattened):
                layers[name] = flattened_conv_bn_act(
                    channels, depth, spec.kernel, stride, dilation=dilation, **options
                )
            elif isinstance(spec, Conv):
                layers[name] = conv_bn_act(
                    channels, depth, spec.kernel, stride, dilation=dilation, **options
                )
            self.feature_info.append(
                dict(num_chs=depth, reduction=current_stride, module=f"features.{name}")
            )
            channels = depth
        self.features = nn.Sequential(layers)
        self.head = (
            conv_bn_act(channels, settings.head_features, 1, **options)
            if settings.head_features
            else nn.Identity()
        )
        self.num_features = settings.head_features or channels
        self.global_pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
        self.dropout = nn.Dropout(settings.dropout)
        self.classifier: nn.Module = nn.Identity()
        self.reset_classifier(settings.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    @property
    def endpoint_names(self) -> list[str]:
        """The names of the body's layers, in order (``Conv2d_0`` ... ``Conv2d_13_pointwise``)."""
        return list(self.features._modules)

    @property
    def num_classes(self) -> int:
        return self.config["num_classes"]

    def get_classifier(self) -> nn.Module:
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """Replaces the classifier with a fresh one for ``num_classes`` (0: none), as timm does."""
        NUM_CLASSES.check("num_classes", num_classes)
        self.config["num_classes"] = num_classes
        self.pretrained_cfg["num_classes"] = num_classes
        if num_classes > 0:
            self.classifier = nn.Linear(self.num_features, num_classes)
            nn.init.normal_(self.classifier.weight, 0.0, 0.01)
            nn.init.zeros_(self.classifier.bias)
        else:
            self.classifier = nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The body's last feature map (N, C, H/32, W/32), through the head convolution if any."""
        return self.head(self.features(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.dropout(self.global_pool(x))
        return x if pre_logits else self.classifier(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(self, x: torch.Tensor, indices: Any = None, **options: Any) -> Any:
        """timm's ``forward_intermediates``: the feature maps at the strides ``indices`` and the
        final map (see ``features.forward_intermediates``)."""
        return forward_intermediates(self, x, indices, **options)

    def forward_endpoints(
        self, x: torch.Tensor, names: Iterable[str] | None = None
    ) -> dict[str, torch.Tensor]:
        """The outputs of the named body layers (all of them by default), running the body only
        as far as the last one asked for."""
        wanted = set(self.endpoint_names if names is None else names)
        unknown = wanted.difference(self.endpoint_names)
        if unknown:
            raise ValueError(
                f"unknown endpoint(s) {', '.join(sorted(unknown))}; this model has {', '.join(self.endpoint_names)}"
            )
        outputs: dict[str, torch.Tensor] = {}
        for name, module in self.features.named_children():
            x = module(x)
            if name in wanted:
                outputs[name] = x
                if len(outputs) == len(wanted):
                    break
        return outputs


def mobilenet_v1(**kwargs: Any) -> MobileNetV1:
    """Builds a MobileNet v1; see :class:`MobileNetV1` for the arguments."""
    return MobileNetV1(**kwargs)
