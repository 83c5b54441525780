"""Pretrained weights from any source (a Keras .h5, a TF-slim checkpoint, a converted .pt, a URL)
into MobileNetV1: ``load_pretrained(model, source)``, ``model_from_weights(source)``, and the
``pretrained=`` of ``create_model``.

Every source becomes one converted checkpoint, the dict a ``.pt`` file holds: ``model`` (the
state dict), ``config`` (MobileNetV1's arguments) and ``pretrained_cfg`` (timm-style input
size, interpolation, crop, mean and std; [-1, 1] inputs for Google's weights).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..files import atomic_output
from ..pt_files import load_pt
from .hub import fetch, is_url, keras_weights_url
from .mobilenet_v1 import MobileNetV1
from .weights import (
    RELEASED_ARCHITECTURE,
    infer_config,
    keras_reference_layers,
    reference_to_model,
    resolution_from_name,
    tf_slim_reference_layers,
)

FORMATS = ("keras", "tf-slim", "torch")
DEFAULT_RESOLUTION = 224
IMAGENET_WITH_BACKGROUND = 1001
# The arguments weights fix; the others (dropout, output_stride, resolution) a user may change.
_MUST_MATCH = ("alpha", "num_classes", "in_channels", "variant", "padding", "activation", "bn_eps", "min_depth")
Source = str | os.PathLike[str]


def detect_format(path: Source) -> str:
    """keras (.h5/.hdf5), torch (.pt/.pth) or tf-slim (a prefix with a ``.index`` file)."""
    text = str(path)
    suffix = Path(text).suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return "keras"
    if suffix in (".pt", ".pth"):
        return "torch"
    if text.endswith(".index") or Path(f"{text}.index").is_file():
        return "tf-slim"
    raise ValueError(
        f"cannot tell the format of {text}: expected a Keras .h5 file, a converted .pt file, or a TF-slim "
        "checkpoint prefix (PREFIX.index beside it)"
    )


def _local_path(source: Source, sha256: str | None) -> Path:
    if is_url(source):
        return fetch(str(source), sha256)
    path = Path(source)
    if not path.exists() and not Path(f"{path}.index").is_file():
        raise FileNotFoundError(f"no such weights file: {path}")
    return path


def _read_torch(path: Path) -> dict[str, Any]:
    checkpoint = load_pt(path, "converted weights file")
    if not isinstance(checkpoint, dict) or not {"model", "config"} <= set(checkpoint):
        raise ValueError(f"{path} is not a converted MobileNet file: it lacks the 'model' and 'config' entries")
    return checkpoint


def drop_background_class(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Removes output 0, TF-slim's background class (1001 -> ImageNet's 1000 outputs)."""
    classes = checkpoint["config"]["num_classes"]
    if classes < 2:
        raise ValueError(f"drop_background needs a classifier of 2 or more classes; the weights have {classes}")
    state = dict(checkpoint["model"])
    state["classifier.weight"], state["classifier.bias"] = state["classifier.weight"][1:], state["classifier.bias"][1:]
    config = {**checkpoint["config"], "num_classes": classes - 1}
    cfg = {key: value for key, value in checkpoint["pretrained_cfg"].items() if key != "label_offset"}
    return dict(model=state, config=config, pretrained_cfg={**cfg, "num_classes": classes - 1})


def read_weights(
    source: Source, *, format: str | None = None, drop_background: bool = False,
    resolution: int | None = None, sha256: str | None = None,
) -> dict[str, Any]:
    """The converted checkpoint (``model``, ``config``, ``pretrained_cfg``) of any source.

    ``resolution`` (default: the one in a released file's name, else 224) only sets the
    recorded input size. TF-slim's 1001-class files keep the background class at output 0
    (``pretrained_cfg['label_offset'] = 1``) unless ``drop_background``, which removes output 0
    of any TF-slim file (or of a converted file with a background class).
    """
    path = _local_path(source, sha256)
    format = format or detect_format(path)
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    if format == "torch":
        checkpoint = _read_torch(path)
        if "pretrained_cfg" not in checkpoint:
            checkpoint["pretrained_cfg"] = MobileNetV1(**checkpoint["config"]).pretrained_cfg
    else:
        layers = keras_reference_layers(path) if format == "keras" else tf_slim_reference_layers(path)
        config = infer_config(layers)
        config["resolution"] = resolution or resolution_from_name(path) or DEFAULT_RESOLUTION
        model = reference_to_model(layers, config, path)
        # MobileNetV1's default pretrained_cfg is the released weights' preprocessing: [-1, 1]
        # inputs (mean = std = 0.5), resize to resolution / 0.875, centre crop, bilinear.
        checkpoint = dict(model=model.state_dict(), config=dict(model.config), pretrained_cfg=dict(model.pretrained_cfg))
        # TF-slim's ImageNet classifiers put a background class at output 0.
        if format == "tf-slim" and model.num_classes == IMAGENET_WITH_BACKGROUND:
            checkpoint["pretrained_cfg"]["label_offset"] = 1
    if not drop_background:
        return checkpoint
    if format != "tf-slim" and checkpoint["pretrained_cfg"].get("label_offset", 0) != 1:
        raise ValueError(f"drop_background is for TF-slim weights; {path} holds {format} weights with no background class")
    return drop_background_class(checkpoint)


