"""`mobilenets adapt`: thin over mobilenets.adapt (NetAdapt's per-layer widths)."""

from __future__ import annotations

import argparse
from typing import Any

from ..deploy.latency import RUNTIMES
from ..deploy.select import DEFAULT_RUNTIME
from ..ranges import OPEN_UNIT, POSITIVE, count
from .common import (
    LOOP_SETTINGS,
    add_config_arguments,
    add_json_argument,
    config_arguments,
    emit,
    number,
    output_path,
)

# The TrainConfig fields every fine-tune takes from the command line (the rest: the run's).
AREA = "sweep"

SETTINGS = (
    "data",
    *(name for name in LOOP_SETTINGS if name != "warmup_epochs"),
    "momentum",
    "label_smoothing",
    "min_crop_area",
    "cache",
    "precision",
    "channels_last",
)
ADAPT_HELP = {
    "epochs": "epochs of the final fine-tune of the chosen widths (default: the run's)",
    "data": "the run's data unless given: fashion-mnist, an image folder or CSV manifests",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "adapt",
        help="NetAdapt: per-layer widths of a trained MobileNet for a latency measured here",
    )
    parser.add_argument(
        "--checkpoint", required=True, metavar="RUN", help="the trained run (folder or .pt)"
    )
    parser.add_argument(
        "--out",
        type=output_path,
        required=True,
        metavar="DIR",
        help="the adaptation's folder: steps/, final/, results.json, adapt.png",
    )
    goal = parser.add_mutually_exclusive_group(required=True)
    goal.add_argument(
        "--target-ms",
        type=number(POSITIVE),
        help="narrow until the measured batch-1 latency is at most this",
    )
    goal.add_argument("--steps", type=number(count(1, 1000)), help="narrow this many steps")
    parser.add_argument(
        "--runtime",
        default=DEFAULT_RUNTIME,
        choices=RUNTIMES,
        help=f"where latency is measured (default {DEFAULT_RUNTIME})",
    )
    parser.add_argument(
        "--threads", type=number(count(1, 1024)), help="latency threads (default: torch's)"
    )
    parser.add_argument(
        "--reduction",
        type=number(OPEN_UNIT),
        default=0.1,
        help="the latency each step cuts, a fraction of the starting latency (default 0.1)",
    )
    parser.add_argument(
        "--granularity",
        type=number(count(1, 1024)),
        default=8,
        help="widths change in steps of this many channels (default 8)",
    )
    parser.add_argument(
        "--short-epochs",
        type=number(count(1, 1000)),
        default=1,
        help="epochs of each proposal's fine-tune (default 1)",
    )
    parser.add_argument(
        "--short-limit-train",
        type=number(count(1)),
        metavar="N",
        help="training images of each proposal's fine-tune (default: --limit-train)",
    )
    parser.add_argument(
        "--front",
        metavar="SWEEP_DIR",
        help="a `mobilenets sweep` folder on the same data and runtime: its uniform front in the plot",
    )
    parser.add_argument(
        "--accept-contention",
        action="store_true",
        help="cache layer latencies timed while other processes took the CPU",
    )
    parser.add_argument("--resume", action="store_true", help="continue the adaptation in DIR")
    parser.add_argument("--force", action="store_true", help="start over in a non-empty DIR")
    add_config_arguments(parser, SETTINGS, help=ADAPT_HELP)
    add_json_argument(parser)
    parser.set_defaults(handler=run_adapt)


def run_adapt(args: argparse.Namespace) -> int:
    from ..adapt import adapt

    given = config_arguments(args, SETTINGS)
    if args.resume and given:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in given)
        raise ValueError(f"--resume continues the adaptation as it was saved; drop {flags}")
    result = adapt(
        args.checkpoint,
        args.out,
        runtime=args.runtime,
        target_ms=args.target_ms,
        steps=args.steps,
        reduction=args.reduction,
        granularity=args.granularity,
        short_epochs=args.short_epochs,
        short_limit_train=args.short_limit_train,
        settings=given,
        threads=args.threads,
        front=args.front,
        accept_contention=args.accept_contention,
        resume=args.resume,
        force=args.force,
    )
    emit(result, args.json, format_adapt)
    return 0


def format_adapt(result: dict[str, Any]) -> str:
    """One line per step: the layer narrowed, widths, latency measured and predicted, top-1."""
    lines = [
        f"NetAdapt in {result['runtime']} ({result['threads']} threads) from {result['checkpoint']}",
        f"{'step':>5} {'layer':>5} {'top-1':>6} {'ms':>8} {'predicted':>9} {'M mult-adds':>11}  channels",
    ]
    final = [result["final"]] if result.get("final") else []
    for entry in [*result["steps"], *final]:
        top1 = "-" if entry.get("top1") is None else f"{100 * entry['top1']:.2f}"
        layer = "-" if entry["layer"] is None else entry["layer"]
        lines.append(
            f"{entry['step']!s:>5} {layer!s:>5} {top1:>6} {entry['latency_ms']:>8.3f} "
            f"{entry['predicted_ms']:>9.3f} {entry['mult_adds'] / 1e6:>11.2f}  {entry['channels']}"
        )
    lines.append(
        f"results: {result['out']}/results.json"
        + (f", plot: {result['plot']}" if "plot" in result else "")
    )
    return "\n".join(lines)


__all__ = ["register"]
