"""The SSD detector body with its box decoding on the phone: ExecuTorch and LiteRT files run in
their runtimes give PyTorch's decoded boxes and scores, and after the detector's own selection
(NMS outside the file) its detections."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_detection_export import assert_same_detections, distinct_scores_ssd

from mobilenets.deploy.mobile import export_mobile, mobile_runner
from mobilenets.detection.export import decoded_ssd, select_detections

# Boxes in pixels of a 160-px image, scores in [0, 1]: XNNPACK's float sums differ from
# oneDNN's in the last bits (measured 6e-4 px and 1e-5).
BOX_TOLERANCE_PX, SCORE_TOLERANCE = 1e-2, 1e-4


# ExecuTorch's lowering of the decoding takes a minute or more on a busy 2-core machine: slow.
@pytest.mark.numerics
@pytest.mark.parametrize("format", [pytest.param("executorch", marks=pytest.mark.slow), "tflite"])
def test_phone_file_gives_the_detectors_boxes(format, tmp_path) -> None:
    model = distinct_scores_ssd()
    images = torch.rand(2, 3, 160, 160, generator=torch.Generator().manual_seed(0))
    path = export_mobile(decoded_ssd(model), tmp_path / f"ssd.{format}", format, example=images)
    with mobile_runner(path, format) as run:
        boxes, scores = run(images)
    with torch.no_grad():
        torch_boxes, torch_scores = decoded_ssd(model)(images)
        reference = model(list(images))
    assert boxes.shape == tuple(torch_boxes.shape) and scores.shape == tuple(torch_scores.shape)
    np.testing.assert_allclose(boxes, torch_boxes.numpy(), atol=BOX_TOLERANCE_PX, rtol=0)
    np.testing.assert_allclose(scores, torch_scores.numpy(), atol=SCORE_TOLERANCE, rtol=0)
    selected = select_detections(model, torch.from_numpy(boxes), torch.from_numpy(scores))
    assert sum(len(found["boxes"]) for found in reference) > 0
    for found, expected in zip(selected, reference):
        assert_same_detections(
            found, expected, box_tolerance=BOX_TOLERANCE_PX, score_tolerance=SCORE_TOLERANCE
        )
