"""Quantization-aware fine-tuning (PyTorch FX graph mode, x86 backend): prepare a float model,
fine-tune it with the training loop, convert it to int8."""
from __future__ import annotations

import copy
import os
import warnings

import torch
from torch import nn

from .checkpoint import load_checkpoint
from .inputs import random_inputs, real_inputs
from .quantize import x86_example


def prepare_qat(model: nn.Module, calibration: torch.Tensor | None = None, *, batch_size: int = 64) -> nn.Module:
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
        prepared = prepare_qat_fx(copy.deepcopy(model).train(), get_default_qat_qconfig_mapping("x86"), x86_example(model))
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
    float_checkpoint: str | os.PathLike[str], calibration_data: str | None = None, calibration_images: int = 256,
) -> nn.Module:
    """The QAT-prepared model of a float checkpoint, its observers calibrated on
    ``calibration_images`` of ``calibration_data`` (fashion-mnist or a folder; generated inputs
    when None): what ``mobilenets train --qat --init C`` trains, and the factory its
    checkpoints record (so ``export`` and ``--resume`` can rebuild them)."""
    model = load_checkpoint(float_checkpoint)
    if calibration_data is None:
        calibration = random_inputs(model, calibration_images)
    else:
        calibration = real_inputs(model, calibration_data, calibration_images, train=True)
    return prepare_qat(model, calibration)


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
