"""SSD 300 and SSDLite 300 on MobileNet v1, laid out as the reference (TF Object Detection
API's ssd_mobilenet_v1) and assembled from torchvision's SSD, DefaultBoxGenerator and heads.

Feature maps: the last stride-16 layer (Conv2d_11_pointwise, 19x19 at 300 px) and the last
stride-32 layer (Conv2d_13_pointwise, 10x10), then four extra layers (1x1 conv to half depth,
3x3 stride-2 conv to 512, 256, 256, 128 channels; 5x5, 3x3, 2x2, 1x1). Symmetric padding gives
the same map sizes at 300 px as the reference's TF "same" padding. As in the reference, the
width multiplier scales the extra layers' depths too (with its minimum depth of 16).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from functools import partial
from typing import Any

import torch
from torch import nn
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.ssd import SSD, SSDScoringHead
from torchvision.models.detection.ssdlite import SSDLiteHead

from ..models import conv_bn_act, scaled_depth
from .base import (
    DETECTION_MIN_DEPTH,
    IMAGE_MEAN,
    IMAGE_STD,
    MobileNetDetector,
    detector_body,
    last_at_stride,
)

# The device torchvision's box generator defaults to (a default argument is built once).
CPU = torch.device("cpu")
EXTRA_DEPTHS = (512, 256, 256, 128)
MIN_SCALE, MAX_SCALE = 0.2, 0.95


class ReferenceBoxGenerator(DefaultBoxGenerator):
    """torchvision's default boxes with the reference's lowest layer: 3 boxes (a 0.1 square and
    the first scale at aspect ratios 2 and 1/2) instead of 2 + 2 per ratio."""

    def _generate_wh_pairs(
        self,
        num_outputs: int,
        dtype: torch.dtype = torch.float32,
        device: torch.device = CPU,
    ) -> list[torch.Tensor]:
        pairs = super()._generate_wh_pairs(num_outputs, dtype, device)
        scale, root2 = self.scales[0], math.sqrt(2.0)
        pairs[0] = torch.tensor(
            [[0.1, 0.1], [scale * root2, scale / root2], [scale / root2, scale * root2]],
            dtype=dtype,
            device=device,
        )
        return pairs

    def num_anchors_per_location(self) -> list[int]:
        return [3, *super().num_anchors_per_location()[1:]]


def reference_boxes(num_maps: int = 6) -> ReferenceBoxGenerator:
    """Scales evenly from 0.2 to 0.95 (and 1.0 for the last map's extra square), aspect
    ratios {1, 2, 1/2, 3, 1/3}: 3 boxes on the first map, 6 on the others."""
    scales = [MIN_SCALE + (MAX_SCALE - MIN_SCALE) * k / (num_maps - 1) for k in range(num_maps)] + [
        1.0
    ]
    # The reference does not clip default boxes to the image.
    return ReferenceBoxGenerator([[2]] + [[2, 3]] * (num_maps - 1), scales=scales, clip=False)


class SSDFeatures(nn.Module):
    """The MobileNet body's stride-16 and stride-32 maps, then the extra layers' maps."""

    def __init__(self, body: nn.Module, extras: nn.ModuleList) -> None:
        super().__init__()
        self.body = body
        self.endpoints = [last_at_stride(body, 16)[0], last_at_stride(body, 32)[0]]
        self.extras = extras

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        maps = list(self.body.forward_endpoints(x, self.endpoints).values())
        for layer in self.extras:
            maps.append(layer(maps[-1]))
        return OrderedDict((str(i), feature) for i, feature in enumerate(maps))


def extra_layer(
    in_channels: int, out_channels: int, *, depthwise: bool, **options: Any
) -> nn.Sequential:
    """1x1 conv to half depth, then a 3x3 stride-2 conv (full, or depthwise then 1x1 for SSDLite)."""
    half = out_channels // 2
    layers = OrderedDict(reduce=conv_bn_act(in_channels, half, 1, **options))
    if depthwise:
        layers["depthwise"] = conv_bn_act(half, half, 3, 2, groups=half, **options)
        layers["pointwise"] = conv_bn_act(half, out_channels, 1, **options)
    else:
        layers["conv"] = conv_bn_act(half, out_channels, 3, 2, **options)
    return nn.Sequential(layers)


class PointwiseSSDHead(nn.Module):
    """The reference's predictors: one 1x1 convolution per map for classes and one for boxes."""

    def __init__(self, in_channels: list[int], num_anchors: list[int], num_classes: int) -> None:
        super().__init__()
        self.classification_head = SSDScoringHead(
            nn.ModuleList(
                nn.Conv2d(channels, anchors * num_classes, 1)
                for channels, anchors in zip(in_channels, num_anchors)
            ),
            num_classes,
        )
        self.regression_head = SSDScoringHead(
            nn.ModuleList(
                nn.Conv2d(channels, anchors * 4, 1)
                for channels, anchors in zip(in_channels, num_anchors)
            ),
            4,
        )
        for conv in self.modules():
            if isinstance(conv, nn.Conv2d):
                nn.init.xavier_uniform_(conv.weight)
                nn.init.zeros_(conv.bias)

    def forward(self, x: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return {
            "bbox_regression": self.regression_head(x),
            "cls_logits": self.classification_head(x),
        }


class MobileNetSSD(MobileNetDetector, SSD):
    """torchvision's SSD with a MobileNet v1 feature extractor (see the module docstring)."""

    def __init__(
        self,
        arch: str = "ssd300_mobilenet_v1",
        num_classes: int = 91,
        alpha: float = 1.0,
        resolution: int = 300,
        variant: str = "separable",
        *,
        lite: bool = False,
        backbone_state: Mapping[str, torch.Tensor] | None = None,
        **options: Any,
    ) -> None:
        """``options``: the body's (activation, padding, bn_eps) and torchvision SSD's own
        (score_thresh, nms_thresh, detections_per_img, ...)."""
        body, body_options = detector_body(
            num_classes, alpha, resolution, variant, backbone_state, options
        )
        channels = [last_at_stride(body, 16)[1], last_at_stride(body, 32)[1]]
        extras = nn.ModuleList()
        for depth in EXTRA_DEPTHS:
            out = scaled_depth(depth, alpha, DETECTION_MIN_DEPTH)
            extras.append(extra_layer(channels[-1], out, depthwise=lite, **body_options))
            channels.append(out)
        boxes = reference_boxes(len(channels))
        anchors = boxes.num_anchors_per_location()
        if lite:
            head: nn.Module = SSDLiteHead(
                channels, anchors, num_classes, partial(nn.BatchNorm2d, eps=body_options["bn_eps"])
            )
        else:
            head = PointwiseSSDHead(channels, anchors, num_classes)
        super().__init__(
            SSDFeatures(body, extras),
            boxes,
            (resolution, resolution),
            num_classes,
            image_mean=IMAGE_MEAN,
            image_std=IMAGE_STD,
            head=head,
            **options,
        )
        self._describe(
            dict(
                arch=arch,
                num_classes=num_classes,
                alpha=alpha,
                resolution=resolution,
                variant=variant,
                lite=lite,
                **body_options,
                **options,
            ),
            resolution,
        )


def ssd300_mobilenet_v1(**kwargs: Any) -> MobileNetSSD:
    """SSD 300 with 1x1 predictors, as Table 13's SSD MobileNet (90 classes + background)."""
    return MobileNetSSD(**{"arch": "ssd300_mobilenet_v1", **kwargs})


def ssdlite300_mobilenet_v1(**kwargs: Any) -> MobileNetSSD:
    """SSDLite 300: depthwise separable extra layers and predictors (torchvision's SSDLite head)."""
    return MobileNetSSD(**{"arch": "ssdlite300_mobilenet_v1", "lite": True, **kwargs})
