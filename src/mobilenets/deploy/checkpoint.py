"""Loading a float model to deploy from a checkpoint file.

Two formats are read, both ``torch.save`` dicts with ``"model"`` (the state_dict):
the training loop's (``"model_factory"`` + ``"model_config"`` rebuild the network; ``"task"``
carries the input normalization it was trained with) and ``mobilenets convert``'s
(``"config"`` = the :class:`MobileNetV1` constructor arguments). Other keys are ignored.
"""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from ..messages import first_line
from ..models import MobileNetV1, builder_name, rebuild
from ..train.checkpoint import load_checkpoint, model_from_checkpoint


def load_model(path: str | os.PathLike[str]) -> nn.Module:
    """The model a checkpoint (or a run directory: its best.pt) holds, in eval mode, with the
    training data's mean, std and crop in ``pretrained_cfg``; ValueError for anything unreadable."""
    return model_from_state(load_checkpoint(path), path)


def model_from_state(state: dict[str, Any], path: str | os.PathLike[str]) -> nn.Module:
    """``load_model`` of a checkpoint already read from ``path``."""
    try:
        if "model_factory" in state:
            model = model_from_checkpoint(state)
        elif isinstance(state.get("config"), dict):
            model = rebuild(builder_name(MobileNetV1), state["config"])
            model.load_state_dict(state["model"])
        else:
            raise ValueError("expected 'model_factory'/'model_config' or a MobileNetV1 'config'")
    except (TypeError, RuntimeError, ValueError) as error:
        raise ValueError(f"{path}: cannot rebuild the model ({first_line(error)})") from error
    task = state.get("task") or {}
    if hasattr(model, "pretrained_cfg"):
        model.pretrained_cfg.update(
            {key: tuple(task[key]) for key in ("mean", "std") if key in task}
        )
        if "crop_pct" in task:
            model.pretrained_cfg["crop_pct"] = task["crop_pct"]
    return model.eval()
