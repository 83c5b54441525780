"""Nothing is lost (issue 10, item 6): inputs are checked before a run folder is touched, a kill
at any write leaves the old or the new state and --resume completes it, folders are swapped
whole, a run folder is locked, temporaries go on SIGTERM, outputs get the umask, OS errors are
one line. Kills are real signals sent to real processes: a child runs the command with one
function wrapped so that it signals itself at its N-th call (before or after the real call)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from train_helpers import assert_same_weights, subprocess_env, tiny_config

from mobilenets.classification import fit
from mobilenets.cli import main
from mobilenets.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

# Runs each job of argv[1] (a JSON list) in a forked child, writing the exit statuses to argv[2];
# a single job runs in this process (for a test that waits on it).
CHILD = r"""
import importlib, json, os, resource, sys, traceback
from mobilenets.cli import main

def run(job):
    os.umask(job.get("umask", 0o022))
    if "fsize" in job:
        resource.setrlimit(resource.RLIMIT_FSIZE, (job["fsize"], job["fsize"]))
    if "stderr" in job:
        os.dup2(os.open(job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
    calls = []
    if "wrap" in job:
        module, _, path = job["wrap"].partition(":")
        owner = importlib.import_module(module)
        *parents, name = path.split(".")
        for part in parents:
            owner = getattr(owner, part)
        real = getattr(owner, name)
        def wrapped(*args, **kwargs):
            calls.append(os.path.basename(str(args[-1])))
            if len(calls) == job.get("at") and job["when"] == "before":
                os.kill(os.getpid(), job["signal"])
            result = real(*args, **kwargs)
            if len(calls) == job.get("at") and job["when"] == "after":
                os.kill(os.getpid(), job["signal"])
            return result
        setattr(owner, name, wrapped)
    try:
        return main(job["argv"])
    finally:
        if "log" in job:
            with open(job["log"], "w") as handle:
                json.dump(calls, handle)

jobs = json.loads(sys.argv[1])
if len(jobs) == 1:
    sys.exit(run(jobs[0]))
statuses = []
for job in jobs:
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            code = run(job)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    statuses.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
with open(sys.argv[2], "w") as handle:
    json.dump(statuses, handle)
"""

# Two epochs of a tiny MobileNet whose second epoch improves top-1 (so both epochs write best.pt);
# fp32 pins that trajectory on every CPU (`precision auto` is bf16 where the CPU has it).
TRAIN = [
    "train",
    "--alpha",
    "0.25",
    "--resolution",
    "32",
    "--batch-size",
    "32",
    "--limit-train",
    "96",
    "--limit-val",
    "64",
    "--epochs",
    "2",
    "--seed",
    "5",
    "--optimizer",
    "adamw",
    "--lr",
    "0.01",
    "--weight-decay",
    "1e-4",
    "--precision",
    "fp32",
]
# The atomic writes of that run, in order: last.pt commits an epoch, the rest follow from it.
WRITES = [
    "last.pt",
    "best.pt",
    "metrics.jsonl",
    "last.pt",
    "best.pt",
    "metrics.jsonl",
    "summary.json",
]
TIMING = ("epoch_seconds", "images_per_second", "train_seconds")
KILL, TERM = int(signal.SIGKILL), int(signal.SIGTERM)
GEO = ["data", "make-geo", "--images", "10"]
TF_SLIM = str(Path(__file__).parents[1] / "fixtures" / "tf_slim_mobilenet_v1_025" / "model.ckpt")


def run_children(jobs: list[dict], folder: Path) -> list[int]:
    statuses = folder / "statuses.json"
    subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(jobs), str(statuses)],
        env=subprocess_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return json.loads(statuses.read_text())


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and its sha256 (the lock file aside: it names its holder)."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".lock"
    }


def temporaries(folder: Path) -> list[str]:
    """What interrupted writes left: ``.NAME.tmp-*`` beside ``folder`` and inside it."""
    found = [path.name for path in folder.parent.glob(f".{folder.name}.tmp-*")]
    if folder.is_dir():
        found += [path.name for path in folder.iterdir() if ".tmp-" in path.name]
    return sorted(found)


def one_line(text: str) -> str:
    """The message of a refusal: one line, no traceback."""
    lines = text.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def last_line(text: str) -> str:
    """The line a child ended with after its progress bars (which redraw with carriage returns)."""
    assert "Traceback" not in text, text
    return text.replace("\r", "\n").strip().splitlines()[-1]


@pytest.fixture(scope="module")
def children(tmp_path_factory):
    """One child process forks every killed, terminated or limited run of this module."""
    root = tmp_path_factory.mktemp("children")
    assert main([*GEO, "--seed", "0", "--out", str(root / "geo-old")]) == 0
    jobs = {
        "reference": {
            "argv": [*TRAIN, "--out", str(root / "reference")],
            "wrap": "os:replace",
            "log": str(root / "writes.json"),
            "umask": 0o027,
        }
    }
    for at in range(1, len(WRITES) + 1):
        jobs[f"before-{at}"] = {"wrap": "os:replace", "at": at, "when": "before", "signal": KILL}
    jobs["after-last"] = {"wrap": "os:replace", "at": len(WRITES), "when": "after", "signal": KILL}
    jobs["term"] = {
        "wrap": "os:replace",
        "at": 5,
        "when": "before",
        "signal": TERM,
    }  # before epoch 2's best.pt
    jobs["fsize"] = {"fsize": 100_000}
    for name, job in jobs.items():
        job.setdefault("argv", [*TRAIN, "--out", str(root / name)])
        job["stderr"] = str(root / f"{name}.err")
    for name, job in {
        "geo-building": {"wrap": "PIL.Image:Image.save", "at": 3, "when": "before", "signal": KILL},
        "geo-swapped": {"wrap": "shutil:rmtree", "at": 1, "when": "before", "signal": KILL},
    }.items():
        shutil.copytree(root / "geo-old", root / name)
        jobs[name] = {
            **job,
            "argv": [*GEO, "--seed", "1", "--force", "--out", str(root / name)],
            "stderr": str(root / f"{name}.err"),
        }
    statuses = dict(zip(jobs, run_children(list(jobs.values()), root)))
    return root, statuses


def assert_same_run(run: Path, reference: Path) -> None:
    """Equal checkpoints, metrics and summary (timings aside), and nothing else left in the folder."""
    for name in ("last.pt", "best.pt"):
        ours, theirs = load_checkpoint(run / name), load_checkpoint(reference / name)
        assert_same_weights(ours["model"], theirs["model"])
        assert (ours["epoch"], ours["best"]) == (theirs["epoch"], theirs["best"]), name

    def records(path: Path) -> list[dict]:
        return [
            {k: v for k, v in json.loads(line).items() if k not in TIMING}
            for line in path.read_text().splitlines()
        ]

    assert records(run / "metrics.jsonl") == records(reference / "metrics.jsonl")
    summary, expected = (
        json.loads((folder / "summary.json").read_text()) for folder in (run, reference)
    )
    assert {k: v for k, v in summary.items() if k not in (*TIMING, "run_dir")} == {
        k: v for k, v in expected.items() if k not in (*TIMING, "run_dir")
    }
    assert sorted(p.name for p in run.iterdir() if not p.name.startswith("events.")) == [
        ".lock",
        "best.pt",
        "last.pt",
        "metrics.jsonl",
        "summary.json",
    ]


# ------------------------------------------------------------------ an epoch's commit


def test_the_reference_run_commits_each_epoch_with_last_pt_first(children):
    root, statuses = children
    assert statuses["reference"] == 0
    assert json.loads((root / "writes.json").read_text()) == WRITES
    best = load_checkpoint(root / "reference" / "best.pt")
    assert best["epoch"] == 2 and best["best"]["epoch"] == 2, (
        "the second epoch must improve for this test to bite"
    )
    assert len(load_checkpoint(root / "reference" / "last.pt")["history"]) == 2


@pytest.mark.parametrize(
    "point", [f"before-{at}" for at in range(2, len(WRITES) + 1)] + ["after-last"]
)
def test_a_kill_at_any_write_then_resume_equals_the_uninterrupted_run(children, capsys, point):
    root, statuses = children
    assert statuses[point] == -signal.SIGKILL
    run = root / point
    assert main(["train", "--resume", str(run)]) == 0
    assert_same_run(run, root / "reference")


def test_a_kill_before_the_first_commit_leaves_nothing_to_resume(children, capsys):
    root, statuses = children
    assert statuses["before-1"] == -signal.SIGKILL
    assert main(["train", "--resume", str(root / "before-1")]) == 2
    assert "nothing to resume" in one_line(capsys.readouterr().err)
    assert main([*TRAIN, "--out", str(root / "before-1"), "--force"]) == 0
    assert_same_run(root / "before-1", root / "reference")


def test_sigterm_mid_write_removes_the_temporary_and_resume_completes_the_run(children, capsys):
    root, statuses = children
    assert statuses["term"] == 128 + signal.SIGTERM
    assert last_line((root / "term.err").read_text()) == "mobilenets train: terminated"
    run = root / "term"
    assert temporaries(run) == []
    assert load_checkpoint(run / "last.pt")["epoch"] == 2  # committed before the signal
    assert main(["train", "--resume", str(run)]) == 0
    assert_same_run(run, root / "reference")


# ------------------------------------------------------------------ folders swapped whole


def test_a_kill_while_a_folder_is_built_leaves_the_old_one_and_the_next_run_cleans_up(
    children, tmp_path
):
    root, statuses = children
    assert statuses["geo-building"] == -signal.SIGKILL
    assert tree(root / "geo-building") == tree(root / "geo-old")
    assert len(temporaries(root / "geo-building")) == 1
    assert main([*GEO, "--seed", "1", "--out", str(tmp_path / "fresh")]) == 0
    assert main([*GEO, "--seed", "1", "--force", "--out", str(root / "geo-building")]) == 0
    assert tree(root / "geo-building") == tree(tmp_path / "fresh") != tree(root / "geo-old")
    assert temporaries(root / "geo-building") == []


def test_a_kill_after_the_swap_leaves_the_new_folder_complete(children, tmp_path):
    root, statuses = children
    assert statuses["geo-swapped"] == -signal.SIGKILL
    assert main([*GEO, "--seed", "1", "--out", str(tmp_path / "fresh")]) == 0
    assert tree(root / "geo-swapped") == tree(tmp_path / "fresh")
    assert len(temporaries(root / "geo-swapped")) == 1  # the old folder, set aside whole
    assert main([*GEO, "--seed", "2", "--force", "--out", str(root / "geo-swapped")]) == 0
    assert temporaries(root / "geo-swapped") == []


def test_make_detection_force_replaces_the_folder_whole(tmp_path):
    out = tmp_path / "coco"
    assert main(["data", "make-detection", "--images", "2", "--out", str(out)]) == 0
    (out / "mine.txt").write_text("old")
    assert (
        main(
            ["data", "make-detection", "--images", "3", "--seed", "1", "--force", "--out", str(out)]
        )
        == 0
    )
    assert (
        not (out / "mine.txt").exists()
        and len(json.loads((out / "annotations" / "instances_train.json").read_text())["images"])
        == 2
    )
    assert temporaries(out) == []


# ------------------------------------------------------------------ the umask


def test_outputs_get_the_umask(children, tmp_path):
    root, _ = children
    for name in ("last.pt", "best.pt", "metrics.jsonl", "summary.json", ".lock"):
        assert (root / "reference" / name).stat().st_mode & 0o777 == 0o640, (
            name
        )  # the child's umask 027
    previous = os.umask(0o002)
    try:
        assert main([*GEO, "--out", str(tmp_path / "geo")]) == 0
        assert main(["convert", TF_SLIM, "--from", "tf-slim", "--out", str(tmp_path / "w.pt")]) == 0
    finally:
        os.umask(previous)
    assert (tmp_path / "geo").stat().st_mode & 0o777 == 0o775
    assert (tmp_path / "w.pt").stat().st_mode & 0o777 == 0o664


# ------------------------------------------------------------------ one run per folder


def test_a_run_folder_in_use_is_refused_naming_its_holder(tmp_path, capsys):
    run = tmp_path / "run"
    # The child stops itself just before committing its second epoch: it holds the lock, mid-run.
    job = {
        "argv": [*TRAIN, "--out", str(run)],
        "wrap": "os:replace",
        "at": 4,
        "when": "before",
        "signal": int(signal.SIGSTOP),
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps([job])],
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _, status = os.waitpid(child.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status)
        before = tree(run)
        for argv in (
            [*TRAIN, "--out", str(run)],
            [*TRAIN, "--out", str(run), "--force"],
            ["train", "--resume", str(run)],
        ):
            assert main(argv) == 2
            error = one_line(capsys.readouterr().err)
            assert f"{run} is in use by pid {child.pid} on " in error and " since " in error, error
        assert tree(run) == before
    finally:
        child.kill()
        child.wait()
    # The OS released the lock with the process; the temporary it was writing goes too.
    assert main(["train", "--resume", str(run)]) == 0
    assert temporaries(run) == []
    assert load_checkpoint(run / "last.pt")["epoch"] == 2


# ------------------------------------------------------------------ --force checks every input first


@pytest.fixture(scope="module")
def existing_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("existing") / "run"
    fit(tiny_config(run, limit_train=64, limit_val=32), progress=False)
    return run


SMALL = [
    "--alpha",
    "0.25",
    "--resolution",
    "32",
    "--batch-size",
    "32",
    "--limit-train",
    "64",
    "--limit-val",
    "32",
    "--epochs",
    "1",
]


@pytest.mark.parametrize(
    "argv",
    [
        ["train", *SMALL, "--data", "typo-data"],
        ["train", *SMALL, "--init", "typo-init.pt"],
        ["train", *SMALL, "--init", "GARBAGE"],
        ["train", *SMALL, "--teacher", "typo-teacher.pt"],
        ["train", *SMALL, "--teacher-outputs", "typo-outputs.pt"],
        ["train", *SMALL, "--teacher-outputs", "GARBAGE"],
        ["train", *SMALL, "--qat", "--init", "typo-init.pt"],
        [
            "train-detector",
            "--arch",
            "ssdlite300",
            "--alpha",
            "0.25",
            "--epochs",
            "1",
            "--data",
            "typo-data",
        ],
        ["train-attributes", *SMALL, "--teacher-outputs", "typo-outputs.pt"],
        ["train-embedding", *SMALL, "--teacher", "typo-teacher.pt"],
        ["train-geo", *SMALL, "--data", "typo-data"],
    ],
    ids=lambda argv: f"{argv[0]}{' --qat' if '--qat' in argv else ''} {argv[-2]} {argv[-1]}",
)
def test_force_with_a_bad_input_leaves_the_run_untouched(existing_run, tmp_path, capsys, argv):
    run = tmp_path / "run"
    shutil.copytree(existing_run, run)
    before = tree(run)
    if argv[-1] == "GARBAGE":
        (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint\x00" * 64)
        argv = [*argv[:-1], str(tmp_path / "garbage.pt")]
    assert main([*argv, "--out", str(run), "--force"]) == 2
    error = one_line(capsys.readouterr().err)
    assert Path(argv[-1]).name in error, error
    assert tree(run) == before and temporaries(run) == []


def test_resume_of_an_unreadable_last_pt_leaves_the_run_untouched(existing_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(existing_run, run)
    (run / "last.pt").write_bytes((run / "last.pt").read_bytes()[:1000])
    before = tree(run)
    assert main(["train", "--resume", str(run)]) == 2
    assert "last.pt" in one_line(capsys.readouterr().err)
    assert tree(run) == before


# ------------------------------------------------------------------ OS errors: one line naming the path


def test_a_file_too_large_for_the_limit_is_one_line_and_leaves_nothing(children):
    root, statuses = children
    assert statuses["fsize"] == 2
    error = last_line((root / "fsize.err").read_text())
    assert error == f"mobilenets train: error: {root / 'fsize' / 'last.pt'}: File too large"
    assert temporaries(root / "fsize") == []


@pytest.mark.parametrize(
    "argv, out",
    [
        (["train", *SMALL, "--out"], "FILE/run"),
        (
            [
                "export",
                "--alpha",
                "0.25",
                "--resolution",
                "32",
                "--num-classes",
                "10",
                "--format",
                "torchscript",
                "--verify-data",
                "random",
                "--out",
            ],
            "FILE/model.pt",
        ),
        (["convert", TF_SLIM, "--from", "tf-slim", "--out"], "FILE/weights.pt"),
        (
            ["eval", "--checkpoint", "RUN/best.pt", "--limit-val", "32", "--plot"],
            "FILE/confusion.png",
        ),
        (["select", "--max-params", "1e6", "--plot"], "FILE/tradeoff.png"),
    ],
    ids=lambda value: value[0] if isinstance(value, list) else "",
)
def test_an_output_under_a_file_is_one_line_naming_the_path(
    existing_run, tmp_path, capsys, argv, out
):
    (tmp_path / "FILE").write_text("a file, not a folder")
    argv = [part.replace("RUN", str(existing_run)) for part in argv]
    assert main([*argv, str(tmp_path / out)]) == 2
    error = one_line(capsys.readouterr().err)
    # Refused while parsing, before any work (the output flags check their folder).
    assert (
        error.startswith(f"mobilenets {argv[0]}: error: argument --")
        and "which is a file, not a folder" in error
    ), error
    assert f"is under '{tmp_path / 'FILE'}'" in error, error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE"]


def test_a_full_disk_is_one_line_naming_the_file_and_leaves_nothing(tmp_path):
    """A real ENOSPC: a 256 KiB tmpfs mounted in a private mount namespace of the child only."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(
        ["unshare", "--mount", "mount", "-t", "tmpfs", "tmpfs", str(disk)], capture_output=True
    ).returncode:
        pytest.skip("no private mount namespace here (unshare --mount needs CAP_SYS_ADMIN)")
    # The child's folder is listed inside the namespace, before the tmpfs goes with it.
    command = 'mount -t tmpfs -o size=256k tmpfs "$0" && { "$@"; status=$?; ls -A "$0/run"; exit $status; }'
    child = subprocess.run(
        [
            "unshare",
            "--mount",
            "sh",
            "-c",
            command,
            str(disk),
            sys.executable,
            "-m",
            "mobilenets",
            *TRAIN,
            "--epochs",
            "1",
            "--out",
            str(disk / "run"),
        ],
        env=subprocess_env(),
        capture_output=True,
        text=True,
    )
    assert child.returncode == 2
    assert (
        last_line(child.stderr)
        == f"mobilenets train: error: {disk / 'run' / 'last.pt'}: No space left on device"
    )
    left = child.stdout.split()
    assert ".lock" in left and not [
        name for name in left if ".tmp-" in name or name.endswith(".pt")
    ], left
