"""Geotagged image data: a folder with ``train.csv`` and ``val.csv`` manifests of
``path,lat,lng`` rows (image paths relative to the folder), read like the classification
manifests: unreadable images are skipped and counted (or refused with ``strict``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..data.folders import check_latlng_row, keep_readable, read_manifest
from ..data.images import LateFailures, read_image
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD, build_transforms
from .cells import check_latlngs

SPLITS = ("train", "val")
COLUMNS = ("path", "lat", "lng")
# Photos are read as RGB with ImageNet's statistics; saved in checkpoints so inputs are rebuilt alike.
NORMALIZATION = {
    "in_channels": 3,
    "mean": list(IMAGENET_MEAN),
    "std": list(IMAGENET_STD),
    "crop_pct": 0.875,
}


def geo_transform(
    resolution: int, train: bool, *, min_crop_area: float = 0.25, **normalization: Any
) -> Callable:
    """PIL image -> network input: the classification transforms with ``NORMALIZATION`` (or a
    checkpoint's own ``normalization``)."""
    return build_transforms(
        resolution, train, min_crop_area=min_crop_area, **{**NORMALIZATION, **normalization}
    )


@dataclass
class GeoSplit:
    """One split's readable photos: paths, (N, 2) lat/lng degrees, and the unreadable files left out."""

    paths: list[str]
    latlngs: np.ndarray
    skipped: list[str]


def manifest_path(root: str | os.PathLike[str], split: str) -> Path:
    """Where a split's manifest lies: ``ROOT/train.csv`` or ``ROOT/val.csv``."""
    return Path(root) / f"{split}.csv"


def read_split(
    root: str | os.PathLike[str], split: str, *, limit: int | None = None, strict: bool = False
) -> GeoSplit:
    """The first ``limit`` readable photos of ``ROOT/SPLIT.csv`` with their coordinates."""
    path = manifest_path(root, split)
    if not path.is_file():
        what = "is not a folder" if not Path(root).is_dir() else f"has no {path.name}"
        raise ValueError(
            f"geotagged data {root} {what}; it needs train.csv and val.csv with 'path,lat,lng' rows"
        )
    rows = read_manifest(path, COLUMNS, check=check_latlng_row)
    latlngs = check_latlngs([[float(lat), float(lng)] for _, lat, lng in rows])
    kept, skipped = keep_readable(
        ((image, index) for index, (image, _, _) in enumerate(rows)), limit, strict
    )
    if not kept:
        raise ValueError(f"{path}: no readable images ({len(skipped)} unreadable files skipped)")
    indices = [index for _, index in kept]
    return GeoSplit([rows[i][0] for i in indices], latlngs[indices], skipped)


class GeoImages(Dataset):
    """Items (image tensor, cell index or -1 outside the kept cells, float64 (lat, lng))."""

    def __init__(
        self, paths: Sequence[str], latlngs: np.ndarray, cells: np.ndarray, transform: Callable
    ) -> None:
        self.paths, self.latlngs, self.cells, self.transform = (
            list(paths),
            latlngs,
            cells,
            transform,
        )
        self.late_failures = LateFailures(len(self.paths))

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, torch.Tensor]:
        return self.late_failures.get(index, self._read)

    def _read(self, index: int) -> tuple[torch.Tensor, int, torch.Tensor]:
        image = read_image(self.paths[index])
        return self.transform(image), int(self.cells[index]), torch.from_numpy(self.latlngs[index])
