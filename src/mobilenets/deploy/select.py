"""Choosing alpha and rho for a budget: the 16 width x resolution MobileNets, their cost on
this machine (latency measured once and cached) and their accuracy, the Pareto frontier, and
the most accurate model that fits."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..data.csvfiles import csv_rows
from ..files import atomic_output, cache_dir, refuse_existing
from ..machine import cpu_flags, cpu_name
from ..models import RESOLUTIONS, WIDTHS, model_name
from ..paper import mobilenet_cost
from ..plots import pyplot, save_png
from ..progress import progress_bar
from ..weights import create_model
from ..weights.releases import most_accurate
from .latency import benchmark, check_runtime

CANDIDATES = [(alpha, resolution) for alpha in WIDTHS for resolution in RESOLUTIONS]
# The published ImageNet top-1 of the best released weights of each of the 16 models (timm's for
# 1.0 at 224 px, Google's for the others: weights/releases.py), the default accuracy to choose by.
RELEASED_WEIGHTS = {
    model_name(alpha, resolution): most_accurate(model_name(alpha, resolution))
    for alpha, resolution in CANDIDATES
}
RELEASED_TOP1: dict[str, float] = {name: release.top1 for name, release in RELEASED_WEIGHTS.items()}
BUDGETS = ("latency_ms", "mult_adds", "params")
DEFAULT_RUNTIME = "onnxruntime"


def candidate_names() -> list[str]:
    return [model_name(alpha, resolution) for alpha, resolution in CANDIDATES]


def read_accuracy_table(path: str | os.PathLike[str]) -> dict[str, float]:
    """A user's accuracies: CSV with columns ``model,top1`` or JSON ``{model: top1}`` /
    ``[{"model": ..., "top1": ...}]``, model names as ``mobilenets list`` prints them."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"accuracy table {path} does not exist")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
            rows = (
                data.items()
                if isinstance(data, dict)
                else ((row["model"], row["top1"]) for row in data)
            )
        else:
            header, *lines = [[cell.strip() for cell in row] for _, row in csv_rows(path)] or [[]]
            rows = [(row[header.index("model")], row[header.index("top1")]) for row in lines]
        table = {str(name): float(top1) for name, top1 in rows}
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        raise ValueError(f"{path}: expected columns/keys 'model' and 'top1' ({error})") from error
    unknown = set(table).difference(candidate_names())
    if unknown:
        raise ValueError(
            f"{path}: unknown model(s) {', '.join(sorted(unknown))}; expected names like {candidate_names()[0]}"
        )
    if not table:
        raise ValueError(f"{path} lists no models")
    return table


# The package whose version a runtime's latency depends on, beside torch's.
RUNTIME_PACKAGES = {
    "onnxruntime": "onnxruntime",
    "int8": "onnxruntime",
    "executorch": "executorch",
    "tflite": "ai-edge-litert",
    "openvino": "openvino",
}


def machine_key(runtime: str, threads: int, precision: str = "f32") -> str:
    """What a latency is valid for: CPU model and its kernel flags (a VNNI or BF16 machine runs
    other kernels), threads, torch and the runtime's package version, runtime (and precision)."""
    versions = f"torch {torch.__version__}"
    package = RUNTIME_PACKAGES.get(runtime.removesuffix("-int8"))
    if package is not None:
        with contextlib.suppress(metadata.PackageNotFoundError):  # benchmark() names the extra
            versions += f", {package} {metadata.version(package)}"
    flags = ",".join(cpu_flags()) or "no AVX2"
    mode = "" if precision == "f32" else f" {precision}"
    return f"{cpu_name()} [{flags}] | {threads} threads | {versions} | {runtime}{mode}"


def latency_cache_path() -> Path:
    return cache_dir() / "latency.json"


