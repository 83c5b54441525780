"""Using a trained geolocation checkpoint: Table 11's evaluation on a geotagged split, and the
location of image files."""
from __future__ import annotations

import os
from typing import Any, Sequence

from torch.utils.data import DataLoader

from ..data.images import late_failure_count
from ..files import refuse_existing
from ..train.evaluation import predict_images
from .data import NORMALIZATION, GeoImages, geo_transform, read_split
from .distance import PAPER_PLANET_MOBILENET, SCALES, share_key
from .evaluate import evaluate_geolocator
from .plot import save_geo_plot
from .training import Geolocator, load_geolocator


def _transform(geo: Geolocator) -> Any:
    return geo_transform(geo.model.config["resolution"], False, **{key: geo.about[key] for key in NORMALIZATION})


def evaluate_geo(
    checkpoint: str | os.PathLike[str], data: str | os.PathLike[str] | None = None, *, split: str = "val",
    limit: int | None = None, batch_size: int = 64, location: str | None = None, progress: bool = True,
    plot: str | os.PathLike[str] | None = None, force: bool = False,
) -> dict[str, Any]:
    """Table 11's five shares (and the cell top-1, median error) of a checkpoint on ``split`` of
    ``data`` (default: the data it was trained on), each beside the paper's PlaNet MobileNet.
    With ``plot``, the share within d km is also drawn over d to that PNG (refused, before
    evaluating, if it exists and not ``force``)."""
    if plot is not None:
        refuse_existing(plot, force=force)
    geo = load_geolocator(checkpoint)
    data = str(data or geo.about.get("data") or geo.config.data)
    photos = read_split(data, split, limit=limit)
    dataset = GeoImages(photos.paths, photos.latlngs, geo.cells.cells_of(photos.latlngs), _transform(geo))
    location = location or geo.location
    metrics, distances = evaluate_geolocator(
        geo.model, DataLoader(dataset, batch_size=batch_size), geo.cells, location, progress=progress
    )
    result = {
        "checkpoint": str(checkpoint), "data": data, "split": split, "location": location, "num_cells": len(geo.cells),
        **metrics, "skipped_files": len(photos.skipped) + late_failure_count(dataset),
        "table_11": [
            {"scale": name, "km": km, "share": metrics[share_key(name)], "paper_planet_mobilenet": PAPER_PLANET_MOBILENET[name]}
            for name, km in reversed(SCALES)
        ],
    }
    title = f"{checkpoint} on {data} ({split}, {len(distances)} photos): within 200 km {metrics['within_200km']:.1%}"
    if plot is not None and save_geo_plot(distances, plot, title=title, force=force):
        result["plot"] = str(plot)
    return result


def locate(checkpoint: str | os.PathLike[str], images: Sequence[str | os.PathLike[str]], *, top_k: int = 1) -> list[dict[str, Any]]:
    """The ``top_k`` cells of each image with their probability and predicted (lat, lng)."""
    geo = load_geolocator(checkpoint)
    places = geo.cells.locations(geo.location)
    found = predict_images(geo.model, _transform(geo), geo.cells.tokens, images, top_k=top_k)
    return [
        {"image": row["image"], "top": [
            {"lat": float(places[top["index"], 0]), "lng": float(places[top["index"], 1]), "cell": top["class"],
             "index": top["index"], "probability": top["probability"]}
            for top in row["top"]
        ]}
        for row in found
    ]
