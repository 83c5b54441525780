"""NetAdapt's per-layer widths against the uniform alpha front, in one run, on Fashion-MNIST at
32 px in ONNX Runtime on this machine: trains alpha 0.25/0.5/0.75/1.0 (the uniform front, timed
here and written as a sweep folder's results.json; each trained as many epochs as the adapted
network's lineage), adapts an alpha 1.0 network trained for EPOCHS with
``mobilenets.adapt``, times every network again interleaved, and prints the comparison as
Markdown, with OUT_DIR/retimed/adapt.png drawn from the re-timed latencies. Run again on the
same OUT_DIR, it reuses the trained networks and only re-times.

    OMP_NUM_THREADS=1 python benchmarks/adapt_front.py OUT_DIR
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch

from mobilenets.adapt import adapt
from mobilenets.adapt.results import plot_adapt
from mobilenets.classification import train
from mobilenets.deploy.checkpoint import load_model
from mobilenets.deploy.latency import benchmark
from mobilenets.deploy.select import pareto_frontier

ALPHAS = (0.25, 0.5, 0.75, 1.0)
ROUNDS = 3
EPOCHS, LIMIT_TRAIN = 2, 5000  # the starting run's epochs, and the final fine-tune's
STEPS, SHORT_LIMIT_TRAIN = 6, 1000
# The uniform networks train as many epochs as the adapted one's lineage in all: the starting
# run, the short fine-tune of each step's kept proposal, the final fine-tune.
UNIFORM_EPOCHS = 2 * EPOCHS + math.ceil(STEPS * SHORT_LIMIT_TRAIN / LIMIT_TRAIN)
DATA = dict(
    data="fashion-mnist",
    resolution=32,
    limit_train=LIMIT_TRAIN,
    limit_val=1000,
    batch_size=64,
    optimizer="adamw",
    lr=2e-3,
    weight_decay=1e-4,
    schedule="cosine",
    augment=False,
    cache=True,
    seed=0,
    device="cpu",
)


def interpolate(points: list[tuple[float, float]], x: float) -> float | None:
    """y at x on the polyline through ``points`` (sorted by x); None outside it."""
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else max(y0, y1)
    return None


def main(out: Path) -> None:
    torch.set_num_threads(1)
    sweep = out / "uniform"
    if not (out / "adapt_result.json").is_file():
        train_and_adapt(out, sweep)
    rows = json.loads((sweep / "results.json").read_text())["trials"]
    result = json.loads((out / "adapt_result.json").read_text())
    retime(rows, result, sweep)
    retimed = out / "retimed"
    retimed.mkdir(exist_ok=True)
    (retimed / "results.json").write_text(json.dumps({"trials": rows}, indent=2))
    plot_adapt(result, retimed / "adapt.png", front=retimed)
    report(rows, result)


def retime(rows: list[dict], result: dict, sweep: Path) -> None:
    """Every uniform and adapted network timed again, interleaved, ROUNDS times, keeping each
    one's fastest median: on a machine other processes share, the load then falls alike on
    both fronts (the latencies recorded during training and adapting saw different loads)."""
    models = {row["trial"]: load_model(sweep / "trials" / row["trial"]) for row in rows}
    entries = [*result["steps"], result["final"]]
    models.update({f"step {entry['step']}": load_model(entry["checkpoint"]) for entry in entries})
    best: dict[str, float] = {}
    for _ in range(ROUNDS):
        for name, model in models.items():
            median = benchmark(model, "onnxruntime", threads=1, runs=100)["median_ms"]
            best[name] = min(best.get(name, median), median)
    for row in rows:
        row["latency_ms"] = best[row["trial"]]
    for entry in entries:
        entry["latency_ms"] = best[f"step {entry['step']}"]


def train_and_adapt(out: Path, sweep: Path) -> None:
    rows = []
    for alpha in ALPHAS:
        run = sweep / "trials" / f"alpha{alpha:g}"
        summary = train(
            out=str(run), alpha=alpha, epochs=UNIFORM_EPOCHS, progress=False, force=True, **DATA
        )
        timed = benchmark(load_model(run / "best.pt"), "onnxruntime", threads=1, runs=50)
        rows.append(
            dict(
                trial=f"alpha{alpha:g}",
                alpha=alpha,
                resolution=32,
                top1=summary["best_top1"],
                latency_ms=timed["median_ms"],
                mult_adds=summary["mult_adds"],
                params=summary["params"],
            )
        )
        print(f"uniform alpha {alpha:g}: {rows[-1]}", file=sys.stderr)
    (sweep / "results.json").write_text(json.dumps({"trials": rows}, indent=2))
    start = out / "start"
    train(out=str(start), alpha=1.0, epochs=EPOCHS, progress=False, force=True, **DATA)
    result = adapt(
        start,
        out / "adapted",
        runtime="onnxruntime",
        steps=STEPS,
        reduction=0.08,
        granularity=16,
        short_limit_train=SHORT_LIMIT_TRAIN,
        settings=dict(epochs=EPOCHS, limit_val=DATA["limit_val"]),
        threads=1,
        front=sweep,
        force=True,
        accept_contention=True,
    )
    (out / "adapt_result.json").write_text(json.dumps(result, indent=2))


def report(rows: list[dict], result: dict) -> None:
    front = pareto_frontier(rows, "latency_ms")
    by_latency = [(row["latency_ms"], row["top1"]) for row in front]
    by_top1 = sorted((row["top1"], row["latency_ms"]) for row in front)
    final = result["final"]
    print("| model | top-1 | ms (measured) | ms (table) | M mult-adds | channels |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| uniform alpha {row['alpha']:g} | {100 * row['top1']:.2f} | {row['latency_ms']:.3f} "
            f"| - | {row['mult_adds'] / 1e6:.2f} | - |"
        )
    for entry in [*result["steps"], final]:
        top1 = "-" if entry.get("top1") is None else f"{100 * entry['top1']:.2f}"
        print(
            f"| adapted step {entry['step']} | {top1} | {entry['latency_ms']:.3f} | "
            f"{entry['predicted_ms']:.3f} | {entry['mult_adds'] / 1e6:.2f} | {entry['channels']} |"
        )
    uniform_top1 = interpolate(by_latency, final["latency_ms"])
    uniform_ms = interpolate(by_top1, final["top1"])
    print()
    print(
        f"adapted (long fine-tune): top-1 {100 * final['top1']:.2f}% at {final['latency_ms']:.3f} ms; "
        f"uniform front at that latency: "
        + ("outside the front" if uniform_top1 is None else f"{100 * uniform_top1:.2f}%")
    )
    print(
        "uniform front at the adapted top-1: "
        + (
            "outside the front"
            if uniform_ms is None
            else f"{uniform_ms:.3f} ms, a speed-up of {uniform_ms / final['latency_ms']:.2f}x"
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
