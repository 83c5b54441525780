"""Sweeps over alpha x resolution (x variant) on the user's data and device, run by Ray Tune:
every cell trained with the project's loop, weak cells stopped early by ASHA, survivors timed
here, the accuracy/latency Pareto front and the best model within a latency budget."""

from .grid import trial_grid, trial_name
from .results import FIELDS, best_within_latency, mark_pareto_front
from .tune import run_sweep

__all__ = [
    "FIELDS",
    "best_within_latency",
    "mark_pareto_front",
    "run_sweep",
    "trial_grid",
    "trial_name",
]
