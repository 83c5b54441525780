"""``train`` and ``resume``: the two students (attributes, embeddings) trained by the project's
one loop, and ``teacher_outputs`` to compute a teacher's outputs once for ``--teacher-outputs``.
The per-task defaults here are the commands' too (``DEFAULTS``)."""

from __future__ import annotations

import os
from typing import Any

from ..files import refuse_existing
from ..train.checkpoint import resume_state
from ..train.config import TrainConfig
from ..train.data import load_data
from ..train.loop import fit
from ..train.teacher import write_teacher_outputs
from . import EMBEDDING_MODEL
from .attributes import load_attribute_data
from .task import AttributeTask, EmbeddingTask
from .teachers import attribute_teacher, embedding_teacher

TASKS = ("attributes", "embedding")
# Each task's TrainConfig defaults: attributes learn the teacher's probabilities alone at
# temperature 1; embeddings train the registered embedding network.
DEFAULTS: dict[str, dict[str, Any]] = {
    "attributes": {"distill_weight": 1.0, "temperature": 1.0},
    "embedding": {"model": EMBEDDING_MODEL},
}


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}; got {task!r}")


def train_config(
    task: str, data: str | os.PathLike[str], out: str | os.PathLike[str], **settings: Any
) -> TrainConfig:
    """The TrainConfig of an attribute or embedding run: the task's ``DEFAULTS`` under
    ``settings`` (TrainConfig fields)."""
    _check_task(task)
    return (
        TrainConfig(**{**DEFAULTS[task], **settings, "out": str(out), "data": str(data)})
        .validate()
        .resolved()
    )


def train(
    task: str,
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    force: bool = False,
    progress: bool = True,
    **settings: Any,
) -> dict[str, Any]:
    """Trains a student for ``task``; ``settings`` are TrainConfig fields (teacher,
    teacher_outputs, alpha, resolution, epochs, ...).

    attributes: a MobileNet attribute classifier that emulates ``teacher`` (a checkpoint or
    TorchScript file) or its precomputed ``teacher_outputs``; with neither it learns the 0/1
    labels (how a teacher is made). embedding: a MobileNet with a 128-d unit-norm embedding
    trained to match ``teacher``'s embeddings (squared difference): an embedding model, or a
    classifier of this project whose penultimate features are projected by PCA."""
    config = train_config(task, data, out, **settings)
    if task == "embedding" and not (config.teacher or config.teacher_outputs):
        raise ValueError("embedding distillation needs --teacher or --teacher-outputs")
    return fit(config, task=_task(config), force=force, progress=progress)


def _task(config: TrainConfig) -> AttributeTask | EmbeddingTask:
    return EmbeddingTask() if config.model == EMBEDDING_MODEL else AttributeTask.from_config(config)


def resume(
    run_dir: str | os.PathLike[str], *, progress: bool = True, **changes: Any
) -> dict[str, Any]:
    """Continues an attribute or embedding run from its last.pt; ``changes`` (e.g. more epochs)
    as for any run."""
    config, _ = resume_state(run_dir, **changes)
    return fit(config, task=_task(config), resume=True, progress=progress)


def teacher_outputs(
    task: str,
    teacher: str,
    data: str,
    out: str | os.PathLike[str],
    *,
    batch_size: int = 256,
    force: bool = False,
    **settings: Any,
) -> dict[str, Any]:
    """The teacher's attribute logits or embeddings for the un-augmented training images, in
    index order, saved to ``out`` (the format of ``mobilenets teacher-outputs``)."""
    _check_task(task)
    refuse_existing(out, force=force)
    config = TrainConfig(**{**settings, "out": ".", "data": data}).validate().resolved()
    if task == "attributes":
        attributes = load_attribute_data(config, augment=False)
        train_set = attributes.train
        module = attribute_teacher(
            teacher, attributes.val[0][0], len(attributes.names), attributes.class_table
        )
    else:
        bundle = load_data(config, augment=False)
        train_set = bundle.train
        module = embedding_teacher(teacher, train_set, bundle.in_channels)
    about = {"teacher": teacher, "task": task, "data": data, "resolution": config.resolution}
    outputs = write_teacher_outputs(
        module,
        train_set,
        out,
        device=config.device,
        batch_size=batch_size,
        workers=config.workers,
        about=about,
    )
    return {"out": str(out), "images": outputs.shape[0], "outputs": outputs.shape[1], **about}


__all__ = ["DEFAULTS", "TASKS", "resume", "teacher_outputs", "train", "train_config"]
