"""``predict``: the top classes of a classification checkpoint (or of released weights) for
image files."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from PIL import Image
from torch import nn

from ..data.preprocess import transform_from_config
from ..data.transforms import evaluation_transform
from ..train.predict import predict_images
from .evaluation import load


@torch.no_grad()
def predict(
    path: str | os.PathLike[str],
    images: Sequence[str | os.PathLike[str]],
    *,
    top_k: int = 5,
    ema: bool = False,
) -> list[dict[str, Any]]:
    """The ``top_k`` classes and probabilities of a checkpoint for each image file."""
    return predict_images(*classifier(path, ema=ema), images, top_k=top_k)


def classifier(
    path: str | os.PathLike[str], *, ema: bool = False
) -> tuple[nn.Module, Callable[[Image.Image], torch.Tensor], list[str]]:
    """A checkpoint's network, its evaluation transform and its class names: what
    ``predict_images`` needs, loaded once (``predict`` and the web page share it)."""
    model, checkpoint = load(path, ema=ema)
    about = checkpoint["task"]
    transform = evaluation_transform(checkpoint["model_config"]["resolution"], about)
    return model, transform, about["classes"]


def predict_pretrained(
    model: nn.Module, images: Sequence[str | os.PathLike[str]], *, top_k: int = 5
) -> list[dict[str, Any]]:
    """The ``top_k`` ImageNet classes of released weights (``model``) for each image file,
    prepared as the weights expect."""
    return predict_images(*pretrained_classifier(model), images, top_k=top_k)


def pretrained_classifier(
    model: nn.Module,
) -> tuple[nn.Module, Callable[[Image.Image], torch.Tensor], list[str]]:
    """Released weights (``model``) with the transform they expect and ImageNet's class names."""
    classes = imagenet_classes(model.num_classes, model.pretrained_cfg.get("label_offset", 0))
    return model, transform_from_config(model.pretrained_cfg), classes


def imagenet_classes(num_classes: int, label_offset: int = 0) -> list[str]:
    """Names for a released model's outputs: ImageNet's 1000 classes (torchvision's list),
    after a "background" output when ``label_offset`` is 1 (TF-slim's 1001 classes)."""
    from torchvision.models import MobileNet_V2_Weights

    names = ["background"] * label_offset + list(
        MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    )
    return (
        names if len(names) == num_classes else [f"class {index}" for index in range(num_classes)]
    )
