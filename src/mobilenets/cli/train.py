"""`mobilenets train`, `eval`, `predict` and `teacher-outputs`: thin over mobilenets.train."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..classification.evaluation import evaluate, evaluate_pretrained
from ..classification.predict import predict, predict_pretrained
from ..classification.task import teacher_outputs
from ..classification.training import DEFAULTS, resume, train, train_config
from ..deploy.qat import train_qat
from ..ranges import count
from ..train.config import BATCH_SIZE, WORKERS, config_fields
from ..train.distributed import is_main_process
from ..weights import create_model, model_from_weights
from .common import (
    add_config_arguments,
    add_json_argument,
    add_pretrained_arguments,
    add_run_arguments,
    add_teacher_outputs_arguments,
    config_arguments,
    emit,
    number,
    output_path,
    pretrained_overrides,
)

DATA_HELP = "fashion-mnist, a folder with train/CLASS/* and val/CLASS/*, a folder with train.csv and val.csv, or TRAIN.csv,VAL.csv"
PER_CLASS_LINES = 50  # more classes (ImageNet's 1000) are listed in --json only


def _add_weights_source(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint`` of this project, or ``--pretrained`` released weights (with ``--model``)."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a .pt file or a run directory (its best.pt)")
    add_pretrained_arguments(source)
    parser.add_argument(
        "--model",
        help="with --pretrained: the registered name to load into (default: inferred from the file)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a MobileNet (also under torchrun), resume, distill, fine-tune"
    )
    parser.add_argument(
        "--out",
        type=output_path,
        metavar="RUN_DIR",
        help="the run directory (refused if it exists, unless --resume or --force)",
    )
    parser.add_argument("--data", help=DATA_HELP + " (default fashion-mnist)")
    add_run_arguments(parser)
    add_config_arguments(
        parser, [name for name in config_fields() if name not in ("out", "data")], DEFAULTS
    )
    parser.add_argument(
        "--qat",
        action="store_true",
        help="quantization-aware fine-tuning of --init (int8 afterwards: `mobilenets export --format torchscript`)",
    )
    add_json_argument(parser)
    parser.set_defaults(handler=run_train)

    parser = subparsers.add_parser(
        "eval",
        help="top-1, top-5, per-class accuracy and a confusion-matrix PNG of a checkpoint or of released weights",
    )
    _add_weights_source(parser)
    parser.add_argument(
        "--data",
        help=DATA_HELP + ", or a folder of class folders such as ImageNet's val/ "
        "(default: the checkpoint's; needed with --pretrained)",
    )
    parser.add_argument(
        "--limit-val",
        type=number(count(1)),
        metavar="N",
        help="evaluate the first N validation images",
    )
    parser.add_argument("--batch-size", type=number(BATCH_SIZE), default=256)
    parser.add_argument("--workers", type=number(WORKERS), default=0)
    parser.add_argument(
        "--ema", action="store_true", help="evaluate the moving average of the weights"
    )
    parser.add_argument(
        "--out",
        type=output_path,
        help="the confusion-matrix PNG (default: CHECKPOINT's folder/NAME.confusion.png; "
        "with --pretrained: ./WEIGHTS_NAME.confusion.png)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace an existing confusion-matrix PNG"
    )
    add_json_argument(parser)
    parser.set_defaults(handler=run_eval)

    parser = subparsers.add_parser(
        "predict", help="the top classes of a checkpoint (or pretrained weights) for image files"
    )
    _add_weights_source(parser)
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument(
        "--top-k",
        type=number(count(1)),
        default=5,
        help="how many classes per image (default 5; at most the model's)",
    )
    parser.add_argument("--ema", action="store_true", help="use the moving average of the weights")
    add_json_argument(parser)
    parser.set_defaults(handler=run_predict)

    parser = subparsers.add_parser(
        "teacher-outputs", help="a teacher's logits for the un-augmented training images, once"
    )
    parser.add_argument("--data", help=DATA_HELP + " (default fashion-mnist)")
    add_config_arguments(
        parser,
        ("teacher", "teacher_weights", "resolution", "in_channels", "limit_train", "workers"),
        DEFAULTS,
    )
    add_teacher_outputs_arguments(parser, run_teacher_outputs)


def run_train(args: argparse.Namespace) -> int:
    settings = config_arguments(args)
    try:
        if args.resume:
            summary = resume(args.resume, **settings)
        elif not args.out:
            raise ValueError("give --out RUN_DIR (a new folder), or --resume RUN_DIR")
        else:
            summary = (train_qat if args.qat else train)(force=args.force, **settings)
    except FloatingPointError as error:
        print(f"mobilenets train: {error}", file=sys.stderr)
        return 1
    if is_main_process():
        emit(summary, args.json, format_summary)
    return 0


def format_summary(summary: dict[str, Any]) -> str:
    lines = [
        f"test top-1 {summary['top1']:.2%}, top-5 {summary['top5']:.2%} after {summary['epochs']} epochs"
        + (
            f" (best top-1 {summary['best_top1']:.2%} at epoch {summary['best_epoch']})"
            if summary.get("best_top1")
            else ""
        ),
        f"{summary['mult_adds'] / 1e6:.2f}M mult-adds, {summary['params'] / 1e6:.3f}M parameters",
        f"{summary['images_per_second']:.0f} training images/s ({summary['train_seconds']:.0f} s of training)",
    ]
    if summary.get("ema_top1") is not None:
        lines.append(f"moving average of the weights: top-1 {summary['ema_top1']:.2%}")
    if summary.get("skipped_files"):
        lines.append(f"{summary['skipped_files']} unreadable image files skipped")
    lines.append(f"run: {summary['run_dir']}")
    return "\n".join(lines)


def run_eval(args: argparse.Namespace) -> int:
    options = dict(
        limit=args.limit_val,
        batch_size=args.batch_size,
        workers=args.workers,
        plot=args.out,
        force=args.force,
    )
    if args.checkpoint:
        result = evaluate(args.checkpoint, args.data, ema=args.ema, **options)
    else:
        if not args.data:
            raise ValueError(
                "--pretrained needs --data: a folder with the weights' classes (e.g. ImageNet's val/, one folder per synset)"
            )
        if args.ema:
            raise ValueError(
                "--ema is for checkpoints of this project; released weights have no moving average"
            )
        result = evaluate_pretrained(
            _pretrained_model(args), args.data, weights=args.pretrained, **options
        )
    emit(result, args.json, format_evaluation)
    return 0


def _pretrained_model(args: argparse.Namespace) -> Any:
    """The model ``--pretrained`` (and ``--model``) describe, in eval mode."""
    if args.model:
        return create_model(args.model, **pretrained_overrides(args)).eval()
    return model_from_weights(args.pretrained, drop_background=args.drop_background).eval()


def format_evaluation(result: dict[str, Any]) -> str:
    source = result.get("checkpoint") or result["weights"]
    lines = [
        f"{source} on {result['data']} ({result['images']} images): top-1 {result['top1']:.2%}, top-5 {result['top5']:.2%}, loss {result['loss']:.4f}"
    ]
    if len(result["per_class"]) > PER_CLASS_LINES:
        lines.append(f"  per-class accuracy of the {len(result['per_class'])} classes: --json")
    else:
        width = max(len(name) for name in result["per_class"])
        lines += [
            f"  {name:<{width}}  {'-' if accuracy is None else f'{accuracy:.2%}'}"
            for name, accuracy in result["per_class"].items()
        ]
    if result.get("published"):
        published = result["published"]
        lines.append(
            f"  published for {published['weights']}: top-1 {published['top1']}%, top-5 {published['top5']}% ({published['source']})"
        )
    if "confusion_png" in result:
        lines.append(f"confusion matrix: {result['confusion_png']}")
    return "\n".join(lines)


def run_predict(args: argparse.Namespace) -> int:
    if args.checkpoint:
        results = predict(args.checkpoint, args.images, top_k=args.top_k, ema=args.ema)
    else:
        results = predict_pretrained(_pretrained_model(args), args.images, top_k=args.top_k)
    emit(
        results,
        args.json,
        lambda rows: "\n".join(
            f"{row['image']}: "
            + ", ".join(f"{top['class']} {top['probability']:.1%}" for top in row["top"])
            for row in rows
        ),
    )
    return 0


def run_teacher_outputs(args: argparse.Namespace) -> int:
    config = train_config(**{**config_arguments(args), "out": "."}).validate().resolved()
    result = teacher_outputs(config, args.out, batch_size=args.batch_size, force=args.force)
    emit(
        result,
        args.json,
        lambda r: (
            f"{r['images']} teacher outputs ({r['num_classes']} classes) of {r['teacher']} on {r['data']}: {r['out']}"
        ),
    )
    return 0
