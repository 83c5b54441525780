"""The user-facing training speed: ``mobilenets train`` with its defaults for this machine against
a plain PyTorch loop (channels_last, fused AdamW, data already in memory as tensors) training
timm's ``mobilenetv1_100`` on the same Fashion-MNIST images at 64 px, in alternating rounds.

Each round runs the command once (one epoch over the first ``--images`` training images, its
own images/s from ``summary.json``: the training epoch only, not start-up or evaluation) and
the plain loop once over the same images; the ratio of each round and their median count.

    python benchmarks/train_command.py [--images 640] [--rounds 3] [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from mobilenets.data.classification import FASHION_MNIST_MEAN, FASHION_MNIST_STD  # noqa: E402
from mobilenets.data.fashion_mnist import fashion_mnist  # noqa: E402
from mobilenets.machine import cpu_flags, cpu_name, native_bf16  # noqa: E402

RESOLUTION, BATCH = 64, 64


def command_images_per_second(images: int, threads: int, run_dir: Path) -> dict:
    """One epoch of ``mobilenets train`` with its defaults; its summary."""
    command = [
        sys.executable,
        "-m",
        "mobilenets",
        "train",
        "--data",
        "fashion-mnist",
        "--resolution",
        str(RESOLUTION),
        "--epochs",
        "1",
        "--limit-train",
        str(images),
        "--limit-val",
        str(BATCH),
        "--seed",
        "0",
        "--out",
        str(run_dir),
        "--force",
        "--json",
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"mobilenets train failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


class PlainLoop:
    """timm's model trained the plain way: images resized once and kept as normalized tensors."""

    def __init__(self, images: int) -> None:
        import timm

        data = fashion_mnist(train=True)
        pixels = data.data[:images, None].float().div(255)
        pixels = F.interpolate(
            pixels,
            size=(RESOLUTION, RESOLUTION),
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )
        self.images = ((pixels - FASHION_MNIST_MEAN[0]) / FASHION_MNIST_STD[0]).contiguous(
            memory_format=torch.channels_last
        )
        self.labels = data.targets[:images].clone()
        torch.manual_seed(0)
        self.model = timm.create_model(
            "mobilenetv1_100", pretrained=False, num_classes=10, in_chans=1
        )
        self.model.to(memory_format=torch.channels_last).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3, fused=True)

    def images_per_second(self) -> float:
        order = torch.randperm(len(self.labels))
        steps = len(order) // BATCH
        start = time.perf_counter()
        for step in range(steps):
            index = order[step * BATCH : (step + 1) * BATCH]
            loss = F.cross_entropy(self.model(self.images[index]), self.labels[index])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        return steps * BATCH / (time.perf_counter() - start)


def measure(args: argparse.Namespace) -> dict:
    import timm

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    plain = PlainLoop(args.images)
    plain.images_per_second()  # warm-up: oneDNN builds its kernels on the first steps
    ours: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for round_index in range(args.rounds):
            summary = command_images_per_second(args.images, args.threads, Path(folder) / "run")
            ours.append(summary["images_per_second"])
            theirs.append(plain.images_per_second())
            print(
                f"round {round_index + 1}/{args.rounds}: mobilenets train {ours[-1]:.1f} img/s "
                f"({summary['precision']}), plain loop {theirs[-1]:.1f} img/s",
                file=sys.stderr,
            )
    ratios = [a / b for a, b in zip(ours, theirs)]
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": cpu_name(),
        "cpu_count": os.cpu_count(),
        "native_bf16": native_bf16(),
        "cpu_flags": cpu_flags(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "threads": args.threads,
        "resolution": RESOLUTION,
        "batch_size": BATCH,
        "images_per_round": args.images,
        "command_precision": summary["precision"],
        "mobilenets_train_images_per_second": statistics.median(ours),
        "mobilenets_train_rounds": ours,
        "plain_timm_images_per_second": statistics.median(theirs),
        "plain_timm_rounds": theirs,
        "ratio": statistics.median(ratios),
        "ratio_min_max": [min(ratios), max(ratios)],
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images", type=int, default=640, help="training images per round (the first N)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.images < BATCH:
        parser.error(f"--images must be at least one batch ({BATCH})")
    result = measure(args)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return
    print(
        f"{result['date']}, {result['machine']}, {args.threads} thread(s), torch "
        f"{result['torch']}, timm {result['timm']}, "
        f"{args.images} Fashion-MNIST images at {RESOLUTION} px, batch {BATCH}, {args.rounds} rounds, load average "
        f"{result['load_average_before'][0]:.1f} -> {result['load_average_after'][0]:.1f}"
    )
    print(
        f"mobilenets train (defaults: {result['command_precision']}, channels_last, rmsprop): "
        f"{result['mobilenets_train_images_per_second']:.1f} img/s {result['mobilenets_train_rounds']}"
    )
    print(
        f"plain loop, timm mobilenetv1_100 (fp32, channels_last, fused AdamW, tensors in memory): "
        f"{result['plain_timm_images_per_second']:.1f} img/s {result['plain_timm_rounds']}"
    )
    print(
        f"ratio {result['ratio']:.2f} (rounds {result['ratio_min_max'][0]:.2f}-{result['ratio_min_max'][1]:.2f})"
    )


if __name__ == "__main__":
    main()
