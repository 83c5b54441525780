"""Training images/s of this project's MobileNet against timm's ``mobilenetv1_100`` (the same
architecture), in one run: the same loop, batch, resolution, optimizer and threads.

Rounds alternate the two models so that load from other processes hits both alike; the median
round counts. Memory formats, bf16 autocast (and optionally torch.compile) are measured side by side: the
ratio is the project's claim, the settings decide the training loop's CPU defaults.

    python benchmarks/train_throughput.py [--resolution 128] [--batch-size 16] [--threads 2] [--compile] [--json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from mobilenets.machine import cpu_name  # noqa: E402
from mobilenets.models import mobilenet_v1  # noqa: E402
from mobilenets.train.optim import build_optimizer  # noqa: E402


def build(which: str, resolution: int) -> torch.nn.Module:
    if which == "mobilenets":
        return mobilenet_v1(alpha=1.0, resolution=resolution, num_classes=1000)
    import timm

    return timm.create_model("mobilenetv1_100", pretrained=False, num_classes=1000)


class Trainer:
    """One model's training step (forward, cross-entropy, backward, optimizer step)."""

    def __init__(
        self, which: str, resolution: int, batch: int, optimizer: str, channels_last: bool, compiled: bool, bf16: bool
    ) -> None:
        torch.manual_seed(0)
        self.model = build(which, resolution).train()
        self.format = torch.channels_last if channels_last else torch.contiguous_format
        self.model.to(memory_format=self.format)
        self.optimizer = build_optimizer(self.model, optimizer, lr=1e-3, weight_decay=4e-5)
        self.forward = torch.compile(self.model) if compiled else self.model
        self.images = torch.randn(batch, 3, resolution, resolution).contiguous(memory_format=self.format)
        self.labels = torch.randint(0, 1000, (batch,))
        self.bf16 = bf16

    def step(self) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            loss = F.cross_entropy(self.forward(self.images), self.labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def images_per_second(self, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        return steps * self.images.shape[0] / (time.perf_counter() - start)


def measure(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    # (name, channels_last, torch.compile, bf16 autocast)
    settings = [("contiguous", False, False, False), ("channels_last", True, False, False), ("bf16_autocast", False, False, True)]
    if args.compile:
        settings += [("compiled", False, True, False), ("compiled+channels_last", True, True, False)]
    rows = []
    for name, channels_last, compiled, bf16 in settings:
        trainers = {
            which: Trainer(which, args.resolution, args.batch_size, args.optimizer, channels_last, compiled, bf16)
            for which in ("mobilenets", "timm")
        }
        for trainer in trainers.values():
            for _ in range(args.warmup):
                trainer.step()
        rounds: dict[str, list[float]] = {which: [] for which in trainers}
        for _ in range(args.rounds):
            for which, trainer in trainers.items():
                rounds[which].append(trainer.images_per_second(args.steps))
        ours, theirs = statistics.median(rounds["mobilenets"]), statistics.median(rounds["timm"])
        params = {which: sum(p.numel() for p in t.model.parameters()) for which, t in trainers.items()}
        rows.append({
            "setting": name, "mobilenets_images_per_second": ours, "timm_images_per_second": theirs,
            "ratio": ours / theirs, "mobilenets_params": params["mobilenets"], "timm_params": params["timm"],
            "rounds": rounds,
        })
        print(f"{name}: mobilenets {ours:.1f} img/s, timm {theirs:.1f} img/s, ratio {ours / theirs:.3f}", file=sys.stderr)
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": cpu_name(),
        "torch": torch.__version__,
        "threads": args.threads,
        "resolution": args.resolution,
        "batch_size": args.batch_size,
        "optimizer": args.optimizer,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "results": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--optimizer", default="rmsprop", choices=("rmsprop", "sgd", "adamw"))
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (slow to compile)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return
    print(f"{result['date']}, {result['machine']}, torch {result['torch']}, {args.threads} threads, "
          f"batch {args.batch_size} at {args.resolution} px, {args.optimizer}")
    print(f"{'setting':<24} {'mobilenets img/s':>17} {'timm img/s':>11} {'ratio':>7}")
    for row in result["results"]:
        print(f"{row['setting']:<24} {row['mobilenets_images_per_second']:>17.1f} {row['timm_images_per_second']:>11.1f} {row['ratio']:>7.3f}")


if __name__ == "__main__":
    main()
