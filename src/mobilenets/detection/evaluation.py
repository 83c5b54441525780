"""COCO evaluation by pycocotools: mAP@[.5:.95], mAP@.5 and per-class AP of a detector's
outputs against a COCO ground truth; ``load`` a trained detector and ``evaluate`` it on a split."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from ..data.coco import coco_split, collate_detection, detection_transforms, open_coco
from ..extras import require
from ..progress import progress_bar
from ..train.checkpoint import load_checkpoint, model_from_checkpoint

if TYPE_CHECKING:
    from pycocotools.coco import COCO


def to_coco_results(
    outputs: Iterable[dict[str, torch.Tensor]], image_ids: Iterable[int]
) -> list[dict[str, Any]]:
    """torchvision detections (xyxy boxes, labels = category ids, scores) as COCO result dicts."""
    results = []
    for output, image_id in zip(outputs, image_ids):
        boxes = output["boxes"].detach().cpu().float()
        boxes[:, 2:] -= boxes[:, :2]
        for box, label, score in zip(
            boxes.tolist(), output["labels"].tolist(), output["scores"].tolist()
        ):
            results.append(
                {
                    "image_id": int(image_id),
                    "category_id": int(label),
                    "bbox": box,
                    "score": float(score),
                }
            )
    return results


def coco_map(
    coco: COCO, results: list[dict[str, Any]], image_ids: Iterable[int] | None = None
) -> dict[str, Any]:
    """{"map": AP@[.5:.95], "map_50": AP@.5, "per_class": {name: AP@[.5:.95]}} over all areas
    and 100 detections per image, on ``image_ids`` (default: every image of ``coco``); a class
    without ground truth in them gets None."""
    names = {cat_id: cat["name"] for cat_id, cat in coco.cats.items()}
    if not results:
        return {"map": 0.0, "map_50": 0.0, "per_class": dict.fromkeys(names.values(), 0.0)}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools reports on stdout
        evaluation = require("pycocotools.cocoeval", "detection", "COCO evaluation").COCOeval(
            coco, coco.loadRes(results), "bbox"
        )
        if image_ids is not None:
            evaluation.params.imgIds = sorted(set(image_ids))
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    # precision: [IoU thresholds, recall points, classes, area ranges, max detections]
    precision = evaluation.eval["precision"][:, :, :, 0, -1]
    per_class = {}
    for k, cat_id in enumerate(evaluation.params.catIds):
        values = precision[:, :, k]
        per_class[names[cat_id]] = (
            float(values[values > -1].mean()) if (values > -1).any() else None
        )
    return {
        "map": float(evaluation.stats[0]),
        "map_50": float(evaluation.stats[1]),
        "per_class": per_class,
    }


# Images per forward pass: Faster R-CNN holds 300 RoI crops per image in memory.
CHUNK = 8


@torch.no_grad()
def evaluate_detector(
    model: nn.Module, loader: Iterable[Any], coco: COCO, *, progress: bool = False
) -> dict[str, Any]:
    """Runs ``model`` (eval mode) over batches of (images, targets) and scores it on ``coco``
    over the images the loader gave."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    results: list[dict[str, Any]] = []
    seen: list[int] = []
    try:
        for images, targets in progress_bar(
            loader, desc="evaluate", unit="batch", disable=not progress
        ):
            ids = [int(target["image_id"]) for target in targets]
            for start in range(0, len(images), CHUNK):
                outputs = model([image.to(device) for image in images[start : start + CHUNK]])
                results += to_coco_results(outputs, ids[start : start + CHUNK])
            seen += ids
    finally:
        model.train(was_training)
    return coco_map(coco, results, seen)


def load(path: str | os.PathLike[str]) -> tuple[nn.Module, dict[int, str]]:
    """A trained detector (eval mode) and its category names from a checkpoint file or run folder."""
    checkpoint = load_checkpoint(path)
    categories = (checkpoint.get("task") or {}).get("categories")
    if categories is None:
        raise ValueError(f"{path} is not a detector checkpoint (no categories recorded)")
    return model_from_checkpoint(checkpoint).eval(), {
        int(key): name for key, name in categories.items()
    }


def evaluate(
    checkpoint: str | os.PathLike[str],
    data: str | os.PathLike[str],
    *,
    split: str = "val",
    limit: int | None = None,
    batch_size: int = 16,
    progress: bool = True,
) -> dict[str, Any]:
    """COCO mAP of a checkpoint's detector on the images of ``split`` of a COCO-layout folder
    (the first ``limit`` of them; default all), scored on those images only."""
    model, _ = load(checkpoint)
    images = open_coco(
        *coco_split(data, split), detection_transforms(None, False), skip_empty=False
    )
    dataset = images.dataset
    if limit is not None and limit < len(dataset):
        dataset = Subset(dataset, range(limit))
    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=collate_detection)
    return {
        "checkpoint": str(checkpoint),
        "data": str(data),
        "split": split,
        "images": len(dataset),
        **evaluate_detector(model, loader, images.coco, progress=progress),
    }


__all__ = ["coco_map", "evaluate", "evaluate_detector", "load", "to_coco_results"]
