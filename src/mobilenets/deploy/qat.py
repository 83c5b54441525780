"""Quantization-aware fine-tuning (PyTorch FX graph mode, x86 backend): prepare a float model,
fine-tune it with the training loop, convert it to int8."""

from __future__ import annotations

import copy
import dataclasses
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..classification.training import fit, train_config
from ..models import builder_name, register_builder
from ..train.checkpoint import load_checkpoint
from .checkpoint import model_from_state
from .inputs import random_inputs, real_inputs
from .quantize import x86_example


def prepare_qat(
    model: nn.Module, calibration: torch.Tensor | None = None, *, batch_size: int = 64
) -> nn.Module:
    """A copy of a float model ready for quantization-aware fine-tuning: conv+BN+ReLU fused
    into QAT modules whose weights and activations are fake-quantized as the x86 backend will
    quantize them (per-channel weights). Train it as usual, then call :func:`convert_qat`.
    BN statistics are frozen from the start: a trained float model needs no new ones, and
    training then computes what the int8 model will (measured on Fashion-MNIST: letting them
    move cost 8 top-1 points in fine-tuning and 12 more in conversion).
    The observers are calibrated on ``calibration`` before any training step: left to the
    first training batch, fine-tuning collapsed (Fashion-MNIST: 82% -> 20% top-1 in one epoch;
    83.8% with calibration first). ``pretrained_cfg`` and ``config`` are carried over, so
    exports and inputs still work."""
    from torch.ao.nn.intrinsic.qat import freeze_bn_stats
    from torch.ao.quantization import get_default_qat_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_qat_fx

    torch.backends.quantized.engine = "x86"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's own deprecation notices, not the user's
        prepared = prepare_qat_fx(
            copy.deepcopy(model).train(), get_default_qat_qconfig_mapping("x86"), x86_example(model)
        )
    prepared.apply(freeze_bn_stats)
    if calibration is not None:
        with torch.no_grad():
            for batch in calibration.split(batch_size):
                prepared(batch)
    for attribute in ("pretrained_cfg", "config"):
        if hasattr(model, attribute):
            setattr(prepared, attribute, copy.deepcopy(getattr(model, attribute)))
    return prepared


def prepared_model(
    float_checkpoint: str | os.PathLike[str],
    calibration_data: str | None = None,
    calibration_images: int = 256,
) -> nn.Module:
    """The QAT-prepared model of a float checkpoint, its observers calibrated on
    ``calibration_images`` of ``calibration_data`` (fashion-mnist or a folder; generated inputs
    when None): what ``mobilenets train --qat --init C`` trains, and the factory its
    checkpoints record (so ``export`` and ``--resume`` can rebuild them)."""
    state = load_checkpoint(float_checkpoint)
    if state.get("model_factory") == builder_name(
        prepared_model
    ):  # a file naming itself would recurse forever
        raise ValueError(
            f"{float_checkpoint} is a quantization-aware checkpoint; QAT starts from a float network"
        )
    model = model_from_state(state, float_checkpoint)
    if calibration_data is None:
        calibration = random_inputs(model, calibration_images)
    else:
        calibration = real_inputs(model, calibration_data, calibration_images, train=True)
    return prepare_qat(model, calibration)


register_builder(prepared_model)


def train_qat(*, force: bool = False, progress: bool = True, **settings: Any) -> dict[str, Any]:
    """Quantization-aware fine-tuning of the float network ``init`` names (``settings`` are
    TrainConfig fields, as for ``train.training.train``); its checkpoints record the factory
    that rebuilds the prepared network for resume, eval and export."""
    config = train_config(**settings)
    if not config.init:
        raise ValueError("--qat fine-tunes a trained float network: give --init FLOAT_CHECKPOINT")
    # Observers are calibrated on the training data when it is fashion-mnist or a folder.
    data = config.data if config.data == "fashion-mnist" or Path(config.data).is_dir() else None
    kwargs = {"float_checkpoint": str(Path(config.init).resolve()), "calibration_data": data}
    # The prepared model carries the float weights already; init must not load them again.
    return fit(
        dataclasses.replace(config, init=None),
        model=prepared_model(**kwargs),
        model_factory=(builder_name(prepared_model), kwargs),
        force=force,
        progress=progress,
    )


def is_qat_prepared(model: nn.Module) -> bool:
    from torch.ao.quantization import FakeQuantizeBase

    return any(isinstance(module, FakeQuantizeBase) for module in model.modules())


def convert_qat(model: nn.Module) -> nn.Module:
    """The int8 module (PyTorch x86 backend) of a model prepared by :func:`prepare_qat` and
    fine-tuned."""
    from torch.ao.quantization.quantize_fx import convert_fx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = convert_fx(copy.deepcopy(model).eval())
    if hasattr(model, "pretrained_cfg"):
        converted.pretrained_cfg = model.pretrained_cfg
    return converted
