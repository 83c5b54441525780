"""The house plan holds: imports flow one way (models <- weights, cost, paper <- train <- the
tasks <- deploy, sweep, adapt <- serve, cli), a task never imports another task, and the model
knows neither weight formats nor backends. Read from the source, so a new import that breaks
the plan fails here rather than in a review."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mobilenets

PACKAGE = Path(mobilenets.__file__).parent
# Leaf modules every floor may use: argument ranges, atomic files, optional extras, .pt reading,
# regular-file checks, one-line messages, MOBILENETS_DEBUG, downloads, progress, the machine's description, plots.
LEAVES = {
    "ranges",
    "files",
    "extras",
    "pt_files",
    "regular_files",
    "messages",
    "debug",
    "download",
    "progress",
    "machine",
    "plots",
}
TASKS = {"classification", "detection", "embedding", "geo"}
# What each floor may import besides the leaves and itself.
ALLOWED: dict[str, set[str]] = {
    "models": set(),
    "data": set(),
    "weights": {"models"},
    "cost": {"models"},
    "paper": {"models", "cost"},
    "train": {"models", "weights", "cost", "paper", "data"},
    **{task: {"models", "weights", "cost", "paper", "data", "train"} for task in TASKS},
    "deploy": {"models", "weights", "cost", "paper", "data", "train", *TASKS},
    "sweep": {"models", "weights", "cost", "paper", "data", "train", *TASKS, "deploy"},
    "adapt": {"models", "weights", "cost", "paper", "data", "train", *TASKS, "deploy", "sweep"},
    "serve": {
        "models",
        "weights",
        "cost",
        "paper",
        "data",
        "train",
        *TASKS,
        "deploy",
        "sweep",
        "adapt",
    },
}
# The model is plain PyTorch: no weight formats, no hub clients, no backend switches.
MODEL_FORBIDDEN_MODULES = {"h5py", "safetensors", "huggingface_hub", "onnx", "onnxruntime"}
MODEL_FORBIDDEN_WORDS = (
    "memory_format",
    "autocast",
    "is_tracing",
    "is_scripting",
    "is_exporting",
    "torch.fx",
)


def _imports(path: Path) -> set[str]:
    """The top-level parts of mobilenets (``weights``, ``train``, ...) and the third-party
    top-level modules that ``path`` imports, anywhere in the file (lazy imports count)."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(package[: len(package) - node.level + 1])
            target = base + (node.module.split(".") if node.module else [])
            names = [target[1]] if len(target) > 1 else [alias.name for alias in node.names]
            found.update(names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            found.add(parts[1] if parts[0] == "mobilenets" and len(parts) > 1 else parts[0])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                found.add(parts[1] if parts[0] == "mobilenets" and len(parts) > 1 else parts[0])
    return found


def _floor(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


FILES = sorted(p for p in PACKAGE.rglob("*.py") if _floor(p) in ALLOWED)
OURS = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_flow_one_way(path: Path) -> None:
    floor = _floor(path)
    ours = (_imports(path) & OURS) - {floor, "__init__"}
    upward = ours - LEAVES - ALLOWED[floor]
    assert not upward, f"{floor} may not import {sorted(upward)}"


def test_the_model_knows_no_weight_format_or_backend() -> None:
    for path in (PACKAGE / "models").rglob("*.py"):
        assert not _imports(path) & MODEL_FORBIDDEN_MODULES, path.name
        text = path.read_text()
        assert not [word for word in MODEL_FORBIDDEN_WORDS if word in text], path.name


def test_the_rule_sees_imports() -> None:
    """The parser finds relative, absolute and lazy imports (else the tests above pass vacuously)."""
    module = PACKAGE / "models" / "layers.py"
    assert "torch" in _imports(module)
    assert "ranges" in _imports(PACKAGE / "models" / "mobilenet_v1.py")
    assert {"models", "weights"} <= _imports(PACKAGE / "train" / "task.py")
