"""Teachers for the two distillations: whatever a user gives (a checkpoint of this project or a
TorchScript file) made into a module that outputs what the student learns, attribute logits
or a unit-norm embedding."""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, Subset

from ..pt_files import is_torchscript, load_torchscript
from ..train.checkpoint import load_checkpoint, model_from_checkpoint
from ..train.teacher import Teacher, compute_teacher_outputs
from .embedding_head import EMBEDDING_DIM

# Images whose teacher features fit the projection to the embedding (enough for 128 components).
PROJECTION_IMAGES = 2000


def load_module(path: str | os.PathLike[str], in_channels: int) -> Teacher:
    """A frozen model from a checkpoint of this project (its moving-average weights when it has
    them) or, when the file is a TorchScript archive, the TorchScript program it holds (run by
    TorchScript's interpreter, not Python); grey input is replicated for a 3-channel network."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no teacher file at {path}")
    model = (
        load_torchscript(path)
        if is_torchscript(path)
        else model_from_checkpoint(load_checkpoint(path), ema=True)
    )
    return Teacher(model, getattr(model, "config", {}).get("in_channels", in_channels))


def output_size(teacher: nn.Module, example: torch.Tensor) -> int:
    """How many values the teacher gives per image (probed on one image)."""
    return teacher(example[None]).shape[1]


class ClassToAttributes(nn.Module):
    """A classifier as an attribute teacher: P(attribute) = sum of the probabilities of the
    classes that have it (``table``: classes x attributes, 0/1), returned as logits."""

    def __init__(self, classifier: nn.Module, table: torch.Tensor) -> None:
        super().__init__()
        self.classifier = classifier
        self.register_buffer("table", table.float())

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        probability = (self.classifier(images).float().softmax(1) @ self.table).clamp(
            1e-6, 1 - 1e-6
        )
        return probability.logit()


class ProjectedFeatures(nn.Module):
    """A classifier's penultimate (globally pooled) features, centred, projected on their
    leading principal directions and L2-normalised: an embedding teacher made from a classifier."""

    def __init__(self, backbone: nn.Module, mean: torch.Tensor, projection: torch.Tensor) -> None:
        super().__init__()
        self.backbone = backbone
        self.register_buffer("mean", mean)
        self.register_buffer("projection", projection)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = pooled_features(self.backbone, images)
        return F.normalize((features - self.mean) @ self.projection.T, dim=1)


def pooled_features(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    return model.forward_head(model.forward_features(images), pre_logits=True).float()


class _Features(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return pooled_features(self.model, images)


def project_classifier(
    teacher: Teacher, dataset: Dataset, dim: int = EMBEDDING_DIM, images: int = PROJECTION_IMAGES
) -> Teacher:
    """``ProjectedFeatures`` fitted by PCA on the features of the first ``images`` of ``dataset``."""
    network = teacher.model
    if not hasattr(network, "forward_features"):
        raise ValueError(
            "an embedding teacher must output embeddings or be a MobileNet classifier of this project"
        )
    sample = Subset(dataset, range(min(images, len(dataset))))
    features = compute_teacher_outputs(Teacher(_Features(network), teacher.in_channels), sample)
    if min(features.shape) < dim:
        raise ValueError(
            f"the teacher's {features.shape[1]} features of {features.shape[0]} images cannot give "
            f"{dim} principal directions"
        )
    mean = features.mean(0)
    _, _, directions = torch.linalg.svd(features - mean, full_matrices=False)
    return Teacher(
        ProjectedFeatures(network, mean, directions[:dim].contiguous()), teacher.in_channels
    )


def embedding_teacher(path: str | os.PathLike[str], train: Dataset, in_channels: int) -> Teacher:
    """The embedding teacher at ``path``: a model that already outputs an embedding (a
    ``train-embedding`` checkpoint, a TorchScript file; its output is L2-normalised), or a
    classifier of this project made into one by ``project_classifier`` on ``train``."""
    teacher = load_module(path, in_channels)
    if getattr(teacher.model, "config", {}).get("embedding_dim") or isinstance(
        teacher.model, torch.jit.ScriptModule
    ):
        return Teacher(_Normalized(teacher.model), teacher.in_channels)
    return project_classifier(teacher, train)


class _Normalized(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model(images).float(), dim=1)


def attribute_teacher(
    path: str | os.PathLike[str],
    example: torch.Tensor,
    attributes: int,
    class_table: torch.Tensor | None,
) -> Teacher:
    """The attribute teacher at ``path``: a model with one logit per attribute, or (with the
    stand-in's ``class_table``) a classifier of its classes made into one by ``ClassToAttributes``."""
    teacher = load_module(path, example.shape[0])
    outputs = output_size(teacher, example)
    if outputs == attributes:
        return teacher
    if class_table is not None and outputs == class_table.shape[0]:
        return Teacher(ClassToAttributes(teacher.model, class_table), teacher.in_channels)
    raise ValueError(
        f"teacher {path} gives {outputs} outputs; the data has {attributes} attributes"
    )
