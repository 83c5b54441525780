"""PlaNet's adaptive partition of the Earth into S2 cells (Weyand et al., 2016), on ``s2sphere``.

Starting from the six S2 cube faces, a cell is split into its four children while it holds more
than ``max_photos`` (PlaNet's t1) photos; cells left with fewer than ``min_photos`` (t2) are
dropped, so sparse areas (oceans, poles) get no class. The kept cells, in S2 id order (which is
the Hilbert-curve order: neighbouring classes are mostly neighbouring places), are the classes.

A cell predicts a location: by default the mean of its training photos (``"mean"``, on the
sphere), which lies where the photos are; PlaNet used the cell's geometric centre
(``"center"``), which is farther from them whenever a cell is half sea or half empty.
"""

from __future__ import annotations

import bisect
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..extras import require
from ..files import atomic_write_text

if TYPE_CHECKING:
    import s2sphere

LOCATIONS = ("mean", "center")
MAX_LEVEL = 30  # S2's leaf level (about 1 cm)


@dataclass
class CellPartition:
    """The kept cells: S2 tokens, training-photo counts, geometric centres and photo means
    (degrees, ``(K, 2)`` as lat, lng), and the thresholds that made them."""

    tokens: list[str]
    counts: list[int]
    centers: np.ndarray
    means: np.ndarray
    max_photos: int
    min_photos: int
    max_level: int = MAX_LEVEL
    dropped_photos: int = 0  # training photos in dropped cells
    _ranges: tuple[list[int], list[int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.centers = np.asarray(self.centers, np.float64).reshape(-1, 2)
        self.means = np.asarray(self.means, np.float64).reshape(-1, 2)
        ids = [_s2().CellId.from_token(token) for token in self.tokens]
        self._ranges = (
            [cell.range_min().id() for cell in ids],
            [cell.range_max().id() for cell in ids],
        )

    def __len__(self) -> int:
        return len(self.tokens)

    def cell_of(self, lat: float, lng: float) -> int | None:
        """The index of the kept cell that contains the point, or None (a dropped area)."""
        leaf = _leaf(lat, lng).id()
        # Kept cells are disjoint and sorted by id, so their leaf ranges are sorted too.
        index = bisect.bisect_right(self._ranges[0], leaf) - 1
        return index if index >= 0 and leaf <= self._ranges[1][index] else None

    def cells_of(self, latlngs: Sequence[Sequence[float]]) -> np.ndarray:
        """``cell_of`` for each (lat, lng) row, -1 where no kept cell contains the point."""
        return np.array(
            [-1 if (cell := self.cell_of(lat, lng)) is None else cell for lat, lng in latlngs],
            np.int64,
        )

    def locations(self, location: str = "mean") -> np.ndarray:
        """Each cell's predicted location, ``(K, 2)`` degrees: the photos' mean or the centre."""
        if location not in LOCATIONS:
            raise ValueError(f"location must be one of {', '.join(LOCATIONS)}; got {location!r}")
        return self.means if location == "mean" else self.centers

    def to_dict(self) -> dict[str, Any]:
        return {
            "tokens": self.tokens,
            "counts": self.counts,
            "centers": self.centers.tolist(),
            "means": self.means.tolist(),
            "max_photos": self.max_photos,
            "min_photos": self.min_photos,
            "max_level": self.max_level,
            "dropped_photos": self.dropped_photos,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CellPartition:
        return cls(**values)

    def save(self, path: str | os.PathLike[str], *, force: bool = False) -> None:
        """Writes the partition as JSON, atomically; refuses an existing file without ``force``."""
        atomic_write_text(path, json.dumps(self.to_dict()), force=force)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CellPartition:
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except (json.JSONDecodeError, TypeError, KeyError) as error:
            raise ValueError(f"{path} is not a cell partition ({error})") from None


def partition(
    latlngs: Sequence[Sequence[float]] | np.ndarray,
    max_photos: int,
    min_photos: int,
    max_level: int = MAX_LEVEL,
) -> CellPartition:
    """PlaNet's partition of the photos at ``latlngs`` (degrees, rows of lat, lng): split every
    cell holding more than ``max_photos`` (down to ``max_level``), drop cells with fewer than
    ``min_photos``."""
    points = check_latlngs(latlngs)
    if not isinstance(max_photos, int) or max_photos < 1:
        raise ValueError(f"max_photos must be a whole number >= 1; got {max_photos!r}")
    if not isinstance(min_photos, int) or not min_photos >= 1:
        raise ValueError(
            f"min_photos must be a whole number >= 1 (empty cells are never kept); got {min_photos!r}"
        )
    if not isinstance(max_level, int) or not 0 <= max_level <= MAX_LEVEL:
        raise ValueError(f"max_level must be a whole number in [0, {MAX_LEVEL}]; got {max_level!r}")
    leaves = [_leaf(lat, lng) for lat, lng in points]
    kept: list[tuple[s2sphere.CellId, list[int]]] = []
    pending = _group(leaves, range(len(leaves)), 0)
    for level in range(max_level + 1):
        split: dict[int, list[int]] = {}
        for cell, members in pending.items():
            if len(members) > max_photos and level < max_level:
                split.update(_group(leaves, members, level + 1))
            elif len(members) >= min_photos:
                kept.append((_s2().CellId(cell), members))
        pending = split
    kept.sort(key=lambda item: item[0].id())
    return CellPartition(
        tokens=[cell.to_token() for cell, _ in kept],
        counts=[len(members) for _, members in kept],
        centers=[_degrees(cell.to_lat_lng()) for cell, _ in kept],
        means=[spherical_mean(points[members]) for _, members in kept],
        max_photos=max_photos,
        min_photos=min_photos,
        max_level=max_level,
        dropped_photos=len(points) - sum(len(members) for _, members in kept),
    )


def check_latlngs(latlngs: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """``latlngs`` as an ``(N, 2)`` float array, refusing points that are not on the globe."""
    points = np.asarray(latlngs, np.float64).reshape(-1, 2)
    bad = ~np.isfinite(points).all(1) | (np.abs(points[:, 0]) > 90) | (np.abs(points[:, 1]) > 180)
    if bad.any():
        raise ValueError(
            f"point {int(np.argmax(bad))} ({points[bad][0].tolist()}) is not a latitude in [-90, "
            "90] and longitude in [-180, 180]"
        )
    return points


def spherical_mean(latlngs: np.ndarray) -> list[float]:
    """The normalised mean of the points' unit vectors, as (lat, lng) degrees: right across the
    antimeridian, where averaging longitudes is not."""
    lat, lng = np.radians(latlngs[:, 0]), np.radians(latlngs[:, 1])
    x, y, z = (
        (np.cos(lat) * np.cos(lng)).mean(),
        (np.cos(lat) * np.sin(lng)).mean(),
        np.sin(lat).mean(),
    )
    return [float(np.degrees(np.arctan2(z, np.hypot(x, y)))), float(np.degrees(np.arctan2(y, x)))]


def _s2():
    return require("s2sphere", "geo", "the S2 cell partition")


def _leaf(lat: float, lng: float) -> s2sphere.CellId:
    s2 = _s2()
    return s2.CellId.from_lat_lng(s2.LatLng.from_degrees(float(lat), float(lng)))


def _group(
    leaves: list[s2sphere.CellId], members: Sequence[int], level: int
) -> dict[int, list[int]]:
    """The photos ``members`` grouped by their cell at ``level`` (cell id -> photo indices)."""
    groups: dict[int, list[int]] = {}
    for index in members:
        groups.setdefault(leaves[index].parent(level).id(), []).append(index)
    return groups


def _degrees(point: s2sphere.LatLng) -> list[float]:
    return [point.lat().degrees, point.lng().degrees]
