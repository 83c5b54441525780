"""Issue 10, item 1: loading never executes code. Every command that opens a checkpoint or a
.pt file is given (a) hostile pickles whose ``__reduce__`` would run a command or create a file,
and (b) checkpoints that load as plain data but name a hostile ``model_factory`` or arguments
the builder does not take. Each must leave the marker file absent (no code ran), exit 2 with
exactly one line on stderr naming the problem, and print no traceback.

``python tests/trust/test_trust_load.py`` prints the figures (attempts, clear refusals, tracebacks,
code executed) for whichever ``mobilenets`` is first on PYTHONPATH, an older one included."""

from __future__ import annotations

import collections
import contextlib
import io
import os
import pickle
import tempfile
from pathlib import Path

import pytest
import torch
from PIL import Image
from train_helpers import tiny_config

from mobilenets.cli import main
from mobilenets.models import MobileNetV1
from mobilenets.train.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

# A training run small enough that reaching the load costs about a second.
TINY = [
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
    "zip-model-os.system": lambda marker: _torch_save_bytes(
        {"model": _RunsCommand(marker), "model_factory": "x", "model_config": {}}
    ),
    "zip-nested-open": lambda marker: _torch_save_bytes(
        {"model": {}, "task": {"classes": [_OpensFile(marker)]}}
    ),
    "raw-pickle-os.system": lambda marker: pickle.dumps(
        {"model": _RunsCommand(marker)}, protocol=2
    ),
}


def make_inputs(root: Path) -> Path:
    """An image to predict on and a tiny COCO folder for the detector commands."""
    from mobilenets.detection.synthetic import make_detection

    Image.new("RGB", (40, 40), (120, 30, 200)).save(root / "image.png")
    make_detection(root / "coco", 10, seed=0, progress=False)
    return root


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return make_inputs(tmp_path_factory.mktemp("inputs"))


def _commands(path: str, run_dir: str, out: Path, files: Path) -> dict[str, list[str]]:
    """Every command line that opens ``path`` (a .pt file) or ``run_dir`` (holding it as last.pt)."""
    image, coco = str(files / "image.png"), str(files / "coco")
    new_run = ["--out", str(out / "run")]
    return {
        "eval": ["eval", "--checkpoint", path],
        "eval --pretrained": ["eval", "--pretrained", path, "--data", "fashion-mnist"],
        "predict": ["predict", "--checkpoint", path, image],
        "predict --pretrained": ["predict", "--pretrained", path, image],
        "export": [
            "export",
            "--checkpoint",
            path,
            "--format",
            "onnx",
            "--out",
            str(out / "x.onnx"),
        ],
        "export --pretrained": [
            "export",
            "--pretrained",
            path,
            "--format",
            "onnx",
            "--out",
            str(out / "x.onnx"),
        ],
        "cost --pretrained": ["cost", "--pretrained", path],
        "bench --pretrained": ["bench", "--pretrained", path, "--runtime", "eager"],
        "train --init": ["train", *new_run, *TINY, "--init", path],
        "train --qat --init": ["train", *new_run, *TINY, "--qat", "--init", path],
        "train --pretrained": ["train", *new_run, *TINY, "--pretrained", path],
        "train --teacher": ["train", *new_run, *TINY, "--teacher", path],
        "train --teacher-weights": [
            "train",
            *new_run,
            *TINY,
            "--teacher",
            "resnet18",
            "--teacher-weights",
            path,
        ],
        "train --teacher-outputs": ["train", *new_run, *TINY, "--teacher-outputs", path],
        "train --resume": ["train", "--resume", run_dir],
        "teacher-outputs --teacher": [
            "teacher-outputs",
            "--teacher",
            path,
            "--resolution",
            "32",
            "--limit-train",
            "64",
            "--out",
            str(out / "t.pt"),
        ],
        "train-detector --init": [
            "train-detector",
            "--data",
            coco,
            *new_run,
            "--arch",
            "ssdlite300",
            "--epochs",
            "1",
            "--batch-size",
            "2",
            "--alpha",
            "0.25",
            "--init",
            path,
        ],
        "train-detector --resume": ["train-detector", "--resume", run_dir],
        "eval-detector": ["eval-detector", "--checkpoint", path, "--data", coco],
        "detect": ["detect", "--checkpoint", path, image, "--out", str(out / "drawn")],
        "export-detector": ["export-detector", "--checkpoint", path, "--out", str(out / "d.onnx")],
        "train-attributes --teacher": ["train-attributes", *new_run, *TINY, "--teacher", path],
        "train-attributes --teacher-outputs": [
            "train-attributes",
            *new_run,
            *TINY,
            "--teacher-outputs",
            path,
        ],
        "train-attributes --resume": ["train-attributes", "--resume", run_dir],
        "train-embedding --teacher": ["train-embedding", *new_run, *TINY, "--teacher", path],
        "train-embedding --teacher-outputs": [
            "train-embedding",
            *new_run,
            *TINY,
            "--teacher-outputs",
            path,
        ],
        "train-embedding --resume": ["train-embedding", "--resume", run_dir],
        "eval-attributes": ["eval-attributes", "--checkpoint", path],
        "eval-embedding": ["eval-embedding", "--checkpoint", path],
        "embed": ["embed", "--checkpoint", path, image],
        "teacher-outputs --task attributes": [
            "teacher-outputs",
            "--task",
            "attributes",
            "--teacher",
            path,
            "--resolution",
            "32",
            "--limit-train",
            "64",
            "--out",
            str(out / "p.pt"),
        ],
        "train-geo --resume": ["train-geo", "--resume", run_dir],
        "eval-geo": ["eval-geo", "--checkpoint", path],
        "locate": ["locate", "--checkpoint", path, image],
    }


