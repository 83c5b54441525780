"""SSD to ONNX with the box decoding inside the graph: the exported network maps a batch of
images in [0, 1] at the detector's size to decoded boxes (pixels, clipped to the image) and
class scores for every default box. Non-maximum suppression stays outside the graph (runtimes
differ in NMS support); ``select_detections`` applies the detector's own selection (score
threshold, top-k per class, batched NMS) to those outputs, from PyTorch or any runtime.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.ssd import SSD
from torchvision.ops import clip_boxes_to_image

from ..files import atomic_output

OPSET = 18


class DecodedSSD(nn.Module):
    """An SSD's normalisation, backbone, head and box decoding against its fixed default boxes."""

    def __init__(self, model: SSD) -> None:
        super().__init__()
        self.model = model.eval()
        height, width = model.transform.fixed_size
        self.size = (height, width)
        self.register_buffer("mean", torch.tensor(model.transform.image_mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(model.transform.image_std).view(1, -1, 1, 1))
        probe = torch.zeros(1, 3, height, width)
        with torch.no_grad():
            features = list(model.backbone(probe).values())
        self.register_buffer(
            "anchors", model.anchor_generator(ImageList(probe, [self.size]), features)[0]
        )

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 3, H, W) images in [0, 1] -> boxes (N, A, 4) xyxy pixels and scores (N, A, classes)."""
        features = list(self.model.backbone((images - self.mean) / self.std).values())
        head = self.model.head(features)
        regression = head["bbox_regression"]
        batch, count = regression.shape[:2]
        boxes = self.model.box_coder.decode_single(
            regression.reshape(-1, 4), self.anchors.repeat(batch, 1)
        ).reshape(batch, count, 4)
        return clip_boxes_to_image(boxes, self.size), F.softmax(head["cls_logits"], dim=-1)


def select_detections(
    model: SSD, boxes: torch.Tensor, scores: torch.Tensor
) -> list[dict[str, torch.Tensor]]:
    """The detector's own post-processing on decoded outputs: with zero regression against the
    decoded boxes and the scores' logarithms as logits, SSD.postprocess_detections selects
    exactly what the model itself would."""
    size = tuple(model.transform.fixed_size)
    head = {"bbox_regression": torch.zeros_like(boxes), "cls_logits": scores.clamp_min(1e-30).log()}
    return model.postprocess_detections(head, list(boxes), [size] * len(boxes))


def decoded_ssd(model: nn.Module) -> DecodedSSD:
    """The exportable form of an SSD (ValueError for other detectors): what ONNX, ExecuTorch and
    LiteRT files hold."""
    if not isinstance(model, SSD):
        raise ValueError(f"only SSD detectors export; got {type(model).__name__}")
    return DecodedSSD(model)


def export_onnx(model: SSD, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Writes ``DecodedSSD(model)`` as ONNX (dynamic batch); refuses to overwrite without force."""
    module = decoded_ssd(model)
    example = torch.rand(1, 3, *module.size)
    with atomic_output(path, force=force) as temporary:
        torch.onnx.export(
            module,
            (example,),
            str(temporary),
            input_names=["images"],
            output_names=["boxes", "scores"],
            dynamic_axes={"images": {0: "batch"}, "boxes": {0: "batch"}, "scores": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    return Path(path)
