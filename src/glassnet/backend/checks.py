"""The checks every level uses: arguments (numbers, fractions, names, random states) and
arrays (finite values, feature arrays), each failing with one line that names what it got."""

from __future__ import annotations

import math
import numbers
import os

import numpy as np


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


def _finite_real(value) -> bool:
    """A real number (not a bool) that is finite as a float (``10**400`` is not)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def shown(value, limit: int = 40) -> str:
    """``repr(value)`` for a message, cut short if long (an int of 400 digits, say)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 12]}... ({len(text)} characters)"


def check_positive(name: str, value, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float, or raise a ValueError if it is not a positive number."""
    ok = _finite_real(value)
    if ok:
        ok = value >= 0 if allow_zero else value > 0
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}, got {shown(value)}.")
    return float(value)


def check_fraction(name: str, value, *, low_open=True, high_open=True) -> float:
    """Return ``value`` as a float in the interval (0, 1), bounds as asked."""
    ok = _finite_real(value)
    if ok:
        ok = (0 < value if low_open else 0 <= value) and (value < 1 if high_open else value <= 1)
    if not ok:
        interval = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise ValueError(f"{name} must be a number in {interval}, got {shown(value)}.")
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


def check_range(A, name, dtype, first_row=0):
    """Refuse a value of ``A`` beyond what ``dtype`` holds: cast to float32, a float64 1e39
    becomes infinity (so training would "diverge" and predictions be NaN). Returns ``A``.
    Rows are named counting from ``first_row`` (``A`` a chunk of a larger array).

    ``A`` is finite (checked before). For a large contiguous array one BLAS sum of squares
    settles it when it is below ``max**2`` (then no ``|a|`` exceeds ``max``); the values are
    searched only when it is not.
    """
    dtype = np.dtype(dtype)
    if A.dtype.kind != "f" or A.dtype.itemsize <= dtype.itemsize or A.size == 0:
        return A
    limit = float(np.finfo(dtype).max)
    with np.errstate(over="ignore"):
        if A.size > 2**16 and A.flags.c_contiguous:
            flat = A.reshape(-1)
            if np.dot(flat, flat) <= limit * limit:
                return A
        if A.max() <= limit and A.min() >= -limit:
            return A
    index = np.unravel_index(int(np.argmax(abs(A.reshape(-1)) > limit)), A.shape)
    value = float(A[index])
    index = (index[0] + first_row, *index[1:])
    if A.ndim == 2:
        where = f"{name}[:, {index[1]}] has {value:g} at row {index[0]}"
    elif A.ndim == 1:
        where = f"{name} has {value:g} at row {index[0]}"
    else:
        where = f"{name}[{', '.join(map(str, index))}] has {value:g}"
    raise ValueError(f"{where}, beyond {dtype.name}'s range ({limit:.2g}); scale the data or "
                     "use dtype='float64'.")


def check_features(X, name="X", input_shape=None, xp=None, dtype=None, first_row=0):
    """Validate a feature array without copying it; return it as an array of ``xp``.

    With ``dtype`` (the network's), values that dtype cannot hold are refused too, naming
    the row counted from ``first_row``.
    """
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise ValueError(
            f"{name} is a sparse matrix; Sequential takes dense arrays: pass {name}.toarray() "
            "(glassnet.MLPClassifier / MLPRegressor accept sparse input directly)."
        )
    xp = np if xp is None else xp
    try:
        X = xp.asarray(X)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of numbers: {exc}") from None
    if X.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must hold numbers (int or float), got dtype {X.dtype}; "
            "convert strings or objects to numbers first."
        )
    if X.ndim < 2:
        hint = (" Reshape it with X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one "
                "sample." if X.ndim == 1 else " Pass one row per sample, e.g. [[value]].")
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got {X.ndim}-D with shape {X.shape}."
            + hint
        )
    if len(X) == 0:
        raise ValueError(f"{name} has 0 samples; at least 1 is needed.")
    if X[0].size == 0:
        raise ValueError(f"{name} has 0 features (shape {X.shape}); at least 1 is needed.")
    if input_shape is not None and X.shape[1:] != tuple(input_shape):
        raise ValueError(
            f"{name} has samples of shape {X.shape[1:]}, but the network was built for "
            f"{tuple(input_shape)}."
        )
    if not all_finite(X):
        raise ValueError(f"{name} contains NaN or infinity; clean or impute it first.")
    return X if dtype is None else check_range(X, name, dtype, first_row)


def physical_memory():
    """The machine's physical memory in bytes, where the OS says it cheaply (else None)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def format_bytes(n_bytes) -> str:
    """``n_bytes`` in binary units: ``"43.7 TiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n_bytes < 1024 or unit == "TiB":
            return f"{n_bytes:.1f} {unit}" if unit != "B" else f"{n_bytes} B"
        n_bytes /= 1024
