"""Checkpoints: loading and rebuilding the model (mismatches are refused by
``models.compatible.check_compatible``).

A checkpoint is a ``torch.save`` dict: "model" (state_dict), "model_factory" (a registered
builder's "module:qualname") and "model_config" (its keyword arguments) so the network can be
rebuilt without the code that trained it, "optimizer", "scheduler", "ema", "rng", "epoch"
(completed epochs), "step", "config" (the whole TrainConfig), "task" (what evaluation needs:
classes, mean, std, ...), "metrics" and "best".

Checkpoints are data: ``load_checkpoint`` reads with ``torch.load(weights_only=True)`` (see
``mobilenets.pt_files``), and the network is rebuilt only by a builder registered in
``mobilenets.models`` (``rebuild``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from torch import nn

from ..files import refuse_existing
from ..messages import first_line
from ..models import builder_name, rebuild
from ..pt_files import load_pt
from .config import TrainConfig


def checkpoint_file(path: str | os.PathLike[str]) -> Path:
    """The file a checkpoint argument names: itself, or in a run folder best.pt, else last.pt."""
    path = Path(path)
    if path.is_dir():
        return path / "best.pt" if (path / "best.pt").exists() else path / "last.pt"
    return path


def beside(checkpoint: str | os.PathLike[str], suffix: str) -> Path:
    """A file next to the checkpoint a path names, for its default plot: ``run/best.pt`` with
    ".geo.png" -> ``run/best.geo.png``."""
    return checkpoint_file(checkpoint).with_suffix(suffix)


def plot_file(
    plot: str | os.PathLike[str] | None,
    checkpoint: str | os.PathLike[str],
    suffix: str,
    *,
    force: bool = False,
) -> tuple[Path, bool]:
    """Where an evaluation of ``checkpoint`` draws, and whether it may replace what is there:
    ``plot`` when given (an existing file refused unless ``force``, before the work), else its
    own side file beside the checkpoint (``run/best.geo.png``), replaced freely: a read-only
    command never refuses because of its own output."""
    if plot is None:
        return beside(checkpoint, suffix), True
    return refuse_existing(plot, force=force), force


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads a checkpoint of this project (a dict with "model"), refusing anything else."""
    path = checkpoint_file(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    checkpoint = load_pt(path)
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        raise ValueError(f"{path} is not a mobilenets checkpoint (no 'model' entry)")
    return checkpoint


def last_checkpoint(run_dir: str | os.PathLike[str]) -> Path:
    """A run folder's last.pt, refused when there is nothing to resume."""
    path = Path(run_dir) / "last.pt"
    if not path.is_file():
        raise FileNotFoundError(f"nothing to resume in {run_dir} (no last.pt)")
    return path


def resume_state(
    run_dir: str | os.PathLike[str], **changes: Any
) -> tuple[TrainConfig, dict[str, Any]]:
    """The config saved in ``run_dir/last.pt`` with ``changes`` (e.g. more epochs) applied, and
    the checkpoint's task entry (what a task needs to continue: categories, a cell partition)."""
    checkpoint = load_checkpoint(last_checkpoint(run_dir))
    config = dataclasses.replace(
        TrainConfig.from_dict(checkpoint["config"]), out=str(run_dir), **changes
    )
    return config, checkpoint.get("task") or {}


def resume_config(run_dir: str | os.PathLike[str], **changes: Any) -> TrainConfig:
    """The config saved in ``run_dir/last.pt``, with ``changes`` (e.g. more epochs) applied."""
    return resume_state(run_dir, **changes)[0]


def factory_name(model: nn.Module) -> str:
    """The "module:qualname" of a model's class, recorded so the model can be rebuilt."""
    return builder_name(type(model))


def build_model(checkpoint: dict[str, Any]) -> nn.Module:
    """The network a checkpoint describes, untrained: its ``model_factory`` must be a registered
    builder and ``model_config`` arguments that builder takes (see ``mobilenets.models.rebuild``)."""
    if "model_factory" not in checkpoint or "model_config" not in checkpoint:
        raise ValueError(
            "the checkpoint does not record how to rebuild its model (model_factory, model_config)"
        )
    try:
        return rebuild(checkpoint["model_factory"], checkpoint["model_config"])
    except (
        TypeError,
        KeyError,
        AttributeError,
        RuntimeError,
    ) as error:  # arguments of the wrong kind
        raise ValueError(
            f"cannot rebuild the model {checkpoint['model_factory']} from the recorded arguments: {first_line(error)}"
        ) from None


def model_from_checkpoint(checkpoint: dict[str, Any], *, ema: bool = False) -> nn.Module:
    """Rebuilds the network a checkpoint describes and loads its weights (the EMA's with ``ema``)."""
    model = build_model(checkpoint)
    state = checkpoint["model"]
    try:
        if ema and checkpoint.get("ema"):
            state = ema_weights(checkpoint["ema"])
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as error:
        raise ValueError(
            f"the checkpoint's weights do not fit its model {checkpoint['model_factory']}: {first_line(error)}"
        ) from None
    return model


def ema_weights(ema_state: dict[str, Any]) -> dict[str, Any]:
    """The averaged network's state_dict inside a saved ``ModelEma`` (an AveragedModel)."""
    return {
        key.removeprefix("module."): value
        for key, value in ema_state.items()
        if key.startswith("module.")
    }
