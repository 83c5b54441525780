"""The cells of a sweep: every alpha x resolution x variant, each trained ``trials_per_cell``
times with consecutive seeds. A trial is a plain dict (Ray Tune passes it to the worker) and
has a stable name, which is also its run folder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..models import VARIANTS


def parse_list(text: str, kind: type, flag: str) -> list[Any]:
    """``"0.25,0.5"`` as numbers of ``kind``; ValueError naming ``flag`` for anything else."""
    try:
        values = [kind(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ValueError(
            f"{flag} takes a comma-separated list of {kind.__name__} values; got {text!r}"
        ) from None
    if not values:
        raise ValueError(f"{flag} needs at least one value")
    return values


def trial_grid(
    alphas: Sequence[float],
    resolutions: Sequence[int],
    variants: Sequence[str] = ("separable",),
    *,
    trials_per_cell: int = 1,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Every (variant, alpha, resolution) cell, ``trials_per_cell`` times with seeds ``seed``,
    ``seed + 1``, ...; each trial ``{"alpha", "resolution", "variant", "seed"}``."""
    for alpha in alphas:
        if not alpha > 0:
            raise ValueError(f"alphas must be > 0; got {alpha!r}")
    for resolution in resolutions:
        if resolution < 32:
            raise ValueError(f"resolutions must be at least 32 pixels; got {resolution!r}")
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"variants must be among {', '.join(VARIANTS)}; got {variant!r}")
    if trials_per_cell < 1:
        raise ValueError(f"trials per cell must be at least 1; got {trials_per_cell!r}")
    trials = [
        {"alpha": float(alpha), "resolution": int(resolution), "variant": variant, "seed": seed + k}
        for variant in dict.fromkeys(variants)
        for alpha in dict.fromkeys(alphas)
        for resolution in dict.fromkeys(resolutions)
        for k in range(trials_per_cell)
    ]
    return trials


def trial_name(trial: dict[str, Any]) -> str:
    """``separable_a0.5_r32_s0``: readable, unique within a sweep, a valid folder name."""
    return f"{trial['variant']}_a{trial['alpha']:g}_r{trial['resolution']}_s{trial['seed']}"
