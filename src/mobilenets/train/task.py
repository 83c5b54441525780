"""The ``Task`` interface: what the training loop asks of a problem (classification, detection, ...).

One loop (``mobilenets.train.loop.fit``) serves every task: it owns the model's device and
precision, distribution, samplers and seeds, the optimizer/schedule/EMA, progress, metrics,
checkpoints and resume. A task owns only what differs between problems:

``build_datasets(config)``
    Opens the data and returns ``(train, val)`` torch Datasets. Called once, on every rank,
    first: everything the data decides (class names, a cell partition) is set here, and the
    other methods are called only after it. The loop wraps the datasets in DataLoaders with
    its own (distributed, seeded) sampler.
``build_model(config)``
    The network to train, built after the data is open (unused when ``fit`` is given a model
    or resumes a checkpoint that records its factory). The default builds the MobileNetV1 the
    config describes (a registered name, released weights, or alpha/resolution/variant) with
    ``model_kwargs()``; a detector overrides it (its backbone's starting weights).
``model_kwargs()``
    Keyword arguments the data decides for the default ``build_model``, e.g.
    ``{"num_classes": 10, "in_channels": 1}``.
``collate(items)``
    Turns a list of dataset items into a batch (default: ``torch.utils.data.default_collate``;
    detection returns ``(list_of_images, list_of_target_dicts)``).
``loss(model, batch) -> (loss, batch_size, metrics)``
    ``batch`` is already on the model's device (tensors anywhere inside tuples, lists and dicts
    are moved). Return the scalar loss to minimise (a mean over the batch), the number of
    samples in it, and a dict of per-batch MEAN metrics (e.g. ``{"accuracy": 0.81}``) that the
    loop averages over the epoch weighted by batch size and all-reduces across ranks.
    ``model`` is the training-mode model (DDP-wrapped under torchrun: call it, do not reach
    into it). The loop runs this under autocast when mixed precision is on.
``evaluate(model, loader) -> dict[str, float]``
    Runs on rank 0 only, under ``torch.no_grad()``, with the unwrapped model in eval mode,
    over the whole validation set (``loader`` yields CPU batches made by ``collate``: move
    them with ``mobilenets.train.loop.to_device(batch, device)``; take the device from the
    model's parameters). Must return ``primary_metric``; "loss" is shown when present.
    Classification returns top1, top5, loss; detection returns map, map_50.
``primary_metric``
    The key of ``evaluate``'s dict that selects ``best.pt`` (higher is better).
``state()``
    A small dict saved as ``checkpoint["task"]`` (class names, mean, std, ...) so that
    evaluation and prediction can rebuild inputs from the checkpoint alone.
``summary()``
    Extra entries for summary.json (e.g. ``{"skipped_files": 3}``).
``cost(model, config)``
    One input's mult-adds and the parameters (``mobilenets.cost.Cost``), counted on the CPU
    model before training; the default feeds one (in_channels, resolution, resolution) image.
    Detection overrides it to pass ``example=`` to ``count_cost``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, default_collate

from ..cost import Cost, count_cost
from ..models import mobilenet_v1
from ..weights import create_model
from .config import TrainConfig
from .transfer import pretrained_start


class Task:
    """Base class of a training task; subclasses override what their problem needs."""

    primary_metric: str = "top1"

    def build_datasets(self, config: TrainConfig) -> tuple[Dataset, Dataset]:
        raise NotImplementedError

    def build_model(self, config: TrainConfig) -> nn.Module:
        kwargs = self.model_kwargs()
        if config.pretrained:
            return pretrained_start(config, **kwargs)
        kwargs.update(dropout=config.dropout, alpha=config.alpha, resolution=config.resolution)
        if config.model:
            return create_model(config.model, **kwargs)
        return mobilenet_v1(variant=config.variant, **kwargs)

    def model_kwargs(self) -> dict[str, Any]:
        return {}

    def collate(self, items: list[Any]) -> Any:
        return default_collate(items)

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, int, dict[str, float]]:
        raise NotImplementedError

    def evaluate(self, model: nn.Module, loader: Any) -> dict[str, float]:
        raise NotImplementedError

    def state(self) -> dict[str, Any]:
        return {}

    def summary(self) -> dict[str, Any]:
        return {}

    def cost(self, model: nn.Module, config: TrainConfig) -> Cost:
        in_channels = getattr(model, "config", {}).get("in_channels", 3)
        return count_cost(model, (in_channels, config.resolution, config.resolution))
