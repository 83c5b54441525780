"""The model family: shapes, gradients, endpoints, variants, padding and argument checks."""

import math

import pytest
import torch
import torch.nn.functional as F

import mobilenets
from mobilenets.models import RESOLUTIONS, WIDTHS, TFSamePad2d, model_name


def _forward_backward(model: torch.nn.Module, resolution: int, batch: int = 2) -> torch.Tensor:
    x = torch.randn(batch, model.config["in_channels"], resolution, resolution)
    out = model(x)
    out.square().mean().backward()
    return out


@pytest.mark.parametrize("alpha", WIDTHS)
@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_grid_forward_backward(alpha: float, resolution: int) -> None:
    model = mobilenets.create_model(model_name(alpha, resolution), num_classes=7)
    assert model.pretrained_cfg["input_size"] == (3, resolution, resolution)
    out = _forward_backward(model, resolution)
    assert out.shape == (2, 7)
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("variant", ["conv", "shallow", "flattened"])
def test_variants_forward_backward(variant: str) -> None:
    model = mobilenets.mobilenet_v1(variant=variant, alpha=0.5, resolution=96, num_classes=5)
    out = _forward_backward(model, 96)
    assert out.shape == (2, 5)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("resolution", [32, 33, 250])
@pytest.mark.parametrize("padding", ["symmetric", "tf_same"])
def test_odd_resolutions(resolution: int, padding: str) -> None:
    model = mobilenets.mobilenet_v1(
        alpha=0.25, resolution=resolution, padding=padding, num_classes=3
    )
    features = model.eval().forward_features(torch.randn(1, 3, resolution, resolution))
    model.train()
    expected = resolution
    for _ in range(5):  # five stride-2 layers; symmetric padding 1 and SAME both give ceil(n / 2)
        expected = math.ceil(expected / 2)
    assert features.shape == (1, model.num_features, expected, expected)
    assert _forward_backward(model, resolution).shape == (2, 3)


def test_endpoints_named_as_reference() -> None:
    model = mobilenets.mobilenet_v1(alpha=0.5, num_classes=0)
    names = model.endpoint_names
    assert names[0] == "Conv2d_0" and len(names) == 27
    assert names[1:3] == ["Conv2d_1_depthwise", "Conv2d_1_pointwise"]
    assert names[-1] == "Conv2d_13_pointwise"
    # The reference SSD taps these two at 300 px: 19x19 and 10x10.
    outputs = model.forward_endpoints(
        torch.randn(1, 3, 300, 300), ["Conv2d_11_pointwise", "Conv2d_13_pointwise"]
    )
    assert outputs["Conv2d_11_pointwise"].shape == (1, 256, 19, 19)
    assert outputs["Conv2d_13_pointwise"].shape == (1, 512, 10, 10)
    assert [info["num_chs"] for info in model.feature_info][-1] == model.num_features == 512
    with pytest.raises(ValueError, match="unknown endpoint"):
        model.forward_endpoints(torch.randn(1, 3, 64, 64), ["Conv2d_14_pointwise"])


def test_features_head_and_reset_classifier() -> None:
    model = mobilenets.mobilenet_v1(alpha=0.25, resolution=64, num_classes=10).eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(model(x), model.forward_head(model.forward_features(x)))
    assert model.forward_head(model.forward_features(x), pre_logits=True).shape == (2, 256)
    model.reset_classifier(4)
    assert model(x).shape == (2, 4) and model.num_classes == 4
    model.reset_classifier(0)
    assert model(x).shape == (2, 256)


