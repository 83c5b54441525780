"""The built-in detection data: real Fashion-MNIST items pasted at random scales and positions
on black canvases, saved as a COCO-format dataset (``train/``, ``val/`` and
``annotations/instances_{train,val}.json``). Training images take items from Fashion-MNIST's
training split, validation images from its test split, so no item is seen in both.

A box is the tight box of the pasted item's non-zero pixels; items never overlap, so every
pixel outside the boxes is zero.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..data import FASHION_MNIST_CLASSES, fashion_mnist
from ..files import atomic_directory
from ..progress import progress_bar

SPLITS = ("train", "val")
CANVAS = 300
ITEM_SIZES = (48, 150)  # the pasted item's side in pixels, drawn uniformly
MAX_OBJECTS = 4
PLACEMENT_TRIES = 20


def annotations_path(root: str | os.PathLike[str], split: str) -> Path:
    """Where a split's instances JSON lies (COCO's layout)."""
    return Path(root) / "annotations" / f"instances_{split}.json"


def categories() -> list[dict[str, Any]]:
    """The ten Fashion-MNIST classes as COCO categories, ids from 1."""
    return [
        {"id": i + 1, "name": name, "supercategory": "fashion"}
        for i, name in enumerate(FASHION_MNIST_CLASSES)
    ]


def compose_image(
    items: np.ndarray, labels: np.ndarray, rng: np.random.Generator, size: int = CANVAS
) -> tuple[np.ndarray, list[tuple[int, list[int]]]]:
    """One RGB canvas with 1 to MAX_OBJECTS non-overlapping tinted items, and their
    (category id, [x, y, w, h]) annotations."""
    canvas = np.zeros((size, size, 3), np.uint8)
    placed: list[tuple[int, int, int, int]] = []
    objects: list[tuple[int, list[int]]] = []
    for _ in range(int(rng.integers(1, MAX_OBJECTS + 1))):
        index = int(rng.integers(len(items)))
        side = int(rng.integers(ITEM_SIZES[0], min(ITEM_SIZES[1], size) + 1))
        grey = np.asarray(
            Image.fromarray(items[index]).resize((side, side), Image.BILINEAR), np.float32
        )
        item = np.rint(grey[..., None] * rng.uniform(0.5, 1.0, 3)).astype(np.uint8)
        ys, xs = np.nonzero(item.max(-1))
        if len(xs) == 0:
            continue
        for _ in range(PLACEMENT_TRIES):
            x, y = int(rng.integers(size - side + 1)), int(rng.integers(size - side + 1))
            if all(
                x + side <= px or px + ps <= x or y + side <= py or py + ps <= y
                for px, py, ps, _ in placed
            ):
                break
        else:
            continue
        placed.append((x, y, side, side))
        canvas[y : y + side, x : x + side] = item
        box = [
            x + int(xs.min()),
            y + int(ys.min()),
            int(xs.max() - xs.min()) + 1,
            int(ys.max() - ys.min()) + 1,
        ]
        objects.append((int(labels[index]) + 1, box))
    return canvas, objects


def make_detection(
    out: str | os.PathLike[str],
    images: int,
    *,
    seed: int = 0,
    val_fraction: float = 0.2,
    force: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Writes ``images`` canvases (a ``val_fraction`` share held out) as a COCO dataset in
    ``out``, all at once: a folder is never left half written. Returns a summary."""
    if not isinstance(images, int) or images < 2:
        raise ValueError(
            f"images must be a whole number >= 2 (one for each split at least); got {images!r}"
        )
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1); got {val_fraction!r}")
    counts = {"val": min(max(1, round(images * val_fraction)), images - 1)}
    counts["train"] = images - counts["val"]
    rng = np.random.default_rng(seed)
    summary: dict[str, Any] = {
        "out": str(out),
        "seed": seed,
        "categories": len(FASHION_MNIST_CLASSES),
    }
    with atomic_directory(out, force=force) as staging:
        (staging / "annotations").mkdir()
        bar = progress_bar(total=images, desc="make-detection", unit="img", disable=not progress)
        for split in SPLITS:
            source = fashion_mnist(train=split == "train")
            items, labels = source.data.numpy(), source.targets.numpy()
            (staging / split).mkdir()
            records: list[dict[str, Any]] = []
            annotations: list[dict[str, Any]] = []
            for number in range(1, counts[split] + 1):
                canvas, objects = compose_image(items, labels, rng)
                name = f"{number:06d}.png"
                Image.fromarray(canvas).save(staging / split / name)
                records.append({"id": number, "file_name": name, "width": CANVAS, "height": CANVAS})
                for category, box in objects:
                    annotations.append(
                        {
                            "id": len(annotations) + 1,
                            "image_id": number,
                            "category_id": category,
                            "bbox": box,
                            "area": box[2] * box[3],
                            "iscrowd": 0,
                        }
                    )
                bar.update()
            document = {"images": records, "annotations": annotations, "categories": categories()}
            annotations_path(staging, split).write_text(json.dumps(document))
            summary[split] = {"images": len(records), "boxes": len(annotations)}
        bar.close()
    return summary
