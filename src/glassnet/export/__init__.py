"""The doors out of glassnet for whole models: ONNX for serving (:func:`to_onnx`) and
PyTorch modules in (:func:`from_torch`). The network-level conversions are in
:mod:`glassnet.interop`; this package (level 9, above the estimators) adds what knows
about ``Sequential`` and the scikit-learn estimators."""

from .onnx import to_onnx
from .torch import from_torch

__all__ = ["from_torch", "to_onnx"]
