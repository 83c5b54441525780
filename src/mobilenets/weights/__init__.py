"""Weights in every form they exist: Google's Keras h5 files and TF-slim checkpoints, timm's
checkpoints, safetensors, pretrained folders and the Hugging Face Hub, and the release records.
One surface: ``create_model(name, pretrained=...)``, ``model_from_weights(source)``,
``save_pretrained`` / ``from_pretrained``, ``read_weights`` (what ``convert`` writes).

Importing this package registers the model names only released weights have
(``mobilenet_v1_125_224``, ``mobilenet_v1_100h_224``)."""

from ..models import MobileNetV1, register_model
from ..models.registry import list_models
from .hf import push_to_hub
from .pretrained import (
    WeightsChoice,
    create_model,
    from_pretrained,
    load_keras_weights,
    load_pretrained,
    load_tf_slim_weights,
    model_from_weights,
    read_weights,
    save_checkpoint,
    save_pretrained,
)
from .releases import RELEASES, Release, get_release, keras_weights_url, list_releases

for _release in RELEASES:
    if _release.model not in list_models():
        register_model(_release.model, MobileNetV1, **_release.model_args)

__all__ = [
    "Release",
    "WeightsChoice",
    "create_model",
    "from_pretrained",
    "get_release",
    "keras_weights_url",
    "list_releases",
    "load_keras_weights",
    "load_pretrained",
    "load_tf_slim_weights",
    "model_from_weights",
    "push_to_hub",
    "read_weights",
    "save_checkpoint",
    "save_pretrained",
]
