"""``train``: a MobileNet over PlaNet's cells, trained by the project's one loop with
``GeoTask``; ``resume`` continues one. The defaults here are the command's too (``DEFAULTS``).

The partition is built from the training split, saved in every checkpoint (``task.partition``)
and, once training ends, as ``RUN_DIR/cells.json``, so evaluation and prediction use the cells
the network was trained on.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..train.checkpoint import resume_state
from ..train.config import TrainConfig
from ..train.loop import fit
from .cells import MAX_LEVEL
from .task import GeoTask

CELLS_FILE = "cells.json"
# Geolocation's TrainConfig defaults: a full-width network at 224 px, the paper's recipe otherwise.
DEFAULTS: dict[str, Any] = {"alpha": 1.0, "resolution": 224}


def train_config(
    data: str | os.PathLike[str], out: str | os.PathLike[str], **settings: Any
) -> TrainConfig:
    """The TrainConfig of a geolocation run: ``DEFAULTS`` under ``settings`` (TrainConfig fields)."""
    return (
        TrainConfig(**{**DEFAULTS, **settings, "out": str(out), "data": str(data)})
        .validate()
        .resolved()
    )


def train(
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    max_photos: int = 10_000,
    min_photos: int = 50,
    max_level: int = MAX_LEVEL,
    location: str = "mean",
    force: bool = False,
    progress: bool = True,
    **settings: Any,
) -> dict[str, Any]:
    """Trains a MobileNetV1 over the cells of the training photos of ``data`` (a folder with
    train.csv / val.csv of ``path,lat,lng``); PlaNet's thresholds are the defaults. ``settings``
    are further TrainConfig fields (alpha, resolution, batch_size, lr, ...)."""
    config = train_config(data, out, **settings)
    task = GeoTask(
        max_photos=max_photos, min_photos=min_photos, max_level=max_level, location=location
    )
    return _finish(fit(config, task=task, force=force, progress=progress), task)


def resume(
    run_dir: str | os.PathLike[str], *, progress: bool = True, **changes: Any
) -> dict[str, Any]:
    """Continues a geolocation run from its last.pt on its saved cells; ``changes`` (e.g. more
    epochs) as for any run."""
    config, state = resume_state(run_dir, **changes)
    task = GeoTask.from_state(state)
    return _finish(fit(config, task=task, resume=True, progress=progress), task)


def _finish(summary: dict[str, Any], task: GeoTask) -> dict[str, Any]:
    path = Path(summary["run_dir"]) / CELLS_FILE
    task.cells.save(path, force=True)
    return {**summary, "cells": str(path)}
