"""The fused loops of ``_kernels.c``, written in plain array code: the readable version of
each, with the same arguments and the same in-place effect. The C loops are tested against
these; a backend without compiled loops (CuPy, later) can run them as they are.

Every optimizer rule first forms ``g' = scale * g + l2 * p`` (gradient clipping as a factor,
L2 decay), then updates ``p`` (and its state) in place.
"""

from __future__ import annotations

from . import namespace


def sgd(p, g, velocity, lr, momentum, nesterov, scale, l2):
    """``v <- mu v + g'``; ``d = g' + mu v`` (Nesterov) or ``v``; ``p <- p - lr d``
    (``d = g'`` without momentum, ``velocity`` None)."""
    g = scale * g + l2 * p
    if velocity is not None:
        velocity *= momentum
        velocity += g
        g = g + momentum * velocity if nesterov else velocity
    p -= lr * g


def rmsprop(p, g, square_avg, momentum_buffer, lr, rho, eps, momentum, scale, l2):
    """``s <- rho s + (1 - rho) g'^2``; ``d = g' / (sqrt(s) + eps)``; with momentum
    ``u <- mu u + d``, ``d = u``; ``p <- p - lr d``."""
    xp = namespace(p)
    g = scale * g + l2 * p
    square_avg *= rho
    square_avg += (1 - rho) * g * g
    d = g / (xp.sqrt(square_avg) + eps)
    if momentum_buffer is not None:
        momentum_buffer *= momentum
        momentum_buffer += d
        d = momentum_buffer
    p -= lr * d


def adam(p, g, m, v, step, b1, b2, c2, eps, decay, scale, l2):
    """``p <- decay p`` (AdamW's decoupled decay); ``m <- b1 m + (1 - b1) g'``,
    ``v <- b2 v + (1 - b2) g'^2``; ``p <- p - step m / (c2 sqrt(v) + eps)``, the bias
    corrections folded into ``step = lr / (1 - b1^t)`` and ``c2 = 1 / sqrt(1 - b2^t)``."""
    xp = namespace(p)
    g = scale * g + l2 * p
    p *= decay
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * g * g
    p -= step * m / (c2 * xp.sqrt(v) + eps)


def relu_forward(Z, b, out):
    """``Z <- Z + b`` (``b`` broadcast over the rows), ``out = max(Z, 0)`` (NaN kept)."""
    xp = namespace(Z)
    Z += b
    out[...] = xp.where(Z <= 0, 0, Z)


def relu_backward(dA, A, out):
    """``out = dA where A > 0, else 0 * dA`` (so NaN in ``dA`` stays NaN)."""
    namespace(dA).multiply(dA, A > 0, out=out)


# -- sliding windows over channels-last images A (n, H, W, C); a 1-D input is one row ------


def _view(A, n, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw):
    """``(n, OH, OW, KH, KW, C)``: entry ``[i, oh, ow, kh, kw, c]`` is
    ``A[i, oh sh + kh dh, ow sw + kw dw, c]`` (a strided view, no copy)."""
    xp = namespace(A)
    A = A.reshape(n, H, W, C)
    s = A.strides
    return xp.lib.stride_tricks.as_strided(
        A, (n, OH, OW, KH, KW, C),
        (s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3]), writeable=False)


def window_gather(A, cols, *geometry):
    """im2col: ``cols[i, oh, ow, kh, kw, :] = A[i, oh sh + kh dh, ow sw + kw dw, :]``."""
    view = _view(A, *geometry)
    cols.reshape(view.shape)[...] = view


def window_scatter_add(dA, dcols, n, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw):
    """col2im: ``dA[i, oh sh + kh dh, ow sw + kw dw, :] += dcols[i, oh, ow, kh, kw, :]``,
    one tap at a time (overlapping windows add up)."""
    dA, dcols = dA.reshape(n, H, W, C), dcols.reshape(n, OH, OW, KH, KW, C)
    for kh in range(KH):
        for kw in range(KW):
            rows = slice(kh * dh, kh * dh + (OH - 1) * sh + 1, sh)
            columns = slice(kw * dw, kw * dw + (OW - 1) * sw + 1, sw)
            dA[:, rows, columns, :] += dcols[:, :, :, kh, kw, :]


def max_pool_forward(A, out, arg, n, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw):
    """``out`` = the max of each window, ``arg`` = the tap ``kh KW + kw`` of its first maximum
    (NaN counts as the maximum, as in PyTorch)."""
    xp = namespace(A)
    windows = _view(A, n, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw).reshape(n, OH, OW, -1, C)
    nan = xp.isnan(windows)
    first = xp.where(nan.any(axis=3), nan.argmax(axis=3), windows.argmax(axis=3))
    arg.reshape(n, OH, OW, C)[...] = first
    out.reshape(n, OH, OW, C)[...] = xp.take_along_axis(windows, first[:, :, :, None], axis=3)[
        :, :, :, 0]


def max_pool_backward(dA, dout, arg, n, H, W, C, OH, OW, KH, KW, sh, sw, dh, dw):
    """``dA`` at each window's tap ``arg`` ``+= dout``."""
    dA, dout, arg = dA.reshape(n, H, W, C), dout.reshape(n, OH, OW, C), arg.reshape(n, OH, OW, C)
    for kh in range(KH):
        for kw in range(KW):
            rows = slice(kh * dh, kh * dh + (OH - 1) * sh + 1, sh)
            columns = slice(kw * dw, kw * dw + (OW - 1) * sw + 1, sw)
            dA[:, rows, columns, :] += dout * (arg == kh * KW + kw)
