"""Backends: the array library a network computes with, its fused loops, host transfer
and random numbers; the dtype policy and the argument checks every level uses.

A network holds one :class:`Backend` (``get_backend("numpy")`` today; a CuPy one can be
added here without touching the layers): its ``xp`` is the array namespace, its
``kernels`` the fused loops (``_kernels.c`` for NumPy, with the readable formula of each in
``reference.py``). This package is the only place that decides which implementations run.
"""

from __future__ import annotations

import numpy as np

try:
    from . import _kernels as kernels  # noqa: F401  (re-exported for the other modules)
except ImportError as exc:  # a source tree put on sys.path without being built
    raise ImportError(
        "glassnet's compiled kernels (glassnet.backend._kernels) are not built: run "
        "`python -m pip install -e .` in the source tree (it needs a C compiler)."
    ) from exc

from .checks import (  # noqa: F401  (re-exported)
    all_finite,
    check_features,
    check_fraction,
    check_positive,
    check_random_state,
    format_bytes,
    physical_memory,
    resolve_name,
)

xp = np


class Backend:
    """An array library for a network: ``xp`` (the namespace), ``kernels`` (the fused loops:
    optimizer rules, ReLU), host transfer and the random generator."""

    def __init__(self, name, xp, kernels):
        self.name, self.xp, self.kernels = name, xp, kernels

    def asarray(self, a, dtype=None):
        """``a`` (host data) as an array of this backend."""
        return self.xp.asarray(a, dtype=dtype)

    def to_host(self, a):
        """``a`` as a NumPy array (a no-op for NumPy)."""
        return np.asarray(a)

    def rng(self, random_state):
        """The generator for ``random_state`` (None, an int, a Generator or a RandomState)."""
        return check_random_state(random_state)

    def __repr__(self):
        return f"Backend({self.name!r})"

    def __reduce__(self):  # pickled by name: the module objects it holds are not data
        return get_backend, (self.name,)


_BACKENDS = {"numpy": Backend("numpy", np, kernels)}
#: Which backend owns an array, by its type (a CuPy backend adds cupy.ndarray).
_BY_ARRAY_TYPE = {np.ndarray: _BACKENDS["numpy"]}


def backend_of(a) -> Backend:
    """The backend whose arrays ``a`` is one of (NumPy for anything else: lists, numbers)."""
    return _BY_ARRAY_TYPE.get(type(a), _BACKENDS["numpy"])


def namespace(a):
    """The array namespace to compute on ``a`` with: ``backend_of(a).xp``."""
    return _BY_ARRAY_TYPE.get(type(a), _BACKENDS["numpy"]).xp


def get_backend(name="numpy") -> Backend:
    """The backend called ``name`` (``"numpy"``), or one given as a Backend."""
    if isinstance(name, Backend):
        return name
    return resolve_name("backend", name, _BACKENDS)

#: The floating dtypes a network may compute in.
FLOAT_DTYPES = ("float32", "float64")


def resolve_dtype(dtype) -> np.dtype:
    """Return ``dtype`` as a NumPy float dtype, or raise a ValueError naming the choices."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be one of {FLOAT_DTYPES}, got {dtype!r}.")
    return resolved


