"""The command line's contract, through the real command (``python -m mobilenets`` in a
subprocess): help by area, one flag name per idea, released weights that describe their own
model, read-only commands that write only where asked, a closed pipe, one parameter count, and a
stderr that holds the project's own lines."""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mobilenets import count_cost, create_model
from mobilenets.cli import build_parser

TF_SLIM = str(Path(__file__).parents[1] / "fixtures" / "tf_slim_mobilenet_v1_025" / "model.ckpt")
AREAS = ("models and cost", "classification", "deploy", "detection", "faces", "geo", "sweep")
TRAINING = ("train", "train-detector", "train-attributes", "train-embedding", "train-geo", "sweep")
# Spellings an idea had before it had one: none of them may come back.
RETIRED = ("--top", "--limit", "--backbone-init", "precompute-teacher")


def mobilenets(
    *argv: str, cwd: Path | None = None, debug: str | None = None
) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    environment.pop("MOBILENETS_DEBUG", None)
    if debug is not None:
        environment["MOBILENETS_DEBUG"] = debug
    return subprocess.run(
        [sys.executable, "-m", "mobilenets", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
    )


def commands() -> dict[str, argparse.ArgumentParser]:
    """Every command's parser by its full name ("data make-geo" for a nested one)."""
    found = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    nested = any(isinstance(a, argparse._SubParsersAction) for a in child._actions)
                    if nested:
                        walk(child, f"{prefix}{name} ")
                    else:
                        found[f"{prefix}{name}"] = child

    walk(build_parser(), "")
    return found


def flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {option: action for action in parser._actions for option in action.option_strings}


def test_help_lists_every_command_under_its_area() -> None:
    done = mobilenets("--help")
    assert done.returncode == 0 and done.stderr == ""
    headings = [line[:-1] for line in done.stdout.splitlines() if line and line.endswith(":")]
    assert set(AREAS) <= set(headings)
    listed = [
        line.split()[0]
        for line in done.stdout.split("commands (")[1].splitlines()
        if line[:2] == "  " and line[2] != " "
    ]
    top_level = {name.split()[0] for name in commands()}
    assert sorted(listed) == sorted(top_level)  # each once, none missing


def test_one_flag_name_per_idea() -> None:
    table = commands()
    assert "teacher-outputs" in table and not set(RETIRED) & set(table)
    for name, parser in table.items():
        assert not set(RETIRED) & set(flags(parser)), name
    for name in TRAINING:
        resume = flags(table[name])["--resume"]
        assert resume.metavar == "RUN_DIR" and resume.nargs is None, name
    for name in ("eval", "eval-geo", "eval-attributes", "eval-embedding", "select"):
        assert "--plot" in flags(table[name]), name
    for name in ("predict", "locate"):
        assert "--top-k" in flags(table[name]), name
    assert flags(table["teacher-outputs"])["--task"].choices == (
        "classification",
        "attributes",
        "embedding",
    )


def test_pretrained_weights_describe_their_own_model(tmp_path: Path) -> None:
    """cost and bench read width, resolution and classes from the file, as eval does."""
    cost = mobilenets("cost", "--pretrained", TF_SLIM, "--json")
    assert cost.returncode == 0, cost.stderr
    result = json.loads(cost.stdout)
    assert (result["model"], result["alpha"], result["num_classes"]) == (
        "mobilenet_v1_025_224",
        0.25,
        6,
    )
    bench = mobilenets(
        "bench", "--pretrained", TF_SLIM, "--runtime", "eager", "--runs", "1", "--warmup", "0",
        "--json",
    )  # fmt: skip
    assert bench.returncode == 0, bench.stderr
    assert json.loads(bench.stdout)["model"] == "mobilenet_v1_025_224"


def test_one_parameter_count(tmp_path: Path) -> None:
    """convert and cost count the same parameters: the learnable ones, as the paper does (0.47M
    for 0.25/224 with 1000 classes), not batch norm's running statistics."""
    converted = mobilenets("convert", TF_SLIM, "--from", "tf-slim", "--out", str(tmp_path / "w.pt"))
    cost = mobilenets("cost", "--pretrained", TF_SLIM)
    assert converted.returncode == 0 and cost.returncode == 0, converted.stderr + cost.stderr
    expected = count_cost(create_model("mobilenet_v1_025_224", num_classes=6)).params
    for done in (converted, cost):
        assert f"{expected:,} parameters" in done.stdout
        assert "learnable, as the paper counts" in done.stdout
    paper = mobilenets("cost", "--model", "mobilenet_v1_025_224", "--json")
    assert json.loads(paper.stdout)["params"] == 470_072


def _class_folders(root: Path, classes: int) -> Path:
    for index in range(classes):
        folder = root / "val" / f"c{index}"
        folder.mkdir(parents=True)
        Image.new("RGB", (40, 40), (40 * index, 90, 200)).save(folder / "0.png")
    return root


def test_drop_background_goes_with_pretrained(tmp_path: Path) -> None:
    """TF-slim's 6 outputs are background + 5 classes: --drop-background with --pretrained
    evaluates and predicts the 5; with --checkpoint it is refused in one line."""
    data = _class_folders(tmp_path / "data", 5)
    image = str(data / "val" / "c0" / "0.png")
    done = mobilenets(
        "eval", "--pretrained", TF_SLIM, "--drop-background", "--data", str(data), "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(json.loads(done.stdout)["per_class"]) == [f"c{k}" for k in range(5)]
    done = mobilenets(
        "predict", "--pretrained", TF_SLIM, "--drop-background", image, "--top-k", "5", "--json"
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)[0]["top"]) == 5
    done = mobilenets("predict", "--checkpoint", "ck.pt", "--drop-background", image)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "--drop-background go with --pretrained" in done.stderr


def test_a_read_only_command_writes_only_where_asked(tmp_path: Path) -> None:
    """eval of released weights draws nothing unless --plot (twice: no refusal); eval of a
    checkpoint replaces its own side file in the run folder; a --plot of the user's is refused
    without --force."""
    data = _class_folders(tmp_path / "data", 6)
    here = tmp_path / "here"
    here.mkdir()
    for _ in range(2):
        done = mobilenets("eval", "--pretrained", TF_SLIM, "--data", str(data), "--json", cwd=here)
        assert done.returncode == 0 and "confusion_png" not in json.loads(done.stdout), done.stderr
    assert list(here.iterdir()) == []
    run = tmp_path / "run"
    train = mobilenets(
        "train", "--data", "fashion-mnist", "--alpha", "0.25", "--resolution", "32",
        "--epochs", "1", "--limit-train", "64", "--limit-val", "32", "--batch-size", "32",
        "--no-augment", "--out", str(run), "--json",
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    for _ in range(2):
        done = mobilenets("eval", "--checkpoint", str(run), "--limit-val", "16", "--json", cwd=here)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["confusion_png"] == str(run / "best.confusion.png")
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"the user's")
    done = mobilenets("eval", "--checkpoint", str(run), "--limit-val", "16", "--plot", str(mine))
    assert done.returncode == 2 and "exists; pass --force" in done.stderr
    assert mine.read_bytes() == b"the user's" and list(here.iterdir()) == []


def test_a_closed_pipe_ends_quietly() -> None:
    """``mobilenets cost --per-layer | head -1``: the reader is gone before the command writes;
    no message, SIGPIPE's status as for Unix tools."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mobilenets", "cost", "--per-layer"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait() == 141 and stderr == b""


def test_stderr_holds_the_project_lines_only(tmp_path: Path) -> None:
    """A hostile pickle (protocol 4) is refused in the project's one line, without torch's
    "Detected pickle protocol" warning; MOBILENETS_DEBUG=0 shows no traceback, =1 does."""

    class RunsCommand:
        def __reduce__(self):
            return os.system, (f"touch {tmp_path / 'ran'}",)

    hostile = tmp_path / "hostile.pt"
    hostile.write_bytes(pickle.dumps({"model": RunsCommand()}, protocol=4))
    for debug in (None, "0", "no"):
        done = mobilenets("eval", "--checkpoint", str(hostile), debug=debug)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("mobilenets eval: error: ") and "Traceback" not in done.stderr
    done = mobilenets("eval", "--checkpoint", str(hostile), debug="1")
    assert done.returncode != 0 and "Traceback" in done.stderr
    assert not (tmp_path / "ran").exists()


def test_executorch_export_prints_no_library_noise(tmp_path: Path) -> None:
    """ExecuTorch's native cpuinfo lines and torch's deprecation and log lines stay off stderr."""
    pytest.importorskip("executorch")
    done = mobilenets(
        "export", "--model", "mobilenet_v1_025_128", "--num-classes", "10", "--format",
        "executorch", "--out", str(tmp_path / "m.pte"), "--verify-data", "random",
        "--verify-images", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and "wrote" in done.stdout
