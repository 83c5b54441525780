"""Google's MobileNet v1 ``.tflite`` files (TF Hub / Kaggle Models, the Android, iOS and Coral
example apps), float or quantized (uint8 QAT, int8, float16), as this model's weights.

LiteRT's own interpreter reads the file (it verifies the flatbuffer) and gives the operators,
the tensors' shapes and quantization and the constant tensors; nothing here parses bytes. The
graph is walked from its input: the first convolution, 13 depthwise + pointwise pairs, the
average pool, the logits (a 1x1 convolution or a fully connected layer), an optional softmax.
Batch norm is already folded into each convolution's weights and bias; it is loaded as an exact
identity (``FOLDED_BN``) so the model computes what the file does. Quantized weights are
dequantized, ``(q - zero_point) * scale`` with per-channel scales where the file has them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..extras import require
from ..messages import first_line
from ..models.spec import MOBILENET_V1_BODY
from .google import LOGITS, RELEASED_ARCHITECTURE, ReferenceLayers, body_endpoints

# Operators that carry the data along unchanged (shape or precision only).
_PASS_THROUGH = ("QUANTIZE", "DEQUANTIZE", "RESHAPE", "SQUEEZE")
_POOLS = ("AVERAGE_POOL_2D", "MEAN")
_WEIGHTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
_EXPECTED_KINDS = ["CONV_2D"] + ["DEPTHWISE_CONV_2D", "CONV_2D"] * (len(MOBILENET_V1_BODY) - 1)
_BN_EPS = RELEASED_ARCHITECTURE["bn_eps"]
# A folded batch norm as an exact identity plus the file's bias: (x - 0) / sqrt(var + eps) with
# var + eps == 1 in float32 (checked by the tests), times 1.
FOLDED_BN = dict(gamma=1.0, moving_mean=0.0, moving_variance=float(np.float32(1.0 - _BN_EPS)))


@dataclass(frozen=True)
class _Layer:
    """One weighted operator of the graph: its kind, weight and bias tensors, in/out shapes."""

    kind: str
    weights: int
    bias: int | None
    output: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


class _Graph:
    """The file as LiteRT reads it: operators in order and tensors by index."""

    def __init__(self, path: Path) -> None:
        require("ai_edge_litert", "litert", "reading .tflite files")
        from ai_edge_litert.interpreter import Interpreter

        self.path = path
        data = path.read_bytes()
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise ValueError(f"{path} is not a .tflite file (no TFL3 flatbuffer identifier)")
        try:
            self.interpreter = Interpreter(model_content=data)
        except (ValueError, RuntimeError) as error:
            reason = first_line(error)
            raise ValueError(f"{path} is a damaged or truncated .tflite file: {reason}") from None
        self.ops = self.interpreter._get_ops_details()  # noqa: SLF001 - LiteRT's operator list
        self.tensors = {detail["index"]: detail for detail in self.interpreter.get_tensor_details()}
        # float16 files store weights as fp16 constants behind a DEQUANTIZE operator.
        self.stored_as = {
            int(op["outputs"][0]): int(op["inputs"][0])
            for op in self.ops
            if op["op_name"] == "DEQUANTIZE" and self._is_constant(int(op["inputs"][0]))
        }

    def _is_constant(self, index: int) -> bool:
        produced = {int(out) for op in self.ops for out in op["outputs"]}
        inputs = {detail["index"] for detail in self.interpreter.get_input_details()}
        return index not in produced and index not in inputs

    def shape(self, index: int) -> tuple[int, ...]:
        return tuple(int(size) for size in self.tensors[index]["shape"])

    def constant(self, index: int) -> np.ndarray:
        """A constant tensor as float64: dequantized with its scales and zero points, float16
        widened."""
        index = self.stored_as.get(index, index)
        detail = self.tensors[index]
        values = np.asarray(self.interpreter.get_tensor(index))
        if values.dtype.kind == "f":
            return values.astype(np.float64)
        quantization = detail["quantization_parameters"]
        scales = np.asarray(quantization["scales"], dtype=np.float64)
        zero_points = np.asarray(quantization["zero_points"], dtype=np.float64)
        name = detail["name"]
        if scales.size == 0:
            raise ValueError(
                f"{self.path}: {values.dtype} tensor {name!r} has no quantization scale"
            )
        if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
            raise ValueError(
                f"{self.path}: quantized tensor {name!r} has a zero, negative or non-finite scale; "
                "its weights cannot be recovered"
            )
        if scales.size > 1:  # per channel, along the quantized dimension
            axis = int(quantization["quantized_dimension"])
            if axis >= values.ndim or values.shape[axis] != scales.size:
                raise ValueError(
                    f"{self.path}: tensor {name!r} has {scales.size} scales for dimension {axis} "
                    f"of shape {values.shape}"
                )
            shape = [1] * values.ndim
            shape[axis] = scales.size
            scales = scales.reshape(shape)
            zero_points = zero_points.reshape(shape) if zero_points.size > 1 else zero_points
        return (values.astype(np.float64) - zero_points) * scales

    def walk(self) -> tuple[list[_Layer], bool]:
        """The weighted operators along the data path from the input, and whether a softmax
        ends it; any other operator, or a branch, is not a MobileNet v1."""
        inputs = self.interpreter.get_input_details()
        outputs = self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise self.not_mobilenet(f"it has {len(inputs)} inputs and {len(outputs)} outputs")
        current = inputs[0]["index"]
        layers: list[_Layer] = []
        pooled = softmax = False
        for op in self.ops:
            kind, op_inputs = op["op_name"], [int(index) for index in op["inputs"]]
            if kind == "DEQUANTIZE" and int(op["outputs"][0]) in self.stored_as:
                continue
            if not op_inputs or op_inputs[0] != current or softmax:
                raise self.not_mobilenet(f"its {kind} operator is off the single data path")
            if kind in _WEIGHTED:
                if pooled != (len(layers) >= len(_EXPECTED_KINDS)):
                    raise self.not_mobilenet(f"it has {len(layers) + 1} layers before the pool")
                bias = op_inputs[2] if len(op_inputs) > 2 and op_inputs[2] >= 0 else None
                layers.append(
                    _Layer(
                        kind,
                        op_inputs[1],
                        bias,
                        int(op["outputs"][0]),
                        self.shape(current),
                        self.shape(int(op["outputs"][0])),
                    )
                )
            elif kind in _POOLS:
                if pooled or len(layers) != len(_EXPECTED_KINDS):
                    raise self.not_mobilenet(f"its pool comes after {len(layers)} layers, not 27")
                pooled = True
                self.pool_output = int(op["outputs"][0])
            elif kind == "SOFTMAX":
                softmax = True
            elif kind not in _PASS_THROUGH:
                raise self.not_mobilenet(f"it has a {kind} operator")
            current = int(op["outputs"][0])
        if current != outputs[0]["index"]:
            raise self.not_mobilenet("its output is not the end of the data path")
        if not pooled:
            raise self.not_mobilenet("it has no global average pool")
        return layers, softmax

    def not_mobilenet(self, why: str) -> ValueError:
        return ValueError(f"{self.path} is not a MobileNet v1 classifier graph: {why}")


def _check_body(graph: _Graph, layers: list[_Layer]) -> int:
    """The input resolution, after checking the 27 body layers' kinds and that every output
    size is TensorFlow SAME padding's ceil(input / stride) with Table 1's strides."""
    kinds = [layer.kind for layer in layers[: len(_EXPECTED_KINDS)]]
    if kinds != _EXPECTED_KINDS:
        raise graph.not_mobilenet("its layers are not conv, then 13 depthwise + pointwise pairs")
    first = layers[0].in_shape
    if len(first) != 4 or first[1] != first[2]:
        raise graph.not_mobilenet(f"its input has shape {first}, not [1, N, N, C]")
    # The depthwise layer of a pair strides, its pointwise layer does not.
    strides = [MOBILENET_V1_BODY[0].stride]
    for spec in MOBILENET_V1_BODY[1:]:
        strides += [spec.stride, 1]
    for name, layer, stride in zip(body_endpoints(), layers, strides):
        expected = -(-layer.in_shape[1] // stride)
        if layer.out_shape[1:3] != (expected, expected):
            raise graph.not_mobilenet(
                f"{name} maps {layer.in_shape[1]} px to {layer.out_shape[1]}, "
                f"SAME padding with stride {stride} gives {expected}"
            )
    return first[1]


def _reference_layers(graph: _Graph, layers: list[_Layer]) -> ReferenceLayers:
    """The graph's weights in the reference form ``google.reference_to_model`` takes (TF's HWIO
    kernels; the folded bias as the batch norm's beta over an identity normalisation)."""
    reference: ReferenceLayers = {}
    for endpoint, layer in zip(body_endpoints(), layers):
        kernel = graph.constant(layer.weights)
        if kernel.ndim != 4:
            raise graph.not_mobilenet(f"{endpoint} has a {kernel.ndim}-d kernel")
        if layer.kind == "DEPTHWISE_CONV_2D":  # [1, H, W, C] -> TF's [H, W, C, 1]
            if kernel.shape[-1] != layer.in_shape[-1]:
                raise graph.not_mobilenet(f"{endpoint} has a depth multiplier other than 1")
            kernel = kernel[0][..., None]
        else:  # [O, H, W, I] -> TF's [H, W, I, O]
            kernel = kernel.transpose(1, 2, 3, 0)
        channels = kernel.shape[-1] if layer.kind == "CONV_2D" else kernel.shape[2]
        bias = graph.constant(layer.bias) if layer.bias is not None else np.zeros(channels)
        reference[endpoint] = dict(
            kernel=kernel,
            beta=bias,
            **{key: np.full(channels, value) for key, value in FOLDED_BN.items()},
        )
    head = layers[len(_EXPECTED_KINDS) :]
    if len(head) > 1:
        raise graph.not_mobilenet(f"it has {len(head)} layers after the pool, a classifier has one")
    if head:
        logits = head[0]
        kernel = graph.constant(logits.weights)
        if logits.kind == "FULLY_CONNECTED":  # [O, I]
            kernel = kernel.T[None, None]
        elif logits.kind == "CONV_2D" and kernel.shape[1:3] == (1, 1):
            kernel = kernel.transpose(1, 2, 3, 0)
        else:
            raise graph.not_mobilenet(
                f"its logits layer is a {logits.kind} of shape {kernel.shape}"
            )
        if logits.bias is None:
            raise graph.not_mobilenet("its logits layer has no bias")
        reference[LOGITS] = dict(kernel=kernel, bias=graph.constant(logits.bias))
    return reference


