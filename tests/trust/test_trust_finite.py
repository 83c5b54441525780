"""Weights holding NaN or inf (issue 20, item 5) are refused in one line naming the tensor,
from a safetensors file and from the command line, instead of loading silently."""

from __future__ import annotations

import math

import pytest

import mobilenets
from mobilenets.cli import main
from mobilenets.weights.hf import write_safetensors
from mobilenets.weights.pretrained import read_weights


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_weights_are_refused(bad: float, tmp_path, capsys) -> None:
    model = mobilenets.create_model("mobilenet_v1_025_128", num_classes=3)
    state = model.state_dict()
    state["classifier.weight"][1, 2] = bad
    path = tmp_path / "bad.safetensors"
    write_safetensors(
        dict(model=state, config=dict(model.config), pretrained_cfg=dict(model.pretrained_cfg)),
        path,
    )
    with pytest.raises(ValueError, match="classifier.weight holds NaN or infinite values"):
        read_weights(path)
    out = tmp_path / "converted.pt"
    assert main(["convert", "--from", "safetensors", str(path), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "classifier.weight" in error, error
    assert not out.exists()
