"""`mobilenets list` and `mobilenets cost`."""
from __future__ import annotations

import argparse

from ..cost import Cost, count_cost
from ..models import list_models, model_defaults
from .common import add_json_argument, add_model_arguments, emit, model_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("list", help="list the registered model names")
    parser.add_argument("pattern", nargs="?", help="shell-style filter, e.g. 'mobilenet_v1_050_*'")
    add_json_argument(parser)
    parser.set_defaults(handler=run_list)

    parser = subparsers.add_parser("cost", help="mult-adds and parameters, per layer and in total")
    add_model_arguments(parser)
    parser.add_argument("--per-layer", action="store_true", help="print every layer, not only totals")
    add_json_argument(parser)
    parser.set_defaults(handler=run_cost)


def run_list(args: argparse.Namespace) -> int:
    rows = [{"name": name, **model_defaults(name)} for name in list_models(args.pattern)]
    if not rows:
        raise ValueError(f"no model name matches {args.pattern!r}")
    emit(rows, args.json, lambda rows: "\n".join(row["name"] for row in rows))
    return 0


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
    lines.append(f"{name}: {cost.mult_adds:,} mult-adds ({cost.mult_adds / 1e6:.1f}M), {cost.params:,} parameters ({cost.params / 1e6:.2f}M)")
    return "\n".join(lines)
