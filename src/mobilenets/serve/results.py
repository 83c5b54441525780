"""The points of the page's chart: accuracy against latency from the result files of
``sweep`` (results.json), ``export-report`` (report.json) and per-layer adaptation
(adapt/results.json) found in the ``--results`` folders. A point whose checkpoint lies inside
its folder becomes a model the page can load by clicking it."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .models import Catalog

RESULT_FILES = ("results.json", "report.json", "adapt/results.json")
# The first of these keys a row has is its position on the chart, and its name.
LATENCY_KEYS = ("latency_ms", "median_ms", "measured_latency_ms", "measured_ms")
ACCURACY_KEYS = ("top1", "accuracy", "val_top1")
NAME_KEYS = ("trial", "name", "label", "model")
ROW_LISTS = ("trials", "rows", "steps", "results", "candidates", "points")


def _first(row: dict[str, Any], keys: Sequence[str]) -> Any:
    return next((row[key] for key in keys if row.get(key) is not None), None)


def _rows(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, list):
        return [row for row in document if isinstance(row, dict)]
    if isinstance(document, dict):
        # adapt's results.json: its steps, then the fine-tuned final widths.
        final = [document["final"]] if isinstance(document.get("final"), dict) else []
        for key in ROW_LISTS:
            if isinstance(document.get(key), list):
                return _rows(document[key]) + final
    return []


def _name(row: dict[str, Any], index: int) -> str:
    if "runtime" in row and "precision" in row:
        return f"{row['runtime']} {row['precision']}"
    if "step" in row and "channels" in row:
        return f"adapt step {row['step']}"
    name = _first(row, NAME_KEYS)
    return str(name) if name is not None else f"row {index + 1}"


def read_results(
    folders: Sequence[str | os.PathLike[str]], catalog: Catalog
) -> list[dict[str, Any]]:
    """One series per result file in ``folders``: its points (name, latency in ms, top-1 %,
    the catalog id of its checkpoint or None). Checkpoints are added to ``catalog`` only when
    they lie inside their folder and read as a checkpoint."""
    series = []
    for folder in folders:
        root = Path(folder).resolve()
        if not root.is_dir():
            raise ValueError(f"--results {folder}: no such folder")
        found = [root / name for name in RESULT_FILES if (root / name).is_file()]
        if not found:
            raise ValueError(
                f"--results {folder}: no {', '.join(RESULT_FILES)} in it (written by sweep, "
                "export-report and adapt)"
            )
        for file in found:
            try:
                document = json.loads(file.read_text())
            except (OSError, ValueError) as error:
                raise ValueError(f"{file}: not a readable JSON file ({error})") from None
            points = []
            for index, row in enumerate(_rows(document)):
                latency, accuracy = _first(row, LATENCY_KEYS), _first(row, ACCURACY_KEYS)
                if not isinstance(latency, (int, float)) or not isinstance(accuracy, (int, float)):
                    continue
                points.append(
                    {
                        "name": _name(row, index),
                        "latency_ms": float(latency),
                        "top1": float(accuracy),
                        "model": _model_id(row.get("checkpoint"), root, catalog),
                    }
                )
            series.append({"source": str(file.relative_to(root.parent)), "points": points})
    return series


def _model_id(checkpoint: Any, root: Path, catalog: Catalog) -> str | None:
    if not isinstance(checkpoint, str):
        return None
    path = Path(checkpoint) if Path(checkpoint).is_absolute() else root / checkpoint
    path = path.resolve()
    if not path.is_relative_to(root) or not path.exists():
        return None
    try:
        return catalog.add_checkpoint(path, "results").id
    except (ValueError, OSError):
        return None
