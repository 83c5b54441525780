"""`mobilenets adapt`: killed after its first step and resumed (the steps kept, the count
right, the final fine-tune done), and a latency budget no width can meet.

The layer latencies are written into the latency cache beforehand (proportional to each
layer's width product), so which layer a step narrows does not depend on a busy machine's
timing; whole networks are still timed for real."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from train_helpers import subprocess_env, tiny_config

from mobilenets.adapt import LatencyTable
from mobilenets.deploy.checkpoint import load_model
from mobilenets.deploy.select import latency_cache_path, machine_key

GRANULARITY = 128  # with alpha 0.25 only the two 256-wide layers (12 and 13) can narrow


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, one_thread):
    from mobilenets.classification import fit

    run = tmp_path_factory.mktemp("adapt") / "run"
    fit(tiny_config(run, limit_train=64, in_channels=1), progress=False)
    return run


def synthetic_cache(run: Path, cache: Path) -> None:
    """Every table entry adapt can ask for at this granularity, in the cache it reads."""
    table = LatencyTable(load_model(run).config, "eager", 1)
    base = [info["num_chs"] for info in load_model(run).feature_info]
    options = [list(range(width, 0, -GRANULARITY)) for width in base]
    inputs = [[table.architecture["in_channels"]], *options]
    outputs = [*options, [table.architecture["num_classes"]]]
    entries = {table.overhead_name(): 0.01}
    for layer, (ins, outs) in enumerate(zip(inputs, outputs)):
        for width_in, width_out in itertools.product(ins, outs):
            entries[table.entry_name(layer, width_in, width_out)] = (
                0.01 + 1e-5 * width_in * width_out
            )
    os.environ["MOBILENETS_CACHE"] = str(cache)
    try:
        path, key = latency_cache_path(), machine_key("eager", 1)
    finally:
        del os.environ["MOBILENETS_CACHE"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({key: entries}))


def adapt_command(run: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mobilenets",
        "adapt",
        "--checkpoint",
        str(run),
        "--out",
        str(out),
        "--runtime",
        "eager",
        "--threads",
        "1",
        "--granularity",
        str(GRANULARITY),
        "--reduction",
        "0.01",
        "--short-limit-train",
        "32",
        *extra,
    ]


TRAINING = ("--limit-val", "32", "--epochs", "1")


def test_a_killed_adapt_resumes_to_the_same_step_count(trained_run, tmp_path):
    synthetic_cache(trained_run, tmp_path / "cache")
    env = {**subprocess_env(), "MOBILENETS_CACHE": str(tmp_path / "cache")}
    out = tmp_path / "adapted"
    results = out / "results.json"
    child = subprocess.Popen(
        adapt_command(trained_run, out, "--steps", "2", *TRAINING),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and child.poll() is None:
            if results.is_file() and len(json.loads(results.read_text())["steps"]) >= 2:
                break
            time.sleep(0.2)
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    killed = json.loads(results.read_text())
    assert len(killed["steps"]) == 2 and killed["final"] is None
    done = subprocess.run(
        adapt_command(trained_run, out, "--steps", "2", "--resume", "--json"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert [entry["step"] for entry in result["steps"]] == [0, 1, 2]
    assert result["steps"][:2] == killed["steps"]
    assert sorted(entry["layer"] for entry in result["steps"][1:]) == [12, 13]
    assert result["final"]["channels"][12:] == [128, 128]
    assert result["final"]["mult_adds"] < result["steps"][0]["mult_adds"]
    final = load_model(result["final"]["checkpoint"])
    assert final.config["channels"] == result["final"]["channels"]
    assert json.loads(results.read_text()) == {
        key: value for key, value in result.items() if key not in ("out", "plot")
    }
    other_goal = subprocess.run(
        adapt_command(trained_run, out, "--steps", "3", "--resume"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert other_goal.returncode == 2
    assert other_goal.stderr.strip().endswith("adapts for 2 steps: resume it with that goal")


def test_a_budget_no_width_can_meet_is_one_line(trained_run, tmp_path):
    synthetic_cache(trained_run, tmp_path / "cache")
    env = {**subprocess_env(), "MOBILENETS_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(
        adapt_command(trained_run, tmp_path / "out", "--target-ms", "0.05", *TRAINING),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "no widths meet 0.05 ms in eager" in lines[0], done.stderr


def test_the_plot_sets_the_steps_beside_a_sweep_front(tmp_path):
    pytest.importorskip("matplotlib")
    from mobilenets.adapt.results import plot_adapt, uniform_front

    sweep = tmp_path / "sweep"
    sweep.mkdir()
    trials = [
        {"trial": "a", "alpha": 0.5, "resolution": 32, "top1": 0.7, "latency_ms": 0.1},
        {"trial": "b", "alpha": 1.0, "resolution": 32, "top1": 0.8, "latency_ms": 0.4},
        {"trial": "c", "alpha": 0.75, "resolution": 32, "top1": None, "latency_ms": None},
    ]
    (sweep / "results.json").write_text(json.dumps({"trials": trials}))
    assert [row["trial"] for row in uniform_front(sweep)] == ["a", "b"]
    entry = {"step": 0, "layer": None, "latency_ms": 0.3, "top1": 0.75}
    state = {"runtime": "onnxruntime", "threads": 1, "steps": [entry], "final": entry}
    assert plot_adapt(state, tmp_path / "adapt.png", front=sweep)
    assert (tmp_path / "adapt.png").read_bytes().startswith(b"\x89PNG")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "results.json").write_text("{}")
    with pytest.raises(ValueError, match="is it a `mobilenets sweep` folder"):
        uniform_front(tmp_path / "other")
