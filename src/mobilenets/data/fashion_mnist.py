"""The built-in dataset: real Fashion-MNIST (60k train / 10k test, 28x28 grey, 10 classes).

Read from Debian's ``dataset-fashion-mnist`` package when installed (no network needed),
otherwise downloaded from torchvision's mirrors into the cache directory.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from torchvision.datasets import FashionMNIST
from torchvision.datasets.utils import check_md5

from ..download import download as download_file
from ..files import atomic_output, cache_dir

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES: tuple[str, ...] = tuple(FashionMNIST.classes)
_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _unpack(packed: Path, raw: Path) -> None:
    """Gunzips the four ``NAME.gz`` files of ``packed`` into ``raw`` (each file atomically)."""
    raw.mkdir(parents=True, exist_ok=True)
    for name in _FILES:
        target = raw / name
        if target.exists():
            continue
        with (
            gzip.open(packed / f"{name}.gz") as source,
            atomic_output(target) as temporary,
            open(temporary, "wb") as out,
        ):
            shutil.copyfileobj(source, out)


def _download(raw: Path) -> None:
    """The four files from torchvision's mirrors through ``download`` (timeouts, size limit,
    nothing left behind), each checked against torchvision's md5 before it is kept."""
    raw.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=raw) as staging:
        for name, md5 in FashionMNIST.resources:

            def matches(path: Path, md5: str = md5) -> None:
                if not check_md5(str(path), md5):
                    raise ValueError(f"{path.name} does not have Fashion-MNIST's md5 {md5}")

            errors = []
            for mirror in FashionMNIST.mirrors:
                try:
                    download_file(f"{mirror}{name}", Path(staging) / name, check=matches)
                    break
                except ValueError as error:
                    errors.append(str(error))
            else:
                raise ValueError(f"could not download Fashion-MNIST: {'; '.join(errors)}")
        _unpack(Path(staging), raw)


def fashion_mnist(
    train: bool = True,
    root: str | os.PathLike[str] | None = None,
    transform: Callable | None = None,
    download: bool = True,
) -> FashionMNIST:
    """The torchvision FashionMNIST dataset (PIL images, integer labels), from Debian's copy
    when present, else downloaded (when ``download``) into the cache."""
    root = Path(root) if root is not None else cache_dir() / "datasets"
    raw = root / "FashionMNIST" / "raw"
    if not all((raw / name).is_file() for name in _FILES):
        if DEBIAN_DIR.is_dir():
            _unpack(DEBIAN_DIR, raw)
        elif download:
            _download(raw)
        else:
            raise FileNotFoundError(f"Fashion-MNIST is not in {raw} and download is off")
    return FashionMNIST(str(root), train=train, transform=transform, download=False)
