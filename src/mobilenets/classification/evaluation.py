"""Evaluating and using a trained checkpoint: accuracy with a confusion matrix, and predictions
for image files. Everything the inputs need (resolution, channels, normalization, class names)
comes from the checkpoint."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..data.classification import evaluation_samples
from ..data.folders import ImageFiles
from ..data.images import late_failure_count
from ..data.preprocess import transform_from_config
from ..files import refuse_existing
from ..models.compatible import check_compatible
from ..plots import pyplot, save_png
from ..train.checkpoint import (
    checkpoint_file,
    load_checkpoint,
    model_from_checkpoint,
    plot_file,
)
from ..train.config import TrainConfig
from ..train.data import load_data
from ..train.metrics import classification_metrics, per_class_accuracy
from ..weights.releases import get_release


def load(path: str | os.PathLike[str], *, ema: bool = False) -> tuple[nn.Module, dict[str, Any]]:
    """The network of a classification checkpoint (eval mode, CPU) and the checkpoint."""
    checkpoint = load_checkpoint(path)
    if not (checkpoint.get("task") or {}).get("classes"):
        raise ValueError(f"{path} is not a classification checkpoint (it records no class names)")
    return model_from_checkpoint(checkpoint, ema=ema).eval(), checkpoint


def evaluate(
    path: str | os.PathLike[str],
    data: str | None = None,
    *,
    limit: int | None = None,
    batch_size: int = 256,
    workers: int = 0,
    ema: bool = False,
    plot: str | os.PathLike[str] | None = None,
    draw: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Top-1, top-5, loss, per-class accuracy and the confusion matrix of a checkpoint (a file,
    or a run folder's best.pt) on the validation split of ``data`` (default: the data it was
    trained on). With ``draw``, the confusion matrix is also drawn to the PNG ``plot`` (default:
    its own ``best.confusion.png`` beside the checkpoint; see ``plot_file``)."""
    path = checkpoint_file(path)
    plot, force = plot_file(plot, path, ".confusion.png", force=force) if draw else (None, force)
    model, checkpoint = load(path, ema=ema)
    saved = TrainConfig.from_dict(checkpoint["config"])
    about = checkpoint["task"]
    config = dataclasses.replace(
        saved,
        data=data or saved.data,
        limit_train=1,
        limit_val=limit,
        in_channels=about["in_channels"],
    )
    same_data = config.data == saved.data
    bundle = load_data(
        config, mean=None if same_data else about["mean"], std=None if same_data else about["std"]
    )
    check_compatible(
        checkpoint["model_config"],
        {"num_classes": bundle.num_classes},
        what=f"checkpoint {path}",
        asked=f"data {config.data}",
    )
    result = {"checkpoint": str(path), "data": config.data}
    result.update(
        _evaluate(
            model,
            bundle.val,
            bundle.classes,
            batch_size=batch_size,
            workers=workers,
            plot=plot,
            title=f"{Path(path).name} on {config.data}",
            force=force,
        )
    )
    result["skipped_files"] = bundle.skipped_files
    return result


def evaluate_pretrained(
    model: nn.Module,
    data: str,
    *,
    weights: str,
    limit: int | None = None,
    batch_size: int = 256,
    workers: int = 0,
    strict: bool = False,
    plot: str | os.PathLike[str] | None = None,
    draw: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Top-1, top-5, loss and per-class accuracy of released weights (``model``, loaded from
    ``weights``) on the validation images of ``data``, prepared as the weights expect (its
    ``pretrained_cfg``). Class folders sorted by name give the weights' class order (ImageNet's
    synset ids, n01440764 ...), after TF-slim's background output when the weights have one.
    The confusion matrix is drawn only where asked: to the PNG ``plot`` (an existing one
    replaced only with ``force``); released weights have no run folder to draw into.
    Weights of a known release (``weights/releases.py``) also report its published accuracy."""
    plot = refuse_existing(plot, force=force) if draw and plot is not None else None
    offset = model.pretrained_cfg.get("label_offset", 0)
    samples, classes, skipped = evaluation_samples(data, limit=limit, strict=strict)
    if len(classes) + offset != model.num_classes:
        background = f" ({offset} for TF-slim's background class)" if offset else ""
        raise ValueError(
            f"the weights have {model.num_classes} outputs{background} but {data} has {len(classes)} classes: evaluate "
            "them on data with the weights' classes (ImageNet's val/: 1000 synset folders), "
            "or fine-tune with `mobilenets train --pretrained`"
        )
    dataset = ImageFiles(
        [(path, target + offset) for path, target in samples],
        classes,
        transform_from_config(model.pretrained_cfg),
    )
    names = ["background"] * offset + list(classes)
    result = {"weights": str(weights), "data": data}
    result.update(
        _evaluate(
            model.eval(),
            dataset,
            names,
            batch_size=batch_size,
            workers=workers,
            plot=plot,
            title=f"{Path(weights).name} on {data}",
            force=force,
        )
    )
    result["skipped_files"] = len(skipped) + late_failure_count(dataset)
    if model.pretrained_cfg.get("weights"):
        release = get_release(model.pretrained_cfg["weights"])
        result["published"] = dict(
            weights=release.name,
            top1=release.top1,
            top5=release.top5,
            source=release.accuracy_source,
        )
    return result


def _evaluate(
    model: nn.Module,
    dataset: Dataset,
    classes: Sequence[str],
    *,
    batch_size: int,
    workers: int,
    plot: str | os.PathLike[str] | None,
    title: str,
    force: bool = False,
) -> dict[str, Any]:
    """The metrics of ``model`` on ``dataset`` (items: image tensor, class index), and the
    confusion-matrix PNG when ``plot`` is a path."""
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    metrics = classification_metrics(model, loader, len(classes))
    confusion = metrics.pop("confusion")
    result = {
        "images": metrics.pop("count"),
        **metrics,
        "per_class": dict(zip(classes, per_class_accuracy(confusion))),
        "confusion": confusion.tolist(),
        "classes": list(classes),
    }
    if plot is not None and save_confusion_plot(
        confusion, classes, plot, title=f"{title}: top-1 {metrics['top1']:.2%}", force=force
    ):
        result["confusion_png"] = str(plot)
    return result


def save_confusion_plot(
    confusion: torch.Tensor,
    classes: Sequence[str],
    path: str | os.PathLike[str],
    *,
    title: str,
    force: bool = True,
) -> bool:
    """The confusion matrix as a PNG (rows: true class, columns: predicted), written atomically;
    False (and a warning) without matplotlib."""
    plt = pyplot("confusion-matrix")
    if plt is None:
        return False
    size = min(max(4.0, 0.5 * len(classes) + 2), 16.0)
    figure, axes = plt.subplots(figsize=(size + 1, size))
    image = axes.imshow(confusion.numpy(), cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = range(len(classes))
    if len(classes) <= 50:  # beyond that (ImageNet's 1000) names would overprint each other
        axes.set_xticks(ticks, classes, rotation=60, ha="right")
        axes.set_yticks(ticks, classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    if len(classes) <= 20:
        limit = confusion.max().item() / 2
        for (row, column), count in zip(
            ((r, c) for r in ticks for c in ticks), confusion.flatten().tolist()
        ):
            axes.text(
                column,
                row,
                str(count),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if count > limit else "black",
            )
    figure.tight_layout()
    save_png(figure, path, force=force)
    return True
