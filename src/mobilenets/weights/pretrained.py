"""Pretrained weights from any source into MobileNetV1: a Keras .h5, a TF-slim checkpoint, a
TFLite .tflite file (float or quantized), a converted .pt or .safetensors file, a timm
checkpoint or safetensors file, a pretrained folder (``config.json`` + ``model.safetensors``),
a URL, a Hugging Face Hub repository (``hf-hub:OWNER/NAME``) or a released weight set by name
(``timm:mobilenetv1_100.ra4_e3600_r224_in1k``,
see ``releases.py``): ``load_pretrained(model, source)``, ``model_from_weights(source)``, and
the ``pretrained=`` of ``create_model``.

Every source becomes one converted checkpoint, the dict a ``.pt`` file holds: ``model`` (the
state dict), ``config`` (MobileNetV1's arguments) and ``pretrained_cfg`` (timm-style input
size, interpolation, crop, mean and std; ``weights`` and ``license``: the release's, when known).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models import registry
from ..models.compatible import check_compatible
from ..models.features import FeatureMobileNet
from ..models.mobilenet_v1 import MobileNetV1
from ..pt_files import load_pt, save_pt
from ..regular_files import check_regular_file
from .described import check_described
from .fetch import fetch, is_url
from .finite import check_finite
from .google import (
    infer_config,
    keras_reference_layers,
    reference_to_model,
    resolution_from_name,
    tf_slim_reference_layers,
)
from .hf import (
    HUB_PREFIX,
    WEIGHTS_FILE,
    config_from_metadata,
    hub_download,
    hub_folder,
    read_safetensors,
    write_pretrained_folder,
    write_safetensors,
)
from .releases import (
    Release,
    best_release,
    get_release,
    is_release_name,
    keras_weights_url,
    release_for_file,
    release_of,
)
from .tflite import tflite_reference
from .timm_weights import is_timm_state, timm_pretrained_cfg, timm_to_model_state

FORMATS = ("keras", "tf-slim", "tflite", "torch", "safetensors", "timm")
DEFAULT_RESOLUTION = 224
IMAGENET_WITH_BACKGROUND = 1001
# The arguments weights fix; the others (dropout, output_stride, resolution) a user may change.
_MUST_MATCH = (
    "alpha",
    "num_classes",
    "in_channels",
    "variant",
    "padding",
    "activation",
    "bn_eps",
    "min_depth",
    "head_features",
    "channels",
)
# What weights fix that a registry name does not say: create_model builds the model so.
_ARCHITECTURE = ("padding", "activation", "bn_eps", "head_features")
_TORCH_SUFFIXES = (".pt", ".pth", ".bin")
Source = str | os.PathLike[str]


class WeightsChoice(UserWarning):
    """Which released weights ``pretrained=True`` picked, and their provenance."""


def detect_format(path: Source) -> str:
    """keras (.h5/.hdf5), tflite (.tflite), torch (.pt/.pth/.bin), safetensors, tf-slim (a
    prefix with a ``.index`` file); a folder is read as a pretrained folder (safetensors)."""
    text = str(path)
    suffix = Path(text).suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return "keras"
    if suffix == ".tflite":
        return "tflite"
    if suffix in _TORCH_SUFFIXES:
        return "torch"
    if suffix == ".safetensors" or Path(text).is_dir():
        return "safetensors"
    if text.endswith(".index") or Path(f"{text}.index").is_file():
        return "tf-slim"
    raise ValueError(
        f"cannot tell the format of {text}: expected a Keras .h5 file, a TFLite .tflite file, a .pt/.pth or "
        ".safetensors file, a pretrained "
        "folder (config.json + model.safetensors), or a TF-slim checkpoint prefix (PREFIX.index beside it)"
    )


def _local_path(source: Source, sha256: str | None) -> Path:
    if is_url(source):
        return fetch(str(source), sha256)
    path = Path(source)
    if not path.exists() and not Path(f"{path}.index").is_file():
        raise FileNotFoundError(f"no such weights file: {path}")
    check_regular_file(path, "weights")  # a pipe would hang every reader below
    return path


def release_file(release: Release, *, include_top: bool = True, sha256: str | None = None) -> Path:
    """The local copy of a release's file: Keras's from its URL (the ``_no_top`` one without
    ``include_top``), timm's through the Hugging Face Hub client."""
    if not release.downloadable:
        raise ValueError(f"{release.name} is not downloaded by this package: {release.notes}")
    if release.hub_repo:
        return hub_download(release.hub_repo, release.hub_file, sha256=sha256 or release.sha256)
    return fetch(release.urls[0 if include_top else 1], sha256 or release.sha256)


