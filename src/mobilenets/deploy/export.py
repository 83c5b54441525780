"""Exporting to ONNX and TorchScript with a dynamic batch size, to ExecuTorch and LiteRT at
batch 1 (``mobile.py``), or as a pretrained folder (``config.json`` + ``model.safetensors``, the
Hugging Face Hub's layout), and checking every export by running it in its own runtime against
PyTorch on the same inputs."""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..extras import require
from ..files import atomic_output
from ..messages import first_line
from ..pt_files import load_torchscript
from ..weights import from_pretrained, save_pretrained
from .fuse import fold_batch_norm
from .mobile import MOBILE_FORMATS, export_mobile, mobile_runner
from .qat import convert_qat, is_qat_prepared
from .quantize import quantize_onnx, quantize_torch
from .tflite_int8 import integer_constants, is_file_quantized

FORMATS = ("onnx", "torchscript", "pretrained", *MOBILE_FORMATS)
# Opset 17: what ONNX Runtime >= 1.13, TensorRT 8.6, OpenVINO and onnx2tf all read.
ONNX_OPSET = 17
INPUT_NAME, OUTPUT_NAME = "input", "logits"


def _example(model: nn.Module) -> torch.Tensor:
    return torch.randn(1, *model.pretrained_cfg["input_size"])


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    output_names: Sequence[str] = (OUTPUT_NAME,),
    force: bool = False,
) -> Path:
    """Writes ``model`` (BN folded) as ONNX with a dynamic batch dimension; ``output_names``
    names its outputs (several for a feature backbone).

    The TorchScript-based exporter (``dynamo=False``) is used: on MobileNet it gives the same
    Conv/Relu/Gemm graph and ONNX Runtime speed as the dynamo exporter, at opset 17 rather than
    18+, and exports in a fifth of the time.
    """
    require("onnx", "deploy", "ONNX export")
    folded = fold_batch_norm(model)
    with atomic_output(path, force=force) as temporary, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            folded,
            (_example(model),),
            str(temporary),
            dynamo=False,
            opset_version=ONNX_OPSET,
            input_names=[INPUT_NAME],
            output_names=list(output_names),
            dynamic_axes={name: {0: "batch"} for name in (INPUT_NAME, *output_names)},
        )
    return Path(path)


