"""The face applications' evaluations drawn as PNG files: each attribute's AP beside its chance
level, and the verification ROC with its operating points. Without matplotlib each returns
False (with a warning) and the evaluation goes on (``mobilenets.plots``)."""

from __future__ import annotations

import math
import os

import torch

from ..plots import pyplot, save_png
from .metrics import VerificationCurve, operating_points


def plot_attributes(
    per_attribute: dict[str, float],
    frequency: dict[str, float],
    path: str | os.PathLike[str],
    *,
    title: str,
    force: bool = False,
) -> bool:
    """A bar per attribute of its average precision beside its chance level (its frequency: the
    AP of scores that ignore the image)."""
    plt = pyplot("attribute AP")
    if plt is None:
        return False
    names = list(per_attribute)
    positions = list(range(len(names)))
    figure, axes = plt.subplots(figsize=(max(6.0, 0.8 * len(names) + 2), 4.5))
    axes.bar(
        [x - 0.2 for x in positions],
        [per_attribute[name] for name in names],
        width=0.4,
        label="average precision",
    )
    axes.bar(
        [x + 0.2 for x in positions],
        [frequency[name] for name in names],
        width=0.4,
        color="0.7",
        label="chance (frequency)",
    )
    axes.set_xticks(positions, names, rotation=45, ha="right")
    axes.set_ylim(0, 1.15)  # room above the bars for the legend
    axes.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    axes.set_ylabel("average precision")
    axes.grid(True, axis="y", alpha=0.3)
    axes.legend(fontsize=8, loc="upper center", ncol=2)
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    save_png(figure, path, force=force)
    return True


def plot_roc(
    curve: VerificationCurve,
    rates: dict[str, float],
    path: str | os.PathLike[str],
    *,
    title: str,
    force: bool = False,
) -> bool:
    """True-accept rate against false-accept rate, log x from the smallest non-zero rate the
    different pairs allow (1 / their count) to 1, the ``rates["far_target"]`` operating point and
    the best-accuracy threshold's point marked. The curve is drawn exactly at 500 log-spaced FARs
    (a step function there), not through every one of up to 12.5M points."""
    plt = pyplot("ROC")
    if plt is None:
        return False
    left = min(1 / curve.different_pairs, rates["far_target"])
    grid = torch.logspace(math.log10(left), 0, 500, dtype=torch.double)
    points = operating_points(curve, grid)
    tar = torch.where(points >= 0, curve.tar[points.clamp(min=0)], 0.0)
    figure, axes = plt.subplots(figsize=(6.5, 4.8))
    axes.plot(grid.tolist(), tar.tolist(), drawstyle="steps-post", label="ROC")
    axes.plot(grid.tolist(), grid.tolist(), ":", color="0.6", label="chance")
    axes.plot(
        [rates["far_target"]],
        [rates["tar"]],
        "o",
        color="red",
        label=f"TAR {rates['tar']:.2%} at FAR {rates['far_target']:g} (threshold {rates['threshold']:.3g})",
    )
    best = int(
        torch.searchsorted(
            curve.thresholds,
            torch.tensor([rates["accuracy_threshold"]], dtype=curve.thresholds.dtype),
        )
    )
    axes.plot(
        [max(float(curve.far[best]), left)],
        [float(curve.tar[best])],
        "s",
        color="green",
        clip_on=False,
        label=f"best accuracy {rates['accuracy']:.2%} (distance <= {rates['accuracy_threshold']:.3g}: "
        f"FAR {float(curve.far[best]):.2g}, TAR {float(curve.tar[best]):.2%})",
    )
    axes.set_xscale("log")
    axes.set_xlim(left, 1)
    axes.set_ylim(0, 1.01)
    axes.set_xlabel(f"false-accept rate ({curve.different_pairs} different-identity pairs)")
    axes.set_ylabel(f"true-accept rate ({curve.same_pairs} same-identity pairs)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, loc="upper left")  # a ROC leaves the top left empty
    axes.set_title(title, fontsize=10)
    figure.tight_layout()
    save_png(figure, path, force=force)
    return True
