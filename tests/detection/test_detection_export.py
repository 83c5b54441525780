from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn

from mobilenets.detection import frcnn_mobilenet_v1, ssd300_mobilenet_v1
from mobilenets.detection.export import DecodedSSD, export_onnx, select_detections


def distinct_scores_ssd(resolution: int = 160) -> nn.Module:
    """A small SSD with batch-norm statistics measured on images, and a head whose scores differ
    from box to box: a fresh network's saturated features give many equal scores, which NMS may
    order either way."""
    model = ssd300_mobilenet_v1(
        alpha=0.25, num_classes=4, resolution=resolution, score_thresh=0.2
    ).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
                module.momentum = None
        model.train().backbone(torch.rand(8, 3, resolution, resolution))
        model.eval()
        for parameter in model.head.parameters():
            parameter.normal_(0.0, 0.05)
    return model


def assert_same_detections(
    found: dict, expected: dict, *, box_tolerance: float, score_tolerance: float
) -> None:
    """Each expected detection has its own found one with the same label, and box and score within
    the tolerances. Not position by position: two scores closer than the tolerance are a tie
    that either runtime may order its way (seen: 0.7097120 against 0.7097098 on one thread)."""
    assert len(found["labels"]) == len(expected["labels"])
    matches = (
        (found["labels"][:, None] == expected["labels"][None])
        & ((found["boxes"][:, None] - expected["boxes"][None]).abs().amax(-1) <= box_tolerance)
        & ((found["scores"][:, None] - expected["scores"][None]).abs() <= score_tolerance)
    )
    unused = torch.ones(len(matches), dtype=torch.bool)
    for column in range(matches.shape[1]):
        candidates = (matches[:, column] & unused).nonzero()
        assert len(candidates), (
            f"no match for detection {column}: {expected['labels'][column]} {expected['boxes'][column].tolist()}"
        )
        unused[candidates[0, 0]] = False


# Box differences between runtimes, relative to the largest coordinate; scores are
# probabilities, their 1e-4 is already relative to 1.
BOX_RELATIVE_TOLERANCE = 1e-4


@pytest.mark.numerics
def test_onnx_runtime_gives_the_same_boxes_as_pytorch(tmp_path: Path) -> None:
    model = distinct_scores_ssd()
    path = export_onnx(model, tmp_path / "ssd.onnx")
    # another batch size than the export's example
    images = torch.rand(3, 3, 160, 160, generator=torch.Generator().manual_seed(0))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    boxes, scores = session.run(["boxes", "scores"], {"images": images.numpy()})
    with torch.no_grad():
        torch_boxes, torch_scores = DecodedSSD(model)(images)
        reference = model(list(images))
    assert boxes.shape == (3, len(DecodedSSD(model).anchors), 4) and scores.shape[-1] == 4
    # Coordinates reach ~150 px: 1e-4 of the largest (AMX kernels differed by 7.9e-6 of it).
    box_tolerance = BOX_RELATIVE_TOLERANCE * float(np.abs(torch_boxes.numpy()).max())
    np.testing.assert_allclose(boxes, torch_boxes.numpy(), rtol=0, atol=box_tolerance)
    np.testing.assert_allclose(scores, torch_scores.numpy(), atol=1e-4)
    # After the detector's own selection, the runtime's boxes are the model's detections.
    selected = select_detections(model, torch.from_numpy(boxes), torch.from_numpy(scores))
    assert sum(len(found["boxes"]) for found in reference) > 0
    for found, expected in zip(selected, reference):
        assert_same_detections(found, expected, box_tolerance=box_tolerance, score_tolerance=1e-4)
    with pytest.raises(FileExistsError):
        export_onnx(model, path)


def test_only_ssd_exports() -> None:
    with pytest.raises(ValueError, match="only SSD detectors export"):
        export_onnx(frcnn_mobilenet_v1(alpha=0.25, num_classes=3), "unused.onnx")
