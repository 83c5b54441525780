"""Issue 10's corpus of bad arguments (items 5 and 7): every numeric flag of every command out of
its range, NaN and infinities, empty names, an --out under a file, contradictory flags. Each is
refused while parsing (or before any work) with exit status 2, exactly one line on stderr
naming the flag and what it allows, no traceback, and nothing created. In-process and fast.

The cases are data (trust_args_corpus.py) that ``tools/count_refusals.py`` also runs, in
subprocesses against any source tree, for the before/after counts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from PIL import Image
from trust_args_corpus import NEEDS, OUT_OF_RANGE, corpus

from mobilenets.cli import build_parser, main
from mobilenets.cli.common import emit
from mobilenets.cli.train import format_evaluation
from mobilenets.messages import printable
from mobilenets.models import create_model, mobilenet_v1
from mobilenets.ranges import Range
from mobilenets.train.config import TrainConfig, config_fields, field_type

CASES = corpus()
FIXTURES = {"a_file"}


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """An empty current folder holding only a regular file ``a_file`` (for --out under a file)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("a file, not a folder")
    return tmp_path


@pytest.mark.parametrize(
    "argv, names", [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_bad_argument_is_refused_in_one_line_and_nothing_is_created(
    workdir, capsys, argv, names
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert names in lines[0] and "Traceback" not in captured.err
    assert captured.out == ""
    assert {path.name for path in workdir.iterdir()} == FIXTURES


@pytest.mark.parametrize(
    "command, flag, values", OUT_OF_RANGE, ids=[f"{c} {f}" for c, f, _ in OUT_OF_RANGE]
)
def test_the_refusal_states_the_allowed_range(workdir, capsys, command, flag, values) -> None:
    main([*command.split(), *NEEDS[command], flag, values[0]])
    line = capsys.readouterr().err
    assert f"argument {flag}: must be a " in line and (
        "number in " in line or "number >" in line
    ), line


def _actions(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> list[tuple[str, argparse.Action]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _actions(child, f"{prefix}{name} ")
        else:
            found.append((prefix, action))
    return found


def test_no_command_takes_an_unchecked_number() -> None:
    """A bare ``type=int``/``float`` would accept 0, -2, 1e12, nan or inf: every numeric flag
    parses through ``cli.common.number`` with a declared Range, and every numeric TrainConfig
    field declares one."""
    bare = [
        f"{command}{action.dest}"
        for command, action in _actions(build_parser())
        if action.type in (int, float)
    ]
    assert bare == []
    unranged = [
        name
        for name, field in config_fields().items()
        if field_type(field) in (int, float) and not isinstance(field.metadata["range"], Range)
    ]
    assert unranged == []


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: create_model("mobilenet_v1_100_224", alpha=1e308),
            "alpha must be a number in (0, 4]; got 1e+308",
        ),
        (lambda: mobilenet_v1(alpha=float("nan")), "alpha must be a number in (0, 4]; got nan"),
        (
            lambda: mobilenet_v1(resolution=50000),
            "resolution must be a whole number in [32, 2048]; got 50000",
        ),
        (
            lambda: mobilenet_v1(num_classes=10**12),
            "num_classes must be a whole number in [0, 1000000]",
        ),
        (
            lambda: mobilenet_v1(in_channels=0),
            "in_channels must be a whole number in [1, 1024]; got 0",
        ),
        (
            lambda: TrainConfig(alpha=1e6).validate(),
            "alpha must be a number in (0, 4]; got 1000000.0",
        ),
        (
            lambda: TrainConfig(batch_size=10**9).validate(),
            "batch_size must be a whole number in [1, 65536]",
        ),
        (
            lambda: TrainConfig(seed=-1).validate(),
            "seed must be a whole number in [0, 18446744073709551615]",
        ),
        (lambda: create_model(""), "model name must be a registered name"),
    ],
)
def test_the_python_api_refuses_what_the_command_line_refuses(build, message) -> None:
    with pytest.raises(ValueError) as refused:
        build()
    assert message in str(refused.value)


def test_the_widest_and_largest_allowed_model_builds() -> None:
    """The caps are buildable, not arbitrary: alpha 4 at 2048 px (on the meta device: no memory)."""
    import torch

    with torch.device("meta"):
        model = mobilenet_v1(alpha=4.0, resolution=2048, num_classes=1000)
    assert model.num_features == 4096
    assert sum(p.numel() for p in model.parameters()) == 54_599_912


HOSTILE = "\x1b[2J\x1b[31mred\u202e\nfake line"


def test_text_output_escapes_control_characters_in_names(capsys) -> None:
    """A class name with a terminal escape, a right-to-left override and a newline prints as
    visible escapes on one line; --json keeps the real name, escaped by json."""
    result = {
        "checkpoint": "ck.pt",
        "data": "d",
        "images": 2,
        "top1": 0.5,
        "top5": 1.0,
        "loss": 0.7,
        "per_class": {HOSTILE: 0.5, "plain": 0.5},
    }
    emit(result, False, format_evaluation)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b[2J\\x1b[31mred\\u202e\\nfake line" in out
    assert len(out.splitlines()) == 3
    emit(result, True, format_evaluation)
    assert HOSTILE in json.loads(capsys.readouterr().out)["per_class"]
    assert printable("tab\tand é ünïcode") == "tab\\tand é ünïcode"


def test_an_error_line_escapes_control_characters(workdir, capsys) -> None:
    assert main(["predict", "--checkpoint", "ck\x1b[2J.pt", "image.png"]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and len(err.splitlines()) == 1


def test_hostile_class_folder_names_reach_the_terminal_escaped(tmp_path, capsys) -> None:
    """End to end: a data set whose class folders are named with escape sequences, trained for
    one step and evaluated; the per-class lines show the escapes instead of obeying them."""
    names = ["\x1b[31mred\x1b[0m", "plain"]
    for split in ("train", "val"):
        for label, name in enumerate(names):
            folder = tmp_path / "data" / split / name
            folder.mkdir(parents=True)
            for index in range(2):
                Image.new("RGB", (32, 32), (255 * label, index * 40, 0)).save(
                    folder / f"{index}.png"
                )
    run = str(tmp_path / "run")
    assert (
        main(
            [
                "train",
                "--data",
                str(tmp_path / "data"),
                "--out",
                run,
                "--alpha",
                "0.25",
                "--resolution",
                "32",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--seed",
                "0",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["eval", "--checkpoint", run, "--plot", str(tmp_path / "confusion.png")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[31mred\\x1b[0m" in out
    assert (
        main(["predict", "--checkpoint", run, str(tmp_path / "data" / "val" / "plain" / "0.png")])
        == 0
    )
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[31mred\\x1b[0m" in out
