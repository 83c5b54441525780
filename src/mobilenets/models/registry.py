"""Model names and their constructors: ``create_model(name, **overrides)``, ``list_models()``;
and the builders a checkpoint may name to rebuild its network: ``rebuild(factory, arguments)``.

A name carries its default input resolution: ``mobilenet_v1_075_160`` is alpha 0.75 at 160 px.
Other packages register their own models and builders when imported (detectors, the embedding
network, the released widths of ``weights``); ``import mobilenets`` imports them all, so every
name is known in any interpreter. This module knows nothing of them.

A checkpoint is data: its "module:qualname" factory is looked up among the registered builders
(never imported) and its arguments are checked against the builder's declared ones, so a file
naming ``subprocess:run`` or an unknown argument is refused before anything is called.
"""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any

from torch import nn

from .features import FeatureMobileNet
from .mobilenet_v1 import MobileNetConfig, MobileNetV1

WIDTHS = (1.0, 0.75, 0.5, 0.25)
RESOLUTIONS = (224, 192, 160, 128)

_REGISTRY: dict[str, tuple[Callable[..., nn.Module], dict[str, Any]]] = {}
# Builders a checkpoint may name, by "module:qualname", with the keyword arguments each takes.
_BUILDERS: dict[str, tuple[Callable[..., nn.Module], frozenset[str]]] = {}


def builder_name(builder: Callable[..., Any]) -> str:
    """The "module:qualname" a checkpoint records for ``builder``."""
    return f"{builder.__module__}:{builder.__qualname__}"


def parameter_names(function: Callable[..., Any]) -> list[str]:
    """The parameters of ``function`` (a class: of its constructor) that can be given by name."""
    return [
        name
        for name, parameter in inspect.signature(function).parameters.items()
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)
    ]


def register_builder(
    builder: Callable[..., nn.Module], arguments: Iterable[str] | None = None
) -> None:
    """Lets checkpoints name ``builder`` to rebuild their network, called with keyword
    ``arguments`` only (default: the named parameters of its signature)."""
    _BUILDERS[builder_name(builder)] = (
        builder,
        frozenset(parameter_names(builder) if arguments is None else arguments),
    )


def rebuild(factory: Any, arguments: Any) -> nn.Module:
    """The network a checkpoint describes: the registered builder ``factory`` names, called
    with ``arguments``; ValueError, before anything is called, for a factory that is not a
    registered builder or an argument it does not take."""
    if not isinstance(factory, str) or factory not in _BUILDERS:
        raise ValueError(
            f"refusing to rebuild the model: its factory {str(factory)[:200]!r} is not a registered model builder "
            f"(registered: {', '.join(sorted(_BUILDERS))})"
        )
    builder, accepted = _BUILDERS[factory]
    if not isinstance(arguments, dict) or not all(isinstance(key, str) for key in arguments):
        raise ValueError(
            f"refusing to rebuild the model: the arguments of {factory} are not a dict of names"
        )
    unknown = sorted(set(arguments) - accepted)
    if unknown:
        raise ValueError(
            f"refusing to rebuild the model: {factory} takes no argument "
            f"{', '.join(repr(k[:100]) for k in unknown[:5])} "
            f"(it takes {', '.join(sorted(accepted))})"
        )
    return builder(**arguments)


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
    names = list(_REGISTRY)
    return names if pattern is None else fnmatch.filter(names, pattern)


def model_defaults(name: str) -> dict[str, Any]:
    """The arguments a registered name stands for."""
    _check_name(name)
    return dict(_REGISTRY[name][1])


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(
            f"model name must be a registered name (see `mobilenets list`); got {name!r}"
        )
    if name not in _REGISTRY:
        close = fnmatch.filter(_REGISTRY, f"*{name}*")[:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `mobilenets list`)"
        raise ValueError(f"unknown model name {name!r}{hint}")


def registered(name: str) -> tuple[Callable[..., nn.Module], dict[str, Any]]:
    """The constructor and default arguments of a registered name; ValueError naming close
    names for an unknown one."""
    _check_name(name)
    constructor, defaults = _REGISTRY[name]
    return constructor, dict(defaults)


def create_model(
    name: str, *, features_only: bool = False, out_indices: Any = None, **overrides: Any
) -> nn.Module:
    """Builds a registered model with random weights; keyword arguments override the name's
    defaults. ``features_only``: the body as a backbone returning the feature maps of levels
    ``out_indices`` (``features.py``). Weights: ``mobilenets.create_model(name, pretrained=...)``."""
    constructor, defaults = registered(name)
    model = constructor(**{**defaults, **overrides})
    return FeatureMobileNet(model, out_indices) if features_only else model


register_builder(MobileNetV1, [field.name for field in fields(MobileNetConfig)])
for _alpha in WIDTHS:
    for _resolution in RESOLUTIONS:
        register_model(
            model_name(_alpha, _resolution),
            MobileNetV1,
            alpha=_alpha,
            resolution=_resolution,
            variant="separable",
        )
for _variant in ("conv", "shallow", "flattened"):
    register_model(
        model_name(1.0, 224, _variant), MobileNetV1, alpha=1.0, resolution=224, variant=_variant
    )
