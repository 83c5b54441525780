"""The two applications as tasks of the project's one training loop (``train.loop.fit``):
``AttributeTask`` (multi-label attributes, Table 12) and ``EmbeddingTask`` (128-d embeddings
distilled from a teacher, Table 14). Both learn from a live teacher or its precomputed outputs."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..data.classification import DataBundle
from ..data.images import late_failure_count
from ..train.batches import to_device
from ..train.config import TrainConfig
from ..train.data import load_data, unaugmented_train
from ..train.distill import Distillation
from ..train.task import Task
from ..train.teacher import Teacher
from .attributes import AttributeData, load_attribute_data
from .embedding_head import EMBEDDING_DIM
from .losses import attribute_loss, embedding_loss
from .metrics import MAX_PAIR_IMAGES, mean_average_precision, pair_distances, verification_rates
from .teachers import attribute_teacher, embedding_teacher, output_size


@torch.no_grad()
def outputs_and_labels(model: nn.Module, loader: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's outputs (float, CPU) and the labels of every batch of ``loader``."""
    device = next(model.parameters()).device
    outputs, labels = [], []
    for images, targets in loader:
        outputs.append(model(to_device(images, device)).float().cpu())
        labels.append(targets)
    return torch.cat(outputs), torch.cat(labels)


def verification(model: nn.Module, loader: Any, far: float = 1e-4) -> dict[str, float]:
    """Verification rates on all pairs of the images of ``loader`` (identity = label)."""
    embeddings, identities = outputs_and_labels(model, loader)
    return verification_rates(*pair_distances(embeddings, identities), far=far)


class _Distilled(Task):
    """What both tasks share: a live teacher or precomputed outputs, looked up per batch."""

    def __init__(
        self, *, teacher: nn.Module | None = None, teacher_outputs: torch.Tensor | None = None
    ) -> None:
        self.distill = Distillation(teacher=teacher, teacher_outputs=teacher_outputs)
        self.config: TrainConfig  # set by build_datasets, which the loop calls first


class AttributeTask(_Distilled):
    """Per-attribute sigmoid outputs; BCE against the teacher's probabilities (or the 0/1
    labels without a teacher); ``best.pt`` by mean AP over attributes against the labels."""

    primary_metric = "map"

    def __init__(
        self, *, distill_weight: float = 1.0, temperature: float = 1.0, **teacher: Any
    ) -> None:
        super().__init__(**teacher)
        self.distill_weight, self.temperature = distill_weight, temperature
        self.data: AttributeData  # set by build_datasets

    @classmethod
    def from_config(cls, config: TrainConfig) -> AttributeTask:
        return cls(distill_weight=config.distill_weight, temperature=config.temperature)

    def build_datasets(self, config: TrainConfig) -> tuple[Dataset, Dataset]:
        self.config, self.data = config, load_attribute_data(config)
        names = self.data.names
        if config.teacher and self.distill.teacher is None:
            self.distill.teacher = attribute_teacher(
                config.teacher, self.data.val[0][0], len(names), self.data.class_table
            )
        return self.distill.datasets(self.data.train, self.data.val, config, len(names))

    def model_kwargs(self) -> dict[str, Any]:
        return {"num_classes": len(self.data.names), "in_channels": self.data.in_channels}

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, int, dict[str, float]]:
        images, labels = batch[0], batch[1]
        logits = model(images)
        target = self.distill.targets(batch, logits)
        loss = attribute_loss(
            logits.float(), target, labels, weight=self.distill_weight, temperature=self.temperature
        )
        accuracy = ((logits > 0) == (labels > 0.5)).float().mean().item()
        return loss, len(labels), {"accuracy": accuracy}

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        logits, labels = outputs_and_labels(model, loader)
        mean_ap, _ = mean_average_precision(logits, labels)
        return {"map": mean_ap, "loss": F.binary_cross_entropy_with_logits(logits, labels).item()}

    def state(self) -> dict[str, Any]:
        data = self.data
        return {
            "attributes": list(data.names),
            "mean": list(data.mean),
            "std": list(data.std),
            "in_channels": data.in_channels,
            "crop_pct": data.crop_pct,
            "data": self.config.data,
            "teacher": self.config.teacher or self.config.teacher_outputs,
        }

    def summary(self) -> dict[str, Any]:
        skipped = len(self.data.skipped) + late_failure_count(self.data.train, self.data.val)
        return {"skipped_files": skipped, "attributes": list(self.data.names)}


class EmbeddingTask(_Distilled):
    """A unit-norm embedding trained to match a teacher's by squared difference; ``best.pt`` by
    the true-accept rate at a false-accept rate of ``far`` on all pairs of the first
    ``MAX_PAIR_IMAGES`` validation images (identity = class)."""

    primary_metric = "tar"

    def __init__(
        self, *, embedding_dim: int = EMBEDDING_DIM, far: float = 1e-4, **teacher: Any
    ) -> None:
        super().__init__(**teacher)
        self.embedding_dim, self.far = embedding_dim, far
        self.bundle: DataBundle  # set by build_datasets

    def build_datasets(self, config: TrainConfig) -> tuple[Dataset, Dataset]:
        if config.limit_val is None or config.limit_val > MAX_PAIR_IMAGES:
            config = TrainConfig.from_dict({**config.to_dict(), "limit_val": MAX_PAIR_IMAGES})
        self.config, self.bundle = config, load_data(config)
        if config.teacher and self.distill.teacher is None:
            teacher = embedding_teacher(
                config.teacher, unaugmented_train(self.bundle), self.bundle.in_channels
            )
            given = output_size(teacher, self.bundle.val[0][0])
            if given != self.embedding_dim:
                raise ValueError(
                    f"teacher {config.teacher} gives {given}-d embeddings; the student makes {self.embedding_dim}"
                )
            self.distill.teacher = teacher
        return self.distill.datasets(self.bundle.train, self.bundle.val, config, self.embedding_dim)

    def model_kwargs(self) -> dict[str, Any]:
        return {"embedding_dim": self.embedding_dim, "in_channels": self.bundle.in_channels}

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, int, dict[str, float]]:
        embeddings = model(batch[0])
        target = self.distill.targets(batch, embeddings)
        if target is None:
            raise ValueError("embedding training needs a teacher or its precomputed outputs")
        return embedding_loss(embeddings, target), len(embeddings), {}

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        rates = verification(model, loader, self.far)
        return {key: rates[key] for key in ("tar", "accuracy", "threshold")}

    def state(self) -> dict[str, Any]:
        return {
            **self.bundle.about(),
            "data": self.config.data,
            "embedding_dim": self.embedding_dim,
            "teacher": self.config.teacher or self.config.teacher_outputs,
        }

    def summary(self) -> dict[str, Any]:
        """The teacher's own verification rates beside the student's (Table 14's FaceNet row)."""
        result: dict[str, Any] = {"skipped_files": self.bundle.skipped_files}
        if isinstance(self.distill.teacher, Teacher):
            rates = verification(
                self.distill.teacher, DataLoader(self.bundle.val, batch_size=256), self.far
            )
            result.update(teacher_tar=rates["tar"], teacher_accuracy=rates["accuracy"])
        return result
