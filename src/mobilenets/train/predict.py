"""``predict``: the top classes of a classification checkpoint (or of released weights) for
image files, and the pieces the other applications' ``predict`` share."""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import torch
from PIL import Image
from torch import nn

from ..data.classification import build_transforms
from ..data.images import read_image
from ..data.preprocess import transform_from_config
from .evaluation import load


@torch.no_grad()
def predict(
    path: str | os.PathLike[str], images: Sequence[str | os.PathLike[str]], *, top_k: int = 5, ema: bool = False
) -> list[dict[str, Any]]:
    """The ``top_k`` classes and probabilities of a checkpoint for each image file."""
    model, checkpoint = load(path, ema=ema)
    about = checkpoint["task"]
    transform = build_transforms(
        checkpoint["model_config"]["resolution"], False, in_channels=about["in_channels"],
        mean=about["mean"], std=about["std"], crop_pct=about.get("crop_pct", 0.875),
    )
    return predict_images(model, transform, about["classes"], images, top_k=top_k)


def predict_pretrained(model: nn.Module, images: Sequence[str | os.PathLike[str]], *, top_k: int = 5) -> list[dict[str, Any]]:
    """The ``top_k`` ImageNet classes of released weights (``model``) for each image file,
    prepared as the weights expect."""
    classes = imagenet_classes(model.num_classes, model.pretrained_cfg.get("label_offset", 0))
    return predict_images(model, transform_from_config(model.pretrained_cfg), classes, images, top_k=top_k)


@torch.no_grad()
def predict_images(
    model: nn.Module, transform: Callable[[Image.Image], torch.Tensor], classes: Sequence[str],
    images: Sequence[str | os.PathLike[str]], *, top_k: int = 5,
) -> list[dict[str, Any]]:
    """The ``top_k`` classes and probabilities of ``model`` for each image file, the images
    prepared by ``transform`` (which also decides grey or colour)."""
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1; got {top_k}")
    batch = torch.stack([transform(read_image(image)) for image in images])
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
