"""`mobilenets sweep` on Ray Tune: a tiny grid on real Fashion-MNIST, killed mid-run and
resumed (finished trials untouched, every row complete), the budget miss, and the Pareto flag
on a hand-made table."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from mobilenets import count_cost, mobilenet_v1
from mobilenets.sweep import FIELDS, best_within_latency, mark_pareto_front, trial_grid, trial_name

pytest.importorskip("ray.tune")

# Three trials (three widths; two run at once on two cores) of two epochs on 192 images at 32 px.
ALPHAS = [0.25, 0.5, 0.75]
SWEEP = [
    "--data",
    "fashion-mnist",
    "--alphas",
    ",".join(map(str, ALPHAS)),
    "--resolutions",
    "32",
    "--epochs",
    "2",
    "--limit-train",
    "192",
    "--limit-val",
    "64",
    "--batch-size",
    "32",
    "--optimizer",
    "adamw",
    "--lr",
    "3e-3",
    "--no-augment",
    "--runtime",
    "eager",
    "--threads",
    "1",
]
BUDGET_MS = 1e-6  # no network runs in a nanosecond


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "mobilenets", "sweep", *args]


@pytest.fixture(scope="module")
def environment():
    """The sweeps' environment: one OpenMP thread, and a short temporary folder of their own
    (Ray's files go there, and a killed sweep cannot remove them itself; the key sealing the
    Tune files too), removed afterwards."""
    temporary = tempfile.mkdtemp(prefix="t", dir="/tmp")  # short: Ray's socket paths live inside
    yield {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TMPDIR": temporary,
        "XDG_CONFIG_HOME": temporary,
    }
    shutil.rmtree(temporary, ignore_errors=True)


def _snapshot(run_dir: Path) -> dict[str, tuple[bytes, int]]:
    return {
        path.name: (path.read_bytes(), path.stat().st_mtime_ns)
        for path in run_dir.iterdir()
        if path.is_file()
    }


@pytest.fixture(scope="module")
def resumed(tmp_path_factory, environment):
    """A sweep killed (SIGKILL to its process group, Ray included) once a trial has trained
    both epochs, then resumed with a latency budget nothing meets: the finished trials' files
    at the kill, and the resumed run's exit status and output."""
    root = tmp_path_factory.mktemp("sweep")
    out, log = root / "out", root / "killed.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            _command(*SWEEP, "--out", str(out)),
            env=environment,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    finished: list[Path] = []
    while not finished and process.poll() is None:
        time.sleep(0.5)
        finished = [
            path.parent
            for path in out.glob("trials/*/metrics.jsonl")
            if len(path.read_text().splitlines()) == 2
        ]
    assert finished, f"no trial finished before the kill: {log.read_text()[-2000:]}"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "results.json").exists() and len(finished) < len(ALPHAS)  # killed mid-sweep
    before = {run_dir.name: _snapshot(run_dir) for run_dir in finished}
    done = subprocess.run(
        _command(
            "--resume",
            str(out),
            "--runtime",
            "eager",
            "--threads",
            "1",
            "--max-latency-ms",
            str(BUDGET_MS),
        ),
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return out, before, done, sorted(Path(environment["TMPDIR"]).glob("mn-ray-*"))


def test_resumed_sweep_has_a_complete_row_per_trial(resumed):
    out, *_ = resumed
    document = json.loads((out / "results.json").read_text())
    rows = document["trials"]
    expected = {trial_name(trial) for trial in trial_grid(ALPHAS, [32])}
    assert {row["trial"] for row in rows} == expected
    for row in rows:
        assert tuple(row) == FIELDS
        assert row["status"] in ("finished", "stopped early"), row
        assert row["resolution"] == 32 and row["variant"] == "separable" and row["seed"] == 0
        assert 0 <= row["top5"] <= 1 and 0 <= row["top1"] <= row["top5"]
        assert Path(row["checkpoint"]).is_file()
        cost = count_cost(
            mobilenet_v1(alpha=row["alpha"], resolution=32, num_classes=10, in_channels=1)
        )
        assert (row["mult_adds"], row["params"]) == (cost.mult_adds, cost.params)
        assert row["epochs_run"] == 2 if row["status"] == "finished" else row["epochs_run"] == 1
        assert (row["latency_ms"] is not None) == (row["status"] == "finished")
    assert any(row["on_pareto_front"] for row in rows)
    assert (out / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_killed_sweep_resumes_without_touching_finished_trials(resumed):
    out, before, *_ = resumed
    for name, files in before.items():
        assert _snapshot(out / "trials" / name) == files, name


def test_budget_no_trial_meets_names_the_fastest(resumed):
    out, _, done, _ = resumed
    rows = json.loads((out / "results.json").read_text())["trials"]
    fastest = min(
        (row for row in rows if row["latency_ms"] is not None), key=lambda row: row["latency_ms"]
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stdout == ""
    errors = [
        line for line in done.stderr.splitlines() if line.startswith("mobilenets sweep: error:")
    ]
    assert errors == [
        f"mobilenets sweep: error: no trial meets {BUDGET_MS:g} ms; the fastest is {fastest['trial']} "
        f"at {fastest['latency_ms']:.3f} ms (top-1 {fastest['top1']:.4f}, {fastest['checkpoint']})"
    ]
    assert "Traceback" not in done.stderr


def test_ray_files_go_with_the_sweep_that_ends(resumed):
    *_, ray_folders = resumed
    assert len(ray_folders) == 1  # the killed sweep's; the resumed one removed its own


def _row(name: str, top1: float | None, latency_ms: float | None) -> dict:
    return {
        "trial": name,
        "top1": top1,
        "latency_ms": latency_ms,
        "checkpoint": f"{name}/best.pt",
        "on_pareto_front": None,
    }


def test_pareto_flag_on_a_hand_made_table():
    rows = [
        _row("fast", 0.80, 1.0),
        _row("dominated", 0.79, 2.0),  # slower and less accurate than "fast"
        _row("better", 0.85, 3.0),
        _row("tie_slower", 0.85, 4.0),  # as accurate as "better", but slower
        _row("best", 0.90, 9.0),
        _row("stopped", 0.99, None),  # stopped early: never timed, never on the front
        _row("same_cost_worse", 0.70, 1.0),
    ]
    front = mark_pareto_front(rows)
    assert [row["trial"] for row in front] == ["fast", "better", "best"]
    assert {row["trial"] for row in rows if row["on_pareto_front"]} == {"fast", "better", "best"}
    assert best_within_latency(rows, 3.5)["trial"] == "better"
    assert best_within_latency(rows, 1.0)["trial"] == "fast"
    with pytest.raises(ValueError, match="the fastest is fast at 1.000 ms"):
        best_within_latency(rows, 0.5)


def test_grid_is_every_cell_and_seed_and_refuses_bad_values():
    trials = trial_grid([1.0, 0.5], [64, 32], ["separable", "conv"], trials_per_cell=2, seed=3)
    assert len(trials) == 16 and len({trial_name(trial) for trial in trials}) == 16
    assert {trial["seed"] for trial in trials} == {3, 4}
    with pytest.raises(ValueError, match="at least 32"):
        trial_grid([1.0], [16])
    with pytest.raises(ValueError, match="variants must be among"):
        trial_grid([1.0], [32], ["deep"])


def test_user_mistakes_are_one_line_with_exit_2(tmp_path, capsys):
    from mobilenets.cli import main

    out = str(tmp_path / "sweep")
    assert main(["sweep", "--out", out, "--alphas", "0.5,x"]) == 2
    assert main(["sweep", "--out", out, "--resolutions", "16"]) == 2
    assert main(["sweep", "--out", out, "--variants", "deep"]) == 2
    assert main(["sweep", "--resume", out, "--lr", "0.1"]) == 2
    assert main(["sweep", "--resume", out]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "mobilenets sweep: error: --alphas takes a comma-separated list of float values; got '0.5,x'",
        "mobilenets sweep: error: resolutions must be at least 32 pixels; got 16",
        "mobilenets sweep: error: variants must be among separable, conv, shallow, flattened; got 'deep'",
        "mobilenets sweep: error: --resume finishes the sweep as it was saved; drop --lr",
        f"mobilenets sweep: error: nothing to resume in {out} (no sweep.json and tune/ from an earlier sweep)",
    ]
    assert not (tmp_path / "sweep").exists()


def test_resumed_sweep_is_sealed_by_this_users_key(resumed, environment, monkeypatch):
    from mobilenets.sweep.seal import check_seal

    out, *_ = resumed
    monkeypatch.setenv("XDG_CONFIG_HOME", environment["XDG_CONFIG_HOME"])
    check_seal(out, "tune")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(out / "elsewhere"))  # another user's key: none
    with pytest.raises(ValueError, match="not signed by this user's key"):
        check_seal(out, "tune")


class _Hostile:
    """Unpickling it writes the file it names: what a hostile tuner.pkl could do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "ran"))


def test_resume_refuses_tune_files_no_sweep_of_this_user_wrote(tmp_path, monkeypatch, capsys):
    import pickle

    from mobilenets.cli import main
    from mobilenets.sweep.seal import SEAL, Sealer

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    out, marker = tmp_path / "sweep", tmp_path / "ran"
    (out / "tune").mkdir(parents=True)
    (out / "sweep.json").write_text('{"trials": [], "settings": {"epochs": 1}}')
    (out / "tune" / "tuner.pkl").write_bytes(pickle.dumps(_Hostile(marker)))
    resume = ["sweep", "--resume", str(out)]
    assert main(resume) == 2  # no seal
    Sealer(out, "tune").update()  # as a sweep of this user's would have sealed it
    record = json.loads((out / SEAL).read_text())
    (out / "tune" / "tuner.pkl").write_bytes(pickle.dumps(_Hostile(marker)) + b" ")
    assert main(resume) == 2  # a file changed after the seal
    (out / "tune" / "experiment_state-x.json").write_text("{}")
    record["versions"]["tuner.pkl"].append("0" * 64)  # a record edited by hand
    (out / SEAL).write_text(json.dumps(record))
    assert main(resume) == 2
    errors = capsys.readouterr().err.splitlines()
    refusal = (
        f"mobilenets sweep: error: refusing to resume {out}: its Ray Tune files (tune/), "
        "which Tune unpickles, are not ones this user's sweeps wrote"
    )
    assert errors == [
        f"{refusal} (no valid {SEAL}); start it again with --force",
        f"{refusal} (tuner.pkl differs from the record); start it again with --force",
        f"{refusal} ({SEAL} is not signed by this user's key); start it again with --force",
    ]
    assert not marker.exists()


def test_resources_nothing_could_give_are_refused_up_front(tmp_path, capsys):
    import socket

    from mobilenets.cli import main

    with socket.socket() as unused:  # a port nothing listens on once closed
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    out = tmp_path / "sweep"
    sweep = ["sweep", "--out", str(out), "--alphas", "0.25", "--resolutions", "32"]
    assert main([*sweep, "--address", f"127.0.0.1:{port}"]) == 2
    assert main([*sweep, "--address", "nowhere"]) == 2
    assert main([*sweep, "--cpus-per-trial", "100000"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors[0].startswith(
        f"mobilenets sweep: error: no Ray cluster answers at 127.0.0.1:{port} ("
    )
    assert errors[1:] == [
        "mobilenets sweep: error: --address takes HOST:PORT, ray://HOST:PORT or auto; got 'nowhere'",
        f"mobilenets sweep: error: --cpus-per-trial 100000 is more than this machine's {os.cpu_count()} CPUs",
    ]
    if not torch.cuda.is_available():
        assert main([*sweep, "--gpus-per-trial", "1"]) == 2
        assert capsys.readouterr().err == (
            "mobilenets sweep: error: --gpus-per-trial 1 is more than this machine's 0 CUDA GPUs\n"
        )
    assert not out.exists()
