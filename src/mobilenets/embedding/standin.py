"""The stand-in for face attributes: real Fashion-MNIST with eight binary attributes that
follow from the garment class (no face data can be had here). Several attributes hold for most
images, and some separate classes that look alike (shirt, T-shirt, pullover), so the task is a
real multi-label one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

# Fashion-MNIST classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal,
# 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.
FASHION_ATTRIBUTES: dict[str, tuple[int, ...]] = {
    "footwear": (5, 7, 9),
    "upper_body": (0, 2, 4, 6),
    "long_sleeves": (2, 4, 6),
    "covers_legs": (1, 3),
    "covers_ankles": (1, 9),
    "winter_wear": (2, 4, 9),
    "open_toe": (5,),
    "bag": (8,),
}


def attribute_table(
    attributes: dict[str, tuple[int, ...]] = FASHION_ATTRIBUTES, num_classes: int = 10
) -> torch.Tensor:
    """A (classes x attributes) 0/1 float table: row c holds the attributes of class c."""
    table = torch.zeros(num_classes, len(attributes))
    for column, classes in enumerate(attributes.values()):
        table[list(classes), column] = 1.0
    return table


class ClassAttributes(Dataset):
    """Items of a classification dataset as (image, attribute vector) by a class table."""

    def __init__(self, dataset: Dataset, table: torch.Tensor, names: Sequence[str]) -> None:
        self.dataset, self.table, self.names = dataset, table, list(names)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, torch.Tensor]:
        image, label = self.dataset[index]
        return image, self.table[label]
