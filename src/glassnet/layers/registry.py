"""Layer names for files and configs: ``layer_from_config`` rebuilds a layer from its
``get_config()``; only the classes listed here can be named.
"""

from __future__ import annotations

from ..backend import resolve_name
from .base import Layer
from .conv import Conv1D, Conv2D
from .core import Activation, Dense, Dropout, Flatten
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

#: Config class names (lower case) -> classes; the activation layers save as "Activation".
LAYERS = {cls.__name__.lower(): cls for cls in (
    Dense, Activation, Dropout, Flatten, Conv1D, Conv2D, MaxPooling1D, MaxPooling2D,
    AveragePooling1D, AveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
    GlobalAveragePooling1D, GlobalAveragePooling2D, BatchNormalization)}


def layer_from_config(config: dict) -> Layer:
    """Rebuild a layer from ``get_config()`` output; unknown classes are refused."""
    if not isinstance(config, dict):
        raise ValueError(f"A layer config must be a dict, got {type(config).__name__}.")
    cls = resolve_name("layer class", str(config.get("class_name", "")).lower(), LAYERS)
    return cls.from_config(config)
