"""`train-attributes`, `eval-attributes`, `train-embedding`, `eval-embedding` and `embed`: the
paper's face applications by distillation (Tables 12 and 14)."""

from __future__ import annotations

import argparse
from typing import Any

from ..data.classification import DATA_HELP as CLASS_DATA_HELP
from ..embedding.attributes import DATA_HELP
from ..embedding.evaluation import evaluate_attributes, evaluate_embedding
from ..embedding.metrics import MAX_PAIR_IMAGES
from ..embedding.predict import predict
from ..embedding.training import DEFAULTS, resume, train
from ..ranges import OPEN_UNIT, Range, count
from .common import (
    LOOP_SETTINGS,
    add_config_arguments,
    add_json_argument,
    add_plot_argument,
    add_run_arguments,
    config_arguments,
    emit,
    number,
    output_path,
    train_or_resume,
)

AREA = "faces"

# The TrainConfig fields each training command offers.
SETTINGS = {
    "embedding": (
        "teacher",
        "teacher_outputs",
        "alpha",
        "resolution",
        *LOOP_SETTINGS,
        "ema_decay",
        "cache",
    ),
}
SETTINGS["attributes"] = (*SETTINGS["embedding"], "distill_weight", "temperature")
TEACHER_HELP = {
    "teacher": "a checkpoint of this project or a TorchScript file",
    "teacher_outputs": "the teacher's outputs from `mobilenets teacher-outputs --task TASK`",
}


def _add_training_arguments(parser: argparse.ArgumentParser, task: str, data_help: str) -> None:
    parser.add_argument(
        "--data", default="fashion-mnist", help=data_help + " (default fashion-mnist, the stand-in)"
    )
    parser.add_argument(
        "--out",
        type=output_path,
        metavar="RUN_DIR",
        help="run folder (checkpoints, metrics.jsonl, summary.json)",
    )
    add_run_arguments(parser)
    add_config_arguments(parser, SETTINGS[task], DEFAULTS[task], help=TEACHER_HELP)
    add_json_argument(parser)
    parser.set_defaults(handler=run_train, task=task)


def _add_eval_arguments(
    parser: argparse.ArgumentParser, limit: Range, limit_help: str, plot: str
) -> None:
    parser.add_argument(
        "--checkpoint", required=True, help="a checkpoint file or run folder (best.pt)"
    )
    parser.add_argument("--data", help="default: the data it was trained on")
    parser.add_argument("--limit-val", type=number(limit), metavar="N", help=limit_help)
    parser.add_argument(
        "--ema", action="store_true", help="evaluate the moving average of the weights"
    )
    add_plot_argument(parser, f"the {plot} plot", f"NAME.{plot}.png")
    add_json_argument(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-attributes",
        help="a multi-label attribute MobileNet distilled from a teacher (Table 12)",
    )
    _add_training_arguments(parser, "attributes", DATA_HELP)

    parser = subparsers.add_parser(
        "train-embedding",
        help="a MobileNet with a 128-d embedding distilled from a teacher (Table 14)",
    )
    _add_training_arguments(parser, "embedding", "identities as classes: " + CLASS_DATA_HELP)

    parser = subparsers.add_parser(
        "eval-attributes",
        help="mean AP and per-attribute AP of an attribute checkpoint, beside Table 12",
    )
    _add_eval_arguments(
        parser, count(1), "the first N validation images (default all)", "attributes"
    )
    parser.set_defaults(handler=run_eval_attributes)

    parser = subparsers.add_parser(
        "eval-embedding", help="verification: TAR at FAR 1e-4 and accuracy, beside Table 14"
    )
    # A pair needs two images.
    _add_eval_arguments(
        parser,
        count(2, MAX_PAIR_IMAGES),
        f"all pairs of the first N validation images (default and most {MAX_PAIR_IMAGES})",
        "roc",
    )
    parser.add_argument(
        "--far",
        type=number(OPEN_UNIT),
        default=1e-4,
        help="the false-accept rate, in (0, 1) (default 1e-4)",
    )
    parser.set_defaults(handler=run_eval_embedding)

    parser = subparsers.add_parser("embed", help="the unit-norm embeddings of image files")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--ema", action="store_true")
    add_json_argument(parser)
    parser.set_defaults(handler=run_embed)


