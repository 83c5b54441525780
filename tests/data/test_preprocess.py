"""The preprocessing that travels with the weights equals timm's evaluation transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import mobilenets

timm_data = pytest.importorskip("timm.data")


@pytest.mark.parametrize("name", ["mobilenet_v1_100_224", "mobilenet_v1_050_160"])
def test_transform_equals_timms(name: str) -> None:
    cfg = mobilenets.create_model(name).pretrained_cfg
    image = Image.fromarray(
        np.random.default_rng(0).integers(0, 256, (300, 451, 3), dtype=np.uint8)
    )
    ours = mobilenets.transform_from_config(cfg)(image)
    reference = timm_data.create_transform(
        input_size=cfg["input_size"],
        interpolation=cfg["interpolation"],
        crop_pct=cfg["crop_pct"],
        mean=cfg["mean"],
        std=cfg["std"],
    )(image)
    assert ours.shape == cfg["input_size"] and torch.equal(ours, reference)


def test_inputs_span_minus_one_to_one() -> None:
    transform = mobilenets.transform_from_config(
        mobilenets.create_model("mobilenet_v1_025_128").pretrained_cfg
    )
    assert torch.equal(transform(Image.new("RGB", (200, 150), "white")), torch.ones(3, 128, 128))
    assert torch.equal(transform(Image.new("RGB", (200, 150), "black")), -torch.ones(3, 128, 128))
