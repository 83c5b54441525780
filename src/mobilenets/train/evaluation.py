"""Evaluating and using a trained checkpoint: accuracy with a confusion matrix, and predictions
for image files. Everything the inputs need (resolution, channels, normalization, class names)
comes from the checkpoint."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from PIL import Image, UnidentifiedImageError
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..data.classification import build_transforms, evaluation_samples
from ..data.folders import ImageFiles
from ..data.preprocess import transform_from_config
from ..files import refuse_existing
from ..models.releases import get_release
from ..plots import pyplot, save_png
from .checkpoint import check_compatible, load_checkpoint, model_from_checkpoint
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
    force: bool = False,
) -> dict[str, Any]:
    """Top-1, top-5, loss, per-class accuracy and the confusion matrix of a checkpoint on the
    validation split of ``data`` (default: the data it was trained on). With ``plot``, the
    confusion matrix is also drawn to that PNG file (an existing one is replaced only with ``force``)."""
    if plot is not None:
        refuse_existing(plot, force=force)
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
    result = {"checkpoint": str(path), "data": config.data}
    result.update(_evaluate(model, bundle.val, bundle.classes, batch_size=batch_size, workers=workers,
                            plot=plot, title=f"{Path(path).name} on {config.data}", force=force))
    result["skipped_files"] = bundle.skipped_files
    return result


def evaluate_pretrained(
    model: nn.Module, data: str, *, weights: str, limit: int | None = None, batch_size: int = 256,
    workers: int = 0, strict: bool = False, plot: str | os.PathLike[str] | None = None, force: bool = False,
) -> dict[str, Any]:
    """Top-1, top-5, loss and per-class accuracy of released weights (``model``, loaded from
    ``weights``) on the validation images of ``data``, prepared as the weights expect (its
    ``pretrained_cfg``). Class folders sorted by name give the weights' class order (ImageNet's
    synset ids, n01440764 ...), after TF-slim's background output when the weights have one.
    Weights of a known release (``models/releases.py``) also report its published accuracy."""
    if plot is not None:
        refuse_existing(plot, force=force)
    offset = model.pretrained_cfg.get("label_offset", 0)
    samples, classes, skipped = evaluation_samples(data, limit=limit, strict=strict)
    if len(classes) + offset != model.num_classes:
        background = f" ({offset} for TF-slim's background class)" if offset else ""
        raise ValueError(
            f"the weights have {model.num_classes} outputs{background} but {data} has {len(classes)} classes: evaluate "
            "them on data with the weights' classes (ImageNet's val/: 1000 synset folders), or fine-tune with `mobilenets train --pretrained`"
        )
    dataset = ImageFiles([(path, target + offset) for path, target in samples], classes, transform_from_config(model.pretrained_cfg))
    names = ["background"] * offset + list(classes)
    result = {"weights": str(weights), "data": data}
    result.update(_evaluate(model.eval(), dataset, names, batch_size=batch_size, workers=workers,
                            plot=plot, title=f"{Path(weights).name} on {data}", force=force))
    result["skipped_files"] = len(skipped)
    if model.pretrained_cfg.get("weights"):
        release = get_release(model.pretrained_cfg["weights"])
        result["published"] = dict(weights=release.name, top1=release.top1, top5=release.top5, source=release.accuracy_source)
    return result


def _evaluate(
    model: nn.Module, dataset: Dataset, classes: Sequence[str], *, batch_size: int, workers: int,
    plot: str | os.PathLike[str] | None, title: str, force: bool = False,
) -> dict[str, Any]:
    """The metrics of ``model`` on ``dataset`` (items: image tensor, class index), and the
    confusion-matrix PNG when ``plot`` is a path."""
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers)
    metrics = classification_metrics(model, loader, len(classes))
    confusion = metrics.pop("confusion")
    result = {
        "images": metrics.pop("count"), **metrics,
        "per_class": dict(zip(classes, per_class_accuracy(confusion))),
        "confusion": confusion.tolist(), "classes": list(classes),
    }
    if plot is not None and save_confusion_plot(confusion, classes, plot, title=f"{title}: top-1 {metrics['top1']:.2%}", force=force):
        result["confusion_png"] = str(plot)
    return result


def save_confusion_plot(
    confusion: torch.Tensor, classes: Sequence[str], path: str | os.PathLike[str], *, title: str, force: bool = True,
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
        for (row, column), count in zip(((r, c) for r in ticks for c in ticks), confusion.flatten().tolist()):
            axes.text(column, row, str(count), ha="center", va="center", fontsize=7, color="white" if count > limit else "black")
    figure.tight_layout()
    save_png(figure, path, force=force)
    return True


@torch.no_grad()
def predict(
    path: str | os.PathLike[str], images: Sequence[str | os.PathLike[str]], *, top_k: int = 5, ema: bool = False
) -> list[dict[str, Any]]:
    """The ``top_k`` classes and probabilities of a checkpoint for each image file."""
    model, checkpoint = load_classifier(path, ema=ema)
    about = checkpoint["task"]
    transform = build_transforms(
        checkpoint["model_config"]["resolution"], False, in_channels=about["in_channels"],
        mean=about["mean"], std=about["std"], crop_pct=about.get("crop_pct", 0.875),
    )
    return predict_images(model, transform, about["classes"], images, top_k=top_k)


@torch.no_grad()
def predict_images(
    model: nn.Module, transform: Callable[[Image.Image], torch.Tensor], classes: Sequence[str],
    images: Sequence[str | os.PathLike[str]], *, top_k: int = 5,
) -> list[dict[str, Any]]:
    """The ``top_k`` classes and probabilities of ``model`` for each image file, the images
    prepared by ``transform`` (which also decides grey or colour)."""
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1; got {top_k}")
    batch = torch.stack([transform(open_image(image)) for image in images])
    probabilities = model(batch).softmax(dim=1)
    best = probabilities.topk(min(top_k, len(classes)), dim=1)
    return [
        {
            "image": str(image),
            "top": [{"class": classes[i], "index": i, "probability": p} for p, i in zip(values.tolist(), indices.tolist())],
        }
        for image, values, indices in zip(images, best.values, best.indices)
    ]


def imagenet_classes(num_classes: int, label_offset: int = 0) -> list[str]:
    """Names for a released model's outputs: ImageNet's 1000 classes (torchvision's list),
    after a "background" output when ``label_offset`` is 1 (TF-slim's 1001 classes)."""
    from torchvision.models import MobileNet_V2_Weights

    names = ["background"] * label_offset + list(MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])
    return names if len(names) == num_classes else [f"class {index}" for index in range(num_classes)]


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """A user's image file, loaded; a missing or unreadable file is a one-line user error."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no image file {path}")
    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{path} is not a readable image ({error})") from None
    return image
