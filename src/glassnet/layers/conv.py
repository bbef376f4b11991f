"""Convolutions, channels-last (Keras's conventions): one N-d layer, ``Conv1D`` and ``Conv2D``
its named variants.

Forward, for an input ``A`` of shape ``(n, *spatial, c_in)`` padded to ``Ap``, a kernel ``W``
of shape ``(*k, c_in, filters)`` and a bias ``b``:
``Z[i, o, f] = sum_{k, c} Ap[i, o * stride + k * dilation, c] W[k, c, f] + b[f]``, then
``A_out = activation(Z)``. As matrices: the windows copied into rows ``cols`` of
``prod(k) * c_in`` values, ``Z = cols @ W.reshape(-1, filters) + b``. Backward, for
``delta = dL/dZ`` as rows: ``dL/dW = colsᵀ @ delta``, ``dL/db = sum_rows(delta)``,
``dL/dA = col2im(delta @ Wᵀ)`` (each row's gradient added back to the positions it was
read from, the padding cut off).
"""

from __future__ import annotations

import math

from ..ops import activations as act
from ..ops import conv
from ..ops.initializers import get_initializer
from .base import Layer, ParamSpec, initializer_config, without_class_name


class Conv(Layer):
    """The N-d convolution (``rank`` 1 or 2); see ``Conv1D`` and ``Conv2D``."""

    rank = None

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros"):
        super().__init__()
        self.filters = conv.as_tuple("filters", filters, 1)[0]
        self.kernel_size = conv.as_tuple("kernel_size", kernel_size, self.rank)
        self.strides = conv.as_tuple("strides", strides, self.rank)
        self.padding = conv.check_padding(padding, self.rank)
        self.dilation_rate = conv.as_tuple("dilation_rate", dilation_rate, self.rank)
        self.activation = None if activation is None else act.get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = get_initializer(kernel_initializer)
        self.bias_initializer = get_initializer(bias_initializer)
        self._initializer_names = (kernel_initializer, bias_initializer)

    # -- building ----------------------------------------------------------------
    def build(self, input_shape):
        input_shape = tuple(input_shape)
        name = type(self).__name__
        if len(input_shape) != self.rank + 1:
            axes = "(steps, channels)" if self.rank == 1 else "(height, width, channels)"
            hint = " Add the channel axis: X[..., None]." if len(input_shape) == self.rank \
                else ""
            raise ValueError(f"{name} takes samples of shape {axes}, one axis per dimension "
                             f"and the channels last.{hint}")
        spatial = input_shape[:-1]
        self._pads = conv.axis_pads(spatial, self.kernel_size, self.strides,
                                    self.dilation_rate, self.padding)
        out = tuple(conv.output_size(size, k, s, d, *p) for size, k, s, d, p in zip(
            spatial, self.kernel_size, self.strides, self.dilation_rate, self._pads))
        if min(out) < 1:
            raise ValueError(
                f"{name}'s kernel {self.kernel_size} (dilation {self.dilation_rate}) is larger "
                f"than its input {spatial} with padding {self.padding!r}; use a smaller "
                "kernel_size or padding='same'."
            )
        self.input_shape, self.output_shape = input_shape, (*out, self.filters)
        return self.output_shape

    def param_specs(self, input_shape):
        c_in, field = input_shape[-1], math.prod(self.kernel_size)
        fans = (field * c_in, field * self.filters)  # the receptive field, as Keras
        specs = [ParamSpec("W", (*self.kernel_size, c_in, self.filters),
                           self.kernel_initializer, fans)]
        if self.use_bias:
            specs.append(ParamSpec("b", (self.filters,), self.bias_initializer,
                                   (self.filters, self.filters)))
        return specs

    @property
    def W(self):
        return self.params[0]

    @property
    def b(self):
        return self.params[1] if self.use_bias else None

    # -- computing ---------------------------------------------------------------
    def forward(self, A, training=False, activate=True):
        xp, out = self.xp, self.output_shape[:-1]
        padded = [s + b + a for s, (b, a) in zip(A.shape[1:-1], self._pads)]
        Ap = conv.pad(A, self._pads,
                      out=self._buffer("Ap", (len(A), *padded, A.shape[-1]), A.dtype, training))
        self._geometry = conv.geometry(Ap.shape, self.kernel_size, self.strides,
                                       self.dilation_rate, out)
        shape = (len(A) * math.prod(out), math.prod(self.kernel_size) * A.shape[-1])
        cols = self._buffer("cols", shape, A.dtype, training)
        cols = xp.empty(shape, dtype=A.dtype) if cols is None else cols
        conv.gather(Ap, cols, self._geometry)  # im2col: the one copy of the windows
        self._A, self._cols, self._out = A, cols, None
        Z = xp.matmul(cols, self.W.reshape(-1, self.filters),
                      out=self._buffer("Z", (shape[0], self.filters), A.dtype, training))
        if self.activation is None or not activate:
            if self.use_bias:
                Z += self.b
            self._Z = Z
            return Z.reshape(len(A), *self.output_shape)
        self._Z = Z
        bias = self.b if self.use_bias else xp.zeros(self.filters, dtype=Z.dtype)
        self._out = self.activation.biased_value(
            Z, bias, out=self._buffer("out", Z.shape, Z.dtype, training))
        return self._out.reshape(len(A), *self.output_shape)

    def backward(self, dOut, need_input_grad=True, activate=True):
        xp = self.xp
        d2 = dOut.reshape(-1, self.filters)
        if self.activation is None or not activate:
            delta = d2
        else:
            buf = self._buffer("delta", d2.shape, d2.dtype, True)
            delta = self.activation.backward(d2, self._Z, self._out, out=buf)
        self._delta = delta
        gW = self.grads[0]
        xp.matmul(self._cols.T, delta, out=gW.reshape(-1, self.filters))
        if self.use_bias:  # dL/db = 1ᵀ·delta, a BLAS product (as Dense; 10x delta.sum(axis=0))
            ones = getattr(self, "_ones", None)
            if ones is None or len(ones) != len(delta) or ones.dtype != delta.dtype:
                ones = self._ones = xp.ones(len(delta), dtype=delta.dtype)
            xp.matmul(ones, delta, out=self.grads[1])
        if not need_input_grad:
            return None
        dcols = xp.matmul(delta, self.W.reshape(-1, self.filters).T,
                          out=self._buffer("dcols", self._cols.shape, delta.dtype, True))
        A = self._A
        padded = [s + b + a for s, (b, a) in zip(A.shape[1:-1], self._pads)]
        dAp = self._buffer("dAp", (len(A), *padded, A.shape[-1]), dOut.dtype, True)
        dAp[...] = 0
        conv.scatter_add(dAp, dcols, self._geometry)  # col2im
        return conv.crop(dAp, self._pads)

    def trace_fields(self):
        return {"A": self._A, "W": self.W, "b": self.b, "Z": self._Z, "out": self._out,
                "delta": getattr(self, "_delta", None), "dW": self.grads[0],
                "db": self.grads[1] if self.use_bias else None,
                "window": {"strides": self.strides, "dilation": self.dilation_rate,
                           "pads": [tuple(p) for p in self._pads],
                           "output": self.output_shape[:-1]}}

    # -- describing --------------------------------------------------------------
    def get_config(self):
        return {
            "class_name": type(self).__name__, "filters": self.filters,
            "kernel_size": list(self.kernel_size), "strides": list(self.strides),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "dilation_rate": list(self.dilation_rate),
            "activation": None if self.activation is None else self.activation.get_config(),
            "use_bias": self.use_bias,
            **initializer_config(self._initializer_names),
        }

    @classmethod
    def from_config(cls, config):
        config = without_class_name(config)
        for key in ("kernel_size", "strides", "padding", "dilation_rate"):
            if isinstance(config.get(key), list):
                config[key] = tuple(config[key])
        return cls(**config)


class Conv1D(Conv):
    """1-D convolution over ``(n, steps, channels)``; kernel ``(k, c_in, filters)``.

    Parameters
    ----------
    filters : int
    kernel_size, strides, dilation_rate : int
    padding : "valid", "same" or int
        ``"same"``: ``ceil(steps / strides)`` outputs (Keras; the odd zero at the end); an
        int: that many zeros on each side (PyTorch's ``padding=``).
    activation, use_bias, kernel_initializer, bias_initializer
        As ``Dense``.
    """

    kind = "conv1d"
    rank = 1


class Conv2D(Conv):
    """2-D convolution over ``(n, height, width, channels)``; kernel ``(kh, kw, c_in, filters)``.

    The arguments are those of ``Conv1D``, each an int or a pair ``(rows, columns)``.

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> net = gn.Sequential([gn.Conv2D(1, 2, kernel_initializer="ones"), gn.Flatten()])
    >>> net.predict(np.arange(9.0).reshape(1, 3, 3, 1))  # each output sums a 2x2 window
    array([[ 8., 12., 20., 24.]], dtype=float32)
    """

    kind = "conv2d"
    rank = 2
