"""Ways to spend the machine's cores on one training run: one process of one thread (the demo's
choice), one process with a thread per core, and one process of one thread per core under
torchrun (DistributedDataParallel, gloo), on the demo's recipe (0.5 MobileNet at 32 px on
Fashion-MNIST, AdamW, cached un-augmented images), in rotating rounds; each run's own training
images/s (summary.json, all processes together) and the per-round ratios to one process of one
thread.

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

RECIPE = (
    "--data",
    "fashion-mnist",
    "--alpha",
    "0.5",
    "--resolution",
    "32",
    "--epochs",
    "1",
    "--batch-size",
    "64",
    "--optimizer",
    "adamw",
    "--lr",
    "0.003",
    "--schedule",
    "cosine",
    "--no-augment",
    "--cache",
    "--seed",
    "0",
)


def images_per_second(processes: int, threads: int, images: int, run_dir: Path) -> float:
    launcher = (
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={processes}",
        ]
        if processes > 1
        else [sys.executable]
    )
    command = [
        *launcher,
        "-m",
        "mobilenets",
        "train",
        *RECIPE,
        "--limit-train",
        str(images),
        "--limit-val",
        "640",
        "--out",
        str(run_dir),
        "--force",
    ]
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT / "src")}
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
    cores = os.cpu_count() or 1
    layouts = {
        "1 process x 1 thread": (1, 1),
        f"1 process x {cores} threads": (1, cores),
        f"{cores} processes x 1 thread (torchrun, gloo)": (cores, 1),
    }
    load_before = os.getloadavg()
    speeds: dict[str, list[float]] = {name: [] for name in layouts}
    with tempfile.TemporaryDirectory() as folder:
        for round_index in range(args.rounds):
            names = (
                list(layouts)[round_index % len(layouts) :]
                + list(layouts)[: round_index % len(layouts)]
            )
            for name in names:
                speeds[name].append(
                    images_per_second(*layouts[name], args.images, Path(folder) / "run")
                )
                print(
                    f"round {round_index + 1}: {name}: {speeds[name][-1]:.0f} img/s",
                    file=sys.stderr,
                )
    single = speeds["1 process x 1 thread"]
    ratios = {
        name: statistics.median(value / one for value, one in zip(values, single))
        for name, values in speeds.items()
    }
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": cpu_name(),
        "cpu_count": cores,
        "images": args.images,
        "images_per_second": speeds,
        "ratio_to_one_thread": ratios,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{result['date']}, {result['machine']} ({cores} CPUs), {args.images} images a run, load average "
        f"{load_before[0]:.1f} -> {result['load_average_after'][0]:.1f}"
    )
    print("| layout | img/s, median (runs) | ratio to 1 x 1 |\n|---|---|---:|")
    for name, values in speeds.items():
        print(
            f"| {name} | {statistics.median(values):.0f} "
            f"({', '.join(str(round(v)) for v in values)}) | {ratios[name]:.2f} |"
        )


if __name__ == "__main__":
    main()
