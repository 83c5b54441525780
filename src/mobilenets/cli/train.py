"""`mobilenets train`, `eval` and `predict`: thin over mobilenets.classification."""

from __future__ import annotations

import argparse
from typing import Any

from ..classification.evaluation import evaluate, evaluate_pretrained
from ..classification.predict import predict, predict_pretrained
from ..classification.training import DEFAULTS, resume, train
from ..deploy.qat import train_qat
from ..ranges import count
from ..train.config import BATCH_SIZE, WORKERS, config_fields
from .common import (
    add_config_arguments,
    add_json_argument,
    add_plot_argument,
    add_run_arguments,
    config_arguments,
    emit,
    model_from_args,
    number,
    output_path,
    train_or_resume,
)

AREA = "classification"

DATA_HELP = (
    "fashion-mnist, a folder with train/CLASS/* and val/CLASS/*, a folder with train.csv "
    "and val.csv, or TRAIN.csv,VAL.csv"
)
PER_CLASS_LINES = 50  # more classes (ImageNet's 1000) are listed in --json only


def _add_weights_source(parser: argparse.ArgumentParser) -> None:
    """``--checkpoint`` of this project, or ``--pretrained`` released weights (with ``--model``
    and ``--drop-background``, which are about released weights only)."""
    declared = config_fields()
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a .pt file or a run directory (its best.pt)")
    source.add_argument(
        "--pretrained",
        metavar=declared["pretrained"].metadata["metavar"],
        help=declared["pretrained"].metadata["help"],
    )
    parser.add_argument(
        "--drop-background",
        action="store_true",
        help=declared["drop_background"].metadata["help"] + " (with --pretrained)",
    )
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
    add_plot_argument(parser, "the confusion matrix", "NAME.confusion.png")
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


def run_train(args: argparse.Namespace) -> int:
    return train_or_resume(
        args,
        start=train_qat if args.qat else train,
        resume=resume,
        settings=config_arguments(args),
        text=format_summary,
    )


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


def _refuse_weights_flags(args: argparse.Namespace) -> None:
    """``--model`` and ``--drop-background`` describe released weights; a checkpoint of this
    project rebuilds its own model."""
    if args.checkpoint and (args.model or args.drop_background):
        raise ValueError(
            "--model and --drop-background go with --pretrained; --checkpoint rebuilds its own model"
        )


def run_eval(args: argparse.Namespace) -> int:
    _refuse_weights_flags(args)
    options = dict(
        limit=args.limit_val,
        batch_size=args.batch_size,
        workers=args.workers,
        plot=args.plot,
        force=args.force,
    )
    if args.checkpoint:
        result = evaluate(args.checkpoint, args.data, ema=args.ema, **options)
    else:
        if not args.data:
            raise ValueError(
                "--pretrained needs --data: a folder with the weights' classes (e.g. ImageNet's "
                "val/, one folder per synset)"
            )
        if args.ema:
            raise ValueError(
                "--ema is for checkpoints of this project; released weights have no moving average"
            )
        result = evaluate_pretrained(
            model_from_args(args)[0].eval(), args.data, weights=args.pretrained, **options
        )
    emit(result, args.json, format_evaluation)
    return 0


def format_evaluation(result: dict[str, Any]) -> str:
    source = result.get("checkpoint") or result["weights"]
    lines = [
        f"{source} on {result['data']} ({result['images']} images): top-1 {result['top1']:.2%}, "
        f"top-5 {result['top5']:.2%}, loss {result['loss']:.4f}"
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
            f"  published for {published['weights']}: top-1 {published['top1']}%, top-5 "
            f"{published['top5']}% ({published['source']})"
        )
    if "confusion_png" in result:
        lines.append(f"confusion matrix: {result['confusion_png']}")
    return "\n".join(lines)


def run_predict(args: argparse.Namespace) -> int:
    _refuse_weights_flags(args)
    if args.checkpoint:
        results = predict(args.checkpoint, args.images, top_k=args.top_k, ema=args.ema)
    else:
        results = predict_pretrained(model_from_args(args)[0].eval(), args.images, top_k=args.top_k)
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
