"""SSD and Faster R-CNN on a MobileNet v1 backbone (Table 13), COCO-format data, COCO
evaluation and ONNX export. Importing this package registers the detectors' names in the
model registry (``create_model("ssd300_mobilenet_v1")``); the registry imports it on a lookup,
so the names work whatever was imported first and ``mobilenets.models`` loads without it."""
from ..models import register_model
from .base import MobileNetDetector
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

__all__ = [
    "DETECTORS", "MobileNetDetector", "MobileNetFasterRCNN", "MobileNetSSD", "frcnn_mobilenet_v1",
    "ssd300_mobilenet_v1", "ssdlite300_mobilenet_v1",
]
