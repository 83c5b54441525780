"""Training: optimizers, schedules, EMA, distillation (and the loop)."""
from .distill import distillation_loss
from .ema import ModelEma
from .optim import RMSpropTF, build_optimizer, param_groups
from .schedule import build_scheduler
