"""Detection as a task of the project's one training loop (``mobilenets.train.loop.fit``):
COCO-format data with the SSD augmentation, torchvision's detection losses, COCO mAP."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, Subset

from ..cost import Cost, count_cost
from ..data.coco import CocoData, coco_split, collate_detection, detection_transforms, open_coco
from ..train.checkpoint import load_checkpoint
from ..train.config import TrainConfig
from ..train.task import Task
from ..weights import create_model
from .evaluation import evaluate_detector


class DetectionTask(Task):
    """Trains any torchvision detector on a COCO-layout folder (``train/``, ``val/``,
    ``annotations/instances_*.json``); ``best.pt`` is chosen by mAP@[.5:.95]."""

    primary_metric = "map"

    def __init__(self, *, fixed_size: bool = True, backbone_init: str | None = None) -> None:
        # SSD takes a fixed square input: resizing in the data pipeline makes batches cheap.
        # Faster R-CNN resizes (keeping the aspect ratio) inside the model.
        self.fixed_size, self.backbone_init = fixed_size, backbone_init
        # Set by build_datasets, which the loop calls first.
        self.train: CocoData
        self.val: CocoData
        self.data: str

    def build_datasets(self, config: TrainConfig) -> tuple[Dataset, Dataset]:
        size = config.resolution if self.fixed_size else None
        self.data = config.data
        self.train = open_coco(
            *coco_split(config.data, "train"), detection_transforms(size, config.augment)
        )
        self.val = open_coco(
            *coco_split(config.data, "val"), detection_transforms(None, False), skip_empty=False
        )
        if self.train.categories != self.val.categories:
            raise ValueError(f"{config.data}: the train and val splits list different categories")
        return _first(self.train.dataset, config.limit_train), _first(
            self.val.dataset, config.limit_val
        )

    def build_model(self, config: TrainConfig) -> nn.Module:
        """The registered detector with the data's classes, its MobileNet body optionally
        starting from a classification checkpoint (``backbone_init``)."""
        backbone = load_checkpoint(self.backbone_init)["model"] if self.backbone_init else None
        return create_model(
            config.model,
            alpha=config.alpha,
            backbone_state=backbone,
            num_classes=self.train.num_classes,
        )

    def collate(self, items: list[Any]) -> Any:
        return collate_detection(items)

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, int, dict[str, float]]:
        images, targets = batch
        losses = model(images, targets)
        total = sum(losses.values())
        return total, len(images), {name: value.item() for name, value in losses.items()}

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        result = evaluate_detector(model, loader, self.val.coco)
        return {"map": result["map"], "map_50": result["map_50"]}

    def state(self) -> dict[str, Any]:
        return {
            "categories": {str(key): name for key, name in self.train.categories.items()},
            "data": self.data,
            "backbone_init": self.backbone_init,
        }

    def summary(self) -> dict[str, Any]:
        return {
            "num_classes": self.train.num_classes,
            "data_train": self.train.report.to_dict(),
            "data_val": self.val.report.to_dict(),
        }

    def cost(self, model: nn.Module, config: TrainConfig) -> Cost:
        return count_cost(model, example=model.example_input())


def _first(dataset: Dataset, limit: int | None) -> Dataset:
    return Subset(dataset, range(min(limit, len(dataset)))) if limit else dataset
