"""The architecture: Table 1 as data, the layers, the network, feature backbones and the name
registry. Imports nothing else of mobilenets but the leaf ``ranges`` (argument checks); weights
live in ``mobilenets.weights``, the tasks register their own names."""

from .features import FeatureMobileNet
from .layers import ConvBnAct, TFSamePad2d, conv_bn_act, depthwise_separable, flattened_conv_bn_act
from .mobilenet_v1 import (
    ALPHA,
    CHANNELS,
    IN_CHANNELS,
    NUM_CLASSES,
    RESOLUTION,
    MobileNetConfig,
    MobileNetV1,
    mobilenet_v1,
)
from .registry import (
    RESOLUTIONS,
    WIDTHS,
    builder_name,
    create_model,
    list_models,
    model_defaults,
    model_name,
    parameter_names,
    rebuild,
    register_builder,
    register_model,
    registered,
)
from .spec import MOBILENET_V1_BODY, VARIANTS, body_spec, scaled_depth

__all__ = [
    "ALPHA",
    "CHANNELS",
    "IN_CHANNELS",
    "MOBILENET_V1_BODY",
    "NUM_CLASSES",
    "RESOLUTION",
    "RESOLUTIONS",
    "VARIANTS",
    "WIDTHS",
    "ConvBnAct",
    "FeatureMobileNet",
    "MobileNetConfig",
    "MobileNetV1",
    "TFSamePad2d",
    "body_spec",
    "builder_name",
    "conv_bn_act",
    "create_model",
    "depthwise_separable",
    "flattened_conv_bn_act",
    "list_models",
    "mobilenet_v1",
    "model_defaults",
    "model_name",
    "parameter_names",
    "rebuild",
    "register_builder",
    "register_model",
    "registered",
    "scaled_depth",
]
