"""Table 11's other column: Im2GPS's nearest-neighbour geolocation (Hays & Efros, 2008) beside
PlaNet. Every training photo is embedded, and a query is placed where its nearest training
photos were taken. Im2GPS compared hand-made scene descriptors; here the embedding is a
MobileNet's globally pooled features (by default the geolocation network's own body, as Vo et
al., 2017, revisited Im2GPS with PlaNet-trained features), so the two columns differ only in
how a location is read out: nearest photos against a cell classifier."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..data.images import late_failure_count
from ..progress import progress_bar
from ..train.batches import to_device
from .data import GeoImages, read_split
from .distance import PAPER_PLANET_MOBILENET, SCALES, distance_shares, haversine_km, share_key
from .evaluation import load, transform

# Table 11, the "Im2GPS" column: share of Im2GPS's 237 test photos within each scale.
PAPER_IM2GPS = {
    "street": 0.025,
    "city": 0.219,
    "region": 0.321,
    "country": 0.354,
    "continent": 0.519,
}


@torch.no_grad()
def embed(
    model: nn.Module, loader: Iterable[Any], *, progress: bool = False
) -> tuple[torch.Tensor, np.ndarray]:
    """Unit-length pooled features (the classifier's input) of every photo ``loader`` yields as
    (images, cells, latlngs), and their (N, 2) lat/lng."""
    device = next(model.parameters()).device
    features, latlngs = [], []
    for images, _, coordinates in progress_bar(
        loader, desc="embed", unit="batch", disable=not progress
    ):
        pooled = model.forward_head(
            model.forward_features(to_device(images, device)), pre_logits=True
        )
        features.append(F.normalize(pooled.float(), dim=1).cpu())
        latlngs.append(coordinates.numpy())
    return torch.cat(features), np.concatenate(latlngs)


def check_settings(k: int, radius_km: float, references: int | None = None) -> None:
    """ValueError for a neighbour count below 1 (or above the ``references``) or a radius <= 0."""
    if k < 1 or (references is not None and k > references):
        raise ValueError(
            f"k must be between 1 and the {references or 'number of'} training photos; got {k}"
        )
    if not radius_km > 0:
        raise ValueError(f"radius_km must be > 0; got {radius_km}")


def knn_locations(
    train_features: torch.Tensor,
    train_latlngs: np.ndarray,
    query_features: torch.Tensor,
    *,
    k: int = 1,
    radius_km: float = 200.0,
    chunk: int = 1024,
) -> np.ndarray:
    """(N, 2) predicted lat/lng: for each query, among its ``k`` nearest training photos (cosine
    similarity; equally similar ones in training order, which matters for all-zero features),
    the one with the most of the ``k`` within ``radius_km`` (Im2GPS's densest mode of the
    neighbours; ties go to the nearer in features). ``k`` 1: the nearest photo."""
    check_settings(k, radius_km, len(train_features))
    predicted = np.empty((len(query_features), 2))
    for start in range(0, len(query_features), chunk):
        similarity = query_features[start : start + chunk] @ train_features.T
        nearest = similarity.sort(dim=1, descending=True, stable=True).indices[:, :k].numpy()
        places = train_latlngs[nearest]  # (queries, k, 2), nearest first
        apart = haversine_km(
            places[:, :, None, 0],
            places[:, :, None, 1],
            places[:, None, :, 0],
            places[:, None, :, 1],
        )
        densest = (
            (apart <= radius_km).sum(axis=2).argmax(axis=1)
        )  # argmax keeps the first (nearest) of ties
        predicted[start : start + chunk] = places[np.arange(len(nearest)), densest]
    return predicted


def evaluate_knn(
    checkpoint: str | os.PathLike[str],
    data: str | os.PathLike[str] | None = None,
    *,
    split: str = "val",
    limit: int | None = None,
    limit_train: int | None = None,
    k: int = 1,
    radius_km: float = 200.0,
    batch_size: int = 64,
    progress: bool = True,
) -> dict[str, Any]:
    """Table 11's five shares of the nearest-neighbour baseline on ``split`` of ``data`` (default:
    the data the checkpoint was trained on), the training split as the reference photos and the
    checkpoint's network as the embedding; each share beside the paper's Im2GPS and PlaNet
    MobileNet columns."""
    check_settings(k, radius_km)  # before anything is embedded
    geo = load(checkpoint)
    data = str(data or geo.about.get("data") or geo.config.data)
    inputs = transform(geo)

    skipped = 0

    def embedded(name: str, count: int | None) -> tuple[torch.Tensor, np.ndarray]:
        nonlocal skipped
        photos = read_split(data, name, limit=count)
        images = GeoImages(photos.paths, photos.latlngs, np.full(len(photos.paths), -1), inputs)
        found = embed(geo.model, DataLoader(images, batch_size=batch_size), progress=progress)
        skipped += len(photos.skipped) + late_failure_count(images)
        return found

    train_features, train_latlngs = embedded("train", limit_train)
    query_features, query_latlngs = embedded(split, limit)
    predicted = knn_locations(
        train_features, train_latlngs, query_features, k=k, radius_km=radius_km
    )
    distances = haversine_km(
        predicted[:, 0], predicted[:, 1], query_latlngs[:, 0], query_latlngs[:, 1]
    )
    shares = distance_shares(distances)
    return {
        "checkpoint": str(checkpoint),
        "data": data,
        "split": split,
        "baseline": "knn",
        "k": k,
        "radius_km": radius_km,
        "reference_photos": len(train_features),
        "images": len(distances),
        **shares,
        "median_km": float(np.median(distances)),
        "skipped_files": skipped,
        "table_11": [
            {
                "scale": name,
                "km": km,
                "share": shares[share_key(name)],
                "paper_im2gps": PAPER_IM2GPS[name],
                "paper_planet_mobilenet": PAPER_PLANET_MOBILENET[name],
            }
            for name, km in reversed(SCALES)
        ],
    }
