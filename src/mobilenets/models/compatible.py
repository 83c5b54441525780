"""Whether saved weights fit the model asked for: the one comparison of two model configs
(``model.config``: alpha, variant, padding, ...) that loading released weights, resuming a run,
starting from ``--init`` and evaluating on other data all make, naming every difference."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# What identifies an architecture in a MobileNetV1-style ``model.config``, in message order.
ARCHITECTURE_KEYS = (
    "variant",
    "alpha",
    "resolution",
    "in_channels",
    "activation",
    "padding",
    "bn_eps",
    "output_stride",
    "min_depth",
    "head_features",
    "channels",
)


def describe(config: dict[str, Any]) -> str:
    """ "alpha 0.5, resolution 64, 10 classes": the identifying part of a model config."""
    parts = [f"{key.replace('_', ' ')} {config[key]}" for key in ARCHITECTURE_KEYS if key in config]
    if "num_classes" in config:
        parts.append(f"{config['num_classes']} classes")
    return ", ".join(parts)


def check_compatible(
    saved: dict[str, Any],
    wanted: dict[str, Any],
    *,
    keys: Sequence[str] = (*ARCHITECTURE_KEYS, "num_classes"),
    what: str = "checkpoint",
    asked: str = "the model asked for",
    hint: Callable[[str], str] | None = None,
) -> None:
    """Refuses ``saved`` weights whose config differs from ``wanted`` in any of ``keys`` present
    in both, naming every difference: "checkpoint has alpha 0.5, 10 classes; the model asked for
    has alpha 0.25", then ``hint(first differing key)`` (how to build a model that fits)."""
    different = [
        key for key in keys if key in saved and key in wanted and saved[key] != wanted[key]
    ]
    if different:
        raise ValueError(
            f"{what} has {describe({key: saved[key] for key in different})}; "
            f"{asked} has {describe({key: wanted[key] for key in different})}"
            f"{hint(different[0]) if hint else ''}"
        )
