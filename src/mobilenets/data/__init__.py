"""Datasets and transforms."""
from .fashion_mnist import FASHION_MNIST_CLASSES, fashion_mnist

__all__ = ["FASHION_MNIST_CLASSES", "fashion_mnist"]
