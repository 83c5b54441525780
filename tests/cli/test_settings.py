"""Training settings are declared once (TrainConfig) and every training command derives its
flags from them: the command line and the Python API build the same TrainConfig for each task."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mobilenets.classification import training as classification
from mobilenets.cli import build_parser, main
from mobilenets.cli import detection as detection_cli
from mobilenets.cli import embedding as embedding_cli
from mobilenets.cli import geo as geo_cli
from mobilenets.cli.common import config_arguments
from mobilenets.detection import training as detection
from mobilenets.embedding import training as embedding
from mobilenets.geo import training as geo
from mobilenets.train.config import TrainConfig

FLAGS = ["--lr", "0.5", "--no-augment", "--epochs", "3"]
GIVEN = {"lr": 0.5, "augment": False, "epochs": 3}


def _parse(argv: list[str]):
    return build_parser().parse_args(argv)


@pytest.mark.parametrize("flags, given", [([], {}), (FLAGS, GIVEN)])
def test_cli_and_api_build_the_same_config_for_every_task(tmp_path, flags, given) -> None:
    out, data = str(tmp_path / "run"), str(tmp_path / "data")
    args = _parse(["train", "--out", out, "--data", data, *flags])
    assert classification.train_config(**config_arguments(args)) == classification.train_config(
        out=out, data=data, **given
    )

    args = _parse(["train-detector", "--arch", "ssd300", "--data", data, "--out", out, *flags])
    cli = detection.train_config(
        args.arch, args.data, args.out, **config_arguments(args, detection_cli.SETTINGS)
    )
    assert cli == detection.train_config("ssd300", data, out, **given)

    args = _parse(["train-geo", "--data", data, "--out", out, *flags])
    cli = geo.train_config(args.data, args.out, **config_arguments(args, geo_cli.SETTINGS))
    assert cli == geo.train_config(data, out, **given)

    for task in embedding.TASKS:
        args = _parse([f"train-{task}", "--data", data, "--out", out, "--teacher", "T", *flags])
        cli = embedding.train_config(
            task, args.data, args.out, **config_arguments(args, embedding_cli.SETTINGS[task])
        )
        assert cli == embedding.train_config(task, data, out, teacher="T", **given)


def test_detection_trains_with_its_own_defaults_from_the_api_too(tmp_path) -> None:
    """The bug this replaced: `train-detector` used batch 16, AdamW, lr 1e-3, cosine while the
    Python API fell through to TrainConfig's RMSprop, lr 0.01, batch 64."""
    config = detection.train_config("ssd300", tmp_path, tmp_path / "run")
    assert (
        config.batch_size,
        config.optimizer,
        config.lr,
        config.weight_decay,
        config.schedule,
    ) == (16, "adamw", 1e-3, 1e-4, "cosine")
    assert (config.alpha, config.resolution) == (1.0, 300)
    attributes = embedding.train_config("attributes", "fashion-mnist", tmp_path / "run")
    assert (attributes.distill_weight, attributes.temperature) == (1.0, 1.0)
    assert classification.train_config(out="r") == TrainConfig(out="r")


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["train", "--out", "r", "--epochs", "0"],
            "argument --epochs: must be a whole number >= 1; got '0'",
        ),
        (["train", "--out", "r", "--lr", "-1"], "argument --lr: must be a number > 0; got '-1'"),
        (
            ["train-detector", "--batch-size", "0"],
            "argument --batch-size: must be a whole number in [1, 65536]; got '0'",
        ),
        (["train-geo", "--lr", "fast"], "argument --lr: must be a number > 0; got 'fast'"),
        (
            ["train-embedding", "--optimizer", "adam"],
            "argument --optimizer: invalid choice: 'adam'",
        ),
    ],
)
def test_out_of_range_settings_are_refused_while_parsing(capsys, argv, message) -> None:
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_every_training_command_offers_both_augment_flags() -> None:
    for command in ("train", "train-detector", "train-geo", "train-attributes", "train-embedding"):
        assert _parse([command, "--no-augment"]).augment is False
        assert _parse([command, "--augment"]).augment is True


def test_every_listed_model_name_creates_in_a_fresh_interpreter() -> None:
    """Registration does not depend on what was imported before: `mobilenets list` names the
    detectors and the embedding network, and create_model builds each in a new process that
    imported nothing else."""
    listed = subprocess.run(
        [sys.executable, "-m", "mobilenets", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = [row["name"] for row in json.loads(listed.stdout)]
    assert {
        "ssd300_mobilenet_v1",
        "frcnn600_mobilenet_v1",
        "mobilenet_v1_embedding",
        "mobilenet_v1_025_128",
    } <= set(names)
    script = (
        "import sys\nfrom mobilenets import create_model\nfor name in sys.argv[1:]:\n    "
        "create_model(name)\nprint(len(sys.argv) - 1)"
    )
    done = subprocess.run([sys.executable, "-c", script, *names], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(len(names))