def _input_quantization(graph: _Graph) -> dict[str, Any] | None:
    """The integer input a quantized file takes (dtype, scale, zero point), or None (float)."""
    detail = graph.interpreter.get_input_details()[0]
    if np.dtype(detail["dtype"]).kind == "f":
        return None
    scale, zero_point = detail["quantization"]
    return dict(
        dtype=np.dtype(detail["dtype"]).name, scale=float(scale), zero_point=int(zero_point)
    )


@dataclass(frozen=True)
class Quantization:
    """A tensor's integer form in the file: float = (q - zero_point) * scale with q of ``dtype``;
    one scale and zero point for the tensor, or one per output channel (weights)."""

    dtype: str
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]


# The dimension a per-channel weight's scales run along: the output channels of each kind.
_OUTPUT_DIMENSION = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0}


def _quantization(graph: _Graph, index: int, kind: str | None = None) -> Quantization:
    detail = graph.tensors[index]
    parameters, dtype = detail["quantization_parameters"], np.dtype(detail["dtype"])
    scales, zero_points = parameters["scales"], parameters["zero_points"]
    if dtype.name not in ("uint8", "int8") or len(scales) == 0:
        raise ValueError(
            f"{graph.path} is not an 8-bit quantized file: tensor {detail['name']!r} is "
            f"{dtype.name}; only uint8 and int8 files have integer arithmetic to keep"
        )
    if len(scales) > 1 and int(parameters["quantized_dimension"]) != _OUTPUT_DIMENSION.get(kind):
        raise ValueError(
            f"{graph.path}: tensor {detail['name']!r} has scales along dimension "
            f"{parameters['quantized_dimension']}, not its output channels"
        )
    if not np.all(np.isfinite(scales)) or np.any(np.asarray(scales) <= 0):
        raise ValueError(
            f"{graph.path}: quantized tensor {detail['name']!r} has a zero, negative or "
            "non-finite scale"
        )
    return Quantization(
        dtype.name, tuple(float(s) for s in scales), tuple(int(z) for z in zero_points)
    )


