"""Keras's own MobileNet (keras.applications, torch backend) with random weights and random
batch-norm statistics, saved in the released files' h5 layout, loaded here: the same network.

Set MOBILENETS_PARITY_REPORT=1 to print the measured differences (pytest -s).
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # before keras is first imported

import numpy as np
import pytest
import torch

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")
if keras.backend.backend() != "torch":
    pytest.skip("keras was imported with another backend first", allow_module_level=True)

import mobilenets  # noqa: E402  (after the backend is chosen)
from mobilenets.cli import main  # noqa: E402
from mobilenets.weights.pretrained import model_from_weights  # noqa: E402

TOLERANCE = 1e-5


def randomize(model, seed: int) -> None:
    """Random kernels at He scale, random biases, and random batch-norm gamma, beta, moving
    mean and moving variance, so every weight the converter maps shows in the outputs."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = weights[0].shape
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, channels),
                    rng.normal(0.0, 0.2, channels),
                    rng.normal(0.0, 0.5, channels),
                    rng.uniform(0.5, 2.0, channels),
                ]
            )
        elif weights:
            kernel = weights[0]
            fan_in = np.prod(kernel.shape[:2]) * (
                1 if isinstance(layer, keras.layers.DepthwiseConv2D) else kernel.shape[2]
            )
            scale = 4.0 if layer.name == "conv_preds" else 1.0  # spread the class probabilities
            layer.set_weights(
                [rng.normal(0.0, scale * np.sqrt(2.0 / fan_in), kernel.shape)]
                + [rng.normal(0.0, 0.5, w.shape) for w in weights[1:]]
            )


def save_released_layout(model, path) -> None:
    """The layout of Keras's released mobilenet_*_tf.h5 files (Keras 2): top-level
    ``layer_names``, a group per layer, weights named like ``conv_dw_1/depthwise_kernel:0``."""
    with h5py.File(path, "w") as file:
        file.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        file.attrs["backend"], file.attrs["keras_version"] = b"tensorflow", b"2.1.3"
        for layer in model.layers:
            group = file.create_group(layer.name)
            names = []
            for weight in layer.weights:
                short = weight.path.rsplit("/", 1)[-1]
                if isinstance(layer, keras.layers.DepthwiseConv2D) and short == "kernel":
                    short = "depthwise_kernel"
                names.append(f"{layer.name}/{short}:0")
                group.create_dataset(names[-1], data=keras.ops.convert_to_numpy(weight.value))
            group.attrs["weight_names"] = [name.encode() for name in names]


def keras_mobilenet(
    alpha: float, resolution: int, classes: int, include_top: bool = True, seed: int = 0
):
    model = keras.applications.MobileNet(
        weights=None,
        alpha=alpha,
        input_shape=(resolution, resolution, 3),
        classes=classes,
        include_top=include_top,
    )
    randomize(model, seed)
    return model


def images(resolution: int, count: int = 2, seed: int = 1) -> np.ndarray:
    return (
        np.random.default_rng(seed)
        .uniform(-1.0, 1.0, (count, resolution, resolution, 3))
        .astype(np.float32)
    )


def keras_outputs(model, x: np.ndarray) -> np.ndarray:
    """Keras's outputs for NHWC images: the feature map of a model without top, else the
    logits and the class probabilities (one forward pass)."""
    if any(layer.name == "conv_preds" for layer in model.layers):
        model = keras.Model(model.input, [model.get_layer("reshape_2").output, model.output])
        return tuple(keras.ops.convert_to_numpy(output) for output in model(x, training=False))
    return keras.ops.convert_to_numpy(model(x, training=False))


