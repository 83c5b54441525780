"""Hostile data (issue 10, items 3 and 4): images, CSV manifests, COCO files, weights and
teacher outputs that someone else made. Each refusal case runs a real command in-process and
must end with exit status 2, one error line on stderr naming the problem, no traceback, and
the folder exactly as it was (nothing left behind, nothing touched). Images that are merely
unusual (16-bit, palette, CMYK, alpha) must be read and used (exit status 0).

``python tests/trust/test_trust_data.py`` prints attempts / clear refusals / tracebacks per family
(run it with PYTHONPATH=/work/main/src for the figures of the code before the change).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import signal
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mobilenets.cli import main
from mobilenets.models import MobileNetV1
from mobilenets.weights.pretrained import save_checkpoint


@dataclass
class Case:
    family: str
    name: str
    build: Callable[[Path], list[str]]  # makes the files in a folder, returns the command line
    expect: str | None  # a piece of the error line; None: the command must succeed


CASES: list[Case] = []


def case(family: str, expect: str | None = None) -> Callable:
    def register(build: Callable[[Path], list[str]]) -> Callable:
        CASES.append(Case(family, build.__name__, build, expect))
        return build

    return register


# ------------------------------------------------------------------------------------ files
def tiny_weights(folder: Path, classes: int = 3) -> str:
    """Random weights of mobilenet_v1_025_128 built as released weights are (three classes)."""
    model = MobileNetV1(
        alpha=0.25, resolution=128, num_classes=classes, padding="tf_same", activation="relu6"
    )
    path = folder / "w.pt"
    save_checkpoint(
        {
            "model": model.state_dict(),
            "config": model.config,
            "pretrained_cfg": model.pretrained_cfg,
        },
        path,
    )
    return str(path)


def png(path: Path, value: int = 100, size: tuple[int, int] = (40, 36), mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode in ("L", "P") else (value, 255 - value, value // 2)).save(
        path
    )
    return path


def bomb(path: Path, side: int = 30_000) -> Path:
    """A PNG whose header claims ``side`` x ``side`` pixels (900 MP) in a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )
    return path


def predict(folder: Path, image: Path | str) -> list[str]:
    return ["predict", "--pretrained", tiny_weights(folder), str(image), "--json"]


def image_folder(root: Path, classes=("a", "b", "c"), per_class: int = 2) -> Path:
    for index, name in enumerate(classes):
        for n in range(per_class):
            png(root / name / f"{n}.png", 40 * index + n)
    return root


def classification_csvs(folder: Path, train: bytes, val: bytes | None = None) -> str:
    for n in range(3):
        png(folder / "img" / f"{n}.png", 50 * n)
    (folder / "train.csv").write_bytes(train)
    (folder / "val.csv").write_bytes(
        val if val is not None else b"img/0.png,0\nimg/1.png,1\nimg/2.png,2\n"
    )
    return f"{folder}/train.csv,{folder}/val.csv"


def evaluate(folder: Path, data: str) -> list[str]:
    return [
        "eval",
        "--pretrained",
        tiny_weights(folder),
        "--data",
        data,
        "--plot",
        str(folder / "confusion.png"),
        "--json",
    ]


TRAIN = ["--alpha", "0.25", "--resolution", "32", "--epochs", "1", "--batch-size", "2"]


def train(folder: Path, data: str, *more: str) -> list[str]:
    return ["train", "--data", data, "--out", str(folder / "run"), *TRAIN, *more]


# ------------------------------------------------------------------------------------ images
@case("images", "decompression bombs")
def bomb_png(tmp: Path) -> list[str]:
    return predict(tmp, bomb(tmp / "bomb.png"))


@case("images", "decompression bombs")
def bomb_over_twice_the_limit(tmp: Path) -> list[str]:
    return predict(tmp, bomb(tmp / "bomb.png", side=60_000))


@case("images", "not a readable image")
def text_named_png(tmp: Path) -> list[str]:
    (tmp / "page.png").write_text("<html>not found</html>")
    return predict(tmp, tmp / "page.png")


@case("images", "empty file")
def zero_byte_jpeg(tmp: Path) -> list[str]:
    (tmp / "empty.jpg").write_bytes(b"")
    return predict(tmp, tmp / "empty.jpg")


