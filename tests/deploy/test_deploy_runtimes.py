"""bench's new runtimes and its record of the machine: OpenVINO forced to f32 (and bf16 only
when asked), its int8 against float on real images, the CPU flags, the CPU other processes
took while timing, and select refusing to cache a contended measurement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mobilenets.cli import main
from mobilenets.deploy import load_model, real_inputs, runner, select_model
from mobilenets.machine import KERNEL_FLAGS, OtherLoad, cpu_flags, native_bf16

# OpenVINO f32 against PyTorch: 1e-4 of the largest logit (measured ~1e-6).
FLOAT_RELATIVE_TOLERANCE = 1e-4
# OpenVINO bf16, where the CPU computes it within the ISA cap: 0.6-2.1% of the largest logit
# measured on models trained under AVX2 and AVX-512 kernels; bound 5%.
BF16_RELATIVE_TOLERANCE = 0.05
# OpenVINO running the ONNX Runtime int8 (QDQ) file, calibrated on 64 images: top-1 agreement
# with float on 200 real test images (measured 0.98-1.0).
INT8_MIN_AGREEMENT = 0.95


def _proc_flags() -> set[str]:
    line = next(
        line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")
    )
    return set(line.split(":", 1)[1].split())


def check_openvino_against_pytorch(checkpoint: str) -> None:
    """Run by the test below in a child process (see ``in_own_process``)."""
    model = load_model(checkpoint)
    images = real_inputs(model, "fashion-mnist", 200, train=False)
    with torch.inference_mode():
        expected = model(images).numpy()
    with runner(model, "openvino", threads=1) as run:
        float_diff = np.abs(run(images) - expected).max()
    assert float_diff <= FLOAT_RELATIVE_TOLERANCE * np.abs(expected).max()
    if native_bf16():
        # What OpenVINO would do unasked on this CPU: bf16, visibly further from PyTorch, yet
        # within what bf16's 8-bit significand allows through 28 layers.
        with runner(model, "openvino", threads=1, precision="bf16") as run:
            bf16_outputs = run(images)
        bf16_diff = np.abs(bf16_outputs - expected).max()
        assert 10 * float_diff < bf16_diff <= BF16_RELATIVE_TOLERANCE * np.abs(expected).max()
        assert (bf16_outputs.argmax(1) == expected.argmax(1)).mean() >= INT8_MIN_AGREEMENT
    calibration = real_inputs(model, "fashion-mnist", 64, train=True)
    with runner(model, "openvino-int8", threads=1, calibration=calibration) as run:
        agreement = (run(images).argmax(1) == expected.argmax(1)).mean()
    assert agreement >= INT8_MIN_AGREEMENT


def in_own_process(code: str) -> subprocess.CompletedProcess:
    """Runs ``code`` in a fresh interpreter with this module importable. OpenVINO's runtime,
    loaded into the long-lived pytest process after other tests (test_data's), made the kernel
    kill that process with SIGSEGV (si_code SI_KERNEL) at its next child's exit; each command
    of the project runs in its own process, so the tests that load OpenVINO do too."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [
                str(Path(__file__).parent),
                str(Path(__file__).parents[1]),
                os.environ.get("PYTHONPATH", ""),
            ]
        ),
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.numerics
def test_openvino_float_is_f32_and_int8_agrees_on_real_images(tiny_fashion_checkpoint) -> None:
    in_own_process(
        f"import test_deploy_runtimes as t; t.check_openvino_against_pytorch({str(tiny_fashion_checkpoint)!r})"
    )


def test_bench_records_cpu_flags_and_other_processes(tmp_path, capsys) -> None:
    threads = os.cpu_count() or 1
    done = in_own_process(
        "from mobilenets.cli import main; raise SystemExit(main(['bench', '--alpha', '0.25', '--resolution', '64', "
        f"'--runtime', 'openvino', '--threads', '{threads}', '--runs', '50', '--json']))"
    )
    result = json.loads(done.stdout)
    assert result["precision"] == "f32"
    assert result["cpu_flags"] == [flag for flag in KERNEL_FLAGS if flag in _proc_flags()]
    # The load itself is the machine's (tests/test_machine.py checks its arithmetic); here
    # only that bench records it and judges contention by its own rule.
    cores = result["other_cpu_cores"]
    assert cores is None or cores >= 0
    assert result["contended"] == (cores is not None and cores > 0.1)
    assert (
        main(
            [
                "bench",
                "--model",
                "mobilenet_v1_025_128",
                "--runtime",
                "tflite",
                "--precision",
                "bf16",
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert "give it with --runtime openvino" in error and error.count("\n") == 1


def test_select_does_not_cache_a_contended_measurement(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MOBILENETS_CACHE", str(tmp_path))
    threads = os.cpu_count() or 1
    accuracy = {"mobilenet_v1_025_128": 40.0}
    # Contention as the load meter reports it, given: the machine's real load is no test input.
    monkeypatch.setattr(OtherLoad, "contended", lambda self, threads: True)
    result = select_model(
        "latency_ms", 1e9, runtime="eager", threads=threads, runs=10, accuracy=accuracy
    )
    assert result["uncached_contended"] == ["mobilenet_v1_025_128"]
    assert ",".join(cpu_flags()) in result["machine"]
    assert not (tmp_path / "latency.json").exists()
    monkeypatch.setattr(OtherLoad, "contended", lambda self, threads: False)
    result = select_model(
        "latency_ms", 1e9, runtime="eager", threads=threads, runs=10, accuracy=accuracy
    )
    assert not result["uncached_contended"]
    assert "mobilenet_v1_025_128" in (tmp_path / "latency.json").read_text()
