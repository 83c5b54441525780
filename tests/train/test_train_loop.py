"""The training loop on real Fashion-MNIST: reproducibility, resume after SIGKILL, a non-finite
loss, run-directory protection, and the checkpoint contents."""

from __future__ import annotations

import dataclasses
import json
import os
import select
import signal
import subprocess
import sys

import pytest
import torch
from train_helpers import assert_same_weights, subprocess_env, tiny_config, weights

from mobilenets.classification import ClassificationTask, fit
from mobilenets.cli import main
from mobilenets.machine import native_bf16
from mobilenets.train.checkpoint import load_checkpoint
from mobilenets.train.loop import resume_config

pytestmark = pytest.mark.usefixtures("one_thread")


def test_same_seed_gives_identical_weights_and_complete_checkpoints(tmp_path):
    config = tiny_config(tmp_path / "a", ema_decay=0.9)
    summary = fit(config, progress=False)
    fit(dataclasses.replace(config, out=str(tmp_path / "b")), progress=False)
    assert_same_weights(weights(tmp_path / "a" / "last.pt"), weights(tmp_path / "b" / "last.pt"))
    assert_same_weights(
        weights(tmp_path / "a" / "last.pt", "ema"), weights(tmp_path / "b" / "last.pt", "ema")
    )
    checkpoint = load_checkpoint(tmp_path / "a" / "last.pt")
    for key in (
        "model",
        "optimizer",
        "scheduler",
        "ema",
        "rng",
        "epoch",
        "step",
        "config",
        "model_config",
        "task",
    ):
        assert checkpoint[key] is not None, key
    assert checkpoint["epoch"] == 1 and checkpoint["step"] == 128 // 32
    assert checkpoint["config"] == dataclasses.asdict(config)
    assert (
        checkpoint["model_config"]["alpha"] == 0.25
        and checkpoint["model_config"]["num_classes"] == 10
    )
    on_disk = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert on_disk == json.loads(json.dumps(summary))
    for key in (
        "top1",
        "top5",
        "epochs",
        "images_per_second",
        "mult_adds",
        "params",
        "skipped_files",
        "run_dir",
    ):
        assert key in on_disk, key
    assert on_disk["skipped_files"] == 0 and on_disk["epochs"] == 1
    assert on_disk["precision"] == (
        "bf16" if native_bf16() else "fp32"
    )  # precision auto on this CPU
    lines = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1]
    # A different seed trains differently (the comparison above can fail).
    fit(dataclasses.replace(config, out=str(tmp_path / "c"), seed=1), progress=False)
    assert not torch.equal(
        weights(tmp_path / "a" / "last.pt")["classifier.weight"],
        weights(tmp_path / "c" / "last.pt")["classifier.weight"],
    )


