"""The data a training config describes, as every image task opens it: the datasets with the
transforms (augmented or not), normalization for pretrained starts, grey or colour input."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from torch.utils.data import Dataset, Subset

from ..data.classification import DataBundle, build_datasets
from .config import TrainConfig
from .transfer import PRETRAINED_MEAN, PRETRAINED_STD


def default_in_channels(data: str) -> int:
    """Fashion-MNIST trains on its one grey channel; image files as RGB."""
    return 1 if data == "fashion-mnist" else 3


def load_data(
    config: TrainConfig,
    *,
    augment: bool | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> DataBundle:
    """The config's datasets; ``augment=False`` gives the training images the evaluation
    transform (for teacher outputs, and for runs that compare exactly across processes).
    ``mean``/``std`` override the data's own normalization (a checkpoint's, for evaluation)."""
    if config.pretrained and mean is None:
        mean, std = PRETRAINED_MEAN, PRETRAINED_STD
    bundle = build_datasets(
        config.data,
        config.resolution,
        in_channels=config.in_channels
        or (3 if config.pretrained else default_in_channels(config.data)),
        limit_train=config.limit_train,
        limit_val=config.limit_val,
        min_crop_area=config.min_crop_area,
        strict=config.strict,
        mean=mean,
        std=std,
    )
    if not (config.augment if augment is None else augment):
        bundle.train = unaugmented_train(bundle)
    return bundle


def unaugmented_train(bundle: DataBundle) -> Dataset:
    """The bundle's training images with the evaluation transform (no crop or flip), without
    reading the data again."""
    return with_transform(bundle.train, bundle.plain_train_transform)


def with_transform(dataset: Dataset, transform: Any) -> Dataset:
    """A shallow copy of ``dataset`` (or of the dataset under a Subset) using ``transform``."""
    if isinstance(dataset, Subset):
        return Subset(with_transform(dataset.dataset, transform), dataset.indices)
    dataset = copy.copy(dataset)
    dataset.transform = transform
    return dataset
