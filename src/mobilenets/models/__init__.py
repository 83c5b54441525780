"""Architecture only: this package imports nothing else of mobilenets at import time (a registry
lookup imports the application packages that register models; see registry.py)."""
from .layers import ConvBnAct, TFSamePad2d, conv_bn_act, depthwise_separable, flattened_conv_bn_act
from .hub import keras_weights_url
from .mobilenet_v1 import MobileNetConfig, MobileNetV1, mobilenet_v1
from .pretrained import load_keras_weights, load_pretrained, load_tf_slim_weights, model_from_weights, read_weights
from .registry import RESOLUTIONS, WIDTHS, create_model, list_models, model_defaults, model_name, register_model
from .spec import MOBILENET_V1_BODY, VARIANTS, body_spec, scaled_depth

__all__ = [
    "ConvBnAct", "MOBILENET_V1_BODY", "MobileNetConfig", "MobileNetV1", "RESOLUTIONS", "TFSamePad2d", "VARIANTS", "WIDTHS",
    "body_spec", "conv_bn_act", "create_model", "depthwise_separable", "flattened_conv_bn_act",
    "list_models", "mobilenet_v1", "model_defaults", "model_name", "register_model", "scaled_depth",
    "keras_weights_url", "load_keras_weights", "load_pretrained", "load_tf_slim_weights", "model_from_weights",
    "read_weights",
]
