"""Every hyper-parameter of a training run, in one dataclass checked before any work starts.

The whole ``TrainConfig`` is saved in every checkpoint, so a run can be resumed, audited or
repeated from its ``last.pt`` alone.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from ..models import model_defaults
from .optim import OPTIMIZERS
from .schedule import SCHEDULES

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class TrainConfig:
    """A training run's settings. ``validate()`` raises ValueError naming the bad field."""

    out: str = "runs/run"
    data: str = "fashion-mnist"
    # The model: a registered name, or alpha/resolution/variant for a MobileNetV1.
    # None: the model name's own (or 1.0 and 224 without a name).
    model: str | None = None
    alpha: float | None = None
    resolution: int | None = None
    variant: str = "separable"
    dropout: float = 0.0
    in_channels: int | None = None  # None: the dataset's own channel count
    # Schedule and optimizer (the paper: RMSprop, asynchronous gradient descent, little decay).
    epochs: int = 10
    batch_size: int = 64  # the global batch: split evenly across distributed ranks
    optimizer: str = "rmsprop"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 4e-5
    decay_depthwise: bool = False  # the paper puts little or no decay on depthwise filters
    schedule: str = "exponential"
    decay_rate: float = 0.94  # the exponential schedule: x decay_rate every decay_epochs
    decay_epochs: float = 2.0
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    ema_decay: float = 0.0  # 0: no moving average of the weights
    grad_clip: float = 0.0  # 0: no clipping; else the largest gradient norm
    # Data.
    min_crop_area: float = 0.25  # the paper: less small-crop distortion for small models
    augment: bool = True  # random crop + flip; False trains on the evaluation transform
    cache: bool = False  # keep transformed images in memory (needs augment=False, workers=0)
    limit_train: int | None = None
    limit_val: int | None = None
    workers: int = 0
    strict: bool = False
    # Reproducibility and hardware.
    seed: int | None = None  # None: drawn once and recorded, so resume stays exact
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 on CPUs with native bf16, else fp32; bf16/fp16 on CUDA (measured faster)
    channels_last: bool = True  # measured 6-37% faster training on a 2-core x86 CPU (BENCHMARKS.md)
    compile: bool = False
    sync_bn: bool = False  # SyncBatchNorm across processes (torch runs it on CUDA only)
    freeze_bn: bool = False  # batch norm keeps its running statistics (small-batch fine-tuning)
    # Distillation (section 4.4): a teacher model or its precomputed outputs.
    teacher: str | None = None
    teacher_weights: str | None = None
    teacher_outputs: str | None = None
    distill_weight: float = 0.5
    temperature: float = 4.0
    # Transfer (fine-grained recognition): start from a trained network.
    init: str | None = None
    # Or from released weights (Keras .h5, TF-slim, converted .pt, URL): the released
    # architecture (tf_same, relu6) with the weights' width; the data's classifier.
    pretrained: str | None = None
    drop_background: bool = False
    freeze_backbone: bool = False
    classifier_lr: float | None = None  # None: the same learning rate as the rest

    def validate(self) -> "TrainConfig":
        """Raises ValueError naming the first bad hyper-parameter and what is allowed."""
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("device", self.device, DEVICES)
        if not isinstance(self.out, str) or not self.out:
            raise ValueError("out (the run directory) must be a non-empty path")
        if not isinstance(self.data, str) or not self.data:
            raise ValueError("data must be fashion-mnist, an image-folder directory or a CSV manifest")
        if self.model is not None and not isinstance(self.model, str):
            raise ValueError(f"model must be a registered model name; got {self.model!r}")
        if self.model is not None:
            model_defaults(self.model)  # an unknown name is refused with close matches
        if self.alpha is not None:
            _check_number("alpha", self.alpha, low=0, low_open=True)
        if self.resolution is not None:
            _check_whole("resolution", self.resolution, low=32)
        _check_number("dropout", self.dropout, low=0, high=1, high_open=True)
        if self.in_channels is not None:
            _check_whole("in_channels", self.in_channels, low=1)
        _check_whole("epochs", self.epochs, low=1)
        _check_whole("batch_size", self.batch_size, low=1)
        _check_number("lr", self.lr, low=0, low_open=True)
        _check_number("momentum", self.momentum, low=0, high=1, high_open=True)
        _check_number("weight_decay", self.weight_decay, low=0)
        _check_number("decay_rate", self.decay_rate, low=0, high=1, low_open=True)
        _check_number("decay_epochs", self.decay_epochs, low=0, low_open=True)
        _check_number("warmup_epochs", self.warmup_epochs, low=0)
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs must be fewer than epochs ({self.epochs}); got {self.warmup_epochs!r}")
        _check_number("label_smoothing", self.label_smoothing, low=0, high=1, high_open=True)
        _check_number("ema_decay", self.ema_decay, low=0, high=1, high_open=True)
        _check_number("grad_clip", self.grad_clip, low=0)
        _check_number("min_crop_area", self.min_crop_area, low=0, high=1, low_open=True)
        for name in ("limit_train", "limit_val"):
            if getattr(self, name) is not None:
                _check_whole(name, getattr(self, name), low=1)
        _check_whole("workers", self.workers, low=0)
        if self.cache and (self.augment or self.workers):
            raise ValueError("cache needs augment off and workers 0 (random crops differ every epoch; workers would each keep a copy)")
        if self.seed is not None:
            _check_whole("seed", self.seed, low=0)
        _check_number("distill_weight", self.distill_weight, low=0, high=1)
        _check_number("temperature", self.temperature, low=0, low_open=True)
        if self.teacher and self.teacher_outputs:
            raise ValueError("give a teacher or its precomputed teacher_outputs, not both")
        if self.teacher_weights and not self.teacher:
            raise ValueError("teacher_weights needs a teacher (a torchvision model name)")
        if self.classifier_lr is not None:
            _check_number("classifier_lr", self.classifier_lr, low=0, low_open=True)
        if self.freeze_backbone and not (self.init or self.pretrained):
            raise ValueError("freeze_backbone needs init or pretrained (trained weights to start from)")
        if self.pretrained:
            if self.init:
                raise ValueError("give init (a checkpoint of this project) or pretrained (released weights), not both")
            if self.variant != "separable":
                raise ValueError(f"pretrained weights exist for the separable MobileNet only, not variant {self.variant!r}")
            if self.pretrained == "keras" and not self.model:
                raise ValueError("pretrained 'keras' fetches the released file of a model name: give model too (e.g. mobilenet_v1_050_160)")
            if self.in_channels not in (None, 3):
                raise ValueError(f"pretrained weights take colour images: in_channels must be 3; got {self.in_channels!r}")
        elif self.drop_background:
            raise ValueError("drop_background needs pretrained (TF-slim weights with a background class)")
        return self

    def resolved(self) -> "TrainConfig":
        """A copy with alpha and resolution filled in from the model name (or the defaults).
        With pretrained weights and no model name, alpha stays None: the weights decide it."""
        width = None if self.pretrained else 1.0
        defaults = {"alpha": width, "resolution": 224, **(model_defaults(self.model) if self.model else {})}
        return replace(
            self,
            alpha=self.alpha if self.alpha is not None else defaults["alpha"],
            resolution=self.resolution if self.resolution is not None else defaults["resolution"],
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Rebuilds a saved config; unknown keys (from a newer version) are refused by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**values)


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _check_whole(name: str, value: Any, *, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}; got {value!r}")


def _check_number(
    name: str, value: Any, *, low: float, high: float | None = None,
    low_open: bool = False, high_open: bool = False,
) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            high is None or (value < high if high_open else value <= high)
        )
    if not ok:
        left = "(" if low_open else "["
        right = "inf)" if high is None else (f"{high})" if high_open else f"{high}]")
        raise ValueError(f"{name} must be a number in {left}{low}, {right}; got {value!r}")
