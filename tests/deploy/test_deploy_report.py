"""`mobilenets export-report`: every runtime and precision written, run on real held-out
Fashion-MNIST images and timed; its top-1 checked against the model's own on the same labels."""

from __future__ import annotations

import json

import pytest
import torch

from mobilenets.cli import main
from mobilenets.deploy import load_model
from mobilenets.deploy.inputs import labeled_inputs
from mobilenets.deploy.report import ROWS

IMAGES = 300
# int8 (64 calibration images) on the ~72% tiny model: measured 97-98% agreement, 25-27 dB.
INT8_MIN_AGREEMENT = 0.95
INT8_MIN_SNR_DB = 18.0


@pytest.mark.slow  # six exports: about a minute on a quiet 2-core machine, minutes on a busy one
def test_export_report_covers_every_runtime(tiny_fashion_checkpoint, tmp_path, capsys) -> None:
    out = tmp_path / "report"
    arguments = [
        "export-report",
        "--checkpoint",
        str(tiny_fashion_checkpoint),
        "--data",
        "fashion-mnist",
        "--images",
        str(IMAGES),
        "--calibration-images",
        "64",
        "--threads",
        "1",
        "--runs",
        "3",
        "--out",
        str(out),
    ]
    assert main([*arguments, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    model = load_model(tiny_fashion_checkpoint)
    images, labels = labeled_inputs(model, "fashion-mnist", IMAGES)
    with torch.inference_mode():
        float_top1 = round(100 * float((model(images).argmax(1) == labels).float().mean()), 2)
    rows = {(row["runtime"], row["precision"]): row for row in report["rows"]}
    assert list(rows) == [(runtime, precision) for runtime, precision, _ in ROWS]
    for (runtime, precision), row in rows.items():
        assert "skipped" not in row, row
        if precision == "fp32":
            assert row["top1_agreement"] == 1.0 and row["top1"] == float_top1
        else:
            assert row["top1_agreement"] >= INT8_MIN_AGREEMENT and row["snr_db"] >= INT8_MIN_SNR_DB
            assert abs(row["top1"] - float_top1) <= 2.0
        if runtime != "pytorch":
            assert (out / row["file"]).stat().st_size == row["bytes"]
    assert rows[("executorch", "int8")]["bytes"] < 0.5 * rows[("executorch", "fp32")]["bytes"]
    assert (out / "report.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((out / "report.json").read_text())["rows"] == report["rows"]
    assert main(arguments) == 2 and "exists" in capsys.readouterr().err
