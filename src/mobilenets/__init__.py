"""MobileNets (Howard et al., 2017) on PyTorch: the model family, cost accounting and more.

This package is where the floors meet: importing it imports the packages that register model
names and checkpoint builders (``weights``: released widths; ``detection``: SSD and Faster
R-CNN; ``embedding``: the embedding network; ``deploy.qat``: quantization-aware models), so
``create_model`` and ``list_models`` see every name in any interpreter, while ``models`` knows
none of them."""

from . import deploy, detection, embedding, weights  # noqa: F401  (they register their names)
from .cost import Cost, LayerCost, count_cost
from .data.preprocess import transform_from_config
from .models import VARIANTS, MobileNetV1, list_models, mobilenet_v1, model_name
from .weights import (
    Release,
    WeightsChoice,
    create_model,
    from_pretrained,
    get_release,
    list_releases,
    load_keras_weights,
    load_pretrained,
    load_tf_slim_weights,
    model_from_weights,
    push_to_hub,
    save_pretrained,
)

__version__ = "0.1.0"

__all__ = [
    "VARIANTS",
    "Cost",
    "LayerCost",
    "MobileNetV1",
    "Release",
    "WeightsChoice",
    "count_cost",
    "create_model",
    "from_pretrained",
    "get_release",
    "list_models",
    "list_releases",
    "load_keras_weights",
    "load_pretrained",
    "load_tf_slim_weights",
    "mobilenet_v1",
    "model_from_weights",
    "model_name",
    "push_to_hub",
    "save_pretrained",
    "transform_from_config",
]
