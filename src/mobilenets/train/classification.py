"""The built-in task: image classification, with optional distillation from a teacher model or
from a teacher's precomputed outputs."""
from __future__ import annotations

import copy
import os
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, Subset

from ..data.classification import DataBundle, build_datasets
from ..files import refuse_existing
from .config import TrainConfig
from .distill import Distillation, distillation_loss
from .metrics import classification_metrics
from .task import Task
from .teacher import load_teacher, write_teacher_outputs
from .transfer import PRETRAINED_MEAN, PRETRAINED_STD


def default_in_channels(data: str) -> int:
    """Fashion-MNIST trains on its one grey channel; image files as RGB."""
    return 1 if data == "fashion-mnist" else 3


def load_data(
    config: TrainConfig, *, augment: bool | None = None,
    mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
) -> DataBundle:
    """The config's datasets; ``augment=False`` gives the training images the evaluation
    transform (for teacher outputs, and for runs that compare exactly across processes).
    ``mean``/``std`` override the data's own normalization (a checkpoint's, for evaluation)."""
    if config.pretrained and mean is None:
        mean, std = PRETRAINED_MEAN, PRETRAINED_STD
    bundle = build_datasets(
        config.data, config.resolution,
        in_channels=config.in_channels or (3 if config.pretrained else default_in_channels(config.data)),
        limit_train=config.limit_train, limit_val=config.limit_val,
        min_crop_area=config.min_crop_area, strict=config.strict, mean=mean, std=std,
    )
    if not (config.augment if augment is None else augment):
        bundle.train = unaugmented_train(bundle)
    return bundle


def unaugmented_train(bundle: DataBundle) -> Dataset:
    """The bundle's training images with the evaluation transform (no crop or flip), without
    reading the data again."""
    return with_transform(bundle.train, bundle.plain_train_transform)


def with_transform(dataset: Dataset, transform: Any) -> Dataset:
    """A shallow copy of ``dataset`` (or of the dataset under a Subset) using ``transform``."""
    if isinstance(dataset, Subset):
        return Subset(with_transform(dataset.dataset, transform), dataset.indices)
    dataset = copy.copy(dataset)
    dataset.transform = transform
    return dataset


class ClassificationTask(Task):
    """Cross-entropy (with optional label smoothing), or the distillation loss when a teacher
    or teacher outputs are given; evaluation by top-1 / top-5."""

    primary_metric = "top1"

    def __init__(
        self,
        *,
        teacher: nn.Module | None = None,
        teacher_outputs: torch.Tensor | None = None,
        distill_weight: float = 0.5,
        temperature: float = 4.0,
        label_smoothing: float = 0.0,
    ) -> None:
        self.distill = Distillation(teacher=teacher, teacher_outputs=teacher_outputs)
        self.distill_weight, self.temperature, self.label_smoothing = distill_weight, temperature, label_smoothing
        # Set by build_datasets, which the loop calls first.
        self.bundle: DataBundle
        self.data: str

    @classmethod
    def from_config(cls, config: TrainConfig) -> "ClassificationTask":
        return cls(distill_weight=config.distill_weight, temperature=config.temperature, label_smoothing=config.label_smoothing)

    def build_datasets(self, config: TrainConfig) -> tuple[Dataset, Dataset]:
        self.bundle, self.data = load_data(config), config.data
        if config.teacher and self.distill.teacher is None:
            self.distill.teacher = load_teacher(config.teacher, weights=config.teacher_weights, num_classes=self.bundle.num_classes)
        return self.distill.datasets(self.bundle.train, self.bundle.val, config, self.bundle.num_classes)

    def model_kwargs(self) -> dict[str, Any]:
        return {"num_classes": self.bundle.num_classes, "in_channels": self.bundle.in_channels}

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, int, dict[str, float]]:
        images, labels = batch[0], batch[1]
        logits = model(images)
        target = self.distill.targets(batch, logits)
        if target is None:
            loss = F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
        else:
            loss = distillation_loss(
                logits.float(), target.float(), labels,
                weight=self.distill_weight, temperature=self.temperature, label_smoothing=self.label_smoothing,
            )
        accuracy = (logits.argmax(1) == labels).float().mean().item()
        return loss, labels.numel(), {"accuracy": accuracy}

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        metrics = classification_metrics(model, loader, self.bundle.num_classes)
        return {key: metrics[key] for key in ("top1", "top5", "loss")}

    def state(self) -> dict[str, Any]:
        bundle = self.bundle
        return {
            "classes": list(bundle.classes), "mean": list(bundle.mean), "std": list(bundle.std),
            "in_channels": bundle.in_channels, "crop_pct": bundle.crop_pct, "data": self.data,
        }

    def summary(self) -> dict[str, Any]:
        return {"skipped_files": self.bundle.skipped_files, "num_classes": self.bundle.num_classes}


def teacher_outputs(config: TrainConfig, out: str | os.PathLike[str], *, batch_size: int = 256, force: bool = False) -> dict[str, Any]:
    """Computes ``config.teacher``'s logits once for the un-augmented training images (in index
    order) and saves them to ``out`` for ``--teacher-outputs``."""
    if not config.teacher:
        raise ValueError("teacher-outputs needs a teacher (a checkpoint or a torchvision model name)")
    refuse_existing(out, force=force)
    bundle = load_data(config, augment=False)
    teacher = load_teacher(config.teacher, weights=config.teacher_weights, num_classes=bundle.num_classes)
    about = {"teacher": config.teacher, "data": config.data, "resolution": config.resolution, "classes": list(bundle.classes)}
    logits = write_teacher_outputs(teacher, bundle.train, out, device=config.device, batch_size=batch_size,
                                   workers=config.workers, about=about)
    return {"out": str(out), "images": logits.shape[0], "num_classes": logits.shape[1], **about, "skipped_files": bundle.skipped_files}
