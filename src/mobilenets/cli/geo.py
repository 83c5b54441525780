"""`mobilenets data make-geo`, `train-geo`, `eval-geo` and `locate`: PlaNet geolocation over S2
cells with a MobileNet (Table 11)."""

from __future__ import annotations

import argparse
from typing import Any

from ..geo.cells import LOCATIONS
from ..geo.distance import SCALES, share_key
from ..geo.evaluation import evaluate
from ..geo.knn import evaluate_knn
from ..geo.predict import predict
from ..geo.synthetic import make_geo
from ..geo.training import DEFAULTS, resume, train
from ..ranges import OPEN_UNIT, POSITIVE, SHARE, count
from ..train.config import BATCH_SIZE, SEED
from .common import (
    LOOP_SETTINGS,
    add_config_arguments,
    add_json_argument,
    add_plot_argument,
    add_run_arguments,
    config_arguments,
    data_commands,
    emit,
    number,
    output_path,
    train_or_resume,
)

AREA = "geo"
# The TrainConfig fields train-geo offers.
SETTINGS = ("alpha", "resolution", *LOOP_SETTINGS, "label_smoothing", "strict")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = data_commands(subparsers).add_parser(
        "make-geo",
        help="real Fashion-MNIST images geotagged near world cities chosen by class (path,lat,lng CSVs)",
    )
    parser.add_argument(
        "--out", type=output_path, required=True, help="the dataset folder to create"
    )
    # Fashion-MNIST holds 70,000 items, each used once.
    parser.add_argument(
        "--images",
        type=number(count(2, 70_000)),
        required=True,
        help="images in all (20%% held out for val), at most 70000",
    )
    parser.add_argument(
        "--second-city",
        type=number(SHARE),
        default=0.3,
        help="share of each class placed at its second city (default 0.3)",
    )
    parser.add_argument("--seed", type=number(SEED), default=0)
    parser.add_argument("--val-fraction", type=number(OPEN_UNIT), default=0.2)
    parser.add_argument("--force", action="store_true", help="replace an existing folder")
    add_json_argument(parser)
    parser.set_defaults(handler=run_make_geo)

    parser = subparsers.add_parser(
        "train-geo", help="train a PlaNet MobileNet over S2 cells on geotagged images"
    )
    parser.add_argument("--data", help="folder with train.csv and val.csv of path,lat,lng rows")
    parser.add_argument(
        "--out",
        type=output_path,
        metavar="RUN_DIR",
        help="run folder (checkpoints, cells.json, metrics.jsonl, summary.json)",
    )
    parser.add_argument(
        "--max-photos",
        type=number(count(1)),
        default=10_000,
        help="split a cell holding more photos (PlaNet's t1, default 10000)",
    )
    parser.add_argument(
        "--min-photos",
        type=number(count(1)),
        default=50,
        help="drop a cell holding fewer photos (PlaNet's t2, default 50)",
    )
    parser.add_argument(
        "--location",
        choices=LOCATIONS,
        default="mean",
        help="a cell's predicted place: its training photos' mean (default) or its centre (PlaNet's)",
    )
    add_run_arguments(parser)
    add_config_arguments(parser, SETTINGS, DEFAULTS)
    add_json_argument(parser)
    parser.set_defaults(handler=run_train)

    parser = subparsers.add_parser(
        "eval-geo", help="Table 11: share of photos within 1/25/200/750/2500 km"
    )
    parser.add_argument(
        "--checkpoint", required=True, help="a checkpoint file or run folder (best.pt)"
    )
    parser.add_argument("--data", help="geotagged folder (default: the data it was trained on)")
    parser.add_argument("--split", default="val", choices=("train", "val"))
    parser.add_argument(
        "--limit-val",
        type=number(count(1)),
        metavar="N",
        help="the first N readable photos of --split",
    )
    parser.add_argument(
        "--location", choices=LOCATIONS, help="override the run's choice of a cell's place"
    )
    parser.add_argument("--batch-size", type=number(BATCH_SIZE), default=64)
    add_plot_argument(parser, "the share within d km over d", "NAME.geo.png")
    parser.add_argument(
        "--baseline",
        choices=("knn",),
        help="knn: Im2GPS's nearest training photos in the network's features, not its cells",
    )
    parser.add_argument(
        "--k",
        type=number(count(1)),
        default=1,
        help="knn: neighbours; the densest of them within --radius-km wins (default 1)",
    )
    parser.add_argument(
        "--radius-km",
        type=number(POSITIVE),
        default=200.0,
        help="knn: how near two neighbours count as one place (default 200)",
    )
    parser.add_argument(
        "--limit-train",
        type=number(count(1)),
        metavar="N",
        help="knn: the first N readable training photos as references",
    )
    add_json_argument(parser)
    parser.set_defaults(handler=run_eval)

    parser = subparsers.add_parser(
        "locate", help="where images were taken: cell, latitude, longitude, probability"
    )
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument(
        "--top-k", type=number(count(1)), default=1, help="the K most likely cells (default 1)"
    )
    add_json_argument(parser)
    parser.set_defaults(handler=run_locate)


