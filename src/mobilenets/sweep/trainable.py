"""One trial, as Ray Tune runs it in a worker: the project's own training loop on one cell,
each epoch's validation metrics reported to Tune (so ASHA can stop a weak cell between
epochs). The run folder is the trial's name under the sweep's ``trials/``; a trial restarted
after a kill continues its ``last.pt`` instead of training again."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..classification.training import fit
from ..extras import require
from ..train.config import TrainConfig
from ..train.loop import read_metrics
from .grid import trial_name

# What each epoch reports to Tune: the loop's record keys; "epoch" is ASHA's clock.
REPORTED = ("epoch", "top1", "top5", "loss", "train_loss", "images_per_second")


def trial_config(
    trial: dict[str, Any], settings: dict[str, Any], trials_dir: str | Path
) -> TrainConfig:
    """The TrainConfig of ``trial``: the sweep's shared ``settings`` with the cell's alpha,
    resolution, variant and seed, in ``trials_dir/NAME``."""
    run_dir = Path(trials_dir) / trial_name(trial)
    return dataclasses.replace(
        TrainConfig(**settings),
        out=str(run_dir),
        alpha=trial["alpha"],
        resolution=trial["resolution"],
        variant=trial["variant"],
        seed=trial["seed"],
    )


def train_trial(config: dict[str, Any]) -> None:
    """Ray Tune's function trainable: ``config`` holds ``trial``, ``settings`` and ``trials_dir``."""
    tune = require("ray.tune", "sweep", "mobilenets sweep")
    train_config = trial_config(config["trial"], config["settings"], config["trials_dir"])
    run_dir = Path(train_config.out)
    records = read_metrics(run_dir / "metrics.jsonl")
    if (
        len(records) >= train_config.epochs
    ):  # trained to the end before a kill: report, touch nothing
        tune.report(_reported(records[-1]))
        return
    resume = (run_dir / "last.pt").is_file()
    reported = []

    def report(record: dict[str, Any]) -> None:
        reported.append(record["epoch"])
        tune.report(_reported(record))

    summary = fit(train_config, resume=resume, force=not resume, progress=False, on_epoch=report)
    if not reported:  # killed after its last epoch was saved: Tune still needs the final result
        report(summary)


def _reported(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record[key] for key in REPORTED if key in record}
