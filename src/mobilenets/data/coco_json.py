"""A COCO instances file from elsewhere, checked before pycocotools or torchvision see it: the
structure (an object with images, annotations and categories lists), each entry's required
keys and types, four finite numbers per box, unique ids, references between the lists, and
image file names that stay inside the image folder. Each problem is one ValueError naming the
file and the entry."""

from __future__ import annotations

import json
import math
import os
import posixpath
from pathlib import Path
from typing import Any

_LISTS = ("images", "annotations", "categories")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _safe_file_name(name: Any) -> bool:
    """A relative path that stays inside the image folder (checked on the text, so that an image
    folder that is itself a link to elsewhere still works)."""
    if not isinstance(name, str) or not name or "\0" in name or "\\" in name:
        return False
    normal = posixpath.normpath(name)
    return not posixpath.isabs(normal) and normal != ".." and not normal.startswith("../")


def read_instances(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked contents of a COCO instances file. Entries get COCO's defaults where the
    format allows leaving them out (``iscrowd`` 0, ``area`` the box's), as COCOeval needs them."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a JSON file ({error})") from None
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply for an annotations file") from None
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: a COCO annotations file holds a JSON object with {', '.join(_LISTS)}; got a {type(data).__name__}"
        )
    for key in _LISTS:
        if not isinstance(data.get(key), list):
            what = "is missing" if key not in data else f"is a {type(data[key]).__name__}"
            raise ValueError(
                f"{path}: the '{key}' list {what}; a COCO annotations file has {', '.join(_LISTS)} lists"
            )

    def entries(key: str, required: dict[str, Any]) -> dict[int, dict[str, Any]]:
        by_id: dict[int, dict[str, Any]] = {}
        for position, entry in enumerate(data[key]):
            where = f"{path}: {key}[{position}]"
            if not isinstance(entry, dict):
                raise ValueError(f"{where} is a {type(entry).__name__}, not an object")
            for name, (check, wanted) in required.items():
                if name not in entry:
                    raise ValueError(f"{where} has no '{name}'")
                if not check(entry[name]):
                    raise ValueError(
                        f"{where}: '{name}' must be {wanted}; got {json.dumps(entry[name])[:80]}"
                    )
            if entry["id"] in by_id:
                raise ValueError(f"{where} repeats id {entry['id']}")
            by_id[entry["id"]] = entry
        return by_id

    integer = (_is_int, "an integer")
    positive = (lambda v: _is_number(v) and v > 0, "a positive number")
    images = entries(
        "images",
        {
            "id": integer,
            "width": positive,
            "height": positive,
            "file_name": (_safe_file_name, "a relative path inside the image folder"),
        },
    )
    categories = entries(
        "categories",
        {"id": (lambda v: _is_int(v) and v >= 1, "an integer >= 1 (0 is the background)")},
    )
    annotations = entries(
        "annotations",
        {
            "id": integer,
            "image_id": integer,
            "category_id": integer,
            "bbox": (
                lambda v: isinstance(v, list) and len(v) == 4 and all(map(_is_number, v)),
                "[x, y, width, height]: 4 finite numbers",
            ),
        },
    )
    for position, ann in enumerate(annotations.values()):
        where = f"{path}: annotations[{position}] (id {ann['id']})"
        if ann["image_id"] not in images:
            raise ValueError(
                f"{where} names image_id {ann['image_id']}, which is not among the images"
            )
        if ann["category_id"] not in categories:
            raise ValueError(
                f"{where} has category_id {ann['category_id']}, which is not among the categories "
                f"({', '.join(map(str, sorted(categories)))})"
            )
        for key, check, allowed in (
            ("iscrowd", lambda v: v in (0, 1), "0 or 1"),
            ("area", lambda v: _is_number(v) and v >= 0, "a number >= 0"),
        ):
            if key in ann and not check(ann[key]):
                raise ValueError(f"{where}: '{key}' must be {allowed}; got {ann[key]!r}")
        ann.setdefault("iscrowd", 0)
        ann.setdefault("area", float(ann["bbox"][2]) * float(ann["bbox"][3]))
    return data
