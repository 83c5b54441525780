"""The training loop: one loop for every task (classification, detection, quantization-aware
fine-tuning), on one CPU or many GPUs, that never loses a run.

``fit(config, *, task, model=None, model_factory=None, resume=False, force=False, on_epoch=None)``

* ``config`` (``TrainConfig``) is validated before any work; the whole of it goes into every
  checkpoint.
* ``task`` (a ``mobilenets.train.task.Task``, or a function that builds one from the resolved
  config, as ``ClassificationTask.from_config``) supplies datasets, the model (``build_model``),
  the loss, evaluation and the metric that selects ``best.pt``. The order: the resume checkpoint
  is read, the config resolved, the data opened, the model built, and only then is the run
  folder changed.
* ``model`` replaces the MobileNetV1 the config describes (a QAT-prepared network, a detector).
  The loop moves it to the device, wraps it in DistributedDataParallel, trains it in place and
  saves its ``state_dict``. ``config.init`` is then only recorded: the caller has loaded the
  starting weights (e.g. a float checkpoint before QAT preparation); ``freeze_backbone`` and
  ``classifier_lr`` still apply through ``model.get_classifier()`` / ``model.classifier``.
  On CPU (``config.cpu_speedups``) the run trains with the faster CPU variants of its blocks
  swapped in (``cpu_speedups.swap_in``) and hands the model back with the plain ones.
* ``model_factory`` = ``("package.module:callable", kwargs)`` records how to rebuild the model
  (``callable(**kwargs)``, then ``load_state_dict``) for ``--resume``, ``eval`` and ``predict``;
  the callable must be a registered builder (``mobilenets.models.register_builder``), since a
  checkpoint is rebuilt only through the registry.
  By default a model with a ``config`` dict (MobileNetV1) records its class and that dict.
  On resume, a caller either passes the same kind of ``model`` again (its weights are replaced
  by the checkpoint's) or passes none and the recorded factory rebuilds it; a QAT or detection
  caller whose model cannot be rebuilt by ``cls(**model.config)`` registers a module-level
  function that builds (and prepares) it, e.g.
  ``model_factory=("mobilenets.deploy.qat:prepared_model", {"float_checkpoint": path})``.
* ``resume=True`` continues ``config.out/last.pt`` as if never stopped (the saved settings must
  match, except epochs and workers); ``force=True`` starts over in an existing run directory.
  An existing non-empty run directory is refused (FileExistsError) without one of them.
* ``on_epoch(record)`` is called on rank 0 after each epoch's checkpoint is written, with that
  epoch's ``metrics.jsonl`` record: a hyper-parameter search reports it (and may stop the run).

Writes (rank 0 only, each atomically): ``last.pt`` after every epoch, ``best.pt`` when the
primary metric improves, ``metrics.jsonl`` (one line per epoch), TensorBoard events (when
tensorboard is installed) and ``summary.json`` at the end, whose dict ``fit`` returns.
``last.pt`` is an epoch's commit point: written first, it holds the metrics history and the best
epoch, so a kill before it leaves the previous epoch, and a kill after it is completed by
``--resume`` (best.pt and metrics.jsonl rewritten from it). Rank 0 holds the run folder's lock
(``files.folder_lock``) from before it changes anything to the end: a second process is refused.
A non-finite loss raises FloatingPointError before the optimizer steps, so the last good
checkpoint stays as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import random
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from ..files import (
    LOCK_FILE,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    folder_lock,
    remove_temporaries,
)
from ..machine import native_bf16
from ..messages import first_line
from ..models.compatible import check_compatible
from ..progress import progress_bar
from .batches import to_device
from .checkpoint import (
    build_model,
    factory_name,
    last_checkpoint,
    load_checkpoint,
    resume_config,
)
from .config import TrainConfig
from .cpu_speedups import swap_in, swap_out
from .distributed import Distributed, setup, teardown
from .ema import ModelEma
from .optim import build_optimizer, param_groups
from .schedule import build_scheduler
from .seeding import derive_seed, rng_state, seed_everything, seed_worker, set_rng_state
from .task import Task
from .transfer import freeze_backbone, load_initial_weights

__all__ = ["RUN_FILES", "fit", "read_metrics", "resume_config", "to_device"]

RUN_FILES = ("last.pt", "best.pt", "metrics.jsonl", "summary.json")
# Settings a resumed run may change: they do not alter what is computed.
RESUMABLE_CHANGES = ("epochs", "workers", "out")
ModelFactory = tuple[str, dict[str, Any]]


def fit(
    config: TrainConfig,
    *,
    task: Task | Callable[[TrainConfig], Task],
    model: nn.Module | None = None,
    model_factory: ModelFactory | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Trains, evaluates every epoch, checkpoints; returns the summary (see the module doc)."""
    config = config.validate().resolved()
    state = setup(config.device)
    try:
        with contextlib.ExitStack() as held:  # the run folder's lock, for the whole run
            return _Run(
                config, state, model, task, model_factory, resume, force, progress, held
            ).run(on_epoch)
    finally:
        teardown(state)


