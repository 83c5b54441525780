"""``train_detector``: a detector trained by the project's one loop with ``DetectionTask``, and
``load_detector`` to rebuild one from a checkpoint for evaluation, drawing and export."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from ..models import create_model, model_defaults
from ..train.checkpoint import load_checkpoint, model_from_checkpoint
from ..train.config import TrainConfig
from ..train.loop import fit, resume_config
from .task import DetectionTask

ARCHS = {
    "ssd300": "ssd300_mobilenet_v1",
    "ssdlite300": "ssdlite300_mobilenet_v1",
    "frcnn300": "frcnn300_mobilenet_v1",
    "frcnn600": "frcnn600_mobilenet_v1",
}


def model_name(arch: str) -> str:
    """The registered name of an ``--arch`` choice."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    return ARCHS[arch]


def task_for(name: str, backbone_init: str | None = None) -> DetectionTask:
    return DetectionTask(fixed_size=name.startswith("ssd"), backbone_init=backbone_init)


def train_detector(
    arch: str, data: str | os.PathLike[str], out: str | os.PathLike[str], *, alpha: float = 1.0,
    epochs: int = 10, backbone_init: str | None = None, force: bool = False, progress: bool = True,
    **settings: Any,
) -> dict[str, Any]:
    """Trains ``arch`` (ssd300, ssdlite300, frcnn300, frcnn600) on a COCO-layout folder;
    ``settings`` are further TrainConfig fields (batch_size, lr, optimizer, ...)."""
    name = model_name(arch)
    # Batch norm in SSD's last extra layer (a 1x1 map) needs two images per batch to normalise.
    if name.startswith("ssd") and settings.get("batch_size", 2) < 2:
        raise ValueError(f"batch_size must be >= 2 for SSD; got {settings['batch_size']}")
    config = TrainConfig(
        out=str(out), data=str(data), model=name, alpha=alpha, resolution=model_defaults(name)["resolution"],
        epochs=epochs, **settings,
    ).validate()
    task = task_for(name, backbone_init)
    task.build_datasets(config)
    backbone = load_checkpoint(backbone_init)["model"] if backbone_init else None
    model = create_model(name, alpha=alpha, backbone_state=backbone, **task.model_kwargs())
    return fit(config, model=model, task=task, force=force, progress=progress)


def resume_detector(run_dir: str | os.PathLike[str], *, epochs: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Continues a detector run from its last.pt (optionally to more epochs)."""
    config = resume_config(run_dir, **({"epochs": epochs} if epochs else {}))
    checkpoint = load_checkpoint(Path(run_dir) / "last.pt")
    task = task_for(config.model or "", checkpoint.get("task", {}).get("backbone_init"))
    return fit(config, task=task, resume=True, progress=progress)


def load_detector(path: str | os.PathLike[str]) -> tuple[nn.Module, dict[int, str]]:
    """A trained detector (eval mode) and its category names from a checkpoint file or run folder."""
    checkpoint = load_checkpoint(path)
    categories = (checkpoint.get("task") or {}).get("categories")
    if categories is None:
        raise ValueError(f"{path} is not a detector checkpoint (no categories recorded)")
    return model_from_checkpoint(checkpoint).eval(), {int(key): name for key, name in categories.items()}
