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
