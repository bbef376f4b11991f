"""Sliding windows over channels-last arrays: padding, im2col and col2im, pooling windows.

An input ``A`` of shape ``(n, *spatial, c)`` (``spatial`` is ``(steps,)`` or
``(height, width)``) is seen through windows of ``k`` positions per axis, ``stride`` apart,
their taps ``dilation`` apart. ``windows(A)`` is a strided view of shape
``(n, *out, *k, c)`` (no copy); a convolution copies it into rows ("im2col",
``(n * prod(out), prod(k) * c)``) and multiplies them by the kernel; its backward adds each
row's gradient back into the positions it came from ("col2im"), one kernel tap at a time.
"""

from __future__ import annotations

import math
import numbers

from ..backend import backend_of, namespace


def as_tuple(name, value, rank, low=1):
    """``value`` (an int or ``rank`` ints) as a tuple of ``rank`` ints ``>= low``."""
    values = (value,) * rank if isinstance(value, numbers.Integral) else tuple(value)
    if len(values) != rank or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low
            for v in values):
        kind = "an int" if rank == 1 else f"an int or a tuple of {rank} ints"
        raise ValueError(f"{name} must be {kind} >= {low}, got {value!r}.")
    return tuple(int(v) for v in values)


def check_padding(padding, rank):
    """``"valid"``, ``"same"``, or an int / ``rank`` ints of zeros on each side."""
    if isinstance(padding, str):
        if padding.lower() not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid', 'same' or an int, got {padding!r}.")
        return padding.lower()
    return as_tuple("padding", padding, rank, low=0)


def pads(size, kernel, stride, dilation, padding):
    """``(before, after)`` zeros for one axis (``padding``: "valid", "same" or this axis's
    int): Keras's ``"same"`` gives ``ceil(size / stride)`` outputs with the odd pad at the
    end; an int pads both sides (PyTorch's)."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        span = (kernel - 1) * dilation + 1
        total = max((math.ceil(size / stride) - 1) * stride + span - size, 0)
        return total // 2, total - total // 2
    return padding, padding


def axis_pads(spatial, kernel, stride, dilation, padding):
    """``pads`` for every spatial axis."""
    per_axis = [padding] * len(spatial) if isinstance(padding, str) else list(padding)
    return [pads(*args) for args in zip(spatial, kernel, stride, dilation, per_axis)]


def output_size(size, kernel, stride, dilation, before, after):
    """Outputs along one axis (``<= 0`` when the window does not fit)."""
    return (size + before + after - (kernel - 1) * dilation - 1) // stride + 1


def pad(A, widths, value=0.0, out=None):
    """``A`` with ``widths[i] = (before, after)`` added to spatial axis ``i``, written into
    ``out`` when given (a reused buffer of the padded shape), or ``A`` itself (made
    contiguous) when nothing is added."""
    xp = namespace(A)
    if not any(b or a for b, a in widths):
        return xp.ascontiguousarray(A)
    if out is None:
        return xp.pad(A, [(0, 0), *widths, (0, 0)], constant_values=value)
    out[...] = value  # the borders (the interior is overwritten next)
    out[(slice(None), *(slice(b, b + s) for (b, _), s in zip(widths, A.shape[1:-1])),
         slice(None))] = A
    return out


def windows(Ap, kernel, stride, dilation, out):
    """The view ``(n, *out, *kernel, c)`` of the padded ``Ap``: entry ``[i, o..., k..., c]`` is
    ``Ap[i, o * stride + k * dilation, ..., c]``."""
    xp = namespace(Ap)
    n, c, rank = Ap.shape[0], Ap.shape[-1], len(kernel)
    spatial = Ap.strides[1 : 1 + rank]
    shape = (n, *out, *kernel, c)
    strides = (Ap.strides[0], *(s * st for s, st in zip(spatial, stride)),
               *(s * d for s, d in zip(spatial, dilation)), Ap.strides[-1])
    return xp.lib.stride_tricks.as_strided(Ap, shape, strides, writeable=False)


def add_windows(dAp, dW, kernel, stride, dilation, out):
    """col2im: ``dAp[i, o * stride + k * dilation, ..., c] += dW[i, o..., k..., c]`` for every
    tap ``k`` (overlapping windows add up)."""
    rank = len(kernel)
    for tap in _taps(kernel):
        target = (slice(None), *(
            slice(k * d, k * d + (o - 1) * s + 1, s)
            for k, d, o, s in zip(tap, dilation, out, stride)), slice(None))
        dAp[target] += dW[(slice(None),) * (1 + rank) + tap]
    return dAp


def _taps(kernel):
    """Every kernel position ``(k_1, ..., k_rank)``, in C order."""
    taps = [()]
    for size in kernel:
        taps = [t + (k,) for t in taps for k in range(size)]
    return taps


def crop(dAp, widths):
    """The inverse of ``pad`` for gradients: the unpadded part of ``dAp``."""
    if not any(b or a for b, a in widths):
        return dAp
    return dAp[(slice(None), *(slice(b, dAp.shape[i + 1] - a) for i, (b, a) in enumerate(widths)),
                slice(None))]


def geometry(padded_shape, kernel, stride, dilation, out):
    """The 12 ints of a window loop, ``(n, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw)``: a 1-D
    input ``(n, L, C)`` is one row of a 2-D image."""
    n, *spatial, c = padded_shape
    if len(spatial) == 1:
        spatial, kernel, stride, dilation, out = ([1, *spatial], (1, *kernel), (1, *stride),
                                                  (1, *dilation), (1, *out))
    return (n, *spatial, c, *out, *kernel, *stride, *dilation)


def gather(Ap, cols, geometry):
    """im2col through the backend's loop: the windows of ``Ap`` copied into ``cols``."""
    backend_of(Ap).kernels.window_gather(Ap, cols, *geometry)
    return cols


def scatter_add(dAp, dcols, geometry):
    """col2im through the backend's loop: each window's gradient added back into ``dAp``."""
    backend_of(dAp).kernels.window_scatter_add(dAp, dcols, *geometry)
    return dAp


def max_pool(Ap, out, arg, geometry):
    """The max of each window into ``out`` and the tap of its first maximum into ``arg``."""
    backend_of(Ap).kernels.max_pool_forward(Ap, out, arg, *geometry)
    return out


def max_pool_backward(dAp, dout, arg, geometry):
    """``dout`` added into ``dAp`` at each window's maximum."""
    backend_of(dAp).kernels.max_pool_backward(dAp, dout, arg, *geometry)
    return dAp
