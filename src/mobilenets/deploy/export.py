"""Exporting to ONNX and TorchScript with a dynamic batch size, or as a pretrained folder
(``config.json`` + ``model.safetensors``, the Hugging Face Hub's layout), and checking every
export by running it against PyTorch on the same inputs."""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..extras import require
from ..files import atomic_output
from ..models import from_pretrained, save_pretrained
from ..pt_files import load_torchscript
from .fuse import fold_batch_norm
from .qat import convert_qat, is_qat_prepared
from .quantize import quantize_onnx, quantize_torch

FORMATS = ("onnx", "torchscript", "pretrained")
# Opset 17: what ONNX Runtime >= 1.13, TensorRT 8.6, OpenVINO and onnx2tf all read.
ONNX_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "input", "logits"


def _example(model: nn.Module) -> torch.Tensor:
    return torch.randn(1, *model.pretrained_cfg["input_size"])


def export_onnx(model: nn.Module, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Writes ``model`` (BN folded) as ONNX with a dynamic batch dimension.

    The TorchScript-based exporter (``dynamo=False``) is used: on MobileNet it gives the same
    Conv/Relu/Gemm graph and ONNX Runtime speed as the dynamo exporter, at opset 17 rather than
    18+, and exports in a fifth of the time.
    """
    require("onnx", "deploy", "ONNX export")
    folded = fold_batch_norm(model)
    with atomic_output(path, force=force) as temporary, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            folded, (_example(model),), str(temporary), dynamo=False, opset_version=ONNX_OPSET,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
        )
    return Path(path)


def export_torchscript(
    model: nn.Module, path: str | os.PathLike[str], *, example: torch.Tensor | None = None, force: bool = False,
) -> Path:
    """Writes ``model`` as a traced TorchScript file (BN folded when the model is float; an int8
    module from ``quantize.py`` goes as it is, traced on ``example``)."""
    module = model if _is_quantized(model) else fold_batch_norm(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, example if example is not None else _example(model), check_trace=False)
        with atomic_output(path, force=force) as temporary:
            torch.jit.save(traced, str(temporary))
    return Path(path)


def _is_quantized(model: nn.Module) -> bool:
    return any(".quantized" in type(module).__module__ for module in model.modules())


def onnx_session(path: str | os.PathLike[str], *, threads: int | None = None):
    """An ONNX Runtime CPU session with every graph optimization; ValueError for a file that is
    not a readable ONNX model."""
    onnxruntime = require("onnxruntime", "deploy", "running ONNX models")
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    if not Path(path).is_file():
        raise FileNotFoundError(f"ONNX file {path} does not exist")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # ORT raises its own Fail/InvalidGraph/... types
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"{path} is not a valid ONNX model: {reason}") from error


def run_export(path: str | os.PathLike[str], format: str, inputs: torch.Tensor) -> np.ndarray:
    """The outputs of an exported file on ``inputs``, run by ONNX Runtime or torch.jit."""
    if format == "onnx":
        return onnx_session(path).run(None, {INPUT_NAME: inputs.numpy()})[0]
    if format == "torchscript":
        with torch.inference_mode():
            return load_torchscript(path)(inputs).numpy()
    if format == "pretrained":
        return reference_outputs(from_pretrained(path), inputs)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")


def reference_outputs(model: nn.Module, inputs: torch.Tensor) -> np.ndarray:
    """The float PyTorch model's outputs, what an export is compared with."""
    with torch.inference_mode():
        return model.eval()(inputs).numpy()


def export_model(
    model: nn.Module,
    path: str | os.PathLike[str],
    format: str,
    *,
    verify_inputs: torch.Tensor,
    int8_calibration: torch.Tensor | None = None,
    force: bool = False,
) -> dict:
    """Exports ``model`` (int8 when ``int8_calibration`` is given: ONNX Runtime QDQ for ONNX,
    PyTorch's x86 backend for TorchScript; a QAT-prepared model is converted to int8), then runs the file on ``verify_inputs`` at two batch
    sizes (all of them, and one) against the float PyTorch model. Returns the path, size, the
    largest absolute output difference (and the largest output, for scale) and how often the
    top class agrees."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    qat = is_qat_prepared(model)
    if format == "pretrained" and (qat or int8_calibration is not None):
        raise ValueError("--format pretrained writes float weights (safetensors); int8 exports as onnx or torchscript")
    if qat and format != "torchscript":
        raise ValueError("a quantization-aware (QAT) model exports as --format torchscript (PyTorch's x86 int8)")
    model = model.eval()
    if format == "onnx" and int8_calibration is not None:
        with tempfile.TemporaryDirectory() as scratch:
            float_path = export_onnx(model, Path(scratch) / "float.onnx")
            with atomic_output(path, force=force) as temporary:
                quantize_onnx(float_path, temporary, int8_calibration)
    elif format == "onnx":
        export_onnx(model, path, force=force)
    elif format == "pretrained":
        save_pretrained(model, path, force=force)
    else:
        if qat:
            module = convert_qat(model)
        else:
            module = model if int8_calibration is None else quantize_torch(model, int8_calibration)
        export_torchscript(module, path, example=verify_inputs[:1], force=force)
    expected = reference_outputs(model, verify_inputs)
    outputs = np.concatenate([run_export(path, format, verify_inputs), run_export(path, format, verify_inputs[:1])])
    expected = np.concatenate([expected, expected[:1]])
    return {
        "out": str(path),
        "format": format,
        "int8": qat or int8_calibration is not None,
        "bytes": sum(file.stat().st_size for file in Path(path).iterdir()) if Path(path).is_dir() else Path(path).stat().st_size,
        "verified_batch_sizes": [len(verify_inputs), 1],
        "max_abs_diff": float(np.abs(outputs - expected).max()),
        "max_abs_output": float(np.abs(expected).max()),
        "top1_agreement": float((outputs.argmax(1) == expected.argmax(1)).mean()),
    }
