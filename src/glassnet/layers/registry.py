"""Layer names for files and configs: ``layer_from_config`` rebuilds a layer from its
``get_config()``; only the classes listed here can be named.
"""

from __future__ import annotations

from ..backend import resolve_name
from .base import Layer
from .core import Activation, Dense, Dropout, Flatten

LAYERS = {
    "dense": Dense,
    "activation": Activation,
    "dropout": Dropout,
    "flatten": Flatten,
}


def layer_from_config(config: dict) -> Layer:
    """Rebuild a layer from ``get_config()`` output; unknown classes are refused."""
    if not isinstance(config, dict):
        raise ValueError(f"A layer config must be a dict, got {type(config).__name__}.")
    cls = resolve_name("layer class", str(config.get("class_name", "")).lower(), LAYERS)
    return cls.from_config(config)
