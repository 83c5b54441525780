"""The command line: JSON output, readable tables, and one-line errors with exit status 2."""

import json
import subprocess
import sys

import pytest

from mobilenets import count_cost, create_model
from mobilenets.cli import main


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> object:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_cost_json_exact_counts(capsys: pytest.CaptureFixture) -> None:
    result = run_json(capsys, "cost", "--model", "mobilenet_v1_100_224", "--json")
    assert (result["mult_adds"], result["params"]) == (568_740_352, 4_231_976)
    assert (result["alpha"], result["resolution"], result["variant"], result["num_classes"]) == (
        1.0,
        224,
        "separable",
        1000,
    )
    assert result["by_type"]["Conv 1x1"]["mult_adds"] == 539_492_352
    assert len(result["layers"]) == 27 * 2 + 1  # conv + BN rows per body layer, and the classifier
    assert sum(row["mult_adds"] for row in result["layers"]) == result["mult_adds"]


def test_cost_from_knobs(capsys: pytest.CaptureFixture) -> None:
    result = run_json(
        capsys, "cost", "--alpha", "0.75", "--resolution", "128", "--num-classes", "0", "--json"
    )
    assert result["model"] == "mobilenet_v1_075_128" and result["mult_adds"] == 106_002_432


def test_cost_per_layer_text(capsys: pytest.CaptureFixture) -> None:
    assert main(["cost", "--model", "mobilenet_v1_025_128", "--per-layer"]) == 0
    out = capsys.readouterr().out
    assert "features.Conv2d_13_pointwise.conv" in out and "Conv DW 3x3" in out
    expected = count_cost(create_model("mobilenet_v1_025_128")).mult_adds
    assert f"mobilenet_v1_025_128: {expected:,} mult-adds" in out


def test_list(capsys: pytest.CaptureFixture) -> None:
    names = [row["name"] for row in run_json(capsys, "list", "mobilenet_v1_*_128", "--json")]
    assert names == [
        "mobilenet_v1_100_128",
        "mobilenet_v1_075_128",
        "mobilenet_v1_050_128",
        "mobilenet_v1_025_128",
    ]


