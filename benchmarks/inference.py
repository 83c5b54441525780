"""Inference latency, one run, side by side: timm's mobilenetv1_100 (the peer: eager PyTorch
and its ONNX Runtime fp32 export) against this project's fp32 and int8 paths (PyTorch, ONNX
Runtime, OpenVINO, and at batch 1 the phone runtimes ExecuTorch and LiteRT), MobileNet 1.0 at
224, batch 1 and 32, on N threads. Records the CPU flags, the load, the CPU other processes took
while each row was timed, and the machine's peak fp32 and int8 GEMM rates (the limits each path
is measured against). Prints a table and the ratios to the peer (--json too).

    PYTHONPATH=src .venv/bin/python benchmarks/inference.py [--threads 2] [--runs 30] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import timm
import torch

from mobilenets.cost import count_cost
from mobilenets.deploy import onnx_session, quantize_onnx, quantize_torch, random_inputs
from mobilenets.deploy.export import INPUT_NAME, export_onnx
from mobilenets.deploy.latency import runner, summarize, timed_calls
from mobilenets.deploy.select import machine_key
from mobilenets.machine import cpu_flags
from mobilenets.models import create_model

warnings.filterwarnings("ignore")


@contextlib.contextmanager
def peer_eager(threads: int):
    torch.set_num_threads(threads)
    model = timm.create_model("mobilenetv1_100", pretrained=False).eval()

    def run(batch):
        with torch.inference_mode():
            return model(batch)

    yield run


@contextlib.contextmanager
def onnx_file_runner(path: Path, threads: int):
    session = onnx_session(path, threads=threads)
    yield lambda batch: session.run(None, {INPUT_NAME: batch.numpy()})
    session = None  # frees the runtime's memory before the next runner is built


@contextlib.contextmanager
def peer_onnxruntime(threads: int, scratch: Path):
    model = timm.create_model("mobilenetv1_100", pretrained=False).eval()
    path = scratch / "timm.onnx"
    torch.onnx.export(
        model,
        (torch.randn(1, 3, 224, 224),),
        str(path),
        dynamo=False,
        opset_version=17,
        input_names=[INPUT_NAME],
        output_names=["logits"],
        dynamic_axes={INPUT_NAME: {0: "batch"}},
    )
    with onnx_file_runner(path, threads) as run:
        yield run


@contextlib.contextmanager
def ours_int8_onnx(
    model, threads: int, scratch: Path, quant_format: str, reduce_range: bool | None = None
):
    float_path = export_onnx(model, scratch / f"ours_{quant_format}_float.onnx", force=True)
    path = scratch / f"ours_{quant_format}_{reduce_range}.onnx"
    quantize_onnx(
        float_path,
        path,
        random_inputs(model, 32),
        quant_format=quant_format,
        reduce_range=reduce_range,
    )
    with onnx_file_runner(path, threads) as run:
        yield run


def peak_gemm_rates(
    threads: int, scratch: Path, size: int = 512, repeats: int = 50
) -> dict[str, float]:
    """The best of ``repeats`` square GEMMs in ONNX Runtime (small and many: the best catches a
    quiet moment on a shared machine), in G mult-adds per second: fp32
    (MatMul) and int8 (MatMulInteger, u8 x s8 -> s32), both MLAS, the kernels its convolutions
    use (VNNI for int8 where the CPU has it): the ceilings a convolution network can reach."""
    import onnx
    from onnx import TensorProto, helper

    generator = torch.Generator().manual_seed(0)
    operands = {
        "fp32": (
            "MatMul",
            TensorProto.FLOAT,
            TensorProto.FLOAT,
            TensorProto.FLOAT,
            torch.randn(size, size, generator=generator),
            torch.randn(size, size, generator=generator),
        ),
        "int8": (
            "MatMulInteger",
            TensorProto.UINT8,
            TensorProto.INT8,
            TensorProto.INT32,
            torch.randint(0, 255, (size, size), dtype=torch.uint8, generator=generator),
            torch.randint(-128, 127, (size, size), dtype=torch.int8, generator=generator),
        ),
    }
    rates = {}
    for precision, (operator, a_type, b_type, c_type, a, b) in operands.items():
        graph = helper.make_graph(
            [helper.make_node(operator, ["a", "b"], ["c"])],
            "gemm",
            [
                helper.make_tensor_value_info("a", a_type, [size, size]),
                helper.make_tensor_value_info("b", b_type, [size, size]),
            ],
            [helper.make_tensor_value_info("c", c_type, [size, size])],
        )
        path = scratch / f"gemm_{precision}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
        session = onnx_session(path, threads=threads)
        feeds = {"a": a.numpy(), "b": b.numpy()}
        session.run(None, feeds)
        rates[precision] = round(
            size**3
            / min(
                time_once(lambda session=session, feeds=feeds: session.run(None, feeds))
                for _ in range(repeats)
            )
            / 1e9,
            1,
        )
    return rates


def time_once(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


@contextlib.contextmanager
def ours_int8_torch(model, threads: int):
    torch.set_num_threads(threads)
    quantized = quantize_torch(model, random_inputs(model, 32))

    def run(batch):
        with torch.inference_mode():
            return quantized(batch)

    yield run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--runs",
        type=int,
        default=30,
        help="timed calls at batch 1 (a quarter of them at batch 32)",
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument(
        "--no-compile", action="store_true", help="skip torch.compile (slow to compile)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    model = create_model("mobilenet_v1_100_224").eval()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        paths = {
            ("peer", "fp32", "timm eager"): lambda: peer_eager(args.threads),
            ("peer", "fp32", "timm -> onnxruntime"): lambda: peer_onnxruntime(
                args.threads, scratch
            ),
            ("ours", "fp32", "eager"): lambda: runner(model, "eager", threads=args.threads),
            ("ours", "fp32", "channels_last (BN folded)"): lambda: runner(
                model, "channels_last", threads=args.threads
            ),
            ("ours", "fp32", "onnxruntime (BN folded)"): lambda: runner(
                model, "onnxruntime", threads=args.threads
            ),
            ("ours", "int8", "onnxruntime QDQ"): lambda: ours_int8_onnx(
                model, args.threads, scratch, "qdq"
            ),
            ("ours", "int8", "onnxruntime QOperator"): lambda: ours_int8_onnx(
                model, args.threads, scratch, "qoperator"
            ),
            ("ours", "int8", "pytorch x86 (FX)"): lambda: ours_int8_torch(model, args.threads),
        }
        # ONNX Runtime int8 with 7-bit weights (reduce_range, what AVX2 without VNNI needs)
        # beside the full 8 bits that this machine's default now is when it has VNNI.
        paths[("ours", "int8", "onnxruntime QDQ, 7-bit weights")] = lambda: ours_int8_onnx(
            model, args.threads, scratch, "qdq", True
        )
        # Batch-1 files and runtimes (phones, edge boxes): timed at batch 1 only.
        single = {
            ("ours", "fp32", "openvino f32"): lambda: runner(
                model, "openvino", threads=args.threads
            ),
            ("ours", "bf16", "openvino bf16"): lambda: runner(
                model, "openvino", threads=args.threads, precision="bf16"
            ),
            ("ours", "int8", "openvino (int8 QDQ file)"): lambda: runner(
                model, "openvino-int8", threads=args.threads
            ),
            ("ours", "fp32", "executorch XNNPACK"): lambda: runner(
                model, "executorch", threads=args.threads
            ),
            ("ours", "int8", "executorch XNNPACK (PT2E)"): lambda: runner(
                model, "executorch-int8", threads=args.threads
            ),
            ("ours", "fp32", "tflite (LiteRT, XNNPACK)"): lambda: runner(
                model, "tflite", threads=args.threads
            ),
            ("ours", "int8", "tflite (LiteRT, PT2E)"): lambda: runner(
                model, "tflite-int8", threads=args.threads
            ),
        }
        if not args.no_compile:
            paths[("ours", "fp32", "torch.compile (BN folded, NHWC)")] = lambda: runner(
                model, "compile", threads=args.threads
            )
        load_before = os.getloadavg()
        for (side, precision, name), make in [*paths.items(), *single.items()]:
            print(f"timing {side} {precision} {name} ...", file=sys.stderr)
            with make() as run:
                for batch_size in args.batch_sizes if (side, precision, name) in paths else [1]:
                    batch = random_inputs(model, batch_size, seed=1)
                    runs = args.runs if batch_size == 1 else max(5, args.runs // 4)
                    times, conditions = timed_calls(
                        lambda batch=batch: run(batch), warmup=3, runs=runs, threads=args.threads
                    )
                    rows.append(
                        {
                            "side": side,
                            "precision": precision,
                            "path": name,
                            "batch_size": batch_size,
                            **summarize(times, batch_size),
                            "other_cpu_cores": conditions["other_cpu_cores"],
                        }
                    )
        load_after = os.getloadavg()
        peak_rates = peak_gemm_rates(args.threads, scratch)

    mult_adds = count_cost(model).mult_adds
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_key("onnxruntime", args.threads).rsplit(" | ", 1)[0],
        "cpu_flags": cpu_flags(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in load_after],
        "python": platform.python_version(),
        "timm": timm.__version__,
        "peak_gemm_g_mult_adds_per_s": peak_rates,
        "model_mult_adds": mult_adds,
        "rows": rows,
        "ratios": ratios(rows, args.batch_sizes),
    }
    result["limits_ms"] = {
        precision: round(1000 * mult_adds / (rate * 1e9), 2)
        for precision, rate in result["peak_gemm_g_mult_adds_per_s"].items()
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_table(result))
    return 0


def ratios(rows: list[dict], batch_sizes: list[int]) -> dict[str, dict]:
    """Per batch size: the peer (the faster of timm's two paths), our fastest fp32 and int8,
    and their time ratios to the peer (< 1: faster than the peer)."""
    out = {}
    for batch_size in batch_sizes:
        here = [row for row in rows if row["batch_size"] == batch_size]
        peer = min((row for row in here if row["side"] == "peer"), key=lambda row: row["median_ms"])
        best = {
            precision: min(
                (row for row in here if row["side"] == "ours" and row["precision"] == precision),
                key=lambda row: row["median_ms"],
            )
            for precision in ("fp32", "int8")
        }
        out[str(batch_size)] = {
            "peer": peer["path"],
            "peer_ms": peer["median_ms"],
            **{f"ours_{p}": row["path"] for p, row in best.items()},
            **{f"ours_{p}_ms": row["median_ms"] for p, row in best.items()},
            **{
                f"{p}_ratio": round(row["median_ms"] / peer["median_ms"], 3)
                for p, row in best.items()
            },
        }
    return out


def format_table(result: dict) -> str:
    lines = [
        f"{result['date']}  {result['machine']}",
        f"load average before {result['load_average_before']}, after "
        f"{result['load_average_after']} ({result['cpus']} CPUs)",
        f"peak GEMM (G mult-adds/s): {result['peak_gemm_g_mult_adds_per_s']}; model "
        f"{result['model_mult_adds'] / 1e6:.0f}M mult-adds "
        f"-> limits {result['limits_ms']} ms",
        "",
        "| side | precision | path | batch | median ms | p90 ms | images/s | others' CPU (cores) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['side']} | {row['precision']} | {row['path']} | {row['batch_size']} | "
            f"{row['median_ms']:.2f} | {row['p90_ms']:.2f} | {row['images_per_second']:.1f} | "
            f"{row['other_cpu_cores']} |"
        )
    lines.append("")
    for batch_size, entry in result["ratios"].items():
        lines.append(
            f"batch {batch_size}: peer = {entry['peer']} {entry['peer_ms']:.2f} ms; "
            f"ours fp32 = {entry['ours_fp32']} {entry['ours_fp32_ms']:.2f} ms (x{entry['fp32_ratio']:.2f}); "
            f"ours int8 = {entry['ours_int8']} {entry['ours_int8_ms']:.2f} ms (x{entry['int8_ratio']:.2f})"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
