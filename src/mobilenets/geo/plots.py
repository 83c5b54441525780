"""Table 11 as a picture: the share of photos located within d km, as a curve over d, with the
five scales marked and the paper's PlaNet MobileNet column as points."""

from __future__ import annotations

import os

import numpy as np

from ..plots import pyplot, save_png
from .distance import PAPER_PLANET_MOBILENET, SCALES, cumulative_shares

# From 1 km (street) to 20,000 km, about the farthest two places on Earth are apart (20,015 km).
CURVE_KM = np.union1d(np.geomspace(1.0, 20_000.0, 241), [km for _, km in SCALES])


def error_curve(distances_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The curve drawn: distances d (``CURVE_KM``, Table 11's scales among them) and the share of
    photos whose error is at most d."""
    return CURVE_KM, cumulative_shares(distances_km, CURVE_KM)


def save_geo_plot(
    distances_km: np.ndarray, path: str | os.PathLike[str], *, title: str, force: bool = False
) -> bool:
    """The error curve of ``distances_km`` as a PNG at ``path`` (written atomically, refused if it
    exists and not ``force``); False, with a warning, without matplotlib."""
    plt = pyplot("geolocation", extra="geo")
    if plt is None:
        return False
    km, shares = error_curve(distances_km)
    scales = np.array([km for _, km in SCALES])
    figure, axes = plt.subplots(figsize=(7, 4.5))
    axes.plot(km, 100 * shares, label=f"this model ({len(distances_km)} photos)")
    axes.scatter(scales, 100 * shares[np.isin(km, scales)], zorder=3)
    axes.scatter(
        scales,
        [100 * PAPER_PLANET_MOBILENET[name] for name, _ in SCALES],
        marker="s",
        color="tab:red",
        zorder=3,
        label="PlaNet MobileNet (paper, Im2GPS)",
    )
    for name, scale in SCALES:
        axes.axvline(scale, color="grey", linestyle=":", linewidth=0.8)
        axes.text(scale, 101, f"{name}\n{scale:g} km", ha="center", va="bottom", fontsize=7)
    axes.set_xscale("log")
    axes.set_xlim(km[0], km[-1])
    axes.set_ylim(0, 100)
    axes.set_xlabel("distance from where the photo was taken (km)")
    axes.set_ylabel("photos located within (%)")
    axes.set_title(title, fontsize=9, pad=28)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    save_png(figure, path, force=force)
    return True