COMMANDS = list(_commands("P", "R", Path("O"), Path("F")))
# The commands that rebuild the network a checkpoint of this project describes (--pretrained,
# --teacher-weights, --teacher-outputs and --init read weights or tensors only). Of the
# resumes, `train --resume` stands for all: each task resumes through the loop's one rebuild
# (the others would first need their own data set on disk to get that far).
REBUILDING = [
    name
    for name in COMMANDS
    if not any(
        flag in name
        for flag in (
            "--pretrained",
            "--init",
            "--teacher-weights",
            "--teacher-outputs",
        )
    )
    and not (name.endswith("--resume") and name != "train --resume")
]


def attempt(argv: list[str], marker: Path) -> tuple[str, str]:
    """Runs the command in-process: its outcome ("code executed", "traceback", "clear refusal"
    or "other") and the last line on stderr (the exception, for a traceback)."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            status, escaped = main(argv), None
        except BaseException as error:  # what would reach the user as a traceback
            status, escaped = None, f"{type(error).__name__}: {error}"
    lines = stderr.getvalue().strip().splitlines()
    if marker.exists():
        return "code executed", escaped or (lines[-1] if lines else "")
    if escaped:
        return "traceback", escaped
    if status == 2 and len(lines) == 1 and "Traceback" not in lines[0]:
        return "clear refusal", lines[0]
    return "other", f"status {status}: " + " / ".join(lines)


# Every command with one payload; every payload with the two loaders that differ most (a
# checkpoint rebuilt for evaluation, a run folder resumed). All reads go through one function,
# so the remaining pairs would test it again.
PICKLE_CASES = [(command, "zip-model-os.system") for command in COMMANDS] + [
    (command, payload) for payload in list(PICKLES)[1:] for command in ("eval", "train --resume")
]


@pytest.mark.parametrize(("command", "payload"), PICKLE_CASES)
def test_hostile_pickle_is_refused_by_every_command(command, payload, files, tmp_path):
    marker, hostile, run_dir = _hostile_paths(tmp_path)
    hostile.write_bytes(PICKLES[payload](marker))
    outcome, line = attempt(_commands(str(hostile), str(run_dir), tmp_path, files)[command], marker)
    assert outcome == "clear refusal", line
    assert "not plain data" in line and "last.pt" in line, line


def _factories(marker: Path) -> dict[str, tuple[str, dict]]:
    return {
        "subprocess:run": ("subprocess:run", {"args": ["touch", str(marker)]}),
        "os:system": ("os:system", {"command": f"touch {marker}"}),
        "builtins:eval": ("builtins:eval", {"source": f"open({str(marker)!r}, 'w')"}),
        # A real callable of the package that builds models, but not a registered builder.
        "unregistered package callable": (
            "mobilenets.models.registry:create_model",
            {"name": "mobilenet_v1_025_128"},
        ),
        # (spelt out rather than builder_name(), so the figures run against older code too)
        "unknown argument": (
            f"{MobileNetV1.__module__}:{MobileNetV1.__qualname__}",
            {"alpha": 0.25, "num_classes": 10, "__class__": "x"},
        ),
    }


FACTORIES = list(_factories(Path("M")))
# Every rebuilding command with a command-running factory and an unknown argument; every
# factory with evaluation and resume (one rebuild function serves all of them).
FACTORY_CASES = [
    (command, factory)
    for command in REBUILDING
    for factory in ("subprocess:run", "unknown argument")
] + [
    (command, factory)
    for factory in FACTORIES
    if factory not in ("subprocess:run", "unknown argument")
    for command in ("eval", "train --resume")
]


def clean_checkpoint_of(run: Path) -> dict:
    """A real checkpoint of a one-epoch run: plain data the hostile variants start from."""
    from mobilenets.classification import fit

    fit(tiny_config(run, limit_train=64, limit_val=32), progress=False)
    return load_checkpoint(run / "last.pt")


@pytest.fixture(scope="module")
def clean_checkpoint(tmp_path_factory):
    return clean_checkpoint_of(tmp_path_factory.mktemp("clean") / "run")


def _hostile_paths(folder: Path) -> tuple[Path, Path, Path]:
    """The marker the payload would create, the hostile file, and a run folder holding it as last.pt."""
    run_dir = folder / "run_to_resume"
    run_dir.mkdir()
    return folder / "marker", run_dir / "last.pt", run_dir


def write_hostile_factory(path: Path, clean: dict, name: str, arguments: dict) -> None:
    # The task entry each command checks before it rebuilds the network: detector categories,
    # attributes, an embedding size, a cell partition (never read when the refusal comes first).
    task = {
        **clean["task"],
        "categories": {1: "thing"},
        "attributes": ["a"],
        "embedding_dim": 128,
        "partition": {},
    }
    torch.save({**clean, "model_factory": name, "model_config": arguments, "task": task}, path)


@pytest.mark.parametrize(("command", "factory"), FACTORY_CASES)
def test_hostile_factory_is_refused_before_anything_is_called(
    command, factory, clean_checkpoint, files, tmp_path
):
    marker, hostile, run_dir = _hostile_paths(tmp_path)
    name, arguments = _factories(marker)[factory]
    write_hostile_factory(hostile, clean_checkpoint, name, arguments)
    outcome, line = attempt(_commands(str(hostile), str(run_dir), tmp_path, files)[command], marker)
    assert outcome == "clear refusal", line
    expected = (
        "takes no argument '__class__'"
        if factory == "unknown argument"
        else "is not a registered model builder"
    )
    assert expected in line and name in line, line


def test_a_global_named_with_terminal_escapes_is_shown_inert(tmp_path):
    """The refusal names the global the file asked for, with its control characters escaped (shown, never obeyed)."""
    hostile = tmp_path / "escapes.pt"
    hostile.write_bytes(b"\x80\x02c\x1b[2Jevil\nfunc\n)R.")  # GLOBAL "\x1b[2Jevil" "func", called
    outcome, line = attempt(["eval", "--checkpoint", str(hostile)], tmp_path / "marker")
    assert (
        outcome == "clear refusal"
        and "it asks for \\x1b[2Jevil.func" in line
        and "\x1b" not in line
    ), line


def test_converted_weights_with_an_unknown_config_key_are_one_line(tmp_path):
    """A converted-weights file ({"model", "config"}) is data too: a config key MobileNetV1 does
    not take is refused naming it, for every command that takes --pretrained."""
    model = MobileNetV1(alpha=0.25, resolution=32, num_classes=10)
    weights = tmp_path / "weights.pt"
    torch.save({"model": model.state_dict(), "config": {**model.config, "evil_key": 1}}, weights)
    for command in (["cost"], ["eval", "--data", "fashion-mnist", "--limit-val", "8"]):
        outcome, line = attempt([*command, "--pretrained", str(weights)], tmp_path / "marker")
        assert outcome == "clear refusal" and "'evil_key'" in line, (command, line)
    with pytest.raises(ValueError, match="takes no argument 'evil_key'"):
        MobileNetV1(evil_key=1)


def test_a_pickled_payload_fires_when_loaded_without_weights_only(tmp_path):
    """The corpus is live: the same bytes do run their code under torch.load(weights_only=False)."""
    marker = tmp_path / "marker"
    hostile = tmp_path / "hostile.pt"
    hostile.write_bytes(PICKLES["zip-model-os.system"](marker))
    torch.load(hostile, weights_only=False)
    assert marker.exists()


def test_old_checkpoints_with_numpy_rng_state_still_resume_exactly(tmp_path):
    """A checkpoint written before RNG states became tensors (numpy's state as a tuple with a
    uint32 array) loads with numpy's array reconstruction allowed only in that load, and the
    resumed run equals one resumed from the tensor form."""
    import numpy as np

    from mobilenets.classification import fit

    run = tmp_path / "run"
    fit(tiny_config(run), progress=False)
    checkpoint = load_checkpoint(run / "last.pt")
    for state in checkpoint["rng"]:
        numpy = state["numpy"]
        state["numpy"] = (
            numpy["kind"],
            numpy["key"].numpy().astype(np.uint32),
            numpy["position"],
            numpy["has_gauss"],
            numpy["cached_gaussian"],
        )
    old = tmp_path / "old"
    old.mkdir()
    torch.save(checkpoint, old / "last.pt")
    assert any(
        "numpy" in name
        for name in torch.serialization.get_unsafe_globals_in_checkpoint(old / "last.pt")
    )
    # Numpy's globals stay off the default allow-list outside that load.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(old / "last.pt", weights_only=True)
    fit(tiny_config(run, epochs=2), resume=True, progress=False)
    fit(tiny_config(old, epochs=2), resume=True, progress=False)
    new, legacy = (
        load_checkpoint(run / "last.pt")["model"],
        load_checkpoint(old / "last.pt")["model"],
    )
    assert all(torch.equal(new[key], legacy[key]) for key in new)


def test_a_torchscript_teacher_is_read_as_torchscript_only_when_the_file_is_one(tmp_path):
    """An embedding or attribute teacher may be a TorchScript archive (a program for TorchScript's
    interpreter, recognised by its contents); a checkpoint is never handed to torch.jit.load."""
    from mobilenets.embedding.teachers import load_module
    from mobilenets.pt_files import is_torchscript

    network = torch.jit.script(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 8)))
    network.save(str(tmp_path / "scripted.pt"))
    teacher = load_module(tmp_path / "scripted.pt", in_channels=1)
    images = torch.rand(2, 1, 32, 32)
    assert torch.equal(teacher(images), network(images))
    torch.save({"model": {}}, tmp_path / "checkpoint.pt")
    assert is_torchscript(tmp_path / "scripted.pt") and not is_torchscript(
        tmp_path / "checkpoint.pt"
    )
    with pytest.raises(ValueError, match="does not record how to rebuild"):
        load_module(tmp_path / "checkpoint.pt", in_channels=1)


def figures() -> dict[str, collections.Counter]:
    """Every case of the two corpus tests, run against the ``mobilenets`` on the path: outcome
    counts per family (for the README's before/after figures)."""
    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp())
    inputs, clean = make_inputs(root), clean_checkpoint_of(root / "clean")
    counts: dict[str, collections.Counter] = {
        "pickle": collections.Counter(),
        "factory": collections.Counter(),
    }
    cases = [("pickle", command, payload) for command, payload in PICKLE_CASES]
    cases += [("factory", command, factory) for command, factory in FACTORY_CASES]
    for family, command, variant in cases:
        folder = Path(tempfile.mkdtemp(dir=root))
        marker, hostile, run_dir = _hostile_paths(folder)
        if family == "pickle":
            hostile.write_bytes(PICKLES[variant](marker))
        else:
            write_hostile_factory(hostile, clean, *_factories(marker)[variant])
        outcome, line = attempt(
            _commands(str(hostile), str(run_dir), folder, inputs)[command], marker
        )
        counts[family][outcome] += 1
        print(f"{family:8} {command:36} {variant:30} {outcome:14} {line[:120]}")
    return counts


if __name__ == "__main__":
    for family, counted in figures().items():
        print(
            f"{family}: {sum(counted.values())} attempts, "
            + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counted.items()))
        )
