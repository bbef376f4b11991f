"""Layers (Keras's names): ``Dense``, the activation layers, ``Flatten``, ``Dropout``."""

from .base import Layer
from .core import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .registry import LAYERS, layer_from_config

__all__ = [
    "LAYERS", "Activation", "Dense", "Dropout", "Flatten", "Identity", "Layer", "LeakyReLU",
    "ReLU", "Sigmoid", "Softmax", "Tanh", "layer_from_config",
]
