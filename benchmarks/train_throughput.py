"""Training images/s of this project's MobileNet against timm's ``mobilenetv1_100`` (the same
architecture) trained by the same loop, in one run, on the machine at hand (CPU or CUDA). On CPU,
ours trains with the speed-ups ``mobilenets train`` swaps in (``train/cpu_speedups.py``).

Every setting (memory format, autocast, optionally torch.compile) of both models is built
first; then each round times a few steps of every one of them, in a rotating order, so that
load from other processes hits all settings alike. Reported per setting: the median images/s
of each side over the rounds with their spread (min-max), and the median of the per-round
ratios (ours / timm in the same round). The CPU's flags and the load average go with the table:
on a shared machine absolute images/s mean little, ratios within one run do. Autocast ("amp")
is bf16 on CPU and on CUDA devices that have it, else fp16 with loss scaling.

    python benchmarks/train_throughput.py [--sizes 128:16 32:64] [--threads 1] [--rounds 7] [--compile]
        [--device cpu|cuda] [--max-seconds S] [--out TABLE.md [--force]] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from mobilenets.files import atomic_write_json, atomic_write_text  # noqa: E402
from mobilenets.machine import cpu_flags, cpu_name, native_bf16  # noqa: E402
from mobilenets.models import mobilenet_v1  # noqa: E402
from mobilenets.train.cpu_speedups import swap_in  # noqa: E402
from mobilenets.train.optim import OPTIMIZERS, build_optimizer  # noqa: E402

SIDES = ("mobilenets", "timm")
# The flags that decide which kernels a CPU can run (the rest of /proc/cpuinfo is noise here).


@dataclass(frozen=True)
class Setting:
    name: str
    channels_last: bool
    amp: bool
    compiled: bool = False


SETTINGS = (
    Setting("contiguous", False, False),
    Setting("channels_last", True, False),
    Setting("amp", False, True),
    Setting("amp+channels_last", True, True),
)
COMPILED = (
    Setting("compiled+channels_last", True, False, True),
    Setting("compiled+amp+channels_last", True, True, True),
)


def amp_dtype(device: torch.device) -> torch.dtype:
    """bf16 on CPU and on CUDA devices that support it, fp16 (with loss scaling) on older GPUs."""
    return (
        torch.bfloat16 if device.type == "cpu" or torch.cuda.is_bf16_supported() else torch.float16
    )


def build(side: str, resolution: int) -> torch.nn.Module:
    if side == "mobilenets":
        return mobilenet_v1(alpha=1.0, resolution=resolution, num_classes=1000)
    import timm

    return timm.create_model("mobilenetv1_100", pretrained=False, num_classes=1000)


class Trainer:
    """One model's training step (forward, cross-entropy, backward, optimizer step) in one setting."""

    def __init__(
        self,
        side: str,
        setting: Setting,
        resolution: int,
        batch: int,
        optimizer: str,
        device: torch.device,
    ) -> None:
        torch.manual_seed(0)
        self.model = build(side, resolution).train()
        memory_format = torch.channels_last if setting.channels_last else torch.contiguous_format
        self.model.to(device, memory_format=memory_format)
        if side == "mobilenets" and device.type == "cpu":  # as the training loop does
            swap_in(self.model, channels_last=setting.channels_last, compiling=setting.compiled)
        self.optimizer = build_optimizer(self.model, optimizer, lr=1e-3, weight_decay=4e-5)
        self.forward = torch.compile(self.model) if setting.compiled else self.model
        self.images = torch.randn(batch, 3, resolution, resolution, device=device).contiguous(
            memory_format=memory_format
        )
        self.labels = torch.randint(0, 1000, (batch,), device=device)
        self.device, self.amp, self.dtype = device, setting.amp, amp_dtype(device)
        self.scaler = torch.amp.GradScaler(
            device.type, enabled=setting.amp and self.dtype == torch.float16
        )

    def step(self) -> None:
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.amp):
            loss = F.cross_entropy(self.forward(self.images), self.labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def images_per_second(self, steps: int) -> float:
        self._synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            self.step()
        self._synchronize()
        return steps * self.images.shape[0] / (time.perf_counter() - start)

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def measure_size(
    resolution: int,
    batch: int,
    settings: tuple[Setting, ...],
    args: argparse.Namespace,
    deadline: float,
) -> list[dict]:
    """Every setting of both sides at one input size, timed in interleaved rounds (at least two;
    no new round starts after ``deadline``, a ``time.perf_counter()`` value)."""
    device = torch.device(args.device)
    trainers = {
        (setting, side): Trainer(side, setting, resolution, batch, args.optimizer, device)
        for setting in settings
        for side in SIDES
    }
    for key, trainer in trainers.items():
        start = time.perf_counter()
        for _ in range(args.warmup):
            trainer.step()
        print(
            f"{resolution} px {key[0].name} {key[1]}: warm-up {time.perf_counter() - start:.1f} s",
            file=sys.stderr,
        )
    keys = list(trainers)
    speeds: dict[tuple[Setting, str], list[float]] = {key: [] for key in keys}
    for round_index in range(args.rounds):
        if round_index >= 2 and time.perf_counter() > deadline:
            print(f"{resolution} px: time is up after {round_index} rounds", file=sys.stderr)
            break
        # Rotate the order every round so that no setting always follows the same neighbour.
        shift = round_index % len(keys)
        for key in keys[shift:] + keys[:shift]:
            speeds[key].append(trainers[key].images_per_second(args.steps))
        print(f"{resolution} px: round {round_index + 1}/{args.rounds} done", file=sys.stderr)
    del trainers  # free one size's models before the next size's
    rows = []
    for setting in settings:
        ours, theirs = speeds[(setting, "mobilenets")], speeds[(setting, "timm")]
        ratios = [a / b for a, b in zip(ours, theirs)]
        rows.append(
            {
                "resolution": resolution,
                "batch_size": batch,
                "setting": setting.name,
                "mobilenets_images_per_second": statistics.median(ours),
                "mobilenets_min_max": [min(ours), max(ours)],
                "timm_images_per_second": statistics.median(theirs),
                "timm_min_max": [min(theirs), max(theirs)],
                "ratio": statistics.median(ratios),
                "ratio_min_max": [min(ratios), max(ratios)],
                "rounds": {"mobilenets": ours, "timm": theirs},
            }
        )
    best_ours = max(rows, key=lambda row: row["mobilenets_images_per_second"])
    best_timm = max(rows, key=lambda row: row["timm_images_per_second"])
    rows.append(
        {
            "resolution": resolution,
            "batch_size": batch,
            "setting": f"best: ours {best_ours['setting']} / timm {best_timm['setting']}",
            "mobilenets_images_per_second": best_ours["mobilenets_images_per_second"],
            "mobilenets_min_max": best_ours["mobilenets_min_max"],
            "timm_images_per_second": best_timm["timm_images_per_second"],
            "timm_min_max": best_timm["timm_min_max"],
            "ratio": best_ours["mobilenets_images_per_second"]
            / best_timm["timm_images_per_second"],
            "ratio_min_max": None,
        }
    )
    return rows


def measure(args: argparse.Namespace) -> dict:
    import timm

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    settings = SETTINGS + (COMPILED if args.compile else ())
    if args.settings:
        settings = tuple(
            setting for setting in SETTINGS + COMPILED if setting.name in args.settings
        )
    load_before = os.getloadavg()
    start = time.perf_counter()
    rows = []
    for index, (resolution, batch) in enumerate(args.sizes):
        # Each size gets an equal share of what is left of the time budget.
        share = (
            (args.max_seconds - (time.perf_counter() - start)) / (len(args.sizes) - index)
            if args.max_seconds
            else math.inf
        )
        rows += measure_size(resolution, batch, settings, args, time.perf_counter() + share)
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": cpu_name(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cuda": torch.version.cuda if device.type == "cuda" else None,
        "amp": str(amp_dtype(device)).removeprefix("torch."),
        "cpu_count": os.cpu_count(),
        "cpu_flags": cpu_flags(),
        "native_bf16": native_bf16(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "threads": args.threads,
        "optimizer": args.optimizer,
        "steps_per_round": args.steps,
        "rounds": args.rounds,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "seconds": time.perf_counter() - start,
        "results": rows,
    }


def _size(text: str) -> tuple[int, int]:
    try:
        resolution, batch = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a size is RESOLUTION:BATCH (e.g. 128:16); got {text!r}"
        ) from None
    if resolution < 32 or batch < 1:
        raise argparse.ArgumentTypeError(f"resolution must be >= 32 and batch >= 1; got {text!r}")
    return resolution, batch