def measure_latencies(
    names: list[str],
    runtime: str,
    threads: int,
    *,
    runs: int = 20,
    accept_contention: bool = False,
    build: Callable[[str], nn.Module] = create_model,
) -> tuple[dict[str, float], list[str]]:
    """Median batch-1 milliseconds of each named model, from the cache or measured now (and
    then cached under :func:`machine_key`), and the names measured while other processes took
    the CPU: those are used this once but not cached, so the next quiet run measures again
    (``accept_contention``: cached all the same, for a machine that is never quiet).
    ``build`` makes the network a name stands for (a registered name by default; ``adapt``'s
    latency table names single layers)."""
    path = latency_cache_path()
    try:
        cache: dict[str, dict[str, float]] = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:  # a damaged cache is only a cache: measure again
        cache = {}
    key = machine_key(runtime, threads)
    entry = cache.setdefault(key, {})
    missing = [name for name in names if name not in entry]
    latencies, contended = {name: entry[name] for name in names if name in entry}, []
    for name in progress_bar(
        missing, desc=f"timing ({runtime})", unit="model", disable=not missing
    ):
        result = benchmark(build(name), runtime, threads=threads, runs=runs, warmup=3)
        latencies[name] = result["median_ms"]
        if result["contended"] and not accept_contention:
            contended.append(name)
        else:
            entry[name] = result["median_ms"]
    if contended:
        print(
            f"note: {len(contended)} of {len(missing)} models were timed while other processes took the CPU; "
            "their latencies are used now but not cached: rerun select when the machine is quiet "
            "(or pass --accept-contention to cache them anyway)",
            file=sys.stderr,
        )
    if len(contended) < len(missing):
        with atomic_output(path, force=True) as temporary:
            temporary.write_text(json.dumps(cache, indent=1))
    return {name: latencies[name] for name in names}, contended


def describe_budget(budget: str, value: float) -> str:
    """A budget value in words: exact counts ("13,614,656 mult-adds") or milliseconds ("4.20 ms")."""
    if budget == "latency_ms":
        return f"{value:.2f} ms"
    return f"{value:,.0f} {budget.replace('_', '-')}"


def pareto_frontier(rows: list[dict[str, Any]], cost_key: str) -> list[dict[str, Any]]:
    """The rows no other row beats on both cost (lower) and accuracy (higher), cheapest first."""
    frontier, best = [], float("-inf")
    for row in sorted(rows, key=lambda row: (row[cost_key], -row["top1"])):
        if row["top1"] > best:
            frontier.append(row)
            best = row["top1"]
    return frontier


def select_model(
    budget: str,
    limit: float,
    *,
    runtime: str = DEFAULT_RUNTIME,
    accuracy: dict[str, float] | None = None,
    threads: int | None = None,
    plot: str | os.PathLike[str] | None = None,
    force: bool = False,
    runs: int = 20,
    accept_contention: bool = False,
) -> dict[str, Any]:
    """The most accurate of the 16 models whose ``budget`` ("latency_ms", "mult_adds" or
    "params") is at most ``limit``, with every candidate's figures and the Pareto frontier.
    Mult-add and parameter budgets are counted, not timed. ValueError when none fits (naming
    the cheapest model). ``plot``: where to draw the trade-off PNG (overwritten only with
    ``force``)."""
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {', '.join(BUDGETS)}; got {budget!r}")
    check_runtime(runtime)
    if plot is not None:
        refuse_existing(plot, force=force)  # before any latency is measured
    accuracy = RELEASED_TOP1 if accuracy is None else accuracy
    rows = []
    for alpha, resolution in CANDIDATES:
        name = model_name(alpha, resolution)
        if name in accuracy:
            cost = mobilenet_cost(alpha, resolution)  # counted on the meta device: no arithmetic
            rows.append(
                {
                    "model": name,
                    "alpha": alpha,
                    "resolution": resolution,
                    "top1": accuracy[name],
                    "mult_adds": cost.mult_adds,
                    "params": cost.params,
                }
            )
            if accuracy is RELEASED_TOP1:
                rows[-1]["weights"] = RELEASED_WEIGHTS[name].name
    names = [row["model"] for row in rows]
    timed = budget == "latency_ms"
    if timed:
        threads = threads or torch.get_num_threads()
        latencies, contended = measure_latencies(
            names, runtime, threads, runs=runs, accept_contention=accept_contention
        )
        for row, latency in zip(rows, latencies.values()):
            row["latency_ms"] = latency
    fitting = [row for row in rows if row[budget] <= limit]
    if not fitting:
        cheapest = min(rows, key=lambda row: row[budget])
        raise ValueError(
            f"no model meets {describe_budget(budget, limit)}; the cheapest is {cheapest['model']} "
            f"at {describe_budget(budget, cheapest[budget])}"
        )
    chosen = max(fitting, key=lambda row: (row["top1"], -row[budget]))
    result: dict[str, Any] = {
        "budget": budget,
        "limit": limit,
        "chosen": chosen,
        "frontier": pareto_frontier(rows, budget),
        "candidates": rows,
    }
    if timed:
        result.update(
            runtime=runtime,
            threads=threads,
            machine=machine_key(runtime, threads),
            uncached_contended=contended,
        )
    if plot is not None and plot_tradeoffs(rows, chosen, plot, force=force):
        result["plot"] = str(plot)
    return result