def tflite_quantization(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The scales and zero points of an 8-bit quantized MobileNet v1 ``.tflite`` file, what its
    integer arithmetic rounds to: ``input``; per layer (the body's endpoints, then ``Logits``)
    its ``weights`` and ``output``; ``pool``. ValueError for a float or float16 file."""
    graph = _Graph(Path(path))
    layers, _ = graph.walk()
    _check_body(graph, layers)
    names = [*body_endpoints(), LOGITS]
    return dict(
        input=_quantization(graph, graph.interpreter.get_input_details()[0]["index"]),
        layers={
            name: dict(
                weights=_quantization(graph, layer.weights, layer.kind),
                output=_quantization(graph, layer.output),
            )
            for name, layer in zip(names, layers)
        },
        pool=_quantization(graph, graph.pool_output),
    )


def tflite_reference(path: str | os.PathLike[str]) -> tuple[ReferenceLayers, dict[str, Any]]:
    """A MobileNet v1 ``.tflite`` file's weights in the reference form, and what the file says
    beyond them: ``resolution``, ``softmax`` (the graph ends in one), ``input_quantization``."""
    graph = _Graph(Path(path))
    layers, softmax = graph.walk()
    resolution = _check_body(graph, layers)
    described = dict(
        resolution=resolution, softmax=softmax, input_quantization=_input_quantization(graph)
    )
    return _reference_layers(graph, layers), described


def litert_outputs(
    path: str | os.PathLike[str], batch: np.ndarray, *, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Runs a ``.tflite`` classifier in LiteRT's interpreter, one image at a time (the files
    are batch 1), on ``batch`` (N, C, H, W floats as the model takes them). A quantized file
    gets the inputs quantized with its own scale and zero point. Returns (the float inputs the
    file saw, as N C H W; its outputs, dequantized): the same tensors then go into the model."""
    require("ai_edge_litert", "litert", "running .tflite files")
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    fed, outputs = [], []
    for image in np.asarray(batch, dtype=np.float32):
        value = image.transpose(1, 2, 0)[None]
        if np.dtype(source["dtype"]).kind != "f":
            scale, zero_point = source["quantization"]
            limits = np.iinfo(source["dtype"])
            value = np.clip(np.round(value / scale + zero_point), limits.min, limits.max)
            value = value.astype(source["dtype"])
            fed.append(((value.astype(np.float32) - zero_point) * scale)[0].transpose(2, 0, 1))
        else:
            fed.append(image)
        interpreter.set_tensor(source["index"], value)
        interpreter.invoke()
        output = interpreter.get_tensor(target["index"])[0]
        if np.dtype(target["dtype"]).kind != "f":
            scale, zero_point = target["quantization"]
            output = (output.astype(np.float32) - zero_point) * scale
        outputs.append(output.astype(np.float32))
    return np.stack(fed), np.stack(outputs)
