"""Deployment: BN folding, ONNX/TorchScript/ExecuTorch/LiteRT export, int8, latency, and choosing alpha and rho."""

from .checkpoint import load_model
from .export import (
    FORMATS,
    export_model,
    export_onnx,
    export_torchscript,
    onnx_session,
    reference_outputs,
    run_export,
)
from .fuse import fold_batch_norm, prepare_for_inference
from .inputs import FASHION_MNIST, input_transform, random_inputs, real_inputs
from .latency import RUNTIMES, benchmark, benchmark_onnx_file, runner
from .mobile import MOBILE_FORMATS, export_mobile, mobile_runner
from .qat import convert_qat, is_qat_prepared, prepare_qat, prepared_model
from .quantize import quantize_onnx, quantize_torch
from .select import RELEASED_TOP1, pareto_frontier, read_accuracy_table, select_model

__all__ = [
    "FASHION_MNIST",
    "FORMATS",
    "MOBILE_FORMATS",
    "RELEASED_TOP1",
    "RUNTIMES",
    "benchmark",
    "benchmark_onnx_file",
    "convert_qat",
    "export_mobile",
    "export_model",
    "export_onnx",
    "export_torchscript",
    "fold_batch_norm",
    "input_transform",
    "is_qat_prepared",
    "load_model",
    "mobile_runner",
    "onnx_session",
    "pareto_frontier",
    "prepare_for_inference",
    "prepare_qat",
    "prepared_model",
    "quantize_onnx",
    "quantize_torch",
    "random_inputs",
    "read_accuracy_table",
    "real_inputs",
    "reference_outputs",
    "run_export",
    "runner",
    "select_model",
]
