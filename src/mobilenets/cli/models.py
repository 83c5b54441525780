"""`mobilenets list` and `mobilenets cost`."""

from __future__ import annotations

import argparse
import fnmatch

from ..cost import PARAMETERS_COUNTED, Cost, count_cost
from ..models import list_models, model_defaults
from ..weights import list_releases
from ..weights.releases import FORMAT_EXTRA
from .common import add_json_argument, add_model_arguments, emit, model_from_args

AREA = "models and cost"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "list", help="list the registered model names (--weights: the released weights)"
    )
    parser.add_argument(
        "pattern",
        nargs="?",
        help="shell-style filter, e.g. 'mobilenet_v1_050_*' (with --weights: "
        "on the weights' or the model's name, e.g. 'timm:*')",
    )
    parser.add_argument(
        "--weights",
        action="store_true",
        help="list every released weight set this package loads: "
        "model, source, published ImageNet accuracy and its source, licence",
    )
    add_json_argument(parser)
    parser.set_defaults(handler=run_list)

    parser = subparsers.add_parser("cost", help="mult-adds and parameters, per layer and in total")
    add_model_arguments(parser)
    parser.add_argument(
        "--per-layer", action="store_true", help="print every layer, not only totals"
    )
    add_json_argument(parser)
    parser.set_defaults(handler=run_cost)


def run_list(args: argparse.Namespace) -> int:
    if args.weights:
        return run_list_weights(args)
    rows = [{"name": name, **model_defaults(name)} for name in list_models(args.pattern)]
    if not rows:
        raise ValueError(f"no model name matches {args.pattern!r}")
    emit(rows, args.json, lambda rows: "\n".join(row["name"] for row in rows))
    return 0


def run_list_weights(args: argparse.Namespace) -> int:
    releases = [
        release
        for release in list_releases()
        if args.pattern is None
        or fnmatch.fnmatch(release.name, args.pattern)
        or fnmatch.fnmatch(release.model, args.pattern)
    ]
    if not releases:
        raise ValueError(f"no released weights match {args.pattern!r}")
    emit([release.to_dict() for release in releases], args.json, format_releases)
    return 0


def format_releases(rows: list[dict]) -> str:
    """One line per release: name, model, published top-1/top-5, source and licence, whether it
    can be loaded here (or what it needs), and a star on what ``pretrained=True`` picks."""

    def score(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    def status(row: dict) -> str:
        if not row["downloadable"]:
            return "local copy only"
        return "" if row["available"] else f"needs mobilenets[{FORMAT_EXTRA[row['format']]}]"

    width = max(len(row["name"]) for row in rows)
    lines = [
        f"  {'weights':<{width}}  {'model':<22} {'top-1':>5} {'top-5':>5}  {'licence':<10} source"
    ]
    for row in rows:
        lines.append(
            f"{'*' if row['default'] else ' '} {row['name']:<{width}}  {row['model']:<22} "
            f"{score(row['top1']):>5} {score(row['top5']):>5}  "
            f"{row['license']:<10} {row['source']}" + (f" [{status(row)}]" if status(row) else "")
        )
    sources = sorted({row["accuracy_source"] for row in rows})
    lines.append(
        "* what pretrained=True (--pretrained best) loads for the model here; accuracy: "
        + "; ".join(sources)
    )
    return "\n".join(lines)


def run_cost(args: argparse.Namespace) -> int:
    model, name = model_from_args(args)
    # Detectors take a list of images, not one tensor: they say what to feed them.
    example = model.example_input() if hasattr(model, "example_input") else None
    cost = count_cost(model, example=example)
    result = {
        "model": name,
        "alpha": model.config["alpha"],
        "resolution": model.config["resolution"],
        "variant": model.config["variant"],
        "num_classes": model.config["num_classes"],
        **cost.to_dict(),
    }
    emit(result, args.json, lambda _: format_cost(name, cost, args.per_layer))
    return 0


def format_cost(name: str, cost: Cost, per_layer: bool) -> str:
    """A readable cost table: per layer (optionally), by layer type, and the totals."""
    lines = []
    if per_layer:
        header = f"{'layer':<38} {'type':<16} {'s':>3} {'filter':<18} {'input':<14} {'M mult-adds':>12} {'params':>10}"
        lines += [header, "-" * len(header)]
        for row in cost.layers:
            stride = str(row.stride[0]) if row.stride else ""
            shape = "x".join(map(str, row.filter_shape)) if row.filter_shape else ""
            size = "x".join(map(str, row.input_size))
            lines.append(
                f"{row.name:<38} {row.type:<16} {stride:>3} {shape:<18} {size:<14} "
                f"{row.mult_adds / 1e6:>12.3f} {row.params:>10,}"
            )
        lines.append("")
    lines.append(f"{'type':<18} {'mult-adds':>10} {'share':>7} {'params':>11} {'share':>7}")
    for kind, entry in sorted(cost.by_type.items(), key=lambda item: -item[1]["mult_adds"]):
        lines.append(
            f"{kind:<18} {entry['mult_adds'] / 1e6:>9.2f}M {100 * entry['mult_adds'] / max(cost.mult_adds, 1):>6.2f}% "
            f"{entry['params']:>11,} {100 * entry['params'] / max(cost.params, 1):>6.2f}%"
        )
    lines.append(
        f"{name}: {cost.mult_adds:,} mult-adds ({cost.mult_adds / 1e6:.1f}M), "
        f"{cost.params:,} parameters ({cost.params / 1e6:.2f}M; {PARAMETERS_COUNTED})"
    )
    return "\n".join(lines)
