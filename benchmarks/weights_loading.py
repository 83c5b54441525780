"""Time to a ready model from timm's released MobileNet v1 weights on disk: this project's
``create_model(name, pretrained=FOLDER)`` (safetensors, key mapping, shape checks) against
timm's own ``create_model(..., pretrained=True, pretrained_cfg_overlay={"file": ...})`` on the
same file, in one run. The file is written by timm (random weights, as the Hub's layout);
rounds alternate the two so that load from other processes hits both alike; medians count.

    python benchmarks/weights_loading.py [--architecture mobilenetv1_100] [--rounds 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import timm
import torch
from timm.models import save_for_hf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import mobilenets  # noqa: E402
from mobilenets.machine import cpu_name  # noqa: E402

NAMES = {
    "mobilenetv1_100": "mobilenet_v1_100_224",
    "mobilenetv1_125": "mobilenet_v1_125_224",
    "mobilenetv1_100h": "mobilenet_v1_100h_224",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", choices=sorted(NAMES), default="mobilenetv1_100")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        save_for_hf(timm.create_model(args.architecture), folder, safe_serialization=True)
        weights = str(Path(folder) / "model.safetensors")
        loaders = {
            "mobilenets": lambda: mobilenets.create_model(
                NAMES[args.architecture], pretrained=folder
            ),
            "timm": lambda: timm.create_model(
                args.architecture, pretrained=True, pretrained_cfg_overlay={"file": weights}
            ),
        }
        x = torch.randn(1, 3, 224, 224)
        with torch.no_grad():
            same = torch.equal(loaders["mobilenets"]().eval()(x), loaders["timm"]().eval()(x))
        times: dict[str, list[float]] = {name: [] for name in loaders}
        for _ in range(args.rounds):
            for name, load in loaders.items():
                start = time.perf_counter()
                load()
                times[name].append(1000 * (time.perf_counter() - start))
    medians = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": cpu_name(),
        "threads": args.threads,
        "torch": torch.__version__,
        "timm": timm.__version__,
        "architecture": args.architecture,
        "rounds": args.rounds,
        "median_ms": medians,
        "ratio_mobilenets_to_timm": medians["mobilenets"] / medians["timm"],
        "same_logits": same,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{args.architecture} from timm's safetensors file, median of {args.rounds} ({args.threads} thread(s)): "
            f"mobilenets {medians['mobilenets']:.1f} ms, timm {medians['timm']:.1f} ms, "
            f"ratio {result['ratio_mobilenets_to_timm']:.2f}; same logits: {same}"
        )


if __name__ == "__main__":
    main()