def export_torchscript(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    example: torch.Tensor | None = None,
    force: bool = False,
) -> Path:
    """Writes ``model`` as a traced TorchScript file (BN folded when the model is float; an int8
    module from ``quantize.py`` goes as it is, traced on ``example``)."""
    module = model if _is_quantized(model) else fold_batch_norm(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(
            module, example if example is not None else _example(model), check_trace=False
        )
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
        reason = first_line(error)
        raise ValueError(f"{path} is not a valid ONNX model: {reason}") from error


@contextlib.contextmanager
def export_runner(
    path: str | os.PathLike[str],
    format: str,
    *,
    threads: int | None = None,
) -> Iterator[Callable[[torch.Tensor], np.ndarray]]:
    """A function running an exported file on a batch in its own runtime (ONNX Runtime,
    torch.jit, ExecuTorch, LiteRT, or this package for a pretrained folder) with ``threads``
    threads (the runtime's default: None)."""
    if format in MOBILE_FORMATS:
        with mobile_runner(path, format, threads=threads) as run:
            yield run
    elif format == "onnx":
        session = onnx_session(path, threads=threads)
        yield lambda batch: session.run(None, {INPUT_NAME: batch.numpy()})[0]
    elif format == "torchscript":
        module = load_torchscript(path)

        def run_torchscript(batch: torch.Tensor) -> np.ndarray:
            with torch.inference_mode():
                return module(batch).numpy()

        yield run_torchscript
    elif format == "pretrained":
        model = from_pretrained(path)
        yield lambda batch: reference_outputs(model, batch)
    else:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")


def run_export(path: str | os.PathLike[str], format: str, inputs: torch.Tensor) -> np.ndarray:
    """The outputs of an exported file on ``inputs``, run in its own runtime."""
    with export_runner(path, format) as run:
        return run(inputs)


def reference_outputs(model: nn.Module, inputs: torch.Tensor) -> np.ndarray:
    """The float PyTorch model's outputs, what an export is compared with."""
    with torch.inference_mode():
        return model.eval()(inputs).numpy()


def signal_to_noise_db(outputs: np.ndarray, expected: np.ndarray) -> float:
    """10 log10 of the reference's power over the error's: how far int8 outputs are from float
    (30 dB: errors about 3% of the signal's magnitude); infinite when they are equal."""
    noise = float(np.square(outputs - expected).sum())
    return float("inf") if noise == 0 else 10 * float(np.log10(np.square(expected).sum() / noise))


def compare_outputs(outputs: np.ndarray, expected: np.ndarray) -> dict[str, Any]:
    """How an export's logits differ from PyTorch fp32's: the largest absolute difference (and
    the largest output, for scale), how often the top class agrees, the SNR in dB."""
    return {
        "max_abs_diff": float(np.abs(outputs - expected).max()),
        "max_abs_output": float(np.abs(expected).max()),
        "top1_agreement": float((outputs.argmax(1) == expected.argmax(1)).mean()),
        "snr_db": _finite(signal_to_noise_db(outputs, expected)),
    }


def write_export(
    model: nn.Module,
    path: str | os.PathLike[str],
    format: str,
    *,
    example: torch.Tensor,
    int8_calibration: torch.Tensor | None = None,
    force: bool = False,
) -> bool:
    """Writes ``model`` as ``format`` (int8 when ``int8_calibration`` is given: ONNX Runtime QDQ
    for ONNX, PyTorch's x86 backend for TorchScript, PT2E with the XNNPACK quantizer for
    ExecuTorch and LiteRT; a QAT-prepared model is converted to int8; a quantized .tflite's
    model, ``tflite_int8.quantized_model``, goes to ONNX QDQ with the file's own scales);
    ``example``: inputs of the model's shape. Returns whether the file is int8."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    if is_file_quantized(model):
        if format != "onnx" or int8_calibration is not None:
            raise ValueError(
                "a quantized .tflite's own scales and zero points export as --format onnx "
                "(QDQ, no calibration); other formats take the file as float weights without --int8"
            )
        with tempfile.TemporaryDirectory() as scratch:
            exported = export_onnx(model.eval(), Path(scratch) / "qdq.onnx")
            with atomic_output(path, force=force) as temporary:
                integer_constants(exported, temporary)
        return True
    qat = is_qat_prepared(model)
    if format == "pretrained" and (qat or int8_calibration is not None):
        raise ValueError(
            "--format pretrained writes float weights (safetensors); "
            "int8 exports as onnx, torchscript, executorch or tflite"
        )
    if qat and format != "torchscript":
        raise ValueError(
            "a quantization-aware (QAT) model exports as --format torchscript (PyTorch's x86 int8)"
        )
    model = model.eval()
    if format == "onnx" and int8_calibration is not None:
        with tempfile.TemporaryDirectory() as scratch:
            float_path = export_onnx(model, Path(scratch) / "float.onnx")
            with atomic_output(path, force=force) as temporary:
                quantize_onnx(float_path, temporary, int8_calibration)
    elif format == "onnx":
        export_onnx(model, path, force=force)
    elif format in MOBILE_FORMATS:
        export_mobile(
            model, path, format, example=example, int8_calibration=int8_calibration, force=force
        )
    elif format == "pretrained":
        save_pretrained(model, path, force=force)
    else:
        if qat:
            module = convert_qat(model)
        else:
            module = model if int8_calibration is None else quantize_torch(model, int8_calibration)
        export_torchscript(module, path, example=example[:1], force=force)
    return qat or int8_calibration is not None


def export_model(
    model: nn.Module,
    path: str | os.PathLike[str],
    format: str,
    *,
    verify_inputs: torch.Tensor,
    int8_calibration: torch.Tensor | None = None,
    force: bool = False,
) -> dict:
    """Exports ``model`` (:func:`write_export`), then runs the file on ``verify_inputs`` against
    the float PyTorch model: at two batch sizes (all of them, and one), or image by image for
    the batch-1 mobile formats. Returns the path, format, size and :func:`compare_outputs`."""
    int8 = write_export(
        model, path, format, example=verify_inputs, int8_calibration=int8_calibration, force=force
    )
    expected = reference_outputs(model, verify_inputs)
    outputs = run_export(path, format, verify_inputs)
    batch_sizes = [1] if format in MOBILE_FORMATS else [len(verify_inputs), 1]
    if len(batch_sizes) > 1:
        outputs = np.concatenate([outputs, run_export(path, format, verify_inputs[:1])])
        expected = np.concatenate([expected, expected[:1]])
    return {
        "out": str(path),
        "format": format,
        "int8": int8,
        "bytes": sum(file.stat().st_size for file in Path(path).iterdir())
        if Path(path).is_dir()
        else Path(path).stat().st_size,
        "verified_batch_sizes": batch_sizes,
        "verified_images": len(verify_inputs),
        **compare_outputs(outputs, expected),
    }


def _finite(value: float) -> float | None:
    """JSON has no infinity: an exact match's SNR is reported as None."""
    return round(value, 2) if np.isfinite(value) else None
