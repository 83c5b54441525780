"""Google's own MobileNet v1 .tflite files (tests/fixtures/tflite, float and uint8) loaded here
and run against LiteRT's interpreter on real photos (scikit-image's samples), the same tensors
into both; every way in (create_model, model_from_weights, the commands); hostile files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from mobilenets.cli import main
from mobilenets.data.preprocess import transform_from_config
from mobilenets.deploy.export import run_export
from mobilenets.deploy.tflite_int8 import quantized_model
from mobilenets.weights import create_model, model_from_weights, read_weights
from mobilenets.weights.pretrained import detect_format
from mobilenets.weights.tflite import FOLDED_BN, litert_outputs

pytest.importorskip("ai_edge_litert")
skimage_data = pytest.importorskip("skimage.data")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tflite"
FLOAT = FIXTURES / "mobilenet_v1_0.25_224_1_default_1.tflite"
QUANT_224 = FIXTURES / "mobilenet_v1_0.25_224_quant.tflite"
QUANT_128 = FIXTURES / "mobilenet_v1_0.25_128_quant.tflite"
NOT_MOBILENET = FIXTURES / "dilated_conv.tflite"
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png")
PHOTOS += ("hubble_deep_field.jpg", "ihc.png", "retina.jpg", "camera.png", "coins.png")
EGYPTIAN_CAT = 286  # ImageNet's index, after TF-slim's background output


def photos() -> list[Image.Image]:
    folder = Path(skimage_data.__file__).parent
    return [Image.open(folder / name).convert("RGB") for name in PHOTOS]


def photo_batch(model, mirrored: bool = False) -> np.ndarray:
    transform = transform_from_config(model.pretrained_cfg)
    images = photos()
    if mirrored:
        images += [ImageOps.mirror(image) for image in images]
    return torch.stack([transform(image) for image in images]).numpy()


def both(path: Path, mirrored: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(LiteRT's outputs, the model's softmax) on the same tensors."""
    model = model_from_weights(path).eval()
    fed, expected = litert_outputs(path, photo_batch(model, mirrored))
    with torch.inference_mode():
        return expected, torch.softmax(model(torch.from_numpy(fed)), 1).numpy()


