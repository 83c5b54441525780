"""SSD and Faster R-CNN on a MobileNet v1 backbone (Table 13), COCO-format data, COCO
evaluation and ONNX export. Importing this package registers the detectors' names in the
model registry (``create_model("ssd300_mobilenet_v1")``); the registry imports it on a lookup,
so the names work whatever was imported first and ``mobilenets.models`` loads without it."""

from torchvision.models.detection.faster_rcnn import FasterRCNN
from torchvision.models.detection.ssd import SSD

from ..models import register_builder, register_model
from .base import MobileNetDetector, detector_arguments
from .faster_rcnn import MobileNetFasterRCNN, frcnn_mobilenet_v1
from .ssd import MobileNetSSD, ssd300_mobilenet_v1, ssdlite300_mobilenet_v1

DETECTORS = {
    "ssd300_mobilenet_v1": (ssd300_mobilenet_v1, {"resolution": 300}),
    "ssdlite300_mobilenet_v1": (ssdlite300_mobilenet_v1, {"resolution": 300}),
    "frcnn300_mobilenet_v1": (frcnn_mobilenet_v1, {"resolution": 300}),
    "frcnn600_mobilenet_v1": (frcnn_mobilenet_v1, {"resolution": 600}),
}
for _name, (_constructor, _defaults) in DETECTORS.items():
    register_model(_name, _constructor, num_classes=91, **_defaults)
# What a detector checkpoint records is the class and its ``config``; the torchvision arguments
# each class sets itself (and modules, which a checkpoint cannot hold) are not the checkpoint's to give.
register_builder(
    MobileNetSSD,
    detector_arguments(
        MobileNetSSD,
        SSD,
        ("backbone", "anchor_generator", "size", "num_classes", "image_mean", "image_std", "head"),
    ),
)
register_builder(
    MobileNetFasterRCNN,
    detector_arguments(
        MobileNetFasterRCNN,
        FasterRCNN,
        (
            "backbone",
            "num_classes",
            "image_mean",
            "image_std",
            "rpn_anchor_generator",
            "rpn_head",
            "box_roi_pool",
            "box_head",
            "box_predictor",
        ),
    ),
)

__all__ = [
    "DETECTORS",
    "MobileNetDetector",
    "MobileNetFasterRCNN",
    "MobileNetSSD",
    "frcnn_mobilenet_v1",
    "ssd300_mobilenet_v1",
    "ssdlite300_mobilenet_v1",
]
