"""MobileNets (Howard et al., 2017) on PyTorch: the model family, cost accounting and more."""
from .cost import Cost, LayerCost, count_cost
from .models import (
    VARIANTS,
    MobileNetV1,
    create_model,
    list_models,
    load_keras_weights,
    load_pretrained,
    load_tf_slim_weights,
    mobilenet_v1,
    model_from_weights,
)
from .data.preprocess import transform_from_config

__version__ = "0.1.0"

__all__ = [
    "Cost", "LayerCost", "MobileNetV1", "VARIANTS", "count_cost", "create_model",
    "list_models", "mobilenet_v1",
    "load_keras_weights", "load_pretrained", "load_tf_slim_weights", "model_from_weights", "transform_from_config",
]
