"""Google's released MobileNet v1 weights (Keras h5 and TF-slim checkpoints) as this model's
state dict, with the model configuration they imply.

Both formats are first put in one reference form, ``{endpoint: {kernel, gamma, beta,
moving_mean, moving_variance}}`` plus ``Logits: {kernel, bias}`` (TensorFlow layouts), and one
function maps that onto the torch modules, checking every shape. The released networks use
TensorFlow's SAME padding, ReLU6 and batch-norm epsilon 1e-3: ``RELEASED_ARCHITECTURE``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..models.mobilenet_v1 import MobileNetV1
from ..models.spec import MOBILENET_V1_BODY
from .keras_h5 import read_keras_h5
from .releases import GOOGLE_ARCHITECTURE
from .tf_checkpoint import TFCheckpoint

RELEASED_ARCHITECTURE: dict[str, Any] = {**GOOGLE_ARCHITECTURE, "variant": "separable"}
LOGITS = "Logits"
_BATCH_NORM = ("gamma", "beta", "moving_mean", "moving_variance")
_KERAS_LAYER = re.compile(
    r"(?:conv1|conv_(?P<kind>dw|pw)_(?P<index>\d+)|(?P<logits>conv_preds))(?P<bn>_bn)?"
)
_SLIM_SCOPE = "MobilenetV1"
# Released file names carry the resolution: mobilenet_1_0_224_tf.h5, mobilenet_v1_0.5_160.ckpt.
_RESOLUTION_IN_NAME = re.compile(r"_(\d{2,4})(?=_tf|_quant|\.ckpt|\.h5|\.pt|$)")

ReferenceLayers = dict[str, dict[str, np.ndarray]]


def body_endpoints() -> list[str]:
    """The endpoints that hold weights, in order: ``Conv2d_0``, ``Conv2d_1_depthwise``, ..."""
    names = []
    for spec in MOBILENET_V1_BODY:
        names += (
            [f"Conv2d_{spec.index}"]
            if spec.index == 0
            else [
                f"Conv2d_{spec.index}_depthwise",
                f"Conv2d_{spec.index}_pointwise",
            ]
        )
    return names


def resolution_from_name(path: str | os.PathLike[str]) -> int | None:
    """The input size a released file's name announces (``mobilenet_5_0_160_tf.h5`` -> 160)."""
    found = _RESOLUTION_IN_NAME.findall(Path(str(path)).name.replace("_no_top", ""))
    return int(found[-1]) if found else None


def keras_reference_layers(path: str | os.PathLike[str]) -> ReferenceLayers:
    """A Keras MobileNet h5 file (layers conv1, conv1_bn, conv_dw_{i}[_bn], conv_pw_{i}[_bn],
    conv_preds) in the reference form."""
    layers: ReferenceLayers = {}
    unknown = []
    for name, weights in read_keras_h5(path).items():
        match = _KERAS_LAYER.fullmatch(name)
        if match is None:
            unknown.append(name)
            continue
        if match["logits"]:
            endpoint = LOGITS
        elif match["kind"]:
            endpoint = (
                f"Conv2d_{match['index']}_{'depthwise' if match['kind'] == 'dw' else 'pointwise'}"
            )
        else:
            endpoint = "Conv2d_0"
        renamed = {
            ("kernel" if key == "depthwise_kernel" else key): value
            for key, value in weights.items()
        }
        layers.setdefault(endpoint, {}).update(renamed)
    if unknown:
        found = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        raise ValueError(
            f"{path} is not a Keras MobileNet v1 weights file: it has layers a MobileNet does not ({found})"
        )
    return _require_body(layers, path, "Keras layer", _keras_layer_name)


def _keras_layer_name(endpoint: str) -> str:
    if endpoint == "Conv2d_0":
        return "conv1"
    index, kind = endpoint.split("_")[1:]
    return f"conv_{'dw' if kind == 'depthwise' else 'pw'}_{index}"


