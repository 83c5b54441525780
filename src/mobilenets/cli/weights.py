"""`mobilenets convert`: released weights (Keras h5, TF-slim checkpoint, .tflite, timm) to a
.pt file, a .safetensors file or a pretrained folder; `mobilenets push-to-hub`: such a folder to the Hub."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..cost import PARAMETERS_COUNTED, parameter_count
from ..files import file_sha256
from ..models import RESOLUTION, MobileNetV1, list_models, model_defaults
from ..weights.hf import push_to_hub
from ..weights.pretrained import (
    load_checkpoint_into,
    read_weights,
    save_checkpoint,
    save_pretrained,
)
from .common import add_json_argument, emit, number, output_path

SOURCE_FORMATS = ("keras", "tf-slim", "tflite", "timm", "safetensors", "torch")
TARGETS = ("pt", "safetensors", "folder")

AREA = "models and cost"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert released MobileNet v1 weights (Keras, TF-slim, .tflite, timm) to .pt, .safetensors or a folder",
        description="Writes the weights as this package's checkpoint: 'model' (the state dict), 'config' "
        "(MobileNetV1's arguments) and 'pretrained_cfg' (input size and normalisation); in a .pt file, in a "
        ".safetensors file (config in its metadata), or as a pretrained folder (config.json + model.safetensors).",
    )
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="a Keras .h5 file, a TF-slim checkpoint prefix, a .tflite file, a timm "
        ".safetensors/.pth file or folder, a timm tag (mobilenetv1_100.ra4_e3600_r224_in1k), hf-hub:REPO, "
        "a release name (`mobilenets list --weights`) or a URL",
    )
    parser.add_argument(
        "--from", dest="format", choices=SOURCE_FORMATS, required=True, help="the source format"
    )
    parser.add_argument(
        "--out",
        type=output_path,
        required=True,
        help="the file (or, with --to folder, the folder) to write",
    )
    parser.add_argument(
        "--to",
        choices=TARGETS,
        help="pt, safetensors or folder (default: from --out's suffix, else pt)",
    )
    parser.add_argument(
        "--drop-background",
        action="store_true",
        help="drop TF-slim's background class 0 (1001 -> 1000 ImageNet classes; TF-slim's .tflite files too)",
    )
    parser.add_argument(
        "--resolution",
        type=number(RESOLUTION),
        help="the input size to record (default: the release's or the one in the file name, else 224)",
    )
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    add_json_argument(parser)
    parser.set_defaults(handler=run_convert)

    parser = subparsers.add_parser(
        "push-to-hub",
        help="upload a pretrained folder (`convert --to folder`, `export --format pretrained`) to a "
        "Hugging Face Hub repository",
        description="Uploads FOLDER's config.json and model.safetensors to REPO (created if absent). Needs a Hugging "
        "Face token (`hf auth login` or HF_TOKEN) and the network; nothing is pushed without this command.",
    )
    parser.add_argument("folder", metavar="FOLDER")
    parser.add_argument("--repo-id", required=True, metavar="OWNER/NAME")
    parser.add_argument("--private", action="store_true", help="create the repository private")
    add_json_argument(parser)
    parser.set_defaults(handler=run_push)


def registered_name(config: dict[str, Any]) -> str:
    """The registry name whose arguments the weights' config matches (alpha, resolution,
    variant, head), or "mobilenet_v1" for none."""
    for name in list_models():
        defaults = {"variant": "separable", "head_features": 0, **model_defaults(name)}
        if all(
            config.get(key, 0 if key == "head_features" else None) == value
            for key, value in defaults.items()
        ):
            return name
    return "mobilenet_v1"


def _target(args: argparse.Namespace) -> str:
    if args.to:
        return args.to
    return "safetensors" if Path(args.out).suffix.lower() == ".safetensors" else "pt"


def _how_to_load(result: dict[str, Any]) -> str:
    name, out, config = result["model"], result["out"], result["config"]
    architecture = ", ".join(
        f"{key}={config[key]!r}"
        for key in ("padding", "activation", "bn_eps", "head_features", "num_classes")
        if key in config
    )
    lines = [
        f"wrote {out} ({name}, {result['num_classes']} classes, "
        f"{result['params']:,} parameters ({PARAMETERS_COUNTED}))"
    ]
    if result["to"] == "folder":
        lines.append(
            f"load it: mobilenets.from_pretrained({out!r}); share it: mobilenets push-to-hub {out} --repo-id OWNER/NAME"
        )
        return "\n".join(lines)
    reader = (
        "safetensors.torch.load_file({out!r})"
        if result["to"] == "safetensors"
        else "torch.load({out!r}, weights_only=True)['model']"
    )
    lines += [
        f"load it: create_model({name!r}, pretrained={out!r}), or without this package's loader:",
        f"  model = create_model({name!r}, {architecture})",
        f"  model.load_state_dict({reader.format(out=out)})",
    ]
    return "\n".join(lines)


def run_convert(args: argparse.Namespace) -> int:
    checkpoint = read_weights(
        args.source,
        format=args.format,
        drop_background=args.drop_background,
        resolution=args.resolution,
    )
    # Every tensor fits, before writing.
    model = load_checkpoint_into(MobileNetV1(**checkpoint["config"]), checkpoint)
    target = _target(args)
    if target == "folder":
        path = save_pretrained(checkpoint, args.out, force=args.force)
        digest = file_sha256(path / "model.safetensors")
    else:
        if (target == "safetensors") != (Path(args.out).suffix.lower() == ".safetensors"):
            raise ValueError(
                f"--to {target} writes a {'.safetensors' if target == 'safetensors' else '.pt'} "
                f"file; got --out {args.out}"
            )
        path = save_checkpoint(checkpoint, args.out, force=args.force)
        digest = file_sha256(path)
    config = checkpoint["config"]
    result = dict(
        out=str(path),
        to=target,
        sha256=digest,
        model=registered_name(config),
        num_classes=config["num_classes"],
        label_offset=checkpoint["pretrained_cfg"].get("label_offset", 0),
        weights=checkpoint["pretrained_cfg"].get("weights"),
        params=parameter_count(model),
        config=config,
    )
    emit(result, args.json, _how_to_load)
    return 0


def run_push(args: argparse.Namespace) -> int:
    url = push_to_hub(args.folder, args.repo_id, private=args.private)
    emit(
        {"folder": args.folder, "repo_id": args.repo_id, "commit": url},
        args.json,
        lambda r: f"pushed {r['folder']} to {r['repo_id']}: {r['commit']}",
    )
    return 0
