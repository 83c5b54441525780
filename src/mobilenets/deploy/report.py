"""What to ship: one model through every runtime and precision on this machine, each file
written, run in its own runtime on held-out labelled images (top-1, agreement with PyTorch
fp32, SNR) and timed at batch 1; a table and a PNG of top-1 against latency.

A runtime whose extra is not installed is listed as skipped, with the extra to install, so the
report covers whatever this machine has.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..files import atomic_write_json, refuse_existing
from ..messages import first_line
from ..plots import pyplot, save_png
from ..progress import progress_bar
from .export import compare_outputs, export_runner, reference_outputs, write_export
from .latency import runner, summarize, timed_calls
from .openvino_runner import compile_openvino

# (runtime, precision, the file it runs: format and int8), in the table's order. OpenVINO runs
# the ONNX files (float forced to f32; int8: the QDQ file).
ROWS = (
    ("pytorch", "fp32", None),
    ("onnxruntime", "fp32", ("onnx", False)),
    ("onnxruntime", "int8", ("onnx", True)),
    ("openvino", "fp32", ("onnx", False)),
    ("openvino", "int8", ("onnx", True)),
    ("executorch", "fp32", ("executorch", False)),
    ("executorch", "int8", ("executorch", True)),
    ("tflite", "fp32", ("tflite", False)),
    ("tflite", "int8", ("tflite", True)),
)
SUFFIXES = {"onnx": ".onnx", "executorch": ".pte", "tflite": ".tflite"}


def file_name(format: str, int8: bool) -> str:
    return f"model{'.int8' if int8 else ''}{SUFFIXES[format]}"


@contextlib.contextmanager
def _row_runner(
    model: nn.Module,
    runtime: str,
    path: Path | None,
    format: str | None,
    example: torch.Tensor,
    threads: int,
) -> Iterator[Callable[[torch.Tensor], Any]]:
    if runtime == "pytorch":
        with runner(model, "channels_last", threads=threads) as run:
            yield lambda batch: run(batch).numpy()
    elif runtime == "openvino":
        yield compile_openvino(path, example=example, threads=threads)
    else:
        with export_runner(path, format, threads=threads) as run:
            yield run


def export_report(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    calibration: torch.Tensor,
    out_dir: str | os.PathLike[str],
    *,
    threads: int,
    runs: int = 30,
    warmup: int = 5,
    force: bool = False,
) -> dict[str, Any]:
    """Writes every file of :data:`ROWS` into ``out_dir`` and measures each row: file size,
    batch-1 median and p90 latency, top-1 on ``images``/``labels``, agreement with PyTorch
    fp32, SNR and largest logit difference; ``report.json`` and ``report.png`` beside them."""
    out_dir = refuse_existing(out_dir, force=force)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    expected = reference_outputs(model, images)
    example, written, rows = images[:1], {}, []
    for runtime, precision, target in progress_bar(ROWS, desc="export report", unit="runtime"):
        row: dict[str, Any] = {"runtime": runtime, "precision": precision}
        try:
            path = format = None
            if target is not None:
                format, int8 = target
                path = out_dir / file_name(format, int8)
                if path not in written:
                    write_export(
                        model,
                        path,
                        format,
                        example=example,
                        int8_calibration=calibration if int8 else None,
                        force=True,
                    )
                    written[path] = path.stat().st_size
                row.update(file=path.name, bytes=written[path])
            with _row_runner(model, runtime, path, format, example, threads) as run:
                outputs = run(images)
                times, conditions = timed_calls(
                    lambda: run(example), warmup=warmup, runs=runs, threads=threads
                )
        except ValueError as error:  # a missing extra, named in one line
            row["skipped"] = first_line(error)
            rows.append(row)
            continue
        row.update(summarize(times, 1))
        row["top1"] = round(
            100 * float((torch.as_tensor(np.asarray(outputs)).argmax(1) == labels).float().mean()),
            2,
        )
        row.update(
            compare_outputs(np.asarray(outputs), expected),
            other_cpu_cores=conditions["other_cpu_cores"],
            contended=conditions["contended"],
        )
        rows.append(row)
    report = {
        "images": len(images),
        "calibration_images": len(calibration),
        "threads": threads,
        "runs": runs,
        "cpu": conditions["cpu"],
        "cpu_flags": conditions["cpu_flags"],
        "rows": rows,
        "out_dir": str(out_dir),
    }
    if plot_report(rows, out_dir / "report.png"):
        report["plot"] = str(out_dir / "report.png")
    atomic_write_json(out_dir / "report.json", report)
    return report


def plot_report(rows: list[dict[str, Any]], path: Path) -> bool:
    """Top-1 against batch-1 latency, one point per runtime and precision; False (with a
    warning) without matplotlib."""
    plt = pyplot("export report", extra="deploy")
    if plt is None:
        return False
    measured = [row for row in rows if "skipped" not in row]
    figure, axis = plt.subplots(figsize=(8, 4.5))
    colours = {
        runtime: f"C{index}"
        for index, runtime in enumerate(dict.fromkeys(row["runtime"] for row in rows))
    }
    for row in measured:
        # Points often coincide (same kernels, same numbers): a legend names them, not labels.
        axis.scatter(
            row["median_ms"],
            row["top1"],
            marker="o" if row["precision"] == "fp32" else "s",
            s=60,
            facecolors="none",
            edgecolors=colours[row["runtime"]],
            label=f"{row['runtime']} {row['precision']}",
        )
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    axis.set_xscale("log")
    axis.set_xlabel("latency (ms, batch 1, median)")
    axis.set_ylabel("top-1 on the data (%)")
    axis.set_title("fp32 (circles) and int8 (squares) on this machine")
    axis.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    save_png(figure, path)
    return True
