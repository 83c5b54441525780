"""Real inputs for verifying exports and calibrating int8: Fashion-MNIST or a folder of images,
resized and normalized as the model expects; random inputs when no data is given."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torchvision.datasets.folder import IMG_EXTENSIONS

from ..data import fashion_mnist
from ..data.classification import evaluation_samples
from ..data.folders import ImageFiles, keep_readable
from ..data.images import read_image
from ..data.transforms import build_transforms

FASHION_MNIST = "fashion-mnist"


def input_transform(model: nn.Module) -> Callable[[Image.Image], torch.Tensor]:
    """PIL image -> the tensor ``model`` takes: the evaluation transform of training (resize,
    center crop) with the model's channels, resolution, mean, std and crop (``pretrained_cfg``),
    so grey Fashion-MNIST feeds an RGB model and the reverse."""
    config = model.pretrained_cfg
    channels, height, _ = config["input_size"]
    return build_transforms(
        height,
        False,
        in_channels=channels,
        mean=config["mean"],
        std=config["std"],
        crop_pct=config["crop_pct"],
    )


def _folder_images(folder: Path) -> list[Path]:
    files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMG_EXTENSIONS)
    if not files:
        raise ValueError(f"{folder} holds no images ({', '.join(IMG_EXTENSIONS)})")
    return files


def real_inputs(
    model: nn.Module, source: str | os.PathLike[str], count: int, *, train: bool = True
) -> torch.Tensor:
    """``count`` images of ``source`` ("fashion-mnist" or a folder of images) as a batch the
    model takes. Fashion-MNIST gives the first ``count`` of the train split (calibration) or the
    test split (verification)."""
    if count < 1:
        raise ValueError(f"the number of images must be at least 1; got {count}")
    transform = input_transform(model)
    if str(source) == FASHION_MNIST:
        dataset = fashion_mnist(train=train)
        images = [dataset[index][0] for index in range(min(count, len(dataset)))]
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise ValueError(
                f"data must be {FASHION_MNIST!r} or a folder of images; {folder} is neither"
            )
        # Unreadable files are skipped (each with a warning) and the next images taken instead.
        readable, skipped = keep_readable(
            ((str(path), 0) for path in _folder_images(folder)), count, strict=False
        )
        if not readable:
            raise ValueError(
                f"{folder} holds no readable images ({len(skipped)} unreadable files skipped)"
            )
        images = [read_image(path) for path, _ in readable]
    return torch.stack([transform(image) for image in images])


def labeled_inputs(
    model: nn.Module, source: str | os.PathLike[str], count: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``count`` held-out images with their labels, as a batch the model takes:
    Fashion-MNIST's test split, or the validation images of a data folder or manifests as
    ``mobilenets eval`` reads them."""
    if count < 1:
        raise ValueError(f"the number of images must be at least 1; got {count}")
    transform = input_transform(model)
    if str(source) == FASHION_MNIST:
        dataset = fashion_mnist(train=False)
        samples = [dataset[index] for index in range(min(count, len(dataset)))]
        return torch.stack([transform(image) for image, _ in samples]), torch.tensor(
            [label for _, label in samples]
        )
    samples, classes, _ = evaluation_samples(str(source), limit=count)
    files = ImageFiles(samples, classes, transform)
    return torch.stack([files[index][0] for index in range(len(files))]), torch.tensor(
        files.targets
    )


def random_inputs(model: nn.Module, count: int, *, seed: int = 0) -> torch.Tensor:
    """Standard-normal inputs of the model's shape: what timing and calibration fall back to
    when there is no data (ranges then only roughly match real images)."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, *model.pretrained_cfg["input_size"], generator=generator)
