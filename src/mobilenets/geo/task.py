"""Geolocation as a task of the project's one training loop: classification over PlaNet's S2
cells with cross-entropy; evaluation by great-circle distance (Table 11's five shares)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ..data.images import late_failure_count
from ..train.config import TrainConfig
from ..train.task import Task
from .cells import LOCATIONS, CellPartition, partition
from .data import NORMALIZATION, GeoImages, GeoSplit, geo_transform, read_split
from .distance import share_key
from .evaluation import evaluate_geolocator


class GeoTask(Task):
    """Trains a classifier over the cells of ``partition`` (built from the training photos with
    ``max_photos``/``min_photos`` when not given, e.g. when resuming). Training photos in dropped
    cells are left out (they have no class); validation keeps every photo, since it is scored by
    distance. ``best.pt`` is chosen by the region share (200 km): the middle of Table 11's scales,
    it rewards choosing the right cell where the continent share saturates early and the street
    and city shares are noise on a few hundred photos."""

    primary_metric = share_key("region")

    def __init__(
        self,
        *,
        max_photos: int = 10_000,
        min_photos: int = 50,
        max_level: int = 30,
        location: str = "mean",
        partition: CellPartition | None = None,
    ) -> None:
        if location not in LOCATIONS:
            raise ValueError(f"location must be one of {', '.join(LOCATIONS)}; got {location!r}")
        if min_photos > max_photos:
            # Cells are split down to at most max_photos, so none could keep min_photos.
            raise ValueError(
                f"--min-photos {min_photos} exceeds --max-photos {max_photos}: every cell would be dropped"
            )
        self.max_photos, self.min_photos, self.max_level = max_photos, min_photos, max_level
        self.location, self.given_partition = location, partition
        # Set by build_datasets, which the loop calls first.
        self.cells: CellPartition
        self.label_smoothing: float
        self.data: str
        self.splits: dict[str, GeoSplit]
        self.datasets: tuple[GeoImages, GeoImages]

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> GeoTask:
        """The task a checkpoint's ``task`` entry describes, with its saved partition."""
        if "partition" not in state:
            raise ValueError("not a geolocation checkpoint (it records no cell partition)")
        cells = CellPartition.from_dict(state["partition"])
        return cls(
            max_photos=cells.max_photos,
            min_photos=cells.min_photos,
            max_level=cells.max_level,
            location=state["location"],
            partition=cells,
        )

    def build_datasets(self, config: TrainConfig) -> tuple[Dataset, Dataset]:
        if config.in_channels not in (None, 3):
            raise ValueError(
                f"geolocation reads images as RGB (in_channels 3); got in_channels {config.in_channels}"
            )
        self.data, self.label_smoothing = config.data, config.label_smoothing
        self.splits = {
            split: read_split(
                config.data, split, limit=getattr(config, f"limit_{split}"), strict=config.strict
            )
            for split in ("train", "val")
        }
        self.cells = self.given_partition or partition(
            self.splits["train"].latlngs, self.max_photos, self.min_photos, self.max_level
        )
        if len(self.cells) < 2:
            raise ValueError(
                f"{config.data}: the partition (max photos {self.max_photos}, min photos {self.min_photos}) has "
                f"{len(self.cells)} cells from {len(self.splits['train'].paths)} training photos; lower them"
            )
        train, val = self.splits["train"], self.splits["val"]
        cells = self.cells.cells_of(train.latlngs)
        inside = cells >= 0
        self.datasets = (
            GeoImages(
                [p for p, keep in zip(train.paths, inside) if keep],
                train.latlngs[inside],
                cells[inside],
                geo_transform(
                    config.resolution, config.augment, min_crop_area=config.min_crop_area
                ),
            ),
            GeoImages(
                val.paths,
                val.latlngs,
                self.cells.cells_of(val.latlngs),
                geo_transform(config.resolution, False),
            ),
        )
        return self.datasets

    def model_kwargs(self) -> dict[str, Any]:
        return {"num_classes": len(self.cells), "in_channels": 3}

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, int, dict[str, float]]:
        images, cells, _ = batch
        logits = model(images)
        loss = F.cross_entropy(logits, cells, label_smoothing=self.label_smoothing)
        return loss, cells.numel(), {"accuracy": (logits.argmax(1) == cells).float().mean().item()}

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        metrics, _ = evaluate_geolocator(model, loader, self.cells, self.location)
        metrics.pop("images")
        return metrics

    def state(self) -> dict[str, Any]:
        return {
            "partition": self.cells.to_dict(),
            "location": self.location,
            "data": self.data,
            **NORMALIZATION,
        }

    def summary(self) -> dict[str, Any]:
        train, val = self.datasets
        return {
            "num_cells": len(self.cells),
            "train_photos": len(train),
            "train_photos_outside_cells": len(self.splits["train"].paths) - len(train),
            "val_photos": len(val),
            "val_photos_outside_cells": int((val.cells < 0).sum()),
            "skipped_files": len(self.splits["train"].skipped)
            + len(self.splits["val"].skipped)
            + late_failure_count(train, val),
        }
