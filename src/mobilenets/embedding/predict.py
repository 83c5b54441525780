"""``predict``: the unit-norm embeddings of image files by a trained embedding student."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from PIL import Image
from torch import nn

from ..data.images import read_image
from ..data.transforms import evaluation_transform
from .evaluation import load


@torch.no_grad()
def predict(
    path: str | os.PathLike[str], images: Sequence[str | os.PathLike[str]], *, ema: bool = False
) -> list[dict[str, Any]]:
    """The unit-norm embedding of each image file."""
    model, transform = embedder(path, ema=ema)
    vectors = model(torch.stack([transform(read_image(image)) for image in images]))
    return [
        {"image": str(image), "embedding": vector.tolist()}
        for image, vector in zip(images, vectors)
    ]


def embedder(
    path: str | os.PathLike[str], *, ema: bool = False
) -> tuple[nn.Module, Callable[[Image.Image], torch.Tensor]]:
    """An embedding checkpoint's network and its evaluation transform, loaded once."""
    model, checkpoint = load(path, "embedding", ema=ema)
    transform = evaluation_transform(checkpoint["model_config"]["resolution"], checkpoint["task"])
    return model, transform
