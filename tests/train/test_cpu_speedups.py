"""The CPU training speed-ups (train/cpu_speedups.py): each variant gives the plain layers' values
and gradients, runs where it should, keeps the state_dict, and lives only inside the loop."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from train_helpers import tiny_config

import mobilenets
from mobilenets.models import ConvBnAct
from mobilenets.models.layers import conv_bn_act
from mobilenets.train.checkpoint import load_checkpoint
from mobilenets.train.cpu_speedups import (
    CpuDepthwise,
    CpuPointwise,
    swap_in,
    swap_out,
    whole_window_taps,
)

VARIANTS = (CpuDepthwise, CpuPointwise)


def swapped(block: ConvBnAct, **options) -> nn.Module:
    """``block`` as ``swap_in`` replaces it (channels-last unless told otherwise)."""
    holder = nn.Sequential(block)
    swap_in(holder, **{"channels_last": True, **options})
    return holder[0]


def small_model() -> nn.Module:
    return mobilenets.mobilenet_v1(alpha=0.25, resolution=32, num_classes=10).train()


def plain_reference(block: ConvBnAct, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The block's output by F.conv2d and F.batch_norm on copies of its input and weight."""
    weight = block.conv.weight.detach().clone().requires_grad_()
    pad = block.pad if "pad" in block._modules else nn.Identity()
    conv = F.conv2d(
        pad(inputs),
        weight,
        stride=block.conv.stride,
        padding=block.conv.padding,
        groups=block.conv.groups,
    )
    out = F.relu(
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
    return out, weight


def test_swap_picks_the_variants_and_keeps_parameters_buffers_and_keys() -> None:
    model = small_model()
    plain_state = model.state_dict()
    parameters = dict(model.named_parameters())
    assert swap_in(model, channels_last=True) == 26  # 13 depthwise, 13 pointwise
    kinds = [type(module) for module in model.modules() if isinstance(module, ConvBnAct)]
    assert kinds.count(CpuDepthwise) == 13 and kinds.count(CpuPointwise) == 13
    assert kinds.count(ConvBnAct) == 1  # the stem: a full 3x3 convolution, nothing to gain
    assert model.state_dict().keys() == plain_state.keys()
    assert all(parameters[name] is p for name, p in model.named_parameters())
    assert swap_out(model) == 26
    assert {type(m) for m in model.modules() if isinstance(m, ConvBnAct)} == {ConvBnAct}
    assert all(parameters[name] is p for name, p in model.named_parameters())
    assert model.training


@pytest.mark.parametrize(
    "options", [{"channels_last": False}, {"channels_last": True, "compiling": True}]
)
def test_products_only_channels_last_and_not_compiled(options: dict) -> None:
    # Their output is channels-last data (--no-channels-last means none anywhere), and inductor
    # fails on them once a size is traced as a symbol.
    model = small_model()
    swap_in(model, **options)
    kinds = [type(module) for module in model.modules()]
    assert kinds.count(CpuPointwise) == 0 and kinds.count(CpuDepthwise) == 13


def test_without_channels_last_nothing_turns_channels_last() -> None:
    model = small_model()
    swap_in(model, channels_last=False)
    images = torch.randn(8, 3, 32, 32)
    outputs = []
    handle = nn.modules.module.register_module_forward_hook(
        lambda module, args, out: outputs.append(out) if out.dim() == 4 else None
    )
    try:
        model.forward_features(images)
    finally:
        handle.remove()
    # A map of 1x1 (or of one channel) is both formats; every larger one stays NCHW.
    larger = [out for out in outputs if out.shape[-1] > 1]
    assert larger and all(out.is_contiguous() for out in larger)


def test_cpu_bf16_autocast_runs_slow_depthwise_layers_in_fp32() -> None:
    # oneDNN trains strided or tiny depthwise convolutions in bf16 with generic slow kernels: those
    # layers compute in fp32 under CPU autocast (exactly as without it), every other layer in bf16.
    model = small_model()
    swap_in(model, channels_last=True)
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
    block = swapped(conv_bn_act(16, 16, 3, stride, groups=16, padding=padding).train())
    inputs = torch.randn(8, 16, side, side, requires_grad=True)
    # TF padding comes as its own layer: the plain path.
    assert (whole_window_taps(block.conv, inputs) is not None) == (padding == "symmetric")
    assert block.whole_window == (padding == "symmetric")
    out = block(inputs)
    out.square().sum().backward()
    plain_inputs = inputs.detach().clone().requires_grad_()
    reference, weight = plain_reference(block, plain_inputs)
    reference.square().sum().backward()
    assert out.shape == reference.shape == (8, 16, 1, 1)
    torch.testing.assert_close(out, reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(inputs.grad, plain_inputs.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(block.conv.weight.grad, weight.grad, rtol=1e-4, atol=1e-5)


def test_layers_a_map_sees_more_than_once_keep_the_convolution() -> None:
    block = conv_bn_act(4, 4, 3, 1, groups=4)
    assert whole_window_taps(block.conv, torch.zeros(1, 4, 2, 2)) is None  # 2x2 output
    assert whole_window_taps(block.conv, torch.zeros(1, 4, 3, 1)) is None
    strided = conv_bn_act(4, 4, 3, 2, groups=4)
    assert whole_window_taps(strided.conv, torch.zeros(1, 4, 3, 3)) is None  # 2x2 output
    assert whole_window_taps(strided.conv, torch.zeros(1, 4, 2, 2)) is not None


@pytest.mark.parametrize("side", [1, 2, 4])
def test_a_pointwise_layer_on_a_small_map_equals_the_convolution(side: int) -> None:
    # Up to 4x4 pixels a 1x1 convolution trains as one matrix product (oneDNN's convolution is
    # 1.3-4.9x slower there): the same values and gradients, in bf16 autocast too.
    block = swapped(conv_bn_act(32, 48, 1).train())
    assert type(block) is CpuPointwise
    inputs = torch.randn(8, 32, side, side).contiguous(memory_format=torch.channels_last)
    inputs.requires_grad_()
    out = block(inputs)
    out.square().sum().backward()
    plain_inputs = inputs.detach().clone().requires_grad_()
    reference, weight = plain_reference(block, plain_inputs)
    reference.square().sum().backward()
    assert out.shape == reference.shape == (8, 48, side, side)
    assert out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(inputs.grad, plain_inputs.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(block.conv.weight.grad, weight.grad, rtol=1e-4, atol=1e-3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert block(inputs).dtype == torch.bfloat16  # the product runs in bf16 like the conv


def test_which_path_runs() -> None:
    # The product up to 4x4 pixels, the convolution above; the plain layers in eval mode.
    block = swapped(conv_bn_act(8, 8, 1).train())
    inputs = torch.randn(2, 8, 5, 5).contiguous(memory_format=torch.channels_last)
    calls = []
    handle = nn.modules.module.register_module_forward_hook(
        lambda module, args, out: calls.append(type(module).__name__)
    )
    try:
        block(inputs)
        block(inputs[:, :, :4, :4])
        assert calls.count("Conv2d") == 1  # the 5x5 map ran the convolution, the 4x4 one not
        block.eval()(inputs[:, :, :4, :4])
        assert calls.count("Conv2d") == 2
    finally:
        handle.remove()


def test_compiled_training_keeps_the_sums_and_islands_and_equals_eager() -> None:
    # Under torch.compile the loop swaps in all but the small-map products (whole-window sums,
    # fp32 islands), and inductor's code for them gives eager's values and gradients, for a size
    # traced as a symbol too.
    captured: list[torch.fx.GraphModule] = []

    def capture(graph_module: torch.fx.GraphModule, example_inputs: list) -> object:
        captured.append(graph_module)
        return graph_module.forward

    model = small_model()
    swap_in(model, channels_last=True, compiling=True)
    torch.compile(model, backend=capture)(torch.randn(2, 3, 32, 32))
    targets = [node.target for graph in captured for node in graph.graph.nodes]
    # At 32 px the 12th depthwise layer sees a 2x2 map and the 13th a 1x1 map: both are sums.
    assert targets.count(F.conv2d) == 27 - 2
    assert targets.count(torch._C._nn.linear) == 1  # the classifier

    # Values and gradients on one block of each kind (a whole network's gradients at a small
    # batch are too ill-conditioned to compare: batch norm over a few pixels, ReLU kinks).
    blocks = nn.Sequential(conv_bn_act(32, 32, 3, stride=2, groups=32), conv_bn_act(32, 48, 1))
    swap_in(blocks.train(), channels_last=True, compiling=True)
    assert type(blocks[0]) is CpuDepthwise

    def run(module: nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        blocks.zero_grad()
        out = module(inputs)
        out.square().sum().backward()
        return out.detach(), [parameter.grad.clone() for parameter in blocks.parameters()]

    compiled = torch.compile(blocks)
    for size in (2, 3):  # the second size is traced as a symbol
        inputs = torch.randn(16, 32, size, size).contiguous(memory_format=torch.channels_last)
        eager_out, eager_grads = run(blocks, inputs)
        compiled_out, compiled_grads = run(compiled, inputs)
        torch.testing.assert_close(compiled_out, eager_out, rtol=1e-4, atol=1e-5)
        for compiled_grad, eager_grad in zip(compiled_grads, eager_grads):
            torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-4, atol=1e-4)


def test_the_loop_trains_swapped_and_returns_and_saves_the_plain_model(tmp_path) -> None:
    from mobilenets.classification import fit

    seen: list[set[type]] = []
    model = mobilenets.mobilenet_v1(alpha=0.25, resolution=32, num_classes=10, in_channels=1)
    keys = model.state_dict().keys()

    def on_epoch(record: dict) -> None:
        seen.append({type(module) for module in model.modules()})

    config = tiny_config(tmp_path / "run", limit_train=32)
    fit(config, model=model, on_epoch=on_epoch, progress=False)
    assert CpuDepthwise in seen[0] and CpuPointwise in seen[0]
    assert not any(isinstance(module, VARIANTS) for module in model.modules())
    assert load_checkpoint(tmp_path / "run" / "last.pt")["model"].keys() == keys

    seen.clear()
    off = dataclasses.replace(config, out=str(tmp_path / "off"), cpu_speedups=False)
    fit(off, model=model, on_epoch=on_epoch, progress=False)
    assert not any(isinstance(module, VARIANTS) for kinds in seen for module in kinds)


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_a_trained_model_graphs_hold_the_plain_convolutions(mode: str) -> None:
    # After the loop the model is plain again: traced, exported and FX graphs see the layers as
    # written (what ONNX and phone runtimes load, and what FX quantization-aware training
    # prepares), in training mode too.
    model = small_model()
    swap_in(model, channels_last=True)
    swap_out(model)
    model.train(mode == "train")
    images = torch.randn(2, 3, 32, 32)
    graph = torch.fx.symbolic_trace(model).graph
    convs = [node for node in graph.nodes if node.op == "call_module" and "conv" in node.target]
    assert len(convs) == 27
    exported = torch.export.export(model, (images,)).graph
    assert sum(node.target == torch.ops.aten.conv2d.default for node in exported.nodes) == 27
    assert not any(node.target == torch.ops.aten.sum.dim_IntList for node in exported.nodes)
    linears = sum(node.target == torch.ops.aten.linear.default for node in exported.nodes)
    assert linears == 1  # the classifier
    traced = str(torch.jit.trace(model, images, check_trace=False).inlined_graph)
    assert traced.count("aten::_convolution") == 27
    assert "channels_last" not in traced and "aten::contiguous" not in traced
