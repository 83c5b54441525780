"""Datasets and transforms."""

from .fashion_mnist import FASHION_MNIST_CLASSES, fashion_mnist
from .preprocess import transform_from_config

__all__ = ["FASHION_MNIST_CLASSES", "fashion_mnist", "transform_from_config"]
