"""Shows that SSD 300 MobileNet (alpha 0.5) learns on the built-in detection data: generated
Fashion-MNIST canvases, trained from scratch on 2 CPU threads for a bounded number of epochs
by the project's training loop, scored by COCO mAP on the held-out split.

    python benchmarks/detection_learns.py [--epochs 3] [--images 750] [--out runs/detection_learns]

Prints one JSON document: the commands' settings, the wall time and mAP / mAP@.5 / per-class AP.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from mobilenets.data.coco import coco_split, collate_detection, detection_transforms, open_coco
from mobilenets.detection.evaluate import evaluate_detector
from mobilenets.detection.synthetic import make_detection
from mobilenets.detection.training import load_detector, train_detector
from mobilenets.machine import cpu_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/detection_learns")
    parser.add_argument("--images", type=int, default=750, help="generated canvases, 20%% held out")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    data, run = out / "data", out / "run"
    if not data.exists():
        make_detection(data, args.images, seed=0)
    start = time.perf_counter()
    # No augmentation: in this few-epoch budget every canvas is new to the model anyway.
    summary = train_detector(
        "ssd300",
        data,
        run,
        alpha=args.alpha,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer="adamw",
        lr=args.lr,
        weight_decay=1e-4,
        schedule="cosine",
        augment=False,
        seed=0,
        force=True,
    )
    train_seconds = time.perf_counter() - start
    model, _ = load_detector(run / "best.pt")
    val = open_coco(*coco_split(data, "val"), detection_transforms(None, False), skip_empty=False)
    loader = DataLoader(val.dataset, batch_size=16, collate_fn=collate_detection)
    result = evaluate_detector(model, loader, val.coco)
    print(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "machine": cpu_name(),
                "threads": args.threads,
                "arch": "ssd300_mobilenet_v1",
                "alpha": args.alpha,
                "epochs": args.epochs,
                "train_images": summary["data_train"]["images"],
                "val_images": len(val.dataset),
                "train_seconds": round(train_seconds, 1),
                "best_epoch": summary["best_epoch"],
                **result,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
