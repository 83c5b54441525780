"""Image classification, the paper's main task: the task for the one loop (with distillation
and transfer), training, evaluation with a confusion matrix, and predictions for image files."""

from .evaluation import evaluate, evaluate_pretrained, load
from .predict import imagenet_classes, predict, predict_pretrained
from .task import ClassificationTask, teacher_outputs
from .training import DEFAULTS, fit, resume, train, train_config

__all__ = [
    "DEFAULTS",
    "ClassificationTask",
    "evaluate",
    "evaluate_pretrained",
    "fit",
    "imagenet_classes",
    "load",
    "predict",
    "predict_pretrained",
    "resume",
    "teacher_outputs",
    "train",
    "train_config",
]
