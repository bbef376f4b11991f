"""The array namespace, the fused kernels, the dtype policy and the random-number helpers.

Every other module does its math through ``xp`` (NumPy today, CuPy on a GPU
later) and ``kernels`` (the compiled loops of ``_kernels.c``: optimizer update
rules, ReLU); this is the only module that decides which implementations run.
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