def _spread(pair: list[float] | None, digits: int) -> str:
    return "" if pair is None else f" ({pair[0]:.{digits}f}-{pair[1]:.{digits}f})"


def format_table(result: dict) -> str:
    """The result as a header line and a markdown table."""
    where = result["device"] if result["device"] != "cpu" else f"{result['threads']} thread(s)"
    lines = [
        f"{result['date']}, {result['machine']} ({result['cpu_count']} CPUs; "
        f"{' '.join(result['cpu_flags'])}), {where}, "
        f"torch {result['torch']}, timm {result['timm']}, amp = {result['amp']} autocast, {result['optimizer']}, "
        f"{result['rounds']} rounds of {result['steps_per_round']} steps, load average "
        f"{result['load_average_before'][0]:.1f} -> {result['load_average_after'][0]:.1f}, {result['seconds']:.0f} s",
        "",
        "| px | batch | setting | mobilenets img/s (min-max) | timm img/s (min-max) | ratio (min-max) |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["results"]:
        lines.append(
            f"| {row['resolution']} | {row['batch_size']} | {row['setting']} "
            f"| {row['mobilenets_images_per_second']:.1f}{_spread(row['mobilenets_min_max'], 1)} "
            f"| {row['timm_images_per_second']:.1f}{_spread(row['timm_min_max'], 1)} "
            f"| {row['ratio']:.2f}{_spread(row['ratio_min_max'], 2)} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None = None, **defaults: object) -> argparse.Namespace:
    """The command line; ``defaults`` override the CPU defaults (the GPU script's)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=_size,
        nargs="+",
        default=[(128, 16), (32, 64)],
        help="RESOLUTION:BATCH pairs",
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument(
        "--threads", type=int, default=1, help="CPU compute threads (1: robust on a shared machine)"
    )
    parser.add_argument("--optimizer", default="adamw", choices=OPTIMIZERS)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per setting and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--max-seconds", type=float, help="no new round after this long (at least two rounds run)"
    )
    parser.add_argument(
        "--compile", action="store_true", help="also measure torch.compile (minutes of compiling)"
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=[setting.name for setting in SETTINGS + COMPILED],
        help="measure only these settings",
    )
    parser.add_argument(
        "--out", help="also write the table (markdown) here, and the JSON next to it"
    )
    parser.add_argument("--force", action="store_true", help="replace an existing --out")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(**defaults)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, **defaults: object) -> None:
    args = parse_args(argv, **defaults)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            f"{Path(sys.argv[0]).name}: no CUDA device here (torch {torch.__version__}, built for CUDA "
            f"{torch.version.cuda or 'none'}); run it on a machine with an NVIDIA GPU",
            file=sys.stderr,
        )
        raise SystemExit(2)
    if args.out:
        out = Path(args.out)
        for path in (out, out.with_suffix(".json")):
            if path.exists() and not args.force:
                print(f"{path} exists; use --force to replace it", file=sys.stderr)
                raise SystemExit(2)
    result = measure(args)
    table = format_table(result)
    if args.out:
        atomic_write_text(out, table)
        atomic_write_json(out.with_suffix(".json"), result)
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print(table, end="")


if __name__ == "__main__":
    main()