@case("images", "not a readable image")
def truncated_png(tmp: Path) -> list[str]:
    data = png(tmp / "full.png", size=(300, 300)).read_bytes()
    (tmp / "cut.png").write_bytes(data[: len(data) // 2])
    (tmp / "full.png").unlink()
    return predict(tmp, tmp / "cut.png")


@case("images", "is a folder")
def folder_as_image(tmp: Path) -> list[str]:
    (tmp / "dir.png").mkdir()
    return predict(tmp, tmp / "dir.png")


@case("images", "no image file")
def missing_image(tmp: Path) -> list[str]:
    return predict(tmp, tmp / "absent.png")


def unusual(tmp: Path, name: str, image: Image.Image) -> list[str]:
    image.save(tmp / name)
    return predict(tmp, tmp / name)


@case("images")
def sixteen_bit_grey(tmp: Path) -> list[str]:
    return unusual(
        tmp, "i16.png", Image.fromarray((np.arange(48 * 40).reshape(40, 48) * 30).astype(np.uint16))
    )


@case("images")
def thirty_two_bit_grey_tiff(tmp: Path) -> list[str]:
    return unusual(
        tmp, "i32.tif", Image.fromarray((np.arange(48 * 40).reshape(40, 48) * 30).astype(np.int32))
    )


@case("images")
def palette_with_transparency(tmp: Path) -> list[str]:
    image = Image.new("P", (40, 40), 3)
    image.info["transparency"] = 3
    return unusual(tmp, "p.png", image)


@case("images")
def cmyk_jpeg(tmp: Path) -> list[str]:
    return unusual(tmp, "cmyk.jpg", Image.new("CMYK", (40, 40), (10, 200, 30, 40)))


@case("images")
def grey_with_alpha(tmp: Path) -> list[str]:
    return unusual(tmp, "la.png", Image.new("LA", (40, 40), (90, 128)))


@case("images")
def one_bit(tmp: Path) -> list[str]:
    return unusual(tmp, "bits.png", Image.new("1", (40, 40), 1))


def export(tmp: Path, folder: Path) -> list[str]:
    return [
        "export",
        "--pretrained",
        tiny_weights(tmp),
        "--model",
        "mobilenet_v1_025_128",
        "--format",
        "torchscript",
        "--out",
        str(tmp / "m.ts"),
        "--verify-data",
        str(folder),
        "--verify-images",
        "2",
    ]


@case("images", "holds no readable images")
def verification_folder_of_broken_files(tmp: Path) -> list[str]:
    (tmp / "verify").mkdir()
    (tmp / "verify" / "a.png").write_text("text")
    bomb(tmp / "verify" / "b.png")
    return export(tmp, tmp / "verify")


@case("images")
def verification_folder_with_some_broken_files(tmp: Path) -> list[str]:
    png(tmp / "verify" / "good.png")
    (tmp / "verify" / "a.png").write_text("text")
    png(tmp / "verify" / "good2.jpg")
    return export(tmp, tmp / "verify")


# ------------------------------------------------------------------- classification CSVs
@case("csv", "NUL byte")
def nul_bytes(tmp: Path) -> list[str]:
    return evaluate(
        tmp, classification_csvs(tmp, b"img/0.png,0\nimg/1.png,1\x00\x00\nimg/2.png,2\n")
    )


@case("csv", "not UTF-8")
def latin1(tmp: Path) -> list[str]:
    return evaluate(tmp, classification_csvs(tmp, b"img/0.png,0\nimg/1.png,1\nimg/2.png,caf\xe9\n"))


@case("csv", "not UTF-8")
def utf16(tmp: Path) -> list[str]:
    return evaluate(
        tmp,
        classification_csvs(tmp, b"", "img/0.png,0\nimg/1.png,1\nimg/2.png,2\n".encode("utf-16")),
    )


@case("csv", "longer than")
def huge_field(tmp: Path) -> list[str]:
    return evaluate(
        tmp, classification_csvs(tmp, b"img/0.png,0\n" + b"x" * 200_000 + b".png,1\n", None)
    )


@case("csv", "quote")
def quote_left_open(tmp: Path) -> list[str]:
    return evaluate(
        tmp,
        classification_csvs(tmp, b"", b'img/0.png,0\n"img/1.png,1\n' + b"img/2.png,2\n" * 20_000),
    )


@case("csv", "class index must be in")
def negative_label(tmp: Path) -> list[str]:
    return evaluate(tmp, classification_csvs(tmp, b"", b"img/0.png,0\nimg/1.png,-1\nimg/2.png,2\n"))


@case("csv", "class index must be in")
def label_far_out_of_range(tmp: Path) -> list[str]:
    return evaluate(
        tmp, classification_csvs(tmp, b"", b"img/0.png,0\nimg/1.png,1000000\nimg/2.png,2\n")
    )


@case("csv", "expected 'path,label'")
def three_columns(tmp: Path) -> list[str]:
    return evaluate(tmp, classification_csvs(tmp, b"", b"img/0.png,0,extra\n"))


@case("csv")
def byte_order_mark_and_header(tmp: Path) -> list[str]:
    return evaluate(
        tmp,
        classification_csvs(
            tmp, b"", b"\xef\xbb\xbfpath,label\nimg/0.png,0\nimg/1.png,1\nimg/2.png,2\n"
        ),
    )


def select(tmp: Path, table: bytes) -> list[str]:
    (tmp / "accuracy.csv").write_bytes(table)
    return [
        "select",
        "--max-params",
        "2000000",
        "--accuracy-table",
        str(tmp / "accuracy.csv"),
        "--json",
    ]


@case("csv", "NUL byte")
def accuracy_table_nul(tmp: Path) -> list[str]:
    return select(tmp, b"model,top1\nmobilenet_v1_050_128,9\x000\n")


@case("csv")
def accuracy_table_byte_order_mark(tmp: Path) -> list[str]:
    return select(tmp, b"\xef\xbb\xbfmodel,top1\nmobilenet_v1_050_128,90\n")


# ----------------------------------------------------------------- classification classes
@case("classes", "has no training images")
def empty_class_folder(tmp: Path) -> list[str]:
    image_folder(tmp / "data" / "train", classes=("a", "b"))
    (tmp / "data" / "train" / "c").mkdir()
    image_folder(tmp / "data" / "val", classes=("a", "b", "c"), per_class=1)
    return train(tmp, str(tmp / "data"))


@case("classes", "at least 2 classes")
def single_class(tmp: Path) -> list[str]:
    image_folder(tmp / "data" / "train", classes=("a",), per_class=4)
    image_folder(tmp / "data" / "val", classes=("a",), per_class=1)
    return train(tmp, str(tmp / "data"))


@case("classes", "has no training images")
def class_index_never_trained(tmp: Path) -> list[str]:
    return train(
        tmp, classification_csvs(tmp, b"img/0.png,0\nimg/1.png,2\nimg/2.png,0\nimg/0.png,2\n")
    )


@case("classes", "class 'b' has no readable training images")
def class_of_broken_images(tmp: Path) -> list[str]:
    image_folder(tmp / "data" / "train", classes=("a", "c"))
    (tmp / "data" / "train" / "b").mkdir()
    (tmp / "data" / "train" / "b" / "x.png").write_text("text")
    image_folder(tmp / "data" / "val", classes=("a", "b", "c"), per_class=1)
    return train(tmp, str(tmp / "data"))


@case("classes", "no readable train images")
def every_image_broken(tmp: Path) -> list[str]:
    for split in ("train", "val"):
        for name in ("a", "b"):
            (tmp / "data" / split / name).mkdir(parents=True)
            (tmp / "data" / split / name / "x.png").write_text("text")
    return train(tmp, str(tmp / "data"))


# ------------------------------------------------------------------------- attribute CSVs
def attributes(tmp: Path, train_csv: bytes) -> list[str]:
    for n in range(3):
        png(tmp / "img" / f"{n}.png", 50 * n)
    (tmp / "train.csv").write_bytes(train_csv)
    (tmp / "val.csv").write_bytes(b"path,red,round\nimg/0.png,1,0\n")
    return ["train-attributes", "--data", str(tmp), "--out", str(tmp / "run"), *TRAIN]


@case("attributes", "NUL byte")
def attributes_nul(tmp: Path) -> list[str]:
    return attributes(tmp, b"path,red,round\nimg/0.png,1,0\x00\n")


@case("attributes", "not UTF-8")
def attributes_latin1(tmp: Path) -> list[str]:
    return attributes(tmp, b"path,r\xe9d,round\nimg/0.png,1,0\n")


@case("attributes", "values of 0 or 1")
def attributes_value_two(tmp: Path) -> list[str]:
    return attributes(tmp, b"path,red,round\nimg/0.png,1,2\n")


@case("attributes", "header")
def attributes_without_header(tmp: Path) -> list[str]:
    return attributes(tmp, b"img/0.png,1,0\n")


# ------------------------------------------------------------------------------- geo CSVs
def geo(tmp: Path, rows: bytes) -> list[str]:
    for n in range(3):
        png(tmp / "img" / f"{n}.png", 50 * n)
    (tmp / "train.csv").write_bytes(b"path,lat,lng\nimg/0.png,48.85,2.35\n" + rows)
    (tmp / "val.csv").write_bytes(b"img/1.png,40.7,-74.0\n")
    return [
        "train-geo",
        "--data",
        str(tmp),
        "--out",
        str(tmp / "run"),
        "--alpha",
        "0.25",
        "--resolution",
        "32",
        "--epochs",
        "1",
    ]


@case("geo", "lat must be a number in [-90, 90]")
def latitude_91(tmp: Path) -> list[str]:
    return geo(tmp, b"img/1.png,91,2\n")


@case("geo", "lng must be a number in [-180, 180]")
def longitude_not_a_number(tmp: Path) -> list[str]:
    return geo(tmp, b"img/1.png,10,east\n")


@case("geo", "lat must be a number in [-90, 90]")
def latitude_nan(tmp: Path) -> list[str]:
    return geo(tmp, b"img/1.png,nan,2\n")


@case("geo", "lng must be a number in [-180, 180]")
def longitude_infinite(tmp: Path) -> list[str]:
    return geo(tmp, b"img/1.png,10,inf\n")


@case("geo", "expected 'path,lat,lng'")
def geo_two_columns(tmp: Path) -> list[str]:
    return geo(tmp, b"img/1.png,10\n")


@case("geo", "NUL byte")
def geo_nul(tmp: Path) -> list[str]:
    return geo(tmp, b"img/1.png,10,\x0020\n")


# ----------------------------------------------------------------------------------- COCO
def coco(
    tmp: Path, change: Callable[[dict], object] | None = None, text: bytes | None = None
) -> list[str]:
    """A valid two-image COCO folder, the training annotations changed by ``change`` (which may
    return a replacement document) or replaced by ``text``."""
    root = tmp / "coco"
    for split in ("train", "val"):
        for n in (1, 2):
            png(root / split / f"{n}.png", 60 * n, size=(50, 40))
        document = {
            "images": [
                {"id": n, "file_name": f"{n}.png", "width": 50, "height": 40} for n in (1, 2)
            ],
            "annotations": [
                {
                    "id": n,
                    "image_id": n,
                    "category_id": 1,
                    "bbox": [5, 5, 20, 15],
                    "iscrowd": 0,
                    "area": 300,
                }
                for n in (1, 2)
            ],
            "categories": [{"id": 1, "name": "thing"}],
        }
        if split == "train" and change is not None:
            document = change(document) or document
        path = root / "annotations" / f"instances_{split}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(
            text if split == "train" and text is not None else json.dumps(document).encode()
        )
    return [
        "train-detector",
        "--arch",
        "ssdlite300",
        "--data",
        str(root),
        "--out",
        str(tmp / "run"),
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--alpha",
        "0.25",
    ]


@case("coco", "got a list")
def coco_list_instead_of_object(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: [d])


@case("coco", "'images' list is missing")
def coco_without_images(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d.pop("images") and None)


@case("coco", "'annotations' list is a dict")
def coco_annotations_as_object(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d.update(annotations={"1": d["annotations"][0]}))


@case("coco", "has no 'bbox'")
def coco_annotation_without_box(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["annotations"][1].pop("bbox") and None)


@case("coco", "4 finite numbers")
def coco_short_box(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["annotations"][0].update(bbox=[1, 2, 3]))


@case("coco", "4 finite numbers")
def coco_box_of_strings(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["annotations"][0].update(bbox=["1", "2", "3", "4"]))


@case("coco", "4 finite numbers")
def coco_box_with_nan(tmp: Path) -> list[str]:
    return coco(
        tmp,
        text=b'{"images": [{"id": 1, "file_name": "1.png", "width": 50, "height": 40}], '
        b'"annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [NaN, 1, 2, 3]}], '
        b'"categories": [{"id": 1, "name": "x"}]}',
    )


@case("coco", "repeats id 1")
def coco_duplicate_image_ids(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["images"][1].update(id=1))


@case("coco", "repeats id 2")
def coco_duplicate_annotation_ids(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["annotations"][0].update(id=2))


@case("coco", "'id' must be an integer")
def coco_image_id_string(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["images"][0].update(id="1"))


@case("coco", "inside the image folder")
def coco_file_name_escapes(tmp: Path) -> list[str]:
    png(tmp / "secret.png")
    return coco(tmp, lambda d: d["images"][0].update(file_name="../../secret.png"))


@case("coco", "inside the image folder")
def coco_absolute_file_name(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["images"][0].update(file_name=str(png(tmp / "elsewhere.png"))))


@case("coco", "not among the categories")
def coco_unknown_category(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["annotations"][0].update(category_id=9))


@case("coco", "not among the images")
def coco_unknown_image(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["annotations"][0].update(image_id=9))


@case("coco", "not an object")
def coco_annotation_not_an_object(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["annotations"].append([1, 2, 3]))


@case("coco", "'width' must be a positive number")
def coco_zero_width(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["images"][0].update(width=0))


@case("coco", "an integer >= 1")
def coco_category_zero(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["categories"][0].update(id=0))


@case("coco", "'iscrowd' must be 0 or 1")
def coco_iscrowd_two(tmp: Path) -> list[str]:
    return coco(tmp, lambda d: d["annotations"][0].update(iscrowd=2))


@case("coco", "not a JSON file")
def coco_not_json(tmp: Path) -> list[str]:
    return coco(tmp, text=b"<html>502 Bad Gateway</html>")


@case("coco", "not a JSON file")
def coco_zero_bytes(tmp: Path) -> list[str]:
    return coco(tmp, text=b"")


# --------------------------------------------------------------- weights and teacher outputs
def teacher_outputs(
    tmp: Path, content: bytes | None, logits: torch.Tensor | None = None
) -> list[str]:
    image_folder(tmp / "data" / "train", classes=("a", "b"), per_class=2)
    image_folder(tmp / "data" / "val", classes=("a", "b"), per_class=1)
    path = tmp / "teacher.pt"
    if logits is not None:
        torch.save({"logits": logits}, path)
    else:
        path.write_bytes(content)
    return train(tmp, str(tmp / "data"), "--teacher-outputs", str(path))


@case("weights", "not a readable teacher-outputs file")
def teacher_outputs_zero_bytes(tmp: Path) -> list[str]:
    return teacher_outputs(tmp, b"")


@case("weights", "not a readable teacher-outputs file")
def teacher_outputs_garbage(tmp: Path) -> list[str]:
    return teacher_outputs(tmp, b"garbage" * 100)


@case("weights", "not a readable teacher-outputs file")
def teacher_outputs_truncated(tmp: Path) -> list[str]:
    buffer = io.BytesIO()
    torch.save({"logits": torch.randn(4, 2)}, buffer)
    return teacher_outputs(tmp, buffer.getvalue()[:-40])


@case("weights", "NaN or infinite")
def teacher_outputs_nan(tmp: Path) -> list[str]:
    return teacher_outputs(tmp, None, torch.tensor([[0.0, float("nan")]] * 4))


@case("weights", "NaN or infinite")
def keras_h5_with_nan(tmp: Path) -> list[str]:
    h5py = pytest.importorskip("h5py")
    from test_weights_download import write_keras_layout

    path = tmp / "mobilenet_2_5_128_tf_no_top.h5"
    write_keras_layout(path)
    with h5py.File(path, "r+") as file:
        dataset = file["conv_pw_3"]["conv_pw_3/kernel:0"]
        values = dataset[...]
        values[0, 0, 0, 0] = np.nan
        dataset[...] = values
    return ["convert", "--from", "keras", str(path), "--out", str(tmp / "converted.pt")]


# ------------------------------------------------------------ images going bad mid-epoch
def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path: Path) -> None:
    from mobilenets.data.images import read_image

    values = (np.arange(64 * 32).reshape(32, 64) * 32).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "i16.png")
    image = read_image(tmp_path / "i16.png")
    assert image.mode == "L" and np.array_equal(np.asarray(image), (values >> 8).astype(np.uint8))
    assert read_image(tmp_path / "i16.png", "RGB").mode == "RGB"


