import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mobilenets.data.coco import coco_split, collate_detection, detection_transforms, open_coco
from mobilenets.detection.synthetic import make_detection


def test_generated_boxes_are_the_tight_boxes_of_the_pasted_items(tmp_path: Path) -> None:
    summary = make_detection(tmp_path / "data", 6, seed=3, progress=False)
    assert (summary["train"]["images"], summary["val"]["images"]) == (5, 1)
    for split in ("train", "val"):
        images, annotations = coco_split(tmp_path / "data", split)
        document = json.loads(annotations.read_text())
        assert [c["name"] for c in document["categories"]][:2] == ["T-shirt/top", "Trouser"]
        assert len(document["annotations"]) == summary[split]["boxes"] >= len(document["images"])
        for record in document["images"]:
            pixels = np.asarray(Image.open(images / record["file_name"]))
            assert pixels.shape == (300, 300, 3)
            covered = np.zeros((300, 300), bool)
            for ann in (a for a in document["annotations"] if a["image_id"] == record["id"]):
                x, y, w, h = ann["bbox"]
                assert 1 <= ann["category_id"] <= 10 and ann["area"] == w * h
                inside = pixels[y : y + h, x : x + w].max(-1)
                # Tight: every edge row and column of the box holds a lit pixel.
                assert (
                    inside[0].any()
                    and inside[-1].any()
                    and inside[:, 0].any()
                    and inside[:, -1].any()
                )
                covered[y : y + h, x : x + w] = True
            assert covered.any() and not pixels[~covered].any()


def _write(
    tmp_path: Path, annotations: list[dict], categories=((1, "a"), (2, "b"))
) -> tuple[Path, Path]:
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    for n in (1, 2, 3):
        Image.fromarray(np.full((40, 50, 3), 60 * n, np.uint8)).save(images / f"{n}.png")
    document = {
        "images": [
            {"id": n, "file_name": f"{n}.png", "width": 50, "height": 40} for n in (1, 2, 3, 4)
        ],
        "annotations": [{"id": i, "iscrowd": 0, **a} for i, a in enumerate(annotations, start=1)],
        "categories": [{"id": i, "name": name} for i, name in categories],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(document))
    return images, path


def test_bad_boxes_are_clipped_or_skipped_and_counted(tmp_path: Path) -> None:
    images, annotations = _write(
        tmp_path,
        [
            {
                "image_id": 1,
                "category_id": 1,
                "bbox": [-10, -5, 30, 20],
            },  # clipped to [0, 0, 20, 15]
            {
                "image_id": 1,
                "category_id": 2,
                "bbox": [45, 10, 20, 10],
            },  # clipped to [45, 10, 5, 10]
            {"image_id": 1, "category_id": 2, "bbox": [10, 10, 0, 5]},  # zero area
            {"image_id": 1, "category_id": 1, "bbox": [5, 5, 10, 10], "iscrowd": 1},
            {"image_id": 2, "category_id": 1, "bbox": [60, 10, 5, 5]},  # outside: nothing left
            {"image_id": 4, "category_id": 1, "bbox": [5, 5, 10, 10]},  # its file is missing
        ],
    )  # image 3 has no annotations
    data = open_coco(images, annotations, detection_transforms(None, False))
    assert data.report.to_dict() == {
        "images": 1,
        "boxes": 2,
        "skipped_images_without_boxes": 2,
        "skipped_missing_files": 1,
        "skipped_zero_area_boxes": 2,
        "skipped_crowd_boxes": 1,
        "clipped_boxes": 2,
        "skipped_unreadable_images": 0,
    }
    assert data.num_classes == 3
    images_batch, targets = collate_detection([data.dataset[0]])
    assert images_batch[0].shape == (3, 40, 50) and images_batch[0].dtype == torch.float32
    assert targets[0]["boxes"].tolist() == [[0.0, 0.0, 20.0, 15.0], [45.0, 10.0, 50.0, 20.0]]
    assert targets[0]["labels"].tolist() == [1, 2]
    # Evaluation keeps images without boxes (as COCO does): they come with no boxes.
    everything = open_coco(images, annotations, detection_transforms(None, False), skip_empty=False)
    assert len(everything.dataset) == 3
    _, targets = collate_detection([everything.dataset[2]])
    assert targets[0]["boxes"].shape == (0, 4) and int(targets[0]["image_id"]) == 3


def test_training_augmentation_always_leaves_valid_boxes(tmp_path: Path) -> None:
    images, annotations = _write(
        tmp_path,
        [
            {"image_id": n, "category_id": 1 + n % 2, "bbox": [5 * n, 4 * n, 20, 15]}
            for n in (1, 2, 3)
        ],
    )
    data = open_coco(images, annotations, detection_transforms(64, True))
    torch.manual_seed(0)
    for _ in range(10):
        for index in range(len(data.dataset)):
            image, target = collate_detection([data.dataset[index]])
            assert image[0].shape == (3, 64, 64)
            boxes = target[0]["boxes"]
            assert len(boxes) == len(target[0]["labels"]) >= 1
            assert (
                (boxes[:, 2:] > boxes[:, :2]).all() and (boxes >= 0).all() and (boxes <= 64).all()
            )


def test_a_category_missing_from_the_categories_is_named(tmp_path: Path) -> None:
    images, annotations = _write(
        tmp_path, [{"image_id": 1, "category_id": 7, "bbox": [1, 1, 5, 5]}]
    )
    with pytest.raises(
        ValueError, match="category_id 7, which is not among the categories \\(1, 2\\)"
    ):
        open_coco(images, annotations)


def test_missing_split_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make-detection"):
        coco_split(tmp_path, "train")
