"""Image-file datasets: an image-folder tree or CSV manifests, with unreadable files filtered out
when scanned (so DataLoader workers rarely meet them and the count is exact); a file that goes
bad after the scan is skipped and counted by ``LateFailures``."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from torch.utils.data import Dataset
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes

from ..ranges import Range
from .csvfiles import csv_rows
from .images import LateFailures, read_image, unreadable_reason

log = logging.getLogger(__name__)
Sample = tuple[str, int]
# Integer labels are class indices below this; a larger one is a typo, not a class count to allocate.
MAX_CLASSES = 100_000
LATITUDE, LONGITUDE = Range(-90, 90), Range(-180, 180)  # degrees


class ImageFiles(Dataset):
    """A list of (image path, class index) samples, read by ``read_image`` and transformed; a
    file that went bad after the scan is skipped and counted (``late_failures``)."""

    def __init__(
        self, samples: Sequence[Sample], classes: Sequence[str], transform: Callable | None = None
    ) -> None:
        self.samples = list(samples)
        self.targets = [target for _, target in self.samples]
        self.classes = list(classes)
        self.transform = transform
        self.late_failures = LateFailures(len(self.samples))

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        return self.late_failures.get(index, self._read)

    def _read(self, index: int):
        path, target = self.samples[index]
        image = read_image(path)
        return (self.transform(image) if self.transform is not None else image), target


def keep_readable(
    candidates: Iterable[Sample], limit: int | None, strict: bool, *, chunk: int = 256
) -> tuple[list[Sample], list[str]]:
    """The first ``limit`` readable samples of ``candidates`` and the unreadable paths met on the
    way (each logged as a warning); ``strict`` raises ValueError at the first unreadable file."""
    kept: list[Sample] = []
    skipped: list[str] = []
    iterator = iter(candidates)
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        while limit is None or len(kept) < limit:
            batch = list(
                itertools.islice(
                    iterator, chunk if limit is None else min(chunk, limit - len(kept))
                )
            )
            if not batch:
                break
            for sample, reason in zip(
                batch, pool.map(unreadable_reason, [path for path, _ in batch])
            ):
                if reason is None:
                    kept.append(sample)
                elif strict:
                    raise ValueError(
                        f"unreadable image: {reason} (drop --strict to skip such files)"
                    )
                else:
                    log.warning("skipping unreadable image: %s", reason)
                    skipped.append(sample[0])
    return kept, skipped


def folder_samples(root: Path) -> tuple[list[Sample], list[str]]:
    """Samples of an ImageFolder-style tree ROOT/CLASS/* (classes sorted, image extensions only),
    interleaved across classes so that the first N samples cover the classes evenly."""
    classes, class_to_idx = find_classes(str(root))
    per_class = []
    for name in classes:
        files = sorted(
            str(path)
            for path in (root / name).rglob("*")
            if path.is_file() and path.name.lower().endswith(IMG_EXTENSIONS)
        )
        per_class.append([(path, class_to_idx[name]) for path in files])
    interleaved = [
        sample
        for group in itertools.zip_longest(*per_class)
        for sample in group
        if sample is not None
    ]
    return interleaved, classes


def read_manifest(
    path: Path,
    columns: Sequence[str] = ("path", "label"),
    check: Callable[[Sequence[str]], None] | None = None,
) -> list[tuple[str, ...]]:
    """(image path, *other columns) rows of a CSV with ``columns`` (the first is the image path,
    relative to the CSV's folder); a first row naming the columns is a header. ``check`` gets
    each row's cells and raises ValueError for a bad one, reported with the file and line."""
    rows = []
    for line, row in csv_rows(path):
        cells = [cell.strip() for cell in row]
        if not rows and [cell.lower() for cell in cells] == list(columns):
            continue
        if len(row) != len(columns) or not all(cells):
            raise ValueError(
                f"{path}:{line}: expected '{','.join(columns)}', got {','.join(row)!r}"
            )
        try:
            if check is not None:
                check(cells)
        except ValueError as error:
            raise ValueError(f"{path}:{line}: {error}") from None
        rows.append((str(path.parent / cells[0]), *cells[1:]))
    return rows


def _check_label(cells: Sequence[str]) -> None:
    label = cells[1]
    if label.lstrip("+-").isdecimal() and not 0 <= int(label) < MAX_CLASSES:
        raise ValueError(f"a class index must be in [0, {MAX_CLASSES}); got {label}")


def check_latlng_row(cells: Sequence[str]) -> None:
    """A geotagged manifest's ``path,lat,lng`` row: degrees on the globe."""
    LATITUDE.parse("lat", cells[1])
    LONGITUDE.parse("lng", cells[2])


def manifest_samples(
    train_csv: Path, val_csv: Path
) -> tuple[list[Sample], list[Sample], list[str]]:
    """Train and val samples of two CSV manifests and the class names. Labels that are all
    non-negative integers are class indices (classes "0".."max"); otherwise they are class names,
    sorted, taken from the training manifest."""
    train_rows, val_rows = (
        read_manifest(train_csv, check=_check_label),
        read_manifest(val_csv, check=_check_label),
    )
    labels = [label for _, label in train_rows + val_rows]
    if all(label.isdecimal() for label in labels):
        classes = [str(index) for index in range(max(map(int, labels), default=-1) + 1)]
        index = {name: int(name) for name in set(labels)}
    else:
        classes = sorted({label for _, label in train_rows})
        index = {name: i for i, name in enumerate(classes)}
        unknown = sorted({label for _, label in val_rows} - set(classes))
        if unknown:
            raise ValueError(f"{val_csv}: labels not in {train_csv}: {', '.join(unknown[:5])}")
    return (
        [(p, index[label]) for p, label in train_rows],
        [(p, index[label]) for p, label in val_rows],
        classes,
    )
