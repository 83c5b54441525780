"""Issue 10's bad-argument corpus as plain data (no imports of mobilenets), shared by
tests/trust/test_trust_args.py and tools/count_refusals.py (which runs it against any source tree)."""

from __future__ import annotations

# What a command needs besides the bad flag (paths that are never opened: parsing refuses first).
NEEDS = {
    "cost": [],
    "bench": ["--runtime", "eager"],
    "select": ["--max-params", "1e6"],
    "export": ["--format", "onnx", "--out", "m.onnx", "--verify-data", "random"],
    "convert": ["w.h5", "--from", "keras", "--out", "w.pt"],
    "eval": ["--checkpoint", "ck.pt"],
    "predict": ["--checkpoint", "ck.pt", "image.png"],
    "train": ["--out", "run", "--limit-train", "8", "--limit-val", "8", "--epochs", "1"],
    "teacher-outputs": ["--teacher", "resnet18", "--out", "t.pt"],
    "train-detector": ["--arch", "ssd300", "--data", "coco", "--out", "run"],
    "eval-detector": ["--checkpoint", "ck.pt", "--data", "coco"],
    "detect": ["--checkpoint", "ck.pt", "image.png", "--out", "drawn"],
    "train-attributes": ["--out", "run", "--teacher", "t.pt"],
    "train-embedding": ["--out", "run", "--teacher", "t.pt"],
    "eval-attributes": ["--checkpoint", "ck.pt"],
    "eval-embedding": ["--checkpoint", "ck.pt"],
    "train-geo": ["--data", "geo", "--out", "run"],
    "eval-geo": ["--checkpoint", "ck.pt"],
    "locate": ["--checkpoint", "ck.pt", "image.png"],
    "data make-geo": ["--out", "geo", "--images", "10"],
    "data make-detection": ["--out", "coco", "--images", "10"],
}

# (command, flag, bad values): the list (alpha 1e308 or 1e6, num-classes 1e12,
# resolution 50000, threads 0 or -2, calibration-images 0, verify-images -1, --far 2 or NaN,
# --limit-val 0, --max-params inf) and the obvious others for each numeric flag.
WIDTH = ["0", "-1", "1e308", "1e6", "nan", "inf"]
SIZE = ["16", "50000", "-224", "1.5"]
OUT_OF_RANGE = [
    ("cost", "--alpha", WIDTH),
    ("cost", "--resolution", SIZE),
    ("cost", "--num-classes", ["-1", "1000000000000", "1e12"]),
    ("bench", "--alpha", ["1e308"]),
    ("bench", "--resolution", ["50000"]),
    ("bench", "--batch-size", ["0", "-1", "1000000000"]),
    ("bench", "--threads", ["0", "-2", "1e9"]),
    ("bench", "--runs", ["0", "-3"]),
    ("bench", "--warmup", ["-1"]),
    ("bench", "--calibration-images", ["0"]),
    ("select", "--max-latency-ms", ["0", "-1", "nan", "inf"]),
    ("select", "--max-mult-adds", ["0", "inf"]),
    ("select", "--max-params", ["inf", "nan", "-5"]),
    ("select", "--threads", ["0", "-2"]),
    ("export", "--verify-images", ["-1", "0", "1000000"]),
    ("export", "--calibration-images", ["0", "-5"]),
    ("export", "--alpha", ["1e6"]),
    ("export", "--resolution", ["50000"]),
    ("export", "--num-classes", ["1000000000000"]),
    ("convert", "--resolution", ["50000", "0"]),
    ("eval", "--limit-val", ["0", "-1"]),
    ("eval", "--batch-size", ["0"]),
    ("eval", "--workers", ["-1", "100000"]),
    ("predict", "--top-k", ["0", "-1"]),
    ("train", "--alpha", ["1e308", "1e6", "0", "nan"]),
    ("train", "--resolution", ["50000", "16"]),
    ("train", "--epochs", ["0", "-1"]),
    ("train", "--batch-size", ["0", "1000000000"]),
    ("train", "--lr", ["nan", "inf", "-1", "0"]),
    ("train", "--limit-val", ["0"]),
    ("train", "--limit-train", ["0"]),
    ("train", "--workers", ["-2", "100000"]),
    ("train", "--seed", ["-1", str(2**64)]),
    ("train", "--in-channels", ["0", "100000"]),
    ("train", "--dropout", ["1", "-0.5"]),
    ("train", "--momentum", ["1", "nan"]),
    ("train", "--temperature", ["0", "inf"]),
    ("train", "--distill-weight", ["1.5"]),
    ("teacher-outputs", "--batch-size", ["0"]),
    ("teacher-outputs", "--resolution", ["50000", "0"]),
    ("teacher-outputs", "--limit-train", ["0"]),
    ("train-detector", "--alpha", ["1e308"]),
    ("train-detector", "--batch-size", ["0"]),
    ("train-detector", "--epochs", ["0"]),
    ("eval-detector", "--batch-size", ["0", "-1"]),
    ("eval-detector", "--limit-val", ["0"]),
    ("detect", "--score-thresh", ["-0.1", "1.5", "nan"]),
    ("train-attributes", "--alpha", ["1e6"]),
    ("train-attributes", "--temperature", ["0"]),
    ("train-embedding", "--resolution", ["50000"]),
    ("train-embedding", "--ema-decay", ["1"]),
    ("eval-attributes", "--limit-val", ["0"]),
    ("eval-embedding", "--far", ["2", "nan", "0", "1", "-1e-4", "inf"]),
    ("eval-embedding", "--limit-val", ["0", "1", "-1"]),
    ("train-geo", "--max-photos", ["0"]),
    ("train-geo", "--min-photos", ["0", "-1"]),
    ("train-geo", "--alpha", ["1e308"]),
    ("eval-geo", "--limit-val", ["0"]),
    ("eval-geo", "--batch-size", ["0"]),
    ("locate", "--top-k", ["0", "-1"]),
    ("data make-geo", "--images", ["0", "1", "-5", "1000000000"]),
    ("data make-geo", "--second-city", ["1.5", "nan"]),
    ("data make-geo", "--val-fraction", ["0", "1", "nan"]),
    ("data make-geo", "--seed", ["-1"]),
    ("data make-detection", "--images", ["0", "1000000000"]),
    ("data make-detection", "--val-fraction", ["1", "-0.2"]),
    ("data make-detection", "--seed", ["-1"]),
]

