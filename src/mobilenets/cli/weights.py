"""`mobilenets convert`: Google's released weights (Keras h5, TF-slim checkpoint) to a .pt file."""
from __future__ import annotations

import argparse
from ..models import model_name
from ..models.hub import file_sha256
from ..models.pretrained import read_weights, save_checkpoint
from ..models import RESOLUTION
from .common import add_json_argument, emit, number, output_path

SOURCE_FORMATS = ("keras", "tf-slim")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert", help="convert released Keras / TF-slim MobileNet v1 weights to a .pt file",
        description="Writes a .pt file: a dict with 'model' (the state dict), 'config' (MobileNetV1's "
        "arguments) and 'pretrained_cfg' (input size and normalisation).",
    )
    parser.add_argument("source", metavar="FILE", help="a Keras .h5 file or a TF-slim checkpoint prefix (or a URL)")
    parser.add_argument("--from", dest="format", choices=SOURCE_FORMATS, required=True, help="the source format")
    parser.add_argument("--out", type=output_path, required=True, help="the .pt file to write")
    parser.add_argument("--drop-background", action="store_true",
                        help="drop TF-slim's background class 0 (1001 -> 1000 ImageNet classes)")
    parser.add_argument("--resolution", type=number(RESOLUTION),
                        help="the input size to record (default: the one in the file name, else 224)")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    add_json_argument(parser)
    parser.set_defaults(handler=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    checkpoint = read_weights(
        args.source, format=args.format, drop_background=args.drop_background, resolution=args.resolution,
    )
    path = save_checkpoint(checkpoint, args.out, force=args.force)
    config = checkpoint["config"]
    result = dict(
        out=str(path), sha256=file_sha256(path),
        model=model_name(config["alpha"], config["resolution"]),
        num_classes=config["num_classes"],
        label_offset=checkpoint["pretrained_cfg"].get("label_offset", 0),
        params=sum(tensor.numel() for key, tensor in checkpoint["model"].items() if not key.endswith("num_batches_tracked")),
        config=config,
    )
    emit(result, args.json, lambda r: (
        f"wrote {r['out']} ({r['model']}, {r['num_classes']} classes, {r['params']:,} parameters)\n"
        f"load it: create_model({r['model']!r}, pretrained={r['out']!r}), or without this package's loader:\n"
        f"  model = create_model({r['model']!r}, padding='tf_same', activation='relu6', num_classes={r['num_classes']})\n"
        f"  model.load_state_dict(torch.load({r['out']!r})['model'])"
    ))
    return 0
