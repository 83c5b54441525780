"""`mobilenets serve` under a bounded load on loopback: 200 predictions, 20 at a time, against
the server process (its default queue of 8), twice; prints answered, refused, p50 and p95
latency of the answered ones, and the server's resident memory (peak, and after each round:
it stays bounded when the second round does not raise it).

    python benchmarks/serve_load.py [--checkpoint RUN] [--requests 200] [--concurrency 20]

Without --checkpoint a 0.25 MobileNet at 32 px is trained for one epoch on 8,000
Fashion-MNIST images (about 20 s) into a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from mobilenets.data.fashion_mnist import fashion_mnist
from mobilenets.machine import cpu_name
from mobilenets.serve.load import hammer


def tiny_checkpoint(folder: Path) -> Path:
    from mobilenets.classification import fit
    from mobilenets.train.config import TrainConfig

    settings = dict(alpha=0.25, resolution=32, epochs=1, batch_size=64, optimizer="sgd", lr=0.1)
    settings.update(limit_train=8000, limit_val=500, augment=False, cache=True, seed=0)
    fit(TrainConfig(out=str(folder), data="fashion-mnist", workers=0, **settings), progress=False)
    return folder


def memory_kb(pid: int) -> dict[str, int]:
    """The process's resident memory now (VmRSS) and at its peak (VmHWM), in kB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = args.checkpoint or str(tiny_checkpoint(Path(scratch) / "run"))
        photo = Path(scratch) / "photo.png"
        fashion_mnist(train=False)[0][0].resize((112, 112)).save(photo)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        command = [sys.executable, "-m", "mobilenets", "serve", "--checkpoint", checkpoint]
        server = subprocess.Popen([*command, "--port", str(port)], env={**os.environ})
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    httpx.get(f"{url}/api/models", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            hammer(url, photo, total=5, concurrency=1)  # loads the model: warm
            rounds = [{"round": "warm", **memory_kb(server.pid)}]
            for name in ("first", "second"):
                result = hammer(url, photo, total=args.requests, concurrency=args.concurrency)
                rounds.append({"round": name, **result, **memory_kb(server.pid)})
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        json.dumps(
            {"cpu": cpu_name(), "threads": os.environ.get("OMP_NUM_THREADS"), "rounds": rounds},
            indent=2,
        )
    )
    print("| round | answered | refused | errors | p50 ms | p95 ms | RSS MB | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rounds:
        cells = [row.get(key, "") for key in ("answered", "refused")]
        cells += [
            len(row["errors"]) if "errors" in row else "",
            row.get("p50_ms", ""),
            row.get("p95_ms", ""),
        ]
        print(
            f"| {row['round']} | "
            + " | ".join(str(cell) for cell in cells)
            + f" | {row['VmRSS'] / 1024:.0f} | {row['VmHWM'] / 1024:.0f} |"
        )


if __name__ == "__main__":
    main()
