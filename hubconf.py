"""torch.hub entry points: ``torch.hub.load("OWNER/mobilenets", "mobilenet_v1_050_160", pretrained=True)``
(or ``source="local"`` with a checkout). Every registered name is an entry point taking
``create_model``'s arguments: ``pretrained`` (a weights file, URL, release name, or True for the
most accurate release of the name: ``mobilenets list --weights``) and any MobileNetV1 argument."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "src"))

from mobilenets import create_model, list_models  # noqa: E402

dependencies = ["torch", "torchvision"]


def _entry(name: str):
    def entry(pretrained=None, **kwargs):
        return create_model(name, pretrained=pretrained or None, **kwargs)

    entry.__name__ = name
    entry.__doc__ = f"{name} (see mobilenets.create_model)."
    return entry


for _name in list_models():
    globals()[_name] = _entry(_name)
