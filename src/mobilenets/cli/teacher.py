"""`mobilenets teacher-outputs`: a teacher's outputs for the un-augmented training images,
computed once for a student's ``--teacher-outputs`` (section 4.4's distillation): class logits
for `train`, attribute logits for `train-attributes`, embeddings for `train-embedding`."""

from __future__ import annotations

import argparse

from ..classification.task import teacher_outputs as classification_outputs
from ..classification.training import train_config
from ..embedding.training import TASKS as FACE_TASKS
from ..embedding.training import teacher_outputs as face_outputs
from ..train.config import BATCH_SIZE
from .common import (
    add_config_arguments,
    add_json_argument,
    config_arguments,
    emit,
    number,
    output_path,
)
from .train import DATA_HELP

AREA = "classification"
TASKS = ("classification", *FACE_TASKS)
# The TrainConfig fields the command offers (the inference batch is its own --batch-size).
SETTINGS = ("teacher", "teacher_weights", "resolution", "in_channels", "limit_train", "workers")
HELP = {
    "teacher": "a checkpoint of this project (or, for classification, a torchvision model name)",
    "resolution": "the student's input size (default 224; needed for attributes and embedding)",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "teacher-outputs",
        help="a teacher's logits or embeddings for the training images, once, for --teacher-outputs",
    )
    parser.add_argument(
        "--task",
        choices=TASKS,
        default="classification",
        help="the student's: classification (`train`, default), attributes (`train-attributes`) "
        "or embedding (`train-embedding`)",
    )
    parser.add_argument("--data", help=DATA_HELP + " (default fashion-mnist)")
    add_config_arguments(parser, (*SETTINGS, "device"), help=HELP)
    parser.add_argument(
        "--batch-size", type=number(BATCH_SIZE), default=256, help="inference batch (default 256)"
    )
    parser.add_argument("--out", type=output_path, required=True, metavar="FILE")
    parser.add_argument("--force", action="store_true", help="replace an existing FILE")
    add_json_argument(parser)
    parser.set_defaults(handler=run_teacher_outputs)


def run_teacher_outputs(args: argparse.Namespace) -> int:
    settings = config_arguments(args, (*SETTINGS, "device"))
    if not args.teacher:
        raise ValueError("--teacher needed: the model whose outputs the student learns")
    if args.task == "classification":
        config = train_config(**settings, data=args.data or "fashion-mnist", out=".")
        result = classification_outputs(
            config.validate().resolved(), args.out, batch_size=args.batch_size, force=args.force
        )
        line = "{images} teacher outputs ({num_classes} classes) of {teacher} on {data}: {out}"
    else:
        if args.teacher_weights or args.resolution is None:
            raise ValueError(
                f"--task {args.task} needs --resolution (the student's) and takes no "
                "--teacher-weights (its teacher is a checkpoint)"
            )
        teacher = settings.pop("teacher")
        result = face_outputs(
            args.task,
            teacher,
            args.data or "fashion-mnist",
            args.out,
            batch_size=args.batch_size,
            force=args.force,
            **settings,
        )
        line = "{images} {task} teacher outputs ({outputs} values each) of {teacher}: {out}"
    emit(result, args.json, lambda r: line.format(**r))
    return 0
