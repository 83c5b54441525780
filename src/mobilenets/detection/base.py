"""What every MobileNet detector shares: the body it is built on, the arguments it was built
with (to rebuild it from a checkpoint) and an example input for cost accounting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..models import MobileNetV1, parameter_names

# The reference detectors (TF Object Detection API) keep at least 16 channels per layer.
DETECTION_MIN_DEPTH = 16
# Inputs scaled to [-1, 1], as MobileNet was trained.
IMAGE_MEAN = [0.5, 0.5, 0.5]
IMAGE_STD = [0.5, 0.5, 0.5]


class MobileNetDetector:
    """Mixed into torchvision's SSD and FasterRCNN: ``config`` rebuilds the model with
    ``create_model(config["arch"], **config)``, ``pretrained_cfg`` describes its input."""

    config: dict[str, Any]
    pretrained_cfg: dict[str, Any]

    def _describe(self, config: dict[str, Any], resolution: int) -> None:
        self.config = config
        self.pretrained_cfg = dict(
            input_size=(3, resolution, resolution),
            mean=tuple(IMAGE_MEAN),
            std=tuple(IMAGE_STD),
            num_classes=config["num_classes"],
        )

    def example_input(self) -> list[torch.Tensor]:
        """One image at the detector's resolution, as torchvision detectors take it (a list)."""
        return [torch.zeros(self.pretrained_cfg["input_size"])]


# The reference detectors' body: ReLU6, batch-norm epsilon 1e-3; symmetric padding gives the
# same map sizes as TF "same" at 300 and 600 px ("tf_same" matches released TF weights exactly).
BODY_DEFAULTS: dict[str, Any] = {"activation": "relu6", "padding": "symmetric", "bn_eps": 1e-3}


def detector_arguments(
    detector: type, torchvision_detector: type, set_by_detector: tuple[str, ...]
) -> list[str]:
    """The keyword arguments a checkpoint may give ``detector``: its own, its body's options
    (BODY_DEFAULTS) and the options of torchvision's ``torchvision_detector`` it leaves to the caller."""
    return [
        *parameter_names(detector),
        *BODY_DEFAULTS,
        *(name for name in parameter_names(torchvision_detector) if name not in set_by_detector),
    ]


def detector_body(
    num_classes: Any,
    alpha: float,
    resolution: int,
    variant: str,
    backbone_state: Mapping[str, torch.Tensor] | None,
    options: dict[str, Any],
) -> tuple[MobileNetV1, dict[str, Any]]:
    """Checks the class count and builds a detector's body; the body's own options (see
    BODY_DEFAULTS) are taken out of ``options`` and returned, the rest left for torchvision."""
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"num_classes must count the background too (>= 2); got {num_classes!r}")
    body_options = {key: options.pop(key, default) for key, default in BODY_DEFAULTS.items()}
    body = mobilenet_body(
        alpha, resolution, variant, backbone_state, min_depth=DETECTION_MIN_DEPTH, **body_options
    )
    return body, body_options


def mobilenet_body(
    alpha: float,
    resolution: int,
    variant: str,
    backbone_state: Mapping[str, torch.Tensor] | None,
    **options: Any,
) -> MobileNetV1:
    """A classifier-free MobileNet v1, optionally initialised from a classification state dict
    (its classifier, if any, is left out)."""
    body = MobileNetV1(
        alpha=alpha, resolution=resolution, num_classes=0, variant=variant, **options
    )
    if backbone_state is not None:
        state = {
            key: value for key, value in backbone_state.items() if not key.startswith("classifier.")
        }
        try:
            body.load_state_dict(state)
        except RuntimeError as error:
            raise ValueError(
                f"the backbone checkpoint does not fit a MobileNet v1 with alpha {alpha} and variant "
                f"{variant!r}: {str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else error}"
            ) from None
    return body


def last_at_stride(body: MobileNetV1, reduction: int) -> tuple[str, int]:
    """The name and depth of the body's last layer at ``reduction`` (16: Conv2d_11_pointwise,
    32: Conv2d_13_pointwise in the paper's network; any variant works)."""
    info = [entry for entry in body.feature_info if entry["reduction"] == reduction][-1]
    return info["module"].removeprefix("features."), info["num_chs"]


def split_body(body: MobileNetV1) -> tuple[nn.Sequential, nn.Sequential]:
    """The body's layers up to the last stride-16 layer, and the layers after it."""
    cut = body.endpoint_names.index(last_at_stride(body, 16)[0]) + 1
    return body.features[:cut], body.features[cut:]