def test_resume_after_sigkill_mid_epoch_equals_uninterrupted_run(tmp_path):
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    arguments = [
        "--alpha",
        "0.25",
        "--resolution",
        "32",
        "--batch-size",
        "32",
        "--limit-train",
        "640",
        "--limit-val",
        "32",
        "--epochs",
        "2",
        "--seed",
        "7",
        "--optimizer",
        "adamw",
        "--lr",
        "0.002",
        "--ema-decay",
        "0.9",
    ]
    child = subprocess.Popen(
        [sys.executable, "-m", "mobilenets", "train", *arguments, "--out", str(killed)],
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    # Kill once the progress bar shows the second epoch past its first step (it prints the
    # running loss from then on): mid-epoch by construction, however fast the machine is.
    progress = ""
    try:
        # No deadline: a slow machine is not a failure; a child that ends early is.
        while "loss=" not in progress.rpartition("epoch 2/2")[2] or "epoch 2/2" not in progress:
            assert child.poll() is None, progress[-2000:]
            if select.select([child.stderr], [], [], 0.05)[0]:
                progress += os.read(child.stderr.fileno(), 65536).decode(errors="replace")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    assert not (killed / "summary.json").exists(), "the run finished before it was killed"
    assert load_checkpoint(killed / "last.pt")["epoch"] == 1

    assert main(["train", "--resume", str(killed)]) == 0
    assert main(["train", *arguments, "--out", str(reference)]) == 0
    assert_same_weights(weights(killed / "last.pt"), weights(reference / "last.pt"))
    assert_same_weights(weights(killed / "last.pt", "ema"), weights(reference / "last.pt", "ema"))
    assert [
        json.loads(line)["epoch"] for line in (killed / "metrics.jsonl").read_text().splitlines()
    ] == [1, 2]


class PoisonedTask(ClassificationTask):
    """Real classification whose loss turns NaN after ``healthy_steps`` steps."""

    def __init__(self, healthy_steps: int) -> None:
        super().__init__()
        self.steps_left = healthy_steps

    def loss(self, model, batch):
        loss, size, metrics = super().loss(model, batch)
        self.steps_left -= 1
        return (loss if self.steps_left >= 0 else loss * float("nan")), size, metrics


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    config = tiny_config(tmp_path / "run", epochs=3)
    with pytest.raises(
        FloatingPointError, match=r"non-finite \(nan\) at epoch 2, step 6;.*last good checkpoint"
    ):
        fit(config, task=PoisonedTask(healthy_steps=5), progress=False)
    checkpoint = load_checkpoint(tmp_path / "run" / "last.pt")
    assert checkpoint["epoch"] == 1
    assert all(
        torch.isfinite(value).all()
        for value in checkpoint["model"].values()
        if value.is_floating_point()
    )
    assert not (tmp_path / "run" / "summary.json").exists()


def test_existing_run_directory_is_refused_without_resume_or_force(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    arguments = [
        "train",
        "--alpha",
        "0.25",
        "--resolution",
        "32",
        "--limit-train",
        "64",
        "--limit-val",
        "32",
        "--epochs",
        "1",
        "--out",
        str(run),
    ]
    assert main(arguments) == 2
    error = capsys.readouterr().err.strip()
    assert (
        error.count("\n") == 0 and "exists" in error and "--resume" in error and "--force" in error
    )
    assert (run / "notes.txt").read_text() == "mine" and not (run / "last.pt").exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--lr", "-1"], "argument --lr: must be a number > 0; got '-1'"),
        (["--epochs", "0"], "argument --epochs: must be a whole number >= 1; got '0'"),
        (
            ["--distill-weight", "1.5"],
            "argument --distill-weight: must be a number in [0, 1]; got '1.5'",
        ),
        (["--model", "mobilenet_v1_999"], "unknown model name 'mobilenet_v1_999'"),
    ],
)
def test_invalid_hyper_parameters_are_refused_before_any_work(tmp_path, capsys, arguments, message):
    assert main(["train", "--out", str(tmp_path / "run"), *arguments]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_resume_refuses_changed_settings(tmp_path, capsys):
    fit(tiny_config(tmp_path / "run", limit_train=64), progress=False)
    assert main(["train", "--resume", str(tmp_path / "run"), "--alpha", "0.5"]) == 2
    assert "trained with alpha 0.25 (asked for 0.5)" in capsys.readouterr().err
    # More epochs is a legitimate change: the run continues.
    assert resume_config(tmp_path / "run", epochs=2).epochs == 2


def test_resume_with_more_epochs_stretches_a_finished_cosine_schedule(tmp_path):
    """A finished cosine run ends at lr 0; resuming it for more epochs must train again."""
    fit(tiny_config(tmp_path / "run", schedule="cosine", epochs=1), progress=False)
    first = weights(tmp_path / "run" / "last.pt")
    fit(resume_config(tmp_path / "run", epochs=2), resume=True, progress=False)
    second = weights(tmp_path / "run" / "last.pt")
    learned = [
        name
        for name in first
        if name.endswith(("weight", "bias")) and not torch.equal(first[name], second[name])
    ]
    assert len(learned) > 0.9 * sum(name.endswith(("weight", "bias")) for name in first)
