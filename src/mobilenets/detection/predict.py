"""``predict``: a trained detector's boxes, labels and scores on image files, drawn as PNGs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
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
        detections = detect(model, categories, pixels, score_thresh=score_thresh)
        drawn = draw_bounding_boxes(
            pixels,
            torch.tensor([found["box"] for found in detections]).reshape(-1, 4),
            [f"{found['label']} {found['score']:.2f}" for found in detections],
            width=2,
        )
        atomic_write_bytes(target, encode_png(drawn).numpy().tobytes())
        results.append({"image": str(image), "output": str(target), "detections": detections})
    return results


@torch.no_grad()
def detect(
    model: nn.Module,
    categories: dict[int, str],
    pixels: torch.Tensor,
    *,
    score_thresh: float = 0.5,
) -> list[dict[str, Any]]:
    """The detections of ``model`` (eval mode) on one uint8 CHW image scoring at least
    ``score_thresh``: category id, label, score and xyxy box in pixels."""
    found = model([pixels.float() / 255])[0]
    keep = found["scores"] >= score_thresh
    labels = found["labels"][keep].tolist()
    return [
        {
            "category_id": label,
            "label": categories.get(label, str(label)),
            "score": round(score, 4),
            "box": [round(v, 1) for v in box],
        }
        for label, score, box in zip(
            labels, found["scores"][keep].tolist(), found["boxes"][keep].tolist()
        )
    ]
