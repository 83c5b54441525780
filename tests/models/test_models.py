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


def test_cpu_bf16_autocast_runs_slow_depthwise_layers_in_fp32() -> None:
    # oneDNN trains strided or tiny depthwise convolutions in bf16 with generic slow kernels: those
    # layers compute in fp32 under CPU autocast (exactly as without it), every other layer in bf16.
    torch.manual_seed(0)
    model = mobilenets.mobilenet_v1(alpha=0.25, resolution=32, num_classes=10).train()
    images = torch.randn(4, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        endpoints = model.forward_endpoints(images)
    fp32 = {name for name, value in endpoints.items() if value.dtype == torch.float32}
    # Input sides: 32, then 16 after Conv2d_0, 8 after 2, 4 after 4, 2 after 6, 1 after 12.
    assert fp32 == {f"Conv2d_{i}_depthwise" for i in (2, 4, 6, 7, 8, 9, 10, 11, 12, 13)}
    assert {value.dtype for name, value in endpoints.items() if name not in fp32} == {
        torch.bfloat16
    }

    block = model.features.Conv2d_2_depthwise
    inputs = endpoints["Conv2d_1_pointwise"].detach().requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = block(inputs)
    autocast.sum().backward()
    reference_inputs = inputs.detach().float().requires_grad_()
    reference = block(reference_inputs)
    reference.sum().backward()
    assert torch.equal(autocast, reference)
    assert torch.equal(inputs.grad, reference_inputs.grad.bfloat16())


@pytest.mark.parametrize(
    "side, stride, padding",
    [(1, 1, "symmetric"), (2, 2, "symmetric"), (1, 2, "symmetric"), (2, 2, "tf_same")],
)
def test_a_depthwise_layer_with_one_output_pixel_equals_the_convolution(
    side: int, stride: int, padding: str
) -> None:
    # At 32 px the last depthwise layers see 2x2 and 1x1 maps: computed as a per-channel weighted
    # sum there (oneDNN trains the 1x1 case 40x slower), with the same values and gradients.
    from mobilenets.models.layers import conv_bn_act, whole_window_taps

    torch.manual_seed(0)
    block = conv_bn_act(16, 16, 3, stride, groups=16, padding=padding).train()
    inputs = torch.randn(8, 16, side, side, requires_grad=True)
    taps = whole_window_taps(block.conv, inputs)
    assert (taps is not None) == (
        padding == "symmetric"
    )  # TF padding comes as its own layer: the plain path
    out = block(inputs)
    out.square().sum().backward()
    plain_inputs = inputs.detach().clone().requires_grad_()
    weight = block.conv.weight.detach().clone().requires_grad_()
    pad_layer = block.pad if padding == "tf_same" else torch.nn.Identity()
    conv = F.conv2d(
        pad_layer(plain_inputs), weight, stride=stride, padding=block.conv.padding, groups=16
    )
    reference = F.relu(
        F.batch_norm(
            conv,
            None,
            None,
            block.bn.weight.detach(),
            block.bn.bias.detach(),
            training=True,
            eps=block.bn.eps,
        )
    )
    reference.square().sum().backward()
    assert out.shape == reference.shape == (8, 16, 1, 1)
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(inputs.grad, plain_inputs.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(block.conv.weight.grad, weight.grad, rtol=1e-4, atol=1e-5)


def test_layers_a_map_sees_more_than_once_keep_the_convolution() -> None:
    from mobilenets.models.layers import conv_bn_act, whole_window_taps

    block = conv_bn_act(4, 4, 3, 1, groups=4)
    assert whole_window_taps(block.conv, torch.zeros(1, 4, 2, 2)) is None  # 2x2 output
    assert whole_window_taps(block.conv, torch.zeros(1, 4, 3, 1)) is None
    strided = conv_bn_act(4, 4, 3, 2, groups=4)
    assert whole_window_taps(strided.conv, torch.zeros(1, 4, 3, 3)) is None  # 2x2 output
    assert whole_window_taps(strided.conv, torch.zeros(1, 4, 2, 2)) is not None


def test_nchw_inputs_train_channels_last_inside_with_the_same_outputs() -> None:
    torch.manual_seed(0)
    model = mobilenets.mobilenet_v1(alpha=0.25, resolution=64, num_classes=10).train()
    images = torch.randn(8, 3, 64, 64)
    features = model.forward_features(images)
    assert features.is_contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        reference = images
        for block in model.features:  # each block's plain modules one after another, in NCHW
            for layer in block:
                reference = layer(reference.contiguous())
        reference = model.head(reference)
        assert reference.is_contiguous() and not reference.is_contiguous(
            memory_format=torch.channels_last
        )
    # Batch statistics over 2x2 maps magnify float rounding: compared at the features' scale.
    torch.testing.assert_close(
        features.detach(), reference, rtol=0, atol=1e-3 * reference.abs().max().item()
    )
    # Inference keeps the plain path (timm's weights give timm's logits bit for bit).
    model.eval()
    assert model.forward_features(images).is_contiguous()


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_graphs_keep_the_plain_convolutions(mode: str) -> None:
    # Traced, exported and FX graphs see the layers as written (what ONNX and phone runtimes load,
    # and what FX quantization-aware training prepares), in training mode too.
    model = mobilenets.mobilenet_v1(alpha=0.25, resolution=32, num_classes=10).train(
        mode == "train"
    )
    images = torch.randn(2, 3, 32, 32)
    graph = torch.fx.symbolic_trace(model).graph
    convs = [node for node in graph.nodes if node.op == "call_module" and "conv" in node.target]
    assert len(convs) == 27
    exported = torch.export.export(model, (images,)).graph
    assert sum(node.target == torch.ops.aten.conv2d.default for node in exported.nodes) == 27
    assert not any(node.target == torch.ops.aten.sum.dim_IntList for node in exported.nodes)
    assert (
        sum(node.target == torch.ops.aten.linear.default for node in exported.nodes) == 1
    )  # the classifier
    traced = torch.jit.trace(model, images, check_trace=False)
    assert str(traced.inlined_graph).count("aten::_convolution") == 27
    assert "channels_last" not in str(traced.inlined_graph) and "aten::contiguous" not in str(
        traced.inlined_graph
    )


def test_compiled_training_keeps_the_training_layouts_and_equals_eager() -> None:
    # torch.compile keeps the training layouts but the small-map products (whole-window sums,
    # channels-last, fp32 islands), and inductor's code for them gives eager's values and
    # gradients, for a size traced as a symbol too; exports (above) do not see them.
    from mobilenets.models.layers import conv_bn_act

    captured: list[torch.fx.GraphModule] = []

    def capture(graph_module: torch.fx.GraphModule, example_inputs: list) -> object:
        captured.append(graph_module)
        return graph_module.forward

    model = mobilenets.mobilenet_v1(alpha=0.25, resolution=32, num_classes=10).train()
    torch.compile(model, backend=capture)(torch.randn(2, 3, 32, 32))
    targets = [node.target for graph in captured for node in graph.graph.nodes]
    # At 32 px the 12th depthwise layer sees a 2x2 map and the 13th a 1x1 map: both are sums.
    assert targets.count(F.conv2d) == 27 - 2
    assert targets.count(torch._C._nn.linear) == 1  # the classifier

    # Values and gradients on one block of each kind (a whole network's gradients at a small
    # batch are too ill-conditioned to compare: batch norm over a few pixels, ReLU kinks).
    torch.manual_seed(0)
    blocks = torch.nn.Sequential(
        conv_bn_act(32, 32, 3, stride=2, groups=32), conv_bn_act(32, 48, 1)
    ).train()

    def run(
        module: torch.nn.Module, inputs: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        blocks.zero_grad()
        out = module(inputs)
        out.square().sum().backward()
        return out.detach(), [parameter.grad.clone() for parameter in blocks.parameters()]

    compiled = torch.compile(blocks)
    for size in (2, 3):  # the second size is traced as a symbol
        inputs = torch.randn(16, 32, size, size)
        eager_out, eager_grads = run(blocks, inputs)
        compiled_out, compiled_grads = run(compiled, inputs)
        torch.testing.assert_close(compiled_out, eager_out, rtol=1e-4, atol=1e-5)
        for compiled_grad, eager_grad in zip(compiled_grads, eager_grads):
            torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("side", [1, 2, 4])
def test_a_pointwise_layer_on_a_small_map_equals_the_convolution(side: int) -> None:
    # Up to 4x4 pixels a 1x1 convolution trains as one matrix product (oneDNN's convolution is
    # 1.3-4.9x slower there): the same values and gradients, in bf16 autocast too.
    from mobilenets.models.layers import conv_bn_act

    torch.manual_seed(0)
    block = conv_bn_act(32, 48, 1).train()
    inputs = torch.randn(8, 32, side, side, requires_grad=True)
    out = block(inputs)
    out.square().sum().backward()
    plain_inputs = inputs.detach().clone().requires_grad_()
    weight = block.conv.weight.detach().clone().requires_grad_()
    conv = F.conv2d(plain_inputs, weight)
    reference = F.relu(
        F.batch_norm(
            conv,
            None,
            None,
            block.bn.weight.detach(),
            block.bn.bias.detach(),
            training=True,
            eps=block.bn.eps,
        )
    )
    reference.square().sum().backward()
    assert out.shape == reference.shape == (8, 48, side, side) and out.is_contiguous(
        memory_format=torch.channels_last
    )
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(inputs.grad, plain_inputs.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(block.conv.weight.grad, weight.grad, rtol=1e-4, atol=1e-3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert (
            block(inputs).dtype == torch.bfloat16
        )  # the product runs in bf16 like the convolution


def test_a_pointwise_layer_on_a_larger_map_keeps_the_convolution() -> None:
    from mobilenets.models.layers import conv_bn_act

    block = conv_bn_act(8, 8, 1).train()
    inputs = torch.randn(2, 8, 5, 5)
    calls = []
    handle = torch.nn.modules.module.register_module_forward_hook(
        lambda module, args, out: calls.append(type(module).__name__)
    )
    try:
        block(inputs)
        block(inputs[:, :, :4, :4])
    finally:
        handle.remove()
    assert calls.count("Conv2d") == 1  # the 5x5 map ran the convolution, the 4x4 one the product
