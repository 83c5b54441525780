"""Model names and their constructors: ``create_model(name, **overrides)``, ``list_models()``.

A name carries its default input resolution: ``mobilenet_v1_075_160`` is alpha 0.75 at 160 px.
Application packages register their own models (detectors, the embedding network) when
imported; every lookup here imports them first, so a name works whatever was imported before.
"""
from __future__ import annotations

import fnmatch
import importlib
from typing import Any, Callable

from torch import nn

from .mobilenet_v1 import MobileNetV1
from .pretrained import create_pretrained
from .releases import RELEASES

WIDTHS = (1.0, 0.75, 0.5, 0.25)
RESOLUTIONS = (224, 192, 160, 128)

_REGISTRY: dict[str, tuple[Callable[..., nn.Module], dict[str, Any]]] = {}
# The packages whose import registers models. Imported on a lookup, never at this module's
# import: they build on models/, so models/ must load without them.
PROVIDERS = ("mobilenets.detection", "mobilenets.embedding")


def _registry() -> dict[str, tuple[Callable[..., nn.Module], dict[str, Any]]]:
    """Every registered name, the providers' included."""
    for module in PROVIDERS:
        importlib.import_module(module)
    return _REGISTRY


def register_model(name: str, constructor: Callable[..., nn.Module], **defaults: Any) -> None:
    """Adds a name; ``create_model(name, **overrides)`` calls ``constructor(**defaults, **overrides)``."""
    if name in _REGISTRY:
        raise ValueError(f"model name {name!r} is registered already")
    _REGISTRY[name] = (constructor, defaults)


def width_tag(alpha: float) -> str:
    """The name part for a width multiplier: 1.0 -> "100", 0.75 -> "075"."""
    return f"{round(alpha * 100):03d}"


def model_name(alpha: float, resolution: int, variant: str = "separable") -> str:
    """The registry name of a MobileNet: ``mobilenet_v1[_variant]_{alpha*100:03d}_{resolution}``."""
    middle = "" if variant == "separable" else f"{variant}_"
    return f"mobilenet_v1_{middle}{width_tag(alpha)}_{resolution}"


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names, in registration order, optionally filtered by a shell-style pattern."""
    names = list(_registry())
    return names if pattern is None else fnmatch.filter(names, pattern)


def model_defaults(name: str) -> dict[str, Any]:
    """The arguments a registered name stands for."""
    _check_name(name)
    return dict(_registry()[name][1])


def _check_name(name: str) -> None:
    if name not in _registry():
        close = fnmatch.filter(_REGISTRY, f"*{name}*")[:5] if isinstance(name, str) else []
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `mobilenets list`)"
        raise ValueError(f"unknown model name {name!r}{hint}")


def create_model(name: str, pretrained: Any = None, **overrides: Any) -> nn.Module:
    """Builds a registered model; keyword arguments override the name's defaults.

    ``pretrained``: weights to load (a file, folder, URL, ``hf-hub:REPO`` or release name such
    as ``timm:mobilenetv1_100.ra4_e3600_r224_in1k``), True for the best release for the name,
    or "keras" / "timm" (see ``pretrained.create_pretrained``)."""
    _check_name(name)
    constructor, defaults = _registry()[name]
    if pretrained is not None and pretrained is not False:
        return create_pretrained(name, constructor, defaults, overrides, pretrained)
    return constructor(**{**defaults, **overrides})


for _alpha in WIDTHS:
    for _resolution in RESOLUTIONS:
        register_model(model_name(_alpha, _resolution), MobileNetV1, alpha=_alpha, resolution=_resolution)
for _variant in ("conv", "shallow", "flattened"):
    register_model(model_name(1.0, 224, _variant), MobileNetV1, alpha=1.0, resolution=224, variant=_variant)
# The widths and heads only released weights have (timm's mobilenetv1_125, mobilenetv1_100h).
for _release in RELEASES:
    if _release.model not in _REGISTRY:
        register_model(_release.model, MobileNetV1, **_release.model_args)