def _read_torch(path: Path) -> dict[str, Any]:
    checkpoint = load_pt(path, "weights file")
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]  # a timm training checkpoint
    if not isinstance(checkpoint, dict) or not (
        {"model", "config"} <= set(checkpoint) or is_timm_state(checkpoint)
    ):
        raise ValueError(
            f"{path} is not a converted MobileNet file (no 'model' and 'config' entries) nor a timm state dict"
        )
    return checkpoint


def _tensors(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(tensors or a converted checkpoint, this package's config if the file carries one) of a
    .pt/.pth/.bin or .safetensors file, or of a pretrained folder."""
    if path.is_dir():
        names = [name for name in (WEIGHTS_FILE, "pytorch_model.bin") if (path / name).is_file()]
        if not names:
            raise FileNotFoundError(f"{path} is not a pretrained folder: it has no {WEIGHTS_FILE}")
        path = path / names[0]
    if path.suffix.lower() in _TORCH_SUFFIXES:
        return _read_torch(path), None
    tensors, metadata = read_safetensors(path)
    return tensors, config_from_metadata(metadata, path)


def _timm_checkpoint(
    state: dict[str, torch.Tensor], source: Any, resolution: int | None
) -> dict[str, Any]:
    config, converted = timm_to_model_state(state, source)
    config["resolution"] = resolution or DEFAULT_RESOLUTION
    size = config["resolution"]
    cfg = {
        **timm_pretrained_cfg(config),
        "input_size": (config["in_channels"], size, size),
        "num_classes": config["num_classes"],
    }
    return dict(model=converted, config=config, pretrained_cfg=cfg)


def _read_tensor_file(path: Path, format: str, resolution: int | None) -> dict[str, Any]:
    """A converted checkpoint of a .pt/.safetensors file or folder: this package's layout
    (config in the file) or timm's (config inferred from the tensors)."""
    found, described = _tensors(path)
    if described is not None and format != "timm":
        return {"model": found, **described}
    if {"model", "config"} <= set(found) and format != "timm":
        found.setdefault("pretrained_cfg", MobileNetV1(**found["config"]).pretrained_cfg)
        return found
    if is_timm_state(found):
        return _timm_checkpoint(found, path, resolution)
    what = (
        "timm MobileNet v1 weights"
        if format == "timm"
        else "MobileNet weights of this package or of timm"
    )
    raise ValueError(f"{path} holds no {what} (no config in its metadata, no timm conv_stem)")


def _resolve(
    source: Source, format: str | None, sha256: str | None
) -> tuple[Path, str | None, Release | None]:
    """(local path, format, release) of a source: a release name, ``hf-hub:REPO``, a timm tag
    with ``format="timm"``, a URL or a path."""
    text = str(source)
    looks_like_tag = (
        "/" not in text
        and not text.endswith((".safetensors", *_TORCH_SUFFIXES))
        and not Path(text).exists()
    )
    if format == "timm" and looks_like_tag and not is_release_name(text):
        text = f"timm:{text}"  # convert --from timm mobilenetv1_100.ra4_e3600_r224_in1k
    if is_release_name(text):
        release = get_release(text)
        return release_file(release, sha256=sha256), release.format, release
    if text.startswith(HUB_PREFIX):
        repo, _, revision = text[len(HUB_PREFIX) :].partition("@")
        return hub_folder(repo, revision=revision or None), format or "safetensors", None
    path = _local_path(source, sha256)
    return path, format, release_for_file(str(source))


def read_weights(
    source: Source,
    *,
    format: str | None = None,
    drop_background: bool = False,
    resolution: int | None = None,
    sha256: str | None = None,
) -> dict[str, Any]:
    """The converted checkpoint (``model``, ``config``, ``pretrained_cfg``) of any source.

    ``resolution`` (default: the one in a released file's name, else 224) only sets the
    recorded input size. TF-slim's 1001-class files keep the background class at output 0
    (``pretrained_cfg['label_offset'] = 1``) unless ``drop_background``, which removes output 0
    of any TF-slim file (or of a converted file with a background class).
    """
    if format is not None and format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    path, format, release = _resolve(source, format, sha256)
    format = format or detect_format(path)
    if format in ("torch", "safetensors", "timm"):
        checkpoint = _read_tensor_file(
            path, format, resolution or (release.model_args["resolution"] if release else None)
        )
        checkpoint["config"].setdefault("head_features", 0)  # files written before the head option
    else:
        checkpoint = _read_google(path, format, resolution)
    check_described(checkpoint, path)
    check_finite(checkpoint["model"], path)
    if release is not None:  # provenance, as timm's pretrained_cfg carries it
        checkpoint["pretrained_cfg"].update(weights=release.name, license=release.license)
    if not drop_background:
        return checkpoint
    if format != "tf-slim" and checkpoint["pretrained_cfg"].get("label_offset", 0) != 1:
        raise ValueError(
            f"drop_background is for TF-slim weights; {path} holds {format} weights with no background class"
        )
    return drop_background_class(checkpoint)


def _read_google(path: Path, format: str, resolution: int | None) -> dict[str, Any]:
    """The converted checkpoint of a Keras .h5 file, a TF-slim checkpoint or a .tflite file."""
    described: dict[str, Any] = {}
    if format == "keras":
        layers = keras_reference_layers(path)
    elif format == "tf-slim":
        layers = tf_slim_reference_layers(path)
    else:
        layers, described = tflite_reference(path)
    config = infer_config(layers)
    config["resolution"] = (
        resolution
        or described.get("resolution")
        or resolution_from_name(path)
        or DEFAULT_RESOLUTION
    )
    model = reference_to_model(layers, config, path)
    # MobileNetV1's default pretrained_cfg is the released weights' preprocessing: [-1, 1]
    # inputs (mean = std = 0.5), resize to resolution / 0.875, centre crop, bilinear.
    checkpoint = dict(
        model=model.state_dict(),
        config=dict(model.config),
        pretrained_cfg=dict(model.pretrained_cfg),
    )
    # TF-slim's ImageNet classifiers (and their .tflite files) put a background class at output 0.
    if format != "keras" and model.num_classes == IMAGENET_WITH_BACKGROUND:
        checkpoint["pretrained_cfg"]["label_offset"] = 1
    if described.get("softmax"):  # the model returns the logits the file's softmax takes
        checkpoint["pretrained_cfg"]["softmax_in_file"] = True
    if described.get("input_quantization"):
        checkpoint["pretrained_cfg"]["input_quantization"] = described["input_quantization"]
    return checkpoint


def drop_background_class(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Removes output 0, TF-slim's background class (1001 -> ImageNet's 1000 outputs)."""
    classes = checkpoint["config"]["num_classes"]
    if classes < 2:
        raise ValueError(
            f"drop_background needs a classifier of 2 or more classes; the weights have {classes}"
        )
    state = dict(checkpoint["model"])
    state["classifier.weight"], state["classifier.bias"] = (
        state["classifier.weight"][1:],
        state["classifier.bias"][1:],
    )
    config = {**checkpoint["config"], "num_classes": classes - 1}
    cfg = {
        key: value for key, value in checkpoint["pretrained_cfg"].items() if key != "label_offset"
    }
    return dict(model=state, config=config, pretrained_cfg={**cfg, "num_classes": classes - 1})


def _hint(weights_config: dict[str, Any], model_config: dict[str, Any]) -> Callable[[str], str]:
    """How to build a model that takes the weights, for the first argument where they differ."""

    def hint(key: str) -> str:
        wanted, have = weights_config[key], model_config[key]
        if key in _ARCHITECTURE:
            needed = ", ".join(
                f"{name}={weights_config[name]!r}"
                for name in _ARCHITECTURE
                if name in weights_config
            )
            return f" (build it with {needed}, as create_model(..., pretrained=...) does)"
        if key == "num_classes" and wanted == 0:
            return " (weights without classifier, like Keras's _no_top files: build the model with num_classes=0)"
        if key == "num_classes":
            background = "; drop_background=True turns 1001 TF-slim classes into 1000"
            return (
                " (load them, then model.reset_classifier(n) for another class count"
                f"{background if wanted == have + 1 else ''})"
            )
        return ""

    return hint


def load_checkpoint_into(model: nn.Module, checkpoint: dict[str, Any]) -> nn.Module:
    """Loads a converted checkpoint into a MobileNetV1 after checking that they match."""
    if not isinstance(model, MobileNetV1):
        raise ValueError(f"pretrained weights load into a MobileNetV1; got {type(model).__name__}")
    weights, wanted = checkpoint["config"], dict(model.config)
    if wanted["num_classes"] == 0:  # a model without classifier takes any weights' body
        wanted.pop("num_classes")
    check_compatible(
        weights,
        wanted,
        keys=_MUST_MATCH,
        what="the weights' config",
        asked="the model",
        hint=_hint(weights, wanted),
    )
    state = checkpoint["model"]  # read_weights has checked its values and shapes
    if model.config["num_classes"] == 0:
        state = {key: value for key, value in state.items() if not key.startswith("classifier.")}
    expected = model.state_dict()
    for key, tensor in state.items():
        if key in expected and tuple(tensor.shape) != tuple(expected[key].shape):
            raise ValueError(
                f"the weights' {key} has shape {tuple(tensor.shape)}, a MobileNet v1 of alpha "
                f"{model.config['alpha']:g} needs {tuple(expected[key].shape)}"
            )
    try:
        model.load_state_dict(state)
    except RuntimeError as error:  # tensors missing or left over
        detail = (str(error).splitlines()[1:] or [str(error)])[0].strip()
        raise ValueError(f"the weights do not fit the model: {detail}") from None
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


def load_tf_slim_weights(
    model: nn.Module, prefix: Source, drop_background: bool = False
) -> nn.Module:
    """Loads a TF-slim MobileNet v1 checkpoint into ``model``."""
    return load_pretrained(model, prefix, format="tf-slim", drop_background=drop_background)


def model_from_weights(
    source: Source,
    *,
    drop_background: bool = False,
    resolution: int | None = None,
    format: str | None = None,
    **overrides: Any,
) -> MobileNetV1:
    """The MobileNetV1 a weights file describes (width, classes, padding, activation), loaded."""
    checkpoint = read_weights(
        source, format=format, drop_background=drop_background, resolution=resolution
    )
    return load_checkpoint_into(MobileNetV1(**{**checkpoint["config"], **overrides}), checkpoint)


def _pretrained_source(name: str, config: dict[str, Any], pretrained: Source | bool) -> Source:
    """What ``pretrained=`` names, as a source ``read_weights`` takes: True (or "best") is the
    most accurate release for the model (said with a WeightsChoice warning), "keras" / "timm"
    that source's release."""
    include_top = config.get("num_classes", 1) != 0
    if pretrained == "keras":  # Keras's file for the width and resolution, as always
        return keras_weights_url(
            config["alpha"], config.get("resolution", DEFAULT_RESOLUTION), include_top=include_top
        )
    if pretrained is True or pretrained == "best":
        release = best_release(config)
        warnings.warn(
            f"{name}: pretrained=True loads {release.describe()}", WeightsChoice, stacklevel=3
        )
    elif pretrained == "timm":
        release = release_of(config, "timm")
    elif is_release_name(pretrained):
        release = get_release(str(pretrained))
    else:
        return pretrained
    # Keras's files are fetched by URL, the _no_top one without the classifier.
    if release.format == "keras":
        return release.urls[0 if include_top else 1]
    return release.name


def create_model(
    name: str,
    pretrained: Source | bool | None = None,
    *,
    features_only: bool = False,
    out_indices: Any = None,
    **overrides: Any,
) -> nn.Module:
    """Builds a registered model (``models.create_model``), loaded with ``pretrained`` weights
    when given: a source ``read_weights`` takes, True (or "best") for the most accurate release
    for the model, or "keras" / "timm" for that source's release. The model is built as the
    weights need (padding, activation, batch-norm epsilon, head, the file's class count) unless
    overridden."""
    if pretrained is None or pretrained is False:
        return registry.create_model(
            name, features_only=features_only, out_indices=out_indices, **overrides
        )
    constructor, defaults = registry.registered(name)
    if constructor is not MobileNetV1 or defaults.get("variant", "separable") != "separable":
        raise ValueError(
            f"pretrained weights exist for the separable MobileNet v1 models only, not {name}"
        )
    overrides = dict(overrides)
    options = {
        key: overrides.pop(key)
        for key in ("drop_background", "format", "sha256")
        if key in overrides
    }
    config = {**defaults, **overrides}
    checkpoint = read_weights(_pretrained_source(name, config, pretrained), **options)
    file_resolution = checkpoint["config"].get("resolution")
    if "resolution" in config and file_resolution and file_resolution != config["resolution"]:
        warnings.warn(
            f"the weights were released for {file_resolution} px, {name} is {config['resolution']} px",
            stacklevel=2,
        )
    architecture = {
        key: checkpoint["config"][key] for key in _ARCHITECTURE if key in checkpoint["config"]
    }
    model = load_checkpoint_into(
        constructor(
            **{**architecture, "num_classes": checkpoint["config"]["num_classes"], **config}
        ),
        checkpoint,
    )
    return FeatureMobileNet(model, out_indices) if features_only else model


def save_checkpoint(checkpoint: dict[str, Any], path: Source, *, force: bool = False) -> Path:
    """Writes a converted checkpoint atomically (temporary file, fsync, rename): a .safetensors
    file (the config in its metadata) or a torch .pt file; an existing file is replaced only
    with ``force``."""
    if Path(path).suffix.lower() == ".safetensors":
        return write_safetensors(checkpoint, path, force=force)
    return save_pt(checkpoint, path, force=force)


def checkpoint_of(model: MobileNetV1) -> dict[str, Any]:
    """A model as a converted checkpoint (``model``, ``config``, ``pretrained_cfg``)."""
    if not isinstance(model, MobileNetV1):
        raise ValueError(f"save_pretrained writes a MobileNetV1; got {type(model).__name__}")
    return dict(
        model=model.state_dict(),
        config=dict(model.config),
        pretrained_cfg=dict(model.pretrained_cfg),
    )


def save_pretrained(
    model: MobileNetV1 | dict[str, Any], folder: Source, *, force: bool = False
) -> Path:
    """A model (or converted checkpoint) as a pretrained folder: ``config.json`` beside
    ``model.safetensors``, what ``from_pretrained`` and ``push_to_hub`` take."""
    return write_pretrained_folder(
        model if isinstance(model, dict) else checkpoint_of(model), folder, force=force
    )


def from_pretrained(source: Source, **overrides: Any) -> MobileNetV1:
    """The model of a pretrained folder or of a Hugging Face Hub repository id (``OWNER/NAME``,
    ``@REVISION`` optional) holding one: this package's layout or timm's."""
    text = str(source)
    if not Path(text).is_dir() and not text.startswith(HUB_PREFIX):
        text = f"{HUB_PREFIX}{text}"
    return model_from_weights(text, **overrides)