def run_train(args: argparse.Namespace) -> int:
    return train_or_resume(
        args,
        start=lambda **settings: train(args.task, args.data, args.out, **settings),
        resume=resume,
        settings=config_arguments(args, SETTINGS[args.task]),
        text=format_training,
    )


def format_training(summary: dict[str, Any]) -> str:
    if "map" in summary:
        line = f"mean AP {summary['map']:.2%} (best {summary['best_map']:.2%} at epoch {summary['best_epoch']})"
    else:
        line = (
            f"TAR {summary['tar']:.2%} at FAR 1e-4, accuracy {summary['accuracy']:.2%} "
            f"(best TAR {summary['best_tar']:.2%} at epoch {summary['best_epoch']})"
        )
        if "teacher_accuracy" in summary:
            line += f"; teacher: TAR {summary['teacher_tar']:.2%}, accuracy {summary['teacher_accuracy']:.2%}"
    return (
        f"{line} after {summary['epochs']} epochs; {summary['mult_adds'] / 1e6:.2f}M mult-adds, "
        f"{summary['params'] / 1e6:.3f}M parameters\nrun: {summary['run_dir']}"
    )


def _paper(row: dict[str, Any] | None, what: str) -> str:
    if row is None:
        return "the paper has no row for this alpha and resolution"
    return (
        f"the paper: {what} {row['metric_percent']}% with {row['mult_adds_millions']:g}M mult-adds, "
        f"{row['params_millions']:g}M parameters (on face data)"
    )


def run_eval_attributes(args: argparse.Namespace) -> int:
    result = evaluate_attributes(
        args.checkpoint,
        args.data,
        limit=args.limit_val,
        ema=args.ema,
        plot=args.plot,
        force=args.force,
    )
    emit(
        result,
        args.json,
        lambda r: "\n".join(
            [
                f"  {name:<16} AP {ap:.2%} (frequency {r['frequency'][name]:.2%})"
                for name, ap in r["per_attribute"].items()
            ]
            + [
                f"{r['images']} images: mean AP {r['map']:.2%} (chance {r['chance_map']:.2%}); "
                f"{r['mult_adds'] / 1e6:.2f}M mult-adds, {r['params'] / 1e6:.3f}M parameters",
                _paper(r["paper_table12"], "mean AP"),
            ]
            + _plot_line(r, "APs beside chance")
        ),
    )
    return 0


def run_eval_embedding(args: argparse.Namespace) -> int:
    result = evaluate_embedding(
        args.checkpoint,
        args.data,
        limit=args.limit_val or MAX_PAIR_IMAGES,
        far=args.far,
        ema=args.ema,
        plot=args.plot,
        force=args.force,
    )
    emit(
        result,
        args.json,
        lambda r: "\n".join(
            [
                f"{r['images']} images, {r['same_pairs']} same and {r['different_pairs']} different pairs: "
                f"TAR {r['tar']:.2%} at FAR {r['far']:.1e} (target {r['far_target']:g}), accuracy {r['accuracy']:.2%}; "
                f"{r['mult_adds'] / 1e6:.2f}M mult-adds, {r['params'] / 1e6:.3f}M parameters",
                _paper(r["paper_table14"], "accuracy at 1e-4 false accepts"),
            ]
            + _plot_line(r, "ROC")
        ),
    )
    return 0


def _plot_line(result: dict[str, Any], what: str) -> list[str]:
    return [f"{what}: {result['plot']}"] if "plot" in result else []


def run_embed(args: argparse.Namespace) -> int:
    results = predict(args.checkpoint, args.images, ema=args.ema)
    emit(
        results,
        args.json,
        lambda rows: "\n".join(
            f"{row['image']}: {len(row['embedding'])}-d ["
            + ", ".join(f"{v:.3f}" for v in row["embedding"][:4])
            + ", ...]"
            for row in rows
        ),
    )
    return 0
