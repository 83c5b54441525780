"""Distillation teachers: a checkpoint of this project or a torchvision classifier with local
weights, and their outputs computed once for the un-augmented training images."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..messages import first_line
from ..progress import progress_bar
from ..pt_files import load_pt, save_pt
from .batches import to_device
from .checkpoint import load_checkpoint, model_from_checkpoint


class Teacher(nn.Module):
    """A frozen classifier in eval mode; grey inputs are replicated for a 3-channel network."""

    def __init__(self, model: nn.Module, in_channels: int) -> None:
        super().__init__()
        self.model = model.eval()
        for (
            parameter
        ) in model.parameters():  # one by one: a TorchScript module has no requires_grad_()
            parameter.requires_grad_(False)
        self.in_channels = in_channels

    def train(self, mode: bool = True) -> Teacher:  # a teacher never leaves eval mode
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] == 1 and self.in_channels == 3:
            images = images.expand(-1, 3, -1, -1)
        return self.model(images)


def _first_conv_channels(model: nn.Module) -> int:
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return conv.in_channels if conv is not None else 3


def load_teacher(
    name_or_checkpoint: str, *, weights: str | None = None, num_classes: int
) -> Teacher:
    """A checkpoint path of this project, or a torchvision model name whose weights come from the
    local file ``weights`` (a state_dict; nothing is downloaded)."""
    if Path(name_or_checkpoint).exists():
        checkpoint = load_checkpoint(name_or_checkpoint)
        model = model_from_checkpoint(checkpoint, ema=True)
    else:
        names = torchvision.models.list_models(module=torchvision.models)
        if name_or_checkpoint not in names:
            raise ValueError(
                f"teacher {name_or_checkpoint!r} is neither a checkpoint file nor a torchvision "
                f"classification model (e.g. {', '.join(names[:4])}, ...)"
            )
        if not weights:
            raise ValueError(
                f"teacher {name_or_checkpoint} needs --teacher-weights FILE (weights are never downloaded)"
            )
        model = torchvision.models.get_model(
            name_or_checkpoint, weights=None, num_classes=num_classes
        )
        state = load_pt(weights, "state_dict of teacher weights")
        try:
            model.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
        except RuntimeError as error:
            raise ValueError(
                f"teacher weights {weights} do not fit {name_or_checkpoint} "
                f"with {num_classes} classes: {first_line(error)}"
            ) from None
    outputs = getattr(model, "num_classes", None)
    if outputs is not None and not callable(outputs) and outputs != num_classes:
        raise ValueError(
            f"teacher {name_or_checkpoint} has {outputs} classes; the data has {num_classes}"
        )
    return Teacher(model, _first_conv_channels(model))


@torch.no_grad()
def compute_teacher_outputs(
    teacher: nn.Module,
    dataset: Dataset,
    *,
    batch_size: int = 256,
    workers: int = 0,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """The teacher's logits for every item of ``dataset``, in index order (float32, N x classes)."""
    device = torch.device(device)
    teacher = teacher.to(device).eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    logits = [
        teacher(to_device(images, device)).float().cpu()
        for images, _ in progress_bar(
            loader, desc="teacher outputs", unit="batch", dynamic_ncols=True
        )
    ]
    return torch.cat(logits)


def save_teacher_outputs(path: str | os.PathLike[str], logits: torch.Tensor, **about: Any) -> None:
    save_pt({"logits": logits, **about}, path, force=True)


def write_teacher_outputs(
    teacher: nn.Module,
    dataset: Dataset,
    out: str | os.PathLike[str],
    *,
    about: dict[str, Any],
    device: str,
    batch_size: int,
    workers: int,
) -> torch.Tensor:
    """Computes ``teacher``'s outputs once for every item of ``dataset`` (in index order, on
    CUDA when ``device`` allows it) and saves them with ``about`` for ``--teacher-outputs``."""
    where = "cuda" if device != "cpu" and torch.cuda.is_available() else "cpu"
    outputs = compute_teacher_outputs(
        teacher, dataset, batch_size=batch_size, workers=workers, device=where
    )
    save_teacher_outputs(out, outputs, **about)
    return outputs


def load_teacher_outputs(
    path: str | os.PathLike[str], *, num_images: int, num_classes: int
) -> torch.Tensor:
    """Precomputed logits, checked against the training set they are used with."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no teacher outputs at {path}")
    saved = load_pt(path, "teacher-outputs file")
    logits = saved.get("logits") if isinstance(saved, dict) else None
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or not logits.is_floating_point():
        raise ValueError(f"{path} holds no teacher outputs (from `mobilenets teacher-outputs`)")
    if not logits.isfinite().all():
        raise ValueError(f"teacher outputs in {path} hold NaN or infinite values")
    if logits.shape[1] != num_classes:
        raise ValueError(
            f"teacher outputs in {path} have {logits.shape[1]} classes; the data has {num_classes}"
        )
    if logits.shape[0] < num_images:
        raise ValueError(
            f"teacher outputs in {path} cover {logits.shape[0]} images; the training set has {num_images}"
        )
    return logits
