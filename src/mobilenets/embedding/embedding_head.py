"""The student of Table 14: MobileNet v1 whose head is a linear layer to a 128-d embedding,
L2-normalised as FaceNet's (so squared distances lie in [0, 4])."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..models import MobileNetV1

EMBEDDING_DIM = 128


class MobileNetEmbedding(MobileNetV1):
    """``MobileNetV1`` with ``classifier`` = Linear(features -> ``embedding_dim``) and unit-norm
    outputs. Takes MobileNetV1's arguments except ``num_classes``; ``config`` records
    ``embedding_dim`` so checkpoints rebuild it."""

    def __init__(self, embedding_dim: int = EMBEDDING_DIM, **kwargs: Any) -> None:
        if (
            not isinstance(embedding_dim, int)
            or isinstance(embedding_dim, bool)
            or embedding_dim < 1
        ):
            raise ValueError(f"embedding_dim must be a whole number >= 1; got {embedding_dim!r}")
        # A rebuilt config carries the head's size as num_classes too.
        if kwargs.pop("num_classes", embedding_dim) != embedding_dim:
            raise ValueError("an embedding model has no classes: give embedding_dim only")
        super().__init__(num_classes=embedding_dim, **kwargs)
        self.config["embedding_dim"] = embedding_dim

    @property
    def embedding_dim(self) -> int:
        return self.config["embedding_dim"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # An untrained body in eval mode gives outputs near 1e-16: a small eps still normalises them.
        return F.normalize(super().forward(x), dim=1, eps=1e-30)
