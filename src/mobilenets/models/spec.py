"""Table 1 of the paper as data, and the architecture variants the paper compares.

The body is a tuple of small layer specs, walked by the builder (as TF-slim's ``_CONV_DEFS``).
Each spec keeps its row index in Table 1, which names its endpoints (``Conv2d_{index}``).
"""

from __future__ import annotations

from typing import NamedTuple


class Conv(NamedTuple):
    """A full convolution followed by batch norm and activation."""

    index: int
    kernel: int
    stride: int
    depth: int


class Separable(NamedTuple):
    """A depthwise convolution, then a 1x1 pointwise convolution, each with BN and activation."""

    index: int
    kernel: int
    stride: int
    depth: int


class Flattened(NamedTuple):
    """Jin et al.'s flattened convolution: lateral 1x1, vertical kx1 and horizontal 1xk filters."""

    index: int
    kernel: int
    stride: int
    depth: int


LayerSpec = Conv | Separable | Flattened

# The paper prints stride 2 for row 13; the reference code (and the 7x7 output) use 1.
MOBILENET_V1_BODY: tuple[LayerSpec, ...] = (
    Conv(0, 3, 2, 32),
    Separable(1, 3, 1, 64),
    Separable(2, 3, 2, 128),
    Separable(3, 3, 1, 128),
    Separable(4, 3, 2, 256),
    Separable(5, 3, 1, 256),
    Separable(6, 3, 2, 512),
    Separable(7, 3, 1, 512),
    Separable(8, 3, 1, 512),
    Separable(9, 3, 1, 512),
    Separable(10, 3, 1, 512),
    Separable(11, 3, 1, 512),
    Separable(12, 3, 2, 1024),
    Separable(13, 3, 1, 1024),
)

# Table 5's shallow MobileNet drops the five 14x14x512 separable layers.
SHALLOW_REMOVED = frozenset({7, 8, 9, 10, 11})

VARIANTS = ("separable", "conv", "shallow", "flattened")


def body_spec(variant: str = "separable") -> tuple[LayerSpec, ...]:
    """The layer specs of one variant: "separable" (the paper's), "conv" (Table 4),
    "shallow" (Table 5) or "flattened" (prior work; the first layer stays a full conv)."""
    if variant == "separable":
        return MOBILENET_V1_BODY
    if variant == "shallow":
        return tuple(spec for spec in MOBILENET_V1_BODY if spec.index not in SHALLOW_REMOVED)
    if variant == "conv":
        return tuple(Conv(*spec) for spec in MOBILENET_V1_BODY)
    if variant == "flattened":
        return tuple(
            spec if isinstance(spec, Conv) else Flattened(*spec) for spec in MOBILENET_V1_BODY
        )
    raise ValueError(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")


def scaled_depth(depth: int, alpha: float, min_depth: int = 8) -> int:
    """The width multiplier rule of the reference code: max(int(depth * alpha), min_depth)."""
    return max(int(depth * alpha), min_depth)
