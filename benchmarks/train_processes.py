"""One training process of one thread against two under torchrun (DistributedDataParallel, gloo),
one thread each, on the demo's recipe (0.5 MobileNet at 32 px on Fashion-MNIST, AdamW, cached
un-augmented images), in alternating rounds; each run's own training images/s (summary.json)
and the per-round ratio.

    python benchmarks/train_processes.py [--images 9600] [--rounds 2] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from mobilenets.machine import cpu_name  # noqa: E402

RECIPE = ("--data", "fashion-mnist", "--alpha", "0.5", "--resolution", "32", "--epochs", "1", "--batch-size", "64",
          "--optimizer", "adamw", "--lr", "0.003", "--schedule", "cosine", "--no-augment", "--cache", "--seed", "0")


def images_per_second(processes: int, images: int, run_dir: Path) -> float:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"] if processes > 1 else [sys.executable]
    command = [*launcher, "-m", "mobilenets", "train", *RECIPE, "--limit-train", str(images), "--limit-val", "640",
               "--out", str(run_dir), "--force"]
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"training with {processes} process(es) failed:\n{done.stderr[-2000:]}")
    return json.loads((run_dir / "summary.json").read_text())["images_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=9600)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    load_before = os.getloadavg()
    speeds: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as folder:
        for round_index in range(args.rounds):
            for processes in speeds:
                speeds[processes].append(images_per_second(processes, args.images, Path(folder) / f"run{processes}"))
                print(f"round {round_index + 1}: {processes} process(es) {speeds[processes][-1]:.0f} img/s", file=sys.stderr)
    ratios = [two / one for one, two in zip(speeds[1], speeds[2])]
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": cpu_name(), "cpu_count": os.cpu_count(),
        "images": args.images, "one_process": speeds[1], "two_processes": speeds[2],
        "ratio": statistics.median(ratios), "load_average_before": load_before, "load_average_after": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['date']}, {result['machine']} ({result['cpu_count']} CPUs), {args.images} images a run, load average "
          f"{load_before[0]:.1f} -> {result['load_average_after'][0]:.1f}")
    print(f"1 process x 1 thread: {statistics.median(speeds[1]):.0f} img/s {[round(s) for s in speeds[1]]}")
    print(f"2 processes x 1 thread (torchrun, gloo): {statistics.median(speeds[2]):.0f} img/s {[round(s) for s in speeds[2]]}")
    print(f"ratio {result['ratio']:.2f}")


if __name__ == "__main__":
    main()
