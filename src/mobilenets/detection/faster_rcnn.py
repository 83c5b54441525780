"""Faster R-CNN on MobileNet v1 at 300 or 600 px, assembled from torchvision's FasterRCNN,
AnchorGenerator, RPN and MultiScaleRoIAlign.

The body up to the last stride-16 layer (Conv2d_11_pointwise) feeds the region proposal
network; its remaining layers (Conv2d_12 and Conv2d_13, depthwise + pointwise) form the box
head on 14x14 RoI-aligned crops (Conv2d_12's stride 2 makes them 7x7), average pooled into
the class and box predictors. 300 proposals at test time, as the paper.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FasterRCNN, FastRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign

from .base import (
    IMAGE_MEAN,
    IMAGE_STD,
    MobileNetDetector,
    detector_body,
    last_at_stride,
    split_body,
)

RESOLUTIONS = (300, 600)
PROPOSALS = 300
CROP_SIZE = 14
# The reference grid anchors: base 256 at 600 px, scales 1/4 to 2, aspect ratios 1/2, 1, 2;
# scaled with the resolution so that 300 px keeps the same anchors relative to the image.
ANCHOR_SCALES = (0.25, 0.5, 1.0, 2.0)
ASPECT_RATIOS = (0.5, 1.0, 2.0)


class MobileNetFasterRCNN(MobileNetDetector, FasterRCNN):
    """torchvision's FasterRCNN with the MobileNet v1 body split at stride 16 (see the module
    docstring). Images keep their size up to ``resolution`` on the short side."""

    def __init__(
        self,
        arch: str = "frcnn300_mobilenet_v1",
        num_classes: int = 91,
        alpha: float = 1.0,
        resolution: int = 300,
        variant: str = "separable",
        *,
        backbone_state: Mapping[str, torch.Tensor] | None = None,
        **options: Any,
    ) -> None:
        """``options``: the body's (activation, padding, bn_eps) and torchvision FasterRCNN's
        own (rpn_post_nms_top_n_test, box_score_thresh, ...)."""
        body, body_options = detector_body(
            num_classes, alpha, resolution, variant, backbone_state, options
        )
        trunk, top = split_body(body)
        trunk.out_channels = last_at_stride(body, 16)[1]
        box_head = nn.Sequential(
            OrderedDict(
                [
                    *top.named_children(),
                    ("pool", nn.AdaptiveAvgPool2d(1)),
                    ("flatten", nn.Flatten(1)),
                ]
            )
        )
        base = 256 * resolution / 600
        anchors = AnchorGenerator(
            (tuple(round(base * s) for s in ANCHOR_SCALES),), (ASPECT_RATIOS,)
        )
        settings = {
            "min_size": resolution,
            "max_size": resolution * 1024 // 600,
            "rpn_pre_nms_top_n_test": 1000,
            "rpn_post_nms_top_n_test": PROPOSALS,
            "rpn_pre_nms_top_n_train": 2000,
            "rpn_post_nms_top_n_train": PROPOSALS,
            "box_batch_size_per_image": 64,
            # The backbone takes any size: no padding to a multiple of 32.
            "size_divisible": 1,
            **options,
        }
        super().__init__(
            trunk,
            num_classes=None,
            image_mean=IMAGE_MEAN,
            image_std=IMAGE_STD,
            rpn_anchor_generator=anchors,
            box_roi_pool=MultiScaleRoIAlign(["0"], output_size=CROP_SIZE, sampling_ratio=2),
            box_head=box_head,
            box_predictor=FastRCNNPredictor(_depth(top), num_classes),
            **settings,
        )
        self._describe(
            dict(
                arch=arch,
                num_classes=num_classes,
                alpha=alpha,
                resolution=resolution,
                variant=variant,
                **body_options,
                **options,
            ),
            resolution,
        )


def _depth(layers: nn.Sequential) -> int:
    """The output channels of the last convolution in ``layers``."""
    return [m for m in layers.modules() if isinstance(m, nn.Conv2d)][-1].out_channels


def frcnn_mobilenet_v1(resolution: int = 300, **kwargs: Any) -> MobileNetFasterRCNN:
    """Faster R-CNN MobileNet at ``resolution`` 300 or 600 (Table 13)."""
    if resolution not in RESOLUTIONS:
        raise ValueError(
            f"resolution must be one of {', '.join(map(str, RESOLUTIONS))}; got {resolution!r}"
        )
    return MobileNetFasterRCNN(
        **{"arch": f"frcnn{resolution}_mobilenet_v1", **kwargs}, resolution=resolution
    )
