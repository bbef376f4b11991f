"""Backends: the array library a network computes with, its fused loops, host transfer
and random numbers; the dtype policy and the argument checks every level uses.

A network holds one :class:`Backend` (``get_backend("numpy")`` today; a CuPy one can be
added here without touching the layers): its ``xp`` is the array namespace, its
``kernels`` the fused loops (``_kernels.c`` for NumPy, with the readable formula of each in
``reference.py``). This package is the only place that decides which implementations run.
"""

from __future__ import annotations

import numbers

import numpy as np

try:
    from . import _kernels as kernels  # noqa: F401  (re-exported for the other modules)
except ImportError as exc:  # a source tree put on sys.path without being built
    raise ImportError(
        "glassnet's compiled kernels (glassnet._kernels) are not built: run "
        "`python -m pip install -e .` in the source tree (it needs a C compiler)."
    ) from exc

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


def check_random_state(random_state) -> np.random.Generator:
    """Turn ``None``, an int or a Generator into a ``numpy.random.Generator``."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, numbers.Integral):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.RandomState):
        # scikit-learn users pass RandomState objects; draw a seed from it.
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(
        f"random_state must be None, an int or a numpy Generator, got {random_state!r}."
    )


def check_positive(name: str, value, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, or raise a ValueError if it is not a positive number."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}.")
    return float(value)


def check_fraction(name: str, value, *, low_open=True, high_open=True) -> float:
    """Return ``value`` as a float in the interval (0, 1), bounds as asked."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(value)
    if ok:
        ok = (0 < value if low_open else 0 <= value) and (value < 1 if high_open else value <= 1)
    if not ok:
        interval = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}.")
    return float(value)


def resolve_name(kind: str, name, registry: dict):
    """Look ``name`` up in ``registry`` (case-insensitive); unknown names list the choices."""
    if isinstance(name, str):
        key = name.lower()
        if key in registry:
            return registry[key]
    choices = ", ".join(repr(k) for k in sorted(registry))
    raise ValueError(f"Unknown {kind} {name!r}. Valid {kind} names are: {choices}.")


def all_finite(a) -> bool:
    """True if every value of ``a`` is finite, without a temporary the size of ``a``.

    Small arrays (a few samples to predict) are tested element-wise at once. For large
    ones a sum of squares is computed first: it is finite unless it overflows (no
    cancellation: the terms are >= 0), and NaN or infinity makes it non-finite. It is
    one multi-threaded BLAS dot product for a contiguous array, a float64 sum otherwise;
    the element-wise test, in slices, runs only if that is not finite.
    """
    if a.dtype.kind not in "fc":
        return True
    if a.size <= 2**16:
        return bool(np.isfinite(a).all())
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow only means "look closer"
        if a.flags.c_contiguous and a.dtype.kind == "f":
            flat = a.reshape(-1)
            quick = np.dot(flat, flat)
        else:
            quick = np.sum(a, dtype=np.float64 if a.dtype.kind == "f" else np.complex128)
    if np.isfinite(quick):
        return True
    rows = a.reshape(len(a), -1) if a.ndim else a.reshape(1, 1)
    step = max(1, 2**20 // max(rows.shape[1], 1))
    return all(np.isfinite(rows[i : i + step]).all() for i in range(0, len(rows), step))