@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_output_stride_dilates(output_stride: int) -> None:
    model = mobilenets.mobilenet_v1(alpha=0.25, output_stride=output_stride, num_classes=0)
    features = model.forward_features(torch.randn(1, 3, 224, 224))
    assert features.shape[-1] == 224 // output_stride
    assert model.feature_info[-1]["reduction"] == output_stride
    dilations = {m.dilation[0] for m in model.modules() if isinstance(m, torch.nn.Conv2d)}
    assert dilations == {1, 2, 4, 8}.intersection(range(1, 32 // output_stride + 1)) | {1}


def test_tf_same_pads_right_and_bottom() -> None:
    x = torch.randn(1, 2, 8, 8)
    torch.testing.assert_close(TFSamePad2d(3, 2)(x), F.pad(x, [0, 1, 0, 1]))
    torch.testing.assert_close(
        TFSamePad2d(3, 2)(x[..., :7, :7]), F.pad(x[..., :7, :7], [1, 1, 1, 1])
    )
    torch.testing.assert_close(TFSamePad2d(3, 1)(x), F.pad(x, [1, 1, 1, 1]))
    model = mobilenets.mobilenet_v1(alpha=0.25, padding="tf_same", num_classes=0)
    assert isinstance(model.features.Conv2d_0.pad, TFSamePad2d)
    assert not hasattr(
        model.features.Conv2d_1_depthwise, "pad"
    )  # stride 1: plain symmetric padding


def test_width_rule_and_activation() -> None:
    model = mobilenets.mobilenet_v1(alpha=0.1, activation="relu6", num_classes=0)
    # max(int(32 * 0.1), 8) = 8 and int(1024 * 0.1) = 102, as the reference code rounds.
    assert model.features.Conv2d_0.conv.out_channels == 8 and model.num_features == 102
    assert isinstance(model.features.Conv2d_0.act, torch.nn.ReLU6)
    assert model.features.Conv2d_0.bn.eps == 1e-3


def test_flattened_filters_have_c_plus_x_plus_y_weights() -> None:
    model = mobilenets.mobilenet_v1(variant="flattened", num_classes=0)
    block = model.features.Conv2d_3
    per_filter = [
        block.lateral.weight[0].numel(),
        block.vertical.weight[0].numel(),
        block.horizontal.weight[0].numel(),
    ]
    assert per_filter == [128, 3, 3]  # C x 1 x 1, 1 x Y x 1 and 1 x 1 x X (C = 128 inputs)
    assert block.vertical.stride == (1, 1) and model.features.Conv2d_2.vertical.stride == (2, 1)


def test_registry() -> None:
    # The 16 released models, then the 3 ablations; task packages (detection, embedding) add
    # names of their own, after these, when they are imported.
    names = mobilenets.list_models("mobilenet_v1*")
    released = [
        f"mobilenet_v1_{width}_{r}" for width in ("100", "075", "050", "025") for r in RESOLUTIONS
    ]
    assert names[:19] == released + [
        f"mobilenet_v1_{v}_100_224" for v in ("conv", "shallow", "flattened")
    ]
    assert mobilenets.list_models("mobilenet_v1_050_*") == [
        f"mobilenet_v1_050_{r}" for r in RESOLUTIONS
    ]
    model = mobilenets.create_model("mobilenet_v1_075_160", num_classes=3, in_channels=1)
    assert (model.alpha, model.resolution, model.num_classes) == (0.75, 160, 3)
    with pytest.raises(ValueError, match="unknown model name 'mobilenet_v1_100_225'"):
        mobilenets.create_model("mobilenet_v1_100_225")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0}, "alpha"),
        ({"alpha": -0.5}, "alpha"),
        ({"alpha": "wide"}, "alpha"),
        ({"alpha": float("nan")}, "alpha"),
        ({"resolution": 31}, r"resolution must be a whole number in \[32, 2048\]"),
        ({"resolution": 224.0}, "resolution"),
        ({"variant": "inverted"}, "variant must be one of separable, conv, shallow, flattened"),
        ({"output_stride": 4}, "output_stride must be one of 8, 16, 32"),
        ({"num_classes": -1}, "num_classes"),
        ({"activation": "gelu"}, "activation must be one of relu, relu6"),
        ({"padding": "same"}, "padding must be one of symmetric, tf_same"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mobilenets.mobilenet_v1(**kwargs)
