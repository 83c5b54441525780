"""Knowledge distillation (Hinton et al.; the paper's section 4.4)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


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
        raise ValueError(f"student logits {tuple(student_logits.shape)} and teacher logits {tuple(teacher_logits.shape)} differ in shape")
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=1),
        F.log_softmax(teacher_logits.detach() / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    ) * temperature**2
    if weight == 1.0:
        return soft
    hard = F.cross_entropy(student_logits, labels, label_smoothing=label_smoothing)
    return (1.0 - weight) * hard + weight * soft
