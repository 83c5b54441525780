"""Writes tests/fixtures/tf_slim_mobilenet_v1_025/: a TF-slim-named MobileNet v1 checkpoint saved
by real TensorFlow, and what TensorFlow computes from it, so the pure-Python reader
(src/mobilenets/weights/tf_checkpoint.py) is tested against the real format.

Needs TensorFlow, which the project does not: run it once from a scratch environment,
    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu numpy
    /tmp/tfvenv/bin/python tools/make_tf_slim_fixture.py
It writes model.ckpt.{index,data-00000-of-00001} (alpha 0.25 with 6 classes, class 0 standing
for the background as in the released 1001-class files), expected.npz (random NHWC inputs at
64 and 67 px and TensorFlow's logits for them) and checksums.json (each tensor's shape, dtype
and the sha256 of its bytes as tf.train.load_checkpoint reads them).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "tf_slim_mobilenet_v1_025"
ALPHA, NUM_CLASSES, EPSILON = 0.25, 6, 1e-3
# Table 1: (stride, depth) of the 13 separable layers, after the stride-2 32-deep Conv2d_0.
SEPARABLE = [
    (1, 64),
    (2, 128),
    (1, 128),
    (2, 256),
    (1, 256),
    (2, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (1, 512),
    (2, 1024),
    (1, 1024),
]


def depth(channels: int) -> int:
    return max(int(channels * ALPHA), 8)


def make_variables(rng: np.random.Generator) -> dict[str, np.ndarray]:
    tensors: dict[str, np.ndarray] = {}

    def batch_norm(scope: str, channels: int) -> None:
        tensors[f"{scope}/BatchNorm/gamma"] = rng.uniform(0.5, 1.5, channels)
        tensors[f"{scope}/BatchNorm/beta"] = rng.normal(0.0, 0.1, channels)
        tensors[f"{scope}/BatchNorm/moving_mean"] = rng.normal(0.0, 0.2, channels)
        tensors[f"{scope}/BatchNorm/moving_variance"] = rng.uniform(0.5, 2.0, channels)

    channels = depth(32)
    tensors["MobilenetV1/Conv2d_0/weights"] = rng.normal(0.0, np.sqrt(2 / 27), (3, 3, 3, channels))
    batch_norm("MobilenetV1/Conv2d_0", channels)
    for index, (_, out) in enumerate(SEPARABLE, start=1):
        out = depth(out)
        scope = f"MobilenetV1/Conv2d_{index}"
        tensors[f"{scope}_depthwise/depthwise_weights"] = rng.normal(
            0.0, np.sqrt(2 / 9), (3, 3, channels, 1)
        )
        batch_norm(f"{scope}_depthwise", channels)
        tensors[f"{scope}_pointwise/weights"] = rng.normal(
            0.0, np.sqrt(2 / channels), (1, 1, channels, out)
        )
        batch_norm(f"{scope}_pointwise", out)
        channels = out
    tensors["MobilenetV1/Logits/Conv2d_1c_1x1/weights"] = rng.normal(
        0.0, 0.1, (1, 1, channels, NUM_CLASSES)
    )
    tensors["MobilenetV1/Logits/Conv2d_1c_1x1/biases"] = rng.normal(0.0, 0.1, NUM_CLASSES)
    return {name: value.astype(np.float32) for name, value in tensors.items()}


def logits(tensors: dict[str, np.ndarray], images: np.ndarray) -> np.ndarray:
    """TF-slim's MobileNet v1 inference graph (SAME padding, batch norm, ReLU6) in tf.nn ops."""

    def bn_relu6(x: tf.Tensor, scope: str) -> tf.Tensor:
        x = tf.nn.batch_normalization(
            x,
            tensors[f"{scope}/BatchNorm/moving_mean"],
            tensors[f"{scope}/BatchNorm/moving_variance"],
            tensors[f"{scope}/BatchNorm/beta"],
            tensors[f"{scope}/BatchNorm/gamma"],
            EPSILON,
        )
        return tf.nn.relu6(x)

    x = tf.constant(images)
    x = bn_relu6(
        tf.nn.conv2d(x, tensors["MobilenetV1/Conv2d_0/weights"], 2, "SAME"), "MobilenetV1/Conv2d_0"
    )
    for index, (stride, _) in enumerate(SEPARABLE, start=1):
        scope = f"MobilenetV1/Conv2d_{index}"
        x = tf.nn.depthwise_conv2d(
            x, tensors[f"{scope}_depthwise/depthwise_weights"], [1, stride, stride, 1], "SAME"
        )
        x = bn_relu6(x, f"{scope}_depthwise")
        x = bn_relu6(
            tf.nn.conv2d(x, tensors[f"{scope}_pointwise/weights"], 1, "SAME"), f"{scope}_pointwise"
        )
    x = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    x = tf.nn.conv2d(x, tensors["MobilenetV1/Logits/Conv2d_1c_1x1/weights"], 1, "SAME")
    x = x + tensors["MobilenetV1/Logits/Conv2d_1c_1x1/biases"]
    return tf.squeeze(x, [1, 2]).numpy()


def main() -> int:
    rng = np.random.default_rng(2017)
    tensors = make_variables(rng)
    tensors_to_save = {**tensors, "global_step": np.array(123456, dtype=np.int64)}
    OUT.mkdir(parents=True, exist_ok=True)
    prefix = str(OUT / "model.ckpt")
    names = sorted(tensors_to_save)
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=[tf.constant(tensors_to_save[name]) for name in names],
    )
    reader = tf.train.load_checkpoint(prefix)
    checksums = {}
    for name in names:
        value = reader.get_tensor(name)
        value = np.asarray(value)
        checksums[name] = dict(
            shape=list(value.shape),
            dtype=str(value.dtype),
            sha256=hashlib.sha256(value.tobytes()).hexdigest(),
        )
    lines = [
        f"{json.dumps(name)}: {json.dumps(entry, sort_keys=True)}"
        for name, entry in checksums.items()
    ]
    (OUT / "checksums.json").write_text("{\n" + ",\n".join(lines) + "\n}\n")
    images_64 = rng.uniform(-1.0, 1.0, (2, 64, 64, 3)).astype(np.float32)
    images_67 = rng.uniform(-1.0, 1.0, (1, 67, 67, 3)).astype(np.float32)
    np.savez_compressed(
        OUT / "expected.npz",
        images_64=images_64,
        logits_64=logits(tensors, images_64),
        images_67=images_67,
        logits_67=logits(tensors, images_67),
    )
    print(f"wrote {OUT} with TensorFlow {tf.__version__}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
