"""The built-in task: image classification, with optional distillation from a teacher model or
from a teacher's precomputed outputs."""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ..data.classification import DataBundle
from ..files import refuse_existing
from ..train.config import TrainConfig
from ..train.data import load_data
from ..train.distill import Distillation, distillation_loss
from ..train.metrics import classification_metrics
from ..train.task import Task
from ..train.teacher import load_teacher, write_teacher_outputs


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
        self.distill_weight, self.temperature, self.label_smoothing = (
            distill_weight,
            temperature,
            label_smoothing,
        )
        # Set by build_datasets, which the loop calls first.
        self.bundle: DataBundle
        self.data: str

    @classmethod
    def from_config(cls, config: TrainConfig) -> ClassificationTask:
        return cls(
            distill_weight=config.distill_weight,
            temperature=config.temperature,
            label_smoothing=config.label_smoothing,
        )

    def build_datasets(self, config: TrainConfig) -> tuple[Dataset, Dataset]:
        self.bundle, self.data = load_data(config), config.data
        if config.teacher and self.distill.teacher is None:
            self.distill.teacher = load_teacher(
                config.teacher, weights=config.teacher_weights, num_classes=self.bundle.num_classes
            )
        return self.distill.datasets(
            self.bundle.train, self.bundle.val, config, self.bundle.num_classes
        )

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
                logits.float(),
                target.float(),
                labels,
                weight=self.distill_weight,
                temperature=self.temperature,
                label_smoothing=self.label_smoothing,
            )
        accuracy = (logits.argmax(1) == labels).float().mean().item()
        return loss, labels.numel(), {"accuracy": accuracy}

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        metrics = classification_metrics(model, loader, self.bundle.num_classes)
        return {key: metrics[key] for key in ("top1", "top5", "loss")}

    def state(self) -> dict[str, Any]:
        return {**self.bundle.about(), "data": self.data}

    def summary(self) -> dict[str, Any]:
        return {"skipped_files": self.bundle.skipped_files, "num_classes": self.bundle.num_classes}


def teacher_outputs(
    config: TrainConfig, out: str | os.PathLike[str], *, batch_size: int = 256, force: bool = False
) -> dict[str, Any]:
    """Computes ``config.teacher``'s logits once for the un-augmented training images (in index
    order) and saves them to ``out`` for ``--teacher-outputs``."""
    if not config.teacher:
        raise ValueError(
            "teacher-outputs needs a teacher (a checkpoint or a torchvision model name)"
        )
    refuse_existing(out, force=force)
    bundle = load_data(config, augment=False)
    teacher = load_teacher(
        config.teacher, weights=config.teacher_weights, num_classes=bundle.num_classes
    )
    about = {
        "teacher": config.teacher,
        "data": config.data,
        "resolution": config.resolution,
        "classes": list(bundle.classes),
    }
    logits = write_teacher_outputs(
        teacher,
        bundle.train,
        out,
        device=config.device,
        batch_size=batch_size,
        workers=config.workers,
        about=about,
    )
    return {
        "out": str(out),
        "images": logits.shape[0],
        "num_classes": logits.shape[1],
        **about,
        "skipped_files": bundle.skipped_files,
    }
