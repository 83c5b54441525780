"""Evaluating a geolocation network: each photo is placed at its top cell's location and scored
by its great-circle distance to the truth (Table 11's five shares), plus the cell top-1;
``load`` rebuilds a trained one from a checkpoint and ``evaluate`` scores it on a split."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..data.images import late_failure_count
from ..progress import progress_bar
from ..train.batches import to_device
from ..train.checkpoint import load_checkpoint, model_from_checkpoint, plot_file
from ..train.config import TrainConfig
from .cells import CellPartition
from .data import NORMALIZATION, GeoImages, geo_transform, read_split
from .distance import PAPER_PLANET_MOBILENET, SCALES, distance_shares, haversine_km, share_key
from .plots import save_geo_plot


@torch.no_grad()
def geo_outputs(
    model: nn.Module, loader: Iterable[Any], *, progress: bool = False
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """The model's logits (CPU, float32), the cell targets and the (N, 2) true lat/lng of every
    photo that ``loader`` yields as (images, cells, latlngs)."""
    device = next(model.parameters()).device
    logits, cells, latlngs = [], [], []
    for images, targets, coordinates in progress_bar(
        loader, desc="evaluate", unit="batch", disable=not progress
    ):
        logits.append(model(to_device(images, device)).float().cpu())
        cells.append(targets)
        latlngs.append(coordinates.numpy())
    return torch.cat(logits), torch.cat(cells), np.concatenate(latlngs)


def error_km(
    logits: torch.Tensor, latlngs: np.ndarray, partition: CellPartition, location: str = "mean"
) -> np.ndarray:
    """Each photo's error: the great-circle distance from its top cell's location to where it
    was taken."""
    predicted = partition.locations(location)[logits.argmax(1).numpy()]
    return haversine_km(predicted[:, 0], predicted[:, 1], latlngs[:, 0], latlngs[:, 1])


def geo_metrics(
    logits: torch.Tensor, cells: torch.Tensor, distances: np.ndarray
) -> dict[str, float]:
    """The five shares of the photos' ``distances`` (errors in km: ``within_1km`` ...
    ``within_2500km``), the median error, cell top-1 (photos outside every kept cell count as
    misses) and the cross-entropy over the photos inside a kept cell."""
    inside = cells >= 0
    loss = F.cross_entropy(logits[inside], cells[inside]).item() if inside.any() else float("nan")
    return {
        **distance_shares(distances),
        "median_km": float(np.median(distances)),
        "cell_top1": (logits.argmax(1) == cells).float().mean().item(),
        "loss": loss,
        "images": len(distances),
    }


def evaluate_geolocator(
    model: nn.Module,
    loader: Iterable[Any],
    partition: CellPartition,
    location: str = "mean",
    *,
    progress: bool = False,
) -> tuple[dict[str, float], np.ndarray]:
    """``geo_metrics`` of ``model`` over every batch of ``loader``, and each photo's error in km."""
    logits, cells, latlngs = geo_outputs(model, loader, progress=progress)
    distances = error_km(logits, latlngs, partition, location)
    return geo_metrics(logits, cells, distances), distances


@dataclass
class Geolocator:
    """A trained network (eval mode, CPU) with what its inputs and outputs need."""

    model: nn.Module
    cells: CellPartition
    location: str
    about: dict[str, Any]  # the checkpoint's task entry: normalization, crop, training data
    config: TrainConfig


def load(path: str | os.PathLike[str]) -> Geolocator:
    """The geolocation network of a checkpoint file or run folder (best.pt, else last.pt)."""
    checkpoint = load_checkpoint(path)
    about = checkpoint.get("task") or {}
    if "partition" not in about:
        raise ValueError(f"{path} is not a geolocation checkpoint (it records no cell partition)")
    return Geolocator(
        model_from_checkpoint(checkpoint).eval(),
        CellPartition.from_dict(about["partition"]),
        about["location"],
        about,
        TrainConfig.from_dict(checkpoint["config"]),
    )


def transform(geo: Geolocator) -> Any:
    """The evaluation transform of a loaded network's inputs."""
    return geo_transform(
        geo.model.config["resolution"], False, **{key: geo.about[key] for key in NORMALIZATION}
    )


def evaluate(
    checkpoint: str | os.PathLike[str],
    data: str | os.PathLike[str] | None = None,
    *,
    split: str = "val",
    limit: int | None = None,
    batch_size: int = 64,
    location: str | None = None,
    progress: bool = True,
    plot: str | os.PathLike[str] | None = None,
    draw: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Table 11's five shares (and the cell top-1, median error) of a checkpoint on ``split`` of
    ``data`` (default: the data it was trained on), each beside the paper's PlaNet MobileNet.
    With ``draw``, the share within d km is also drawn over d to the PNG ``plot`` (default: its
    own ``best.geo.png`` beside the checkpoint; see ``plot_file``)."""
    if draw:
        plot, force = plot_file(plot, checkpoint, ".geo.png", force=force)
    geo = load(checkpoint)
    data = str(data or geo.about.get("data") or geo.config.data)
    photos = read_split(data, split, limit=limit)
    dataset = GeoImages(
        photos.paths, photos.latlngs, geo.cells.cells_of(photos.latlngs), transform(geo)
    )
    location = location or geo.location
    metrics, distances = evaluate_geolocator(
        geo.model,
        DataLoader(dataset, batch_size=batch_size),
        geo.cells,
        location,
        progress=progress,
    )
    result = {
        "checkpoint": str(checkpoint),
        "data": data,
        "split": split,
        "location": location,
        "num_cells": len(geo.cells),
        **metrics,
        "skipped_files": len(photos.skipped) + late_failure_count(dataset),
        "table_11": [
            {
                "scale": name,
                "km": km,
                "share": metrics[share_key(name)],
                "paper_planet_mobilenet": PAPER_PLANET_MOBILENET[name],
            }
            for name, km in reversed(SCALES)
        ],
    }
    title = f"{checkpoint} on {data} ({split}, {len(distances)} photos): within 200 km {metrics['within_200km']:.1%}"
    if draw and save_geo_plot(distances, plot, title=title, force=force):
        result["plot"] = str(plot)
    return result
