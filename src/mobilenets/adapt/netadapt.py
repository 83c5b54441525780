"""NetAdapt (Yang et al., ECCV 2018) on a trained MobileNet: per-layer widths for a latency
measured on this machine, instead of one width multiplier for every layer.

Each step asks the latency table for, in every body layer, the widest narrowing that cuts the
predicted latency by the step; each such proposal keeps its filters of largest L2 norm, is
fine-tuned briefly by the project's one loop, and the most accurate proposal is kept. After the
last step the chosen network is fine-tuned long. ``DIR/results.json`` is the whole state,
rewritten atomically after every step, so a killed run continues with ``resume=True``; a
proposal's fine-tune already finished (its ``summary.json``) is not redone.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..classification.training import fit
from ..cost import count_cost
from ..deploy.checkpoint import load_model
from ..deploy.latency import benchmark, check_runtime
from ..files import LOCK_FILE, atomic_write_json, folder_lock
from ..models import MobileNetV1
from ..train.checkpoint import checkpoint_file, load_checkpoint
from ..train.config import TrainConfig
from .latency_table import LatencyTable
from .prune import layer_widths, narrowed
from .results import RESULTS, plot_adapt, read_json, uniform_front

HALVINGS = 3
# What a step's fine-tune may not inherit from the starting run: another starting point, a
# teacher, frozen layers, a warm-up longer than the fine-tune.
CLEARED = dict(
    init=None,
    pretrained=None,
    teacher=None,
    teacher_outputs=None,
    teacher_weights=None,
    freeze_backbone=False,
    warmup_epochs=0.0,
    drop_background=False,
)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def adapt(
    checkpoint: str | Path,
    out: str | Path,
    *,
    runtime: str = "onnxruntime",
    target_ms: float | None = None,
    steps: int | None = None,
    reduction: float = 0.1,
    granularity: int = 8,
    short_epochs: int = 1,
    short_limit_train: int | None = None,
    settings: dict[str, Any] | None = None,
    threads: int | None = None,
    front: str | Path | None = None,
    accept_contention: bool = False,
    resume: bool = False,
    force: bool = False,
    log: Callable[[str], None] = _log,
) -> dict[str, Any]:
    """Adapts the network of ``checkpoint`` (a run folder or .pt of this project) until its
    measured latency in ``runtime`` is at most ``target_ms``, or for ``steps`` steps; each step
    cuts ``reduction`` of the starting predicted latency. ``settings``: TrainConfig fields that
    replace the starting run's for every fine-tune (``epochs``: the final one's). Returns (and
    writes to ``out/results.json``) one entry per step and the final fine-tune.
    ``accept_contention``: cache layer latencies timed while other processes took the CPU."""
    out = Path(out)
    if front is not None:
        uniform_front(front)  # a folder that is not a sweep's is refused before any work
    if not resume:
        state = _new_state(
            checkpoint,
            runtime=runtime,
            target_ms=target_ms,
            max_steps=steps,
            reduction=reduction,
            granularity=granularity,
            short_epochs=short_epochs,
            short_limit_train=short_limit_train,
            settings=settings or {},
            threads=threads or torch.get_num_threads(),
            accept_contention=accept_contention,
        )
        if _holds_files(out) and not force:
            raise FileExistsError(
                f"{out} is not empty: resume it (--resume) or start over (--force)"
            )
    out.mkdir(parents=True, exist_ok=True)
    # Cleaning, reading and writing the folder all happen under its lock: a second adapt
    # (--force or --resume) on the same folder is refused instead of wiping a run in progress.
    with folder_lock(out):
        if resume:
            state = read_json(out / RESULTS)
            if (target_ms, steps) != (state["target_ms"], state["max_steps"]):
                saved = (
                    f"{state['target_ms']:g} ms"
                    if state["target_ms"] is not None
                    else f"{state['max_steps']} steps"
                )
                raise ValueError(f"{out} adapts for {saved}: resume it with that goal")
        else:
            for name in ("steps", "final", RESULTS, "adapt.png"):
                target = out / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        return _Adaptation(state, out, log).run(front)


def _holds_files(out: Path) -> bool:
    """Whether ``out`` holds anything but the lock file a finished run leaves."""
    return out.is_dir() and any(path.name != LOCK_FILE for path in out.iterdir())


def _new_state(checkpoint: str | Path, **options: Any) -> dict[str, Any]:
    """The state a new adaptation starts from, its options checked before anything is written."""
    check_runtime(options["runtime"])
    start = checkpoint_file(checkpoint)
    if not start.is_file():
        raise FileNotFoundError(f"no checkpoint at {start}")
    if (options["target_ms"] is None) == (options["max_steps"] is None):
        raise ValueError("give a latency target (target_ms) or a number of steps, not both")
    if not 0 < options["reduction"] < 1:
        raise ValueError(f"reduction must be a fraction in (0, 1); got {options['reduction']!r}")
    return {"checkpoint": str(start), **options, "steps": [], "final": None}


class _Adaptation:
    def __init__(self, state: dict[str, Any], out: Path, log: Callable[[str], None]) -> None:
        self.state, self.out, self.log = state, out, log
        start = load_checkpoint(state["checkpoint"])
        self.start_top1 = (start.get("metrics") or {}).get("top1")
        self.config = dataclasses.replace(
            TrainConfig.from_dict(start["config"]), **state["settings"], **CLEARED
        )
        self.start = load_model(state["checkpoint"])
        if not isinstance(self.start, MobileNetV1):
            raise ValueError(f"adapt narrows a MobileNetV1; {state['checkpoint']} holds another")
        self.table = LatencyTable(
            self.start.config,
            state["runtime"],
            state["threads"],
            accept_contention=state["accept_contention"],
        )

    def run(self, front: str | Path | None) -> dict[str, Any]:
        state = self.state
        self._check_budget(layer_widths(self.start))  # before anything is written
        if not state["steps"]:
            state["steps"].append(
                self._entry(
                    0, None, self.start, top1=self.start_top1, checkpoint=state["checkpoint"]
                )
            )
            self._save()
        first = state["steps"][0]
        step_ms = state["reduction"] * first["predicted_ms"]
        while not self._done():
            entry = self._step(len(state["steps"]), step_ms)
            if entry is None:
                self.log(
                    f"stopped: narrowing no single layer cuts the predicted latency by "
                    f"{step_ms / 2**HALVINGS:.4f} ms"
                )
                break
            state["steps"].append(entry)
            self._save()
        if state["final"] is None:
            state["final"] = self._final()
            self._save()
        result = {**state, "out": str(self.out)}
        if plot_adapt(state, self.out / "adapt.png", front=front):
            result["plot"] = str(self.out / "adapt.png")
        return result

    def _done(self) -> bool:
        state, last = self.state, self.state["steps"][-1]
        if state["target_ms"] is not None:
            return last["latency_ms"] <= state["target_ms"]
        return len(state["steps"]) > state["max_steps"]

    def _check_budget(self, channels: list[int]) -> None:
        target = self.state["target_ms"]
        if target is None:
            return
        narrowest = [min(self.state["granularity"], width) for width in channels]
        lowest = self.table.predict(narrowest)
        if lowest > target:
            raise ValueError(
                f"no widths meet {target:g} ms in {self.state['runtime']}: even every layer at its "
                f"narrowest (at most {self.state['granularity']} channels) is predicted "
                f"{lowest:.3f} ms on this machine"
            )

    def _save(self) -> None:
        atomic_write_json(self.out / RESULTS, self.state)

    def _entry(
        self, step: int, layer: int | None, model: MobileNetV1, **extra: Any
    ) -> dict[str, Any]:
        channels = layer_widths(model)
        cost = count_cost(model)
        measured = benchmark(model, self.state["runtime"], threads=self.state["threads"], runs=20)
        return {
            "step": step,
            "layer": layer,
            "channels": channels,
            "latency_ms": measured["median_ms"],
            "predicted_ms": round(self.table.predict(channels), 4),
            "mult_adds": cost.mult_adds,
            "params": cost.params,
            **extra,
        }

    def _proposal_width(self, channels: list[int], layer: int, goal_ms: float) -> int | None:
        """The widest width of ``layer`` below its current one (in steps of the granularity)
        whose network is predicted within ``goal_ms``; None if even the smallest is not."""
        step = self.state["granularity"]
        widths = list(range(channels[layer] - step, 0, -step))
        if not widths:
            return None

        def fits(width: int) -> bool:
            return self.table.predict([*channels[:layer], width, *channels[layer + 1 :]]) <= goal_ms

        if not fits(widths[-1]):
            return None
        low, high = 0, len(widths) - 1  # widths[high] fits: find the first (widest) that does
        while low < high:
            middle = (low + high) // 2
            if fits(widths[middle]):
                high = middle
            else:
                low = middle + 1
        return widths[low]

    def _proposals(
        self, channels: list[int], goal_ms: float, cut_ms: float
    ) -> tuple[list[tuple[int, int]], float]:
        """(layer, width) of every layer that can cut ``cut_ms``; where none can, the cut is
        halved (NetAdapt's decaying reduction), at most ``HALVINGS`` times."""
        for _ in range(HALVINGS + 1):
            proposals = [
                (layer, width)
                for layer in range(len(channels))
                if (width := self._proposal_width(channels, layer, goal_ms)) is not None
            ]
            if proposals:
                return proposals, cut_ms
            goal_ms, cut_ms = goal_ms + cut_ms / 2, cut_ms / 2
        return [], cut_ms

    def _step(self, step: int, step_ms: float) -> dict[str, Any] | None:
        state = self.state
        current = state["steps"][-1]
        model = load_model(current["checkpoint"])
        predicted = self.table.predict(current["channels"])
        cut = step_ms
        if state["target_ms"] is not None:  # the last step cuts no more than the target needs
            cut = min(step_ms, max(current["latency_ms"] - state["target_ms"], step_ms / 4))
        proposals, cut = self._proposals(current["channels"], predicted - cut, cut)
        results = []
        for layer, width in proposals:
            # The width is in the name: a resumed step whose table was timed anew may propose
            # another width, and must not take this one's fine-tune for it.
            run_dir = self.out / "steps" / f"{step:03d}" / f"layer{layer:02d}_{width}"
            summary = _finished(run_dir)
            if summary is None:
                config = dataclasses.replace(
                    self.config,
                    out=str(run_dir),
                    epochs=state["short_epochs"],
                    limit_train=state["short_limit_train"] or self.config.limit_train,
                )
                summary = fit(
                    config, model=narrowed(model, layer, width), force=True, progress=False
                )
            results.append((summary["best_top1"], layer, width, run_dir))
            self.log(
                f"step {step}: layer {layer} {current['channels'][layer]} -> {width} channels, "
                f"top-1 {100 * summary['best_top1']:.2f}% after a short fine-tune"
            )
        if not results:
            return None
        top1, layer, width, run_dir = max(results, key=lambda result: result[0])
        chosen = load_model(run_dir / "best.pt")
        entry = self._entry(
            step,
            layer,
            chosen,
            top1=top1,
            checkpoint=str(run_dir / "best.pt"),
            proposals=len(results),
            cut_ms=round(cut, 4),
        )
        self.log(
            f"step {step}: kept layer {layer} at {width} channels: top-1 {100 * top1:.2f}%, "
            f"{entry['latency_ms']:.3f} ms measured ({entry['predicted_ms']:.3f} predicted), "
            f"{entry['mult_adds']:,} mult-adds"
        )
        return entry

    def _final(self) -> dict[str, Any]:
        last = self.state["steps"][-1]
        run_dir = self.out / "final"
        summary = _finished(run_dir)
        if summary is None:
            config = dataclasses.replace(self.config, out=str(run_dir))
            resume = (run_dir / "last.pt").is_file()
            model = None if resume else load_model(last["checkpoint"])
            self.log(f"fine-tuning the chosen widths for {config.epochs} epochs in {run_dir}")
            summary = fit(config, model=model, resume=resume, force=not resume, progress=False)
        entry = {
            **last,
            "step": "final",
            "top1": summary["best_top1"],
            "checkpoint": str(run_dir / "best.pt"),
        }
        self.log(f"final: top-1 {100 * entry['top1']:.2f}% at {entry['latency_ms']:.3f} ms")
        return entry


def _finished(run_dir: Path) -> dict[str, Any] | None:
    """The summary of a fine-tune that ran to its end, else None."""
    path = run_dir / "summary.json"
    return read_json(path) if path.is_file() else None
