"""What a weights file says about itself (``config``, ``pretrained_cfg``) is data from elsewhere:
checked against MobileNetConfig's declared ranges and the preprocessing this package can do,
and the tensors' shapes against the network that config describes (built on the meta device,
so no memory), before anything is built, in one line naming the file and the field."""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

import torch

from ..models.mobilenet_v1 import RESOLUTION, MobileNetConfig, MobileNetV1

# torchvision's InterpolationMode values, the names timm's pretrained_cfg uses.
INTERPOLATIONS = ("nearest", "nearest-exact", "bilinear", "bicubic", "box", "hamming", "lanczos")


def check_described(checkpoint: Mapping[str, Any], source: Any) -> None:
    """ValueError naming ``source`` and the first bad entry of the checkpoint's ``config`` or
    ``pretrained_cfg``, or the first tensor whose shape that config does not give."""
    config = checkpoint["config"]
    try:
        MobileNetConfig(**config).validate()
    except (TypeError, ValueError) as error:
        raise ValueError(f"{source}: its config is not a MobileNet v1's: {error}") from None
    cfg = checkpoint.get("pretrained_cfg")
    if cfg is not None:
        problem = _pretrained_cfg_problem(cfg, config["in_channels"])
        if problem:
            raise ValueError(f"{source}: its pretrained_cfg {problem}")
    with torch.device("meta"):
        expected = MobileNetV1(**config).state_dict()
    for name, tensor in checkpoint["model"].items():
        if name in expected and tuple(tensor.shape) != tuple(expected[name].shape):
            raise ValueError(
                f"{source}: the weights' {name} has shape {tuple(tensor.shape)}, a MobileNet v1 "
                f"of alpha {config['alpha']:g} needs {tuple(expected[name].shape)}"
            )


def _number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _pretrained_cfg_problem(cfg: Any, channels: int) -> str | None:
    """What is wrong with a pretrained_cfg (None when nothing): the keys preprocessing reads."""
    if not isinstance(cfg, Mapping):
        return f"is not a mapping; got {type(cfg).__name__}"
    size = cfg.get("input_size", (channels, 224, 224))
    if (
        not isinstance(size, list | tuple)
        or len(size) != 3
        or size[0] != channels
        or not all(isinstance(side, int) and RESOLUTION.contains(side) for side in size[1:])
    ):
        return f"input_size must be ({channels}, H, W) with sides {RESOLUTION.describe()}; got {size!r}"
    crop = cfg.get("crop_pct", 1.0)
    if not _number(crop) or not 0 < crop <= 1:
        return f"crop_pct must be a number in (0, 1]; got {crop!r}"
    if cfg.get("interpolation", "bilinear") not in INTERPOLATIONS:
        return f"interpolation must be one of {', '.join(INTERPOLATIONS)}; got {cfg['interpolation']!r}"
    for key, low in (("mean", -math.inf), ("std", 0.0)):
        values = cfg.get(key, (0.5,) * channels)
        if (
            not isinstance(values, list | tuple)
            or len(values) != channels
            or not all(_number(value) and value > low for value in values)
        ):
            allowed = "finite numbers" if key == "mean" else "positive finite numbers"
            return f"{key} must be {channels} {allowed}; got {values!r}"
    return None
