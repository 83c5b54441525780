"""Im2GPS's nearest-neighbour baseline (Table 11's other column): the neighbour search against
scikit-learn's, the densest-neighbour rule on a hand-made case, and `eval-geo --baseline knn`
end to end on the built-in stand-in data against the same computation done independently."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.neighbors import NearestNeighbors

from mobilenets.cli import main
from mobilenets.data.transforms import IMAGENET_MEAN, IMAGENET_STD, build_transforms
from mobilenets.geo.cells import CellPartition
from mobilenets.geo.data import read_split
from mobilenets.geo.distance import SCALES, distance_shares, haversine_km, share_key
from mobilenets.geo.knn import knn_locations
from mobilenets.train.checkpoint import load_checkpoint, model_from_checkpoint

TRAINING = [
    "--alpha",
    "0.25",
    "--resolution",
    "32",
    "--optimizer",
    "adamw",
    "--lr",
    "5e-3",
    "--weight-decay",
    "1e-4",
    "--schedule",
    "cosine",
    "--batch-size",
    "32",
    "--no-augment",
    "--seed",
    "0",
    "--max-photos",
    "100",
    "--min-photos",
    "10",
]


def test_k1_is_the_nearest_training_photo_as_sklearn_finds_it() -> None:
    generator = torch.Generator().manual_seed(0)
    train = torch.nn.functional.normalize(torch.randn(300, 16, generator=generator), dim=1)
    queries = torch.nn.functional.normalize(torch.randn(70, 16, generator=generator), dim=1)
    latlngs = np.random.default_rng(0).uniform([-80, -180], [80, 180], size=(300, 2))
    index = (
        NearestNeighbors(n_neighbors=1, metric="cosine")
        .fit(train.numpy())
        .kneighbors(queries.numpy())[1][:, 0]
    )
    np.testing.assert_array_equal(
        knn_locations(train, latlngs, queries, k=1, chunk=32), latlngs[index]
    )


def test_the_densest_of_the_k_neighbours_wins_and_ties_go_to_the_nearest() -> None:
    paris, tokyo, tokyo_near, sydney = (
        [48.86, 2.35],
        [35.68, 139.69],
        [35.80, 139.90],
        [-33.87, 151.21],
    )
    latlngs = np.array([paris, tokyo, sydney, tokyo_near])
    train = torch.eye(4)
    # similarity order: paris, tokyo, sydney, tokyo_near (all four within k = 4)
    query = torch.nn.functional.normalize(torch.tensor([[0.9, 0.8, 0.7, 0.6]]), dim=1)
    np.testing.assert_array_equal(
        knn_locations(train, latlngs, query, k=4), [tokyo]
    )  # two photos within 200 km
    np.testing.assert_array_equal(
        knn_locations(train, latlngs, query, k=3), [paris]
    )  # one each: the nearest
    np.testing.assert_array_equal(knn_locations(train, latlngs, query, k=1), [paris])
    with pytest.raises(ValueError, match="k must be between 1 and the 4"):
        knn_locations(train, latlngs, query, k=5)


def _knn_on_a_trained_run(
    root: Path, capsys, images: int, epochs: int, *extra: str
) -> tuple[Path, Path, dict]:
    torch.set_num_threads(1)
    data, run = root / "data", root / "run"
    assert main(["data", "make-geo", "--out", str(data), "--images", str(images), "--json"]) == 0
    assert (
        main(
            [
                "train-geo",
                "--data",
                str(data),
                "--out",
                str(run),
                "--epochs",
                str(epochs),
                *TRAINING,
                *extra,
                "--json",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["eval-geo", "--checkpoint", str(run), "--baseline", "knn", "--json"]) == 0
    return data, run, json.loads(capsys.readouterr().out)


def assert_matches_an_independent_search(data: Path, run: Path, result: dict) -> None:
    """eval-geo's shares equal a nearest-photo search written here with numpy, on features the
    checkpoint's network gives (in eval-geo's batches of 64: oneDNN's kernels differ by batch size
    in the last bits). Training photos within float rounding of the best similarity are all "the
    nearest": each share must lie between its values with the farthest and the closest of them."""
    model = model_from_checkpoint(load_checkpoint(run / "best.pt")).eval()
    transform = build_transforms(
        32, False, in_channels=3, mean=IMAGENET_MEAN, std=IMAGENET_STD, crop_pct=0.875
    )

    def pooled(split: str) -> tuple[np.ndarray, np.ndarray]:
        photos = read_split(data, split)
        with torch.no_grad():
            images = torch.stack(
                [transform(Image.open(path).convert("RGB")) for path in photos.paths]
            )
            features = torch.cat(
                [model.forward_features(batch).mean((2, 3)) for batch in images.split(64)]
            )
        return features.numpy(), photos.latlngs

    train_features, train_latlngs = pooled("train")
    val_features, val_latlngs = pooled("val")

    def unit(features: np.ndarray) -> np.ndarray:
        return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)

    similarity = unit(val_features) @ unit(train_features).T
    near = similarity >= similarity.max(axis=1, keepdims=True) - 1e-5
    near[~similarity.any(axis=1)] = (
        np.arange(len(train_features)) == 0
    )  # all-zero features: the earliest photo
    ties = int((near.sum(axis=1) > 1).sum())
    assert ties <= len(near) // 10, (
        f"{ties} of {len(near)} queries have tied neighbours: the features say nothing"
    )
    distances = haversine_km(
        train_latlngs[None, :, 0],
        train_latlngs[None, :, 1],
        val_latlngs[:, None, 0],
        val_latlngs[:, None, 1],
    )
    most = distance_shares(np.where(near, distances, np.inf).min(axis=1))
    fewest = distance_shares(np.where(near, distances, -np.inf).max(axis=1))
    assert result["images"] == len(val_latlngs) and result["reference_photos"] == len(train_latlngs)
    for key in most:
        assert fewest[key] - 1e-9 <= result[key] <= most[key] + 1e-9, (
            key,
            fewest[key],
            result[key],
            most[key],
        )


