"""timm's MobileNet v1 state dicts (``mobilenetv1_100``, ``_125``, ``_100h``: timm's EfficientNet
builder) as this model's, tensor for tensor.

timm names the stem ``conv_stem``/``bn1``, the 13 separable layers ``blocks.{stage}.{block}``
(``conv_dw``/``bn1``, ``conv_pw``/``bn2``) in stages of 1, 2, 2, 6 and 2 blocks, the optional
head convolution ``conv_head``/``bn2``, and the classifier ``classifier``. Its networks use
PyTorch's symmetric padding, ReLU6 and batch-norm epsilon 1e-5 (``TIMM_ARCHITECTURE``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..models.spec import MOBILENET_V1_BODY
from .releases import TIMM_ARCHITECTURE, TIMM_RELEASES

# Blocks per stage of timm's arch_def for MobileNet v1 (dsa_r1, dsa_r2, dsa_r2, dsa_r6, dsa_r2).
TIMM_STAGE_DEPTHS = (1, 2, 2, 6, 2)
_BATCH_NORM = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def is_timm_state(state: Mapping[str, Any]) -> bool:
    """Whether a state dict is laid out as timm's (its stem is ``conv_stem``)."""
    return "conv_stem.weight" in state


def timm_key_map(head: bool) -> dict[str, str]:
    """timm's state-dict key -> this model's, for every tensor of the network (the classifier
    included, the head convolution when ``head``)."""
    layers = {"conv_stem": "Conv2d_0.conv", "bn1": "Conv2d_0.bn"}
    index = 1
    for stage, depth in enumerate(TIMM_STAGE_DEPTHS):
        for block in range(depth):
            prefix = f"blocks.{stage}.{block}"
            layers.update(
                {
                    f"{prefix}.conv_dw": f"Conv2d_{index}_depthwise.conv",
                    f"{prefix}.bn1": f"Conv2d_{index}_depthwise.bn",
                    f"{prefix}.conv_pw": f"Conv2d_{index}_pointwise.conv",
                    f"{prefix}.bn2": f"Conv2d_{index}_pointwise.bn",
                }
            )
            index += 1
    mapping = {}
    for timm_name, name in layers.items():
        target = f"features.{name}"
        if timm_name.endswith(("conv_stem", "conv_dw", "conv_pw")):
            mapping[f"{timm_name}.weight"] = f"{target}.weight"
        else:
            mapping.update({f"{timm_name}.{key}": f"{target}.{key}" for key in _BATCH_NORM})
    if head:
        mapping["conv_head.weight"] = "head.conv.weight"
        mapping.update({f"bn2.{key}": f"head.bn.{key}" for key in _BATCH_NORM})
    mapping.update({"classifier.weight": "classifier.weight", "classifier.bias": "classifier.bias"})
    return mapping


def timm_config(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """The MobileNetV1 arguments a timm state dict implies: alpha from the last layer's width,
    the head convolution's width, the class count (0 without classifier), the input channels."""
    last = f"blocks.{len(TIMM_STAGE_DEPTHS) - 1}.{TIMM_STAGE_DEPTHS[-1] - 1}.conv_pw.weight"
    if last not in state:
        raise ValueError(
            f"not a timm MobileNet v1 state dict: it has no {last} (another timm network?)"
        )
    head = state.get("conv_head.weight")
    return dict(
        alpha=state[last].shape[0] / MOBILENET_V1_BODY[-1].depth,
        num_classes=int(state["classifier.weight"].shape[0]) if "classifier.weight" in state else 0,
        in_channels=int(state["conv_stem.weight"].shape[1]),
        head_features=int(head.shape[0]) if head is not None else 0,
        variant="separable",
        **TIMM_ARCHITECTURE,
    )


def timm_pretrained_cfg(config: Mapping[str, Any]) -> dict[str, Any]:
    """The evaluation preprocessing of timm's release with this architecture (width and head),
    or timm's defaults for its MobileNets (bicubic, crop 0.875, inputs in [-1, 1])."""
    for release in TIMM_RELEASES:
        args = release.model_args
        if (
            args["alpha"] == config["alpha"]
            and args.get("head_features", 0) == config["head_features"]
        ):
            return dict(release.pretrained_cfg)
    return dict(
        input_size=(3, 224, 224),
        interpolation="bicubic",
        crop_pct=0.875,
        mean=(0.5,) * 3,
        std=(0.5,) * 3,
    )


def timm_to_model_state(
    state: Mapping[str, torch.Tensor], source: Any
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(MobileNetV1 arguments, state dict) of a timm MobileNet v1 state dict, renamed tensor for
    tensor; a tensor MobileNet v1 lacks, lacking one it has, or one holding NaN or infinite values
    is an error naming it (shapes are checked when the weights are loaded into a model)."""
    config = timm_config(state)
    mapping = timm_key_map(head=bool(config["head_features"]))
    unknown = [key for key in state if key not in mapping]
    if unknown:
        found = ", ".join(unknown[:4]) + (", ..." if len(unknown) > 4 else "")
        raise ValueError(
            f"{source} is not a timm MobileNet v1 state dict: it has tensors MobileNet v1 does not ({found})"
        )
    missing = [
        key
        for key, name in mapping.items()
        if key not in state
        and not key.endswith("num_batches_tracked")
        and not (name.startswith("classifier.") and not config["num_classes"])
    ]
    if missing:
        raise ValueError(
            f"{source}: the timm state dict lacks {missing[0]}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    broken = [
        key
        for key, tensor in state.items()
        if tensor.is_floating_point() and not tensor.isfinite().all()
    ]
    if broken:
        raise ValueError(
            f"{source}: {broken[0]} holds NaN or infinite values; these weights are broken"
        )
    converted = {mapping[key]: tensor for key, tensor in state.items()}
    for name in mapping.values():
        if name.endswith("num_batches_tracked"):
            converted.setdefault(name, torch.tensor(0))
    return config, converted
