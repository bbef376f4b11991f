"""Layers (Keras's names): ``Dense``, the activation layers, ``Flatten``, ``Dropout``,
convolutions, pooling and ``BatchNormalization``."""

from .base import Layer, ParamSpec, StateSpec
from .conv import Conv1D, Conv2D
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
from .normalization import BatchNormalization
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from .registry import LAYERS, layer_from_config

__all__ = [
    "LAYERS", "Activation", "AveragePooling1D", "AveragePooling2D", "BatchNormalization",
    "Conv1D", "Conv2D", "Dense", "Dropout", "Flatten", "GlobalAveragePooling1D",
    "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Identity", "Layer",
    "LeakyReLU", "MaxPooling1D", "MaxPooling2D", "ParamSpec", "ReLU", "Sigmoid", "Softmax",
    "StateSpec", "Tanh", "layer_from_config",
]
