"""Classification transforms by resolution (torchvision transforms v2 on PIL images)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image
from torchvision.transforms import v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ConvertMode:
    """Converts a PIL image to ``L`` (1 channel) or ``RGB`` (3 channels; grey is replicated).
    A class rather than a lambda so DataLoader workers can pickle it."""

    def __init__(self, in_channels: int) -> None:
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
        self.mode = "L" if in_channels == 1 else "RGB"

    def __call__(self, image: Image.Image) -> Image.Image:
        return image if image.mode == self.mode else image.convert(self.mode)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode!r})"


def evaluation_transform(resolution: int, about: dict[str, Any]) -> v2.Compose:
    """The evaluation transform a checkpoint's data record (``DataBundle.about``) describes."""
    return build_transforms(
        resolution,
        False,
        in_channels=about["in_channels"],
        mean=about["mean"],
        std=about["std"],
        crop_pct=about.get("crop_pct", 0.875),
    )


def build_transforms(
    resolution: int,
    train: bool,
    *,
    in_channels: int = 3,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    min_crop_area: float = 0.25,
    flip: bool = True,
    crop_pct: float = 0.875,
) -> v2.Compose:
    """PIL image -> normalized float tensor of shape (in_channels, resolution, resolution).

    Training: a random-resized crop covering ``min_crop_area``..1 of the image (the paper uses
    less small-crop distortion for small models, so this is a parameter) and a horizontal flip.
    Evaluation: resize the short side to ``resolution / crop_pct``, then center-crop.
    ``mean``/``std`` have one value per output channel (a single value is repeated).
    """
    convert = ConvertMode(in_channels)
    check_geometry(resolution, min_crop_area, crop_pct)
    mean, std = per_channel(mean, in_channels, "mean"), per_channel(std, in_channels, "std")
    if train:
        geometry = [v2.RandomResizedCrop(resolution, scale=(min_crop_area, 1.0), antialias=True)]
        if flip:
            geometry.append(v2.RandomHorizontalFlip())
    else:
        geometry = eval_geometry(resolution, crop_pct)
    return v2.Compose(
        [
            convert,
            *geometry,
            v2.PILToTensor(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean, std),
        ]
    )


def eval_geometry(resolution: int, crop_pct: float) -> list[v2.Transform]:
    """Evaluation's resize and crop, for PIL images and (batched) tensors alike: the short side to
    ``resolution / crop_pct`` (antialiased), then the centre ``resolution`` square."""
    return [v2.Resize(round(resolution / crop_pct), antialias=True), v2.CenterCrop(resolution)]


def check_geometry(resolution: int, min_crop_area: float, crop_pct: float) -> None:
    """ValueError naming a resolution, crop area or crop fraction no transform can use."""
    if resolution < 1:
        raise ValueError(f"resolution must be >= 1, got {resolution}")
    if not 0.0 < min_crop_area <= 1.0:
        raise ValueError(f"min_crop_area must be in (0, 1], got {min_crop_area}")
    if not 0.0 < crop_pct <= 1.0:
        raise ValueError(f"crop_pct must be in (0, 1], got {crop_pct}")


def per_channel(values: Sequence[float], channels: int, what: str) -> list[float]:
    """One value per channel (a single value is repeated); ValueError for another count."""
    values = [float(v) for v in values]
    if len(values) == 1:
        return values * channels
    if len(values) != channels:
        raise ValueError(f"{what} has {len(values)} values for {channels} channels")
    return values
