"""Phone exports: ExecuTorch (.pte) and LiteRT (.tflite) files run in their own runtimes against
PyTorch on real Fashion-MNIST test images, fp32 and PT2E int8, and a missing extra named in one
line."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from mobilenets.cli import main
from mobilenets.cost import count_cost
from mobilenets.deploy import export_model, load_model, real_inputs
from mobilenets.deploy.mobile import mobile_runner

FORMATS = ("executorch", "tflite")
# fp32: XNNPACK's kernels sum in another order than oneDNN's; on logits up to ~15 the
# difference measured 1e-5. Bound: 1e-4 of the largest logit.
FLOAT_RELATIVE_TOLERANCE = 1e-4
# int8 (per-channel weights, per-tensor activations, 64 calibration images) on a model of ~72%
# top-1: measured 97.5-99.5% top-1 agreement with float on 200 test images. The SNR is set by
# the model, not by the kernels exporting it (the same checkpoint gives the same SNR under AVX2
# and AVX-512): one epoch trained under AVX2 or AVX-512, bf16 or fp32, gave models whose
# largest logits (11-30) and per-tensor activation ranges differ, and 14.2-28.2 dB. Floor
# 10 dB: errors under a third of the logits' RMS; a wrong scale or zero-point gives < 3 dB.
INT8_MIN_AGREEMENT = 0.95
INT8_MIN_SNR_DB = 10.0
VERIFY_IMAGES = 200


@pytest.fixture(scope="module")
def trained(tiny_fashion_checkpoint):
    model = load_model(tiny_fashion_checkpoint)
    return model, real_inputs(model, "fashion-mnist", VERIFY_IMAGES, train=False)


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.numerics
def test_float_file_matches_pytorch_in_its_runtime(
    format, tiny_fashion_checkpoint, trained, tmp_path, capsys
) -> None:
    model, images = trained
    out = tmp_path / f"model.{format}"
    arguments = [
        "export",
        "--checkpoint",
        str(tiny_fashion_checkpoint),
        "--format",
        format,
        "--out",
        str(out),
        "--verify-images",
        "4",
    ]
    assert main([*arguments, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (
        result["format"] == format and not result["int8"] and result["verified_batch_sizes"] == [1]
    )
    # The file again, in its runtime, on 50 other images: exactly what the command reported would be.
    with mobile_runner(out, format) as run:
        outputs = run(images[-50:])
    with torch.inference_mode():
        expected = model(images[-50:]).numpy()
    assert outputs.shape == expected.shape == (50, 10)
    assert np.abs(outputs - expected).max() <= FLOAT_RELATIVE_TOLERANCE * np.abs(expected).max()
    assert (outputs.argmax(1) == expected.argmax(1)).all()
    assert main(arguments) == 2 and "exists" in capsys.readouterr().err


@pytest.mark.numerics
@pytest.mark.parametrize("format", FORMATS)
def test_int8_file_agrees_with_float_on_real_images(format, trained, tmp_path) -> None:
    model, images = trained
    calibration = real_inputs(model, "fashion-mnist", 64, train=True)
    path = tmp_path / f"int8.{format}"
    result = export_model(model, path, format, verify_inputs=images, int8_calibration=calibration)
    print(
        f"{format} int8: agreement {result['top1_agreement']:.3f}, SNR {result['snr_db']} dB, {result['bytes']:,} bytes"
    )
    assert result["int8"] and result["verified_images"] == VERIFY_IMAGES
    assert result["top1_agreement"] >= INT8_MIN_AGREEMENT
    assert result["snr_db"] >= INT8_MIN_SNR_DB
    # int8 weights: under half the bytes of the float32 weights alone.
    assert result["bytes"] < 2 * count_cost(model).params
    if format == "tflite":  # fully integer: int8 in and out, as NPUs and microcontrollers take
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(path))
        assert (
            interpreter.get_input_details()[0]["dtype"]
            == interpreter.get_output_details()[0]["dtype"]
            == np.int8
        )


@pytest.mark.parametrize(
    ("format", "module", "extra"),
    [("executorch", "executorch", "executorch"), ("tflite", "litert_torch", "litert")],
)
def test_missing_extra_is_named_in_one_line(
    format, module, extra, monkeypatch, tmp_path, capsys
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what Python does for a package not installed
    out = tmp_path / "model.bin"
    code = main(
        [
            "export",
            "--model",
            "mobilenet_v1_025_128",
            "--format",
            format,
            "--out",
            str(out),
            "--verify-data",
            "random",
        ]
    )
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1
    assert f"pip install 'mobilenets[{extra}]'" in error
    assert not out.exists()
