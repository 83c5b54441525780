"""What several sub-commands share: JSON or text output, and choosing a model."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from torch import nn

from ..models import VARIANTS, create_model, model_name, mobilenet_v1


def emit(result: Any, as_json: bool, text: Callable[[Any], str]) -> None:
    """Prints one JSON document (``--json``) or the readable text on stdout."""
    if as_json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(text(result))


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def data_commands(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The sub-commands of ``mobilenets data`` (make-detection, make-geo, ...): the group is
    made by the first module that registers one, so each task's CLI module stays separate."""
    parser = subparsers.choices.get("data")
    if parser is None:
        parser = subparsers.add_parser("data", help="make built-in datasets")
        parser.set_defaults(data_commands=parser.add_subparsers(dest="data_command", required=True, metavar="COMMAND"))
    return parser.get_default("data_commands")


# TrainConfig fields that ``add_loop_arguments`` sets, for ``loop_settings``.
LOOP_SETTINGS = (
    "batch_size", "optimizer", "lr", "weight_decay", "schedule", "warmup_epochs", "augment",
    "limit_train", "limit_val", "workers", "seed", "device",
)


def add_loop_arguments(
    parser: argparse.ArgumentParser, *, batch_size: int, optimizer: str, lr: float, weight_decay: float, schedule: str,
) -> None:
    """The training loop's flags a task command offers (with the task's defaults), and
    ``--resume RUN_DIR`` / ``--force``."""
    parser.add_argument("--epochs", type=int, help="default 10 (with --resume: the saved run's)")
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--optimizer", default=optimizer, help=f"rmsprop (the paper's), sgd or adamw (default {optimizer})")
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--weight-decay", type=float, default=weight_decay)
    parser.add_argument("--schedule", default=schedule, help=f"exponential, cosine or constant (default {schedule})")
    parser.add_argument("--warmup-epochs", type=float, default=0.0)
    parser.add_argument("--no-augment", dest="augment", action="store_false", help="no random crop/flip (or photometric) augmentation")
    parser.add_argument("--limit-train", type=int)
    parser.add_argument("--limit-val", type=int)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue RUN_DIR/last.pt as if never stopped")
    parser.add_argument("--force", action="store_true", help="start over in an existing run folder")


def loop_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields ``add_loop_arguments`` parsed."""
    return {key: getattr(args, key) for key in LOOP_SETTINGS}


def require_for_new_run(args: argparse.Namespace, names: tuple[str, ...]) -> None:
    """Refuses a run started without the flags ``names`` (``--resume`` needs none of them)."""
    missing = [f"--{name.replace('_', '-')}" for name in names if getattr(args, name) is None]
    if missing:
        raise ValueError(f"{', '.join(missing)} needed (or --resume RUN_DIR)")


def add_model_arguments(
    parser: argparse.ArgumentParser, *, num_classes: int | None = 1000, pretrained: bool = True
) -> None:
    """``--model NAME`` or ``--alpha A --resolution R --variant V``, ``--num-classes N``, and
    ``--pretrained`` weights to load into it."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", help="a registered name (see `mobilenets list`)")
    group.add_argument("--alpha", type=float, help="width multiplier (default 1.0)")
    group.add_argument("--resolution", type=int, help="input size in pixels (default 224)")
    group.add_argument("--variant", choices=VARIANTS, help="architecture variant (default separable)")
    if num_classes is not None:
        group.add_argument("--num-classes", type=int, help=f"classifier size, 0 for none (default {num_classes})")
    if pretrained:
        add_pretrained_arguments(group)


def add_pretrained_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--pretrained SOURCE|best|keras|timm`` and ``--drop-background``, for commands that build a model."""
    parser.add_argument(
        "--pretrained", metavar="SOURCE|best|keras|timm",
        help="load weights: a Keras .h5, a TF-slim checkpoint prefix, a .pt or .safetensors file, a pretrained "
        "folder, a URL (append #sha256=HEX to check it), hf-hub:OWNER/NAME, a release name (`mobilenets list "
        "--weights`, e.g. timm:mobilenetv1_100.ra4_e3600_r224_in1k); 'best' for the most accurate release of the "
        "model, 'keras' / 'timm' for that source's",
    )
    parser.add_argument("--drop-background", action="store_true",
                        help="with TF-slim weights: drop the background class (1001 -> 1000 outputs)")


def pretrained_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ``create_model`` keyword arguments ``--pretrained`` asks for (none without it)."""
    if not getattr(args, "pretrained", None):
        return {}
    return dict(pretrained=args.pretrained, drop_background=args.drop_background)


def model_from_args(args: argparse.Namespace) -> tuple[nn.Module, str]:
    """Builds the model the arguments describe, and its registry-style name."""
    overrides = {
        key: value
        for key in ("alpha", "resolution", "variant", "num_classes")
        if (value := getattr(args, key, None)) is not None
    }
    weights = pretrained_overrides(args)
    if args.model or weights:
        name = args.model or model_name(overrides.get("alpha", 1.0), overrides.get("resolution", 224))
        return create_model(name, **overrides, **weights), name
    model = mobilenet_v1(**overrides)
    return model, model_name(model.alpha, model.resolution, model.variant)


__all__ = ["add_json_argument", "add_loop_arguments", "add_model_arguments", "add_pretrained_arguments", "data_commands", "emit", "loop_settings", "model_from_args", "pretrained_overrides", "require_for_new_run"]
