"""Knowledge distillation (Hinton et al.; the paper's section 4.4): the loss, and the teacher's
targets per batch that every distilling task (classification, attributes, embeddings) shares."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from .config import TrainConfig
from .datasets import Cached, Indexed
from .teacher import load_teacher_outputs


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    weight: float,
    temperature: float,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """``(1 - w) * CE(student, labels) + w * T**2 * KL(softmax(teacher/T) || softmax(student/T))``,
    both batch means. The ``T**2`` keeps the soft term's gradient scale independent of T.
    ``w = 1`` needs no labels (the student learns from the teacher alone). The teacher is not
    differentiated.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"distillation weight must be in [0, 1], got {weight}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if labels is None and weight < 1.0:
        raise ValueError(f"labels are needed unless the distillation weight is 1 (got {weight})")
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"student logits {tuple(student_logits.shape)} and teacher logits "
            f"{tuple(teacher_logits.shape)} differ in shape"
        )
    soft = (
        F.kl_div(
            F.log_softmax(student_logits / temperature, dim=1),
            F.log_softmax(teacher_logits.detach() / temperature, dim=1),
            reduction="batchmean",
            log_target=True,
        )
        * temperature**2
    )
    if weight == 1.0:
        return soft
    hard = F.cross_entropy(student_logits, labels, label_smoothing=label_smoothing)
    return (1.0 - weight) * hard + weight * soft


class Distillation:
    """A live teacher or a teacher's precomputed outputs (one row per training image, looked up
    by index), and the training datasets arranged for them."""

    def __init__(
        self, *, teacher: nn.Module | None = None, teacher_outputs: torch.Tensor | None = None
    ) -> None:
        self.teacher, self.teacher_outputs = teacher, teacher_outputs

    def datasets(
        self, train: Dataset, val: Dataset, config: TrainConfig, num_outputs: int
    ) -> tuple[Dataset, Dataset]:
        """Loads ``config.teacher_outputs`` (checked against the training set and
        ``num_outputs``), caches with ``config.cache``, and indexes the training items when
        outputs are looked up."""
        if config.teacher_outputs and self.teacher_outputs is None:
            self.teacher_outputs = load_teacher_outputs(
                config.teacher_outputs, num_images=len(train), num_classes=num_outputs
            )
        if config.cache:
            train, val = Cached(train), Cached(val)
        return (Indexed(train) if self.teacher_outputs is not None else train), val

    def targets(self, batch: Any, like: torch.Tensor) -> torch.Tensor | None:
        """The teacher's outputs for the batch's images (on ``like``'s device), or None without one."""
        if self.teacher_outputs is not None:
            return self.teacher_outputs[batch[2].cpu()].to(like.device)
        if self.teacher is not None:
            return self.teacher.to(batch[0].device)(batch[0])
        return None
