"""int8 post-training static quantization with per-channel weights (QAT: ``qat.py``).

Two well-kept x86 backends are wired: ONNX Runtime's static quantization (QDQ or QOperator
graphs, run by its MLAS int8 kernels) and PyTorch's ``x86`` backend (FX graph mode,
fbgemm/oneDNN kernels). ``benchmarks/inference.py`` measures them side by side; ONNX Runtime
with a QDQ graph is the fastest on this project's AVX2 machine (ORT fuses each DQ-Conv-Q group
into its NHWC int8 convolution), ahead of QOperator and well ahead of PyTorch's x86 backend,
so it is what ``--int8`` exports for ONNX and what ``bench --runtime int8`` times.
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn

from ..extras import require
from ..machine import has_vnni

ONNX_FORMATS = ("qdq", "qoperator")


class _TensorReader:
    """ONNX Runtime's CalibrationDataReader over a tensor of inputs, a batch at a time."""

    def __init__(self, inputs: torch.Tensor, input_name: str, batch_size: int) -> None:
        self._batches: Iterator[torch.Tensor] = iter(inputs.split(batch_size))
        self._input_name = input_name

    def get_next(self) -> dict | None:
        batch = next(self._batches, None)
        return None if batch is None else {self._input_name: batch.numpy()}


def quantize_onnx(
    float_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    calibration: torch.Tensor,
    *,
    quant_format: str = "qdq",
    batch_size: int = 32,
    reduce_range: bool | None = None,
) -> None:
    """Writes an int8 copy of the float ONNX model at ``float_path`` to ``out_path``.

    Pre-processing (shape inference and ONNX Runtime's graph optimizations) first, as ORT
    recommends, then static quantization: activations uint8 with ranges from ``calibration``
    (MinMax), weights int8 per output channel. ``reduce_range`` keeps 7-bit weights, which
    machines without VNNI (AVX2's u8 x s8 multiply-add saturates at 16 bits) need; with VNNI the
    dot product accumulates in 32 bits and the full 8 bits keep more precision. None: decided by
    this machine's CPU (7-bit without VNNI).
    """
    require("onnxruntime.quantization", "deploy", "int8 quantization with ONNX Runtime")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if quant_format not in ONNX_FORMATS:
        raise ValueError(
            f"quantization format must be one of {', '.join(ONNX_FORMATS)}; got {quant_format!r}"
        )
    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        import onnx

        input_name = onnx.load(str(prepared), load_external_data=False).graph.input[0].name
        quantize_static(
            str(prepared),
            str(out_path),
            _TensorReader(calibration, input_name, batch_size),
            quant_format=QuantFormat.QDQ if quant_format == "qdq" else QuantFormat.QOperator,
            per_channel=True,
            reduce_range=not has_vnni() if reduce_range is None else reduce_range,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )


def x86_example(model: nn.Module) -> tuple[torch.Tensor]:
    """The example input FX graph-mode quantization traces with."""
    channels, height, width = model.pretrained_cfg["input_size"]
    return (torch.randn(1, channels, height, width),)


def quantize_torch(
    model: nn.Module, calibration: torch.Tensor, *, batch_size: int = 32
) -> nn.Module:
    """PyTorch's x86 backend: FX graph mode post-training static quantization (per-channel
    weights), calibrated on ``calibration``. Returns the converted int8 module."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "x86"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's own deprecation notices, not the user's
        prepared = prepare_fx(
            copy.deepcopy(model).eval(), get_default_qconfig_mapping("x86"), x86_example(model)
        )
        with torch.inference_mode():
            for batch in calibration.split(batch_size):
                prepared(batch)
        return convert_fx(prepared)
