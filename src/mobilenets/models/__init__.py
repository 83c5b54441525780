"""Architecture and the weights released for it: this package imports nothing else of mobilenets
at import time but the leaf modules files.py (atomic writes, the cache), extras.py (optional
packages) and pt_files.py (reading .pt files as data); a registry lookup imports the application
packages that register models (registry.py)."""
from .layers import ConvBnAct, TFSamePad2d, conv_bn_act, depthwise_separable, flattened_conv_bn_act
from .mobilenet_v1 import ALPHA, IN_CHANNELS, NUM_CLASSES, RESOLUTION, MobileNetConfig, MobileNetV1, mobilenet_v1
from .hf import push_to_hub
from .pretrained import (
    WeightsChoice, from_pretrained, load_keras_weights, load_pretrained, load_tf_slim_weights, model_from_weights,
    read_weights, save_pretrained,
)
from .releases import Release, get_release, keras_weights_url, list_releases
from .registry import (
    RESOLUTIONS, WIDTHS, builder_name, create_model, list_models, model_defaults, model_name, parameter_names, rebuild,
    register_builder, register_model,
)
from .spec import MOBILENET_V1_BODY, VARIANTS, body_spec, scaled_depth

__all__ = [
    "ALPHA", "ConvBnAct", "IN_CHANNELS", "MOBILENET_V1_BODY", "NUM_CLASSES", "RESOLUTION", "MobileNetConfig", "MobileNetV1",
    "RESOLUTIONS", "TFSamePad2d", "VARIANTS", "WIDTHS",
    "body_spec", "builder_name", "conv_bn_act", "create_model", "depthwise_separable", "flattened_conv_bn_act",
    "list_models", "mobilenet_v1", "model_defaults", "model_name", "parameter_names", "rebuild", "register_builder",
    "register_model", "scaled_depth",
    "keras_weights_url", "load_keras_weights", "load_pretrained", "load_tf_slim_weights", "model_from_weights",
    "read_weights", "Release", "WeightsChoice", "from_pretrained", "get_release", "list_releases", "push_to_hub",
    "save_pretrained",
]
