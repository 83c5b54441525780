"""MobileNets (Howard et al., 2017) on PyTorch: the model family, cost accounting and more."""
from .cost import Cost, LayerCost, count_cost
from .models import (
    VARIANTS,
    MobileNetV1,
    create_model,
    list_models,
    mobilenet_v1,
)

__version__ = "0.1.0"

__all__ = [
    "Cost", "LayerCost", "MobileNetV1", "VARIANTS", "count_cost", "create_model",
    "list_models", "mobilenet_v1",
]