def tf_slim_reference_layers(prefix: str | os.PathLike[str]) -> ReferenceLayers:
    """A TF-slim MobileNet v1 checkpoint (``MobilenetV1/Conv2d_0/weights``, ...) in the reference form."""
    checkpoint = TFCheckpoint(prefix)
    layers: ReferenceLayers = {}
    for endpoint in [*body_endpoints(), LOGITS]:
        scope = (
            f"{_SLIM_SCOPE}/{endpoint}"
            if endpoint != LOGITS
            else f"{_SLIM_SCOPE}/Logits/Conv2d_1c_1x1"
        )
        tensors = {
            "kernel": f"{scope}/depthwise_weights"
            if endpoint.endswith("depthwise")
            else f"{scope}/weights",
            "bias": f"{scope}/biases",
            **{key: f"{scope}/BatchNorm/{key}" for key in _BATCH_NORM},
        }
        found = {key: checkpoint.read(name) for key, name in tensors.items() if name in checkpoint}
        if found:
            layers[endpoint] = found
    return _require_body(
        layers, checkpoint.prefix, "TF-slim scope", lambda endpoint: f"{_SLIM_SCOPE}/{endpoint}"
    )


def _require_body(layers: ReferenceLayers, source: Any, what: str, native_name) -> ReferenceLayers:
    missing = [
        endpoint for endpoint in body_endpoints() if "kernel" not in layers.get(endpoint, {})
    ]
    if missing:
        raise ValueError(
            f"{source} is not a MobileNet v1 weights file: {what} {native_name(missing[0])} is missing"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
        )
    return layers


def infer_config(layers: ReferenceLayers) -> dict[str, Any]:
    """The MobileNetV1 arguments the weights imply: alpha from the last layer's width
    (1024 * alpha), the class count from the logits (0 without them), the input channels."""
    last = layers["Conv2d_13_pointwise"]["kernel"]
    logits = layers.get(LOGITS)
    return dict(
        alpha=last.shape[-1] / MOBILENET_V1_BODY[-1].depth,
        num_classes=int(logits["kernel"].shape[-1]) if logits else 0,
        in_channels=int(layers["Conv2d_0"]["kernel"].shape[2]),
        **RELEASED_ARCHITECTURE,
    )


def _torch_kernel(endpoint: str, kernel: np.ndarray) -> np.ndarray:
    """TensorFlow's HWIO (depthwise: H W C multiplier) as torch's OIHW (depthwise: C 1 H W)."""
    if kernel.ndim != 4:
        raise ValueError(
            f"{endpoint}: kernel has shape {kernel.shape}, a 4-d convolution kernel was expected"
        )
    if endpoint == LOGITS:
        return kernel.reshape(kernel.shape[-2], kernel.shape[-1]).T
    return (
        kernel.transpose(2, 3, 0, 1)
        if endpoint.endswith("depthwise")
        else kernel.transpose(3, 2, 0, 1)
    )


def reference_to_model(layers: ReferenceLayers, config: dict[str, Any], source: Any) -> MobileNetV1:
    """``MobileNetV1(**config)`` holding the reference weights; every shape is checked against
    the model, and a mismatch names the layer and both shapes."""
    model = MobileNetV1(**config)
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {}

    def put(key: str, value: np.ndarray, what: str) -> None:
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ValueError(
                f"{source}: {what} has shape {tuple(value.shape)}, a MobileNet v1 of alpha {config['alpha']:g} "
                f"needs {tuple(expected[key].shape)}"
            )
        tensor = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
        if not tensor.isfinite().all():
            raise ValueError(
                f"{source}: {what} holds NaN or infinite values; these weights are broken"
            )
        state[key] = tensor

    for endpoint in body_endpoints():
        weights, prefix = layers[endpoint], f"features.{endpoint}"
        channels = (
            weights["kernel"].shape[-1]
            if not endpoint.endswith("depthwise")
            else weights["kernel"].shape[2]
        )
        put(
            f"{prefix}.conv.weight",
            _torch_kernel(endpoint, weights["kernel"]),
            f"{endpoint} kernel",
        )
        # A batch norm saved without scale or centre (scale=False) means gamma 1 or beta 0.
        defaults = dict(gamma=np.ones(channels), beta=np.zeros(channels))
        for key, torch_key in zip(_BATCH_NORM, ("weight", "bias", "running_mean", "running_var")):
            if key not in weights and key not in defaults:
                raise ValueError(f"{source}: {endpoint} has no batch-norm {key}")
            put(
                f"{prefix}.bn.{torch_key}",
                weights.get(key, defaults.get(key)),
                f"{endpoint} batch-norm {key}",
            )
        state[f"{prefix}.bn.num_batches_tracked"] = torch.tensor(0)
    if config["num_classes"]:
        logits = layers[LOGITS]
        if "bias" not in logits:
            raise ValueError(f"{source}: the logits layer has no bias")
        put("classifier.weight", _torch_kernel(LOGITS, logits["kernel"]), "logits kernel")
        put("classifier.bias", logits["bias"], "logits bias")
    model.load_state_dict(state)
    return model
