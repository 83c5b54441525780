"""Evaluating and using a trained checkpoint: accuracy with a confusion matrix, and predictions
for image files. Everything the inputs need (resolution, channels, normalization, class names)
comes from the checkpoint."""
from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Any, Sequence

import torch
from PIL import Image, UnidentifiedImageError
from torch import nn
from torch.utils.data import DataLoader

from ..data.classification import build_transforms
from .checkpoint import atomic_write_bytes, check_compatible, load_checkpoint, model_from_checkpoint
from .classification import load_data
from .config import TrainConfig
from .metrics import classification_metrics, per_class_accuracy


def load_classifier(path: str | os.PathLike[str], *, ema: bool = False) -> tuple[nn.Module, dict[str, Any]]:
    """The network of a classification checkpoint (eval mode, CPU) and the checkpoint."""
    checkpoint = load_checkpoint(path)
    if not (checkpoint.get("task") or {}).get("classes"):
        raise ValueError(f"{path} is not a classification checkpoint (it records no class names)")
    return model_from_checkpoint(checkpoint, ema=ema).eval(), checkpoint


def evaluate_checkpoint(
    path: str | os.PathLike[str], data: str | None = None, *, limit: int | None = None,
    batch_size: int = 256, workers: int = 0, ema: bool = False, plot: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Top-1, top-5, loss, per-class accuracy and the confusion matrix of a checkpoint on the
    validation split of ``data`` (default: the data it was trained on). With ``plot``, the
    confusion matrix is also drawn to that PNG file."""
    model, checkpoint = load_classifier(path, ema=ema)
    saved = TrainConfig.from_dict(checkpoint["config"])
    about = checkpoint["task"]
    config = dataclasses.replace(
        saved, data=data or saved.data, limit_train=1, limit_val=limit, in_channels=about["in_channels"]
    )
    same_data = config.data == saved.data
    bundle = load_data(config, mean=None if same_data else about["mean"], std=None if same_data else about["std"])
    check_compatible(
        checkpoint["model_config"], {"num_classes": bundle.num_classes}, what=f"checkpoint {path}", asked=f"data {config.data}"
    )
    loader = DataLoader(bundle.val, batch_size=batch_size, num_workers=workers)
    metrics = classification_metrics(model, loader, bundle.num_classes)
    confusion = metrics.pop("confusion")
    result = {
        "checkpoint": str(path), "data": config.data, "images": metrics.pop("count"), **metrics,
        "per_class": dict(zip(bundle.classes, per_class_accuracy(confusion))),
        "confusion": confusion.tolist(), "classes": list(bundle.classes), "skipped_files": bundle.skipped_files,
    }
    if plot is not None:
        save_confusion_plot(confusion, bundle.classes, plot, title=f"{Path(path).name} on {config.data}: top-1 {metrics['top1']:.2%}")
        result["confusion_png"] = str(plot)
    return result


def save_confusion_plot(confusion: torch.Tensor, classes: Sequence[str], path: str | os.PathLike[str], *, title: str) -> None:
    """The confusion matrix as a PNG (rows: true class, columns: predicted), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = max(4.0, 0.5 * len(classes) + 2)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(confusion.numpy(), cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = range(len(classes))
    axes.set_xticks(ticks, classes, rotation=60, ha="right")
    axes.set_yticks(ticks, classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    if len(classes) <= 20:
        limit = confusion.max().item() / 2
        for (row, column), count in zip(((r, c) for r in ticks for c in ticks), confusion.flatten().tolist()):
            axes.text(column, row, str(count), ha="center", va="center", fontsize=7, color="white" if count > limit else "black")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


@torch.no_grad()
def predict(
    path: str | os.PathLike[str], images: Sequence[str | os.PathLike[str]], *, top_k: int = 5, ema: bool = False
) -> list[dict[str, Any]]:
    """The ``top_k`` classes and probabilities of a checkpoint for each image file."""
    model, checkpoint = load_classifier(path, ema=ema)
    about = checkpoint["task"]
    classes = about["classes"]
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1; got {top_k}")
    transform = build_transforms(
        checkpoint["model_config"]["resolution"], False, in_channels=about["in_channels"],
        mean=about["mean"], std=about["std"], crop_pct=about.get("crop_pct", 0.875),
    )
    batch = torch.stack([transform(_open_image(image)) for image in images])
    probabilities = model(batch).softmax(dim=1)
    best = probabilities.topk(min(top_k, len(classes)), dim=1)
    return [
        {
            "image": str(image),
            "top": [{"class": classes[i], "index": i, "probability": p} for p, i in zip(values.tolist(), indices.tolist())],
        }
        for image, values, indices in zip(images, best.values, best.indices)
    ]


def _open_image(path: str | os.PathLike[str]) -> Image.Image:
    if not Path(path).is_file():
        raise FileNotFoundError(f"no image file {path}")
    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{path} is not a readable image ({error})") from None
    return image