def test_paper_json(capsys: pytest.CaptureFixture) -> None:
    rows = run_json(capsys, "paper", "--no-baselines", "--json")
    assert set(rows[0]) >= {"table", "row", "column", "paper", "measured", "rel_diff", "ok", "note"}
    assert all(row["ok"] for row in rows if row["checked"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["cost", "--alpha", "0"], "argument --alpha: must be a number in (0, 4]; got '0'"),
        (["cost", "--alpha", "wide"], "argument --alpha: must be a number in (0, 4]; got 'wide'"),
        (
            ["cost", "--resolution", "16"],
            "argument --resolution: must be a whole number in [32, 2048]; got '16'",
        ),
        (["cost", "--model", "mobilenet_v9"], "unknown model name 'mobilenet_v9'"),
        (["cost", "--variant", "inverted"], "argument --variant: invalid choice: 'inverted'"),
        (["list", "resnet*"], "no model name matches 'resnet*'"),
    ],
)
def test_user_mistakes_one_line_exit_2(
    capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse's own checks exit from parse_args
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_python_dash_m_no_traceback() -> None:
    """The real entry point, in a fresh process: `python -m mobilenets`."""
    done = subprocess.run(
        [sys.executable, "-m", "mobilenets", "cost", "--output-stride"],
        capture_output=True,
        text=True,
    )
    assert (
        done.returncode == 2
        and "Traceback" not in done.stderr
        and len(done.stderr.splitlines()) == 1
    )
    done = subprocess.run(
        [sys.executable, "-m", "mobilenets", "cost", "--model", "mobilenet_v1_025_128", "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0
    assert (
        json.loads(done.stdout)["mult_adds"]
        == count_cost(create_model("mobilenet_v1_025_128")).mult_adds
    )


# What `pip install mobilenets` leaves out: the extras (weights, deploy, detection, geo, train, dev).
OPTIONAL = (
    "h5py",
    "onnx",
    "onnxruntime",
    "onnxscript",
    "pycocotools",
    "s2sphere",
    "matplotlib",
    "tensorboard",
    "keras",
    "timm",
    "sklearn",
)
WITHOUT_EXTRAS = f"""
import json, sys
for name in {OPTIONAL!r}:
    sys.modules[name] = None  # importing it now raises ImportError, as if it were not installed
from mobilenets.cli import main
codes = [main(argv) for argv in json.loads(sys.argv[1])]
print(json.dumps(codes))
"""


def test_the_command_line_works_without_the_extras(tmp_path) -> None:
    """Every command is listed and the core ones run without any optional package; a command
    that needs one names the extra to install, in one line."""
    (tmp_path / "w.h5").write_bytes(b"not read")
    runs = [
        ["cost", "--model", "mobilenet_v1_025_128", "--json"],
        [
            "select",
            "--max-mult-adds",
            "300000000",
            "--plot",
            str(tmp_path / "select.png"),
        ],  # the numbers, no plot
        ["convert", "--from", "keras", str(tmp_path / "w.h5"), "--out", str(tmp_path / "w.pt")],
        ["data", "make-geo", "--out", str(tmp_path / "geo"), "--images", "10"],
        [
            "train-geo",
            "--data",
            str(tmp_path / "geo"),
            "--out",
            str(tmp_path / "run"),
            "--resolution",
            "32",
        ],
    ]
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS, json.dumps(runs)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [0, 0, 2, 0, 2]
    assert "chosen: mobilenet_v1_" in done.stdout and not (tmp_path / "select.png").exists()
    assert (
        "matplotlib is not installed: no trade-off PNG (pip install 'mobilenets[deploy]')"
        in done.stderr
    )
    errors = [line for line in done.stderr.splitlines() if ": error: " in line]
    assert errors == [
        "mobilenets convert: error: reading Keras .h5 weights needs h5py: pip install 'mobilenets[weights]'",
        "mobilenets train-geo: error: the S2 cell partition needs s2sphere: pip install 'mobilenets[geo]'",
    ]
    assert "Traceback" not in done.stderr


def test_help_lists_every_command(capsys: pytest.CaptureFixture) -> None:
    from mobilenets.cli import build_parser

    with pytest.raises(SystemExit) as exit:
        main(["--help"])
    assert exit.value.code == 0
    out = capsys.readouterr().out
    assert {"list", "cost", "paper"} <= set(out.split())
    subparsers = build_parser()._subparsers._group_actions[0].choices
    for parser in subparsers.values():  # every sub-command's own --help renders
        parser.format_help()


def test_predict_with_pretrained_weights(tmp_path, capsys: pytest.CaptureFixture) -> None:
    """`predict --pretrained` loads converted weights and prepares images as the weights expect."""
    import numpy as np
    import torch
    from PIL import Image

    from mobilenets import mobilenet_v1, transform_from_config
    from mobilenets.classification.predict import imagenet_classes
    from mobilenets.weights.pretrained import save_checkpoint

    model = mobilenet_v1(alpha=0.25, resolution=128, padding="tf_same", activation="relu6").eval()
    for module in model.modules():  # spread the outputs so the top classes are not a tie
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    torch.nn.init.normal_(model.classifier.weight, std=0.5)
    save_checkpoint(
        {
            "model": model.state_dict(),
            "config": model.config,
            "pretrained_cfg": model.pretrained_cfg,
        },
        tmp_path / "w.pt",
    )
    image = tmp_path / "x.png"
    Image.fromarray((np.random.default_rng(0).random((150, 170, 3)) * 255).astype("uint8")).save(
        image
    )
    result = run_json(
        capsys,
        "predict",
        "--pretrained",
        str(tmp_path / "w.pt"),
        str(image),
        "--top-k",
        "3",
        "--json",
    )
    with torch.no_grad():
        expected = model(
            transform_from_config(model.pretrained_cfg)(Image.open(image).convert("RGB"))[None]
        ).softmax(1)[0]
    top = expected.topk(3)
    assert [row["index"] for row in result[0]["top"]] == top.indices.tolist()
    assert [row["probability"] for row in result[0]["top"]] == pytest.approx(
        top.values.tolist(), abs=1e-6
    )
    assert result[0]["top"][0]["class"] == imagenet_classes(1000)[top.indices[0]]
