"""What several sub-commands share: JSON or text output, parsing numbers and paths, and
choosing a model."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from ..messages import printable
from ..models import (
    ALPHA,
    NUM_CLASSES,
    RESOLUTION,
    VARIANTS,
    mobilenet_v1,
    model_defaults,
    model_name,
)
from ..ranges import Range
from ..train.config import config_fields, field_type
from ..train.distributed import is_main_process
from ..weights import create_model, model_from_weights


def emit(result: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    """Prints one JSON document (``--json``, where json escapes control characters) or the
    readable text on stdout, with the control characters of every string in ``result`` (class
    names, file names from elsewhere) shown escaped instead of reaching the terminal."""
    if as_json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(printable(text(printable(result)), keep="\n"))


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def data_commands(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The sub-commands of ``mobilenets data`` (make-detection, make-geo, ...): the group is
    made by the first module that registers one, so each task's CLI module stays separate."""
    parser = subparsers.choices.get("data")
    if parser is None:
        parser = subparsers.add_parser("data", help="make built-in datasets")
        parser.set_defaults(
            data_commands=parser.add_subparsers(
                dest="data_command", required=True, metavar="COMMAND"
            )
        )
    return parser.get_default("data_commands")


# The loop's settings every training command offers; each command adds its task's own.
LOOP_SETTINGS = (
    "epochs",
    "batch_size",
    "optimizer",
    "lr",
    "weight_decay",
    "schedule",
    "warmup_epochs",
    "augment",
    "limit_train",
    "limit_val",
    "workers",
    "seed",
    "device",
)


def add_config_arguments(
    parser: argparse.ArgumentParser,
    names: Iterable[str],
    defaults: Mapping[str, Any] | None = None,
    help: Mapping[str, str] | None = None,
) -> None:
    """One flag per TrainConfig field in ``names`` (``--batch-size``; ``--augment/--no-augment``
    for a yes/no setting), with the help, choices and range declared on the field; out-of-range
    values are refused while parsing. The flags default to None (not given): the Python API
    applies its task's ``defaults``, which the help shows; ``help`` replaces a field's own text
    where a command reads the setting its own way."""
    declared, defaults = config_fields(), {**(defaults or {})}
    groups: dict[str, Any] = {}
    for name in names:
        setting = declared[name]
        meta, kind = setting.metadata, field_type(setting)
        default = defaults.get(name, setting.default)
        text = (help or {}).get(name, meta["help"]) + (
            "" if default is None else f" (default {_shown(default)})"
        )
        options: dict[str, Any] = {"help": text.replace("%", "%%"), "default": None}
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["type"] = _parse_setting(name, kind, meta["range"])
            options["choices"], options["metavar"] = meta["choices"], meta["metavar"]
        group = groups.get(meta["group"]) or groups.setdefault(
            meta["group"], parser.add_argument_group(meta["group"])
        )
        group.add_argument(f"--{name.replace('_', '-')}", **options)


