"""Dataset wrappers the tasks share: an in-memory cache of transformed items, and items that
carry their index (to look up precomputed teacher outputs)."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset


class Cached(Dataset):
    """Keeps each transformed item after its first load: with a deterministic transform (no
    augmentation) every later epoch skips the image decoding and resizing."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.items: list[Any] = [None] * len(dataset)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Any:
        if self.items[index] is None:
            self.items[index] = self.dataset[index]
        return self.items[index]


class Indexed(Dataset):
    """Items as (image, label, index): precomputed teacher outputs are looked up by index."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, Any, int]:
        image, label = self.dataset[index]
        return image, label, index
