"""``train_geo``: a MobileNet over PlaNet's cells, trained by the project's one loop with
``GeoTask``; ``resume_geo`` continues one, ``load_geolocator`` rebuilds one from a checkpoint.

The partition is built from the training split, saved in every checkpoint (``task.partition``)
and, once training ends, as ``RUN_DIR/cells.json``, so evaluation and prediction use the cells
the network was trained on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from ..train.checkpoint import load_checkpoint, model_from_checkpoint
from ..train.config import TrainConfig
from ..train.loop import fit, resume_config
from .cells import MAX_LEVEL, CellPartition
from .task import GeoTask

CELLS_FILE = "cells.json"


def train_geo(
    data: str | os.PathLike[str], out: str | os.PathLike[str], *, alpha: float = 1.0, resolution: int = 224,
    epochs: int = 10, max_photos: int = 10_000, min_photos: int = 50, max_level: int = MAX_LEVEL,
    location: str = "mean", force: bool = False, progress: bool = True, **settings: Any,
) -> dict[str, Any]:
    """Trains a MobileNetV1 (``alpha``, ``resolution``) over the cells of the training photos of
    ``data`` (a folder with train.csv / val.csv of ``path,lat,lng``); PlaNet's thresholds are the
    defaults. ``settings`` are further TrainConfig fields (batch_size, lr, optimizer, ...)."""
    config = TrainConfig(out=str(out), data=str(data), alpha=alpha, resolution=resolution, epochs=epochs, **settings)
    config = config.validate().resolved()
    task = GeoTask(max_photos=max_photos, min_photos=min_photos, max_level=max_level, location=location)
    task.build_datasets(config)  # data mistakes and an empty partition are refused before the run folder is touched
    return _finish(fit(config, task=task, force=force, progress=progress), task)


def resume_geo(run_dir: str | os.PathLike[str], *, epochs: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Continues a geolocation run from its last.pt (optionally to more epochs), on its saved cells."""
    config = resume_config(run_dir, **({"epochs": epochs} if epochs else {}))
    task = GeoTask.from_state(load_checkpoint(Path(run_dir) / "last.pt").get("task") or {})
    return _finish(fit(config, task=task, resume=True, progress=progress), task)


def _finish(summary: dict[str, Any], task: GeoTask) -> dict[str, Any]:
    path = Path(summary["run_dir"]) / CELLS_FILE
    task.cells.save(path, force=True)
    return {**summary, "cells": str(path)}


@dataclass
class Geolocator:
    """A trained network (eval mode, CPU) with what its inputs and outputs need."""

    model: nn.Module
    cells: CellPartition
    location: str
    about: dict[str, Any]  # the checkpoint's task entry: normalization, crop, training data
    config: TrainConfig


def load_geolocator(path: str | os.PathLike[str]) -> Geolocator:
    """The geolocation network of a checkpoint file or run folder (best.pt, else last.pt)."""
    checkpoint = load_checkpoint(path)
    about = checkpoint.get("task") or {}
    if "partition" not in about:
        raise ValueError(f"{path} is not a geolocation checkpoint (it records no cell partition)")
    task = GeoTask.from_state(about)
    return Geolocator(
        model_from_checkpoint(checkpoint).eval(), task.cells, task.location, about, TrainConfig.from_dict(checkpoint["config"])
    )