def test_images_going_bad_mid_epoch_are_skipped_and_counted(tmp_path: Path) -> None:
    from torch.utils.data import DataLoader

    from mobilenets.data.classification import build_datasets

    image_folder(tmp_path / "train", classes=("a", "b"), per_class=4)
    image_folder(tmp_path / "val", classes=("a", "b"), per_class=1)
    bundle = build_datasets(str(tmp_path), 16)
    assert bundle.skipped_files == 0
    (tmp_path / "train" / "a" / "1.png").write_text("replaced by text after the scan")
    (tmp_path / "train" / "b" / "2.png").write_bytes(b"")
    sizes = [len(labels) for _, labels in DataLoader(bundle.train, batch_size=3, num_workers=2)]
    assert sizes == [3, 3, 2] and bundle.skipped_files == 2  # counted across worker processes


def test_coco_image_going_bad_mid_epoch_is_skipped_and_counted(tmp_path: Path) -> None:
    pytest.importorskip("pycocotools")
    from mobilenets.data.coco import coco_split, collate_detection, detection_transforms, open_coco

    coco(tmp_path)
    data = open_coco(*coco_split(tmp_path / "coco", "train"), detection_transforms(64, True))
    (tmp_path / "coco" / "train" / "1.png").write_bytes(b"")
    images, targets = collate_detection([data.dataset[index] for index in range(len(data.dataset))])
    assert len(images) == 2 and [int(t["image_id"]) for t in targets] == [2, 2]
    assert data.report.to_dict()["skipped_unreadable_images"] == 1


