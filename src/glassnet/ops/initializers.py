"""Weight initializers: ``init(shape, rng, dtype, fans=None) -> array``.

``fans`` is ``(fan_in, fan_out)`` from the layer's parameter spec (for a convolution
kernel, the receptive field times the channels in and out); without it they are
``shape[0]``/``shape[1]`` of a ``(n_in, n_out)`` kernel (both ``shape[0]`` for a bias).
Every random draw comes from the network's one ``numpy.random.Generator``, so
``random_state`` fixes them all; the values are made on the host, and the network copies
them onto its backend.

- Glorot (Xavier): ``U(-sqrt(6 / (fan_in + fan_out)), +...)`` or ``N(0, 2 / (fan_in + fan_out))``;
  `Glorot & Bengio 2010 <https://proceedings.mlr.press/v9/glorot10a.html>`_.
- He (Kaiming): ``U(-sqrt(6 / fan_in), +...)`` or ``N(0, 2 / fan_in)``;
  `He et al. 2015 <https://arxiv.org/abs/1502.01852>`_.
- LeCun: ``U(-sqrt(3 / fan_in), +...)`` or ``N(0, 1 / fan_in)``.

The ``*_normal`` variants draw from a plain normal, as PyTorch's ``xavier_normal_`` and
``kaiming_normal_`` do, not from Keras's truncated normal (cut at 2 standard deviations,
its stddev widened by ``1 / 0.87962566`` to keep the variance): the variance is the same,
but a plain normal has rare larger weights. Uniform draws never exceed the limit.
"""

from __future__ import annotations

import numpy as np

from ..backend import resolve_name


def _fans(shape):
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


class VarianceScaling:
    """Draws with variance ``scale / fan`` (``fan`` = fan_in, or the mean of fan_in and
    fan_out), from a uniform or a normal distribution.
    """

    def __init__(self, scale: float, mode: str, distribution: str):
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, rng, dtype, fans=None):
        fan_in, fan_out = _fans(shape) if fans is None else fans
        fan = fan_in if self.mode == "fan_in" else (fan_in + fan_out) / 2.0
        variance = self.scale / max(fan, 1)
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * variance)
            values = rng.uniform(-limit, limit, size=shape)
        else:
            values = rng.normal(0.0, np.sqrt(variance), size=shape)
        return np.asarray(values, dtype=dtype)


class Constant:
    """Fills every entry with ``value``."""

    def __init__(self, value: float):
        self.value = value

    def __call__(self, shape, rng, dtype, fans=None):
        return np.full(shape, self.value, dtype=dtype)


class Explicit:
    """Exact values given by the user (a worked example's weights); the shape is checked."""

    def __init__(self, values):
        self.values = values

    def __call__(self, shape, rng, dtype, fans=None):
        if self.values.shape != tuple(shape):
            raise ValueError(
                f"An explicit initial array has shape {self.values.shape}, but the parameter "
                f"it initializes has shape {tuple(shape)} (kernels are (n_in, n_out))."
            )
        return np.asarray(self.values, dtype=dtype)


INITIALIZERS = {
    "glorot_uniform": VarianceScaling(1.0, "fan_avg", "uniform"),
    "glorot_normal": VarianceScaling(1.0, "fan_avg", "normal"),
    "xavier_uniform": VarianceScaling(1.0, "fan_avg", "uniform"),
    "xavier_normal": VarianceScaling(1.0, "fan_avg", "normal"),
    "he_uniform": VarianceScaling(2.0, "fan_in", "uniform"),
    "he_normal": VarianceScaling(2.0, "fan_in", "normal"),
    "lecun_uniform": VarianceScaling(1.0, "fan_in", "uniform"),
    "lecun_normal": VarianceScaling(1.0, "fan_in", "normal"),
    "zeros": Constant(0.0),
    "ones": Constant(1.0),
}


#: The initializer classes that take the spec's fans (a user's callable may not).
_TAKE_FANS = (VarianceScaling, Constant, Explicit)


def initial_values(spec, rng, dtype):
    """The starting values of the parameter ``spec`` (a layer's ``ParamSpec``)."""
    init = spec.initializer
    if isinstance(init, _TAKE_FANS):
        return init(spec.shape, rng, dtype, fans=spec.fans)
    return init(spec.shape, rng, dtype)


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
        return Constant(float(initializer))
    values = np.asarray(initializer)
    if values.dtype.kind not in "iuf":  # True is neither a number nor an array of them
        raise ValueError(
            "An initializer must be a name, a number, an array of numbers or a callable "
            f"init(shape, rng, dtype), got {initializer!r}."
        )
    return Explicit(values)
