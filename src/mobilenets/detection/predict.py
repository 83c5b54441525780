"""``predict``: a trained detector's boxes, labels and scores on image files, drawn as PNGs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torchvision.io import encode_png
from torchvision.transforms.functional import pil_to_tensor
from torchvision.utils import draw_bounding_boxes

from ..data.images import read_image, unreadable_reason
from ..files import atomic_write_bytes
from .evaluation import load


def predict(
    checkpoint: str | os.PathLike[str],
    images: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    score_thresh: float = 0.5,
    force: bool = False,
) -> list[dict[str, Any]]:
    """Detects objects in each image and draws them to ``out/STEM.png``; returns, per image, the
    detections scoring at least ``score_thresh`` (category id, label, score, xyxy box)."""
    model, categories = load(checkpoint)
    out = Path(out)
    targets = [out / f"{Path(image).stem}.png" for image in images]
    if len(set(targets)) < len(targets):
        raise ValueError(
            "two input images share a file name; their drawings would overwrite each other"
        )
    if not force and (existing := [str(t) for t in targets if t.exists()]):
        raise FileExistsError(f"{existing[0]} exists; use --force to overwrite")
    for image in images:  # every image checked before the first drawing is written
        if (reason := unreadable_reason(image)) is not None:
            raise ValueError(reason)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for image, target in zip(images, targets):
        pixels = pil_to_tensor(read_image(image, "RGB"))
        with torch.no_grad():
            found = model([pixels.float() / 255])[0]
        keep = found["scores"] >= score_thresh
        boxes, labels, scores = (
            found["boxes"][keep],
            found["labels"][keep].tolist(),
            found["scores"][keep].tolist(),
        )
        names = [categories.get(label, str(label)) for label in labels]
        drawn = draw_bounding_boxes(
            pixels, boxes, [f"{n} {s:.2f}" for n, s in zip(names, scores)], width=2
        )
        atomic_write_bytes(target, encode_png(drawn).numpy().tobytes())
        results.append(
            {
                "image": str(image),
                "output": str(target),
                "detections": [
                    {
                        "category_id": label,
                        "label": name,
                        "score": round(score, 4),
                        "box": [round(v, 1) for v in box],
                    }
                    for label, name, score, box in zip(labels, names, scores, boxes.tolist())
                ],
            }
        )
    return results
