"""An adaptation's record (``results.json``: one entry per step and the final fine-tune) and
its plot beside the uniform alpha x resolution front of a ``mobilenets sweep`` folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..deploy.select import pareto_frontier
from ..plots import pyplot, save_png

RESULTS = "results.json"


def read_json(path: str | os.PathLike[str]) -> Any:
    """A JSON file this package wrote; FileNotFoundError / ValueError naming it otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {path.name} in {path.parent}: nothing to resume or plot")
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise ValueError(f"{path} is not JSON ({error})") from None


def uniform_front(sweep_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The timed trials of a sweep folder (``results.json``): alpha, resolution, top-1, latency."""
    trials = read_json(Path(sweep_dir) / RESULTS).get("trials")
    if not isinstance(trials, list):
        raise ValueError(f"{sweep_dir}/{RESULTS} has no trials: is it a `mobilenets sweep` folder?")
    return [
        row for row in trials if row.get("latency_ms") is not None and row.get("top1") is not None
    ]


def adapted_points(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps with an accuracy (the start, each step after its short fine-tune) and the final."""
    points = [entry for entry in state["steps"] if entry.get("top1") is not None]
    return points + ([state["final"]] if state.get("final") else [])


def plot_adapt(
    state: dict[str, Any], path: str | os.PathLike[str], *, front: str | os.PathLike[str] | None
) -> bool:
    """Top-1 against measured latency: the adapted steps, the final fine-tune and, from a sweep
    folder ``front``, the uniform trials and their Pareto front. False without matplotlib."""
    plt = pyplot("adapt", extra="deploy")
    if plt is None:
        return False
    figure, axis = plt.subplots(figsize=(6.5, 4.5))
    if front is not None:
        rows = uniform_front(front)
        axis.scatter(
            [row["latency_ms"] for row in rows],
            [100 * row["top1"] for row in rows],
            color="grey",
            label="uniform alpha x resolution (sweep)",
        )
        for row in rows:
            axis.annotate(
                f"{row['alpha']:g}/{row['resolution']}",
                (row["latency_ms"], 100 * row["top1"]),
                fontsize=6,
                color="grey",
            )
        line = pareto_frontier(rows, "latency_ms")
        axis.plot(
            [row["latency_ms"] for row in line],
            [100 * row["top1"] for row in line],
            "k--",
            linewidth=0.8,
            label="uniform front",
        )
    steps = [entry for entry in state["steps"] if entry.get("top1") is not None]
    axis.plot(
        [entry["latency_ms"] for entry in steps],
        [100 * entry["top1"] for entry in steps],
        "o-",
        color="tab:blue",
        label="NetAdapt steps (short fine-tune)",
    )
    if state.get("final"):
        final = state["final"]
        axis.scatter(
            [final["latency_ms"]],
            [100 * final["top1"]],
            marker="*",
            s=200,
            color="tab:red",
            label="adapted, long fine-tune",
        )
    axis.set_xlabel(f"latency (ms, batch 1, {state['runtime']}, {state['threads']} threads)")
    axis.set_ylabel("top-1 accuracy (%)")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=7)
    figure.tight_layout()
    save_png(figure, path, force=True)
    return True
