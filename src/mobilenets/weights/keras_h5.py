"""Reads the layer weights of a Keras HDF5 file in the layout the released MobileNet files have:
the ``layer_names`` attribute, one group per layer with a ``weight_names`` attribute, optionally
under ``model_weights`` (files saved with ``model.save``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..extras import require


def _import_h5py():
    return require("h5py", "weights", "reading Keras .h5 weights")


def _strings(values) -> list[str]:
    return [value.decode("utf-8") if isinstance(value, bytes) else str(value) for value in values]


def _attribute(group, name: str) -> list[str]:
    """A string-list attribute; Keras splits long ones into ``name0``, ``name1``, ..."""
    if name in group.attrs:
        return _strings(group.attrs[name])
    values, chunk = [], 0
    while f"{name}{chunk}" in group.attrs:
        values += _strings(group.attrs[f"{name}{chunk}"])
        chunk += 1
    return values


def short_weight_name(name: str) -> str:
    """``conv_dw_1/depthwise_kernel:0`` -> ``depthwise_kernel``."""
    return name.rsplit("/", 1)[-1].split(":", 1)[0]


def _dataset(group, name: str):
    for candidate in (name, f"{name}:0", name.split(":", 1)[0]):
        if candidate in group:
            return group[candidate]
    raise ValueError(f"weight {name!r} is listed in layer {group.name!r} but not stored there")


def read_keras_h5(path: str | os.PathLike[str]) -> dict[str, dict[str, np.ndarray]]:
    """``{layer name: {short weight name: array}}`` for each layer that has weights, in file order."""
    h5py = _import_h5py()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with h5py.File(path, "r") as file:
            group = file.get("model_weights", file)
            names = _attribute(group, "layer_names")
            if not names:
                if "vars" in file or "layers" in file:
                    raise ValueError(
                        f"{path} is a Keras 3 '.weights.h5' file, which stores weights by position, not by "
                        "layer name; save the model with model.save('model.h5') or use the released files"
                    )
                raise ValueError(
                    f"{path} is not a Keras weights file: it has no 'layer_names' attribute"
                )
            layers: dict[str, dict[str, np.ndarray]] = {}
            for name in names:
                if name not in group:
                    raise ValueError(f"{path}: layer {name!r} is listed but has no group")
                weights = {
                    short_weight_name(weight): np.asarray(_dataset(group[name], weight)[()])
                    for weight in _attribute(group[name], "weight_names")
                }
                if weights:
                    layers[name] = weights
            return layers
    except OSError as error:  # what h5py raises for truncated or non-HDF5 files
        raise ValueError(
            f"{path} is not a readable HDF5 file (truncated or another format): {error}"
        ) from error
