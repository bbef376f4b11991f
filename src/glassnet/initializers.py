"""Weight initializers: ``init(shape, rng, dtype) -> array``.

``fan_in``/``fan_out`` are ``shape[0]``/``shape[1]`` of a ``(n_in, n_out)`` kernel
(both ``shape[0]`` for a bias vector). Every random draw comes from the network's
one ``numpy.random.Generator``, so ``random_state`` fixes them all.

- Glorot (Xavier): ``U(-sqrt(6 / (fan_in + fan_out)), +...)`` or ``N(0, 2 / (fan_in + fan_out))``;
  `Glorot & Bengio 2010 <https://proceedings.mlr.press/v9/glorot10a.html>`_.
- He (Kaiming): ``U(-sqrt(6 / fan_in), +...)`` or ``N(0, 2 / fan_in)``;
  `He et al. 2015 <https://arxiv.org/abs/1502.01852>`_.
- LeCun: ``U(-sqrt(3 / fan_in), +...)`` or ``N(0, 1 / fan_in)``.
"""

from __future__ import annotations

import numpy as np

from .backend import resolve_name, xp


def _fans(shape):
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


def _variance_scaling(scale: float, mode: str, distribution: str):
    def init(shape, rng, dtype):
        fan_in, fan_out = _fans(shape)
        fan = fan_in if mode == "fan_in" else (fan_in + fan_out) / 2.0
        variance = scale / max(fan, 1)
        if distribution == "uniform":
            limit = np.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, size=shape)
        else:
            values = rng.normal(0.0, np.sqrt(variance), size=shape)
        return xp.asarray(values, dtype=dtype)

    return init


def zeros(shape, rng, dtype):
    return xp.zeros(shape, dtype=dtype)


def ones(shape, rng, dtype):
    return xp.ones(shape, dtype=dtype)


def constant(value: float):
    """An initializer that fills every entry with ``value``."""

    def init(shape, rng, dtype):
        return xp.full(shape, value, dtype=dtype)

    return init


INITIALIZERS = {
    "glorot_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "normal"),
    "xavier_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),
    "xavier_normal": _variance_scaling(1.0, "fan_avg", "normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),
    "he_normal": _variance_scaling(2.0, "fan_in", "normal"),
    "lecun_uniform": _variance_scaling(1.0, "fan_in", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "normal"),
    "zeros": zeros,
    "ones": ones,
}


def get_initializer(initializer):
    """Return ``init(shape, rng, dtype)`` from a name, a number, an explicit array or a callable.

    An explicit array (or nested list) is used as the exact values, which lets a
    user set the weights of a worked example; its shape is checked when the layer
    is built.
    """
    if callable(initializer):
        return initializer
    if isinstance(initializer, str):
        return resolve_name("initializer", initializer, INITIALIZERS)
    if isinstance(initializer, (int, float)) and not isinstance(initializer, bool):
        return constant(float(initializer))
    values = np.asarray(initializer)
    if values.dtype.kind not in "biuf":
        raise ValueError(
            "An initializer must be a name, a number, an array of numbers or a callable "
            f"init(shape, rng, dtype), got {initializer!r}."
        )

    def explicit(shape, rng, dtype):
        if values.shape != tuple(shape):
            raise ValueError(
                f"An explicit initial array has shape {values.shape}, but the parameter "
                f"it initializes has shape {tuple(shape)} (kernels are (n_in, n_out))."
            )
        return xp.asarray(values, dtype=dtype)

    explicit.values = values
    return explicit
