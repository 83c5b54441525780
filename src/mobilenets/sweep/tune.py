"""Running a sweep on Ray Tune: a local Ray sized to this machine (or a cluster at
``address``), one trial per cell and seed under ASHA, the experiment kept in ``OUT/tune`` so
that ``resume`` (Tune's experiment restore) finishes it without retraining finished trials;
then every trial's row, latency on this machine, the Pareto front, ``results.json`` and
``pareto.png``."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from ..deploy.latency import check_runtime
from ..deploy.select import DEFAULT_RUNTIME, machine_key, plot_tradeoffs
from ..extras import require
from ..files import atomic_write_json
from ..progress import progress_bar
from ..train.config import TrainConfig
from .grid import trial_name
from .results import best_within_latency, mark_pareto_front, measure_latency, trial_row
from .trainable import train_trial, trial_config

SPEC = "sweep.json"  # what was asked: the trials and shared settings, for --resume
EXPERIMENT = "tune"  # Ray Tune's experiment folder inside the sweep folder
RESULTS, PLOT = "results.json", "pareto.png"


@contextlib.contextmanager
def ray_session(address: str | None = None) -> Iterator[Any]:
    """Ray, connected for the block: an already initialised session is reused as it is; else
    ``address`` (a cluster), else a local instance with this machine's CPUs, no dashboard and
    its temporary files in a fresh temporary folder, shut down and removed afterwards."""
    ray = require("ray", "sweep", "mobilenets sweep")
    if ray.is_initialized():
        yield ray
        return
    # Short: Ray's socket paths inside it must stay under the 107 characters Unix allows.
    temporary = None if address else tempfile.mkdtemp(prefix="mn-ray-")
    options: dict[str, Any] = (
        dict(address=address) if address else dict(num_cpus=os.cpu_count(), _temp_dir=temporary)
    )
    # Trial output (the loop's own lines) stays in the workers' logs: the sweep prints its own progress.
    ray.init(**options, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    try:
        yield ray
    finally:
        ray.shutdown()
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)


def check_resources(cpus_per_trial: float, gpus_per_trial: float, address: str | None) -> None:
    """ValueError, before Ray starts, for what would leave Tune waiting forever: a local sweep
    asking each trial for more CPUs or GPUs than this machine has, or a cluster address where
    nothing answers within 5 s."""
    if address is None:
        if cpus_per_trial > (os.cpu_count() or 1):
            raise ValueError(
                f"--cpus-per-trial {cpus_per_trial:g} is more than this machine's {os.cpu_count()} CPUs"
            )
        if gpus_per_trial > torch.cuda.device_count():
            raise ValueError(
                f"--gpus-per-trial {gpus_per_trial:g} is more than this machine's "
                f"{torch.cuda.device_count()} CUDA GPUs"
            )
        return
    if address == "auto":  # Ray's own lookup of a cluster started on this machine
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--address takes HOST:PORT, ray://HOST:PORT or auto; got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise ValueError(f"no Ray cluster answers at {address} ({reason})") from None


def run_sweep(
    out: str | os.PathLike[str],
    trials: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
    *,
    resume: bool = False,
    force: bool = False,
    runtime: str = DEFAULT_RUNTIME,
    threads: int | None = None,
    max_latency_ms: float | None = None,
    early_stop: bool = True,
    grace_epochs: int = 1,
    reduction_factor: float = 3,
    cpus_per_trial: float = 1,
    gpus_per_trial: float = 0,
    address: str | None = None,
) -> dict[str, Any]:
    """Trains ``trials`` (from :func:`~mobilenets.sweep.grid.trial_grid`) with the shared
    TrainConfig ``settings`` on Ray Tune in ``out``, or with ``resume`` finishes the sweep saved
    there; then times every trial that was not stopped early in ``runtime`` with ``threads``
    (default: torch's), marks the accuracy/latency front and writes ``results.json`` and
    ``pareto.png``. Returns that document; with ``max_latency_ms`` it also names the most
    accurate trial within the budget (ValueError, after writing the results, when none fits).
    Each trial gets ``cpus_per_trial`` CPUs and ``gpus_per_trial`` GPUs from Ray (Ray hides
    the GPUs from a trial that asked for none)."""
    tune = require("ray.tune", "sweep", "mobilenets sweep")
    from .progress import Progress
    from .seal import Sealer, check_seal

    check_runtime(runtime)
    check_resources(cpus_per_trial, gpus_per_trial, address)
    out = Path(out).resolve()
    spec = _spec(out, trials, settings, resume=resume, force=force)
    if resume:
        check_seal(out, EXPERIMENT)
    trials_dir, epochs = str(out / "trials"), spec["settings"]["epochs"]
    trainable = tune.with_resources(train_trial, {"cpu": cpus_per_trial, "gpu": gpus_per_trial})
    # Ctrl-C stops the sweep as a kill does (the trials' checkpoints stay, `--resume` finishes
    # it) instead of Tune's handler, which ends the experiment and returns unrun trials as failed.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    # Ray Tune prints its own tables on stdout, which belongs to the results (--json).
    with contextlib.redirect_stdout(sys.stderr), ray_session(address):
        if resume:
            tuner = tune.Tuner.restore(
                str(out / EXPERIMENT), trainable, resume_unfinished=True, resume_errored=True
            )
        else:
            scheduler = None
            if early_stop and epochs > grace_epochs:
                scheduler = tune.schedulers.ASHAScheduler(
                    time_attr="epoch",
                    max_t=epochs,
                    grace_period=grace_epochs,
                    reduction_factor=reduction_factor,
                )
            tuner = tune.Tuner(
                trainable,
                param_space={
                    "trial": tune.grid_search(spec["trials"]),
                    "settings": spec["settings"],
                    "trials_dir": trials_dir,
                },
                tune_config=tune.TuneConfig(metric="top1", mode="max", scheduler=scheduler),
                run_config=tune.RunConfig(
                    name=EXPERIMENT,
                    storage_path=str(out),
                    verbose=0,
                    callbacks=[Progress(trials_dir, epochs), Sealer(out, EXPERIMENT)],
                    failure_config=tune.FailureConfig(max_failures=0),
                ),
            )
        grid = tuner.fit()
        Sealer(out, EXPERIMENT).update()  # Tune's last save, after its experiment-end callbacks
    errors = {trial_name(result.config["trial"]) for result in grid if result.error is not None}
    rows = [
        trial_row(
            trial, Path(trials_dir) / trial_name(trial), epochs, error=trial_name(trial) in errors
        )
        for trial in spec["trials"]
    ]
    threads = threads or torch.get_num_threads()
    timed = [row for row in rows if row["status"] == "finished"]
    for row in progress_bar(
        timed, desc=f"latency ({runtime})", unit="model", file=sys.stderr, disable=not timed
    ):
        row["latency_ms"] = measure_latency(row, runtime, threads)
    mark_pareto_front(rows)
    document: dict[str, Any] = {
        "out": str(out),
        "epochs": epochs,
        "runtime": runtime,
        "threads": threads,
        "machine": machine_key(runtime, threads),
        "settings": spec["settings"],
        "trials": rows,
    }
    chosen, missed = None, None
    if max_latency_ms is not None:
        try:
            chosen = best_within_latency(rows, max_latency_ms)
        except ValueError as error:
            missed = error
        document.update(max_latency_ms=max_latency_ms, chosen=chosen)
    atomic_write_json(out / RESULTS, document)
    if plot_tradeoffs(rows, chosen, out / PLOT, force=True, accuracy_scale=100, label_key="trial"):
        document["plot"] = str(out / PLOT)
    if missed is not None:
        raise missed
    return document


def _spec(
    out: Path,
    trials: list[dict[str, Any]] | None,
    settings: dict[str, Any] | None,
    *,
    resume: bool,
    force: bool,
) -> dict[str, Any]:
    """The sweep's trials and shared settings: saved in ``out/sweep.json`` for a new sweep
    (``out`` refused if it exists, unless ``force``), read from it to resume."""
    path = out / SPEC
    if resume:
        if not path.is_file() or not (out / EXPERIMENT).is_dir():
            raise FileNotFoundError(
                f"nothing to resume in {out} (no {SPEC} and {EXPERIMENT}/ from an earlier sweep)"
            )
        return json.loads(path.read_text())
    if not trials:
        raise ValueError("a sweep needs at least one trial (alphas x resolutions x variants)")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise FileExistsError(
                f"{out} exists; use --resume to finish that sweep or --force to start over"
            )
        shutil.rmtree(out)
    config = TrainConfig(**(settings or {})).validate()
    if config.data != "fashion-mnist" and Path(config.data).exists():
        config.data = str(Path(config.data).resolve())  # Ray's workers run in their own folders
    spec = {"trials": trials, "settings": config.to_dict()}
    for trial in trials:
        trial_config(trial, spec["settings"], out / "trials").validate()
    atomic_write_json(path, spec, force=True)
    return spec
