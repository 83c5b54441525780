"""``train_attributes`` and ``train_embedding``: the two students trained by the project's one
loop, their ``resume_*`` counterparts, and ``write_teacher_outputs`` to compute a teacher's
outputs once for ``--teacher-outputs``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..train.classification import load_data
from ..train.config import TrainConfig
from ..train.loop import fit, resume_config
from ..train.teacher import compute_teacher_outputs, save_teacher_outputs
from . import EMBEDDING_MODEL
from .attributes import load_attribute_data
from .tasks import AttributeTask, EmbeddingTask
from .teachers import attribute_teacher, embedding_teacher

TASKS = ("attributes", "embedding")


def _config(data: str | os.PathLike[str], out: str | os.PathLike[str], **settings: Any) -> TrainConfig:
    return TrainConfig(out=str(out), data=str(data), **settings).validate().resolved()


def train_attributes(
    data: str | os.PathLike[str], out: str | os.PathLike[str], *, teacher: str | None = None,
    teacher_outputs: str | None = None, distill_weight: float = 1.0, temperature: float = 1.0,
    force: bool = False, progress: bool = True, **settings: Any,
) -> dict[str, Any]:
    """A MobileNet attribute classifier that emulates ``teacher`` (a checkpoint or TorchScript
    file) or its precomputed ``teacher_outputs``; with neither it learns the 0/1 labels (how a
    teacher is made). ``settings`` are further TrainConfig fields (alpha, resolution, epochs, ...)."""
    config = _config(data, out, teacher=teacher, teacher_outputs=teacher_outputs,
                     distill_weight=distill_weight, temperature=temperature, **settings)
    return fit(config, task=AttributeTask.from_config(config), force=force, progress=progress)


def train_embedding(
    data: str | os.PathLike[str], out: str | os.PathLike[str], *, teacher: str | None = None,
    teacher_outputs: str | None = None, force: bool = False, progress: bool = True, **settings: Any,
) -> dict[str, Any]:
    """A MobileNet with a 128-d unit-norm embedding trained to match ``teacher``'s embeddings
    (squared difference): an embedding model, or a classifier of this project whose penultimate
    features are projected by PCA (see ``teachers.project_classifier``)."""
    if not (teacher or teacher_outputs):
        raise ValueError("embedding distillation needs --teacher or --teacher-outputs")
    config = _config(data, out, model=EMBEDDING_MODEL, teacher=teacher, teacher_outputs=teacher_outputs, **settings)
    return fit(config, task=EmbeddingTask(), force=force, progress=progress)


def resume(run_dir: str | os.PathLike[str], *, epochs: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Continues an attribute or embedding run from its last.pt (optionally to more epochs)."""
    config = resume_config(run_dir, **({"epochs": epochs} if epochs else {}))
    task = EmbeddingTask() if config.model == EMBEDDING_MODEL else AttributeTask.from_config(config)
    return fit(config, task=task, resume=True, progress=progress)


def write_teacher_outputs(
    task: str, teacher: str, data: str, out: str | os.PathLike[str], *, batch_size: int = 256,
    force: bool = False, **settings: Any,
) -> dict[str, Any]:
    """The teacher's attribute logits or embeddings for the un-augmented training images, in
    index order, saved to ``out`` (the format of ``mobilenets teacher-outputs``)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    if Path(out).exists() and not force:
        raise FileExistsError(f"{out} exists; use --force to replace it")
    config = _config(data, ".", **settings)
    if task == "attributes":
        attributes = load_attribute_data(config, augment=False)
        train = attributes.train
        module = attribute_teacher(teacher, attributes.val[0][0], len(attributes.names), attributes.class_table)
    else:
        bundle = load_data(config, augment=False)
        train = bundle.train
        module = embedding_teacher(teacher, train, bundle.in_channels)
    device = "cuda" if config.device != "cpu" and torch.cuda.is_available() else "cpu"
    outputs = compute_teacher_outputs(module, train, batch_size=batch_size, workers=config.workers, device=device)
    about = {"teacher": teacher, "task": task, "data": data, "resolution": config.resolution}
    save_teacher_outputs(out, outputs, **about)
    return {"out": str(out), "images": outputs.shape[0], "outputs": outputs.shape[1], **about}


__all__ = ["TASKS", "resume", "train_attributes", "train_embedding", "write_teacher_outputs"]
