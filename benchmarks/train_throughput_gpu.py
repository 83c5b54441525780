"""The GPU training table for a lent device, in under 5 minutes: this project's MobileNet against
timm's ``mobilenetv1_100`` with AMP (bf16, or fp16 with loss scaling) and channels_last, on
whatever CUDA GPU it finds; writes the table (markdown) and its JSON.

    python benchmarks/train_throughput_gpu.py [--out train_throughput_gpu.md] [--force] [--compile] [...]

The same measurement as ``train_throughput.py`` (its options apply) with GPU-sized defaults:
batch 128 at 224 px and 256 at 128 px, 10 steps a round, 4 minutes of rounds at most.
Without a CUDA device it says so on stderr and exits with status 2.
"""

from __future__ import annotations

import os

from train_throughput import main

if __name__ == "__main__":
    main(
        device="cuda",
        sizes=[(224, 128), (128, 256)],
        steps=10,
        rounds=7,
        warmup=3,
        max_seconds=240.0,
        out=os.environ.get("OUT", ".") + "/train_throughput_gpu.md",
        threads=os.cpu_count() or 1,
    )
