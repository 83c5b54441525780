"""Deployment: BN folding, ONNX / TorchScript exports against PyTorch, QAT conversion, model
selection under budgets, and one-line errors for bad files and impossible budgets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from mobilenets.cli import main
from mobilenets.cost import count_cost
from mobilenets.deploy import (
    RELEASED_TOP1,
    export_model,
    export_onnx,
    export_torchscript,
    fold_batch_norm,
    is_qat_prepared,
    onnx_session,
    prepare_for_inference,
    prepare_qat,
    real_inputs,
    select_model,
)
from mobilenets.models import create_model, mobilenet_v1
from mobilenets.pt_files import load_torchscript

# Float tolerance for an export or a folded model against PyTorch, on logits of order 1.
TOLERANCE = dict(rtol=1e-4, atol=1e-4)


def with_data_statistics(model: nn.Module, resolution: int, channels: int = 3) -> nn.Module:
    """Gives every BN the running statistics of a batch and random affine parameters, so
    outputs are of order one and folding has something to fold."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.momentum = None  # cumulative average: one batch sets the exact statistics
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
            module.bias.data.uniform_(-0.2, 0.2, generator=generator)
    with torch.no_grad():
        model.train()(torch.randn(16, channels, resolution, resolution, generator=generator))
    return model.eval()


@pytest.fixture(scope="module")
def small_model() -> nn.Module:
    return with_data_statistics(mobilenet_v1(alpha=0.25, resolution=64, num_classes=10), 64)


@pytest.mark.parametrize("padding", ["symmetric", "tf_same"])
def test_folded_model_equals_unfolded(padding: str) -> None:
    model = with_data_statistics(
        mobilenet_v1(alpha=0.25, resolution=65, num_classes=10, padding=padding), 65
    )
    x = torch.randn(3, 3, 65, 65)
    folded = fold_batch_norm(model)
    assert not any(isinstance(module, nn.BatchNorm2d) for module in folded.modules())
    assert any(isinstance(module, nn.BatchNorm2d) for module in model.modules()), (
        "the original is untouched"
    )
    with torch.no_grad():
        expected = model(x)
        assert expected.abs().max() > 0.1, "outputs too small for the comparison to mean anything"
        torch.testing.assert_close(folded(x), expected, **TOLERANCE)
        fast = prepare_for_inference(model, channels_last=True)
        torch.testing.assert_close(
            fast(x.contiguous(memory_format=torch.channels_last)), expected, **TOLERANCE
        )


@pytest.mark.numerics
def test_onnx_runtime_matches_pytorch_at_two_batch_sizes(small_model: nn.Module, tmp_path) -> None:
    path = export_onnx(small_model, tmp_path / "model.onnx")
    session = onnx_session(path)
    for batch_size in (2, 5):
        x = torch.randn(batch_size, 3, 64, 64)
        with torch.no_grad():
            expected = small_model(x).numpy()
        (outputs,) = session.run(None, {"input": x.numpy()})
        assert outputs.shape == (batch_size, 10)
        np.testing.assert_allclose(outputs, expected, **TOLERANCE)


def test_torchscript_round_trip(small_model: nn.Module, tmp_path) -> None:
    path = export_torchscript(small_model, tmp_path / "model.pt")
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(load_torchscript(path)(x), small_model(x), **TOLERANCE)


def export_command(model: nn.Module, tmp_path, format: str, out) -> list[str]:
    """`mobilenets export` of ``model`` saved as a converted checkpoint."""
    checkpoint = tmp_path / "model.ckpt"
    torch.save({"model": model.state_dict(), "config": model.config}, checkpoint)
    return ["export", "--checkpoint", str(checkpoint), "--format", format, "--out", str(out)]


