"""`mobilenets data make-detection`, `train-detector`, `eval-detector`, `detect` and
`export-detector`: SSD and Faster R-CNN on MobileNet v1 (Table 13)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from ..deploy.mobile import MOBILE_FORMATS, export_mobile, mobile_runner
from ..detection.evaluation import evaluate, load
from ..detection.export import decoded_ssd, export_onnx
from ..detection.predict import predict
from ..detection.synthetic import make_detection
from ..detection.training import ARCHS, DEFAULTS, resume, train
from ..ranges import OPEN_UNIT, SHARE, count
from ..train.config import BATCH_SIZE, SEED
from .common import (
    LOOP_SETTINGS,
    add_config_arguments,
    add_json_argument,
    add_run_arguments,
    config_arguments,
    data_commands,
    emit,
    number,
    output_path,
    train_or_resume,
)

AREA = "detection"
# The TrainConfig fields train-detector offers (the detector names its resolution).
SETTINGS = ("alpha", *LOOP_SETTINGS)
# Each canvas is a 300x300 PNG written to disk; a million is tens of GB.
CANVASES = count(2, 1_000_000)

DETECTOR_FORMATS = ("onnx", *MOBILE_FORMATS)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = data_commands(subparsers).add_parser(
        "make-detection",
        help="Fashion-MNIST items pasted on 300x300 canvases, as a COCO-format dataset",
    )
    parser.add_argument(
        "--out", type=output_path, required=True, help="the dataset folder to create"
    )
    parser.add_argument(
        "--images",
        type=number(CANVASES),
        required=True,
        help="canvases in all (20%% held out for val)",
    )
    parser.add_argument("--seed", type=number(SEED), default=0)
    parser.add_argument("--val-fraction", type=number(OPEN_UNIT), default=0.2)
    parser.add_argument("--force", action="store_true", help="replace an existing folder")
    add_json_argument(parser)
    parser.set_defaults(handler=run_make_detection)

    parser = subparsers.add_parser(
        "train-detector", help="train SSD / Faster R-CNN MobileNet on a COCO-format folder"
    )
    parser.add_argument("--arch", choices=ARCHS)
    parser.add_argument(
        "--data", help="COCO-layout folder: train/, val/, annotations/instances_*.json"
    )
    parser.add_argument(
        "--out",
        type=output_path,
        metavar="RUN_DIR",
        help="run folder (checkpoints, metrics.jsonl, summary.json)",
    )
    parser.add_argument(
        "--init",
        dest="backbone_init",
        metavar="CHECKPOINT",
        help="start the MobileNet body from a classification checkpoint",
    )
    add_run_arguments(parser)
    add_config_arguments(parser, SETTINGS, DEFAULTS)
    add_json_argument(parser)
    parser.set_defaults(handler=run_train)

    parser = subparsers.add_parser(
        "eval-detector", help="COCO mAP@[.5:.95], mAP@.5 and per-class AP (pycocotools)"
    )
    parser.add_argument(
        "--checkpoint", required=True, help="a checkpoint file or run folder (best.pt)"
    )
    parser.add_argument("--data", required=True, help="COCO-layout folder")
    parser.add_argument("--split", default="val")
    parser.add_argument(
        "--limit-val", type=number(count(1)), metavar="N", help="the first N images of --split"
    )
    parser.add_argument("--batch-size", type=number(BATCH_SIZE), default=16)
    add_json_argument(parser)
    parser.set_defaults(handler=run_eval)

    parser = subparsers.add_parser(
        "detect", help="draw a detector's boxes, labels and scores on images"
    )
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--out", type=output_path, required=True, help="folder for the drawn PNGs")
    parser.add_argument("--score-thresh", type=number(SHARE), default=0.5)
    parser.add_argument(
        "--force", action="store_true", help="overwrite drawn images already in --out"
    )
    add_json_argument(parser)
    parser.set_defaults(handler=run_detect)

    parser = subparsers.add_parser(
        "export-detector",
        help="SSD to ONNX, ExecuTorch or LiteRT with box decoding in the graph (NMS outside)",
    )
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument(
        "--format",
        choices=DETECTOR_FORMATS,
        default="onnx",
        help="onnx (dynamic batch, default), executorch or tflite (batch 1)",
    )
    parser.add_argument("--out", type=output_path, required=True, help="the file to write")
    parser.add_argument("--force", action="store_true")
    add_json_argument(parser)
    parser.set_defaults(handler=run_export)


def run_make_detection(args: argparse.Namespace) -> int:
    summary = make_detection(
        args.out, args.images, seed=args.seed, val_fraction=args.val_fraction, force=args.force
    )
    emit(
        summary,
        args.json,
        lambda s: (
            f"{s['out']}: {s['train']['images']} train images ({s['train']['boxes']} boxes), "
            f"{s['val']['images']} val images ({s['val']['boxes']} boxes), {s['categories']} categories"
        ),
    )
    return 0


def run_train(args: argparse.Namespace) -> int:
    return train_or_resume(
        args,
        start=lambda **settings: train(
            args.arch, args.data, args.out, backbone_init=args.backbone_init, **settings
        ),
        resume=resume,
        settings=config_arguments(args, SETTINGS),
        text=lambda s: (
            f"{s['run_dir']}: {s['epochs']} epochs, mAP {s['map']:.3f}, mAP@.5 {s['map_50']:.3f} "
            f"(best mAP {s['best_map']:.3f} at epoch {s['best_epoch']})"
        ),
        needs=("arch", "data", "out"),
    )


def run_eval(args: argparse.Namespace) -> int:
    emit(
        evaluate(
            args.checkpoint,
            args.data,
            split=args.split,
            limit=args.limit_val,
            batch_size=args.batch_size,
        ),
        args.json,
        format_eval,
    )
    return 0


def format_eval(result: dict[str, Any]) -> str:
    lines = [
        f"{name:<24} {'-' if ap is None else f'{ap:.3f}':>6}"
        for name, ap in result["per_class"].items()
    ]
    lines.append(
        f"{result['images']} images: mAP@[.5:.95] {result['map']:.3f}, mAP@.5 {result['map_50']:.3f}"
    )
    return "\n".join(lines)


def run_detect(args: argparse.Namespace) -> int:
    results = predict(
        args.checkpoint, args.images, args.out, score_thresh=args.score_thresh, force=args.force
    )
    emit(
        results,
        args.json,
        lambda rows: "\n".join(
            f"{row['image']}: {len(row['detections'])} detections -> {row['output']}"
            for row in rows
        ),
    )
    return 0


def run_export(args: argparse.Namespace) -> int:
    model, _ = load(args.checkpoint)
    batch = "batch" if args.format == "onnx" else 1
    if args.format == "onnx":
        path = export_onnx(model, args.out, force=args.force)
    else:
        path = export_mobile(
            decoded_ssd(model),
            args.out,
            args.format,
            example=torch.rand(1, 3, *model.transform.fixed_size),
            force=args.force,
        )
    result = {
        "path": str(path),
        "format": args.format,
        "inputs": {"images": [batch, 3, *model.transform.fixed_size]},
        "outputs": {
            "boxes": [batch, "boxes", 4],
            "scores": [batch, "boxes", model.config["num_classes"]],
        },
    }
    if args.format != "onnx":
        result.update(verify_mobile_detector(model, path, args.format))
    emit(
        result,
        args.json,
        lambda r: (
            f"wrote {r['path']} (images -> decoded boxes and class scores; NMS outside)"
            + (
                "; on 2 random images, max abs difference from PyTorch: boxes "
                f"{r['max_abs_diff_boxes']:.3g} px, scores {r['max_abs_diff_scores']:.3g}"
                if "max_abs_diff_boxes" in r
                else ""
            )
        ),
    )
    return 0


def verify_mobile_detector(model: torch.nn.Module, path: Path, format: str) -> dict[str, float]:
    """The file run in its own runtime on two random images against the PyTorch detector's
    decoded boxes (pixels) and scores."""
    images = torch.rand(
        2, 3, *model.transform.fixed_size, generator=torch.Generator().manual_seed(0)
    )
    with torch.inference_mode():
        expected = [output.numpy() for output in decoded_ssd(model)(images)]
    with mobile_runner(path, format) as run:
        boxes, scores = run(images)
    return {
        "max_abs_diff_boxes": float(abs(boxes - expected[0]).max()),
        "max_abs_diff_scores": float(abs(scores - expected[1]).max()),
    }
