"""A sweep's table: one row per trial from its run folder (the best epoch's accuracy, its
checkpoint, cost and latency here), the accuracy/latency Pareto front, and the most accurate
trial within a latency budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..cost import count_cost
from ..deploy.checkpoint import load_model
from ..deploy.latency import benchmark
from ..deploy.select import pareto_frontier
from ..train.loop import read_metrics
from .grid import trial_name

FIELDS = (
    "trial",
    "alpha",
    "resolution",
    "variant",
    "top1",
    "top5",
    "mult_adds",
    "params",
    "latency_ms",
    "epochs_run",
    "seed",
    "checkpoint",
    "on_pareto_front",
    "status",
)


def trial_row(
    trial: dict[str, Any], run_dir: Path, epochs: int, *, error: bool = False
) -> dict[str, Any]:
    """``trial``'s row from ``run_dir``: top-1/top-5 of its best epoch (the one ``best.pt``
    holds), epochs run, cost counted on that checkpoint; latency and the front come later."""
    records = read_metrics(run_dir / "metrics.jsonl")
    best = max(
        records, key=lambda record: record["top1"], default=None
    )  # the first best, as best.pt
    checkpoint = run_dir / "best.pt"
    row: dict[str, Any] = {
        "trial": trial_name(trial),
        **trial,
        "top1": best["top1"] if best else None,
        "top5": best["top5"] if best else None,
        "mult_adds": None,
        "params": None,
        "latency_ms": None,
        "epochs_run": len(records),
        "checkpoint": str(checkpoint) if checkpoint.is_file() else None,
        "on_pareto_front": False,
        "status": "error"
        if error or not records
        else ("finished" if len(records) >= epochs else "stopped early"),
    }
    if row["checkpoint"]:
        cost = count_cost(load_model(checkpoint))
        row.update(mult_adds=cost.mult_adds, params=cost.params)
    return {field: row[field] for field in FIELDS}


def measure_latency(row: dict[str, Any], runtime: str, threads: int, *, runs: int = 30) -> float:
    """Median batch-1 milliseconds of the row's checkpoint in ``runtime`` (``bench``'s timing)."""
    return benchmark(load_model(row["checkpoint"]), runtime, threads=threads, runs=runs, warmup=5)[
        "median_ms"
    ]


def mark_pareto_front(rows: list[dict[str, Any]], cost: str = "latency_ms") -> list[dict[str, Any]]:
    """Sets each row's ``on_pareto_front``: measured on ``cost``, and no other measured row is
    at least as cheap and more accurate. Returns the front, cheapest first."""
    measured = [row for row in rows if row[cost] is not None and row["top1"] is not None]
    front = pareto_frontier(measured, cost)
    on_front = {id(row) for row in front}
    for row in rows:
        row["on_pareto_front"] = id(row) in on_front
    return front


def best_within_latency(rows: list[dict[str, Any]], max_latency_ms: float) -> dict[str, Any]:
    """The most accurate timed row within ``max_latency_ms`` (the faster one on a tie);
    ValueError naming the fastest trial when none fits."""
    timed = [row for row in rows if row["latency_ms"] is not None and row["top1"] is not None]
    if not timed:
        raise ValueError(
            "no trial was timed (none finished), so no model can be named for the latency budget"
        )
    fitting = [row for row in timed if row["latency_ms"] <= max_latency_ms]
    if not fitting:
        fastest = min(timed, key=lambda row: row["latency_ms"])
        raise ValueError(
            f"no trial meets {max_latency_ms:g} ms; the fastest is {fastest['trial']} at "
            f"{fastest['latency_ms']:.3f} ms "
            f"(top-1 {fastest['top1']:.4f}, {fastest['checkpoint']})"
        )
    return max(fitting, key=lambda row: (row["top1"], -row["latency_ms"]))
