"""Loading a float model to deploy from a checkpoint file.

Reads a ``torch.save`` dict with ``"model"`` (the state_dict) and ``"config"`` (the
:class:`MobileNetV1` constructor arguments, ``model.config``), the format the training loop
and ``mobilenets convert`` write. Other keys (optimizer, epoch, ...) are ignored.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..models import MobileNetV1


def load_checkpoint(path: str | os.PathLike[str]) -> MobileNetV1:
    """The MobileNet a checkpoint holds, in eval mode; ValueError for anything unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a truncated or foreign file
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path} is not a readable PyTorch checkpoint: {reason}") from error
    if not isinstance(state, dict) or not {"model", "config"} <= state.keys():
        raise ValueError(f"{path} is not a mobilenets checkpoint: expected a dict with 'model' and 'config'")
    try:
        model = MobileNetV1(**state["config"])
        model.load_state_dict(state["model"])
    except (TypeError, RuntimeError) as error:
        raise ValueError(f"{path}: the weights do not fit the recorded config ({str(error).splitlines()[0]})") from error
    return model.eval()
