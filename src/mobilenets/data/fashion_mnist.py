"""The built-in dataset: real Fashion-MNIST (60k train / 10k test, 28x28 grey, 10 classes).

Read from Debian's ``dataset-fashion-mnist`` package when installed (no network needed),
otherwise fetched by torchvision's downloader into the cache directory.
"""
from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import Callable

from torchvision.datasets import FashionMNIST

from ..files import atomic_output, cache_dir

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES: tuple[str, ...] = tuple(FashionMNIST.classes)
_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _unpack_debian_copy(raw: Path) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    for name in _FILES:
        target = raw / name
        if target.exists():
            continue
        with gzip.open(DEBIAN_DIR / f"{name}.gz") as source, atomic_output(target) as temporary:
            with open(temporary, "wb") as out:
                shutil.copyfileobj(source, out)


def fashion_mnist(
    train: bool = True,
    root: str | os.PathLike[str] | None = None,
    transform: Callable | None = None,
    download: bool = True,
) -> FashionMNIST:
    """The torchvision FashionMNIST dataset (PIL images, integer labels), from Debian's copy
    when present."""
    root = Path(root) if root is not None else cache_dir() / "datasets"
    if DEBIAN_DIR.is_dir():
        _unpack_debian_copy(root / "FashionMNIST" / "raw")
    return FashionMNIST(str(root), train=train, transform=transform, download=download)
