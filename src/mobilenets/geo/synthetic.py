"""The built-in geotagged data, a stand-in for Im2GPS / PlaNet's photos (which cannot be
downloaded here): real Fashion-MNIST images placed near world cities chosen by their class, so
that a network can learn where a photo was taken from what it shows.

An item of class c is placed near its class's first city (``1 - second_city`` of the time) or
its second one, on another continent; then moved a log-uniform 2-300 km in a random direction.
So even a perfect classifier of the garments finds the continent for only about
``1 - second_city`` of the photos, and the street/city shares stay low: the task is not trivial.
Training photos come from Fashion-MNIST's training split, validation photos from its test split.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..data import FASHION_MNIST_CLASSES, fashion_mnist
from ..files import atomic_directory
from ..progress import progress_bar
from .data import COLUMNS, SPLITS, manifest_path
from .distance import destination

# (name, lat, lng): class c lives near CITIES[c] and, less often, near CITIES[c + 10].
CITIES = (
    ("London", 51.5074, -0.1278),
    ("New York", 40.7128, -74.0060),
    ("Tokyo", 35.6762, 139.6503),
    ("Sydney", -33.8688, 151.2093),
    ("Cairo", 30.0444, 31.2357),
    ("Sao Paulo", -23.5505, -46.6333),
    ("Moscow", 55.7558, 37.6173),
    ("Mumbai", 19.0760, 72.8777),
    ("Mexico City", 19.4326, -99.1332),
    ("Lagos", 6.5244, 3.3792),
    ("Beijing", 39.9042, 116.4074),
    ("Paris", 48.8566, 2.3522),
    ("Los Angeles", 34.0522, -118.2437),
    ("Cape Town", -33.9249, 18.4241),
    ("Buenos Aires", -34.6037, -58.3816),
    ("Nairobi", -1.2921, 36.8219),
    ("Toronto", 43.6532, -79.3832),
    ("Madrid", 40.4168, -3.7038),
    ("Singapore", 1.3521, 103.8198),
    ("Chicago", 41.8781, -87.6298),
)
JITTER_KM = (2.0, 300.0)


def place(labels: np.ndarray, rng: np.random.Generator, second_city: float) -> np.ndarray:
    """(N, 2) lat/lng degrees for items of class ``labels``: near the class's city, jittered."""
    classes = len(FASHION_MNIST_CLASSES)
    cities = np.array([[lat, lng] for _, lat, lng in CITIES])
    city = labels + classes * (rng.random(len(labels)) < second_city)
    distance = np.exp(rng.uniform(*np.log(JITTER_KM), len(labels)))
    lat, lng = destination(
        cities[city, 0], cities[city, 1], rng.uniform(0, 360, len(labels)), distance
    )
    return np.stack([lat, lng], 1)


def make_geo(
    out: str | os.PathLike[str],
    images: int,
    *,
    seed: int = 0,
    val_fraction: float = 0.2,
    second_city: float = 0.3,
    force: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Writes ``images`` geotagged Fashion-MNIST PNGs (a ``val_fraction`` share held out) with
    ``train.csv`` / ``val.csv`` manifests in ``out``, all at once. Returns a summary."""
    if not isinstance(images, int) or images < 2:
        raise ValueError(
            f"images must be a whole number >= 2 (one for each split at least); got {images!r}"
        )
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1); got {val_fraction!r}")
    if not 0 <= second_city <= 1:
        raise ValueError(f"second_city must be in [0, 1]; got {second_city!r}")
    counts = {"val": min(max(1, round(images * val_fraction)), images - 1)}
    counts["train"] = images - counts["val"]
    rng = np.random.default_rng(seed)
    summary: dict[str, Any] = {
        "out": str(out),
        "seed": seed,
        "cities": len(CITIES),
        "second_city": second_city,
    }
    with atomic_directory(out, force=force) as staging:
        bar = progress_bar(total=images, desc="make-geo", unit="img", disable=not progress)
        for split in SPLITS:
            source = fashion_mnist(train=split == "train")
            if counts[split] > len(source):
                raise ValueError(
                    f"images: Fashion-MNIST's {split} split has {len(source)} items, fewer than {counts[split]}"
                )
            chosen = rng.choice(len(source), counts[split], replace=False)
            items, labels = source.data.numpy()[chosen], source.targets.numpy()[chosen]
            latlngs = place(labels, rng, second_city)
            folder = Path("images") / split
            (staging / folder).mkdir(parents=True)
            with open(manifest_path(staging, split), "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(COLUMNS)
                for number, (item, (lat, lng)) in enumerate(zip(items, latlngs), start=1):
                    name = folder / f"{number:06d}.png"
                    Image.fromarray(item).save(staging / name)
                    writer.writerow([name.as_posix(), f"{lat:.6f}", f"{lng:.6f}"])
                    bar.update()
            summary[split] = {"images": counts[split]}
        bar.close()
    return summary
