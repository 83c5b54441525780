"""Multi-label attribute data: a CSV manifest per split (``path,ATTR1,ATTR2,...`` with 0/1
values, a header naming the attributes) or the Fashion-MNIST stand-in (``standin.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from ..data.classification import LUMA
from ..data.csvfiles import csv_rows
from ..data.folders import ImageFiles, keep_readable
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD, build_transforms
from ..train.config import TrainConfig
from ..train.data import default_in_channels, load_data
from .standin import FASHION_ATTRIBUTES, ClassAttributes, attribute_table

DATA_HELP = (
    "'fashion-mnist' (the stand-in), a folder with train.csv and val.csv, or "
    "'TRAIN.csv,VAL.csv' (rows path,ATTR1,ATTR2,... of 0/1)"
)


@dataclass
class AttributeData:
    """Datasets yielding (image tensor, float 0/1 attribute vector), the attribute names and
    the normalization (kept in checkpoints). ``class_table`` (classes x attributes) is set for
    the stand-in: it turns a Fashion-MNIST classifier into an attribute teacher."""

    train: Dataset
    val: Dataset
    names: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    in_channels: int
    crop_pct: float
    skipped: list[str]
    class_table: torch.Tensor | None = None


def read_attribute_manifest(path: Path) -> tuple[list[str], list[tuple[str, torch.Tensor]]]:
    """The attribute names (the header after ``path``) and (image path, 0/1 vector) rows;
    paths are relative to the CSV's folder."""
    rows = list(csv_rows(path))
    if not rows or rows[0][1][0].strip().lower() != "path" or len(rows[0][1]) < 2:
        raise ValueError(f"{path}: the first row must be the header path,ATTR1,ATTR2,...")
    names = [name.strip() for name in rows[0][1][1:]]
    samples = []
    for line, row in rows[1:]:
        values = [cell.strip() for cell in row[1:]]
        if (
            len(values) != len(names)
            or any(value not in ("0", "1") for value in values)
            or not row[0].strip()
        ):
            raise ValueError(
                f"{path}:{line}: expected a path and {len(names)} values of 0 or 1, got {','.join(row)!r}"
            )
        samples.append(
            (str(path.parent / row[0].strip()), torch.tensor([float(v) for v in values]))
        )
    return names, samples


def _manifests(data: str) -> tuple[Path, Path]:
    if "," in data:
        train, val = (Path(part.strip()) for part in data.split(",", 1))
    else:
        train, val = Path(data) / "train.csv", Path(data) / "val.csv"
    for path in (train, val):
        if not path.is_file():
            raise ValueError(f"attribute manifest {path} does not exist; --data takes {DATA_HELP}")
    return train, val


def load_attribute_data(config: TrainConfig, *, augment: bool | None = None) -> AttributeData:
    """The config's attribute datasets at its resolution (``augment=False``: the evaluation
    transform for the training images too, as teacher outputs need)."""
    if config.data == "fashion-mnist":
        bundle = load_data(config, augment=augment)
        table, names = attribute_table(), list(FASHION_ATTRIBUTES)
        return AttributeData(
            ClassAttributes(bundle.train, table, names),
            ClassAttributes(bundle.val, table, names),
            names,
            bundle.mean,
            bundle.std,
            bundle.in_channels,
            bundle.crop_pct,
            [],
            table,
        )
    train_csv, val_csv = _manifests(config.data)
    names, train_rows = read_attribute_manifest(train_csv)
    val_names, val_rows = read_attribute_manifest(val_csv)
    if val_names != names:
        raise ValueError(f"{val_csv} names attributes {val_names}; {train_csv} names {names}")
    in_channels = config.in_channels or default_in_channels(config.data)
    mean, std = _normalization(in_channels)
    common = dict(in_channels=in_channels, mean=mean, std=std, min_crop_area=config.min_crop_area)
    train_samples, skipped_train = keep_readable(train_rows, config.limit_train, config.strict)
    val_samples, skipped_val = keep_readable(val_rows, config.limit_val, config.strict)
    for split, samples in (("train", train_samples), ("val", val_samples)):
        if not samples:
            raise ValueError(f"{config.data}: no readable {split} images")
    train_augment = config.augment if augment is None else augment
    return AttributeData(
        ImageFiles(
            train_samples, names, build_transforms(config.resolution, train_augment, **common)
        ),
        ImageFiles(val_samples, names, build_transforms(config.resolution, False, **common)),
        names,
        mean,
        std,
        in_channels,
        0.875,
        skipped_train + skipped_val,
    )


def _normalization(in_channels: int) -> tuple[Sequence[float], Sequence[float]]:
    """ImageNet's statistics (luma-weighted for grey input, as classification data does)."""
    if in_channels == 3:
        return IMAGENET_MEAN, IMAGENET_STD
    return (sum(w * m for w, m in zip(LUMA, IMAGENET_MEAN)),), (
        sum(w * s for w, s in zip(LUMA, IMAGENET_STD)),
    )
