"""The paper's face applications by distillation: multi-label attributes (Table 12) and
FaceNet-style 128-d embeddings (Table 14), with their metrics (mean AP; verification at a false
accept rate of 1e-4) and a Fashion-MNIST stand-in for the face data. Importing this package
registers ``mobilenet_v1_embedding`` in the model registry (which imports it on a lookup)."""

from dataclasses import fields

from ..models import MobileNetConfig, register_builder, register_model
from .embedding_head import EMBEDDING_DIM, MobileNetEmbedding
from .metrics import average_precision, mean_average_precision, pair_distances, verification_rates
from .task import AttributeTask, EmbeddingTask

EMBEDDING_MODEL = "mobilenet_v1_embedding"
register_model(EMBEDDING_MODEL, MobileNetEmbedding, alpha=1.0, resolution=160)
register_builder(
    MobileNetEmbedding, ["embedding_dim", *(field.name for field in fields(MobileNetConfig))]
)

__all__ = [
    "AttributeTask",
    "EMBEDDING_DIM",
    "EMBEDDING_MODEL",
    "EmbeddingTask",
    "MobileNetEmbedding",
    "average_precision",
    "mean_average_precision",
    "pair_distances",
    "verification_rates",
]
