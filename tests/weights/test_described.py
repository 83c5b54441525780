"""Weights files whose config or pretrained_cfg asks for what cannot be built or preprocessed
(huge models, crops of zero, means of the wrong length, unknown interpolations) are refused in
one line naming the file and the field, before anything is built."""

from __future__ import annotations

import json

import pytest
from safetensors.torch import save_file

from mobilenets import mobilenet_v1
from mobilenets.cli import main
from mobilenets.weights.hf import METADATA_KEY
from mobilenets.weights.pretrained import checkpoint_of

HOSTILE = {
    "huge classifier": ({"num_classes": 10**9}, {}, "num_classes must be a whole number"),
    "huge width": ({"alpha": 4.0, "resolution": 2048}, {}, "a MobileNet v1 of alpha 4 needs"),
    "unknown argument": ({"depth": 3}, {}, "its config is not a MobileNet v1's"),
    "crop 0": ({}, {"crop_pct": 0}, "crop_pct must be a number in (0, 1]; got 0"),
    "crop -1": ({}, {"crop_pct": -1}, "crop_pct must be a number in (0, 1]; got -1"),
    "crop text": ({}, {"crop_pct": "x"}, "crop_pct must be a number in (0, 1]; got 'x'"),
    "short mean": ({}, {"mean": [0.5, 0.5]}, "mean must be 3 finite numbers"),
    "NaN mean": ({}, {"mean": [float("nan")] * 3}, "mean must be 3 finite numbers"),
    "zero std": ({}, {"std": [0, 0, 0]}, "std must be 3 positive finite numbers"),
    "interpolation": ({}, {"interpolation": "evil"}, "interpolation must be one of nearest"),
    "huge input": ({}, {"input_size": [3, 10**6, 10**6]}, "input_size must be (3, H, W)"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_description_is_one_line_naming_the_field(case, tmp_path, capsys) -> None:
    config, cfg, message = HOSTILE[case]
    checkpoint = checkpoint_of(mobilenet_v1(alpha=0.25, resolution=32, num_classes=10))
    described = {
        "config": {**checkpoint["config"], **config},
        "pretrained_cfg": {**checkpoint["pretrained_cfg"], **cfg},
    }
    path = tmp_path / "weights.safetensors"
    tensors = {name: tensor.contiguous() for name, tensor in checkpoint["model"].items()}
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(described)})
    image = tmp_path / "image.png"
    image.write_bytes(b"not read")  # refused before any image is opened
    assert main(["predict", "--pretrained", str(path), str(image)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{path}: " in error and message in error, error
