"""Great-circle distances on a sphere of the Earth's mean radius, and Table 11's evaluation: the
share of photos located within 1, 25, 200, 750 and 2500 km of where they were taken."""

from __future__ import annotations

from typing import Any

import numpy as np

EARTH_RADIUS_KM = 6371.0
# Table 11's rows, finest first: (name, km). PlaNet's scales: street, city, region, country, continent.
SCALES = (
    ("street", 1.0),
    ("city", 25.0),
    ("region", 200.0),
    ("country", 750.0),
    ("continent", 2500.0),
)
# Table 11, the "PlaNet MobileNet" column: share of Im2GPS's 237 test photos within each scale.
PAPER_PLANET_MOBILENET = {
    "street": 0.114,
    "city": 0.317,
    "region": 0.452,
    "country": 0.603,
    "continent": 0.793,
}


def haversine_km(lat1: Any, lng1: Any, lat2: Any, lng2: Any) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcast like numpy)."""
    lat1, lng1, lat2, lng2 = (
        np.radians(np.asarray(v, np.float64)) for v in (lat1, lng1, lat2, lng2)
    )
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def destination(
    lat: Any, lng: Any, bearing_deg: Any, distance_km: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The point ``distance_km`` from (lat, lng) along the great circle leaving at
    ``bearing_deg`` (clockwise from north); degrees, longitude in [-180, 180)."""
    lat, lng, bearing = (np.radians(np.asarray(v, np.float64)) for v in (lat, lng, bearing_deg))
    angle = np.asarray(distance_km, np.float64) / EARTH_RADIUS_KM
    lat2 = np.arcsin(np.sin(lat) * np.cos(angle) + np.cos(lat) * np.sin(angle) * np.cos(bearing))
    lng2 = lng + np.arctan2(
        np.sin(bearing) * np.sin(angle) * np.cos(lat), np.cos(angle) - np.sin(lat) * np.sin(lat2)
    )
    return np.degrees(lat2), (np.degrees(lng2) + 180.0) % 360.0 - 180.0


def share_key(name: str) -> str:
    """The metric name of a scale: "continent" -> "within_2500km"."""
    return f"within_{dict(SCALES)[name]:g}km"


def cumulative_shares(distances_km: Any, km: Any) -> np.ndarray:
    """The share of ``distances_km`` at most each of ``km`` (their empirical distribution
    function): the curve of photos located within d km."""
    distances = np.sort(np.asarray(distances_km, np.float64))
    if distances.size == 0:
        raise ValueError("no photos to evaluate")
    return np.searchsorted(distances, np.asarray(km, np.float64), side="right") / distances.size


def distance_shares(distances_km: Any) -> dict[str, float]:
    """The share of distances within each of Table 11's scales, keyed by ``share_key``."""
    shares = cumulative_shares(distances_km, [km for _, km in SCALES])
    return {share_key(name): float(share) for (name, _), share in zip(SCALES, shares)}
