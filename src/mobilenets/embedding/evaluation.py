"""Evaluating and using trained students: mean AP per attribute, verification rates, and
embeddings of image files. What the inputs need comes from the checkpoint."""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader

from ..cost import count_cost
from ..data.images import read_image
from ..data.transforms import build_transforms
from ..files import refuse_existing
from ..train.checkpoint import checkpoint_file, load_checkpoint, model_from_checkpoint
from ..train.classification import load_data
from ..train.config import TrainConfig
from .attributes import load_attribute_data
from .metrics import MAX_PAIR_IMAGES, curve_rates, mean_average_precision, pair_distances, verification_curve
from .plots import plot_attributes, plot_roc
from .paper_rows import TABLE12, TABLE14, paper_row
from .tasks import outputs_and_labels


def load_student(path: str | os.PathLike[str], kind: str, *, ema: bool = False) -> tuple[nn.Module, dict[str, Any]]:
    """The network (eval mode) and checkpoint of an ``attributes`` or ``embedding`` run."""
    checkpoint = load_checkpoint(path)
    key = "attributes" if kind == "attributes" else "embedding_dim"
    if key not in (checkpoint.get("task") or {}):
        raise ValueError(f"{path} is not a checkpoint of `mobilenets train-{'attributes' if kind == 'attributes' else 'embedding'}`")
    return model_from_checkpoint(checkpoint, ema=ema).eval(), checkpoint


def _eval_config(checkpoint: dict[str, Any], data: str | None, limit: int | None) -> TrainConfig:
    saved = TrainConfig.from_dict(checkpoint["config"])
    return dataclasses.replace(saved, data=data or saved.data, limit_train=1, limit_val=limit, in_channels=checkpoint["task"]["in_channels"])


def _cost(model: nn.Module) -> dict[str, float]:
    cost = count_cost(model)
    return {"mult_adds": cost.mult_adds, "params": cost.params}


def evaluate_attributes(
    path: str | os.PathLike[str], data: str | None = None, *, limit: int | None = None, batch_size: int = 256, ema: bool = False,
    plot: str | os.PathLike[str] | None = None, force: bool = False,
) -> dict[str, Any]:
    """Mean AP and every attribute's AP against the labels of the validation split, the chance
    level (each attribute's frequency: the AP of scores that ignore the image) and Table 12's row.
    With ``plot``, the APs beside their chance levels are also drawn to that PNG ("plot")."""
    if plot is not None:
        refuse_existing(plot, force=force)
    model, checkpoint = load_student(path, "attributes", ema=ema)
    config = _eval_config(checkpoint, data, limit)
    attributes = load_attribute_data(config)
    if attributes.names != checkpoint["task"]["attributes"]:
        raise ValueError(f"{config.data} has attributes {attributes.names}; the checkpoint predicts {checkpoint['task']['attributes']}")
    logits, labels = outputs_and_labels(model, DataLoader(attributes.val, batch_size=batch_size))
    mean_ap, per_attribute = mean_average_precision(logits, labels)
    frequency = labels.mean(0).tolist()
    result = {
        "checkpoint": str(path), "data": config.data, "images": len(labels), "map": mean_ap,
        "per_attribute": dict(zip(attributes.names, per_attribute)),
        "frequency": dict(zip(attributes.names, frequency)), "chance_map": sum(frequency) / len(frequency),
        "alpha": config.alpha, "resolution": config.resolution, **_cost(model),
        "paper_table12": paper_row(TABLE12, config.alpha, config.resolution),
    }
    if plot is not None:
        title = (f"{_name(path)} on {config.data} ({len(labels)} images): mean AP {mean_ap:.2%} "
                 f"(chance {result['chance_map']:.2%})")
        if plot_attributes(result["per_attribute"], result["frequency"], plot, title=title, force=force):
            result["plot"] = str(plot)
    return result


def evaluate_embedding(
    path: str | os.PathLike[str], data: str | None = None, *, limit: int = MAX_PAIR_IMAGES, far: float = 1e-4,
    batch_size: int = 256, ema: bool = False, plot: str | os.PathLike[str] | None = None, force: bool = False,
) -> dict[str, Any]:
    """Verification on all pairs of the first ``limit`` validation images (same identity = same
    class): the true-accept rate at a false-accept rate of ``far``, the best-threshold accuracy
    on balanced pairs, and Table 14's row. With ``plot``, the ROC is also drawn to that PNG ("plot")."""
    if plot is not None:
        refuse_existing(plot, force=force)
    model, checkpoint = load_student(path, "embedding", ema=ema)
    config = _eval_config(checkpoint, data, limit)
    bundle = load_data(config, mean=checkpoint["task"]["mean"], std=checkpoint["task"]["std"])
    embeddings, identities = outputs_and_labels(model, DataLoader(bundle.val, batch_size=batch_size))
    curve = verification_curve(*pair_distances(embeddings, identities))
    rates = curve_rates(curve, far)
    result = {
        "checkpoint": str(path), "data": config.data, "images": len(identities), **rates,
        "alpha": config.alpha, "resolution": config.resolution, **_cost(model),
        "paper_table14": paper_row(TABLE14, config.alpha, config.resolution),
    }
    if plot is not None:
        title = (f"{_name(path)} on {config.data} ({len(identities)} images)\n"
                 f"TAR {rates['tar']:.2%} at FAR {far:g}, accuracy {rates['accuracy']:.2%}")
        if plot_roc(curve, rates, plot, title=title, force=force):
            result["plot"] = str(plot)
    return result


def _name(path: str | os.PathLike[str]) -> str:
    """A checkpoint as a plot's title names it: its run folder and file."""
    file = checkpoint_file(path)
    return f"{file.parent.name}/{file.name}"


@torch.no_grad()
def embed_images(path: str | os.PathLike[str], images: Sequence[str | os.PathLike[str]], *, ema: bool = False) -> list[dict[str, Any]]:
    """The unit-norm embedding of each image file."""
    model, checkpoint = load_student(path, "embedding", ema=ema)
    about = checkpoint["task"]
    transform = build_transforms(
        checkpoint["model_config"]["resolution"], False, in_channels=about["in_channels"],
        mean=about["mean"], std=about["std"], crop_pct=about["crop_pct"],
    )
    vectors = model(torch.stack([transform(read_image(image)) for image in images]))
    return [{"image": str(image), "embedding": vector.tolist()} for image, vector in zip(images, vectors)]
