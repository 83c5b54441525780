"""Classification metrics over a data loader: top-1, top-5, loss, per-class accuracy, confusion."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .batches import to_device


@torch.no_grad()
def classification_metrics(
    model: nn.Module, loader: Iterable[Any], num_classes: int
) -> dict[str, Any]:
    """Evaluates ``model`` (put in eval mode here) on batches whose first two entries are images
    and labels. Returns top1, top5 (top-k with k = min(5, classes)), mean cross-entropy loss,
    count, and the confusion matrix (rows: true class, columns: predicted)."""
    model.eval()
    device = next(model.parameters()).device
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    loss_sum, top5_hits, count = 0.0, 0, 0
    k = min(5, num_classes)
    for batch in loader:
        images, labels = to_device(batch[0], device), batch[1]
        logits = model(images).float().cpu()
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        top5_hits += (logits.topk(k, dim=1).indices == labels[:, None]).any(dim=1).sum().item()
        confusion += torch.bincount(
            labels * num_classes + logits.argmax(1), minlength=num_classes**2
        ).view(num_classes, num_classes)
        count += labels.numel()
    if count == 0:
        raise ValueError("no images to evaluate")
    return {
        "top1": confusion.diag().sum().item() / count,
        "top5": top5_hits / count,
        "loss": loss_sum / count,
        "count": count,
        "confusion": confusion,
    }


def per_class_accuracy(confusion: torch.Tensor) -> list[float | None]:
    """Each class's recall (None for a class with no images)."""
    totals = confusion.sum(1)
    return [(confusion[i, i] / totals[i]).item() if totals[i] else None for i in range(len(totals))]
