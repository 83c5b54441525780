"""Backbones for dense tasks: ``create_model(..., features_only=True)`` against timm's
mobilenetv1_100 (channels, reductions, shapes), against the classifier's own endpoints (values),
and exported to ONNX and ExecuTorch with every feature map checked in the runtime."""

from __future__ import annotations

import math

import numpy as np
import pytest
import timm
import torch

from mobilenets.deploy import export_mobile, export_onnx, onnx_session
from mobilenets.deploy.mobile import mobile_runner
from mobilenets.models import create_model
from mobilenets.models.features import forward_intermediates

# Float tolerance of an exported feature map against PyTorch (maps of order 1).
TOLERANCE = dict(rtol=1e-4, atol=1e-4)


def _spatial(size: int, reduction: int) -> int:
    """Symmetric padding: every stride-2 3x3 layer maps H to ceil(H / 2)."""
    for _ in range(int(math.log2(reduction))):
        size = math.ceil(size / 2)
    return size


@pytest.mark.parametrize(
    ("name", "alpha"), [("mobilenet_v1_100_224", 1.0), ("mobilenet_v1_050_160", 0.5)]
)
def test_levels_match_timm_and_odd_resolution_shapes(name, alpha) -> None:
    reference = timm.create_model("mobilenetv1_100", features_only=True, pretrained=False).eval()
    backbone = create_model(name, features_only=True).eval()
    assert (
        backbone.feature_info.reduction() == reference.feature_info.reduction() == [2, 4, 8, 16, 32]
    )
    assert backbone.feature_info.channels() == [
        int(alpha * c) for c in reference.feature_info.channels()
    ]
    strided = create_model(name, features_only=True, out_indices=(1, 2, 3, 4)).eval()
    assert strided.feature_info.reduction() == [4, 8, 16, 32]
    assert strided.feature_info.channels() == [int(alpha * c) for c in (128, 256, 512, 1024)]
    x = torch.randn(2, 3, 97, 97)  # odd: every level rounds up
    with torch.no_grad():
        maps, timm_maps = strided(x), reference(x)[1:]
    for feature, timm_map, channels, reduction in zip(
        maps, timm_maps, strided.feature_info.channels(), strided.feature_info.reduction()
    ):
        assert (
            feature.shape
            == (2, channels, _spatial(97, reduction), _spatial(97, reduction))
            == (2, channels, *timm_map.shape[2:])
        )


def test_backbone_maps_are_the_classifiers_endpoints() -> None:
    classifier = create_model("mobilenet_v1_025_128").eval()
    backbone = create_model("mobilenet_v1_025_128", features_only=True, out_indices=(-1, 1)).eval()
    assert backbone.feature_info.module_name() == [
        "features.Conv2d_13_pointwise",
        "features.Conv2d_3_pointwise",
    ]
    # Same layer names: a classifier checkpoint loads, only the head is left over.
    missing, unexpected = backbone.load_state_dict(classifier.state_dict(), strict=False)
    assert missing == [] and sorted(unexpected) == ["classifier.bias", "classifier.weight"]
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        endpoints = classifier.forward_endpoints(x, ["Conv2d_3_pointwise", "Conv2d_13_pointwise"])
        deep, shallow = backbone(x)
        final, intermediates = classifier.forward_intermediates(x, indices=2)
        only = forward_intermediates(classifier, x, indices=[1], intermediates_only=True)
    torch.testing.assert_close(shallow, endpoints["Conv2d_3_pointwise"], rtol=0, atol=0)
    torch.testing.assert_close(deep, endpoints["Conv2d_13_pointwise"], rtol=0, atol=0)
    torch.testing.assert_close(final, classifier.forward_features(x), rtol=0, atol=0)
    assert [t.shape[1] for t in intermediates] == [128, 256] and len(only) == 1
    torch.testing.assert_close(only[0], shallow, rtol=0, atol=0)
    with pytest.raises(ValueError, match="out_indices must be level numbers in -5..4"):
        create_model("mobilenet_v1_025_128", features_only=True, out_indices=(5,))


def test_backbone_exports_to_onnx_and_executorch(tmp_path) -> None:
    torch.manual_seed(0)
    backbone = create_model(
        "mobilenet_v1_025_128", features_only=True, out_indices=(1, 2, 3, 4), resolution=96
    ).eval()
    for module in backbone.modules():  # non-trivial statistics, so the folded maps mean something
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = [t.numpy() for t in backbone(x)]
    names = [f"stride_{r}" for r in backbone.feature_info.reduction()]
    session = onnx_session(export_onnx(backbone, tmp_path / "backbone.onnx", output_names=names))
    assert [output.name for output in session.get_outputs()] == names
    for got, want in zip(session.run(None, {"input": x.numpy()}), expected):
        np.testing.assert_allclose(got, want, **TOLERANCE)
    path = export_mobile(backbone, tmp_path / "backbone.pte", "executorch", example=x)
    with mobile_runner(path, "executorch") as run:
        outputs = run(x)
    assert (
        [o.shape for o in outputs]
        == [w.shape for w in expected]
        == [(2, c, 96 // r, 96 // r) for c, r in zip((32, 64, 128, 256), (4, 8, 16, 32))]
    )
    for got, want in zip(outputs, expected):
        np.testing.assert_allclose(got, want, **TOLERANCE)