# Commands whose --out (select and the evaluations: --plot) is a path; "a_file" is a regular
# file in the test folder.
PLOTTING = ("select", "eval", "eval-attributes", "eval-embedding", "eval-geo")
OUTPUTS = [(command, "--out") for command in NEEDS if "--out" in NEEDS[command]] + [
    (command, "--plot") for command in PLOTTING
]

# (argv, what the one line must contain): empty names and contradictory flags.
REFUSED = [
    (["cost", "--model", ""], "--model"),
    (["bench", "--runtime", "eager", "--model", ""], "--model"),
    (["export", *NEEDS["export"], "--model", ""], "--model"),
    (["train", *NEEDS["train"], "--model", ""], "--model"),
    (["predict", "--pretrained", "w.h5", "--model", "", "image.png"], "--model"),
    (["eval", "--checkpoint", ""], "--checkpoint"),
    (["train", "--out", "run", "--data", ""], "--data"),
    (
        ["cost", "--model", "mobilenet_v1_100_224", "--alpha", "0.5"],
        "--alpha 0.5 contradicts --model",
    ),
    (
        ["cost", "--model", "mobilenet_v1_050_160", "--resolution", "224"],
        "--resolution 224 contradicts --model",
    ),
    (
        ["cost", "--model", "mobilenet_v1_100_224", "--variant", "conv"],
        "--variant conv contradicts --model",
    ),
    (
        ["bench", "--runtime", "eager", "--model", "mobilenet_v1_025_128", "--alpha", "1.0"],
        "--alpha 1.0 contradicts --model",
    ),
    (
        ["export", *NEEDS["export"], "--model", "mobilenet_v1_100_224", "--resolution", "128"],
        "--resolution 128 contradicts",
    ),
    (
        ["export", *NEEDS["export"], "--checkpoint", "ck.pt", "--alpha", "0.5"],
        "--checkpoint rebuilds its own model",
    ),
    (["bench", "--onnx", "m.onnx", "--alpha", "0.5"], "--onnx times the file"),
    (["train", *NEEDS["train"], "--warmup-epochs", "5"], "warmup_epochs must be fewer than epochs"),
    (
        ["train", *NEEDS["train"], "--teacher", "resnet18", "--teacher-outputs", "t.pt"],
        "teacher or its precomputed teacher_outputs",
    ),
    (["train", *NEEDS["train"], "--cache", "--workers", "2"], "cache needs augment off"),
    (
        ["train-geo", *NEEDS["train-geo"], "--min-photos", "100", "--max-photos", "10"],
        "--min-photos",
    ),
    (
        ["select", "--max-params", "1e6", "--threads", "2"],
        "--threads applies to --max-latency-ms only",
    ),
    (
        ["select", "--max-mult-adds", "1e8", "--runtime", "int8"],
        "--runtime applies to --max-latency-ms only",
    ),
    (
        ["select", "--max-params", "1e6", "--accept-contention"],
        "--accept-contention applies to --max-latency-ms only",
    ),
]


def corpus() -> list[tuple[str, list[str], str]]:
    """Every case as (id, argv, what its one line must name)."""
    cases = []
    for command, flag, values in OUT_OF_RANGE:
        for value in values:
            cases.append(
                (
                    f"{command} {flag} {value}",
                    [*command.split(), *NEEDS[command], flag, value],
                    flag,
                )
            )
    for command, flag in OUTPUTS:
        argv = [*command.split(), *NEEDS[command]]
        if flag in argv:
            argv[argv.index(flag) + 1] = "a_file/out"
        else:
            argv += [flag, "a_file/out"]
        cases.append((f"{command} {flag} under a file", argv, flag))
    for argv, message in REFUSED:
        cases.append((" ".join(part or repr(part) for part in argv), argv, message))
    return cases
