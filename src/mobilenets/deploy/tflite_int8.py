"""A quantized ``.tflite`` file's own integer arithmetic, kept rather than recalibrated.

The float model with the file's dequantized weights (BN folded, as the file has it) gets
fake quantization at the file's points and with the file's scales and zero points: the weights,
the input, every convolution's output after its ReLU6, the pool and the logits. The model's
layers stay plain; the points are a parametrization of each weight and a module after each
activation. Exported to ONNX, each fake quantization is a QuantizeLinear/DequantizeLinear pair,
the weights are stored as the file's integers and each bias as int32 at the input's scale times
the weight's (as in the file): ONNX Runtime fuses them into its integer convolutions.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from ..extras import require
from ..weights import model_from_weights
from ..weights.google import LOGITS
from ..weights.tflite import Quantization, tflite_quantization
from .fuse import fold_batch_norm


class FakeQuantize(nn.Module):
    """Rounds to the integer grid ``(q - zero_point) * scale``, q in the dtype's range, and back
    to float: per tensor, or per output channel (dimension 0) for weights."""

    def __init__(self, quantization: Quantization) -> None:
        super().__init__()
        limits = np.iinfo(quantization.dtype)
        self.quant_min, self.quant_max = int(limits.min), int(limits.max)
        self.per_channel = len(quantization.scale) > 1
        self.register_buffer("scale", torch.tensor(quantization.scale, dtype=torch.float32))
        self.register_buffer("zero_point", torch.tensor(quantization.zero_point, dtype=torch.int32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.per_channel:
            return torch.fake_quantize_per_channel_affine(
                x, self.scale, self.zero_point, 0, self.quant_min, self.quant_max
            )
        return torch.fake_quantize_per_tensor_affine(
            x, float(self.scale), int(self.zero_point), self.quant_min, self.quant_max
        )

    def extra_repr(self) -> str:
        return f"scale={self.scale.tolist()}, zero_point={self.zero_point.tolist()}"


def is_file_quantized(model: nn.Module) -> bool:
    """Whether ``model`` carries a file's fake quantization (:func:`quantized_model`)."""
    return any(isinstance(module, FakeQuantize) for module in model.modules())


def _then(module: nn.Module, quantization: Quantization) -> nn.Sequential:
    return nn.Sequential(module, FakeQuantize(quantization))


def _quantized_before_conv(block: nn.Sequential, quantization: Quantization) -> nn.Sequential:
    """``block`` with its input rounded right before the convolution: after a padding (zero is
    on every grid, so the values are those of rounding before it), so that ONNX Runtime sees
    DequantizeLinear -> Conv and fuses the pair."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for name, module in block.named_children():
        if name == "conv":
            layers["quantize"] = FakeQuantize(quantization)
        layers[name] = module
    return type(block)(layers)


def quantized_model(path: str | os.PathLike[str]) -> nn.Module:
    """The model an 8-bit quantized MobileNet v1 ``.tflite`` file holds, computing as the file
    does: its weights, BN folded, fake-quantized at the file's points with its parameters.
    ValueError for a float file."""
    points = tflite_quantization(path)
    model = fold_batch_norm(model_from_weights(path))
    layers, incoming = points["layers"], points["input"]
    for name, block in list(model.features.named_children()):
        if name == model.endpoint_names[0] or "pad" in block._modules:
            block = model.features._modules[name] = _quantized_before_conv(block, incoming)
        parametrize.register_parametrization(
            block.conv, "weight", FakeQuantize(layers[name]["weights"])
        )
        incoming = layers[name]["output"]
        block.act = _then(block.act, incoming)
    pool, flatten = model.global_pool
    model.global_pool = nn.Sequential(pool, flatten, FakeQuantize(points["pool"]))
    parametrize.register_parametrization(
        model.classifier, "weight", FakeQuantize(layers[LOGITS]["weights"])
    )
    model.classifier = _then(model.classifier, layers[LOGITS]["output"])
    return model.eval()


def _quantized(values: np.ndarray, scale: np.ndarray, zero_point: np.ndarray, axis: int):
    """QuantizeLinear on a constant: ``values / scale`` rounded half to even, plus the zero
    point, clipped to its dtype."""
    shape = [1] * values.ndim
    if scale.size > 1:
        shape[axis] = scale.size
    limits = np.iinfo(zero_point.dtype)
    rounded = np.round(values / scale.reshape(shape)) + zero_point.reshape(shape)
    return np.clip(rounded, limits.min, limits.max).astype(zero_point.dtype)


def integer_constants(source: str | os.PathLike[str], out: str | os.PathLike[str]) -> None:
    """Writes the exported QDQ graph ``source`` to ``out`` with its weights stored as the
    integers QuantizeLinear makes of them, and every Conv and Gemm whose input and weight come
    through DequantizeLinear taking its bias as int32 at scale input x weight (zero point 0):
    ONNX Runtime runs such a layer with its integer kernels (with a float bias, in float)."""
    require("onnx", "deploy", "ONNX export")
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    stored = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    values = dict(stored)
    values.update(
        (node.output[0], numpy_helper.to_array(node.attribute[0].t))
        for node in graph.node
        if node.op_type == "Constant"
    )
    dequantized = {
        node.output[0]: node for node in graph.node if node.op_type == "DequantizeLinear"
    }
    nodes, added, replaced = [], [], set()
    for node in graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] in stored:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            scale, zero_point = values[node.input[1]], values[node.input[2]]
            integer = _quantized(values[node.input[0]], scale, zero_point, axis)
            added.append(numpy_helper.from_array(integer, node.output[0]))
            replaced.add(node.input[0])
            continue
        source, weights = (dequantized.get(name) for name in [*node.input[:2], "", ""][:2])
        if node.op_type in ("Conv", "Gemm") and source and weights and len(node.input) > 2:
            bias = node.input[2]
            scale = values[source.input[1]].astype(np.float32) * values[weights.input[1]]
            name = f"{bias}_int32"
            added += [
                numpy_helper.from_array(np.round(values[bias] / scale).astype(np.int32), name),
                numpy_helper.from_array(scale.astype(np.float32), f"{name}_scale"),
                numpy_helper.from_array(np.zeros(scale.shape, np.int32), f"{name}_zero"),
            ]
            nodes.append(
                helper.make_node(
                    "DequantizeLinear",
                    [name, f"{name}_scale", f"{name}_zero"],
                    [f"{name}_dequantized"],
                    axis=0,
                )
            )
            node.input[2] = nodes[-1].output[0]
            replaced.add(bias)
        nodes.append(node)
    graph.ClearField("node")
    graph.node.extend(nodes)
    kept = [tensor for tensor in graph.initializer if tensor.name not in replaced]
    graph.ClearField("initializer")
    graph.initializer.extend(kept + added)
    onnx.save(model, str(out))


__all__ = ["FakeQuantize", "integer_constants", "is_file_quantized", "quantized_model"]
