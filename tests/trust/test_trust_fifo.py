"""Named pipes given as weights or data files (issue 20, item 5): refused in one line before
any read, which on a FIFO would wait forever for a writer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mobilenets.cli import main
from mobilenets.data.csvfiles import csv_rows
from mobilenets.data.images import UnreadableImage, read_image
from mobilenets.pt_files import load_pt
from mobilenets.weights.hf import read_safetensors

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX's")


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.pt"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "read",
    [
        lambda path: load_pt(path),
        read_safetensors,
        lambda path: list(csv_rows(path)),
    ],
)
def test_a_fifo_is_refused_before_reading(fifo: Path, read) -> None:
    with pytest.raises(ValueError, match="is a named pipe"):
        read(fifo)


def test_a_fifo_image_is_unreadable(fifo: Path) -> None:
    with pytest.raises(UnreadableImage, match="is a named pipe"):
        read_image(fifo)


def test_a_fifo_checkpoint_on_the_command_line(fifo: Path, capsys) -> None:
    assert main(["eval", "--checkpoint", str(fifo)]) == 2
    error = capsys.readouterr().err
    # Refused before loading (today as "no checkpoint at"), never read: no hang.
    assert error.count("\n") == 1 and str(fifo) in error, error