def run_json(capsys, *arguments: str) -> dict:
    assert main([*arguments, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_folded_batch_norm_is_an_exact_identity() -> None:
    """The batch norm a folded file loads as: (x - 0) / sqrt(var + eps) * 1 + bias == x + bias."""
    bn = torch.nn.BatchNorm2d(16, eps=1e-3).eval()
    bn.running_var.fill_(FOLDED_BN["moving_variance"])
    bn.bias.data.normal_()
    x = torch.randn(2, 16, 9, 9) * 100
    assert torch.equal(bn(x), x + bn.bias[None, :, None, None])


def test_reads_what_the_file_says() -> None:
    checkpoint = read_weights(QUANT_128)
    config, cfg = checkpoint["config"], checkpoint["pretrained_cfg"]
    assert (config["alpha"], config["resolution"], config["num_classes"]) == (0.25, 128, 1001)
    assert (config["padding"], config["activation"]) == ("tf_same", "relu6")
    assert cfg["label_offset"] == 1 and cfg["softmax_in_file"]
    assert cfg["input_quantization"] == dict(dtype="uint8", scale=0.0078125, zero_point=128)
    assert cfg["weights"] == "tflite:mobilenet_v1_0.25_128_quant"
    # TF Hub's file name (MODEL_VERSION_VARIATION_VERSION) names its release too.
    assert read_weights(FLOAT)["pretrained_cfg"]["weights"] == "tflite:mobilenet_v1_0.25_224"
    assert detect_format(FLOAT) == "tflite"
    dropped = read_weights(FLOAT, drop_background=True)
    assert dropped["config"]["num_classes"] == 1000


def test_float_file_matches_litert_on_photos() -> None:
    expected, ours = both(FLOAT)
    assert np.abs(expected - ours).max() <= 1e-4 * np.abs(expected).max()
    assert (expected.argmax(1) == ours.argmax(1)).all()
    assert expected[PHOTOS.index("chelsea.png")].argmax() == EGYPTIAN_CAT


def test_quantized_file_top1_agrees_with_litert() -> None:
    """Dequantized weights in a float model: not the file's integer arithmetic, so not every
    top-1 agrees (measured: 92% over 126 views, benchmarks/results/tflite.md); the floor keeps
    a margin for so few photos."""
    expected, ours = both(QUANT_128, mirrored=True)
    agreement = np.mean(expected.argmax(1) == ours.argmax(1))
    assert agreement >= 0.7, agreement
    assert np.abs(expected - ours).max() <= 0.5  # probabilities; a wrong mapping gives ~1


def test_quantized_file_keeps_its_own_arithmetic(tmp_path, capsys) -> None:
    """The file's scales and zero points kept: the fake-quantized model, and `export --int8`'s
    ONNX QDQ file run by ONNX Runtime's integer kernels (measured on 126 views: 99.2% and 100%,
    benchmarks/results/tflite.md; floors with a margin for 20 views on any CPU)."""
    import onnx
    import onnxruntime

    model = quantized_model(QUANT_128)
    fed, expected = litert_outputs(QUANT_128, photo_batch(model, mirrored=True))
    with torch.inference_mode():
        fake = model(torch.from_numpy(fed)).numpy()
    assert np.mean(expected.argmax(1) == fake.argmax(1)) >= 0.9
    out = tmp_path / "int8.onnx"
    arguments = ["export", "--pretrained", str(QUANT_128), "--format", "onnx", "--int8"]
    result = run_json(capsys, *arguments, "--out", str(out), "--verify-data", "random")
    assert (result["int8"], result["calibration"]) == (True, "file")
    exported = run_export(out, "onnx", torch.from_numpy(fed))
    assert np.mean(expected.argmax(1) == exported.argmax(1)) >= 0.95
    probabilities = torch.softmax(torch.from_numpy(exported), 1).numpy()
    assert np.abs(probabilities - expected).max() <= 0.1  # measured 0.03; wrong scales give ~1
    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onnxruntime.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    kinds = [node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node]
    assert kinds.count("QLinearConv") == 27 and "Conv" not in kinds and "QGemm" in kinds
    assert main([*arguments, "--format", "torchscript", "--out", str(tmp_path / "m.pt")]) == 2
    assert "export as --format onnx" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not an 8-bit quantized file"):
        quantized_model(FLOAT)


def test_every_door(tmp_path, capsys) -> None:
    reference = model_from_weights(FLOAT).eval()
    x = torch.from_numpy(photo_batch(reference)[:2])
    with torch.inference_mode():
        expected = reference(x)
        built = create_model("mobilenet_v1_025_224", pretrained=str(FLOAT)).eval()
        assert torch.equal(built(x), expected)
    cost = run_json(capsys, "cost", "--pretrained", str(QUANT_128))
    assert (cost["model"], cost["num_classes"]) == ("mobilenet_v1_025_128", 1001)
    chelsea = Path(skimage_data.__file__).parent / "chelsea.png"
    predicted = run_json(capsys, "predict", "--pretrained", str(FLOAT), str(chelsea))
    assert predicted[0]["top"][0]["class"] == "Egyptian cat"
    bench = run_json(
        capsys,
        "bench",
        "--pretrained",
        str(FLOAT),
        "--runtime",
        "eager",
        "--runs",
        "1",
        "--warmup",
        "0",
    )
    assert bench["model"] == "mobilenet_v1_025_224"
    for target, out in (("pt", "w.pt"), ("safetensors", "w.safetensors"), ("folder", "w")):
        converted = run_json(
            capsys,
            "convert",
            str(FLOAT),
            "--from",
            "tflite",
            "--to",
            target,
            "--out",
            str(tmp_path / out),
        )
        assert converted["weights"] == "tflite:mobilenet_v1_0.25_224"
        with torch.inference_mode():
            assert torch.equal(model_from_weights(tmp_path / out).eval()(x), expected)


def test_select_refuses_a_weights_file(capsys) -> None:
    """select ranks architectures by cost, which weights do not change: one line, exit 2."""
    assert main(["select", "--max-params", "1e6", "--pretrained", str(QUANT_128)]) == 2
    error = capsys.readouterr().err
    assert "bench --pretrained FILE" in error and len(error.strip().splitlines()) == 1, error


def test_eval_pretrained_tflite(tmp_path, capsys) -> None:
    """eval on a folder of ImageNet's 1000 class folders: the cat photo under Egyptian cat."""
    from mobilenets.classification.predict import imagenet_classes

    names = imagenet_classes(1000)
    val = tmp_path / "val"
    for index in range(1000):
        (val / f"n{index:08d}").mkdir(parents=True)
    photos()[PHOTOS.index("chelsea.png")].save(val / f"n{EGYPTIAN_CAT - 1:08d}" / "cat.png")
    assert names[EGYPTIAN_CAT - 1] == "Egyptian cat"
    result = run_json(
        capsys,
        "eval",
        "--pretrained",
        str(FLOAT),
        "--data",
        str(val),
        "--plot",
        str(tmp_path / "m.png"),
    )
    assert (result["images"], result["top1"]) == (1, 1.0)


def test_export_report_takes_a_weights_file_and_refuses_what_it_cannot_use(capsys) -> None:
    """export-report builds the model a file describes; it needs exactly one source and, for a
    file, an --out of its own (one line, exit 2, before any export)."""
    for arguments, message in (
        ([], "one of --checkpoint RUN or --pretrained FILE"),
        (["--pretrained", str(FLOAT)], "--pretrained needs --out"),
        (["--pretrained", "best", "--out", "x"], "does not take"),
    ):
        assert main(["export-report", "--data", "fashion-mnist", *arguments]) == 2
        error = capsys.readouterr().err
        assert message in error and len(error.strip().splitlines()) == 1, error


@pytest.mark.slow  # every runtime's export of a 224 px network: minutes on 2 cores
def test_export_report_of_a_tflite_file(tmp_path, capsys) -> None:
    """The cat photo in ImageNet's Egyptian-cat folder: every float runtime puts it there
    (the file's background output accounted for) and agrees with PyTorch; the int8 rows ran
    (calibrated on one photo, their top-1 is no claim)."""
    val = tmp_path / "val"
    for index in range(1000):
        (val / f"n{index:08d}").mkdir(parents=True)
    photos()[PHOTOS.index("chelsea.png")].save(val / f"n{EGYPTIAN_CAT - 1:08d}" / "cat.png")
    arguments = ["--data", str(val), "--images", "1", "--calibration-data", str(val)]
    out = tmp_path / "report"
    report = run_json(
        capsys,
        "export-report",
        "--pretrained",
        str(FLOAT),
        *arguments,
        "--runs",
        "2",
        "--out",
        str(out),
    )
    rows = [row for row in report["rows"] if "skipped" not in row]
    fp32 = [row for row in rows if row["precision"] == "fp32"]
    assert len(fp32) >= 2 and all(row["top1_agreement"] == 1.0 for row in fp32)
    assert all(row["top1"] == 100.0 for row in fp32)
    assert all("top1" in row for row in rows if row["precision"] == "int8")


def hostile_files(tmp_path: Path) -> dict[str, Path]:
    data = QUANT_224.read_bytes()
    files = {
        "truncated": data[: len(data) // 3],
        "text": b"not a model at all",
        # The root table's offset (the first 4 bytes) pointing past the end of the file.
        "offset past the end": (len(data) + 1024).to_bytes(4, "little") + data[4:],
    }
    paths = {}
    for name, content in files.items():
        paths[name] = tmp_path / f"{name.replace(' ', '_')}.tflite"
        paths[name].write_bytes(content)
    from ai_edge_litert.interpreter import Interpreter

    # A quantized weight with a zero scale: the first convolution's, whose bytes occur once.
    interpreter = Interpreter(model_content=data)
    weights = interpreter._get_ops_details()[0]["inputs"][1]
    scale = interpreter.get_tensor_details()[weights]["quantization_parameters"]["scales"][0]
    pattern = np.float32(scale).tobytes()
    assert data.count(pattern) == 1
    paths["zero scale"] = tmp_path / "zero_scale.tflite"
    paths["zero scale"].write_bytes(data.replace(pattern, bytes(4)))
    paths["not a MobileNet"] = NOT_MOBILENET
    return paths


@pytest.mark.parametrize(
    "case, message",
    [
        ("truncated", "damaged or truncated .tflite file"),
        ("text", "not a .tflite file"),
        ("offset past the end", "damaged or truncated .tflite file"),
        ("zero scale", "has a zero, negative or non-finite scale"),
        ("not a MobileNet", "is not a MobileNet v1 classifier graph"),
    ],
)
def test_hostile_files(case, message, tmp_path, capfd) -> None:
    path = hostile_files(tmp_path)[case]
    with pytest.raises(ValueError, match=message):
        read_weights(path)
    out = tmp_path / "out.pt"
    assert main(["convert", str(path), "--from", "tflite", "--out", str(out)]) == 2
    error = capfd.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1, error
    assert not out.exists()