def run_make_geo(args: argparse.Namespace) -> int:
    summary = make_geo(
        args.out,
        args.images,
        seed=args.seed,
        val_fraction=args.val_fraction,
        second_city=args.second_city,
        force=args.force,
    )
    emit(
        summary,
        args.json,
        lambda s: (
            f"{s['out']}: {s['train']['images']} train and {s['val']['images']} val images near {s['cities']} cities"
        ),
    )
    return 0


def run_train(args: argparse.Namespace) -> int:
    return train_or_resume(
        args,
        start=lambda **settings: train(
            args.data,
            args.out,
            max_photos=args.max_photos,
            min_photos=args.min_photos,
            location=args.location,
            **settings,
        ),
        resume=resume,
        settings=config_arguments(args, SETTINGS),
        text=format_train,
        needs=("data", "out"),
    )


def format_train(summary: dict[str, Any]) -> str:
    shares = ", ".join(f"{km:g} km {summary[share_key(name)]:.1%}" for name, km in reversed(SCALES))
    return (
        f"{summary['run_dir']}: {summary['epochs']} epochs over {summary['num_cells']} cells; within {shares} "
        f"(best 200 km share {summary['best_within_200km']:.1%} at epoch {summary['best_epoch']})"
    )


def run_eval(args: argparse.Namespace) -> int:
    if args.baseline == "knn":
        result = evaluate_knn(
            args.checkpoint,
            args.data,
            split=args.split,
            limit=args.limit_val,
            limit_train=args.limit_train,
            k=args.k,
            radius_km=args.radius_km,
            batch_size=args.batch_size,
        )
        emit(result, args.json, format_knn)
        return 0
    result = evaluate(
        args.checkpoint,
        args.data,
        split=args.split,
        limit=args.limit_val,
        batch_size=args.batch_size,
        location=args.location,
        plot=args.plot,
        force=args.force,
    )
    emit(result, args.json, format_eval)
    return 0


# Table 11's paper columns, as a result's rows may carry them.
PAPER_COLUMNS = (
    ("paper_im2gps", "Im2GPS (paper)"),
    ("paper_planet_mobilenet", "PlaNet MobileNet (paper)"),
)


def table_11_lines(result: dict[str, Any], ours: str) -> list[str]:
    """Table 11's rows: our share at each scale beside the paper's columns the rows carry."""
    columns = [(key, title) for key, title in PAPER_COLUMNS if key in result["table_11"][0]]
    lines = [f"{'scale':<22} {ours:>10}" + "".join(f" {title:>25}" for _, title in columns)]
    for row in result["table_11"]:
        scale = f"{row['scale'].capitalize()} ({row['km']:g} km)"
        lines.append(
            f"{scale:<22} {row['share']:>10.1%}"
            + "".join(f" {row[key]:>25.1%}" for key, _ in columns)
        )
    return lines


def format_eval(result: dict[str, Any]) -> str:
    lines = table_11_lines(result, "ours")
    lines.append(
        f"{result['images']} {result['split']} photos of {result['data']}, {result['num_cells']} cells: "
        f"cell top-1 {result['cell_top1']:.1%}, median error {result['median_km']:.0f} km "
        f"(the paper's column: Im2GPS's 237 photos, 26,263 cells)"
    )
    if "plot" in result:
        lines.append(f"plot: {result['plot']}")
    return "\n".join(lines)


def format_knn(result: dict[str, Any]) -> str:
    lines = table_11_lines(result, "ours (kNN)")
    lines.append(
        f"{result['images']} {result['split']} photos of {result['data']} placed by their {result['k']} nearest of "
        f"{result['reference_photos']} training photos: median error {result['median_km']:.0f} km"
    )
    return "\n".join(lines)


def run_locate(args: argparse.Namespace) -> int:
    rows = predict(args.checkpoint, args.images, top_k=args.top_k)
    emit(
        rows,
        args.json,
        lambda found: "\n".join(
            f"{row['image']}: "
            + "; ".join(
                f"{top['lat']:.4f}, {top['lng']:.4f} (cell {top['cell']}, p {top['probability']:.3f})"
                for top in row["top"]
            )
            for row in found
        ),
    )
    return 0
