"""Issue 10, item 1: loading never executes code. Every command that opens a checkpoint or a
.pt file is given (a) hostile pickles whose ``__reduce__`` would run a command or create a file,
and (b) checkpoints that load as plain data but name a hostile ``model_factory`` or arguments
the builder does not take. Each must leave the marker file absent (no code ran), exit 2 with
exactly one line on stderr naming the problem, and print no traceback."""
from __future__ import annotations

import io
import os
import pickle
from pathlib import Path

import pytest
import torch
from PIL import Image

from mobilenets.cli import main
from mobilenets.models import MobileNetV1, builder_name
from mobilenets.train.checkpoint import load_checkpoint
from train_helpers import tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")

# A training run small enough that reaching the load costs about a second.
TINY = ["--alpha", "0.25", "--resolution", "32", "--batch-size", "32", "--limit-train", "64", "--limit-val", "32", "--epochs", "1"]


class _RunsCommand:
    """Unpickling this runs ``touch MARKER`` through os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _OpensFile:
    """Unpickling this creates MARKER through builtins.open: code, without a shell."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def _torch_save_bytes(value) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


# (how the file is written, what it holds): torch.save's zip format and a raw pickle (torch's
# legacy format), the payload in the entry a loader reads first or hidden deeper.
PICKLES = {
    "zip-model-os.system": lambda marker: _torch_save_bytes({"model": _RunsCommand(marker), "model_factory": "x", "model_config": {}}),
    "zip-nested-open": lambda marker: _torch_save_bytes({"model": {}, "task": {"classes": [_OpensFile(marker)]}}),
    "raw-pickle-os.system": lambda marker: pickle.dumps({"model": _RunsCommand(marker)}, protocol=2),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """An image to predict on and a tiny COCO folder for the detector commands."""
    from mobilenets.detection.synthetic import make_detection

    root = tmp_path_factory.mktemp("inputs")
    Image.new("RGB", (40, 40), (120, 30, 200)).save(root / "image.png")
    make_detection(root / "coco", 10, seed=0)
    return root


def _commands(path: str, run_dir: str, out: Path, files: Path) -> dict[str, list[str]]:
    """Every command line that opens ``path`` (a .pt file) or ``run_dir`` (holding it as last.pt)."""
    image, coco = str(files / "image.png"), str(files / "coco")
    new_run = ["--out", str(out / "run")]
    return {
        "eval": ["eval", "--checkpoint", path],
        "eval --pretrained": ["eval", "--pretrained", path, "--data", "fashion-mnist"],
        "predict": ["predict", "--checkpoint", path, image],
        "predict --pretrained": ["predict", "--pretrained", path, image],
        "export": ["export", "--checkpoint", path, "--format", "onnx", "--out", str(out / "x.onnx")],
        "export --pretrained": ["export", "--pretrained", path, "--format", "onnx", "--out", str(out / "x.onnx")],
        "cost --pretrained": ["cost", "--pretrained", path],
        "bench --pretrained": ["bench", "--pretrained", path, "--runtime", "eager"],
        "train --init": ["train", *new_run, *TINY, "--init", path],
        "train --qat --init": ["train", *new_run, *TINY, "--qat", "--init", path],
        "train --pretrained": ["train", *new_run, *TINY, "--pretrained", path],
        "train --teacher": ["train", *new_run, *TINY, "--teacher", path],
        "train --teacher-weights": ["train", *new_run, *TINY, "--teacher", "resnet18", "--teacher-weights", path],
        "train --teacher-outputs": ["train", *new_run, *TINY, "--teacher-outputs", path],
        "train --resume": ["train", "--resume", run_dir],
        "teacher-outputs --teacher": ["teacher-outputs", "--teacher", path, "--resolution", "32", "--limit-train", "64", "--out", str(out / "t.pt")],
        "train-detector --backbone-init": ["train-detector", "--data", coco, *new_run, "--arch", "ssdlite300", "--epochs", "1",
                                           "--batch-size", "2", "--alpha", "0.25", "--backbone-init", path],
        "train-detector --resume": ["train-detector", "--resume", run_dir],
        "eval-detector": ["eval-detector", "--checkpoint", path, "--data", coco],
        "detect": ["detect", "--checkpoint", path, image, "--out", str(out / "drawn")],
        "export-detector": ["export-detector", "--checkpoint", path, "--out", str(out / "d.onnx")],
        "train-attributes --teacher": ["train-attributes", *new_run, *TINY, "--teacher", path],
        "train-attributes --teacher-outputs": ["train-attributes", *new_run, *TINY, "--teacher-outputs", path],
        "train-attributes --resume": ["train-attributes", "--resume", run_dir],
        "train-embedding --teacher": ["train-embedding", *new_run, *TINY, "--teacher", path],
        "train-embedding --teacher-outputs": ["train-embedding", *new_run, *TINY, "--teacher-outputs", path],
        "train-embedding --resume": ["train-embedding", "--resume", run_dir],
        "eval-attributes": ["eval-attributes", "--checkpoint", path],
        "eval-embedding": ["eval-embedding", "--checkpoint", path],
        "embed": ["embed", "--checkpoint", path, image],
        "precompute-teacher": ["precompute-teacher", "--task", "attributes", "--teacher", path, "--resolution", "32",
                               "--limit-train", "64", "--out", str(out / "p.pt")],
        "train-geo --resume": ["train-geo", "--resume", run_dir],
        "eval-geo": ["eval-geo", "--checkpoint", path],
        "locate": ["locate", "--checkpoint", path, image],
    }


COMMANDS = list(_commands("P", "R", Path("O"), Path("F")))
# The commands that rebuild the network a checkpoint of this project describes (--pretrained,
# --teacher-weights, --teacher-outputs and --backbone-init read weights or tensors only). Of the
# resumes, `train --resume` stands for all: each task resumes through the loop's one rebuild
# (the others would first need their own data set on disk to get that far).
REBUILDING = [
    name for name in COMMANDS
    if not any(flag in name for flag in ("--pretrained", "--init", "--teacher-weights", "--teacher-outputs", "--backbone-init"))
    and not (name.endswith("--resume") and name != "train --resume")
]


def _refused(argv: list[str], marker: Path, capsys) -> str:
    """Runs the command in-process; asserts the refusal contract and returns the stderr line."""
    try:
        status = main(argv)
    except BaseException as error:  # what would reach the user as a traceback
        pytest.fail(f"traceback: {type(error).__name__}: {error}")
    captured = capsys.readouterr()
    assert not marker.exists(), "the file's code ran"
    assert status == 2, (status, captured.err)
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    return lines[0]


# Every command with one payload; every payload with the two loaders that differ most (a
# checkpoint rebuilt for evaluation, a run folder resumed). All reads go through one function,
# so the remaining pairs would test it again.
PICKLE_CASES = [(command, "zip-model-os.system") for command in COMMANDS] + [
    (command, payload) for payload in list(PICKLES)[1:] for command in ("eval", "train --resume")
]


@pytest.mark.parametrize(("command", "payload"), PICKLE_CASES)
def test_hostile_pickle_is_refused_by_every_command(command, payload, files, tmp_path, capsys):
    marker = tmp_path / "marker"
    hostile = tmp_path / "hostile.pt"
    hostile.write_bytes(PICKLES[payload](marker))
    run_dir = tmp_path / "hostile_run"
    run_dir.mkdir()
    (run_dir / "last.pt").write_bytes(hostile.read_bytes())
    line = _refused(_commands(str(hostile), str(run_dir), tmp_path, files)[command], marker, capsys)
    assert "not plain data" in line and ("hostile.pt" in line or "last.pt" in line), line


def _factories(marker: Path) -> dict[str, tuple[str, dict]]:
    return {
        "subprocess:run": ("subprocess:run", {"args": ["touch", str(marker)]}),
        "os:system": ("os:system", {"command": f"touch {marker}"}),
        "builtins:eval": ("builtins:eval", {"source": f"open({str(marker)!r}, 'w')"}),
        # A real callable of the package that builds models, but not a registered builder.
        "unregistered package callable": ("mobilenets.models.registry:create_model", {"name": "mobilenet_v1_025_128"}),
        "unknown argument": (builder_name(MobileNetV1), {"alpha": 0.25, "num_classes": 10, "__class__": "x"}),
    }


FACTORIES = list(_factories(Path("M")))
# Every rebuilding command with a command-running factory and an unknown argument; every
# factory with evaluation and resume (one rebuild function serves all of them).
FACTORY_CASES = [(command, factory) for command in REBUILDING for factory in ("subprocess:run", "unknown argument")] + [
    (command, factory) for factory in FACTORIES if factory not in ("subprocess:run", "unknown argument")
    for command in ("eval", "train --resume")
]


@pytest.fixture(scope="module")
def clean_checkpoint(tmp_path_factory):
    """A real checkpoint of a one-epoch run: plain data the hostile variants start from."""
    from mobilenets.train.loop import fit

    run = tmp_path_factory.mktemp("clean") / "run"
    fit(tiny_config(run, limit_train=64, limit_val=32), progress=False)
    return load_checkpoint(run / "last.pt")


@pytest.mark.parametrize(("command", "factory"), FACTORY_CASES)
def test_hostile_factory_is_refused_before_anything_is_called(command, factory, clean_checkpoint, files, tmp_path, capsys):
    marker = tmp_path / "marker"
    name, arguments = _factories(marker)[factory]
    # The task entry each command checks before it rebuilds the network: detector categories,
    # attributes, an embedding size, a cell partition (never read when the refusal comes first).
    task = {**clean_checkpoint["task"], "categories": {1: "thing"}, "attributes": ["a"], "embedding_dim": 128, "partition": {}}
    checkpoint = {**clean_checkpoint, "model_factory": name, "model_config": arguments, "task": task}
    run_dir = tmp_path / "run_to_resume"
    run_dir.mkdir()
    torch.save(checkpoint, run_dir / "last.pt")
    hostile = run_dir / "last.pt"
    line = _refused(_commands(str(hostile), str(run_dir), tmp_path, files)[command], marker, capsys)
    expected = "takes no argument '__class__'" if factory == "unknown argument" else "is not a registered model builder"
    assert expected in line and name in line, line


def test_a_pickled_payload_fires_when_loaded_without_weights_only(tmp_path):
    """The corpus is live: the same bytes do run their code under torch.load(weights_only=False)."""
    marker = tmp_path / "marker"
    hostile = tmp_path / "hostile.pt"
    hostile.write_bytes(PICKLES["zip-model-os.system"](marker))
    torch.load(hostile, weights_only=False)
    assert marker.exists()


def test_old_checkpoints_with_numpy_rng_state_still_resume_exactly(tmp_path, capsys):
    """A checkpoint written before RNG states became tensors (numpy's state as a tuple with a
    uint32 array) loads with numpy's array reconstruction allowed only in that load, and the
    resumed run equals one resumed from the tensor form."""
    import numpy as np

    from mobilenets.train.loop import fit

    run = tmp_path / "run"
    fit(tiny_config(run), progress=False)
    checkpoint = load_checkpoint(run / "last.pt")
    for state in checkpoint["rng"]:
        numpy = state["numpy"]
        state["numpy"] = (numpy["kind"], numpy["key"].numpy().astype(np.uint32), numpy["position"], numpy["has_gauss"], numpy["cached_gaussian"])
    old = tmp_path / "old"
    old.mkdir()
    torch.save(checkpoint, old / "last.pt")
    assert any("numpy" in name for name in torch.serialization.get_unsafe_globals_in_checkpoint(old / "last.pt"))
    # Numpy's globals stay off the default allow-list outside that load.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(old / "last.pt", weights_only=True)
    fit(tiny_config(run, epochs=2), resume=True, progress=False)
    fit(tiny_config(old, epochs=2), resume=True, progress=False)
    new, legacy = load_checkpoint(run / "last.pt")["model"], load_checkpoint(old / "last.pt")["model"]
    assert all(torch.equal(new[key], legacy[key]) for key in new)