def test_eval_geo_knn_reports_table_11_beside_the_paper(tmp_path: Path, capsys) -> None:
    # A short run's pooled features here all point one way (every cosine 1.0000001 after 3
    # epochs, whichever the lr): its nearest photos are float noise, so the comparison with an
    # independent search runs on the slow test's longer training.
    data, run, result = _knn_on_a_trained_run(tmp_path, capsys, 500, 3)
    assert (
        result["images"] == 100
        and result["reference_photos"] == 400
        and result["skipped_files"] == 0
    )
    assert result["baseline"] == "knn" and result["k"] == 1
    shares = [result[share_key(name)] for name, _ in SCALES]
    assert all(0 <= share <= 1 for share in shares) and shares == sorted(shares)
    assert [row["paper_im2gps"] for row in result["table_11"]] == [
        0.519,
        0.354,
        0.321,
        0.219,
        0.025,
    ]


@pytest.mark.slow
def test_knn_locates_photos_better_than_the_busiest_cell(tmp_path: Path, capsys) -> None:
    """With test_geo_train's data and training, the nearest photos place the stand-in's photos
    far better than putting every photo at the busiest cell, as an independent search does."""
    data, run, result = _knn_on_a_trained_run(tmp_path, capsys, 1250, 6)
    cells = CellPartition.load(run / "cells.json")
    busiest = cells.means[int(np.argmax(cells.counts))]
    val = read_split(data, "val").latlngs
    assert (
        result["within_2500km"]
        > distance_shares(haversine_km(*busiest, *val.T))["within_2500km"] + 0.15
    ), result
    assert_matches_an_independent_search(data, run, result)


def test_bad_neighbour_settings_are_refused_before_any_work(tmp_path: Path, capsys) -> None:
    missing = str(tmp_path / "no_such_run")  # refused first: the checkpoint is never opened
    assert main(["eval-geo", "--checkpoint", missing, "--baseline", "knn", "--k", "0"]) == 2
    assert (
        main(["eval-geo", "--checkpoint", missing, "--baseline", "knn", "--radius-km", "-5"]) == 2
    )
    assert capsys.readouterr().err.splitlines() == [
        "mobilenets eval-geo: error: argument --k: must be a whole number >= 1; got '0' (see --help)",
        "mobilenets eval-geo: error: argument --radius-km: must be a number > 0; got '-5' (see --help)",
    ]
