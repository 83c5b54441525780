"""Evaluating trained students: ``load`` one, mean AP per attribute, verification rates. What
the inputs need comes from the checkpoint."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from torch import nn
from torch.utils.data import DataLoader

from ..cost import count_cost
from ..train.checkpoint import checkpoint_file, load_checkpoint, model_from_checkpoint, plot_file
from ..train.config import TrainConfig
from ..train.data import load_data
from .attributes import load_attribute_data
from .metrics import (
    MAX_PAIR_IMAGES,
    curve_rates,
    mean_average_precision,
    pair_distances,
    verification_curve,
)
from .paper_rows import TABLE12, TABLE14, paper_row
from .plots import plot_attributes, plot_roc
from .task import outputs_and_labels


def load(
    path: str | os.PathLike[str], kind: str, *, ema: bool = False
) -> tuple[nn.Module, dict[str, Any]]:
    """The network (eval mode) and checkpoint of an ``attributes`` or ``embedding`` run."""
    checkpoint = load_checkpoint(path)
    key = "attributes" if kind == "attributes" else "embedding_dim"
    if key not in (checkpoint.get("task") or {}):
        raise ValueError(
            f"{path} is not a checkpoint of `mobilenets train-{'attributes' if kind == 'attributes' else 'embedding'}`"
        )
    return model_from_checkpoint(checkpoint, ema=ema).eval(), checkpoint


def _eval_config(checkpoint: dict[str, Any], data: str | None, limit: int | None) -> TrainConfig:
    saved = TrainConfig.from_dict(checkpoint["config"])
    return dataclasses.replace(
        saved,
        data=data or saved.data,
        limit_train=1,
        limit_val=limit,
        in_channels=checkpoint["task"]["in_channels"],
    )


def _cost(model: nn.Module) -> dict[str, float]:
    cost = count_cost(model)
    return {"mult_adds": cost.mult_adds, "params": cost.params}


def evaluate_attributes(
    path: str | os.PathLike[str],
    data: str | None = None,
    *,
    limit: int | None = None,
    batch_size: int = 256,
    ema: bool = False,
    plot: str | os.PathLike[str] | None = None,
    draw: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Mean AP and every attribute's AP against the labels of the validation split, the chance
    level (each attribute's frequency: the AP of scores that ignore the image) and Table 12's row.
    With ``draw``, the APs beside their chance levels are also drawn to the PNG ``plot``
    (default: its own ``best.attributes.png`` beside the checkpoint; see ``plot_file``); the
    result's "plot" names it."""
    if draw:
        plot, force = plot_file(plot, path, ".attributes.png", force=force)
    model, checkpoint = load(path, "attributes", ema=ema)
    config = _eval_config(checkpoint, data, limit)
    attributes = load_attribute_data(config)
    if attributes.names != checkpoint["task"]["attributes"]:
        raise ValueError(
            f"{config.data} has attributes {attributes.names}; the checkpoint predicts "
            f"{checkpoint['task']['attributes']}"
        )
    logits, labels = outputs_and_labels(model, DataLoader(attributes.val, batch_size=batch_size))
    mean_ap, per_attribute = mean_average_precision(logits, labels)
    frequency = labels.mean(0).tolist()
    result = {
        "checkpoint": str(path),
        "data": config.data,
        "images": len(labels),
        "map": mean_ap,
        "per_attribute": dict(zip(attributes.names, per_attribute)),
        "frequency": dict(zip(attributes.names, frequency)),
        "chance_map": sum(frequency) / len(frequency),
        "alpha": config.alpha,
        "resolution": config.resolution,
        **_cost(model),
        "paper_table12": paper_row(TABLE12, config.alpha, config.resolution),
    }
    if draw:
        title = (
            f"{_name(path)} on {config.data} ({len(labels)} images): mean AP {mean_ap:.2%} "
            f"(chance {result['chance_map']:.2%})"
        )
        if plot_attributes(
            result["per_attribute"], result["frequency"], plot, title=title, force=force
        ):
            result["plot"] = str(plot)
    return result


def evaluate_embedding(
    path: str | os.PathLike[str],
    data: str | None = None,
    *,
    limit: int = MAX_PAIR_IMAGES,
    far: float = 1e-4,
    batch_size: int = 256,
    ema: bool = False,
    plot: str | os.PathLike[str] | None = None,
    draw: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Verification on all pairs of the first ``limit`` validation images (same identity = same
    class): the true-accept rate at a false-accept rate of ``far``, the best-threshold accuracy
    on balanced pairs, and Table 14's row. With ``draw``, the ROC is also drawn to the PNG ``plot``
    (default: its own ``best.roc.png`` beside the checkpoint; see ``plot_file``)."""
    if draw:
        plot, force = plot_file(plot, path, ".roc.png", force=force)
    model, checkpoint = load(path, "embedding", ema=ema)
    config = _eval_config(checkpoint, data, limit)
    bundle = load_data(config, mean=checkpoint["task"]["mean"], std=checkpoint["task"]["std"])
    embeddings, identities = outputs_and_labels(
        model, DataLoader(bundle.val, batch_size=batch_size)
    )
    curve = verification_curve(*pair_distances(embeddings, identities))
    rates = curve_rates(curve, far)
    result = {
        "checkpoint": str(path),
        "data": config.data,
        "images": len(identities),
        **rates,
        "alpha": config.alpha,
        "resolution": config.resolution,
        **_cost(model),
        "paper_table14": paper_row(TABLE14, config.alpha, config.resolution),
    }
    if draw:
        title = (
            f"{_name(path)} on {config.data} ({len(identities)} images)\n"
            f"TAR {rates['tar']:.2%} at FAR {far:g}, accuracy {rates['accuracy']:.2%}"
        )
        if plot_roc(curve, rates, plot, title=title, force=force):
            result["plot"] = str(plot)
    return result


def _name(path: str | os.PathLike[str]) -> str:
    """A checkpoint as a plot's title names it: its run folder and file."""
    file = checkpoint_file(path)
    return f"{file.parent.name}/{file.name}"
