"""Transfer to a small fine-grained set (the recipe of the paper's Table 10: pretrain on plenty of
data, then fine-tune on few labelled images), on real Fashion-MNIST: a MobileNet pretrained on
the five garment classes 0-4 (T-shirt, trouser, pullover, dress, coat) is fine-tuned on 20 images
per class of the other five (sandal, shirt, sneaker, bag, ankle boot) and compared with the same
network trained on those images from scratch. All three runs use `mobilenets.train.loop.fit`,
the same code as `mobilenets train [--init CHECKPOINT] [--freeze-backbone]`.

    python benchmarks/transfer.py [--per-class 20] [--source-images 15000] [--out runs/transfer]

Prints one JSON document: settings, wall times and the target test top-1 of each run, measured
on the 5,000 test images of the target classes with each run's last checkpoint (no selection on
the test images).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import torch

from mobilenets.classification import fit
from mobilenets.classification.evaluation import evaluate_checkpoint
from mobilenets.data import fashion_mnist
from mobilenets.machine import cpu_name
from mobilenets.train.config import TrainConfig

SOURCE, TARGET = (0, 1, 2, 3, 4), (5, 6, 7, 8, 9)


def write_split(
    root: Path, name: str, train: bool, classes: tuple[int, ...], limit_per_class: int | None
) -> int:
    """Fashion-MNIST images of ``classes`` as PNG files and a ``path,label`` manifest (label =
    the class name), at most ``limit_per_class`` of each, in the dataset's order."""
    dataset = fashion_mnist(train=train)
    folder = root / f"{name}_images"
    folder.mkdir(parents=True, exist_ok=True)
    taken = dict.fromkeys(classes, 0)
    with open(root / f"{name}.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        for index, label in enumerate(dataset.targets.tolist()):
            if label in taken and (limit_per_class is None or taken[label] < limit_per_class):
                dataset[index][0].save(folder / f"{index}.png")
                writer.writerow([f"{name}_images/{index}.png", dataset.classes[label]])
                taken[label] += 1
    return sum(taken.values())


def run(config: TrainConfig, test: str) -> dict[str, float]:
    start = time.perf_counter()
    summary = fit(config, force=True)
    seconds = time.perf_counter() - start
    result = evaluate_checkpoint(Path(config.out) / "last.pt", test)
    return {
        "test_top1": result["top1"],
        "test_images": result["images"],
        "seconds": round(seconds, 1),
        "images_per_second": round(summary["images_per_second"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/transfer")
    parser.add_argument(
        "--per-class", type=int, default=20, help="labelled target images per class"
    )
    parser.add_argument(
        "--source-images", type=int, default=15000, help="pretraining images (classes 0-4)"
    )
    parser.add_argument("--source-epochs", type=int, default=3)
    parser.add_argument("--target-epochs", type=int, default=30)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    source, target = out / "source_data", out / "target_data"
    sizes = {
        "source_train": write_split(
            source, "train", True, SOURCE, args.source_images // len(SOURCE)
        ),
        "source_val": write_split(source, "val", False, SOURCE, 200),
        "target_train": write_split(target, "train", True, TARGET, args.per_class),
        "target_test": write_split(target, "val", False, TARGET, None),
    }
    common = dict(
        alpha=args.alpha,
        resolution=32,
        in_channels=1,
        optimizer="adamw",
        weight_decay=1e-4,
        schedule="cosine",
        seed=0,
        augment=False,
        cache=True,
        batch_size=50,
    )
    source_data, target_data = (
        f"{source}/train.csv,{source}/val.csv",
        f"{target}/train.csv,{target}/val.csv",
    )
    results = {
        "pretrain": run(
            TrainConfig(
                out=str(out / "pretrain"),
                data=source_data,
                epochs=args.source_epochs,
                lr=3e-3,
                **common,
            ),
            source_data,
        )
    }
    # Few images: the validation split during fine-tuning is a small part of the test split,
    # only for the progress line; the reported figure is the last checkpoint on all of it.
    target_run = dict(data=target_data, epochs=args.target_epochs, limit_val=500, **common)
    init = str(out / "pretrain" / "last.pt")
    results["scratch"] = run(
        TrainConfig(out=str(out / "scratch"), lr=3e-3, **target_run), target_data
    )
    results["fine_tune"] = run(
        TrainConfig(out=str(out / "fine_tune"), lr=1e-3, init=init, **target_run), target_data
    )
    results["classifier_only"] = run(
        TrainConfig(
            out=str(out / "classifier_only"),
            lr=1e-2,
            init=init,
            freeze_backbone=True,
            freeze_bn=True,
            **target_run,
        ),
        target_data,
    )
    print(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "machine": cpu_name(),
                "threads": args.threads,
                "alpha": args.alpha,
                "resolution": 32,
                "images": sizes,
                "source_epochs": args.source_epochs,
                "target_epochs": args.target_epochs,
                "results": results,
                "fine_tune_over_scratch": round(
                    results["fine_tune"]["test_top1"] - results["scratch"]["test_top1"], 4
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