def check_compatible(weights_config: dict[str, Any], model_config: dict[str, Any]) -> None:
    """Raises a ValueError naming the first argument where the weights and the model differ
    (a model without classifier takes any weights' body)."""
    for key in _MUST_MATCH:
        wanted, have = weights_config.get(key), model_config.get(key)
        if key == "num_classes" and have == 0:
            continue
        if key in weights_config and wanted != have:
            hint = ""
            if key in RELEASED_ARCHITECTURE:
                hint = " (build it with padding='tf_same', activation='relu6', bn_eps=1e-3, as create_model(..., pretrained=...) does)"
            elif key == "num_classes" and wanted == 0:
                hint = " (weights without classifier, like Keras's _no_top files: build the model with num_classes=0)"
            elif key == "num_classes":
                hint = " (load them, then model.reset_classifier(n) for another class count"
                hint += "; drop_background=True turns 1001 TF-slim classes into 1000)" if wanted == have + 1 else ")"
            raise ValueError(f"weights are for {key} {wanted!r}, the model is {key} {have!r}{hint}")


def load_checkpoint_into(model: nn.Module, checkpoint: dict[str, Any]) -> nn.Module:
    """Loads a converted checkpoint into a MobileNetV1 after checking that they match."""
    if not isinstance(model, MobileNetV1):
        raise ValueError(f"pretrained weights load into a MobileNetV1; got {type(model).__name__}")
    check_compatible(checkpoint["config"], model.config)
    state = checkpoint["model"]
    if model.config["num_classes"] == 0:
        state = {key: value for key, value in state.items() if not key.startswith("classifier.")}
    model.load_state_dict(state)
    model.pretrained_cfg = {
        **checkpoint["pretrained_cfg"],
        "input_size": model.pretrained_cfg["input_size"],
        "num_classes": model.config["num_classes"],
    }
    return model


def load_pretrained(model: nn.Module, source: Source, **options: Any) -> nn.Module:
    """Loads weights from any source into ``model`` (see ``read_weights`` for the options)."""
    return load_checkpoint_into(model, read_weights(source, **options))


def load_keras_weights(model: nn.Module, path: Source) -> nn.Module:
    """Loads a Keras MobileNet h5 file (the released layout) into ``model``."""
    return load_pretrained(model, path, format="keras")


def load_tf_slim_weights(model: nn.Module, prefix: Source, drop_background: bool = False) -> nn.Module:
    """Loads a TF-slim MobileNet v1 checkpoint into ``model``."""
    return load_pretrained(model, prefix, format="tf-slim", drop_background=drop_background)


def model_from_weights(source: Source, *, drop_background: bool = False, resolution: int | None = None,
                       format: str | None = None, **overrides: Any) -> MobileNetV1:
    """The MobileNetV1 a weights file describes (width, classes, padding, activation), loaded."""
    checkpoint = read_weights(source, format=format, drop_background=drop_background, resolution=resolution)
    return load_checkpoint_into(MobileNetV1(**{**checkpoint["config"], **overrides}), checkpoint)


def create_pretrained(
    name: str, constructor: Callable[..., nn.Module], defaults: dict[str, Any],
    overrides: dict[str, Any], pretrained: Source | bool,
) -> nn.Module:
    """``create_model(name, pretrained=...)``: the named model, built as the released weights
    need (tf_same, relu6, the file's class count) unless overridden, then loaded.
    ``pretrained=True`` or ``"keras"`` fetches Keras's released file for the name."""
    if constructor is not MobileNetV1 or defaults.get("variant", "separable") != "separable":
        raise ValueError(f"pretrained weights exist for the separable MobileNet v1 models only, not {name}")
    overrides = dict(overrides)
    options = {key: overrides.pop(key) for key in ("drop_background", "format", "sha256") if key in overrides}
    config = {**defaults, **overrides}
    if pretrained is True or pretrained == "keras":
        pretrained = keras_weights_url(config["alpha"], config.get("resolution", DEFAULT_RESOLUTION),
                                       include_top=config.get("num_classes", 1) != 0)
    checkpoint = read_weights(pretrained, **options)
    file_resolution = checkpoint["config"].get("resolution")
    if "resolution" in config and file_resolution and file_resolution != config["resolution"]:
        warnings.warn(f"the weights were released for {file_resolution} px, {name} is {config['resolution']} px", stacklevel=3)
    model = constructor(**{**RELEASED_ARCHITECTURE, "num_classes": checkpoint["config"]["num_classes"], **config})
    return load_checkpoint_into(model, checkpoint)


def save_checkpoint(checkpoint: dict[str, Any], path: Source, *, force: bool = False) -> Path:
    """Writes a converted checkpoint atomically (temporary file, fsync, rename); an existing
    file is replaced only with ``force``."""
    with atomic_output(path, force=force) as temporary:
        torch.save(checkpoint, temporary)
    return Path(path)
