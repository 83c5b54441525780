"""Files for phones: ExecuTorch (.pte, XNNPACK delegate) and LiteRT (.tflite), float or int8,
and running them in their own runtimes (ExecuTorch's Python runtime, LiteRT's interpreter).

Both take a batch-1 graph from ``torch.export``, what a phone app feeds. int8 goes through
PyTorch's PT2E flow with each runtime's XNNPACK quantizer (ExecuTorch's ``XNNPACKQuantizer``,
litert-torch's ``PT2EQuantizer``, its copy): per-channel symmetric int8 weights, int8
activations calibrated on real images. A LiteRT int8 file takes and returns int8 tensors (fully
integer, what NPUs and microcontrollers want); :func:`mobile_runner` quantizes its input and
dequantizes its output with the scales the file declares.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..debug import native_stderr_hidden
from ..extras import require
from ..files import atomic_output, refuse_existing
from ..messages import first_line
from .fuse import fold_batch_norm

MOBILE_FORMATS = ("executorch", "tflite")
# The extra that installs each format's converter and runtime.
EXTRAS = {"executorch": "executorch", "tflite": "litert"}
SUFFIXES = {"executorch": ".pte", "tflite": ".tflite"}


def _check(format: str) -> None:
    if format not in MOBILE_FORMATS:
        raise ValueError(
            f"mobile format must be one of {', '.join(MOBILE_FORMATS)}; got {format!r}"
        )


def _quiet() -> contextlib.ExitStack:
    """Silences the converters' and runtimes' deprecation and tracing warnings and their native
    stderr lines (ExecuTorch's cpuinfo), which are not the user's (MOBILENETS_DEBUG=1 shows the
    native ones)."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    stack.enter_context(native_stderr_hidden())
    return stack


def _quantizer(format: str):
    if format == "executorch":
        require("executorch", EXTRAS[format], "int8 for ExecuTorch")
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )

        return XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    require("litert_torch", EXTRAS[format], "int8 for LiteRT")
    from litert_torch.quantize.pt2e_quantizer import (
        PT2EQuantizer,
        get_symmetric_quantization_config,
    )

    return PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))


