import contextlib
import io

import pytest
from pycocotools.coco import COCO

from mobilenets.detection.evaluation import coco_map

THRESHOLDS = [0.5 + 0.05 * i for i in range(10)]


def _ground_truth(boxes: list[tuple[int, int, list[float]]]) -> COCO:
    """A COCO ground truth from (image id, category id, [x, y, w, h]) triples."""
    coco = COCO()
    coco.dataset = {
        "images": [{"id": i, "width": 300, "height": 300} for i in sorted({b[0] for b in boxes})],
        "annotations": [
            {
                "id": n,
                "image_id": i,
                "category_id": c,
                "bbox": box,
                "area": box[2] * box[3],
                "iscrowd": 0,
            }
            for n, (i, c, box) in enumerate(boxes, start=1)
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


GT = [
    (1, 1, [10.0, 10.0, 100.0, 100.0]),
    (2, 1, [50.0, 60.0, 100.0, 100.0]),
    (2, 2, [150.0, 150.0, 80.0, 120.0]),
]


def test_perfect_detections_score_one() -> None:
    results = [{"image_id": i, "category_id": c, "bbox": box, "score": 0.9} for i, c, box in GT]
    result = coco_map(_ground_truth(GT), results)
    assert result["map"] == pytest.approx(1.0) and result["map_50"] == pytest.approx(1.0)
    assert result["per_class"] == {"cat": pytest.approx(1.0), "dog": pytest.approx(1.0)}


def test_one_shifted_box_scores_what_the_iou_thresholds_give() -> None:
    # The dog box shifted 10 px right: IoU = 70*120 / (2*80*120 - 70*120) = 7/9 = 0.778,
    # a match at thresholds .50 to .75 (6 of 10), a miss at .80 to .95.
    shifted = [150.0 + 10.0, 150.0, 80.0, 120.0]
    iou = 70 * 120 / (2 * 80 * 120 - 70 * 120)
    results = [
        {"image_id": 1, "category_id": 1, "bbox": GT[0][2], "score": 0.9},
        {"image_id": 2, "category_id": 1, "bbox": GT[1][2], "score": 0.8},
        {"image_id": 2, "category_id": 2, "bbox": shifted, "score": 0.7},
    ]
    result = coco_map(_ground_truth(GT), results)
    dog = sum(iou >= t for t in THRESHOLDS) / len(THRESHOLDS)
    assert dog == 0.6
    assert result["per_class"]["dog"] == pytest.approx(dog)
    assert result["per_class"]["cat"] == pytest.approx(1.0)
    assert result["map"] == pytest.approx((1.0 + dog) / 2)
    assert result["map_50"] == pytest.approx(1.0)


def test_a_false_positive_above_a_true_positive_halves_precision_at_full_recall() -> None:
    # Two cats; the first detection (score .9) is a false positive, then both cats are found.
    # Precision at recall .5 is 1/2 and at recall 1 is 2/3; interpolated, precision is 2/3 at every
    # one of COCO's 101 recall points, at every IoU threshold.
    gt = GT[:2]
    results = [
        {"image_id": 1, "category_id": 1, "bbox": [200.0, 200.0, 50.0, 50.0], "score": 0.95},
        {"image_id": 1, "category_id": 1, "bbox": gt[0][2], "score": 0.9},
        {"image_id": 2, "category_id": 1, "bbox": gt[1][2], "score": 0.8},
    ]
    result = coco_map(_ground_truth(gt), results)
    assert result["map"] == pytest.approx(2 / 3) and result["map_50"] == pytest.approx(2 / 3)
    assert result["per_class"]["dog"] is None


def test_no_detections_score_zero() -> None:
    assert coco_map(_ground_truth(GT), [])["map"] == 0.0
