"""torch.hub entry points (hubconf.py) from a local checkout: every registered name, with
create_model's arguments and pretrained weights."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

import mobilenets
from mobilenets.models import MobileNetV1
from mobilenets.weights.pretrained import save_checkpoint

ROOT = Path(__file__).resolve().parents[2]


def test_hub_load_builds_registered_models_and_loads_weights(tmp_path) -> None:
    model = torch.hub.load(
        str(ROOT), "mobilenet_v1_025_128", source="local", num_classes=10, trust_repo=True
    )
    assert isinstance(model, MobileNetV1) and (
        model.alpha,
        model.resolution,
        model.num_classes,
    ) == (0.25, 128, 10)
    released = MobileNetV1(
        alpha=0.25, resolution=128, num_classes=5, padding="tf_same", activation="relu6"
    ).eval()
    weights = tmp_path / "w.pt"
    save_checkpoint(
        {
            "model": released.state_dict(),
            "config": released.config,
            "pretrained_cfg": released.pretrained_cfg,
        },
        weights,
    )
    loaded = torch.hub.load(
        str(ROOT), "mobilenet_v1_025_128", source="local", pretrained=str(weights), trust_repo=True
    ).eval()
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(loaded(x), released(x))
    with pytest.raises(RuntimeError, match="Cannot find callable mobilenet_v1_100_225"):
        torch.hub.load(str(ROOT), "mobilenet_v1_100_225", source="local", trust_repo=True)


def test_every_registered_name_is_an_entry_point() -> None:
    spec = importlib.util.spec_from_file_location("hubconf", ROOT / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    assert [
        name for name in mobilenets.list_models() if callable(getattr(hubconf, name, None))
    ] == mobilenets.list_models()
