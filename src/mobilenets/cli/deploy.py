"""`mobilenets export`, `mobilenets bench` and `mobilenets select`: deployment."""
from __future__ import annotations

import argparse
import sys

import torch

from ..files import cache_dir
from ..deploy import (
    FASHION_MNIST, FORMATS, RUNTIMES, benchmark, benchmark_onnx_file, export_model, load_model, random_inputs,
    read_accuracy_table, real_inputs, select_model,
)
from ..deploy.select import BUDGETS, DEFAULT_RUNTIME, describe_budget
from .common import add_json_argument, add_model_arguments, emit, model_from_args

RANDOM = "random"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export to ONNX or TorchScript (optionally int8) or a pretrained folder "
                                   "(safetensors, for push-to-hub), verified by running it")
    parser.add_argument("--checkpoint", help="a checkpoint file (dict with 'model' and 'config')")
    add_model_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument("--out", required=True, help="the file (--format pretrained: the folder) to write")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.add_argument("--verify-data", default=FASHION_MNIST, help=f"{FASHION_MNIST}, a folder of images, or {RANDOM} (default {FASHION_MNIST})")
    parser.add_argument("--verify-images", type=int, default=8, help="how many images to compare on (default 8)")
    _add_int8_arguments(parser)
    add_json_argument(parser)
    parser.set_defaults(handler=run_export)

    parser = subparsers.add_parser("bench", help="latency of a model in a runtime on this machine")
    add_model_arguments(parser)
    parser.add_argument("--onnx", help="time this exported ONNX file in ONNX Runtime instead of a model")
    parser.add_argument("--runtime", help=f"one of {', '.join(RUNTIMES)} (required unless --onnx)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--threads", type=int, help=f"intra-op threads (default {torch.get_num_threads()})")
    parser.add_argument("--runs", type=int, default=30, help="timed calls (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls first (default 5)")
    _add_int8_arguments(parser, flag=False)
    add_json_argument(parser)
    parser.set_defaults(handler=run_bench)

    parser = subparsers.add_parser("select", help="the most accurate alpha x resolution model within a budget")
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--max-latency-ms", type=float, help="batch-1 latency budget, measured here (cached)")
    budget.add_argument("--max-mult-adds", type=float, help="mult-add budget (counted)")
    budget.add_argument("--max-params", type=float, help="parameter budget (counted)")
    parser.add_argument("--runtime", default=DEFAULT_RUNTIME, help=f"for the latency budget: one of {', '.join(RUNTIMES)} (default {DEFAULT_RUNTIME})")
    parser.add_argument("--threads", type=int, help=f"for the latency budget (default {torch.get_num_threads()})")
    parser.add_argument("--accuracy-table", help="CSV (model,top1) or JSON of your own accuracies (default: the published ImageNet top-1 of the best released weights, `mobilenets list --weights`)")
    parser.add_argument("--plot", help="where to draw accuracy vs cost (default: in the cache folder)")
    parser.add_argument("--force", action="store_true", help="overwrite --plot if it exists")
    add_json_argument(parser)
    parser.set_defaults(handler=run_select)


def _add_int8_arguments(parser: argparse.ArgumentParser, *, flag: bool = True) -> None:
    if flag:
        parser.add_argument("--int8", action="store_true", help="post-training static int8 (per-channel weights)")
    parser.add_argument("--calibration-data", help=f"int8 calibration images: {FASHION_MNIST} or a folder (default: generated inputs)")
    parser.add_argument("--calibration-images", type=int, default=100, help="how many calibration images (default 100)")


def _calibration(args: argparse.Namespace, model: torch.nn.Module) -> torch.Tensor | None:
    if args.calibration_data is None:
        return None
    return real_inputs(model, args.calibration_data, args.calibration_images, train=True)