class _TensorBoard:
    """Per-epoch scalars in TensorBoard; skipped with one warning if it is not installed."""

    def __init__(self, run_dir: Path, first_epoch: int) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            warnings.warn(
                "tensorboard is not installed: no TensorBoard logs (pip install tensorboard)",
                stacklevel=3,
            )
            self.writer = None
            return
        self.writer = SummaryWriter(str(run_dir), purge_step=first_epoch + 1)

    def log(self, record: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for key, value in record.items():
            if key != "epoch" and isinstance(value, (int, float)):
                self.writer.add_scalar(key, value, record["epoch"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class _Run:
    """One call of ``fit``: set-up, the epochs, the summary."""

    def __init__(
        self,
        config: TrainConfig,
        dist: Distributed,
        model: nn.Module | None,
        task: Task | Callable[[TrainConfig], Task],
        model_factory: ModelFactory | None,
        resume: bool,
        force: bool,
        progress: bool,
        held: contextlib.ExitStack,
    ) -> None:
        # The lifecycle: lock the run folder (if it exists), read what to resume, resolve the
        # config, open the data, build the model; only then is the run folder changed, so a
        # mistake in any of them leaves it as it was.
        self.dist, self.progress, self.held = dist, progress, held
        self.run_dir = Path(config.out)
        self.locked = False
        # An existing folder is locked now (unless it is a stranger's, about to be refused).
        if self.run_dir.is_dir() and (resume or force or (self.run_dir / LOCK_FILE).exists()):
            self._lock_run_dir()
        self.checkpoint = load_checkpoint(last_checkpoint(self.run_dir)) if resume else None
        if self.checkpoint is not None:
            config = self._resumed_config(config, self.checkpoint["config"])
        else:
            self._refuse_existing_run_dir(force)
        if config.seed is None:
            config = dataclasses.replace(
                config, seed=dist.broadcast(random.SystemRandom().randrange(2**31))
            )
        self.config = config
        self.task = task if isinstance(task, Task) else task(config)
        self.device = dist.device
        self.channels_last = config.channels_last

        # The same initial weights on every rank.
        seed_everything(derive_seed(config.seed, 0xC0FFEE))
        train_set, val_set = self.task.build_datasets(config)
        self.model, self.model_factory = self._build_model(model, model_factory)
        self.autocast, fp16 = self._precision()
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.cost = self.task.cost(self.model, config)
        self._build_loaders(train_set, val_set)
        if self.checkpoint is None:
            self._clear_run_dir()
        self._build_training_state()

    # ----------------------------------------------------------------- set-up
    def _lock_run_dir(self) -> None:
        """Rank 0 takes the run folder's lock (a collective: every rank learns if it was refused)
        and removes the temporaries an earlier killed run left."""
        refused = None
        if self.dist.is_main:
            try:
                self.held.enter_context(folder_lock(self.run_dir))
            except BlockingIOError as error:
                refused = error
            else:
                for name in RUN_FILES:
                    remove_temporaries(self.run_dir / name)
        if not self.dist.all_true(refused is None):
            raise refused or BlockingIOError(
                f"{self.run_dir} is in use by another process (rank 0 says who)"
            )
        self.locked = True

    def _refuse_existing_run_dir(self, force: bool) -> None:
        exists = self.run_dir.exists() and (
            not self.run_dir.is_dir()
            or any(path.name != LOCK_FILE for path in self.run_dir.iterdir())
        )
        if exists and not force:
            raise FileExistsError(
                f"run directory {self.run_dir} exists; "
                f"use --resume {self.run_dir} to continue it or --force to start over"
            )

    def _clear_run_dir(self) -> None:
        self.dist.barrier()  # every rank has looked before rank 0 changes anything
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.locked:
            self._lock_run_dir()
        if self.dist.is_main:
            # last.pt first: a kill midway leaves no run to resume, not a mixed one.
            for name in RUN_FILES:
                (self.run_dir / name).unlink(missing_ok=True)

    @staticmethod
    def _resumed_config(config: TrainConfig, saved_values: dict[str, Any]) -> TrainConfig:
        saved = TrainConfig.from_dict(saved_values)
        if config.seed is None:
            config = dataclasses.replace(config, seed=saved.seed)
        different = [
            f"{field.name} {getattr(saved, field.name)!r} (asked for {getattr(config, field.name)!r})"
            for field in dataclasses.fields(TrainConfig)
            if field.name not in RESUMABLE_CHANGES
            and getattr(saved, field.name) != getattr(config, field.name)
        ]
        if different:
            raise ValueError(
                f"the run to resume was trained with {', '.join(different)}; a resumed run keeps its "
                f"settings (only {', '.join(RESUMABLE_CHANGES)} may change)"
            )
        return config

    def _precision(self) -> tuple[Any, bool]:
        """An autocast context factory and whether fp16 loss scaling is needed."""
        precision, device = self.config.precision, self.device
        if precision == "auto":
            # CPUs: bf16 where the CPU has it natively (AVX-512 BF16: MobileNet trained 1.35-1.6x
            # faster than fp32 at 64-128 px, BENCHMARKS.md), fp32 elsewhere (emulated bf16 was
            # about 9x slower). CUDA: bf16 where supported, else fp16 with loss scaling.
            # A quantization-aware model stays fp32: its fake-quantize modules take fp32 only.
            quantizing = any(
                isinstance(m, torch.ao.quantization.FakeQuantizeBase) for m in self.model.modules()
            )
            if device.type == "cpu":
                precision = "bf16" if native_bf16() and not quantizing else "fp32"
            else:
                precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        if precision == "fp16" and device.type != "cuda":
            raise ValueError("precision fp16 needs a CUDA device; on CPU use bf16 or fp32")
        self.precision = precision
        if precision == "fp32":
            return nullcontext, False
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return (lambda: torch.autocast(device.type, dtype=dtype)), precision == "fp16"

    def _build_model(
        self, model: nn.Module | None, factory: ModelFactory | None
    ) -> tuple[nn.Module, ModelFactory | None]:
        config, checkpoint = self.config, self.checkpoint
        given = model is not None
        if model is None and checkpoint is not None and checkpoint.get("model_factory"):
            model = build_model(checkpoint)
        elif model is None:
            model = self.task.build_model(config)
        if factory is None and isinstance(getattr(model, "config", None), dict):
            factory = (factory_name(model), dict(model.config))
        if checkpoint is not None:
            if factory is not None and checkpoint.get("model_config"):
                check_compatible(
                    checkpoint["model_config"], factory[1], what="the checkpoint to resume"
                )
            try:
                model.load_state_dict(checkpoint["model"])
            except RuntimeError as error:
                raise ValueError(
                    f"the checkpoint to resume does not fit the model: {first_line(error)}"
                ) from None
        elif config.init and not given:  # a caller's model comes with its weights loaded
            load_initial_weights(model, config.init)
        if config.freeze_backbone:
            freeze_backbone(model)
        return model, factory

    def _build_loaders(self, train_set: Any, val_set: Any) -> None:
        config, dist = self.config, self.dist
        if config.batch_size % dist.world_size:
            raise ValueError(
                f"batch_size {config.batch_size} must be a multiple of the {dist.world_size} processes"
            )
        per_rank = config.batch_size // dist.world_size
        if len(train_set) < config.batch_size:
            raise ValueError(
                f"the training set has {len(train_set)} images, fewer than one batch ({config.batch_size})"
            )
        # One sampler definition for 1 or N processes: rank r takes every N-th index of the same
        # seeded permutation, so N processes see the same global batches as one.
        self.sampler = DistributedSampler(
            train_set, num_replicas=dist.world_size, rank=dist.rank, shuffle=True, seed=config.seed
        )
        self.generator = torch.Generator()
        common = dict(
            num_workers=config.workers,
            collate_fn=self.task.collate,
            pin_memory=self.device.type == "cuda",
            worker_init_fn=seed_worker,
            persistent_workers=False,
        )
        self.train_loader = DataLoader(
            train_set,
            batch_size=per_rank,
            sampler=self.sampler,
            drop_last=True,
            generator=self.generator,
            **common,
        )
        self.val_loader = DataLoader(val_set, batch_size=max(per_rank, 64), shuffle=False, **common)

    def _build_training_state(self) -> None:
        config, model = self.config, self.model
        if config.sync_bn and self.dist.enabled:
            if self.device.type != "cuda":
                raise ValueError(
                    "sync_bn needs CUDA devices (torch's SyncBatchNorm does not run on CPU); "
                    "use --freeze-bn or plain batch norm"
                )
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model.to(self.device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model
        head = (
            model.get_classifier()
            if hasattr(model, "get_classifier")
            else getattr(model, "classifier", None)
        )
        groups = param_groups(
            model,
            config.weight_decay,
            decay_depthwise=config.decay_depthwise,
            classifier_lr=config.classifier_lr,
            classifier=head,
        )
        self.optimizer = build_optimizer(
            groups, config.optimizer, config.lr, config.weight_decay, config.momentum
        )
        self.scheduler = build_scheduler(
            self.optimizer,
            config.schedule,
            epochs=config.epochs,
            steps_per_epoch=len(self.train_loader),
            warmup_epochs=config.warmup_epochs,
            decay_rate=config.decay_rate,
            decay_epochs=config.decay_epochs,
        )
        self.ema = ModelEma(model, config.ema_decay) if config.ema_decay else None
        self.epoch, self.step, self.best, self.best_epoch, self.records = 0, 0, -math.inf, None, []
        if self.checkpoint is not None:
            self._restore(self.checkpoint)
        if config.cpu_speedups and self.device.type == "cpu":
            swap_in(model, channels_last=self.channels_last, compiling=config.compile)
        try:
            if config.compile:
                model.compile()
            self.train_model = (
                DistributedDataParallel(
                    model, device_ids=[self.device.index] if self.device.type == "cuda" else None
                )
                if self.dist.enabled
                else model
            )
        except BaseException:
            swap_out(model)  # run() never starts: the caller's model leaves plain all the same
            raise

    def _restore(self, checkpoint: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        # The step count comes from the checkpoint, the schedule's shape from this run's config:
        # equal when nothing changed, and `--resume --epochs N` stretches the schedule to N
        # epochs instead of staying at the end of a finished one (lr 0 after cosine).
        saved = {**checkpoint["scheduler"], "lr_lambdas": self.scheduler.state_dict()["lr_lambdas"]}
        self.scheduler.load_state_dict(saved)
        if self.ema is not None:
            self.ema.load_state_dict(checkpoint["ema"])
        if checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        states = checkpoint.get("rng") or []
        if len(states) == self.dist.world_size:
            set_rng_state(states[self.dist.rank])
        self.epoch, self.step = checkpoint["epoch"], checkpoint["step"]
        if "history" not in checkpoint:
            raise ValueError(
                f"{self.run_dir / 'last.pt'} was written by an older mobilenets "
                "(no metrics history); start over with --force"
            )
        self.best, self.best_epoch = checkpoint["best"]["value"], checkpoint["best"]["epoch"]
        self.records = list(checkpoint["history"])
        if self.dist.is_main:  # a kill may have come between last.pt and the files that follow it
            self._complete_commit(last_checkpoint(self.run_dir).read_bytes)

    # ----------------------------------------------------------------- training
    def run(self, on_epoch: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        board = _TensorBoard(self.run_dir, self.epoch) if self.dist.is_main else None
        try:
            while self.epoch < self.config.epochs:
                record = self._train_epoch()
                record.update(self._evaluate())
                self.epoch += 1
                record = {"epoch": self.epoch, "step": self.step, **record}
                self.records.append(record)
                rng = self.dist.gather(rng_state())  # a collective: every rank takes part
                if self.dist.is_main:
                    self._save(record, rng)
                    board.log(record)
                    if on_epoch is not None:
                        on_epoch(record)
                self.dist.barrier()
        finally:
            swap_out(self.model)  # the caller's model leaves as it came, plain
            if board is not None:
                board.close()
        return self._summary()

    def _train_epoch(self) -> dict[str, float]:
        config, dist = self.config, self.dist
        epoch_seed = derive_seed(config.seed, self.epoch + 1, dist.rank)
        seed_everything(epoch_seed)
        self.generator.manual_seed(epoch_seed)
        self.sampler.set_epoch(self.epoch)
        self.train_model.train()
        if config.freeze_bn:
            for module in self.model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        sums: dict[str, float] = {"loss": 0.0}
        count = 0
        bar = progress_bar(
            total=len(self.train_loader) * config.batch_size,
            desc=f"epoch {self.epoch + 1}/{config.epochs}",
            unit="img",
            unit_scale=True,
            dynamic_ncols=True,
            file=sys.stderr,
            disable=not (self.progress and dist.is_main),
        )
        start = time.perf_counter()
        for batch in self.train_loader:
            batch = to_device(batch, self.device, channels_last=self.channels_last)
            with self.autocast():
                loss, size, metrics = self.task.loss(self.train_model, batch)
            value = loss.detach().float().item()
            if not dist.all_true(math.isfinite(value)):
                bar.close()
                raise FloatingPointError(
                    f"the loss became non-finite ({value}) at epoch {self.epoch + 1}, step {self.step + 1}; "
                    f"training stopped, the last good checkpoint ({self.run_dir / 'last.pt'}) is as it was "
                    f"(try a lower --lr or --grad-clip)"
                )
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if config.grad_clip:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            if self.ema is not None:
                self.ema.update_parameters(self.model)
            self.step += 1
            count += size
            sums["loss"] += value * size
            for key, metric in metrics.items():
                sums[key] = sums.get(key, 0.0) + float(metric) * size
            bar.update(size * dist.world_size)
            bar.set_postfix(
                {key: f"{total / count:.4g}" for key, total in sums.items()}, refresh=False
            )
        seconds = time.perf_counter() - start
        bar.close()
        totals = dist.sum({**sums, "count": count})
        images = totals.pop("count")
        return {
            **{f"train_{key}": total / images for key, total in totals.items()},
            "lr": self.optimizer.param_groups[0]["lr"],
            "train_images": int(images),
            "epoch_seconds": seconds,
            "images_per_second": images / seconds,
        }

    def _evaluate(self) -> dict[str, float]:
        if not self.dist.is_main:
            return {}
        # In the model's own fp32, as `eval` runs: the recorded metrics (and best.pt's choice) are
        # the ones a later evaluation of the checkpoint reports.
        with torch.no_grad():
            result = self.task.evaluate(self.model.eval(), self.val_loader)
            if self.ema is not None:
                result.update(
                    {
                        f"ema_{k}": v
                        for k, v in self.task.evaluate(
                            self.ema.module.eval(), self.val_loader
                        ).items()
                    }
                )
        if self.task.primary_metric not in result:
            raise KeyError(
                f"the task's evaluate() returned no {self.task.primary_metric!r} (its primary metric)"
            )
        return result

    # ----------------------------------------------------------------- saving
    def _save(self, record: dict[str, Any], rng: list[dict[str, Any]]) -> None:
        primary = self.task.primary_metric
        if record[primary] > self.best:
            self.best, self.best_epoch = record[primary], record["epoch"]
        checkpoint = {
            "model": self.model.state_dict(),
            "model_factory": self.model_factory[0] if self.model_factory else None,
            "model_config": self.model_factory[1] if self.model_factory else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "rng": rng,
            "epoch": self.epoch,
            "step": self.step,
            "config": self.config.to_dict(),
            "task": self.task.state(),
            "metrics": record,
            "history": self.records,
            "best": {"metric": primary, "value": self.best, "epoch": self.best_epoch},
        }
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write_bytes(self.run_dir / "last.pt", buffer.getvalue())  # the commit point
        self._complete_commit(buffer.getvalue)

    def _complete_commit(self, last_pt: Callable[[], bytes]) -> None:
        """Writes what follows from the committed last.pt: best.pt (last.pt's bytes, when its
        epoch is the best) and metrics.jsonl (its history)."""
        if self.best_epoch == self.epoch:
            atomic_write_bytes(self.run_dir / "best.pt", last_pt())
        atomic_write_text(
            self.run_dir / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in self.records)
        )

    def _summary(self) -> dict[str, Any]:
        last = self.records[-1] if self.records else {}
        best = max(
            self.records, key=lambda r: r.get(self.task.primary_metric, -math.inf), default={}
        )
        images = sum(r.get("train_images", 0) for r in self.records)
        seconds = sum(r.get("epoch_seconds", 0.0) for r in self.records)
        summary = {
            **{
                key: value
                for key, value in last.items()
                if key not in ("step", "epoch_seconds", "train_images")
            },
            "epochs": self.epoch,
            "images_per_second": images / seconds if seconds else None,
            "train_seconds": seconds,
            "best_epoch": best.get("epoch"),
            f"best_{self.task.primary_metric}": best.get(self.task.primary_metric),
            "mult_adds": self.cost.mult_adds,
            "params": self.cost.params,
            **self.task.summary(),
            "seed": self.config.seed,
            "world_size": self.dist.world_size,
            "device": str(self.device),
            "precision": self.precision,
            "run_dir": str(self.run_dir),
        }
        if self.dist.is_main:
            atomic_write_json(self.run_dir / "summary.json", summary)
        return summary


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """A run's ``metrics.jsonl``: one record per saved epoch (none if the file is absent)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
