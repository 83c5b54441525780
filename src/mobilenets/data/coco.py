"""COCO-format detection data (an image folder and an instances JSON), read by torchvision's
CocoDetection and wrapped for transforms v2, with the detection augmentation of torchvision's
SSD references (photometric distortion, IoU crop that keeps boxes, flip, resize).

Bad input is settled when the dataset is opened, never mid-epoch: the annotations file is checked
by ``read_instances`` (a ValueError naming the entry); crowd regions, boxes of zero area (after clipping to
the image) and missing image files are left out and counted; boxes reaching outside the image
are clipped; for training, images left without boxes are skipped and counted; an image that
becomes unreadable while in use is skipped and counted.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.datasets import CocoDetection, VisionDataset, wrap_dataset_for_transforms_v2
from torchvision.transforms import v2 as T

from ..extras import require
from .coco_json import read_instances
from .images import LateFailures, read_image


@dataclass
class CocoReport:
    """What opening a COCO dataset left out or changed (summary.json's ``skipped``), and the
    images that became unreadable while in use (``skipped_unreadable_images``)."""

    images: int = 0
    boxes: int = 0
    skipped_images_without_boxes: int = 0
    skipped_missing_files: int = 0
    skipped_zero_area_boxes: int = 0
    skipped_crowd_boxes: int = 0
    clipped_boxes: int = 0
    late_failures: LateFailures | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, int]:
        counts = {key: value for key, value in self.__dict__.items() if key != "late_failures"}
        return {
            **counts,
            "skipped_unreadable_images": self.late_failures.count if self.late_failures else 0,
        }


@dataclass
class CocoData:
    """A wrapped dataset, its pycocotools ground truth and categories, and the report."""

    dataset: Any
    coco: Any
    categories: dict[int, str]
    report: CocoReport = field(default_factory=CocoReport)

    @property
    def num_classes(self) -> int:
        """torchvision's convention: labels are the category ids, 0 is the background."""
        return max(self.categories) + 1


class CheckedCocoDetection(CocoDetection):
    """CocoDetection over checked ground truth (``read_instances``) that serves only the
    annotations training can use (no crowd regions, boxes clipped to the image with a positive
    area) and reads images by ``read_image``."""

    def __init__(self, root: str, coco: Any, transforms: Any = None) -> None:
        VisionDataset.__init__(self, root, transforms=transforms)
        self.coco = coco
        self.ids = sorted(coco.imgs)

    def _load_image(self, id: int) -> Image.Image:
        return read_image(os.path.join(self.root, self.coco.imgs[id]["file_name"]), "RGB")

    def _load_target(self, id: int) -> list[Any]:
        info = self.coco.imgs[id]
        return [
            {**ann, "bbox": box}
            for ann in super()._load_target(id)
            if not ann.get("iscrowd", 0)
            and (box := clipped_box(ann["bbox"], info["width"], info["height"]))
        ]


class ReadableImages(Dataset):
    """The transforms-v2 wrapped dataset with images that went bad after opening skipped and
    counted (another image takes the place, with its own image id and boxes)."""

    def __init__(self, wrapped: Dataset, late_failures: LateFailures) -> None:
        self.wrapped, self.late_failures = wrapped, late_failures

    def __len__(self) -> int:
        return len(self.wrapped)

    def __getitem__(self, index: int) -> Any:
        return self.late_failures.get(index, self.wrapped.__getitem__)


def clipped_box(bbox: list[float], width: float, height: float) -> list[float] | None:
    """An [x, y, w, h] box clipped to the image, or None when nothing of positive area is left."""
    x0, y0 = max(float(bbox[0]), 0.0), max(float(bbox[1]), 0.0)
    x1, y1 = (
        min(float(bbox[0]) + float(bbox[2]), width),
        min(float(bbox[1]) + float(bbox[3]), height),
    )
    return [x0, y0, x1 - x0, y1 - y0] if x1 > x0 and y1 > y0 else None


def open_coco(
    images: str | os.PathLike[str],
    annotations: str | os.PathLike[str],
    transforms: Any = None,
    *,
    skip_empty: bool = True,
) -> CocoData:
    """Opens a COCO-format dataset; ``skip_empty`` leaves out images without usable boxes
    (for training; evaluation keeps them, as COCO does)."""
    images, annotations = Path(images), Path(annotations)
    if not images.is_dir():
        raise FileNotFoundError(f"no image folder {images}")
    if not annotations.is_file():
        raise FileNotFoundError(f"no annotations file {annotations}")
    instances = read_instances(annotations)
    pycocotools = require("pycocotools.coco", "detection", "COCO-format data")
    coco = pycocotools.COCO()
    coco.dataset = instances
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress on stdout
        coco.createIndex()
    dataset = CheckedCocoDetection(str(images), coco, transforms=transforms)
    categories = {
        int(cat["id"]): str(cat.get("name", cat["id"])) for cat in instances["categories"]
    }
    if not categories:
        raise ValueError(
            f"{annotations}: categories must be given, with ids from 1 (0 is the background)"
        )
    report = CocoReport()
    usable: dict[int, int] = {}
    for ann in instances["annotations"]:
        if ann["iscrowd"]:
            report.skipped_crowd_boxes += 1
            continue
        info = coco.imgs[ann["image_id"]]
        box = clipped_box(ann["bbox"], info["width"], info["height"])
        if box is None:
            report.skipped_zero_area_boxes += 1
            continue
        report.clipped_boxes += box != [float(v) for v in ann["bbox"]]
        usable[ann["image_id"]] = usable.get(ann["image_id"], 0) + 1
    kept = []
    for image_id in dataset.ids:
        if not (images / coco.imgs[image_id]["file_name"]).is_file():
            report.skipped_missing_files += 1
        elif skip_empty and not usable.get(image_id):
            report.skipped_images_without_boxes += 1
        else:
            kept.append(image_id)
    dataset.ids = kept
    report.images, report.boxes = len(kept), sum(usable.get(i, 0) for i in kept)
    report.late_failures = LateFailures(len(kept))
    wrapped = wrap_dataset_for_transforms_v2(dataset, target_keys=("boxes", "labels", "image_id"))
    return CocoData(ReadableImages(wrapped, report.late_failures), coco, categories, report)


def coco_split(root: str | os.PathLike[str], split: str) -> tuple[Path, Path]:
    """The image folder and instances JSON of ``split`` ("train", "val") in a COCO-layout
    folder: ``root/split`` or COCO 2017's ``root/split2017``, with ``root/annotations/instances_*.json``."""
    root = Path(root)
    for name in (split, f"{split}2017"):
        annotations = root / "annotations" / f"instances_{name}.json"
        if annotations.is_file():
            return root / name, annotations
    raise FileNotFoundError(
        f"no {split} split in {root}: expected {root / split}/ and {root / 'annotations' / f'instances_{split}.json'} "
        f"(make one with `mobilenets data make-detection --out {root}`)"
    )


def detection_transforms(size: int | None, train: bool) -> T.Compose:
    """Training: torchvision's SSD recipe (photometric distortion, IoU crop keeping boxes,
    horizontal flip) then a resize to ``size`` x ``size`` (None: the detector resizes).
    Evaluation: the image as it is; the detector maps its boxes back to it."""
    steps: list[Any] = [T.ToImage()]
    if train:
        steps += [
            T.RandomPhotometricDistort(p=0.5),
            T.RandomIoUCrop(),
            T.RandomHorizontalFlip(),
            *([T.Resize((size, size), antialias=True)] if size else []),
            T.ClampBoundingBoxes(),
            T.SanitizeBoundingBoxes(min_size=1),
        ]
    steps.append(T.ToDtype(torch.float32, scale=True))
    return T.Compose(steps)


def collate_detection(
    items: list[tuple[Any, dict[str, Any]]],
) -> tuple[list[torch.Tensor], list[dict[str, Any]]]:
    """A batch as torchvision detectors take it: a list of images and a list of target dicts
    (plain tensors; an image without boxes gets an empty (0, 4) box tensor)."""
    images, targets = [], []
    for image, target in items:
        images.append(image.as_subclass(torch.Tensor))
        boxes = target.get("boxes")
        targets.append(
            {
                "boxes": boxes.as_subclass(torch.Tensor).float()
                if boxes is not None
                else torch.zeros(0, 4),
                "labels": target.get("labels", torch.zeros(0, dtype=torch.int64)).long(),
                "image_id": torch.tensor(int(target["image_id"])),
            }
        )
    return images, targets


__all__ = [
    "CocoData",
    "CocoReport",
    "clipped_box",
    "coco_split",
    "collate_detection",
    "detection_transforms",
    "open_coco",
]