def test_export_cli_from_checkpoint_verifies_and_refuses_to_overwrite(
    small_model, tmp_path, capsys
) -> None:
    out = tmp_path / "model.onnx"
    arguments = [*export_command(small_model, tmp_path, "onnx", out), "--verify-images", "3"]
    assert main([*arguments, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verified_batch_sizes"] == [3, 1] and result["verify_data"] == "fashion-mnist"
    assert result["max_abs_diff"] < 1e-4 < result["max_abs_output"]
    before = out.read_bytes()
    assert main(arguments) == 2
    assert "exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main([*arguments, "--force"]) == 0


def test_export_pretrained_folder_reloads_the_same_model(small_model, tmp_path, capsys) -> None:
    """--format pretrained: config.json + model.safetensors (what push-to-hub uploads), read back
    by from_pretrained and compared with the checkpoint's model."""
    pytest.importorskip("safetensors")
    out = tmp_path / "folder"
    arguments = [
        *export_command(small_model, tmp_path, "pretrained", out),
        "--verify-data",
        "random",
    ]
    assert main([*arguments, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (
        result["max_abs_diff"] < 1e-5 < result["max_abs_output"] and result["top1_agreement"] == 1.0
    )
    assert sorted(path.name for path in out.iterdir()) == ["config.json", "model.safetensors"]
    assert result["bytes"] == sum(path.stat().st_size for path in out.iterdir())
    assert main([*arguments, "--int8"]) == 2
    assert "int8 exports as onnx, torchscript, executorch or tflite" in capsys.readouterr().err


def test_truncated_files_are_refused_in_one_line(small_model, tmp_path, capsys) -> None:
    path = export_onnx(small_model, tmp_path / "model.onnx")
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert main(["bench", "--onnx", str(truncated), "--runs", "1"]) == 2
    error = capsys.readouterr().err
    assert "is not a valid ONNX model" in error and error.count("\n") == 1
    checkpoint = tmp_path / "model.ckpt"
    torch.save({"model": small_model.state_dict(), "config": small_model.config}, checkpoint)
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    assert (
        main(
            [
                "export",
                "--checkpoint",
                str(checkpoint),
                "--format",
                "onnx",
                "--out",
                str(tmp_path / "x.onnx"),
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert "is not a readable checkpoint" in error and error.count("\n") == 1


def test_unknown_runtime_is_refused(capsys) -> None:
    assert main(["bench", "--model", "mobilenet_v1_025_128", "--runtime", "tensorrt"]) == 2
    assert "runtime must be one of" in capsys.readouterr().err


def test_qat_prepares_trains_and_converts_to_int8_torchscript(tmp_path) -> None:
    model = with_data_statistics(
        mobilenet_v1(alpha=0.25, resolution=32, in_channels=1, num_classes=10), 32, channels=1
    )
    images = real_inputs(model, "fashion-mnist", 16)
    qat = prepare_qat(model, images)
    assert is_qat_prepared(qat) and not is_qat_prepared(model)
    nn.functional.cross_entropy(qat(images), torch.arange(16) % 10).backward()
    gradients = [parameter.grad for parameter in qat.parameters() if parameter.grad is not None]
    assert len(gradients) == sum(1 for _ in model.parameters()) and all(
        g.abs().sum() > 0 for g in gradients
    )
    # Converted to int8 kernels, traced, and run at two batch sizes; int8 weights take a quarter
    # of the bytes (with graph overhead: well under half of the float file).
    result = export_model(qat, tmp_path / "qat.pt", "torchscript", verify_inputs=images)
    assert result["int8"] and result["verified_batch_sizes"] == [16, 1]
    float_file = export_torchscript(model, tmp_path / "float.pt")
    assert result["bytes"] < 0.5 * float_file.stat().st_size
    with pytest.raises(ValueError, match="exports as --format torchscript"):
        export_model(qat, tmp_path / "qat.onnx", "onnx", verify_inputs=images)


def _mult_adds(name: str) -> int:
    return count_cost(create_model(name)).mult_adds


def test_select_mult_adds_budget_is_exact() -> None:
    budget = _mult_adds("mobilenet_v1_050_160")
    assert select_model("mult_adds", budget)["chosen"]["model"] == "mobilenet_v1_050_160"
    assert select_model("mult_adds", budget - 1)["chosen"]["model"] == "mobilenet_v1_050_128"


def test_select_params_budget_and_own_accuracy_table(tmp_path) -> None:
    params = count_cost(create_model("mobilenet_v1_050_224")).params
    assert select_model("params", params)["chosen"]["model"] == "mobilenet_v1_050_224"
    table = tmp_path / "accuracy.csv"
    table.write_text("model,top1\nmobilenet_v1_050_128,90\nmobilenet_v1_050_224,80\n")
    assert (
        main(
            [
                "select",
                "--max-params",
                str(params),
                "--accuracy-table",
                str(table),
                "--json",
                "--plot",
                str(tmp_path / "p.png"),
            ]
        )
        == 0
    )


def test_select_latency_budget_uses_measured_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MOBILENETS_CACHE", str(tmp_path))
    # accept_contention: on a shared machine other processes may take the CPU while this times.
    first = select_model(
        "latency_ms",
        1e9,
        runtime="eager",
        threads=1,
        runs=2,
        plot=tmp_path / "plot.png",
        accept_contention=True,
    )
    cache = json.loads((tmp_path / "latency.json").read_text())
    (entry,) = cache.values()
    assert sorted(entry) == sorted(RELEASED_TOP1)
    assert first["chosen"]["model"] == "mobilenet_v1_100_224"
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    limit = sorted(entry.values())[len(entry) // 2]
    chosen = select_model("latency_ms", limit, runtime="eager", threads=1)["chosen"]
    assert chosen["latency_ms"] == entry[chosen["model"]] <= limit
    assert all(RELEASED_TOP1[name] <= chosen["top1"] for name, ms in entry.items() if ms <= limit)


def test_impossible_budget_names_the_cheapest(capsys) -> None:
    assert main(["select", "--max-mult-adds", "1000"]) == 2
    error = capsys.readouterr().err
    cheapest = _mult_adds("mobilenet_v1_025_128")
    assert (
        f"the cheapest is mobilenet_v1_025_128 at {cheapest:,} mult-adds" in error
        and error.count("\n") == 1
    )


@pytest.mark.slow  # trains through the CLI: minutes on a loaded 2-core machine
def test_train_qat_from_a_float_checkpoint_then_export_int8(tmp_path, capsys) -> None:
    model = with_data_statistics(
        mobilenet_v1(alpha=0.25, resolution=32, in_channels=1, num_classes=10), 32, channels=1
    )
    float_checkpoint = tmp_path / "float.pt"
    torch.save({"model": model.state_dict(), "config": model.config}, float_checkpoint)
    run = tmp_path / "qat"
    assert (
        main(
            [
                "train",
                "--qat",
                "--init",
                str(float_checkpoint),
                "--data",
                "fashion-mnist",
                "--limit-train",
                "128",
                "--limit-val",
                "64",
                "--epochs",
                "1",
                "--batch-size",
                "64",
                "--optimizer",
                "sgd",
                "--lr",
                "1e-4",
                "--seed",
                "0",
                "--out",
                str(run),
                "--json",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "export",
                "--checkpoint",
                str(run / "last.pt"),
                "--format",
                "torchscript",
                "--out",
                str(tmp_path / "q.pt"),
                "--verify-images",
                "4",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["int8"] is True
    assert main(["train", "--qat", "--data", "fashion-mnist", "--out", str(tmp_path / "x")]) == 2
    assert "--qat fine-tunes a trained float network" in capsys.readouterr().err