def run_export(args: argparse.Namespace) -> int:
    if args.checkpoint and args.model:
        raise ValueError("give --checkpoint or --model, not both")
    model = load_model(args.checkpoint) if args.checkpoint else model_from_args(args)[0]
    if args.verify_data == RANDOM:
        verify = random_inputs(model, args.verify_images)
    else:
        verify = real_inputs(model, args.verify_data, args.verify_images, train=False)
    calibration = None
    if args.int8:
        calibration = _calibration(args, model)
        if calibration is None:
            print("note: int8 calibrated on generated (random) inputs; pass --calibration-data for real ranges", file=sys.stderr)
            calibration = random_inputs(model, args.calibration_images)
    result = export_model(model, args.out, args.format, verify_inputs=verify, int8_calibration=calibration, force=args.force)
    result["verify_data"] = args.verify_data
    if args.int8:
        result["calibration"] = args.calibration_data or RANDOM
    emit(result, args.json, lambda r: (
        f"wrote {r['out']} ({r['format']}{', int8' if r['int8'] else ''}, {r['bytes']:,} bytes); "
        f"max abs difference from PyTorch {r['max_abs_diff']:.3g} (largest output {r['max_abs_output']:.3g}) over {r['verified_batch_sizes'][0]} {r['verify_data']} images "
        f"(batch sizes {r['verified_batch_sizes'][0]} and 1), top-1 agreement {100 * r['top1_agreement']:.1f}%"
    ))
    return 0


def run_bench(args: argparse.Namespace) -> int:
    timing = dict(batch_size=args.batch_size, threads=args.threads, runs=args.runs, warmup=args.warmup)
    if args.onnx:
        if args.model or args.runtime not in (None, "onnxruntime"):
            raise ValueError("--onnx times the file in onnxruntime; give no --model or other --runtime with it")
        result = {"model": args.onnx, **benchmark_onnx_file(args.onnx, **timing)}
    elif args.runtime is None:
        raise ValueError(f"give --runtime ({', '.join(RUNTIMES)}) or --onnx FILE")
    else:
        model, name = model_from_args(args)
        calibration = _calibration(args, model) if args.runtime == "int8" else None
        result = {"model": name, **benchmark(
            model, args.runtime, **timing, calibration=calibration, calibration_source=args.calibration_data,
        )}
    emit(result, args.json, format_benchmark)
    return 0


def format_benchmark(result: dict) -> str:
    line = (
        f"{result['model']} on {result['runtime']} (batch {result['batch_size']}, {result['threads']} threads): "
        f"median {result['median_ms']:.2f} ms, p90 {result['p90_ms']:.2f} ms, {result['images_per_second']:.1f} images/s"
    )
    if result["mult_adds"] is not None:
        line += f"; {result['mult_adds'] / 1e6:.1f}M mult-adds, {result['params'] / 1e6:.2f}M params"
    return line


def run_select(args: argparse.Namespace) -> int:
    budget, limit = next(
        (name, value) for name, value in zip(BUDGETS, (args.max_latency_ms, args.max_mult_adds, args.max_params))
        if value is not None
    )
    accuracy = read_accuracy_table(args.accuracy_table) if args.accuracy_table else None
    plot = args.plot or cache_dir() / f"select_{budget}.png"
    result = select_model(
        budget, limit, runtime=args.runtime, accuracy=accuracy, threads=args.threads,
        plot=plot, force=args.force or args.plot is None,
    )
    emit(result, args.json, format_selection)
    return 0


def format_selection(result: dict) -> str:
    """The Pareto frontier as a table, the chosen model, and where the plot is."""
    budget = result["budget"]
    timed = "latency_ms" in result["chosen"]
    header = f"{'model':<24} {'top-1':>6} {'M mult-adds':>12} {'M params':>9}" + (f" {'ms':>8}" if timed else "")
    lines = [f"Pareto frontier (accuracy vs {budget}):", header]
    for row in result["frontier"]:
        line = f"{row['model']:<24} {row['top1']:>6.1f} {row['mult_adds'] / 1e6:>12.1f} {row['params'] / 1e6:>9.2f}"
        lines.append(line + (f" {row['latency_ms']:>8.2f}" if timed else ""))
    chosen = result["chosen"]
    lines.append(
        f"chosen: {chosen['model']} (top-1 {chosen['top1']}, {describe_budget(budget, chosen[budget])} "
        f"within {describe_budget(budget, result['limit'])})"
        + (f"; its weights: create_model({chosen['model']!r}, pretrained={chosen['weights']!r})" if "weights" in chosen else "")
    )
    if "plot" in result:
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)
