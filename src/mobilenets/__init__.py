"""MobileNets (Howard et al., 2017) on PyTorch: the model family, cost accounting and more."""
from .cost import Cost, LayerCost, count_cost
from .models import (
    VARIANTS,
    MobileNetV1,
    Release,
    WeightsChoice,
    create_model,
    from_pretrained,
    get_release,
    list_models,
    list_releases,
    load_keras_weights,
    load_pretrained,
    load_tf_slim_weights,
    mobilenet_v1,
    model_from_weights,
    model_name,
    push_to_hub,
    save_pretrained,
)
from .data.preprocess import transform_from_config

__version__ = "0.1.0"

__all__ = [
    "Cost", "LayerCost", "MobileNetV1", "VARIANTS", "count_cost", "create_model",
    "list_models", "mobilenet_v1",
    "load_keras_weights", "load_pretrained", "load_tf_slim_weights", "model_from_weights", "transform_from_config",
    "Release", "WeightsChoice", "from_pretrained", "get_release", "list_releases", "model_name", "push_to_hub",
    "save_pretrained",
]
