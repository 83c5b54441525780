"""PlaNet's S2 partition against s2sphere's own containment, great-circle distances against
known city pairs, Table 11's shares, and the cost of the PlaNet MobileNet."""

from pathlib import Path

import numpy as np
import pytest
import s2sphere

from mobilenets.geo.cells import CellPartition, partition
from mobilenets.geo.distance import EARTH_RADIUS_KM, destination, distance_shares, haversine_km
from mobilenets.paper import Cell, mobilenet_cost

FACE_CENTRES = [(0.0, 0.0), (0.0, 90.0), (89.0, 0.0), (0.0, 180.0), (0.0, -90.0), (-89.0, 0.0)]


def _leaf(lat: float, lng: float) -> s2sphere.CellId:
    return s2sphere.CellId.from_lat_lng(s2sphere.LatLng.from_degrees(lat, lng))


def _clusters(rng: np.random.Generator) -> np.ndarray:
    """Dense, medium, sparse and lone photos: London 300, Tokyo 120, Sydney 20, 3 at sea."""
    parts = [
        np.array(centre) + rng.normal(0, scale, (count, 2))
        for centre, count, scale in (
            ((51.5, -0.1), 300, 0.3),
            ((35.7, 139.7), 120, 1.0),
            ((-33.9, 151.2), 20, 0.5),
            ((-40.0, -120.0), 3, 5.0),
        )
    ]
    return np.concatenate(parts)


def test_partition_follows_planets_rule_by_s2spheres_containment() -> None:
    points = _clusters(np.random.default_rng(0))
    max_photos, min_photos = 40, 5
    cells = partition(points, max_photos, min_photos)
    ids = [s2sphere.CellId.from_token(token) for token in cells.tokens]
    leaves = [_leaf(lat, lng) for lat, lng in points]
    containing = [[i for i, cell in enumerate(ids) if cell.contains(leaf)] for leaf in leaves]
    assert all(len(found) <= 1 for found in containing)  # the kept cells are disjoint ...
    assert not any(a.contains(b) for a in ids for b in ids if a != b)
    mapped = [found[0] if found else -1 for found in containing]
    assert (
        cells.cells_of(points).tolist() == mapped
    )  # ... and each photo maps to the cell that contains it
    assert cells.counts == np.bincount([m for m in mapped if m >= 0], minlength=len(ids)).tolist()
    assert cells.dropped_photos == mapped.count(-1) > 0 and sum(
        cells.counts
    ) + cells.dropped_photos == len(points)
    assert all(min_photos <= count <= max_photos for count in cells.counts)
    # No cell was split needlessly: every kept cell's parent held more than max_photos.
    for cell in ids:
        assert (
            cell.level() == 0 or sum(cell.parent().contains(leaf) for leaf in leaves) > max_photos
        )
    assert ids == sorted(ids) and len(ids) >= 8  # London's cluster alone needs 8+ cells of <= 40
    # S2 cells are convex: both predicted locations lie in their own cell.
    assert cells.cells_of(cells.centers).tolist() == list(range(len(ids)))
    assert cells.cells_of(cells.means).tolist() == list(range(len(ids)))


def test_six_faces_when_nothing_is_split_and_sparse_faces_dropped() -> None:
    points = [centre for face, centre in enumerate(FACE_CENTRES) for _ in range(face + 1)]
    cells = partition(points, 10**9, 1)
    assert cells.tokens == [
        s2sphere.CellId.from_face_pos_level(face, 0, 0).to_token() for face in range(6)
    ]
    assert cells.counts == [1, 2, 3, 4, 5, 6] and cells.dropped_photos == 0
    dropped = partition(points, 10**9, 3)
    assert dropped.counts == [3, 4, 5, 6] and dropped.dropped_photos == 3
    assert dropped.cell_of(*FACE_CENTRES[0]) is None and dropped.cell_of(*FACE_CENTRES[2]) == 0


def test_a_crowded_spot_splits_down_to_max_level_only() -> None:
    cells = partition([(48.8584, 2.2945)] * 12, 5, 1, max_level=7)
    assert cells.counts == [12] and cells.tokens == [_leaf(48.8584, 2.2945).parent(7).to_token()]


def test_partition_saves_and_loads_as_json(tmp_path: Path) -> None:
    cells = partition(_clusters(np.random.default_rng(1)), 50, 5)
    cells.save(tmp_path / "cells.json")
    with pytest.raises(FileExistsError):
        cells.save(tmp_path / "cells.json")
    loaded = CellPartition.load(tmp_path / "cells.json")
    assert loaded.to_dict() == cells.to_dict()
    assert loaded.cell_of(51.5, -0.1) == cells.cell_of(51.5, -0.1) is not None
    with pytest.raises(ValueError, match="latitude"):
        partition([(91.0, 0.0)], 5, 1)


def test_haversine_on_known_city_pairs() -> None:
    london, paris, new_york, los_angeles = (
        (51.5074, -0.1278),
        (48.8566, 2.3522),
        (40.7128, -74.0060),
        (34.0522, -118.2437),
    )
    assert haversine_km(*london, *paris) == pytest.approx(343.5, abs=0.5)
    assert haversine_km(*new_york, *los_angeles) == pytest.approx(3935.7, abs=1.0)
    assert haversine_km(0, 0, 0, 180) == pytest.approx(np.pi * EARTH_RADIUS_KM)
    assert haversine_km(*paris, *london) == haversine_km(*london, *paris)
    lat, lng = destination(*london, [0, 90, 200], [100.0, 2000.0, 300.0])
    assert haversine_km(*london, lat, lng) == pytest.approx([100.0, 2000.0, 300.0])
    assert lat[0] > london[0] and lng[1] > london[1]  # north, then east


def test_distance_shares_are_table_11s_rows() -> None:
    shares = distance_shares(np.array([0.5, 1.0, 10.0, 100.0, 500.0, 1000.0, 3000.0, 20000.0]))
    assert shares == {
        "within_1km": 2 / 8,
        "within_25km": 3 / 8,
        "within_200km": 4 / 8,
        "within_750km": 5 / 8,
        "within_2500km": 6 / 8,
    }


def test_planet_mobilenet_cost_against_table_11() -> None:
    """Table 11's PlaNet MobileNet: 1.0 MobileNet-224 over 26,263 cells, "13M params (3M body,
    10M final layer), 0.58B mult-adds". The mult-adds and the body agree; the final layer does
    not: 1024 features x 26,263 cells is 26.9M weights, so the total is 30.1M, not 13M."""
    cost, body = (
        mobilenet_cost(1.0, 224, num_classes=26263),
        mobilenet_cost(1.0, 224, num_classes=0),
    )
    assert Cell("11", "PlaNet MobileNet", "B mult-adds", "0.58", cost.mult_adds / 1e9).ok  # 0.595B
    assert Cell("11", "PlaNet MobileNet", "M params (body)", "3", body.params / 1e6).ok  # 3.2M
    assert cost.params - body.params == 1024 * 26263 + 26263
    assert not Cell("11", "PlaNet MobileNet", "M params", "13", cost.params / 1e6).ok
