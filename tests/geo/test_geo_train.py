"""Geolocation end to end on the built-in data (real Fashion-MNIST placed near cities by class):
the network learns where photos were taken, resumes, and eval-geo / locate agree with the model."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mobilenets.cli import main
from mobilenets.data.transforms import build_transforms
from mobilenets.geo.cells import CellPartition, partition
from mobilenets.geo.data import read_split
from mobilenets.geo.distance import distance_shares, haversine_km
from mobilenets.geo.plots import error_curve
from mobilenets.train.checkpoint import load_checkpoint, model_from_checkpoint

THRESHOLDS = ["--max-photos", "100", "--min-photos", "10"]
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
]
EPOCHS = 6


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, one_thread: None) -> tuple[Path, Path, dict]:
    """One short run (module-wide: training is the slow part), with one broken image in train.csv."""
    root = tmp_path_factory.mktemp("geo")
    data, run = root / "data", root / "run"
    assert main(["data", "make-geo", "--out", str(data), "--images", "1250", "--json"]) == 0
    (data / "broken.png").write_bytes(b"not a png")
    with open(data / "train.csv", "a") as handle:
        handle.write("broken.png,10.0,10.0\n")
    assert (
        main(
            [
                "train-geo",
                "--data",
                str(data),
                "--out",
                str(run),
                "--epochs",
                str(EPOCHS),
                *THRESHOLDS,
                *TRAINING,
                "--json",
            ]
        )
        == 0
    )
    return data, run, json.loads(Path(run / "summary.json").read_text())


def test_the_network_learns_where_photos_were_taken(trained: tuple[Path, Path, dict]) -> None:
    data, run, summary = trained
    train, val = read_split(data, "train"), read_split(data, "val")
    assert summary["skipped_files"] == 1 and len(train.paths) == 1000
    assert (
        summary["train_photos"] + summary["train_photos_outside_cells"] == 1000
        and summary["val_photos"] == 250
    )
    # The baseline: every photo placed at the location of the cell with the most training photos.
    cells = CellPartition.load(run / "cells.json")
    majority = cells.means[int(np.argmax(cells.counts))]
    baseline = distance_shares(haversine_km(*majority, val.latlngs[:, 0], val.latlngs[:, 1]))[
        "within_2500km"
    ]
    floor = 0.35
    assert baseline < floor - 0.15
    assert summary["within_2500km"] >= floor, summary


def test_the_checkpoint_carries_the_partition_of_the_training_split(
    trained: tuple[Path, Path, dict],
) -> None:
    data, run, summary = trained
    saved = load_checkpoint(run / "best.pt")["task"]["partition"]
    rebuilt = partition(read_split(data, "train").latlngs, 100, 10)
    assert saved == CellPartition.load(run / "cells.json").to_dict() == rebuilt.to_dict()
    assert (
        summary["num_cells"]
        == len(rebuilt)
        == load_checkpoint(run / "best.pt")["model_config"]["num_classes"]
    )


def _val_errors(
    data: Path, checkpoint_path: Path
) -> tuple[np.ndarray, torch.Tensor, CellPartition]:
    """Each val photo's error in km, computed here from the checkpoint's network and cells; the
    logits and the cells too."""
    checkpoint = load_checkpoint(checkpoint_path)
    model = model_from_checkpoint(checkpoint).eval()
    about, cells = checkpoint["task"], CellPartition.from_dict(checkpoint["task"]["partition"])
    transform = build_transforms(
        32, False, in_channels=3, mean=about["mean"], std=about["std"], crop_pct=about["crop_pct"]
    )
    val = read_split(data, "val")
    with torch.no_grad():
        logits = model(torch.stack([transform(Image.open(path)) for path in val.paths]))
    placed = cells.means[logits.argmax(1).numpy()]
    return (
        haversine_km(placed[:, 0], placed[:, 1], val.latlngs[:, 0], val.latlngs[:, 1]),
        logits,
        cells,
    )


def test_eval_geo_equals_the_shares_of_the_models_own_outputs(trained, capsys) -> None:
    data, run, _ = trained
    assert main(["eval-geo", "--checkpoint", str(run / "last.pt"), "--json", "--force"]) == 0
    result = _json(capsys)
    errors, logits, cells = _val_errors(data, run / "last.pt")
    val = read_split(data, "val")
    expected = distance_shares(errors)
    assert {key: result[key] for key in expected} == expected
    assert [row["share"] for row in result["table_11"]] == [
        expected[k] for k in sorted(expected, key=lambda k: -float(k[7:-2]))
    ]
    assert result["cell_top1"] == pytest.approx(
        float((logits.argmax(1).numpy() == cells.cells_of(val.latlngs)).mean())
    )
    assert main(["eval-geo", "--checkpoint", str(run), "--force"]) == 0
    assert "Continent (2500 km)" in capsys.readouterr().out


def test_eval_geo_draws_the_share_within_d_km(trained, tmp_path: Path, capsys, monkeypatch) -> None:
    data, run, _ = trained
    out = tmp_path / "curve.png"
    assert (
        main(["eval-geo", "--checkpoint", str(run / "last.pt"), "--plot", str(out), "--json"]) == 0
    )
    result = _json(capsys)
    assert (
        result["plot"] == str(out) and len(json.dumps(result)) < 2000
    )  # the per-photo errors stay out of the JSON
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (840, 540)  # 7 x 4.5 inches at 120 dpi
        image.load()
    # The curve drawn, from errors computed here, passes through eval-geo's five shares.
    km, shares = error_curve(_val_errors(data, run / "last.pt")[0])
    assert (
        km[0] == 1 and km[-1] == 20_000 and np.all(np.diff(km) > 0) and np.all(np.diff(shares) >= 0)
    )
    assert [shares[km == row["km"]].item() for row in result["table_11"]] == [
        row["share"] for row in result["table_11"]
    ]
    # The default: beside the checkpoint the run folder names (best.pt).
    assert main(["eval-geo", "--checkpoint", str(run), "--limit-val", "16", "--json"]) == 0
    assert (
        _json(capsys)["plot"] == str(run / "best.geo.png")
        and (run / "best.geo.png").stat().st_size > 0
    )
    # Its own side file is replaced freely: the evaluation never refuses because of it.
    assert main(["eval-geo", "--checkpoint", str(run), "--limit-val", "8", "--json"]) == 0
    assert _json(capsys)["plot"] == str(run / "best.geo.png")
    # A PNG of the user's is refused, before evaluating, unless --force.
    drawn = out.read_bytes()
    assert main(["eval-geo", "--checkpoint", str(run / "last.pt"), "--plot", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        "exists" in err and "--force" in err and err.count("\n") == 1 and out.read_bytes() == drawn
    )
    # Without matplotlib: the numbers, a warning, and no PNG.
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # importing it now raises ImportError
    with pytest.warns(UserWarning, match="matplotlib is not installed"):
        assert (
            main(
                [
                    "eval-geo",
                    "--checkpoint",
                    str(run),
                    "--limit-val",
                    "16",
                    "--plot",
                    str(tmp_path / "none.png"),
                    "--json",
                ]
            )
            == 0
        )
    assert "plot" not in _json(capsys) and not (tmp_path / "none.png").exists()


def test_locate_and_resume(trained, capsys) -> None:
    data, run, _ = trained
    images = [str(path) for path in sorted((data / "images" / "val").iterdir())[:2]]
    assert main(["locate", "--checkpoint", str(run), *images, "--top-k", "3", "--json"]) == 0
    found = _json(capsys)
    cells = CellPartition.load(run / "cells.json")
    for row in found:
        probabilities = [top["probability"] for top in row["top"]]
        assert (
            len(probabilities) == 3
            and probabilities == sorted(probabilities, reverse=True)
            and 0 < sum(probabilities) <= 1
        )
        for top in row["top"]:
            assert (
                cells.tokens[top["index"]] == top["cell"]
                and [top["lat"], top["lng"]] == cells.means[top["index"]].tolist()
            )
    assert main(["train-geo", "--resume", str(run), "--epochs", str(EPOCHS + 1), "--json"]) == 0
    assert _json(capsys)["epochs"] == EPOCHS + 1
    assert [
        json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()
    ] == list(range(1, EPOCHS + 2))
    assert (
        CellPartition.load(run / "cells.json").to_dict()
        == load_checkpoint(run / "last.pt")["task"]["partition"]
    )


def test_user_mistakes_are_one_line_with_exit_2(trained, tmp_path: Path, capsys) -> None:
    data, run, _ = trained
    cases = [
        (
            ["train-geo", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r")],
            "train.csv",
        ),
        (
            [
                "train-geo",
                "--data",
                str(data),
                "--out",
                str(tmp_path / "r"),
                "--min-photos",
                "1001",
            ],
            "lower them",
        ),
        (["train-geo", "--data", str(data), "--out", str(run), *THRESHOLDS], "exists"),
        (["data", "make-geo", "--out", str(data), "--images", "10"], "exists"),
        (["locate", "--checkpoint", str(run), str(tmp_path / "missing.png")], "no image file"),
        (["eval-geo", "--checkpoint", str(tmp_path / "none.pt")], "no checkpoint"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "r").exists()  # refused before the run folder was made
