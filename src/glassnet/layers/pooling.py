"""Pooling, channels-last: one N-d layer with a reducer (max or average) and its named
variants, and the global poolings.

Max: ``A_out[i, o, c] = max_k Ap[i, o * stride + k, c]``; backward routes ``dL/dA_out`` to
the first position holding the maximum (PyTorch's tie rule). Average: the mean over the
window; with ``padding="same"`` only the real (unpadded) positions count, as Keras.
"""

from __future__ import annotations

import math

from ..ops import conv
from .base import Layer


def _check_rank(layer, input_shape):
    """``input_shape`` as a tuple, if it has the layer's ``rank`` spatial axes and channels."""
    input_shape = tuple(input_shape)
    if len(input_shape) != layer.rank + 1:
        raise ValueError(f"{type(layer).__name__} takes samples with {layer.rank} spatial "
                         f"axis{'es' if layer.rank > 1 else ''} and the channels last.")
    return input_shape


class Pooling(Layer):
    """Max or average pooling over ``rank`` spatial axes (``reducer`` "max" or "average")."""

    rank = reducer = None

    def __init__(self, pool_size=2, strides=None, padding="valid"):
        super().__init__()
        self.pool_size = conv.as_tuple("pool_size", pool_size, self.rank)
        self.strides = self.pool_size if strides is None else conv.as_tuple(
            "strides", strides, self.rank)
        self.padding = conv.check_padding(padding, self.rank)
        if not isinstance(self.padding, str):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")

    def build(self, input_shape):
        input_shape, name = _check_rank(self, input_shape), type(self).__name__
        spatial = input_shape[:-1]
        ones = (1,) * self.rank
        self._pads = conv.axis_pads(spatial, self.pool_size, self.strides, ones, self.padding)
        out = tuple(conv.output_size(size, k, s, 1, *p)
                    for size, k, s, p in zip(spatial, self.pool_size, self.strides, self._pads))
        if min(out) < 1:
            raise ValueError(f"{name}'s pool {self.pool_size} leaves nothing of its input "
                             f"{spatial}; use a smaller pool_size or padding='same'.")
        self._dilation = ones
        self.input_shape, self.output_shape = input_shape, (*out, input_shape[-1])
        return self.output_shape

    def _view(self, Ap):
        return conv.windows(Ap, self.pool_size, self.strides, self._dilation,
                            self.output_shape[:-1])

    def forward(self, A, training=False, activate=True):
        xp, out = self.xp, self.output_shape[:-1]
        self._A = A
        if self.reducer == "max":
            padded = [s + b + a for s, (b, a) in zip(A.shape[1:-1], self._pads)]
            Ap = conv.pad(A, self._pads, value=-xp.inf, out=self._buffer(
                "Ap", (len(A), *padded, A.shape[-1]), A.dtype, training))
            self._geometry = conv.geometry(Ap.shape, self.pool_size, self.strides,
                                           self._dilation, out)
            shape = (len(A), *self.output_shape)
            result = self._buffer("out", shape, A.dtype, training)
            result = xp.empty(shape, dtype=A.dtype) if result is None else result
            arg = self._buffer("arg", shape, xp.intc, training)  # the tap of each maximum
            self._argmax = xp.empty(shape, dtype=xp.intc) if arg is None else arg
            return conv.max_pool(Ap, result, self._argmax, self._geometry)
        Ap = conv.pad(A, self._pads)
        total = self._view(Ap).sum(axis=tuple(range(1 + self.rank, 1 + 2 * self.rank)))
        self._count = self._counts(A)
        return total / self._count

    def _counts(self, A):
        """How many real positions each window covers (all of them without padding)."""
        xp = self.xp
        if not any(b or a for b, a in self._pads):
            return A.dtype.type(math.prod(self.pool_size))
        ones = conv.pad(xp.ones((1, *A.shape[1:-1], 1), dtype=A.dtype), self._pads)
        return self._view(ones).sum(axis=tuple(range(1 + self.rank, 1 + 2 * self.rank)))

    def backward(self, dOut, need_input_grad=True, activate=True):
        xp, A, out = self.xp, self._A, self.output_shape[:-1]
        padded = [s + b + a for s, (b, a) in zip(A.shape[1:-1], self._pads)]
        dAp = self._buffer("dAp", (len(A), *padded, A.shape[-1]), dOut.dtype, True)
        dAp[...] = 0
        if self.reducer == "max":
            conv.max_pool_backward(dAp, xp.ascontiguousarray(dOut), self._argmax,
                                   self._geometry)
        else:  # every position of a window gets its share of the window's gradient
            shape = (len(A), *out, *self.pool_size, A.shape[-1])
            per = dOut / self._count
            dW = xp.broadcast_to(per[(slice(None),) * (1 + self.rank) + (None,) * self.rank],
                                 shape)
            conv.add_windows(dAp, dW, self.pool_size, self.strides, self._dilation, out)
        return conv.crop(dAp, self._pads)

    def get_config(self):
        return {"class_name": type(self).__name__, "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding}

    @classmethod
    def from_config(cls, config):
        return cls(tuple(config["pool_size"]), tuple(config["strides"]), config["padding"])


class MaxPooling1D(Pooling):
    """The largest value of each window of ``pool_size`` steps, ``strides`` apart (default:
    ``pool_size``), per channel, over ``(n, steps, channels)``."""

    kind, rank, reducer = "max_pooling1d", 1, "max"


class MaxPooling2D(Pooling):
    """The largest value of each ``pool_size`` window (an int or a pair), per channel, over
    ``(n, height, width, channels)``."""

    kind, rank, reducer = "max_pooling2d", 2, "max"


class AveragePooling1D(Pooling):
    """The mean of each window of ``pool_size`` steps, per channel."""

    kind, rank, reducer = "average_pooling1d", 1, "average"


class AveragePooling2D(Pooling):
    """The mean of each ``pool_size`` window, per channel."""

    kind, rank, reducer = "average_pooling2d", 2, "average"


class GlobalPooling(Layer):
    """The max or mean over all ``rank`` spatial axes: ``(n, *spatial, c) -> (n, c)``."""

    rank = reducer = None

    def build(self, input_shape):
        input_shape = _check_rank(self, input_shape)
        self.input_shape, self.output_shape = input_shape, (input_shape[-1],)
        return self.output_shape

    def forward(self, A, training=False, activate=True):
        self._A, axes = A, tuple(range(1, 1 + self.rank))
        if self.reducer == "max":
            flat = A.reshape(len(A), -1, A.shape[-1])
            self._argmax = flat.argmax(axis=1)
            return self.xp.take_along_axis(flat, self._argmax[:, None, :], axis=1)[:, 0, :]
        return A.mean(axis=axes)

    def backward(self, dOut, need_input_grad=True, activate=True):
        xp, A = self.xp, self._A
        if self.reducer == "max":
            flat = xp.zeros((len(A), math.prod(A.shape[1:-1]), A.shape[-1]), dtype=dOut.dtype)
            xp.put_along_axis(flat, self._argmax[:, None, :], dOut[:, None, :], axis=1)
            return flat.reshape(A.shape)
        per = dOut / math.prod(A.shape[1:-1])
        return xp.broadcast_to(per[(slice(None),) + (None,) * self.rank], A.shape).copy()

    @classmethod
    def from_config(cls, config):
        return cls()


class GlobalMaxPooling1D(GlobalPooling):
    """The largest value over the steps, per channel: ``(n, steps, c) -> (n, c)``."""

    kind, rank, reducer = "global_max_pooling1d", 1, "max"


class GlobalMaxPooling2D(GlobalPooling):
    """The largest value over the image, per channel: ``(n, h, w, c) -> (n, c)``."""

    kind, rank, reducer = "global_max_pooling2d", 2, "max"


class GlobalAveragePooling1D(GlobalPooling):
    """The mean over the steps, per channel."""

    kind, rank, reducer = "global_average_pooling1d", 1, "average"


class GlobalAveragePooling2D(GlobalPooling):
    """The mean over the image, per channel."""

    kind, rank, reducer = "global_average_pooling2d", 2, "average"
