"""Classification data in one call: Fashion-MNIST, an image-folder tree or CSV manifests,
with the transforms for a resolution and the dataset's normalization."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset, Subset

from .fashion_mnist import FASHION_MNIST_CLASSES, fashion_mnist
from .folders import ImageFiles, Sample, folder_samples, keep_readable, manifest_samples
from .images import late_failure_count
from .tensor_images import BatchTransform, TensorImages
from .transforms import IMAGENET_MEAN, IMAGENET_STD, build_transforms

__all__ = [
    "DataBundle",
    "build_datasets",
    "build_transforms",
    "evaluation_samples",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
]

# Pixel mean and standard deviation of the 60,000 Fashion-MNIST training images (in [0, 1]),
# computed once from the real set; tests/test_data.py recomputes them.
FASHION_MNIST_MEAN = (0.2860,)
FASHION_MNIST_STD = (0.3530,)
LUMA = (0.299, 0.587, 0.114)
DATA_HELP = (
    "'fashion-mnist', a folder with train/CLASS/* and val/CLASS/*, a folder with "
    "train.csv and val.csv, or 'TRAIN.csv,VAL.csv'"
)


@dataclass
class DataBundle:
    """What the training loop needs from the data: the two datasets (yielding (tensor, label)),
    the classes and the normalization (for the checkpoint, so predict can rebuild the transform)."""

    train: Dataset
    val: Dataset
    num_classes: int
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    in_channels: int
    skipped: list[str]
    crop_pct: float = 0.875
    # The training images' evaluation transform (no crop or flip), of the kind `train` takes.
    plain_train_transform: Any = None

    def about(self) -> dict[str, Any]:
        """What a checkpoint records of its data so that predict and evaluation rebuild the
        evaluation transform and name the classes (``evaluation_transform``)."""
        return {
            "classes": list(self.classes),
            "mean": list(self.mean),
            "std": list(self.std),
            "in_channels": self.in_channels,
            "crop_pct": self.crop_pct,
        }

    @property
    def skipped_files(self) -> int:
        """How many unreadable image files were left out (summary.json's ``skipped_files``): at
        the scan, and since then (files that went bad while the data was in use)."""
        return len(self.skipped) + late_failure_count(self.train, self.val)


def build_datasets(
    data: str,
    resolution: int,
    *,
    in_channels: int = 3,
    limit_train: int | None = None,
    limit_val: int | None = None,
    min_crop_area: float = 0.25,
    strict: bool = False,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    crop_pct: float | None = None,
) -> DataBundle:
    """The train and val datasets of ``data`` (see ``DATA_HELP``) at ``resolution``.

    ``limit_*`` keeps the first N images (for folder trees, the first N of an order that
    alternates classes). Unreadable, truncated or empty image files are skipped with a warning
    and counted in ``skipped``, or with ``strict`` raise ValueError naming the file.
    Normalization defaults to Fashion-MNIST's own statistics for it and ImageNet's otherwise.
    Fashion-MNIST's garments fill the 28x28 frame, so its evaluation crop defaults to the whole
    image (``crop_pct`` 1.0); other data use 0.875.
    """
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
    for name, limit in (("limit_train", limit_train), ("limit_val", limit_val)):
        if limit is not None and limit < 1:
            raise ValueError(f"{name} must be >= 1, got {limit}")
    builtin = data == "fashion-mnist"
    mean = tuple(mean if mean is not None else FASHION_MNIST_MEAN if builtin else IMAGENET_MEAN)
    std = tuple(std if std is not None else FASHION_MNIST_STD if builtin else IMAGENET_STD)
    if len(mean) == 1:
        mean, std = mean * in_channels, std * in_channels
    elif in_channels == 1 and (mean, std) == (IMAGENET_MEAN, IMAGENET_STD):
        # Colour images read as grey (PIL's ITU-R 601 luma): weight the colour statistics alike
        # (exact for the mean, an approximation for the standard deviation).
        mean, std = (
            (sum(w * m for w, m in zip(LUMA, mean)),),
            (sum(w * s for w, s in zip(LUMA, std)),),
        )
    crop_pct = crop_pct if crop_pct is not None else 1.0 if builtin else 0.875
    common = dict(
        in_channels=in_channels, mean=mean, std=std, min_crop_area=min_crop_area, crop_pct=crop_pct
    )
    val_transform = build_transforms(resolution, False, **common)
    if builtin:
        # The training images are in memory as one uint8 tensor: augmented a batch at a time.
        # Validation keeps the PIL transform that `eval` and `predict` apply to image files.
        source = fashion_mnist(train=True)
        train = TensorImages(
            source.data, source.targets, BatchTransform(resolution, True, **common)
        )
        val = fashion_mnist(train=False, transform=val_transform)
        bundle_args = dict(
            train=_first(train, limit_train),
            val=_first(val, limit_val),
            classes=list(FASHION_MNIST_CLASSES),
            skipped=[],
            plain_train_transform=BatchTransform(resolution, False, **common),
        )
    else:
        train_candidates, val_candidates, classes = _file_samples(data)
        check_classes(data, train_candidates, classes)
        train_samples, skipped_train = keep_readable(train_candidates, limit_train, strict)
        val_samples, skipped_val = keep_readable(val_candidates, limit_val, strict)
        for split, samples, skipped in (
            ("train", train_samples, skipped_train),
            ("val", val_samples, skipped_val),
        ):
            if not samples:
                raise ValueError(
                    f"{data}: no readable {split} images ({len(skipped)} unreadable files skipped)"
                )
        if limit_train is None:  # with a limit, the first N images may leave classes out on purpose
            check_classes(data, train_samples, classes, "readable training images")
        bundle_args = dict(
            train=ImageFiles(train_samples, classes, build_transforms(resolution, True, **common)),
            val=ImageFiles(val_samples, classes, val_transform),
            classes=classes,
            skipped=skipped_train + skipped_val,
            plain_train_transform=val_transform,
        )
    return DataBundle(
        num_classes=len(bundle_args["classes"]),
        mean=mean,
        std=std,
        in_channels=in_channels,
        crop_pct=crop_pct,
        **bundle_args,
    )


def evaluation_samples(
    data: str, *, limit: int | None = None, strict: bool = False
) -> tuple[list[Sample], list[str], list[str]]:
    """(readable validation samples, classes, skipped paths) of ``data``: a folder tree or CSV
    manifests as ``build_datasets`` takes, or a folder of class folders alone (such as ImageNet's
    ``val/``, one folder per synset). Training images are never opened (and, in folders, not listed)."""
    root = Path(data)
    if "," not in data and root.is_dir() and not (root / "train.csv").is_file():
        candidates, classes = folder_samples(root / "val" if (root / "val").is_dir() else root)
    else:
        _, candidates, classes = _file_samples(data)
    samples, skipped = keep_readable(candidates, limit, strict)
    if not samples:
        raise ValueError(
            f"{data}: no readable validation images ({len(skipped)} unreadable files skipped)"
        )
    return samples, classes, skipped


def check_classes(
    data: str, samples: Sequence[Sample], classes: Sequence[str], what: str = "training images"
) -> None:
    """Refuses training data with fewer than two classes or a class without training images:
    either trains a classifier that cannot be right (one class) or one with an output that is
    never taught (usually a misspelt or empty folder)."""
    if len(classes) < 2:
        raise ValueError(
            f"{data}: classification needs at least 2 classes; the training data has "
            f"{len(classes)} ({', '.join(classes)})"
        )
    present = {target for _, target in samples}
    empty = [name for index, name in enumerate(classes) if index not in present]
    if empty:
        raise ValueError(
            f"{data}: class {empty[0]!r} has no {what}"
            + (f" (nor do {len(empty) - 1} more)" if len(empty) > 1 else "")
        )


def _first(dataset: Dataset, limit: int | None) -> Dataset:
    return dataset if limit is None or limit >= len(dataset) else Subset(dataset, range(limit))


def _file_samples(data: str) -> tuple[list[Sample], list[Sample], list[str]]:
    """(train candidates, val candidates, classes) of a folder tree or two CSV manifests."""
    if "," in data:
        train_csv, val_csv = (Path(part.strip()) for part in data.split(",", 1))
        for path in (train_csv, val_csv):
            if not path.is_file():
                raise ValueError(f"CSV manifest {path} does not exist; --data takes {DATA_HELP}")
        return manifest_samples(train_csv, val_csv)
    root = Path(data)
    if (root / "train").is_dir() and (root / "val").is_dir():
        train, classes = folder_samples(root / "train")
        val, val_classes = folder_samples(root / "val")
        if val_classes != classes:
            raise ValueError(
                f"{root}/val has classes {val_classes} but {root}/train has {classes}; they must be the same"
            )
        return train, val, classes
    if (root / "train.csv").is_file() and (root / "val.csv").is_file():
        return manifest_samples(root / "train.csv", root / "val.csv")
    what = (
        "has neither train/ and val/ folders nor train.csv and val.csv"
        if root.is_dir()
        else "is not a folder"
    )
    raise ValueError(f"unknown data {data!r}: it {what}; --data takes {DATA_HELP}")
