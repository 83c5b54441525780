"""``train`` and ``resume``: image classification (with distillation, transfer or quantization-
aware fine-tuning in ``deploy.qat.train_qat``) by the project's one loop; the surface every
task package repeats."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..train.config import TrainConfig
from ..train.loop import fit as fit_task
from ..train.loop import resume_config
from .task import ClassificationTask

# Classification trains with TrainConfig's own defaults (the paper's recipe).
DEFAULTS: dict[str, Any] = {}


def train_config(**settings: Any) -> TrainConfig:
    """The TrainConfig a classification run with ``settings`` (TrainConfig fields) uses."""
    return TrainConfig(**{**DEFAULTS, **settings})


def fit(config: TrainConfig, **options: Any) -> dict[str, Any]:
    """The one loop (``train.loop.fit``), on the classification task built from the run's config
    unless ``options`` give another ``task``."""
    return fit_task(config, **{"task": ClassificationTask.from_config, **options})


def train(*, force: bool = False, progress: bool = True, **settings: Any) -> dict[str, Any]:
    """Trains a classifier; ``settings`` are TrainConfig fields (out, data, alpha, epochs, ...)."""
    return fit(train_config(**settings), force=force, progress=progress)


def resume(
    run_dir: str | os.PathLike[str], *, progress: bool = True, **changes: Any
) -> dict[str, Any]:
    """Continues ``run_dir/last.pt`` as if never stopped; ``changes`` (e.g. more epochs) must be
    ones a resumed run allows (the loop refuses the others by name)."""
    if "out" in changes and Path(changes.pop("out")) != Path(run_dir):
        raise ValueError(
            "--resume RUN_DIR continues RUN_DIR; leave out --out or give the same folder"
        )
    return fit(resume_config(run_dir, **changes), resume=True, progress=progress)


__all__ = ["DEFAULTS", "fit", "resume", "train", "train_config"]
