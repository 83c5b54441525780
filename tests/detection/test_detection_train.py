import json
from pathlib import Path

import pytest

from mobilenets.cli import main
from mobilenets.detection.synthetic import make_detection


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def test_train_resume_evaluate_and_draw_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_detection(tmp_path / "data", 4, seed=1, progress=False)
    run = tmp_path / "run"
    common = [
        "--data",
        str(tmp_path / "data"),
        "--alpha",
        "0.25",
        "--batch-size",
        "2",
        "--limit-val",
        "1",
        "--seed",
        "0",
    ]
    assert (
        main(
            [
                "train-detector",
                "--arch",
                "ssd300",
                "--out",
                str(run),
                "--epochs",
                "1",
                *common,
                "--json",
            ]
        )
        == 0
    )
    summary = _json(capsys)
    assert summary["epochs"] == 1 and summary["num_classes"] == 11 and 0 <= summary["map"] <= 1
    assert summary["data_train"]["images"] == 3 and summary["params"] > 0
    # The shared loop's rules: an existing run is refused, and a run resumes to more epochs.
    assert main(["train-detector", "--arch", "ssd300", "--out", str(run), *common]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["train-detector", "--resume", str(run), "--epochs", "2", "--json"]) == 0
    assert _json(capsys)["epochs"] == 2
    assert [
        json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()
    ] == [1, 2]

    assert (
        main(
            ["eval-detector", "--checkpoint", str(run), "--data", str(tmp_path / "data"), "--json"]
        )
        == 0
    )
    result = _json(capsys)
    assert set(result) >= {"map", "map_50", "per_class"} and len(result["per_class"]) == 10
    data = str(tmp_path / "data")
    assert (
        main(
            [
                "eval-detector",
                "--checkpoint",
                str(run),
                "--data",
                data,
                "--split",
                "train",
                "--limit-val",
                "2",
                "--json",
            ]
        )
        == 0
    )
    assert _json(capsys)["images"] == 2  # of the 3 training images

    image = tmp_path / "data" / "val" / "000001.png"
    assert (
        main(
            [
                "detect",
                "--checkpoint",
                str(run / "last.pt"),
                str(image),
                "--out",
                str(tmp_path / "drawn"),
                "--score-thresh",
                "0",
                "--json",
            ]
        )
        == 0
    )
    drawn = _json(capsys)
    assert Path(drawn[0]["output"]).is_file() and drawn[0]["detections"]
    assert set(drawn[0]["detections"][0]) == {"category_id", "label", "score", "box"}
    assert (
        main(["detect", "--checkpoint", str(run), str(image), "--out", str(tmp_path / "drawn")])
        == 2
    )