def _shown(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


def _parse_setting(name: str, kind: type, allowed: Range | None) -> Callable[[str], Any]:
    """An argparse ``type`` for a field: a number in its declared range, or a non-empty text."""
    if kind is str:
        return non_empty
    if allowed is None:
        raise TypeError(f"TrainConfig.{name} is a number without a declared range")
    return number(allowed)


def number(allowed: Range) -> Callable[[str], int | float]:
    """An argparse ``type``: the flag's text as a number within ``allowed`` (a whole one for a
    count), else refused while parsing with the range in the message, e.g.
    ``argument --far: must be a number in (0, 1); got 'nan'``."""

    def parse(text: str) -> int | float:
        try:
            return allowed.parse("", text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = "int" if allowed.whole else "float"  # argparse names the type in its messages
    return parse


def non_empty(text: str) -> str:
    """An argparse ``type`` for names and paths: an empty one (``--model ''``) names nothing."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must not be empty; got {text!r}")
    return text


def output_path(text: str) -> str:
    """An argparse ``type`` for ``--out``: refused while parsing, before any work, when the path
    cannot be created because a file stands where one of its folders would be."""
    path = Path(non_empty(text))
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(
                    f"{text!r} is under {str(parent)!r}, which is a file, not a folder"
                )
            break
    return text


def config_arguments(
    args: argparse.Namespace, names: Iterable[str] | None = None
) -> dict[str, Any]:
    """The TrainConfig fields (of ``names``; default all) given on the command line; the rest
    keep the Python API's defaults."""
    wanted = set(config_fields() if names is None else names)
    return {key: value for key, value in vars(args).items() if key in wanted and value is not None}


def add_plot_argument(parser: argparse.ArgumentParser, what: str, side_file: str) -> None:
    """``--plot FILE`` and ``--force``, for an evaluation that draws: a read-only command writes
    a plot only where asked, or as its own side file in the run folder of the checkpoint it
    evaluates (``side_file``, replaced freely)."""
    parser.add_argument(
        "--plot",
        type=output_path,
        metavar="PNG",
        help=f"draw {what} to PNG (default: {side_file} beside a checkpoint, replaced freely)",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing --plot PNG")


def add_run_arguments(
    parser: argparse.ArgumentParser, folder: str = "run folder", note: str = ""
) -> None:
    """``--resume RUN_DIR`` and ``--force``, for every training command."""
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help=f"continue the {folder} RUN_DIR as if never stopped (no --out needed){note}",
    )
    parser.add_argument("--force", action="store_true", help=f"start over in an existing {folder}")


def train_or_resume(
    args: argparse.Namespace,
    *,
    start: Callable[..., dict[str, Any]],
    resume: Callable[..., dict[str, Any]],
    settings: Mapping[str, Any],
    text: Callable[[Any], str],
    needs: tuple[str, ...] = ("out",),
) -> int:
    """Every training command's one path: ``--resume RUN_DIR`` continues that run with the
    ``settings`` given (the Python API refuses what a resume cannot change); otherwise the
    flags ``needs`` are required and ``start`` begins a new run (``--force``: over an existing
    one). A run that diverges ends with its message and exit status 1; only the main process of
    a torchrun prints the summary."""
    try:
        if args.resume:
            summary = resume(args.resume, **settings)
        else:
            missing = [
                f"--{name.replace('_', '-')}" for name in needs if getattr(args, name) is None
            ]
            if missing:
                raise ValueError(f"{', '.join(missing)} needed (or --resume RUN_DIR)")
            summary = start(force=args.force, **settings)
    except FloatingPointError as error:
        print(f"mobilenets {args.command}: {error}", file=sys.stderr)
        return 1
    if is_main_process():
        emit(summary, args.json, text)
    return 0


def add_model_arguments(
    parser: argparse.ArgumentParser, *, num_classes: int | None = 1000, pretrained: bool = True
) -> None:
    """``--model NAME`` or ``--alpha A --resolution R --variant V``, ``--num-classes N``, and
    ``--pretrained`` weights to load into it."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", help="a registered name (see `mobilenets list`)")
    group.add_argument(
        "--alpha",
        type=number(ALPHA),
        help="width multiplier (default 1.0; at most 4, 16x the parameters of 1.0)",
    )
    group.add_argument(
        "--resolution", type=number(RESOLUTION), help="input size in pixels (default 224)"
    )
    group.add_argument(
        "--variant", choices=VARIANTS, help="architecture variant (default separable)"
    )
    if num_classes is not None:
        group.add_argument(
            "--num-classes",
            type=number(NUM_CLASSES),
            help=f"classifier size, 0 for none (default {num_classes})",
        )
    if pretrained:
        add_pretrained_arguments(group)


def add_pretrained_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--pretrained SOURCE|best|keras|timm`` and ``--drop-background``, for commands that build a model."""
    declared = config_fields()
    parser.add_argument(
        "--pretrained",
        metavar=declared["pretrained"].metadata["metavar"],
        help=declared["pretrained"].metadata["help"],
    )
    parser.add_argument(
        "--drop-background", action="store_true", help=declared["drop_background"].metadata["help"]
    )


def pretrained_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``create_model`` keyword arguments ``--pretrained`` asks for (none without it)."""
    if not getattr(args, "pretrained", None):
        return {}
    return dict(pretrained=args.pretrained, drop_background=args.drop_background)


MODEL_KNOBS = ("alpha", "resolution", "variant", "num_classes")
# --pretrained values that pick a release for the model named (or defaulted), not a file.
PRETRAINED_CHOICES = ("best", "keras", "timm")


def model_knobs(args: argparse.Namespace) -> dict[str, Any]:
    """The model flags given on the command line (``--alpha`` and the others of ``add_model_arguments``)."""
    return {key: value for key in MODEL_KNOBS if (value := getattr(args, key, None)) is not None}


def model_from_args(args: argparse.Namespace) -> tuple[nn.Module, str]:
    """Builds the model the arguments describe, and its registry-style name. A width,
    resolution or variant that contradicts what ``--model NAME`` stands for (``--alpha 0.5``
    with a 1.0 name) is refused: the result would be reported under a name it is not. (The
    class count is no part of a name: ``--num-classes`` changes it freely.)"""
    overrides = model_knobs(args)
    weights = pretrained_overrides(args)
    if args.model:
        named = model_defaults(args.model)
        for key, value in overrides.items():
            if key != "num_classes" and key in named and named[key] != value:
                flag = f"--{key.replace('_', '-')}"
                raise ValueError(
                    f"{flag} {value} contradicts --model {args.model} ({key} {named[key]}); give one or the other"
                )
    if weights and not args.model and args.pretrained not in PRETRAINED_CHOICES:
        # A file (or release) says its own width and resolution: the model is the one it describes.
        model = model_from_weights(
            args.pretrained, drop_background=args.drop_background, **overrides
        )
        return model, model_name(model.alpha, model.resolution, model.variant)
    if args.model or weights:
        name = args.model or model_name(
            overrides.get("alpha", 1.0), overrides.get("resolution", 224)
        )
        return create_model(name, **overrides, **weights), name
    model = mobilenet_v1(**overrides)
    return model, model_name(model.alpha, model.resolution, model.variant)


__all__ = [
    "LOOP_SETTINGS",
    "MODEL_KNOBS",
    "add_config_arguments",
    "add_json_argument",
    "add_plot_argument",
    "add_run_arguments",
    "config_arguments",
    "add_model_arguments",
    "add_pretrained_arguments",
    "data_commands",
    "emit",
    "model_from_args",
    "model_knobs",
    "non_empty",
    "number",
    "output_path",
    "pretrained_overrides",
    "printable",
    "train_or_resume",
]
