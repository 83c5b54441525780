"""Backbones for dense tasks, as timm gives them: ``create_model(name, features_only=True,
out_indices=...)`` returns the feature maps of the last layer at each stride (2, 4, 8, 16, 32,
timm's five levels for mobilenetv1_100), with ``feature_info`` naming their channels and
reductions; ``forward_intermediates`` gives the same maps beside the final one.

The backbone keeps the classifier's layer names (``features.Conv2d_{i}_...``), so a classifier
checkpoint loads into it with ``strict=False``, and it stops after the deepest level asked for.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .spec import body_spec


def feature_levels(model: nn.Module) -> list[dict[str, Any]]:
    """One entry of ``model.feature_info`` per level: the last layer before each stride-2 layer,
    and the last layer (with ``output_stride`` < 32 the dilated levels keep their reduction)."""
    if not isinstance(getattr(model, "feature_info", None), list) or not hasattr(model, "variant"):
        raise ValueError(f"feature levels need a MobileNet body; got {type(model).__name__}")
    spec = body_spec(model.variant)
    layers = model.feature_info
    return [
        dict(layers[index])
        for index in range(len(layers))
        if index == len(layers) - 1 or spec[index + 1].stride == 2
    ]


def _level_indices(indices: int | Sequence[int] | None, count: int, what: str) -> list[int]:
    """timm's convention: None for every level, an int n for the last n, or a list (negative
    counts from the end)."""
    if indices is None:
        return list(range(count))
    if isinstance(indices, int) and not isinstance(indices, bool):
        if not 0 < indices <= count:
            raise ValueError(f"{what} as a count must be 1..{count}; got {indices}")
        return list(range(count - indices, count))
    chosen = list(indices)
    if not chosen or any(
        not isinstance(index, int) or isinstance(index, bool) or not -count <= index < count
        for index in chosen
    ):
        raise ValueError(
            f"{what} must be level numbers in {-count}..{count - 1} (this model has {count} levels); got {indices!r}"
        )
    normalized = [index % count for index in chosen]
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{what} names a level twice: {indices!r}")
    return normalized


class FeatureInfo:
    """timm's ``FeatureInfo`` surface: per returned level its channels, reduction and module."""

    def __init__(self, levels: list[dict[str, Any]], out_indices: list[int]) -> None:
        self.out_indices = tuple(out_indices)
        self.info = [levels[index] for index in out_indices]

    def _get(self, key: str, index: int | None) -> Any:
        return [level[key] for level in self.info] if index is None else self.info[index][key]

    def channels(self, index: int | None = None) -> list[int] | int:
        return self._get("num_chs", index)

    def reduction(self, index: int | None = None) -> list[int] | int:
        return self._get("reduction", index)

    def module_name(self, index: int | None = None) -> list[str] | str:
        return self._get("module", index)

    def get_dicts(self) -> list[dict[str, Any]]:
        return [dict(level) for level in self.info]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.info[index]

    def __len__(self) -> int:
        return len(self.info)


def forward_intermediates(
    model: nn.Module,
    x: torch.Tensor,
    indices: int | Sequence[int] | None = None,
    *,
    stop_early: bool = False,
    output_fmt: str = "NCHW",
    intermediates_only: bool = False,
) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
    """timm's ``forward_intermediates`` for a MobileNet: the feature maps of the levels
    ``indices`` and the body's final map (``(final, intermediates)``, or the list alone with
    ``intermediates_only``); ``stop_early`` stops after the deepest level asked for."""
    if output_fmt != "NCHW":
        raise ValueError(
            f"output_fmt must be 'NCHW' (MobileNet's convolutions are NCHW); got {output_fmt!r}"
        )
    levels = feature_levels(model)
    wanted = _level_indices(indices, len(levels), "indices")
    taps = {
        levels[index]["module"].split(".", 1)[1]: position for position, index in enumerate(wanted)
    }
    outputs: list[torch.Tensor | None] = [None] * len(wanted)
    last = max(taps, key=lambda name: model.endpoint_names.index(name))
    for name, module in model.features.named_children():
        x = module(x)
        if name in taps:
            outputs[taps[name]] = x
            if name == last and (stop_early or intermediates_only):
                break
    return outputs if intermediates_only else (x, outputs)


class FeatureMobileNet(nn.Module):
    """The body of a MobileNet up to its deepest requested level, returning a list of feature
    maps (N, C_i, H/r_i, W/r_i) in ``out_indices`` order."""

    def __init__(self, model: nn.Module, out_indices: int | Sequence[int] | None = None) -> None:
        super().__init__()
        levels = feature_levels(model)
        wanted = _level_indices(out_indices, len(levels), "out_indices")
        self.feature_info = FeatureInfo(levels, wanted)
        self.pretrained_cfg = {**model.pretrained_cfg, "num_classes": 0}
        self._taps = {
            name.split(".", 1)[1]: position
            for position, name in enumerate(self.feature_info.module_name())
        }
        names = list(model.features._modules)
        deepest = max(names.index(name) for name in self._taps)
        # The classifier's own modules (shared, not copied), under their names.
        self.features = nn.Sequential(
            OrderedDict((name, model.features._modules[name]) for name in names[: deepest + 1])
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outputs: list[torch.Tensor] = [x] * len(self._taps)
        for name, module in self.features.named_children():
            x = module(x)
            if name in self._taps:
                outputs[self._taps[name]] = x
        return outputs
