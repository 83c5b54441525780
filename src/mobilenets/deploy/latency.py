"""Latency on the machine at hand: one runner per runtime, warm-up, then repeated timing
(median and 90th percentile of ``time.perf_counter`` over ``runs`` calls), with the CPU's
model and kernel flags and how much CPU other processes took meanwhile."""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..cost import count_cost
from ..machine import OtherLoad, cpu_flags, cpu_name
from .export import INPUT_NAME, export_onnx, onnx_session
from .fuse import prepare_for_inference
from .inputs import random_inputs
from .mobile import MOBILE_FORMATS, export_mobile, mobile_runner
from .openvino_runner import PRECISIONS, compile_openvino
from .quantize import quantize_onnx

# "int8" is ONNX Runtime's; the phone runtimes and OpenVINO each have a float and an int8 form.
RUNTIMES = (
    "eager",
    "channels_last",
    "compile",
    "onnxruntime",
    "int8",
    "executorch",
    "executorch-int8",
    "tflite",
    "tflite-int8",
    "openvino",
    "openvino-int8",
)
CALIBRATION_IMAGES = 32
# Shortest window over which other processes' CPU time is judged: 50 of the kernel's 10 ms ticks.
LOAD_WINDOW_S = 0.5


def check_runtime(runtime: str, precision: str = "f32") -> None:
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}; got {runtime!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if precision != "f32" and runtime != "openvino":
        raise ValueError(
            f"precision {precision} is OpenVINO's float mode: give it with --runtime openvino"
        )


def is_int8(runtime: str) -> bool:
    return runtime == "int8" or runtime.endswith("-int8")


@contextlib.contextmanager
def runner(
    model: nn.Module,
    runtime: str,
    *,
    threads: int,
    calibration: torch.Tensor | None = None,
    precision: str = "f32",
) -> Iterator[Callable[[torch.Tensor], Any]]:
    """A function running ``model`` on a batch in ``runtime`` with ``threads`` threads:
    eager (as built), channels_last (BN folded, NHWC), compile (that, through torch.compile),
    onnxruntime (fp32 export), int8 (ONNX Runtime static int8, QDQ, calibrated on
    ``calibration``), executorch / tflite (the batch-1 phone files, one image per call; -int8:
    PT2E), openvino (converted from PyTorch at ``precision``; -int8: the ONNX Runtime int8 file).
    Files live in a temporary folder for the runner's lifetime."""
    check_runtime(runtime, precision)
    torch.set_num_threads(threads)
    model = model.eval()
    if runtime in ("eager", "channels_last", "compile"):
        prepared = (
            model
            if runtime == "eager"
            else prepare_for_inference(model, compile=runtime == "compile")
        )
        layout = torch.contiguous_format if runtime == "eager" else torch.channels_last

        def run_torch(batch: torch.Tensor) -> Any:
            with torch.inference_mode():
                return prepared(batch.contiguous(memory_format=layout))

        yield run_torch
        return
    if is_int8(runtime) and calibration is None:
        calibration = random_inputs(model, CALIBRATION_IMAGES)
    with tempfile.TemporaryDirectory() as scratch:
        format = runtime.removesuffix("-int8")
        if format in MOBILE_FORMATS:
            path = export_mobile(
                model,
                Path(scratch) / f"model.{format}",
                format,
                example=random_inputs(model, 1),
                int8_calibration=calibration if is_int8(runtime) else None,
            )
            with mobile_runner(path, format, threads=threads) as run:
                yield run
            return
        if runtime == "openvino":
            yield compile_openvino(
                model, example=random_inputs(model, 1), threads=threads, precision=precision
            )
            return
        path = export_onnx(model, Path(scratch) / "float.onnx")
        if runtime in ("int8", "openvino-int8"):
            quantized = Path(scratch) / "int8.onnx"
            quantize_onnx(path, quantized, calibration)
            path = quantized
        if runtime == "openvino-int8":
            yield compile_openvino(path, example=random_inputs(model, 1), threads=threads)
            return
        session = onnx_session(path, threads=threads)
        yield lambda batch: session.run(None, {INPUT_NAME: batch.numpy()})
        # Free the session's spinning thread pool before anything else is timed (the closure's
        # cell held it after a `del`, too).
        session = None


def time_calls(
    function: Callable[[], Any], *, warmup: int, runs: int, min_seconds: float = 0.0
) -> list[float]:
    """Milliseconds per call of ``function`` over ``runs`` calls, after ``warmup`` untimed ones;
    more calls where ``runs`` took less than ``min_seconds``."""
    for _ in range(warmup):
        function()
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < runs or time.perf_counter() - began < min_seconds:
        start = time.perf_counter()
        function()
        times.append(1000 * (time.perf_counter() - start))
    return times


def summarize(times_ms: list[float], batch_size: int) -> dict[str, float]:
    """Median, 90th percentile and throughput of a list of per-call times."""
    median = statistics.median(times_ms)
    p90 = (
        statistics.quantiles(times_ms, n=10, method="inclusive")[-1]
        if len(times_ms) > 1
        else median
    )
    return {
        "median_ms": round(median, 3),
        "p90_ms": round(p90, 3),
        "images_per_second": round(1000 * batch_size / median, 1),
    }


def benchmark(
    model: nn.Module,
    runtime: str,
    *,
    batch_size: int = 1,
    threads: int | None = None,
    warmup: int = 5,
    runs: int = 30,
    calibration: torch.Tensor | None = None,
    calibration_source: str | None = None,
    precision: str = "f32",
) -> dict[str, Any]:
    """Times ``model`` in ``runtime``; the result has the runtime, batch size, threads, median
    and p90 milliseconds, images per second, the model's mult-adds and parameters, and the
    machine (:func:`timing_conditions`). For int8 without ``calibration`` the ranges come from
    generated inputs (noted on stderr and in ``"calibration"``). ``precision``: OpenVINO's
    float precision (f32 unless bf16 is asked)."""
    check_runtime(runtime, precision)
    if batch_size < 1 or runs < 1 or warmup < 0:
        raise ValueError("batch size and runs must be at least 1, warm-up at least 0")
    threads = threads or torch.get_num_threads()
    result: dict[str, Any] = {"runtime": runtime, "batch_size": batch_size, "threads": threads}
    if runtime == "openvino":
        result["precision"] = precision
    if is_int8(runtime):
        if calibration is None:
            print(
                "note: int8 calibrated on generated (random) inputs; pass calibration data for real ranges",
                file=sys.stderr,
            )
        result["calibration"] = calibration_source if calibration is not None else "random"
    batch = random_inputs(model, batch_size, seed=1)
    with runner(
        model, runtime, threads=threads, calibration=calibration, precision=precision
    ) as run:
        times, conditions = timed_calls(
            lambda: run(batch), warmup=warmup, runs=runs, threads=threads
        )
    cost = count_cost(model)
    return {
        **result,
        **summarize(times, batch_size),
        "mult_adds": cost.mult_adds,
        "params": cost.params,
        **conditions,
    }


def timed_calls(
    function: Callable[[], Any], *, warmup: int, runs: int, threads: int
) -> tuple[list[float], dict[str, Any]]:
    """:func:`time_calls`, and the conditions it ran in: the CPU's model and kernel flags, the
    cores other processes took meanwhile and whether that contended with ``threads``. The calls
    go on for at least ``LOAD_WINDOW_S``: the kernel counts CPU time in ticks (10 ms), so the
    load over a shorter window is mostly rounding."""
    with OtherLoad() as load:
        times = time_calls(function, warmup=warmup, runs=runs, min_seconds=LOAD_WINDOW_S)
    conditions = {
        "runs": len(times),
        "cpu": cpu_name(),
        "cpu_flags": cpu_flags(),
        "other_cpu_cores": load.cores,
        "contended": load.contended(threads),
    }
    return times, conditions


def benchmark_onnx_file(
    path: str | os.PathLike[str],
    *,
    batch_size: int = 1,
    threads: int | None = None,
    warmup: int = 5,
    runs: int = 30,
) -> dict[str, Any]:
    """Times an exported ONNX file (float or int8) in ONNX Runtime on random inputs of its
    declared shape; mult-adds and parameters are not known for a file and come back as None."""
    threads = threads or torch.get_num_threads()
    session = onnx_session(path, threads=threads)
    declared = session.get_inputs()[0]
    shape = declared.shape[1:]
    if not all(isinstance(size, int) for size in shape):
        raise ValueError(
            f"{path}: input {declared.name} has no fixed channel/height/width ({declared.shape})"
        )
    batch = torch.randn(batch_size, *shape, generator=torch.Generator().manual_seed(1)).numpy()
    times, conditions = timed_calls(
        lambda: session.run(None, {declared.name: batch}), warmup=warmup, runs=runs, threads=threads
    )
    return {
        "runtime": "onnxruntime",
        "file": str(path),
        "batch_size": batch_size,
        "threads": threads,
        **summarize(times, batch_size),
        "mult_adds": None,
        "params": None,
        **conditions,
    }