def quantize_pt2e(
    model: nn.Module, quantizer, calibration: torch.Tensor, *, fold_weights: bool = True
) -> nn.Module:
    """``model`` (BN folded) as a PT2E int8 graph: exported at batch 1, observed on each
    calibration image, converted to quantize/dequantize pairs around int8 weights
    (``fold_weights``: stored int8, as XNNPACK's partitioner wants; else float weights with
    their quantize op, which litert-torch's converter folds itself)."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    example = (calibration[:1],)
    with _quiet():
        prepared = prepare_pt2e(
            torch.export.export(fold_batch_norm(model), example).module(), quantizer
        )
        with torch.no_grad():
            for image in calibration.split(1):
                prepared(image)
        return convert_pt2e(prepared, fold_quantize=fold_weights)


def export_mobile(
    model: nn.Module,
    path: str | os.PathLike[str],
    format: str,
    *,
    example: torch.Tensor,
    int8_calibration: torch.Tensor | None = None,
    force: bool = False,
) -> Path:
    """Writes ``model`` as a batch-1 ExecuTorch or LiteRT file for inputs shaped like
    ``example`` (int8 when ``int8_calibration`` is given). Refuses to overwrite without force."""
    _check(format)
    refuse_existing(path, force=force)  # before minutes of conversion, not after
    require(
        "executorch" if format == "executorch" else "litert_torch",
        EXTRAS[format],
        f"{format} export",
    )
    example = example[:1]
    model = model.eval()
    with _quiet():
        if int8_calibration is not None:
            quantizer = _quantizer(format)
            module = quantize_pt2e(
                model, quantizer, int8_calibration, fold_weights=format == "executorch"
            )
        else:
            quantizer, module = None, fold_batch_norm(model)
        with atomic_output(path, force=force) as temporary:
            if format == "executorch":
                temporary.write_bytes(_to_executorch(module, example))
            else:
                # litert-torch prints its progress on stdout, which belongs to --json.
                with contextlib.redirect_stdout(sys.stderr):
                    _to_tflite(module, example, quantizer).export(str(temporary))
    return Path(path)


def _to_executorch(module: nn.Module, example: torch.Tensor) -> bytes:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    program = torch.export.export(module, (example,))
    return (
        to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        .to_executorch()
        .buffer
    )


def _to_tflite(module: nn.Module, example: torch.Tensor, quantizer):
    import litert_torch
    from litert_torch.quantize.quant_config import QuantConfig

    config = QuantConfig(pt2e_quantizer=quantizer) if quantizer is not None else None
    return litert_torch.convert(module, (example,), quant_config=config)


@contextlib.contextmanager
def mobile_runner(
    path: str | os.PathLike[str],
    format: str,
    *,
    threads: int | None = None,
) -> Iterator[Callable[[torch.Tensor], np.ndarray | list[np.ndarray]]]:
    """A function running the file at ``path`` in its own runtime on a batch (one image at a
    time, as the file is batch 1) and returning its float output (a list of them for a file
    with several, such as a feature backbone's)."""
    _check(format)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{format} file {path} does not exist")
    single = (
        _executorch_method(path, threads)
        if format == "executorch"
        else _litert_interpreter(path, threads)
    )

    def run(batch: torch.Tensor) -> np.ndarray | list[np.ndarray]:
        per_output = [
            np.concatenate(parts) for parts in zip(*(single(image) for image in batch.split(1)))
        ]
        return per_output[0] if len(per_output) == 1 else per_output

    yield run


def _executorch_method(
    path: str | os.PathLike[str], threads: int | None
) -> Callable[[torch.Tensor], list[np.ndarray]]:
    require("executorch", EXTRAS["executorch"], "running ExecuTorch files")
    with _quiet():  # "experimental API" on import
        from executorch.runtime import Runtime

    if threads:
        from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

        _unsafe_reset_threadpool(threads)
    try:
        with _quiet():
            method = Runtime.get().load_program(Path(path)).load_method("forward")
    except Exception as error:  # ExecuTorch raises RuntimeError/ValueError by error code
        raise ValueError(
            f"{path} is not a loadable ExecuTorch program: {first_line(error)}"
        ) from error
    return lambda image: [output.numpy() for output in method.execute([image.contiguous()])]


def _litert_interpreter(
    path: str | os.PathLike[str], threads: int | None
) -> Callable[[torch.Tensor], list[np.ndarray]]:
    interpreter_module = require(
        "ai_edge_litert.interpreter", EXTRAS["tflite"], "running LiteRT files"
    )
    try:
        interpreter = interpreter_module.Interpreter(
            model_path=str(path), num_threads=threads or None
        )
        interpreter.allocate_tensors()
    except Exception as error:
        raise ValueError(f"{path} is not a loadable LiteRT model: {first_line(error)}") from error
    (source,), targets = interpreter.get_input_details(), interpreter.get_output_details()

    def run(image: torch.Tensor) -> list[np.ndarray]:
        interpreter.set_tensor(source["index"], _quantize(image.numpy(), source))
        interpreter.invoke()
        return [_dequantize(interpreter.get_tensor(target["index"]), target) for target in targets]

    return run


def _quantize(values: np.ndarray, details: dict) -> np.ndarray:
    if details["dtype"] == np.float32:
        return values
    scale, zero_point = details["quantization"]
    limits = np.iinfo(details["dtype"])
    return np.clip(np.round(values / scale) + zero_point, limits.min, limits.max).astype(
        details["dtype"]
    )


def _dequantize(values: np.ndarray, details: dict) -> np.ndarray:
    if values.dtype == np.float32:
        return values
    scale, zero_point = details["quantization"]
    return (values.astype(np.float32) - zero_point) * scale
