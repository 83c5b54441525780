"""The evaluation preprocessing a model's weights expect, built from its timm-style
``pretrained_cfg`` (input size, interpolation, crop_pct, mean, std)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from torchvision import transforms
from torchvision.transforms import InterpolationMode

from .transforms import ConvertMode


def transform_from_config(pretrained_cfg: Mapping[str, Any]) -> transforms.Compose:
    """PIL image -> normalised tensor: resize the short side to ``resolution / crop_pct``, centre
    crop ``resolution``, scale to [0, 1], then ``(x - mean) / std`` ([-1, 1] for Google's
    weights, whose mean = std = 0.5)."""
    channels, height, width = pretrained_cfg["input_size"]
    crop_pct = pretrained_cfg.get("crop_pct", 1.0)
    if isinstance(crop_pct, bool) or not isinstance(crop_pct, int | float) or not 0 < crop_pct <= 1:
        raise ValueError(f"crop_pct must be in (0, 1]; got {crop_pct!r}")
    interpolation = InterpolationMode(pretrained_cfg.get("interpolation", "bilinear"))
    steps: list[Any] = [
        ConvertMode(channels),  # grey files for colour models and the reverse
        transforms.Resize(math.floor(min(height, width) / crop_pct), interpolation=interpolation),
        transforms.CenterCrop((height, width)),
        transforms.ToTensor(),
        transforms.Normalize(pretrained_cfg["mean"], pretrained_cfg["std"]),
    ]
    return transforms.Compose(steps)
