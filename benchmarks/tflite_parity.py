"""Google's MobileNet v1 .tflite files in this package against LiteRT's interpreter, on real
photos (scikit-image's sample photos, whole and as flipped and cropped views).

The same tensors go into both: each view is prepared as the weights expect
(``transform_from_config``); a quantized file gets it quantized with its own input scale, and
the model gets those quantized values back as floats. Reported per file: the top-1 class each
gives on the whole photos, top-1 agreement over all views, and the largest difference between
the two outputs (the files end in a softmax: probabilities) relative to the largest output.
A quantized file is also run keeping its own scales and zero points: the fake-quantized PyTorch
model (``deploy.tflite_int8.quantized_model``) and its ONNX QDQ export in ONNX Runtime's
integer kernels (what ``mobilenets export --int8`` writes from such a file).

    python benchmarks/tflite_parity.py [FILE.tflite ...] [--out benchmarks/results/tflite.md]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from mobilenets.classification.predict import imagenet_classes
from mobilenets.data.preprocess import transform_from_config
from mobilenets.deploy.export import run_export, write_export
from mobilenets.deploy.tflite_int8 import quantized_model
from mobilenets.weights import model_from_weights
from mobilenets.weights.tflite import litert_outputs

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tflite"
# scikit-image's photographs (skimage/data, BSD-3 / public domain); drawings and charts left out.
PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "retina.jpg",
    "camera.png",
    "coins.png",
    "moon.png",
    "brick.png",
    "grass.png",
    "gravel.png",
    "page.png",
    "text.png",
    "cell.png",
)


def photos() -> dict[str, Image.Image]:
    """The sample photos scikit-image ships, as RGB images."""
    import skimage.data

    folder = Path(skimage.data.__file__).parent
    return {name: Image.open(folder / name).convert("RGB") for name in PHOTOS}


def views(image: Image.Image) -> list[Image.Image]:
    """The photo, its mirror image, its four corners and its centre (each 3/4 of a side)."""
    width, height = image.size
    w, h = width * 3 // 4, height * 3 // 4
    corners = [(0, 0), (width - w, 0), (0, height - h), (width - w, height - h)]
    centre = ((width - w) // 2, (height - h) // 2)
    crops = [image.crop((x, y, x + w, y + h)) for x, y in [*corners, centre]]
    return [image, ImageOps.mirror(image), *crops]


def compare(path: Path, images: dict[str, Image.Image]) -> dict:
    """LiteRT and this package on every view of every photo: top-1s, agreement, difference."""
    model = model_from_weights(path).eval()
    transform = transform_from_config(model.pretrained_cfg)
    all_views = [view for image in images.values() for view in views(image)]
    batch = torch.stack([transform(view) for view in all_views]).numpy()
    fed, expected = litert_outputs(path, batch)
    with torch.inference_mode():
        ours = torch.softmax(model(torch.from_numpy(fed)), 1).numpy()
    classes = imagenet_classes(model.num_classes, model.pretrained_cfg.get("label_offset", 0))
    first = np.arange(0, len(all_views), len(all_views) // len(images))  # the whole photos
    quantized = "input_quantization" in model.pretrained_cfg
    kept = kept_quantization(path, torch.from_numpy(fed), expected) if quantized else {}
    return dict(
        file=path.name,
        quantized=quantized,
        views=len(all_views),
        agreement=float(np.mean(expected.argmax(1) == ours.argmax(1))),
        **kept,
        largest_difference=float(np.abs(expected - ours).max()),
        largest_output=float(np.abs(expected).max()),
        top1=[
            (name, classes[expected[i].argmax()], classes[ours[i].argmax()])
            for name, i in zip(images, first)
        ],
    )


def kept_quantization(path: Path, fed: torch.Tensor, expected: np.ndarray) -> dict:
    """Top-1 agreement with LiteRT of the fake-quantized model and of its ONNX int8 export."""
    model = quantized_model(path)
    with torch.inference_mode():
        fake = model(fed).numpy()
    with tempfile.TemporaryDirectory() as scratch:
        onnx_path = Path(scratch) / "int8.onnx"
        write_export(model, onnx_path, "onnx", example=fed[:1])
        exported = run_export(onnx_path, "onnx", fed)
    agreement = {
        name: float(np.mean(expected.argmax(1) == logits.argmax(1)))
        for name, logits in (("fake_quant", fake), ("onnx_int8", exported))
    }
    largest = float(np.abs(expected - torch.softmax(torch.from_numpy(exported), 1).numpy()).max())
    return dict(**agreement, onnx_largest_difference=largest)


def report(results: list[dict], command: str) -> str:
    flags = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model_name = next(
        (line.split(":", 1)[1].strip() for line in flags.splitlines() if "Model name" in line), ""
    )
    isa = [flag for flag in ("avx2", "avx512f", "avx512_vnni", "amx_tile") if flag in flags]
    lines = [
        "## Google's .tflite files against LiteRT (real photos)",
        "",
        f"{datetime.date.today()}, `{command}`; {model_name} ({', '.join(isa)}), "
        f"Python {platform.python_version()}, torch {torch.__version__}.",
        "",
        "Each of scikit-image's 18 sample photos in 7 views (whole, mirrored, four corners and "
        "the centre at 3/4 of a side), prepared as the weights expect; the same tensors into "
        "LiteRT's interpreter and into the model (a quantized file's inputs quantized with its "
        "own scale, the model fed those values). Outputs are the files' softmax probabilities.",
        "",
        "Top-1 agreement with LiteRT: the float model (a quantized file's weights dequantized); "
        "keeping a quantized file's scales and zero points, the fake-quantized PyTorch model and "
        "its ONNX QDQ export run by ONNX Runtime's integer kernels (`export --int8`). The largest "
        "differences are the float model's and the ONNX export's from LiteRT's probabilities.",
        "",
        "| file | kind | views | float model | fake-quant PyTorch | ONNX Runtime int8 | "
        "largest difference (float / int8 ONNX) | largest output |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results:
        kind = "uint8" if row["quantized"] else "float"
        kept = (
            (f"{row['fake_quant']:.1%}", f"{row['onnx_int8']:.1%}")
            if row["quantized"]
            else ("-", "-")
        )
        int8 = f" / {row['onnx_largest_difference']:.2e}" if row["quantized"] else ""
        lines.append(
            f"| {row['file']} | {kind} | {row['views']} | {row['agreement']:.1%} | "
            f"{kept[0]} | {kept[1]} | {row['largest_difference']:.2e}{int8} | "
            f"{row['largest_output']:.3f} |"
        )
    for row in results:
        lines += ["", f"Top-1 on the whole photos, {row['file']} (LiteRT / this package):", ""]
        lines += [f"- {name}: {litert} / {ours}" for name, litert, ours in row["top1"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    files = args.files or sorted(FIXTURES.glob("mobilenet_v1_*.tflite"))
    images = photos()
    results = [compare(path, images) for path in files]
    text = report(results, "python benchmarks/tflite_parity.py --out benchmarks/results/tflite.md")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
