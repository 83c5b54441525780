"""Quantization-aware fine-tuning (PyTorch FX graph mode, x86 backend): prepare a float model,
fine-tune it with the training loop, convert it to int8."""
from __future__ import annotations

import copy
import os
import warnings

import torch
from torch import nn

from .checkpoint import load_checkpoint
from .quantize import x86_example


def prepare_qat(model: nn.Module) -> nn.Module:
    """A copy of a float model ready for quantization-aware fine-tuning: conv+BN+ReLU fused
    into QAT modules whose weights and activations are fake-quantized as the x86 backend will
    quantize them (per-channel weights). Train it as usual, then call :func:`convert_qat`.
    BN statistics are frozen from the start: a trained float model needs no new ones, and
    training then computes what the int8 model will (measured on Fashion-MNIST: letting them
    move cost 8 top-1 points in fine-tuning and 12 more in conversion).
    ``pretrained_cfg`` and ``config`` are carried over, so exports and inputs still work."""
    from torch.ao.nn.intrinsic.qat import freeze_bn_stats
    from torch.ao.quantization import get_default_qat_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_qat_fx

    torch.backends.quantized.engine = "x86"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's own deprecation notices, not the user's
        prepared = prepare_qat_fx(copy.deepcopy(model).train(), get_default_qat_qconfig_mapping("x86"), x86_example(model))
    prepared.apply(freeze_bn_stats)
    for attribute in ("pretrained_cfg", "config"):
        if hasattr(model, attribute):
            setattr(prepared, attribute, copy.deepcopy(getattr(model, attribute)))
    return prepared


def prepared_model(float_checkpoint: str | os.PathLike[str]) -> nn.Module:
    """The QAT-prepared model of a float checkpoint: what ``mobilenets train --qat --init C``
    trains, and the factory its checkpoints record (so ``export`` can rebuild them)."""
    return prepare_qat(load_checkpoint(float_checkpoint))


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
