"""The sweep's progress on stderr, one plain line as each trial starts and ends: trials done,
running, stopped early and failed, and the current front (top-1 against mult-adds of the
trials ended so far). A Ray Tune callback, so this module is imported only when a sweep runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..extras import require
from .grid import trial_name
from .results import mark_pareto_front, trial_row

tune = require("ray.tune", "sweep", "mobilenets sweep")


class Progress(tune.Callback):
    """Keeps only the rows of ended trials (their files no longer change), a plain dict, since
    Tune pickles its callbacks into the experiment state."""

    def __init__(self, trials_dir: str, epochs: int) -> None:
        self.trials_dir, self.epochs = trials_dir, epochs
        self.rows: dict[str, dict[str, Any]] = {}

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._line(trials, {}, starting=trial.trial_id)

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._line(trials, {trial.trial_id: False})

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._line(trials, {trial.trial_id: True})

    def _line(
        self, trials: list[Any], ending: dict[str, bool], starting: str | None = None
    ) -> None:
        """``ending``: the trial this event ends (its status may not say so yet) and whether it failed."""
        failed = {
            trial.trial_id: trial.status == "ERROR"
            for trial in trials
            if trial.status in ("TERMINATED", "ERROR")
        }
        failed.update(ending)
        ended = [trial for trial in trials if trial.trial_id in failed]
        for trial in ended:
            if trial.trial_id not in self.rows:
                name = trial_name(trial.config["trial"])
                self.rows[trial.trial_id] = trial_row(
                    trial.config["trial"],
                    Path(self.trials_dir) / name,
                    self.epochs,
                    error=failed[trial.trial_id],
                )
        rows = [dict(self.rows[trial.trial_id]) for trial in ended]
        count = {
            status: sum(row["status"] == status for row in rows)
            for status in ("stopped early", "error")
        }
        front = mark_pareto_front(rows, "mult_adds")
        shown = (
            ", ".join(
                f"{row['trial']} {100 * row['top1']:.1f}% @ {row['mult_adds'] / 1e6:.2f}M"
                for row in front
            )
            or "-"
        )
        running = sum(
            (trial.status == "RUNNING" or trial.trial_id == starting)
            and trial.trial_id not in failed
            for trial in trials
        )
        print(
            f"sweep: {len(ended)}/{len(trials)} done ({count['stopped early']} stopped early, "
            f"{count['error']} failed), "
            f"{running} running; front (top-1 vs mult-adds): {shown}",
            file=sys.stderr,
            flush=True,
        )
