"""Table 13's MobileNet rows (SSD 300, Faster R-CNN 300 and 600) against what cost.py measures,
for ``mobilenets paper``.

Faster R-CNN's mult-adds depend on how many proposals reach the box head. ``count_cost``
counts one image, and a layer's batch as one item, so the box head (Conv2d_12 and 13 on a
14x14 crop, and the predictors) is counted once. The paper's TF implementation always runs the
box head on all 300 proposals; its figure is therefore ours plus 299 more box-head passes.
"""

from __future__ import annotations

from ..cost import Cost, count_cost
from ..paper import Cell
from ..weights import create_model
from .faster_rcnn import PROPOSALS

TOLERANCE = 0.10
# (name, row label, paper's B mult-adds, paper's M params), 90 classes + background.
TABLE13_MOBILENET = (
    ("ssd300_mobilenet_v1", "SSD 300 MobileNet", "1.2", "6.8"),
    ("frcnn300_mobilenet_v1", "Faster-RCNN 300 MobileNet", "25.2", "6.1"),
    ("frcnn600_mobilenet_v1", "Faster-RCNN 600 MobileNet", "30.5", "6.1"),
)


def box_head_mult_adds(cost: Cost) -> int:
    """The mult-adds of one pass of the Faster R-CNN box head (one proposal)."""
    return sum(row.mult_adds for row in cost.layers if row.name.startswith("roi_heads."))


def all_proposals_mult_adds(cost: Cost, proposals: int = PROPOSALS) -> int:
    """The paper's count: the box head on every one of ``proposals`` proposals."""
    return cost.mult_adds + (proposals - 1) * box_head_mult_adds(cost)


def table13_cells() -> list[Cell]:
    """Mult-adds and parameters of the three MobileNet detectors, within 10% of the paper."""
    cells: list[Cell] = []
    for name, row, paper_mult_adds, paper_params in TABLE13_MOBILENET:
        # One proposal is enough to count Faster R-CNN's box head once (and much faster).
        options = {"rpn_post_nms_top_n_test": 1} if name.startswith("frcnn") else {}
        model = create_model(name, num_classes=91, **options)
        cost = count_cost(model, example=model.example_input())
        if name.startswith("frcnn"):
            head = box_head_mult_adds(cost)
            measured = all_proposals_mult_adds(cost)
            note = (
                f"backbone to Conv2d_11 + RPN + one box-head pass = {cost.mult_adds / 1e9:.2f}B; the paper "
                f"runs the box head ({head / 1e6:.1f}M) on all {PROPOSALS} proposals: + "
                f"{PROPOSALS - 1} x {head / 1e6:.1f}M"
            )
        else:
            measured = cost.mult_adds
            note = "Conv2d_11/13 maps + 4 extra layers, 1x1 predictors, 1917 default boxes"
        cells.append(
            Cell(
                "13",
                row,
                "B mult-adds",
                paper_mult_adds,
                measured / 1e9,
                tolerance=TOLERANCE,
                note=note,
            )
        )
        cells.append(
            Cell(
                "13",
                row,
                "M params",
                paper_params,
                cost.params / 1e6,
                tolerance=TOLERANCE,
                note="all parameters, batch norm and 91-class predictors included",
            )
        )
    return cells
