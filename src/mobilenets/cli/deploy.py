"""`mobilenets export`, `bench`, `select` and `export-report`: deployment."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ..deploy import (
    FASHION_MNIST,
    FORMATS,
    RUNTIMES,
    benchmark,
    benchmark_onnx_file,
    export_model,
    load_model,
    random_inputs,
    read_accuracy_table,
    real_inputs,
    select_model,
)
from ..deploy.inputs import labeled_inputs
from ..deploy.latency import is_int8
from ..deploy.report import export_report
from ..deploy.select import BUDGETS, DEFAULT_RUNTIME, describe_budget
from ..deploy.tflite_int8 import quantized_model
from ..files import cache_dir, refuse_existing
from ..ranges import POSITIVE, count
from ..train.checkpoint import checkpoint_file
from ..train.config import BATCH_SIZE
from ..weights import model_from_weights
from .common import (
    PRETRAINED_CHOICES,
    add_json_argument,
    add_model_arguments,
    add_pretrained_arguments,
    emit,
    model_from_args,
    model_knobs,
    number,
    output_path,
)

AREA = "deploy"

RANDOM = "random"
# Verification and calibration images go through the model as one batch: 1024 at 224 px are
# 0.6 GB of input alone.
IMAGES = count(1, 1024)
THREADS = count(1, 1024)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export to ONNX, TorchScript, ExecuTorch or LiteRT (optionally int8) or a "
        "pretrained folder (safetensors, for push-to-hub), verified by running it",
    )
    parser.add_argument("--checkpoint", help="a checkpoint file (dict with 'model' and 'config')")
    add_model_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument(
        "--out",
        type=output_path,
        required=True,
        help="the file (--format pretrained: the folder) to write",
    )
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.add_argument(
        "--verify-data",
        default=FASHION_MNIST,
        help=f"{FASHION_MNIST}, a folder of images, or {RANDOM} (default {FASHION_MNIST})",
    )
    parser.add_argument(
        "--verify-images",
        type=number(IMAGES),
        default=8,
        help="how many images to compare on (default 8, at most 1024)",
    )
    _add_int8_arguments(parser)
    add_json_argument(parser)
    parser.set_defaults(handler=run_export)

    parser = subparsers.add_parser("bench", help="latency of a model in a runtime on this machine")
    add_model_arguments(parser)
    parser.add_argument(
        "--onnx", help="time this exported ONNX file in ONNX Runtime instead of a model"
    )
    parser.add_argument("--runtime", help=f"one of {', '.join(RUNTIMES)} (required unless --onnx)")
    parser.add_argument("--batch-size", type=number(BATCH_SIZE), default=1)
    parser.add_argument(
        "--threads",
        type=number(THREADS),
        help=f"intra-op threads (default {torch.get_num_threads()})",
    )
    parser.add_argument(
        "--runs", type=number(count(1)), default=30, help="timed calls (default 30)"
    )
    parser.add_argument(
        "--warmup", type=number(count(0)), default=5, help="untimed calls first (default 5)"
    )
    parser.add_argument(
        "--precision",
        choices=("f32", "bf16"),
        default="f32",
        help="OpenVINO's float precision: f32 (default) or bf16",
    )
    _add_int8_arguments(parser, flag=False)
    add_json_argument(parser)
    parser.set_defaults(handler=run_bench)

    parser = subparsers.add_parser(
        "select", help="the most accurate alpha x resolution model within a budget"
    )
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument(
        "--max-latency-ms",
        type=number(POSITIVE),
        help="batch-1 latency budget, measured here (cached)",
    )
    budget.add_argument("--max-mult-adds", type=number(POSITIVE), help="mult-add budget (counted)")
    budget.add_argument("--max-params", type=number(POSITIVE), help="parameter budget (counted)")
    parser.add_argument(
        "--runtime",
        help=f"for the latency budget: one of {', '.join(RUNTIMES)} (default {DEFAULT_RUNTIME})",
    )
    parser.add_argument(
        "--threads",
        type=number(THREADS),
        help=f"for the latency budget (default {torch.get_num_threads()})",
    )
    parser.add_argument(
        "--accept-contention",
        action="store_true",
        help="cache latencies timed while other processes took the CPU (default: use them once, cache none)",
    )
    parser.add_argument(
        "--accuracy-table",
        help="CSV (model,top1) or JSON of your own accuracies (default: the published ImageNet "
        "top-1 of the best released weights, `mobilenets list --weights`)",
    )
    parser.add_argument(
        "--plot",
        type=output_path,
        help="where to draw accuracy vs cost (default: in the cache folder)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite --plot if it exists")
    parser.add_argument("--pretrained", help=argparse.SUPPRESS)  # refused with its reason
    add_json_argument(parser)
    parser.set_defaults(handler=run_select)

    parser = subparsers.add_parser(
        "export-report",
        help="one model through every runtime and precision here: size, latency, top-1, agreement, SNR",
    )
    parser.add_argument("--checkpoint", help="a checkpoint file or run folder")
    add_pretrained_arguments(parser)
    parser.add_argument(
        "--data",
        required=True,
        help=f"labelled held-out images: {FASHION_MNIST} (its test split) or a data folder as `eval` takes",
    )
    parser.add_argument(
        "--images",
        type=number(count(1, 100_000)),
        default=1000,
        help="how many held-out images (default 1000)",
    )
    parser.add_argument(
        "--calibration-data", help="int8 calibration images (default: --data's training images)"
    )
    parser.add_argument(
        "--calibration-images",
        type=number(IMAGES),
        default=100,
        help="how many calibration images (default 100, at most 1024)",
    )
    parser.add_argument(
        "--threads",
        type=number(THREADS),
        help=f"intra-op threads for timing (default {torch.get_num_threads()})",
    )
    parser.add_argument(
        "--runs",
        type=number(count(1)),
        default=30,
        help="timed batch-1 calls per runtime (default 30)",
    )
    parser.add_argument(
        "--out", help="folder for the files and report (default: CHECKPOINT.export/ beside it)"
    )
    parser.add_argument("--force", action="store_true", help="write into --out even if it exists")
    add_json_argument(parser)
    parser.set_defaults(handler=run_export_report)


def _add_int8_arguments(parser: argparse.ArgumentParser, *, flag: bool = True) -> None:
    if flag:
        parser.add_argument(
            "--int8", action="store_true", help="post-training static int8 (per-channel weights)"
        )
    parser.add_argument(
        "--calibration-data",
        help=f"int8 calibration images: {FASHION_MNIST} or a folder (default: generated inputs)",
    )
    parser.add_argument(
        "--calibration-images",
        type=number(IMAGES),
        default=100,
        help="how many calibration images (default 100, at most 1024)",
    )


def _calibration(args: argparse.Namespace, model: torch.nn.Module) -> torch.Tensor | None:
    if args.calibration_data is None:
        return None
    return real_inputs(model, args.calibration_data, args.calibration_images, train=True)


def run_export(args: argparse.Namespace) -> int:
    if args.checkpoint and (args.model or model_knobs(args) or args.pretrained):
        raise ValueError(
            "--checkpoint rebuilds its own model: give no --model, --alpha, --resolution, "
            "--variant, --num-classes or --pretrained with it"
        )
    model = load_model(args.checkpoint) if args.checkpoint else model_from_args(args)[0]
    if args.verify_data == RANDOM:
        verify = random_inputs(model, args.verify_images)
    else:
        verify = real_inputs(model, args.verify_data, args.verify_images, train=False)
    calibration = None
    keep = args.int8 and "input_quantization" in model.pretrained_cfg
    if keep:  # a quantized .tflite: its own scales and zero points, not a calibration
        if args.calibration_data or args.drop_background:
            raise ValueError(
                "--int8 on a quantized .tflite keeps the file's own scales and zero points: "
                "give no --calibration-data or --drop-background with it"
            )
        model = quantized_model(args.pretrained)
        print("note: int8 with the .tflite file's own scales and zero points", file=sys.stderr)
    elif args.int8:
        calibration = _calibration(args, model)
        if calibration is None:
            print(
                "note: int8 calibrated on generated (random) inputs; pass --calibration-data for real ranges",
                file=sys.stderr,
            )
            calibration = random_inputs(model, args.calibration_images)
    result = export_model(
        model,
        args.out,
        args.format,
        verify_inputs=verify,
        int8_calibration=calibration,
        force=args.force,
    )
    result["verify_data"] = args.verify_data
    if args.int8:
        result["calibration"] = "file" if keep else args.calibration_data or RANDOM
    emit(result, args.json, format_export)
    return 0


def format_export(result: dict) -> str:
    """What was written and how closely its runtime agrees with PyTorch fp32."""
    sizes = " and ".join(map(str, result["verified_batch_sizes"]))
    line = (
        f"wrote {result['out']} ({result['format']}{', int8' if result['int8'] else ''}, {result['bytes']:,} bytes); "
        f"max abs difference from PyTorch {result['max_abs_diff']:.3g} (largest output {result['max_abs_output']:.3g}) "
        f"over {result['verified_images']} {result['verify_data']} images (batch size {sizes}), "
        f"top-1 agreement {100 * result['top1_agreement']:.1f}%"
    )
    if result["int8"]:
        snr = result["snr_db"]
        line += f", SNR {'exact' if snr is None else f'{snr:.1f} dB'}"
    return line


def run_bench(args: argparse.Namespace) -> int:
    timing = dict(
        batch_size=args.batch_size, threads=args.threads, runs=args.runs, warmup=args.warmup
    )
    if args.onnx:
        if (
            args.model
            or model_knobs(args)
            or args.pretrained
            or args.runtime not in (None, "onnxruntime")
        ):
            raise ValueError(
                "--onnx times the file in onnxruntime; give no --model (nor its flags) or other --runtime with it"
            )
        result = {"model": args.onnx, **benchmark_onnx_file(args.onnx, **timing)}
    elif args.runtime is None:
        raise ValueError(f"give --runtime ({', '.join(RUNTIMES)}) or --onnx FILE")
    else:
        model, name = model_from_args(args)
        calibration = _calibration(args, model) if is_int8(args.runtime) else None
        result = {
            "model": name,
            **benchmark(
                model,
                args.runtime,
                **timing,
                calibration=calibration,
                calibration_source=args.calibration_data,
                precision=args.precision,
            ),
        }
    emit(result, args.json, format_benchmark)
    return 0


def format_benchmark(result: dict) -> str:
    line = (
        f"{result['model']} on {result['runtime']} (batch {result['batch_size']}, {result['threads']} threads): "
        f"median {result['median_ms']:.2f} ms, p90 {result['p90_ms']:.2f} ms, "
        f"{result['images_per_second']:.1f} images/s"
    )
    if result["mult_adds"] is not None:
        line += (
            f"; {result['mult_adds'] / 1e6:.1f}M mult-adds, {result['params'] / 1e6:.2f}M params"
        )
    line += f"\nCPU: {result['cpu']} ({', '.join(result['cpu_flags']) or 'no AVX2'})"
    if result["contended"]:
        line += (
            f"\nnote: other processes took {result['other_cpu_cores']:.2f} cores while this was timed: "
            "the figure is slower than this machine can do; rerun when the machine is quiet"
        )
    return line


def run_select(args: argparse.Namespace) -> int:
    if args.pretrained:
        raise ValueError(
            "select compares the 16 alpha x resolution models by cost, which no weights file "
            "changes; for the model a file holds: `mobilenets bench --pretrained FILE` or "
            "`mobilenets cost --pretrained FILE`"
        )
    budget, limit = next(
        (name, value)
        for name, value in zip(BUDGETS, (args.max_latency_ms, args.max_mult_adds, args.max_params))
        if value is not None
    )
    timing = {
        "--runtime": args.runtime is not None,
        "--threads": args.threads is not None,
        "--accept-contention": args.accept_contention,
    }
    given = [flag for flag, present in timing.items() if present]
    if budget != "latency_ms" and given:
        raise ValueError(
            f"{given[0]} applies to --max-latency-ms only: a {budget.replace('_', '-')} budget is "
            "counted, nothing is timed"
        )
    accuracy = read_accuracy_table(args.accuracy_table) if args.accuracy_table else None
    plot = args.plot or cache_dir() / f"select_{budget}.png"
    result = select_model(
        budget,
        limit,
        runtime=args.runtime or DEFAULT_RUNTIME,
        accuracy=accuracy,
        threads=args.threads,
        plot=plot,
        force=args.force or args.plot is None,
        accept_contention=args.accept_contention,
    )
    emit(result, args.json, format_selection)
    return 0


def format_selection(result: dict) -> str:
    """The Pareto frontier as a table, the chosen model, and where the plot is."""
    budget = result["budget"]
    timed = "latency_ms" in result["chosen"]
    header = f"{'model':<24} {'top-1':>6} {'M mult-adds':>12} {'M params':>9}" + (
        f" {'ms':>8}" if timed else ""
    )
    lines = [f"Pareto frontier (accuracy vs {budget}):", header]
    for row in result["frontier"]:
        line = f"{row['model']:<24} {row['top1']:>6.1f} {row['mult_adds'] / 1e6:>12.1f} {row['params'] / 1e6:>9.2f}"
        lines.append(line + (f" {row['latency_ms']:>8.2f}" if timed else ""))
    chosen = result["chosen"]
    lines.append(
        f"chosen: {chosen['model']} (top-1 {chosen['top1']}, {describe_budget(budget, chosen[budget])} "
        f"within {describe_budget(budget, result['limit'])})"
        + (
            f"; its weights: create_model({chosen['model']!r}, pretrained={chosen['weights']!r})"
            if "weights" in chosen
            else ""
        )
    )
    if "plot" in result:
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)


def run_export_report(args: argparse.Namespace) -> int:
    if bool(args.checkpoint) == bool(args.pretrained):
        raise ValueError("export-report needs one of --checkpoint RUN or --pretrained FILE")
    if args.pretrained and not args.out:
        raise ValueError("--pretrained needs --out: the folder for the report's files")
    if args.checkpoint:
        model = load_model(args.checkpoint)
        out = (
            Path(args.out) if args.out else checkpoint_file(args.checkpoint).with_suffix(".export")
        )
    else:
        if args.pretrained in PRETRAINED_CHOICES:
            raise ValueError(
                f"export-report --pretrained takes weights (a file, folder or release name); "
                f"{args.pretrained!r} chooses weights for a --model, which export-report does not take"
            )
        model = model_from_weights(args.pretrained, drop_background=args.drop_background)
        out = Path(args.out)
    refuse_existing(out, force=args.force)  # before minutes of exports
    images, labels = labeled_inputs(model, args.data, args.images)
    # Weights with a background output (TF-slim's 1001 classes) put class k at output k + 1.
    labels = labels + model.pretrained_cfg.get("label_offset", 0)
    calibration = real_inputs(
        model, args.calibration_data or args.data, args.calibration_images, train=True
    )
    report = export_report(
        model,
        images,
        labels,
        calibration,
        out,
        threads=args.threads or torch.get_num_threads(),
        runs=args.runs,
        force=True,
    )
    emit(report, args.json, format_report)
    return 0


def format_report(report: dict) -> str:
    """The report's table, one line per runtime and precision, then the machine and the plot."""
    lines = [
        f"{'runtime':<12} {'prec':<5} {'file':<18} {'KB':>7} {'ms':>7} {'p90 ms':>7} {'top-1':>6} "
        f"{'agree':>6} {'SNR dB':>7}",
    ]
    for row in report["rows"]:
        head = f"{row['runtime']:<12} {row['precision']:<5} "
        if "skipped" in row:
            lines.append(head + f"skipped: {row['skipped']}")
            continue
        snr = "exact" if row["snr_db"] is None else f"{row['snr_db']:.1f}"
        size = f"{row['bytes'] / 1024:>7.0f}" if "bytes" in row else f"{'-':>7}"
        lines.append(
            head
            + f"{row.get('file', '-'):<18} {size} {row['median_ms']:>7.3f} {row['p90_ms']:>7.3f} "
            f"{row['top1']:>6.2f} {100 * row['top1_agreement']:>5.1f}% {snr:>7}"
            + (" (contended)" if row["contended"] else "")
        )
    lines.append(
        f"{report['images']} held-out images, int8 calibrated on {report['calibration_images']}; batch 1, "
        f"{report['threads']} threads; CPU: {report['cpu']} ({', '.join(report['cpu_flags'])})"
    )
    if any(row.get("contended") for row in report["rows"]):
        lines.append(
            "(contended): other processes took the CPU while that row was timed; rerun on a quiet "
            "machine for its latency"
        )
    lines.append(
        f"files and report.json in {report['out_dir']}"
        + (f"; plot: {report['plot']}" if "plot" in report else "")
    )
    return "\n".join(lines)
