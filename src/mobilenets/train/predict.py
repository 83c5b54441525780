"""Predictions of a model for image files: the piece every task's ``predict`` shares."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from PIL import Image
from torch import nn

from ..data.images import read_image


@torch.no_grad()
def predict_images(
    model: nn.Module,
    transform: Callable[[Image.Image], torch.Tensor],
    classes: Sequence[str],
    images: Sequence[str | os.PathLike[str]],
    *,
    top_k: int = 5,
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
            "top": [
                {"class": classes[i], "index": i, "probability": p}
                for p, i in zip(values.tolist(), indices.tolist())
            ],
        }
        for image, values, indices in zip(images, best.values, best.indices)
    ]