def plot_tradeoffs(
    rows: list[dict[str, Any]],
    chosen: dict[str, Any] | None,
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    accuracy_scale: float = 1.0,
    label_key: str = "model",
) -> bool:
    """Accuracy against mult-adds and, when measured, against latency (log-scale x, as the
    paper's Figures 4 and 5): one series per width (and variant, when not separable), the
    Pareto frontier joined and the chosen model (if any) ringed; False (with a warning) without
    matplotlib. ``accuracy_scale`` turns ``top1`` into percent (100 for fractions)."""
    plt = pyplot("trade-off", extra="deploy")
    if plt is None:
        return False
    from matplotlib import ticker

    axes_keys = [("mult_adds", "mult-adds (millions)", 1e-6)]
    if any(row.get("latency_ms") is not None for row in rows):
        axes_keys.append(("latency_ms", "latency (ms, batch 1)", 1.0))
    figure, axes = plt.subplots(1, len(axes_keys), figsize=(6 * len(axes_keys), 4.5), squeeze=False)
    for axis, (key, label, scale) in zip(axes[0], axes_keys):
        measured = [row for row in rows if row.get(key) is not None and row.get("top1") is not None]
        series: dict[str, list[dict[str, Any]]] = {}
        for row in sorted(
            measured, key=lambda row: (row.get("variant", "separable"), -row["alpha"])
        ):
            variant = row.get("variant", "separable")
            series.setdefault(
                f"alpha {row['alpha']:g}"
                if variant == "separable"
                else f"{variant} alpha {row['alpha']:g}",
                [],
            ).append(row)
        for name, group in series.items():
            axis.scatter(
                [row[key] * scale for row in group],
                [row["top1"] * accuracy_scale for row in group],
                label=name,
            )
        frontier = pareto_frontier(measured, key)
        axis.plot(
            [row[key] * scale for row in frontier],
            [row["top1"] * accuracy_scale for row in frontier],
            "k--",
            linewidth=0.8,
            label="Pareto frontier",
        )
        if chosen is not None:
            axis.scatter(
                [chosen[key] * scale],
                [chosen["top1"] * accuracy_scale],
                s=160,
                facecolors="none",
                edgecolors="red",
                label=f"chosen: {chosen[label_key]}",
            )
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        axis.xaxis.set_minor_formatter(ticker.NullFormatter())
        axis.set_xlabel(label)
        axis.set_ylabel("top-1 accuracy (%)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=7)
    figure.tight_layout()
    save_png(figure, path, force=force)
    return True
