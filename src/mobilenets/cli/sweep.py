"""`mobilenets sweep`: thin over mobilenets.sweep (Ray Tune is imported only when it runs)."""

from __future__ import annotations

import argparse
from typing import Any

from ..deploy.latency import RUNTIMES
from ..deploy.select import DEFAULT_RUNTIME
from ..models import VARIANTS
from ..ranges import NON_NEGATIVE, POSITIVE, Range, count
from .common import (
    LOOP_SETTINGS,
    add_config_arguments,
    add_json_argument,
    add_run_arguments,
    config_arguments,
    number,
    output_path,
    train_or_resume,
)

AREA = "sweep"
# The TrainConfig fields a sweep's trials share (the grid sets alpha, resolution, variant, seed).
SETTINGS = (
    "data",
    *LOOP_SETTINGS,
    "momentum",
    "label_smoothing",
    "dropout",
    "in_channels",
    "cache",
    "min_crop_area",
    "ema_decay",
    "grad_clip",
    "precision",
    "channels_last",
)
SWEEP_HELP = {
    "seed": "the first trial seed of each cell: --seed, --seed + 1, ... (default 0)",
    "data": "fashion-mnist, a folder with train/CLASS/* and val/CLASS/*, or CSV manifests",
    "epochs": "training epochs of every trial; ASHA's longest",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="train alpha x resolution cells on your data (Ray Tune, ASHA), time them here, the Pareto front",
    )
    parser.add_argument(
        "--out",
        type=output_path,
        metavar="RUN_DIR",
        help="the sweep folder: trials/, tune/, results.json, pareto.png",
    )
    add_run_arguments(
        parser, "sweep folder", "; only folders your sweeps sealed: Ray Tune pickles its state"
    )
    group = parser.add_argument_group("grid")
    group.add_argument(
        "--alphas",
        default="0.25,0.5,0.75,1.0",
        help="width multipliers (default 0.25,0.5,0.75,1.0)",
    )
    group.add_argument(
        "--resolutions",
        default="224,192,160,128",
        help="input sizes in pixels (default 224,192,160,128)",
    )
    group.add_argument(
        "--variants", default="separable", help=f"among {', '.join(VARIANTS)} (default separable)"
    )
    group.add_argument(
        "--trials-per-cell",
        type=number(count(1, 1000)),
        default=1,
        help="seeds per cell: --seed, --seed + 1, ... (default 1)",
    )
    group.add_argument(
        "--no-early-stop",
        dest="early_stop",
        action="store_false",
        help="train every trial to the end (no ASHA)",
    )
    group.add_argument(
        "--grace-epochs",
        type=number(count(1)),
        default=1,
        help="ASHA: epochs before a trial may be stopped (default 1)",
    )
    group.add_argument(
        "--reduction-factor",
        type=number(Range(1, low_open=True)),
        default=3,
        help="ASHA: keep the best 1/this at each rung (default 3)",
    )
    add_config_arguments(parser, SETTINGS, help=SWEEP_HELP)
    group = parser.add_argument_group("latency and resources")
    group.add_argument(
        "--runtime",
        default=DEFAULT_RUNTIME,
        help=f"one of {', '.join(RUNTIMES)} (default {DEFAULT_RUNTIME})",
    )
    group.add_argument(
        "--threads", type=number(count(1, 1024)), help="latency threads (default: torch's)"
    )
    group.add_argument(
        "--max-latency-ms",
        type=number(POSITIVE),
        help="name the most accurate trial within this batch-1 latency",
    )
    group.add_argument(
        "--address",
        metavar="RAY_ADDRESS",
        help="an existing Ray cluster (default: a local Ray sized to this machine)",
    )
    group.add_argument(
        "--cpus-per-trial",
        type=number(POSITIVE),
        default=1,
        help="CPUs Ray gives each trial (default 1)",
    )
    group.add_argument(
        "--gpus-per-trial",
        type=number(NON_NEGATIVE),
        default=0,
        help="GPUs Ray gives each trial, e.g. 1 or 0.5 with --device cuda (default 0)",
    )
    add_json_argument(parser)
    parser.set_defaults(handler=run_sweep_command)


def run_sweep_command(args: argparse.Namespace) -> int:
    from ..sweep import run_sweep
    from ..sweep.grid import parse_list, trial_grid

    options = dict(
        runtime=args.runtime,
        threads=args.threads,
        max_latency_ms=args.max_latency_ms,
        early_stop=args.early_stop,
        grace_epochs=args.grace_epochs,
        reduction_factor=args.reduction_factor,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        address=args.address,
    )

    def start(force: bool, **settings: Any) -> dict[str, Any]:
        trials = trial_grid(
            parse_list(args.alphas, float, "--alphas"),
            parse_list(args.resolutions, int, "--resolutions"),
            parse_list(args.variants, str, "--variants"),
            trials_per_cell=args.trials_per_cell,
            seed=settings.pop("seed", 0),
        )
        return run_sweep(args.out, trials, settings, force=force, **options)

    def resume(run_dir: str, **settings: Any) -> dict[str, Any]:
        given = [f"--{name.replace('_', '-')}" for name in settings] + ["--out"] * bool(args.out)
        if given:
            raise ValueError(
                f"--resume finishes the sweep as it was saved; drop {', '.join(given)}"
            )
        return run_sweep(run_dir, None, None, resume=True, **options)

    return train_or_resume(
        args,
        start=start,
        resume=resume,
        settings=config_arguments(args, SETTINGS),
        text=format_sweep,
    )


def format_sweep(result: dict[str, Any]) -> str:
    """Every trial, front first then by accuracy; the chosen one and how to export it."""
    header = f"{'trial':<30} {'status':<13} {'top-1':>6} {'M mult-adds':>11} {'M params':>8} {'ms':>8} front"
    lines = [
        f"{len(result['trials'])} trials, latency in {result['runtime']} ({result['threads']} threads)",
        header,
    ]
    ordered = sorted(
        result["trials"], key=lambda row: (not row["on_pareto_front"], -(row["top1"] or 0))
    )
    for row in ordered:
        lines.append(
            f"{row['trial']:<30} {row['status']:<13} {_cell(row['top1'], 100, '>6.2f')} "
            f"{_cell(row['mult_adds'], 1e-6, '>11.2f')} "
            f"{_cell(row['params'], 1e-6, '>8.3f')} {_cell(row['latency_ms'], 1, '>8.3f')} "
            f"{'*' if row['on_pareto_front'] else ''}"
        )
    chosen = result.get("chosen")
    if chosen:
        lines.append(
            f"chosen within {result['max_latency_ms']:g} ms: {chosen['trial']} (top-1 {100 * chosen['top1']:.2f}%, "
            f"{chosen['latency_ms']:.3f} ms); export it: mobilenets export --checkpoint "
            f"{chosen['checkpoint']} --format onnx --out model.onnx"
        )
    lines.append(
        f"results: {result['out']}/results.json"
        + (f", plot: {result['plot']}" if "plot" in result else "")
    )
    return "\n".join(lines)


def _cell(value: float | None, scale: float, spec: str) -> str:
    return format(value * scale, spec) if value is not None else "-"


__all__ = ["register"]
