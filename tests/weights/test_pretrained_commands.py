"""`train --pretrained` and `eval --pretrained`: released weights (here Keras's own MobileNet
with random weights, saved in the released h5 layout) as the start of training and evaluated
on a folder of class folders, against Keras's own predictions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_keras_weights import TOLERANCE, keras_mobilenet, keras_outputs, save_released_layout

from mobilenets.cli import main
from mobilenets.data import fashion_mnist
from mobilenets.data.preprocess import transform_from_config
from mobilenets.models import MobileNetV1
from mobilenets.train.checkpoint import load_checkpoint
from mobilenets.weights import model_from_weights
from mobilenets.weights.pretrained import save_checkpoint

CLASSES = 7


@pytest.fixture(scope="module")
def keras_weights(tmp_path_factory):
    """Keras's MobileNet, alpha 0.25 at 128 px with 7 classes, in the released h5 layout."""
    model = keras_mobilenet(0.25, 128, CLASSES, seed=11)
    path = tmp_path_factory.mktemp("weights") / "mobilenet_2_5_128_tf.h5"
    save_released_layout(model, path)
    return model, path


def run_json(capsys, *arguments: str) -> dict:
    assert main([*arguments, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def fashion_images(count: int) -> list:
    """Real Fashion-MNIST garments as colour images (the weights take 3 channels)."""
    dataset = fashion_mnist(train=False)
    return [dataset[index][0].convert("RGB") for index in range(count)]


def write_folders(root: Path, images: list, folder_of: list[int], classes: int) -> None:
    """``images[i]`` saved as a PNG under ``root/cK`` with K = ``folder_of[i]``; every class
    folder exists, as in ImageNet's val/."""
    for k in range(classes):
        (root / f"c{k}").mkdir(parents=True, exist_ok=True)
    for index, (image, folder) in enumerate(zip(images, folder_of)):
        image.save(root / f"c{folder}" / f"{index:03d}.png")


def test_eval_pretrained_scores_keras_predictions(keras_weights, tmp_path, capsys) -> None:
    """Images filed under Keras's own top class count as right, the others as wrong: top-1 and
    top-5 equal what Keras's probabilities give, so weights, preprocessing and class order agree."""
    reference, path = keras_weights
    model = model_from_weights(path)
    transform = transform_from_config(model.pretrained_cfg)
    images = fashion_images(14)
    batch = np.stack([transform(image).permute(1, 2, 0).numpy() for image in images])
    _, probabilities = keras_outputs(reference, batch)
    predicted = probabilities.argmax(1)
    folder_of = [int(p) if i < 10 else int(p + 1) % CLASSES for i, p in enumerate(predicted)]
    write_folders(tmp_path / "val", images, folder_of, CLASSES)
    top5 = np.mean([label in np.argsort(-row)[:5] for row, label in zip(probabilities, folder_of)])

    result = run_json(
        capsys,
        "eval",
        "--pretrained",
        str(path),
        "--data",
        str(tmp_path),
        "--plot",
        str(tmp_path / "m.png"),
    )
    assert (result["images"], result["top1"]) == (14, 10 / 14)
    assert result["top5"] == pytest.approx(top5)
    assert list(result["per_class"]) == [f"c{k}" for k in range(CLASSES)]
    assert result["weights"] == str(path) and (tmp_path / "m.png").stat().st_size > 0
    # The val folder alone (ImageNet's val/ as it is usually kept) gives the same.
    again = run_json(
        capsys,
        "eval",
        "--pretrained",
        str(path),
        "--data",
        str(tmp_path / "val"),
        "--plot",
        str(tmp_path / "n.png"),
    )
    assert again["top1"] == result["top1"] and again["confusion"] == result["confusion"]
    probabilities_here = (
        torch.softmax(model.eval()(torch.from_numpy(batch).permute(0, 3, 1, 2)), 1).detach().numpy()
    )
    assert np.abs(probabilities_here - probabilities).max() <= TOLERANCE


def test_eval_pretrained_with_a_background_class(tmp_path, capsys) -> None:
    """TF-slim's layout: output 0 is background, folder k is output k + 1."""
    model = MobileNetV1(
        alpha=0.25, resolution=64, num_classes=6, padding="tf_same", activation="relu6"
    ).eval()
    weights = tmp_path / "slim.pt"
    save_checkpoint(
        {
            "model": model.state_dict(),
            "config": model.config,
            "pretrained_cfg": {**model.pretrained_cfg, "label_offset": 1},
        },
        weights,
    )
    images = fashion_images(12)
    folder_of = [index % 5 for index in range(12)]
    write_folders(tmp_path / "data" / "val", images, folder_of, 5)
    with torch.no_grad():
        logits = model(
            torch.stack([transform_from_config(model.pretrained_cfg)(image) for image in images])
        )
    expected = np.mean([int(row.argmax()) == label + 1 for row, label in zip(logits, folder_of)])

    result = run_json(
        capsys,
        "eval",
        "--pretrained",
        str(weights),
        "--data",
        str(tmp_path / "data"),
        "--plot",
        str(tmp_path / "m.png"),
    )
    assert result["top1"] == pytest.approx(expected)
    assert (
        list(result["per_class"]) == ["background", "c0", "c1", "c2", "c3", "c4"]
        and result["per_class"]["background"] is None
    )
    # 6 outputs are 5 classes after background: 6 class folders do not fit.
    write_folders(tmp_path / "data" / "val", [], [], 6)
    assert (
        main(
            [
                "eval",
                "--pretrained",
                str(weights),
                "--data",
                str(tmp_path / "data"),
                "--plot",
                str(tmp_path / "m2.png"),
            ]
        )
        == 2
    )
    assert (
        "the weights have 6 outputs (1 for TF-slim's background class) but"
        in capsys.readouterr().err
    )


def test_train_from_pretrained_weights(keras_weights, tmp_path, capsys, one_thread) -> None:
    """Fine-tuning the classifier alone: the body stays exactly the released weights; the run
    records the released architecture and [-1, 1] inputs, and resumes without the weights file."""
    _, source = keras_weights
    path = tmp_path / source.name
    path.write_bytes(source.read_bytes())
    run = tmp_path / "run"
    common = [
        "--data",
        "fashion-mnist",
        "--resolution",
        "32",
        "--limit-train",
        "64",
        "--limit-val",
        "32",
        "--batch-size",
        "32",
        "--optimizer",
        "adamw",
        "--lr",
        "0.01",
        "--seed",
        "0",
    ]
    summary = run_json(
        capsys,
        "train",
        "--pretrained",
        str(path),
        "--out",
        str(run),
        "--epochs",
        "1",
        "--freeze-backbone",
        "--freeze-bn",
        *common,
    )
    assert summary["num_classes"] == 10
    checkpoint = load_checkpoint(run / "last.pt")
    config = checkpoint["model_config"]
    assert (config["alpha"], config["num_classes"], config["in_channels"]) == (0.25, 10, 3)
    assert (config["padding"], config["activation"], config["bn_eps"]) == ("tf_same", "relu6", 1e-3)
    assert checkpoint["task"]["mean"] == [0.5] * 3 and checkpoint["task"]["std"] == [0.5] * 3
    released = model_from_weights(path).state_dict()
    body = [key for key in released if not key.startswith("classifier.")]
    assert body and all(torch.equal(checkpoint["model"][key], released[key]) for key in body)
    assert checkpoint["model"]["classifier.weight"].shape == (10, 256)

    path.unlink()  # the resumed run is rebuilt from its checkpoint, not from the weights file
    resumed = run_json(capsys, "train", "--resume", str(run), "--epochs", "2")
    assert resumed["epochs"] == 2
    evaluated = run_json(
        capsys,
        "eval",
        "--checkpoint",
        str(run / "last.pt"),
        "--limit-val",
        "32",
        "--plot",
        str(tmp_path / "c.png"),
    )
    assert evaluated["images"] == 32


def test_train_pretrained_mistakes(keras_weights, tmp_path, capsys) -> None:
    _, path = keras_weights
    base = [
        "train",
        "--pretrained",
        str(path),
        "--data",
        "fashion-mnist",
        "--resolution",
        "32",
        "--limit-train",
        "32",
        "--limit-val",
        "32",
        "--epochs",
        "1",
    ]
    for extra, message in [
        (["--alpha", "0.5"], "are for alpha 0.25, not the asked alpha 0.5"),
        (
            ["--model", "mobilenet_v1_050_128"],
            "the weights' config has alpha 0.25; the model has alpha 0.5",
        ),
        (["--in-channels", "1"], "in_channels must be 3"),
        (["--init", str(path)], "not both"),
        (["--variant", "conv"], "separable MobileNet only"),
    ]:
        assert main([*base, *extra, "--out", str(tmp_path / "run")]) == 2, extra
        assert message in capsys.readouterr().err, extra
    assert main(["train", "--pretrained", "keras", "--out", str(tmp_path / "run")]) == 2
    assert "give model too" in capsys.readouterr().err
    assert main(["train", "--drop-background", "--out", str(tmp_path / "run")]) == 2
    assert "drop_background needs pretrained" in capsys.readouterr().err
    assert main(["eval", "--pretrained", str(path)]) == 2
    assert "--pretrained needs --data" in capsys.readouterr().err