def torch_run(module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()


def report(label: str, difference: float) -> None:
    if os.environ.get("MOBILENETS_PARITY_REPORT"):
        print(f"\nparity {label}: max abs difference {difference:.3g}")


@pytest.fixture(scope="module")
def small_keras(tmp_path_factory):
    """alpha 0.25 at 128 px with 7 classes, in the released layout: shared by the cheap tests."""
    model = keras_mobilenet(0.25, 128, 7, seed=3)
    path = tmp_path_factory.mktemp("keras") / "mobilenet_2_5_128_tf.h5"
    save_released_layout(model, path)
    return model, path


@pytest.mark.parametrize(
    "alpha, resolution, classes", [(1.0, 224, 1000), (0.5, 160, 1000), (0.25, 128, 7)]
)
def test_keras_probabilities_match(alpha, resolution, classes, tmp_path) -> None:
    reference = keras_mobilenet(alpha, resolution, classes)
    path = tmp_path / "weights.h5"
    save_released_layout(reference, path)
    model = model_from_weights(path).eval()
    assert (model.config["alpha"], model.config["num_classes"]) == (alpha, classes)
    assert (model.config["padding"], model.config["activation"], model.config["bn_eps"]) == (
        "tf_same",
        "relu6",
        1e-3,
    )
    x = images(resolution)
    logits, expected = keras_outputs(reference, x)
    ours = torch_run(model, x)
    probabilities = torch.softmax(torch.from_numpy(ours), 1).numpy()
    assert expected.max() > 3 / classes  # far from uniform: the weights decide the outcome
    difference = float(np.abs(probabilities - expected).max())
    logit_difference = float(np.abs(ours - logits).max())
    report(f"alpha {alpha} / {resolution} px, {classes} classes", difference)
    report(
        f"alpha {alpha} / {resolution} px, {classes} classes (logits, largest {np.abs(logits).max():.3g})",
        logit_difference,
    )
    assert difference <= TOLERANCE
    assert logit_difference <= TOLERANCE * max(1.0, np.abs(logits).max())


def test_keras_no_top_features_match(tmp_path) -> None:
    reference = keras_mobilenet(0.5, 128, 0, include_top=False, seed=5)
    path = tmp_path / "mobilenet_5_0_128_tf_no_top.h5"
    save_released_layout(reference, path)
    model = model_from_weights(path).eval()
    assert model.num_classes == 0 and model.pretrained_cfg["input_size"] == (3, 128, 128)
    x = images(128)
    expected = keras_outputs(reference, x).transpose(0, 3, 1, 2)
    difference = float(np.abs(torch_run(model.forward_features, x) - expected).max())
    report(
        f"alpha 0.5 / 128 px, no top (features, largest {np.abs(expected).max():.3g})", difference
    )
    assert difference <= TOLERANCE * max(1.0, np.abs(expected).max())


def test_keras_saved_model_layout_loads(small_keras, tmp_path) -> None:
    """keras 3's ``model.save('x.h5')``: weights under ``model_weights``, names without ':0',
    depthwise kernels named ``kernel``."""
    reference, _ = small_keras
    path = tmp_path / "saved.h5"
    reference.save(path)
    with h5py.File(path) as file:
        assert list(file["model_weights/conv_dw_1"].attrs["weight_names"]) == ["conv_dw_1/kernel"]
    model = model_from_weights(path, resolution=128).eval()
    x = images(128)
    assert np.abs(torch_run(model, x) - keras_outputs(reference, x)[0]).max() <= TOLERANCE


def test_create_model_pretrained_and_mismatches(small_keras) -> None:
    reference, path = small_keras
    model = mobilenets.create_model("mobilenet_v1_025_128", pretrained=path).eval()
    assert model.num_classes == 7 and model.pretrained_cfg["mean"] == (0.5, 0.5, 0.5)
    x = images(128, count=1)
    assert np.abs(torch_run(model, x) - keras_outputs(reference, x)[0]).max() <= TOLERANCE
    features = mobilenets.create_model("mobilenet_v1_025_128", pretrained=path, num_classes=0)
    assert torch.equal(features.features.Conv2d_0.conv.weight, model.features.Conv2d_0.conv.weight)
    with pytest.raises(
        ValueError, match=r"the weights' config has alpha 0\.25; the model has alpha 0\.5"
    ):
        mobilenets.create_model("mobilenet_v1_050_128", pretrained=path)
    with pytest.raises(
        ValueError, match="the weights' config has 7 classes; the model has 1000 classes"
    ):
        mobilenets.create_model("mobilenet_v1_025_128", pretrained=path, num_classes=1000)
    with pytest.raises(
        ValueError,
        match="the weights' config has .*padding tf_same; the model has .*padding symmetric",
    ):
        mobilenets.load_keras_weights(
            mobilenets.create_model("mobilenet_v1_025_128", num_classes=7), path
        )
    with pytest.raises(ValueError, match="separable MobileNet v1 models only"):
        mobilenets.create_model("mobilenet_v1_conv_100_224", pretrained=path)


def test_not_a_mobilenet_and_truncated_files(small_keras, tmp_path) -> None:
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense")])
    other_path = tmp_path / "other.h5"
    save_released_layout(other, other_path)
    with pytest.raises(
        ValueError,
        match=r"not a Keras MobileNet v1 weights file: it has layers a MobileNet does not \(dense\)",
    ):
        model_from_weights(other_path)
    _, path = small_keras
    with h5py.File(path) as source, h5py.File(tmp_path / "partial.h5", "w") as partial:
        for name in ("conv1", "conv1_bn"):
            source.copy(source[name], partial, name)
        partial.attrs["layer_names"] = [b"conv1", b"conv1_bn"]
    with pytest.raises(ValueError, match="Keras layer conv_dw_1 is missing"):
        model_from_weights(tmp_path / "partial.h5")
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        model_from_weights(truncated)
    with pytest.raises(FileNotFoundError):
        model_from_weights(tmp_path / "absent.h5")


def test_convert_command_output_loads_with_plain_torch(small_keras, tmp_path, capsys) -> None:
    reference, path = small_keras
    out = tmp_path / "converted.pt"
    assert main(["convert", "--from", "keras", str(path), "--out", str(out), "--json"]) == 0
    assert '"model": "mobilenet_v1_025_128"' in capsys.readouterr().out
    checkpoint = torch.load(out, weights_only=True)
    assert (
        set(checkpoint) == {"model", "config", "pretrained_cfg"}
        and checkpoint["config"]["resolution"] == 128
    )
    model = mobilenets.create_model(
        "mobilenet_v1_025_128", padding="tf_same", activation="relu6", num_classes=7
    )
    model.load_state_dict(checkpoint["model"])
    x = images(128, count=1)
    assert np.abs(torch_run(model.eval(), x) - keras_outputs(reference, x)[0]).max() <= TOLERANCE
    reloaded = mobilenets.create_model("mobilenet_v1_025_128", pretrained=out).eval()
    assert np.array_equal(torch_run(reloaded, x), torch_run(model, x))
    assert main(["convert", "--from", "keras", str(path), "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert main(["convert", "--from", "keras", str(path), "--out", str(out), "--force"]) == 0
    assert (
        main(
            [
                "convert",
                "--from",
                "keras",
                str(path),
                "--out",
                str(out),
                "--force",
                "--drop-background",
            ]
        )
        == 2
    )
    assert "no background" in capsys.readouterr().err
