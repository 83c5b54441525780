"""Progress output: a live bar on a terminal, plain lines now and then in a log."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import mobilenets.progress as progress
from mobilenets.progress import progress_bar


def test_a_log_gets_plain_lines_not_redraws(monkeypatch) -> None:
    log = io.StringIO()
    with progress_bar(total=1000, desc="epoch 1/1", unit="img", file=log) as bar:
        for _ in range(1000):
            bar.update(1)  # a redraw each time on a terminal
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and 1 <= len(lines) <= 3, lines
    assert lines[-1].startswith("epoch 1/1: 100% 1000/1000 [") and "img/s" in lines[-1]
    # With the interval passed, each update gives a line of its own.
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)
    log = io.StringIO()
    for _ in progress_bar(iter(range(3)), desc="no total", file=log):
        pass
    assert [line.split(" [")[0] for line in log.getvalue().splitlines()] == [
        "no total: 0",
        "no total: 1",
        "no total: 2",
        "no total: 3",
        "no total: 3",
    ]


def test_a_terminal_keeps_tqdms_bar() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with progress_bar(total=3, desc="epoch", file=screen) as bar:
        bar.update(3)
    assert "\r" in screen.getvalue() and "|" in screen.getvalue()  # redrawn in place, with the bar


def test_training_into_a_log_file_writes_a_few_lines(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "mobilenets",
        "train",
        "--data",
        "fashion-mnist",
        "--alpha",
        "0.25",
        "--resolution",
        "32",
        "--epochs",
        "1",
        "--limit-train",
        "1024",
        "--limit-val",
        "64",
        "--batch-size",
        "16",
        "--seed",
        "0",
        "--out",
        str(tmp_path / "run"),
    ]
    with open(tmp_path / "train.log", "w") as log:
        subprocess.run(
            command,
            stdout=subprocess.DEVNULL,
            stderr=log,
            check=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    text = (tmp_path / "train.log").read_text()
    epoch_lines = [line for line in text.splitlines() if line.startswith("epoch 1/1")]
    assert "\r" not in text and 1 <= len(epoch_lines) <= 4, text[
        -2000:
    ]  # 64 steps: no line per step
