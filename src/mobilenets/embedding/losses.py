"""The two distillation losses: attributes (Table 12) and embeddings (Table 14)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def attribute_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor | None,
    labels: torch.Tensor | None,
    *,
    weight: float = 1.0,
    temperature: float = 1.0,
) -> torch.Tensor:
    """``(1 - w) * BCE(student, labels) + w * T**2 * BCE(sigmoid(student/T), sigmoid(teacher/T))``,
    means over images and attributes. The soft term makes the student emulate the teacher's
    per-attribute probabilities; ``w = 1`` (or no teacher: labels only) needs one of the two."""
    if teacher_logits is None:
        if labels is None:
            raise ValueError("attribute training needs labels or a teacher")
        return F.binary_cross_entropy_with_logits(student_logits, labels)
    if labels is None and weight < 1.0:
        raise ValueError(f"labels are needed unless the distillation weight is 1 (got {weight})")
    soft_targets = torch.sigmoid(teacher_logits.detach().float() / temperature)
    soft = (
        F.binary_cross_entropy_with_logits(student_logits / temperature, soft_targets)
        * temperature**2
    )
    if weight == 1.0:
        return soft
    return (1.0 - weight) * F.binary_cross_entropy_with_logits(
        student_logits, labels
    ) + weight * soft


def embedding_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """The squared difference of the two embeddings, ``||s - t||^2`` summed over dimensions and
    averaged over images (the paper's FaceNet distillation). The teacher is not differentiated."""
    if student.shape != teacher.shape:
        raise ValueError(
            f"student embeddings {tuple(student.shape)} and teacher embeddings {tuple(teacher.shape)} differ in shape"
        )
    return (student.float() - teacher.detach().float()).pow(2).sum(1).mean()