# ----------------------------------------------------------------------------------- runner
def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(folder.rglob("*"))
    }


def attempt(item: Case, folder: Path) -> tuple[str, str]:
    """(outcome, stderr): "refused" (status 2, one error line naming the problem, folder
    unchanged), "ok" (a success case that succeeded), "traceback", "accepted" (status 0 where a
    refusal belongs), "left files" (refused, but files or folders were made or changed), "one
    line, other words" (status 2 and one line, but not naming the problem as expected) or "unclear"."""
    argv = item.build(folder)
    before = snapshot(folder)
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main(argv)
    except SystemExit as exit:
        status = exit.code
    except Exception:  # what the corpus exists to find
        return "traceback", err.getvalue()
    stderr = err.getvalue()
    errors = [line for line in stderr.splitlines() if " error: " in line]
    after = snapshot(folder)
    changed = after != before
    if item.expect is None:
        return ("ok" if status == 0 else "unclear"), stderr
    if status == 0:
        return "accepted", stderr
    if status == 2 and len(errors) == 1 and "Traceback" not in stderr:
        if changed:
            return "left files", stderr
        return ("refused" if item.expect in errors[0] else "one line, other words"), stderr
    return "unclear", stderr


@pytest.mark.parametrize("item", CASES, ids=[f"{c.family}-{c.name}" for c in CASES])
def test_hostile_input(item: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOBILENETS_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    outcome, stderr = attempt(item, tmp_path)
    assert outcome == ("ok" if item.expect is None else "refused"), f"{outcome}: {stderr[-2000:]}"


class Hang(BaseException):
    """A command past its time; not an OSError, so the code under test cannot catch it."""


def figures(
    cases: list[Case], seconds: int, prepare: Callable[[Case], None] = lambda item: None
) -> None:
    """Runs each case in a fresh folder (``prepare`` sets its environment), then prints per family
    attempts / clear outcomes / tracebacks / silent acceptances / unclear ones / hangs."""
    import os
    import tempfile
    from collections import Counter

    def alarm(signum: int, frame: object) -> None:
        raise Hang

    signal.signal(signal.SIGALRM, alarm)
    counts: dict[str, Counter] = {}
    for item in cases:
        prepare(item)
        with tempfile.TemporaryDirectory() as name:
            os.environ["MOBILENETS_CACHE"] = f"{name}/cache"
            os.chdir(name)
            signal.alarm(seconds)
            try:
                outcome, _ = attempt(item, Path(name))
            except Hang:
                outcome = "hang"
            signal.alarm(0)
        counts.setdefault(item.family, Counter())[outcome] += 1
        print(f"{item.family:<11} {item.name:<40} {outcome}", file=sys.__stderr__)
    print(
        f"{'family':<11} attempts  clear  other-words  tracebacks  accepted  left-files  unclear  hangs"
    )
    for family, counter in counts.items():
        print(
            f"{family:<11} {sum(counter.values()):>8}  {counter['refused'] + counter['ok']:>5}  "
            f"{counter['one line, other words']:>11}"
            f"  {counter['traceback']:>10}  {counter['accepted']:>8}  {counter['left files']:>10}  "
            f"{counter['unclear']:>7}  {counter['hang']:>5}"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parents[1]))
    torch.set_num_threads(1)
    figures(CASES, 60)
