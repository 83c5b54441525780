"""Evaluating a geolocation network: each photo is placed at its top cell's location and scored
by its great-circle distance to the truth (Table 11's five shares), plus the cell top-1."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..train.batches import to_device
from .cells import CellPartition
from .distance import distance_shares, haversine_km


@torch.no_grad()
def geo_outputs(model: nn.Module, loader: Iterable[Any], *, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """The model's logits (CPU, float32), the cell targets and the (N, 2) true lat/lng of every
    photo that ``loader`` yields as (images, cells, latlngs)."""
    device = next(model.parameters()).device
    logits, cells, latlngs = [], [], []
    for images, targets, coordinates in tqdm(loader, desc="evaluate", unit="batch", disable=not progress):
        logits.append(model(to_device(images, device)).float().cpu())
        cells.append(targets)
        latlngs.append(coordinates.numpy())
    return torch.cat(logits), torch.cat(cells), np.concatenate(latlngs)


def error_km(logits: torch.Tensor, latlngs: np.ndarray, partition: CellPartition, location: str = "mean") -> np.ndarray:
    """Each photo's error: the great-circle distance from its top cell's location to where it
    was taken."""
    predicted = partition.locations(location)[logits.argmax(1).numpy()]
    return haversine_km(predicted[:, 0], predicted[:, 1], latlngs[:, 0], latlngs[:, 1])


def geo_metrics(logits: torch.Tensor, cells: torch.Tensor, distances: np.ndarray) -> dict[str, float]:
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
    model: nn.Module, loader: Iterable[Any], partition: CellPartition, location: str = "mean", *, progress: bool = False
) -> tuple[dict[str, float], np.ndarray]:
    """``geo_metrics`` of ``model`` over every batch of ``loader``, and each photo's error in km."""
    logits, cells, latlngs = geo_outputs(model, loader, progress=progress)
    distances = error_km(logits, latlngs, partition, location)
    return geo_metrics(logits, cells, distances), distances
