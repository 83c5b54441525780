"""``predict``: where image files were taken, by a trained geolocation checkpoint."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..train.predict import predict_images
from .evaluation import Geolocator, load, transform


def predict(
    checkpoint: str | os.PathLike[str], images: Sequence[str | os.PathLike[str]], *, top_k: int = 1
) -> list[dict[str, Any]]:
    """The ``top_k`` cells of each image with their probability and predicted (lat, lng)."""
    return locate(load(checkpoint), images, top_k=top_k)


def locate(
    geo: Geolocator, images: Sequence[str | os.PathLike[str]], *, top_k: int = 1
) -> list[dict[str, Any]]:
    """``predict`` with a network already loaded (the web page loads it once)."""
    places = geo.cells.locations(geo.location)
    found = predict_images(geo.model, transform(geo), geo.cells.tokens, images, top_k=top_k)
    return [
        {
            "image": row["image"],
            "top": [
                {
                    "lat": float(places[top["index"], 0]),
                    "lng": float(places[top["index"], 1]),
                    "cell": top["class"],
                    "index": top["index"],
                    "probability": top["probability"],
                }
                for top in row["top"]
            ],
        }
        for row in found
    ]
