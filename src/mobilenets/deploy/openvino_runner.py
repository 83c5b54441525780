"""OpenVINO on x86 edge boxes: the float model converted from PyTorch, or the project's int8
ONNX file (QDQ), which OpenVINO runs with its own int8 kernels.

OpenVINO computes in bf16 by default on CPUs that have it (AVX-512 BF16, AMX), which changes
the outputs; precision is therefore forced to f32 unless bf16 is asked for.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ..extras import require
from .fuse import fold_batch_norm

PRECISIONS = ("f32", "bf16")


def compile_openvino(
    source: nn.Module | str | os.PathLike[str],
    *,
    example: torch.Tensor,
    threads: int,
    precision: str = "f32",
) -> Callable[[torch.Tensor], np.ndarray]:
    """A function running ``source`` (a PyTorch model, converted with BN folded, or an ONNX
    file) on OpenVINO's CPU plugin with ``threads`` threads at ``precision``."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"OpenVINO precision must be one of {', '.join(PRECISIONS)}; got {precision!r}"
        )
    openvino = require("openvino", "openvino", "running on OpenVINO")
    core = openvino.Core()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracing notices
        if isinstance(source, nn.Module):
            network = openvino.convert_model(fold_batch_norm(source), example_input=example)
        else:
            network = core.read_model(str(source))
    settings: dict[str, Any] = {
        "INFERENCE_PRECISION_HINT": precision,
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
    }
    compiled = core.compile_model(network, "CPU", settings)
    request = compiled.create_infer_request()

    def run(batch: torch.Tensor) -> np.ndarray:
        outputs = request.infer([batch.numpy()])[0]
        # Seen with bf16 under ONEDNN_MAX_CPU_ISA=AVX2 on an AVX-512 BF16 CPU: no rows, no error.
        if len(outputs) != len(batch):
            raise RuntimeError(
                f"OpenVINO ({precision}) returned {len(outputs)} rows for a batch of {len(batch)}"
            )
        return outputs

    return run
