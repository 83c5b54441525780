"""``train``: a detector trained by the project's one loop with ``DetectionTask``; ``resume``
continues one. The defaults here are the detection command's too (``DEFAULTS``)."""

from __future__ import annotations

import os
from typing import Any

from ..models import model_defaults
from ..train.checkpoint import resume_state
from ..train.config import TrainConfig
from ..train.loop import fit
from .task import DetectionTask

ARCHS = {
    "ssd300": "ssd300_mobilenet_v1",
    "ssdlite300": "ssdlite300_mobilenet_v1",
    "frcnn300": "frcnn300_mobilenet_v1",
    "frcnn600": "frcnn600_mobilenet_v1",
}
# Detection's TrainConfig defaults (small batches of large images, AdamW with a cosine schedule).
DEFAULTS: dict[str, Any] = {
    "alpha": 1.0,
    "batch_size": 16,
    "optimizer": "adamw",
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "schedule": "cosine",
}


def model_name(arch: str) -> str:
    """The registered name of an ``--arch`` choice."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
    return ARCHS[arch]


def train_config(
    arch: str, data: str | os.PathLike[str], out: str | os.PathLike[str], **settings: Any
) -> TrainConfig:
    """The TrainConfig of a detection run: ``DEFAULTS`` under ``settings`` (TrainConfig fields)."""
    name = model_name(arch)
    config = TrainConfig(
        **{
            **DEFAULTS,
            "resolution": model_defaults(name)["resolution"],
            **settings,
            "out": str(out),
            "data": str(data),
            "model": name,
        }
    ).validate()
    # Batch norm in SSD's last extra layer (a 1x1 map) needs two images per batch to normalise.
    if name.startswith("ssd") and config.batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 for SSD; got {config.batch_size}")
    return config


def _task(name: str, backbone_init: str | None = None) -> DetectionTask:
    return DetectionTask(fixed_size=name.startswith("ssd"), backbone_init=backbone_init)


def train(
    arch: str,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    backbone_init: str | None = None,
    force: bool = False,
    progress: bool = True,
    **settings: Any,
) -> dict[str, Any]:
    """Trains ``arch`` (ssd300, ssdlite300, frcnn300, frcnn600) on a COCO-layout folder, its
    MobileNet body optionally starting from a classification checkpoint ``backbone_init``;
    ``settings`` are further TrainConfig fields (batch_size, lr, optimizer, ...)."""
    config = train_config(arch, data, out, **settings)
    return fit(config, task=_task(config.model, backbone_init), force=force, progress=progress)


def resume(
    run_dir: str | os.PathLike[str], *, progress: bool = True, **changes: Any
) -> dict[str, Any]:
    """Continues a detector run from its last.pt; ``changes`` (e.g. more epochs) as for any run."""
    config, state = resume_state(run_dir, **changes)
    return fit(
        config,
        task=_task(config.model or "", state.get("backbone_init")),
        resume=True,
        progress=progress,
    )
