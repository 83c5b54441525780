"""Per-layer widths (``channels``): exact cost in closed form, the argument's checks, and an
adapted network's round trips through a checkpoint, a pretrained folder and ONNX."""

from __future__ import annotations

import pytest
import torch

from mobilenets import count_cost
from mobilenets.adapt import layer_widths, narrowed
from mobilenets.models import mobilenet_v1
from mobilenets.pt_files import save_pt
from mobilenets.train.checkpoint import factory_name, model_from_checkpoint
from mobilenets.train.checkpoint import load_checkpoint as read_checkpoint
from mobilenets.weights import from_pretrained, save_pretrained

CHANNELS = [8, 24, 16, 40, 24, 48, 56, 32, 72, 40, 64, 48, 96, 80]
STRIDES = [2, 1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]


def closed_form(channels: list[int], resolution: int, in_channels: int, classes: int):
    """Mult-adds and parameters of a separable MobileNet of these widths, as the paper counts:
    3x3 full conv, then per layer a 3x3 depthwise and a 1x1 pointwise conv, each with BN (2
    parameters a channel), then a biased classifier on the pooled features."""
    size = resolution
    mult_adds = params = 0
    width_in = in_channels
    for index, (width, stride) in enumerate(zip(channels, STRIDES)):
        size = -(-size // stride)  # symmetric padding: ceil(size / stride)
        if index == 0:
            mult_adds += 9 * width_in * width * size * size
            params += 9 * width_in * width + 2 * width
        else:
            mult_adds += 9 * width_in * size * size + width_in * width * size * size
            params += 9 * width_in + 2 * width_in + width_in * width + 2 * width
        width_in = width
    return mult_adds + width_in * classes, params + width_in * classes + classes


@pytest.mark.parametrize("resolution", [32, 64])
def test_a_width_change_keeps_the_exact_cost_formula(resolution):
    model = mobilenet_v1(channels=CHANNELS, resolution=resolution, in_channels=1, num_classes=10)
    cost = count_cost(model)
    assert (cost.mult_adds, cost.params) == closed_form(CHANNELS, resolution, 1, 10)
    assert cost.params == sum(parameter.numel() for parameter in model.parameters())
    wider = [*CHANNELS[:5], CHANNELS[5] + 8, *CHANNELS[6:]]
    wider_cost = count_cost(mobilenet_v1(channels=wider, resolution=resolution, in_channels=1))
    assert (wider_cost.mult_adds, wider_cost.params) == closed_form(wider, resolution, 1, 1000)


def test_alpha_widths_are_the_same_network_as_their_channels():
    uniform = mobilenet_v1(alpha=0.5, resolution=32, num_classes=10)
    explicit = mobilenet_v1(channels=layer_widths(uniform), resolution=32, num_classes=10)
    assert explicit.load_state_dict(uniform.state_dict()) is not None
    assert count_cost(uniform).mult_adds == count_cost(explicit).mult_adds


@pytest.mark.parametrize(
    "channels, message",
    [
        ([8] * 13, "must list 14 widths"),
        ([8] * 13 + [0], r"channels\[13\] must be a whole number in \[1, 16384\]"),
        ([8] * 13 + [2.5], r"channels\[13\]"),
        ([8] * 13 + [100_000], r"channels\[13\]"),
        ("8" * 14, "must be a list of 14 widths"),
    ],
)
def test_bad_channels_are_refused_by_name(channels, message):
    with pytest.raises(ValueError, match=message):
        mobilenet_v1(channels=channels)


def test_channels_count_follows_the_variant():
    assert layer_widths(mobilenet_v1(variant="shallow", channels=[8] * 9)) == [8] * 9
    with pytest.raises(ValueError, match="must list 9 widths"):
        mobilenet_v1(variant="shallow", channels=[8] * 14)


def adapted_model() -> torch.nn.Module:
    """A network narrowed layer by layer as adapt does, with trained-looking BN statistics."""
    model = mobilenet_v1(alpha=0.25, resolution=32, in_channels=1, num_classes=10)
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 1, 32, 32))
    model = narrowed(narrowed(model, 12, 136), 5, 40)
    return model.eval()


def test_narrowing_keeps_the_strongest_filters_and_their_outputs():
    model = mobilenet_v1(alpha=0.25, resolution=32, in_channels=1, num_classes=10).eval()
    same = narrowed(model, 3, layer_widths(model)[3])
    x = torch.randn(2, 1, 32, 32)
    torch.testing.assert_close(same(x), model(x))
    smaller = narrowed(model, 3, 8)
    assert layer_widths(smaller)[3] == 8 and smaller.config["channels"][3] == 8
    pointwise = model.features.Conv2d_3_pointwise.conv.weight
    strongest = pointwise.flatten(1).norm(dim=1).topk(8).indices.sort().values
    torch.testing.assert_close(
        smaller.features.Conv2d_3_pointwise.conv.weight, pointwise[strongest]
    )


def test_an_adapted_model_round_trips_through_a_checkpoint_and_a_pretrained_folder(tmp_path):
    model = adapted_model()
    x = torch.randn(2, 1, 32, 32)
    save_pt(
        dict(
            model=model.state_dict(),
            model_factory=factory_name(model),
            model_config=dict(model.config),
        ),
        tmp_path / "adapted.pt",
    )
    rebuilt = model_from_checkpoint(read_checkpoint(tmp_path / "adapted.pt")).eval()
    assert rebuilt.config["channels"] == model.config["channels"]
    torch.testing.assert_close(rebuilt(x), model(x))
    save_pretrained(model, tmp_path / "folder")
    loaded = from_pretrained(tmp_path / "folder").eval()
    assert layer_widths(loaded) == layer_widths(model)
    torch.testing.assert_close(loaded(x), model(x))


def test_an_adapted_model_exports_to_onnx(tmp_path):
    pytest.importorskip("onnxruntime")
    from mobilenets.deploy.export import INPUT_NAME, export_onnx, onnx_session

    model = adapted_model()
    x = torch.randn(3, 1, 32, 32)
    session = onnx_session(export_onnx(model, tmp_path / "adapted.onnx"), threads=1)
    got = torch.from_numpy(session.run(None, {INPUT_NAME: x.numpy()})[0])
    expected = model(x).detach()
    scale = expected.abs().max()
    assert (got - expected).abs().max() <= 1e-4 * scale
