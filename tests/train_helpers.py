"""What the training tests share: a tiny real-data config, weight comparison, image files."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import torch

import mobilenets
from mobilenets.data import fashion_mnist
from mobilenets.train.checkpoint import ema_weights, load_checkpoint
from mobilenets.train.config import TrainConfig

SRC = str(Path(mobilenets.__file__).resolve().parents[1])


def tiny_config(out: Path, **changes) -> TrainConfig:
    """A 0.25 MobileNet at 32 px on a few hundred real Fashion-MNIST images: seconds per epoch."""
    values = dict(
        out=str(out),
        alpha=0.25,
        resolution=32,
        batch_size=32,
        limit_train=128,
        limit_val=32,
        epochs=1,
        seed=0,
        optimizer="adamw",
        lr=2e-3,
        weight_decay=1e-4,
    )
    return TrainConfig(**{**values, **changes})


def weights(path: Path, key: str = "model") -> dict[str, torch.Tensor]:
    checkpoint = load_checkpoint(path)
    return ema_weights(checkpoint["ema"]) if key == "ema" else checkpoint[key]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), f"{name} differs"


def subprocess_env() -> dict[str, str]:
    """The test's own source tree and thread count, so a child computes exactly as we do."""
    return {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": str(torch.get_num_threads())}


def write_fashion_csv(
    root: Path, count: int, *, offset: int = 0, name: str = "train", relabel=lambda label: label
) -> list[int]:
    """``count`` real Fashion-MNIST training images as PNG files with a ``path,label`` manifest
    ``root/NAME.csv``; ``relabel`` maps the true label to the one written. Returns true labels."""
    images = root / f"{name}_images"  # not root/train: that would read as a class-folder tree
    images.mkdir(parents=True, exist_ok=True)
    dataset = fashion_mnist(train=True)
    labels = []
    with open(root / f"{name}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        for index in range(offset, offset + count):
            image, label = dataset[index]
            image.save(images / f"{index}.png")
            writer.writerow([f"{name}_images/{index}.png", relabel(label)])
            labels.append(label)
    return labels
