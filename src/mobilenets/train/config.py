"""Every hyper-parameter of a training run, in one dataclass checked before any work starts.

Each field is declared once, with its help, choices and allowed range beside it
(``ranges.declared``, as the model's arguments are);
``validate()`` and every training command's flags (``mobilenets.cli.common.add_config_arguments``)
are derived from these declarations. The whole ``TrainConfig`` is saved in every checkpoint, so a
run can be resumed, audited or repeated from its ``last.pt`` alone.
"""

from __future__ import annotations

import functools
import typing
from dataclasses import Field, asdict, dataclass, fields, replace
from typing import Any

from ..models import ALPHA, IN_CHANNELS, RESOLUTION, VARIANTS, model_defaults
from ..ranges import FRACTION, NON_NEGATIVE, POSITIVE, Range, check_declared, count, declared
from .optim import OPTIMIZERS
from .schedule import SCHEDULES

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")


# Counts whose size is memory or processes: a cap well past any real use refuses a typo
# (1e12) before it allocates. 65,536 is the largest ImageNet batch published (Ying et al. 2018).
BATCH_SIZE = count(1, 65_536)
WORKERS = count(0, 256)
SEED = count(0, 2**64 - 1)  # what torch.manual_seed accepts


@dataclass
class TrainConfig:
    """A training run's settings. ``validate()`` raises ValueError naming the bad field."""

    out: str = declared("runs/run", help="the run directory", group="run", metavar="RUN_DIR")
    data: str = declared("fashion-mnist", help="the training data", group="data")
    # The model: a registered name, or alpha/resolution/variant for a MobileNetV1.
    model: str | None = declared(
        None, help="a registered name (see `mobilenets list`)", group="model"
    )
    alpha: float | None = declared(
        None,
        help="width multiplier (default: the model name's, else 1.0; at most 4, 16x the parameters of 1.0)",
        allowed=ALPHA,
        group="model",
    )
    resolution: int | None = declared(
        None,
        help="input size in pixels (default: the model name's, else 224)",
        allowed=RESOLUTION,
        group="model",
    )
    variant: str = declared(
        "separable", help="architecture variant", choices=VARIANTS, group="model"
    )
    dropout: float = declared(
        0.0, help="dropout before the classifier", allowed=FRACTION, group="model"
    )
    in_channels: int | None = declared(
        None,
        help="1 (grey) or 3 (default: 1 for fashion-mnist, else 3)",
        allowed=IN_CHANNELS,
        group="data",
    )
    # Schedule and optimizer (the paper: RMSprop, asynchronous gradient descent, little decay).
    epochs: int = declared(
        10,
        help="training epochs (with --resume: the saved run's unless given)",
        allowed=count(1),
        group="optimization",
    )
    batch_size: int = declared(
        64,
        help="the global batch, split evenly across processes",
        allowed=BATCH_SIZE,
        group="optimization",
    )
    optimizer: str = declared(
        "rmsprop",
        help="rmsprop has TensorFlow semantics, as the paper",
        choices=OPTIMIZERS,
        group="optimization",
    )
    lr: float = declared(0.01, help="peak learning rate", allowed=POSITIVE, group="optimization")
    momentum: float = declared(
        0.9, help="optimizer momentum", allowed=FRACTION, group="optimization"
    )
    weight_decay: float = declared(
        4e-5,
        help="none on depthwise filters, batch norm and biases",
        allowed=NON_NEGATIVE,
        group="optimization",
    )
    decay_depthwise: bool = declared(
        False,
        help="apply weight decay to depthwise filters too (the paper puts little or none)",
        group="optimization",
    )
    schedule: str = declared(
        "exponential", help="learning-rate schedule", choices=SCHEDULES, group="optimization"
    )
    decay_rate: float = declared(
        0.94,
        help="exponential schedule: x decay_rate every decay_epochs",
        allowed=Range(0, 1, low_open=True),
        group="optimization",
    )
    decay_epochs: float = declared(
        2.0, help="epochs between exponential decays", allowed=POSITIVE, group="optimization"
    )
    warmup_epochs: float = declared(
        0.0, help="linear warm-up", allowed=NON_NEGATIVE, group="optimization"
    )
    label_smoothing: float = declared(
        0.0, help="the paper used none", allowed=FRACTION, group="optimization"
    )
    ema_decay: float = declared(
        0.0,
        help="moving average of the weights, e.g. 0.999 (0: off)",
        allowed=FRACTION,
        group="optimization",
    )
    grad_clip: float = declared(
        0.0,
        help="largest gradient norm (0: no clipping)",
        allowed=NON_NEGATIVE,
        group="optimization",
    )
    # Data.
    min_crop_area: float = declared(
        0.25,
        help="smallest random-crop area, a fraction (the paper: less for small models)",
        allowed=Range(0, 1, low_open=True),
        group="data",
    )
    augment: bool = declared(
        True,
        help="random crop and flip (or photometric) augmentation of training images",
        group="data",
    )
    cache: bool = declared(
        False,
        help="keep transformed images in memory (with --no-augment and --workers 0)",
        group="data",
    )
    limit_train: int | None = declared(
        None, help="use the first N training images", allowed=count(1), group="data", metavar="N"
    )
    limit_val: int | None = declared(
        None, help="use the first N validation images", allowed=count(1), group="data", metavar="N"
    )
    workers: int = declared(0, help="data-loading processes", allowed=WORKERS, group="data")
    strict: bool = declared(
        False, help="stop on an unreadable image instead of skipping it", group="data"
    )
    # Reproducibility and hardware.
    seed: int | None = declared(
        None,
        help="the same seed gives identical weights on CPU (default: drawn once and recorded)",
        allowed=SEED,
        group="reproducibility and hardware",
    )
    device: str = declared(
        "auto", help="where to train", choices=DEVICES, group="reproducibility and hardware"
    )
    precision: str = declared(
        "auto",
        help="auto: bf16 on CPUs with native bf16, else fp32; bf16 (or fp16) on CUDA (measured faster)",
        choices=PRECISIONS,
        group="reproducibility and hardware",
    )
    channels_last: bool = declared(
        True,
        help="channels-last memory format (measured 6-37% faster training on a 2-core CPU)",
        group="reproducibility and hardware",
    )
    cpu_speedups: bool = declared(
        True,
        help="on CPU, train the layer shapes oneDNN trains slowly another way, same values "
        "(fp32 depthwise under bf16, whole-window depthwise sums, small-map 1x1 products)",
        group="reproducibility and hardware",
    )
    compile: bool = declared(
        False, help="torch.compile the model", group="reproducibility and hardware"
    )
    sync_bn: bool = declared(
        False,
        help="SyncBatchNorm across processes (CUDA only)",
        group="reproducibility and hardware",
    )
    freeze_bn: bool = declared(
        False,
        help="batch norm keeps its running statistics (small-batch fine-tuning)",
        group="reproducibility and hardware",
    )
    # Distillation (section 4.4): a teacher model or its precomputed outputs.
    teacher: str | None = declared(
        None,
        help="a checkpoint of this project or a torchvision model name",
        group="distillation",
        metavar="NAME_OR_CHECKPOINT",
    )
    teacher_weights: str | None = declared(
        None,
        help="state_dict file for a torchvision teacher (nothing is downloaded)",
        group="distillation",
        metavar="FILE",
    )
    teacher_outputs: str | None = declared(
        None,
        help="precomputed teacher outputs (`mobilenets teacher-outputs`)",
        group="distillation",
        metavar="FILE",
    )
    distill_weight: float = declared(
        0.5,
        help="w in (1-w)*loss(labels) + w*T^2*loss(teacher); 1 ignores labels",
        allowed=Range(0, 1),
        group="distillation",
    )
    temperature: float = declared(
        4.0, help="distillation temperature T", allowed=POSITIVE, group="distillation"
    )
    # Transfer (fine-grained recognition): start from a trained network.
    init: str | None = declared(
        None,
        help="start from a trained network; the classifier is replaced if the class count differs",
        group="transfer",
        metavar="CHECKPOINT",
    )
    # Or from released weights (weights/releases.py, or a file): the architecture they need
    # (padding, activation, epsilon, head) with the weights' width; the data's classifier.
    pretrained: str | None = declared(
        None,
        help="load weights: a Keras .h5, a TF-slim checkpoint prefix, a .pt or .safetensors file, a pretrained folder, "
        "a URL (append #sha256=HEX to check it), hf-hub:OWNER/NAME, a release name (`mobilenets list --weights`, e.g. "
        "timm:mobilenetv1_100.ra4_e3600_r224_in1k); 'best' for the most accurate release of the model, 'keras' / "
        "'timm' for that source's",
        group="model",
        metavar="SOURCE|best|keras|timm",
    )
    drop_background: bool = declared(
        False,
        help="with TF-slim weights: drop the background class (1001 -> 1000 outputs)",
        group="model",
    )
    freeze_backbone: bool = declared(False, help="train the classifier only", group="transfer")
    classifier_lr: float | None = declared(
        None,
        help="learning rate of the classifier (default: --lr)",
        allowed=POSITIVE,
        group="transfer",
    )

    def validate(self) -> TrainConfig:
        """Raises ValueError naming the first bad hyper-parameter and what is allowed."""
        check_declared(self)
        if not isinstance(self.out, str) or not self.out:
            raise ValueError("out (the run directory) must be a non-empty path")
        if not isinstance(self.data, str) or not self.data:
            raise ValueError(
                "data must be fashion-mnist, an image-folder directory or a CSV manifest"
            )
        if self.model is not None and not isinstance(self.model, str):
            raise ValueError(f"model must be a registered model name; got {self.model!r}")
        if self.model is not None:
            model_defaults(self.model)  # an unknown name is refused with close matches
        if self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"warmup_epochs must be fewer than epochs ({self.epochs}); got {self.warmup_epochs!r}"
            )
        if self.cache and (self.augment or self.workers):
            raise ValueError(
                "cache needs augment off and workers 0 "
                "(random crops differ every epoch; workers would each keep a copy)"
            )
        if self.teacher and self.teacher_outputs:
            raise ValueError("give a teacher or its precomputed teacher_outputs, not both")
        if self.teacher_weights and not self.teacher:
            raise ValueError("teacher_weights needs a teacher (a torchvision model name)")
        if self.freeze_backbone and not (self.init or self.pretrained):
            raise ValueError(
                "freeze_backbone needs init or pretrained (trained weights to start from)"
            )
        if self.pretrained:
            if self.init:
                raise ValueError(
                    "give init (a checkpoint of this project) or pretrained (released weights), not both"
                )
            if self.variant != "separable":
                raise ValueError(
                    f"pretrained weights exist for the separable MobileNet only, not variant {self.variant!r}"
                )
            if self.pretrained in ("best", "keras", "timm") and not self.model:
                raise ValueError(
                    f"pretrained {self.pretrained!r} picks the released weights of a model name: give model too "
                    "(e.g. mobilenet_v1_050_160)"
                )
            if self.in_channels not in (None, 3):
                raise ValueError(
                    f"pretrained weights take colour images: in_channels must be 3; got {self.in_channels!r}"
                )
        elif self.drop_background:
            raise ValueError(
                "drop_background needs pretrained (TF-slim weights with a background class)"
            )
        return self

    def resolved(self) -> TrainConfig:
        """A copy with alpha and resolution filled in from the model name (or the defaults).
        With pretrained weights and no model name, alpha stays None: the weights decide it."""
        width = None if self.pretrained else 1.0
        defaults = {
            "alpha": width,
            "resolution": 224,
            **(model_defaults(self.model) if self.model else {}),
        }
        return replace(
            self,
            alpha=self.alpha if self.alpha is not None else defaults["alpha"],
            resolution=self.resolution if self.resolution is not None else defaults["resolution"],
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Rebuilds a saved config; unknown keys (from a newer version) are refused by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**values)


def config_fields() -> dict[str, Field]:
    """TrainConfig's fields by name, with their declarations (help, choices, range)."""
    return {declared.name: declared for declared in fields(TrainConfig)}


def field_type(declared: Field) -> type:
    """The value type of a field (bool, int, float or str), without its Optional."""
    hint = _type_hints()[declared.name]
    return next(arg for arg in (typing.get_args(hint) or (hint,)) if arg is not type(None))


@functools.cache
def _type_hints() -> dict[str, Any]:
    # Evaluated once: every command's parser asks for each field's type (0.4 s a parse otherwise).
    return typing.get_type_hints(TrainConfig)
