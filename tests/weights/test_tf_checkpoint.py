"""The pure-Python TF checkpoint reader and the TF-slim conversion, against a checkpoint that
real TensorFlow wrote and the logits TensorFlow computed from it (tests/fixtures/README.md)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import mobilenets
from mobilenets.weights.tf_checkpoint import TFCheckpoint, crc32c

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tf_slim_mobilenet_v1_025"
PREFIX = FIXTURE / "model.ckpt"
TOLERANCE = 1e-5


def test_crc32c_known_answers() -> None:
    # RFC 3720's test vector and the common "123456789" check value.
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA


def test_reader_matches_tensorflow_bit_for_bit() -> None:
    checksums = json.loads((FIXTURE / "checksums.json").read_text())
    checkpoint = TFCheckpoint(PREFIX)
    assert checkpoint.names() == sorted(checksums)
    for name, expected in checksums.items():
        value = checkpoint.read(name)
        assert (list(value.shape), str(value.dtype)) == (expected["shape"], expected["dtype"]), name
        assert hashlib.sha256(value.tobytes()).hexdigest() == expected["sha256"], name
    assert int(checkpoint.read("global_step")) == 123456


def tensorflow_logits(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    expected = np.load(FIXTURE / "expected.npz")
    return expected[f"images_{resolution}"], expected[f"logits_{resolution}"]


@pytest.mark.parametrize("resolution", [64, 67])  # 67: odd sizes, where SAME pads both sides
def test_tf_slim_logits_match_tensorflow(resolution: int) -> None:
    model = mobilenets.model_from_weights(PREFIX).eval()
    # Only 1001-class files are taken to hold ImageNet's background class (label_offset 1).
    assert (model.config["alpha"], model.num_classes, model.pretrained_cfg.get("label_offset")) == (
        0.25,
        6,
        None,
    )
    images, expected = tensorflow_logits(resolution)
    with torch.no_grad():
        logits = model(torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()
    assert np.abs(logits - expected).max() <= TOLERANCE * max(1.0, np.abs(expected).max())


def test_drop_background_keeps_the_other_classes() -> None:
    model = mobilenets.create_model(
        "mobilenet_v1_025_128", pretrained=str(PREFIX), drop_background=True
    ).eval()
    assert model.num_classes == 5
    images, expected = tensorflow_logits(64)
    with torch.no_grad():
        logits = model(torch.from_numpy(images).permute(0, 3, 1, 2)).numpy()
    assert np.abs(logits - expected[:, 1:]).max() <= TOLERANCE * max(1.0, np.abs(expected).max())
    with pytest.raises(
        ValueError,
        match="the weights' config has 6 classes; the model has 5 classes .*drop_background",
    ):
        mobilenets.create_model("mobilenet_v1_025_128", pretrained=str(PREFIX), num_classes=5)


def copy_fixture(tmp_path: Path) -> Path:
    for file in FIXTURE.glob("model.ckpt.*"):
        shutil.copy(file, tmp_path / file.name)
    return tmp_path / "model.ckpt"


def test_damaged_checkpoints_are_reported(tmp_path: Path) -> None:
    prefix = copy_fixture(tmp_path)
    data = Path(f"{prefix}.data-00000-of-00001")
    data.write_bytes(data.read_bytes()[:-1000])
    with pytest.raises(ValueError, match="data file .* is truncated"):
        mobilenets.model_from_weights(prefix)
    index = Path(f"{prefix}.index")
    original = index.read_bytes()
    index.write_bytes(original[:-10])
    with pytest.raises(ValueError, match="table magic number is missing"):
        TFCheckpoint(prefix)
    corrupt = bytearray(original)
    corrupt[100] ^= 0xFF
    index.write_bytes(bytes(corrupt))
    with pytest.raises(ValueError, match="CRC32C"):
        TFCheckpoint(prefix)
    with pytest.raises(FileNotFoundError):
        TFCheckpoint(tmp_path / "absent.ckpt")


def test_a_checkpoint_of_another_network_is_refused(tmp_path: Path) -> None:
    model = mobilenets.model_from_weights(PREFIX)
    with pytest.raises(
        ValueError, match="the weights' config has alpha 0.25; the model has alpha 1.0"
    ):
        mobilenets.load_tf_slim_weights(
            mobilenets.create_model(
                "mobilenet_v1_100_224", padding="tf_same", activation="relu6", num_classes=6
            ),
            PREFIX,
        )
    assert model.num_classes == 6
