import math

import pytest
import torch
from torch import nn

from mobilenets import count_cost, create_model
from mobilenets.detection import frcnn_mobilenet_v1, ssd300_mobilenet_v1, ssdlite300_mobilenet_v1
from mobilenets.detection.paper_rows import (
    all_proposals_mult_adds,
    box_head_mult_adds,
    table13_cells,
)
from mobilenets.models import MobileNetV1

LOSSES = {
    "ssd": {"bbox_regression", "classification"},
    "frcnn": {"loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"},
}


def _batch(size: int) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    images = [torch.rand(3, size, size), torch.rand(3, size, size)]
    targets = [
        {"boxes": torch.tensor([[10.0, 20.0, 120.0, 150.0]]), "labels": torch.tensor([1])},
        {
            "boxes": torch.tensor([[50.0, 50.0, 90.0, 100.0], [100.0, 90.0, 150.0, 155.0]]),
            "labels": torch.tensor([2, 4]),
        },
    ]
    return images, targets


# Small inputs and few proposals keep this fast; the layout is the same as at full size.
BUILDS = {
    "ssd300": lambda: ssd300_mobilenet_v1(alpha=0.25, num_classes=5, resolution=160),
    "ssdlite300": lambda: ssdlite300_mobilenet_v1(alpha=0.25, num_classes=5, resolution=160),
    "frcnn300": lambda: frcnn_mobilenet_v1(alpha=0.25, num_classes=5, rpn_post_nms_top_n_test=20),
}


@pytest.mark.parametrize("arch", BUILDS)
def test_train_mode_gives_losses_and_eval_mode_gives_detections(arch: str) -> None:
    model = BUILDS[arch]()
    images, targets = _batch(160)
    losses = model.train()(images, targets)
    assert set(losses) == LOSSES[arch[:-3].removesuffix("lite")]
    assert all(value.ndim == 0 and math.isfinite(value.item()) for value in losses.values())
    sum(losses.values()).backward()
    first_conv = next(m for m in model.backbone.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.weight.grad is not None and first_conv.weight.grad.abs().sum() > 0
    with torch.no_grad():
        detections = model.eval()(images)
    assert len(detections) == 2
    for found in detections:
        assert set(found) == {"boxes", "labels", "scores"}
        assert found["boxes"].shape == (len(found["labels"]), 4) == (len(found["scores"]), 4)
        assert ((found["labels"] >= 1) & (found["labels"] <= 4)).all()
        assert ((found["boxes"] >= 0) & (found["boxes"] <= 160)).all()
        assert (found["scores"][:-1] >= found["scores"][1:]).all()


def test_ssd_has_the_reference_layout_and_table_13s_cost() -> None:
    model = create_model("ssd300_mobilenet_v1")
    assert model.anchor_generator.num_anchors_per_location() == [3, 6, 6, 6, 6, 6]
    assert model.backbone.endpoints == ["Conv2d_11_pointwise", "Conv2d_13_pointwise"]
    cost = count_cost(model, example=model.example_input())
    rows = {row.name: row for row in cost.layers}
    maps = [rows[f"head.classification_head.module_list.{i}"] for i in range(6)]
    assert [m.input_size for m in maps] == [
        (512, 19, 19),
        (1024, 10, 10),
        (512, 5, 5),
        (256, 3, 3),
        (256, 2, 2),
        (128, 1, 1),
    ]
    # 1x1 predictors, 91 classes: 19*19*3 + (10*10 + 5*5 + 3*3 + 2*2 + 1) * 6 = 1917 default boxes.
    assert [m.filter_shape[2:] for m in maps] == [(1, 1)] * 6
    assert sum(m.output_size[0] // 91 * m.output_size[1] * m.output_size[2] for m in maps) == 1917
    assert abs(cost.params / 6.8e6 - 1) < 0.10
    assert abs(cost.mult_adds / 1.2e9 - 1) < 0.10
    # alpha scales the extra layers too, never below 16 channels.
    small = ssd300_mobilenet_v1(alpha=0.25).eval()
    with torch.no_grad():
        assert [m.shape[1] for m in small.backbone(torch.zeros(1, 3, 300, 300)).values()] == [
            128,
            256,
            128,
            64,
            64,
            32,
        ]


def test_faster_rcnn_cost_with_300_proposals_is_table_13s() -> None:
    assert create_model("frcnn300_mobilenet_v1").eval().rpn.post_nms_top_n() == 300
    # count_cost counts one image and one item of a batch: one proposal is enough (and fast).
    model = create_model("frcnn300_mobilenet_v1", rpn_post_nms_top_n_test=1)
    cost = count_cost(model, example=model.example_input())
    assert abs(cost.params / 6.1e6 - 1) < 0.10
    rows = {row.name: row for row in cost.layers}
    assert rows["rpn.head.conv.0.0"].input_size == (512, 19, 19)
    # The box head runs on 14x14 crops; Conv2d_12's stride makes them 7x7.
    assert rows["roi_heads.box_head.Conv2d_12_depthwise.conv"].input_size == (512, 14, 14)
    assert rows["roi_heads.box_head.Conv2d_12_depthwise.conv"].output_size == (512, 7, 7)
    assert rows["roi_heads.box_predictor.cls_score"].filter_shape == (91, 1024)
    head = sum(row.mult_adds for name, row in rows.items() if name.startswith("roi_heads."))
    assert box_head_mult_adds(cost) == head > 0
    assert all_proposals_mult_adds(cost) == cost.mult_adds + 299 * head
    assert abs(all_proposals_mult_adds(cost) / 25.2e9 - 1) < 0.10


def test_table_13_cells_agree() -> None:
    cells = table13_cells()
    assert [(cell.row, cell.column) for cell in cells if not cell.ok] == []
    assert len(cells) == 6 and {cell.table for cell in cells} == {"13"}


def test_backbone_starts_from_a_classification_state() -> None:
    classifier = MobileNetV1(alpha=0.25, num_classes=10, activation="relu6", min_depth=16)
    detector = ssd300_mobilenet_v1(
        alpha=0.25, num_classes=3, backbone_state=classifier.state_dict()
    )
    body = detector.backbone.body.state_dict()
    assert all(
        torch.equal(body[key], value)
        for key, value in classifier.state_dict().items()
        if not key.startswith("classifier")
    )
    with pytest.raises(ValueError, match="alpha 0.5"):
        ssd300_mobilenet_v1(alpha=0.5, backbone_state=classifier.state_dict())
