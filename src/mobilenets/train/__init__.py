"""Training: the loop (one for every task), optimizers, schedules, EMA and distillation."""

from .config import TrainConfig
from .distill import distillation_loss
from .ema import ModelEma
from .loop import fit, resume_config
from .optim import RMSpropTF, build_optimizer, param_groups
from .schedule import build_scheduler
from .task import Task

__all__ = [
    "ModelEma",
    "RMSpropTF",
    "Task",
    "TrainConfig",
    "build_optimizer",
    "build_scheduler",
    "distillation_loss",
    "fit",
    "param_groups",
    "resume_config",
]
