"""Training images that are already in memory as one uint8 tensor (the built-in Fashion-MNIST):
a batch is cropped, resized, flipped and normalised by a few tensor operations on the whole
batch, instead of a PIL pipeline per image (which took 12.6% of a 64 px training epoch).

The augmentation is torchvision's ``RandomResizedCrop`` + ``RandomHorizontalFlip`` drawn per image
as torchvision draws them; the crop is resized by ``torchvision.ops.roi_align`` (bilinear at
half-pixel centres, as ``F.interpolate(align_corners=False)``; when a crop shrinks, each output
pixel averages the source pixels under it, an area filter in place of PIL's antialiasing).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.utils.data import Dataset
from torchvision.ops import roi_align
from torchvision.transforms import v2

from .transforms import check_geometry, eval_geometry, per_channel

__all__ = ["BatchTransform", "TensorImages", "random_resized_boxes"]

_RATIO = (3 / 4, 4 / 3)  # RandomResizedCrop's default aspect ratios
_TRIES = 10  # and its number of draws before it falls back to a centre crop


def random_resized_boxes(
    count: int,
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float] = _RATIO,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``count`` crop boxes (x0, y0, x1, y1) in pixel edges, drawn as torchvision's
    ``RandomResizedCrop.get_params`` draws one: area in ``scale`` of the image, log-uniform aspect
    ratio, up to 10 tries, then the centre crop that fits the ratio range."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    crop_w = torch.zeros(count, dtype=torch.long)
    crop_h = torch.zeros(count, dtype=torch.long)
    found = torch.zeros(count, dtype=torch.bool)
    for _ in range(_TRIES):
        target = area * torch.empty(count).uniform_(scale[0], scale[1], generator=generator)
        aspect = torch.exp(
            torch.empty(count).uniform_(log_ratio[0], log_ratio[1], generator=generator)
        )
        w = torch.sqrt(target * aspect).round().long()
        h = torch.sqrt(target / aspect).round().long()
        fits = ~found & (w > 0) & (w <= width) & (h > 0) & (h <= height)
        crop_w, crop_h = torch.where(fits, w, crop_w), torch.where(fits, h, crop_h)
        found |= fits
        if bool(found.all()):
            break
    top = (torch.rand(count, generator=generator) * (height - crop_h + 1)).floor().long()
    left = (torch.rand(count, generator=generator) * (width - crop_w + 1)).floor().long()
    missing = ~found
    if bool(missing.any()):  # torchvision's fallback: the centred crop that fits the ratio range
        in_ratio = width / height
        if in_ratio < ratio[0]:
            fallback_w, fallback_h = width, int(round(width / ratio[0]))
        elif in_ratio > ratio[1]:
            fallback_w, fallback_h = int(round(height * ratio[1])), height
        else:
            fallback_w, fallback_h = width, height
        crop_w[missing], crop_h[missing] = fallback_w, fallback_h
        top[missing], left[missing] = (height - fallback_h) // 2, (width - fallback_w) // 2
    return torch.stack([left, top, left + crop_w, top + crop_h], dim=1).float()


class BatchTransform:
    """uint8 images (B, C, H, W) -> normalised float (B, in_channels, R, R).

    Training (``train``): random-resized crop covering ``min_crop_area``..1 and a horizontal flip,
    per image. Otherwise: resize the short side to ``resolution / crop_pct`` and centre-crop, as
    the PIL evaluation transform does (bilinear with antialiasing)."""

    def __init__(
        self,
        resolution: int,
        train: bool,
        *,
        in_channels: int,
        mean: Sequence[float],
        std: Sequence[float],
        min_crop_area: float = 0.25,
        flip: bool = True,
        crop_pct: float = 0.875,
    ) -> None:
        check_geometry(resolution, min_crop_area, crop_pct)
        mean, std = per_channel(mean, in_channels, "mean"), per_channel(std, in_channels, "std")
        self.resolution, self.train, self.in_channels = resolution, train, in_channels
        self.min_crop_area, self.flip, self.crop_pct = min_crop_area, flip, crop_pct
        self.resize_and_crop = v2.Compose(eval_geometry(resolution, crop_pct))
        # (x / 255 - mean) / std as one multiply-add
        std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        self.scale = 1.0 / (255.0 * std_t)
        self.shift = -torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1) / std_t

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(
                f"BatchTransform takes uint8 images of shape (B, C, H, W); got {images.dtype} {tuple(images.shape)}"
            )
        pixels = images.float()
        if pixels.shape[1] != self.in_channels:
            if pixels.shape[1] != 1:
                raise ValueError(
                    f"images have {pixels.shape[1]} channels; the model takes {self.in_channels}"
                )
            pixels = pixels.expand(-1, self.in_channels, -1, -1)
        resized = self._augment(pixels) if self.train else self.resize_and_crop(pixels).contiguous()
        return resized.mul_(self.scale).add_(self.shift)

    def _augment(self, pixels: torch.Tensor) -> torch.Tensor:
        count, _, height, width = pixels.shape
        boxes = random_resized_boxes(count, height, width, (self.min_crop_area, 1.0))
        rois = torch.cat([torch.arange(count, dtype=torch.float32)[:, None], boxes], dim=1)
        out = roi_align(
            pixels.contiguous(),
            rois,
            output_size=self.resolution,
            spatial_scale=1.0,
            sampling_ratio=-1,
            aligned=True,
        )
        if self.flip:
            flipped = torch.rand(count) < 0.5
            out[flipped] = out[flipped].flip(-1)
        return out


class TensorImages(Dataset):
    """(image, label) items from a uint8 tensor of images ((N, H, W) or (N, C, H, W)).

    The DataLoader fetches a whole batch through ``__getitems__``, so ``transform`` runs once per
    batch; ``dataset[i]`` still gives one transformed item."""

    def __init__(
        self, images: torch.Tensor, targets: torch.Tensor | Sequence[int], transform: BatchTransform
    ) -> None:
        if images.dtype != torch.uint8 or images.dim() not in (3, 4):
            raise ValueError(
                f"images must be a uint8 tensor (N, H, W) or (N, C, H, W); got {images.dtype} {tuple(images.shape)}"
            )
        self.images = images[:, None] if images.dim() == 3 else images
        self.targets = torch.as_tensor(targets, dtype=torch.long)
        if len(self.targets) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.targets)} labels")
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, int]]:
        index = torch.as_tensor(indices, dtype=torch.long)
        batch = self.transform(self.images[index])
        return list(zip(batch.unbind(0), self.targets[index].tolist()))
