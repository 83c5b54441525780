"""Latency on the machine at hand: one runner per runtime, warm-up, then repeated timing
(median and 90th percentile of ``time.perf_counter`` over ``runs`` calls)."""
from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

from ..cost import count_cost
from .export import INPUT_NAME, export_onnx, onnx_session
from .fuse import prepare_for_inference
from .inputs import random_inputs
from .quantize import quantize_onnx

RUNTIMES = ("eager", "channels_last", "compile", "onnxruntime", "int8")
CALIBRATION_IMAGES = 32


def check_runtime(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}; got {runtime!r}")


@contextlib.contextmanager
def runner(
    model: nn.Module, runtime: str, *, threads: int, calibration: torch.Tensor | None = None,
) -> Iterator[Callable[[torch.Tensor], Any]]:
    """A function running ``model`` on a batch in ``runtime`` with ``threads`` threads:
    eager (as built), channels_last (BN folded, NHWC), compile (that, through torch.compile),
    onnxruntime (fp32 export) or int8 (ONNX Runtime static int8, QDQ, calibrated on
    ``calibration``). ONNX files live in a temporary folder for the runner's lifetime."""
    check_runtime(runtime)
    torch.set_num_threads(threads)
    model = model.eval()
    if runtime in ("eager", "channels_last", "compile"):
        prepared = model if runtime == "eager" else prepare_for_inference(model, compile=runtime == "compile")
        layout = torch.contiguous_format if runtime == "eager" else torch.channels_last

        def run_torch(batch: torch.Tensor) -> Any:
            with torch.inference_mode():
                return prepared(batch.contiguous(memory_format=layout))

        yield run_torch
        return
    with tempfile.TemporaryDirectory() as scratch:
        path = export_onnx(model, Path(scratch) / "float.onnx")
        if runtime == "int8":
            quantized = Path(scratch) / "int8.onnx"
            quantize_onnx(path, quantized, calibration if calibration is not None else random_inputs(model, CALIBRATION_IMAGES))
            path = quantized
        session = onnx_session(path, threads=threads)
        yield lambda batch: session.run(None, {INPUT_NAME: batch.numpy()})
        # Free the session's spinning thread pool before anything else is timed.
        del session


def time_calls(function: Callable[[], Any], *, warmup: int, runs: int) -> list[float]:
    """Milliseconds per call of ``function`` over ``runs`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(1000 * (time.perf_counter() - start))
    return times


def summarize(times_ms: list[float], batch_size: int) -> dict[str, float]:
    """Median, 90th percentile and throughput of a list of per-call times."""
    median = statistics.median(times_ms)
    p90 = statistics.quantiles(times_ms, n=10, method="inclusive")[-1] if len(times_ms) > 1 else median
    return {"median_ms": round(median, 3), "p90_ms": round(p90, 3), "images_per_second": round(1000 * batch_size / median, 1)}


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
) -> dict[str, Any]:
    """Times ``model`` in ``runtime``; the result has the runtime, batch size, threads, median
    and p90 milliseconds, images per second, and the model's mult-adds and parameters. For int8
    without ``calibration`` the ranges come from generated inputs (noted on stderr and in
    ``"calibration"``)."""
    check_runtime(runtime)
    if batch_size < 1 or runs < 1 or warmup < 0:
        raise ValueError("batch size and runs must be at least 1, warm-up at least 0")
    threads = threads or torch.get_num_threads()
    result: dict[str, Any] = {"runtime": runtime, "batch_size": batch_size, "threads": threads}
    if runtime == "int8":
        if calibration is None:
            print("note: int8 calibrated on generated (random) inputs; pass calibration data for real ranges", file=sys.stderr)
        result["calibration"] = calibration_source if calibration is not None else "random"
    batch = random_inputs(model, batch_size, seed=1)
    with runner(model, runtime, threads=threads, calibration=calibration) as run:
        times = time_calls(lambda: run(batch), warmup=warmup, runs=runs)
    cost = count_cost(model)
    return {**result, **summarize(times, batch_size), "mult_adds": cost.mult_adds, "params": cost.params}


def benchmark_onnx_file(
    path: str | os.PathLike[str], *, batch_size: int = 1, threads: int | None = None, warmup: int = 5, runs: int = 30,
) -> dict[str, Any]:
    """Times an exported ONNX file (float or int8) in ONNX Runtime on random inputs of its
    declared shape; mult-adds and parameters are not known for a file and come back as None."""
    threads = threads or torch.get_num_threads()
    session = onnx_session(path, threads=threads)
    declared = session.get_inputs()[0]
    shape = declared.shape[1:]
    if not all(isinstance(size, int) for size in shape):
        raise ValueError(f"{path}: input {declared.name} has no fixed channel/height/width ({declared.shape})")
    batch = torch.randn(batch_size, *shape, generator=torch.Generator().manual_seed(1)).numpy()
    times = time_calls(lambda: session.run(None, {declared.name: batch}), warmup=warmup, runs=runs)
    return {
        "runtime": "onnxruntime", "file": str(path), "batch_size": batch_size, "threads": threads,
        **summarize(times, batch_size), "mult_adds": None, "params": None,
    }
