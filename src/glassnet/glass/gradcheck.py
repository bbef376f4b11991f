"""Central-difference gradient checks, in float64.

``dL/dθ_i ≈ (L(θ + ε e_i) - L(θ - ε e_i)) / (2ε)``, compared with backpropagation
by the relative error ``‖g_bp - g_num‖ / (‖g_bp‖ + ‖g_num‖)`` per parameter array.
"""

from __future__ import annotations

import numpy as np


def numerical_gradient(f, x, eps=1e-5):
    """The central-difference gradient of the scalar function ``f()`` with respect to the
    float64 array ``x``, which ``f`` reads and which is perturbed in place (and restored).
    """
    grad = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def relative_error(a, b) -> float:
    """``‖a - b‖ / (‖a‖ + ‖b‖)``, 0 when both are zero."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def gradcheck(net, X, y, sample_weight=None, eps=1e-5, training=False) -> dict:
    """Compare ``net``'s backpropagated gradients with central differences, in float64.

    The check runs on a float64 copy of the network (the network itself is not
    touched), in prediction mode (dropout off) unless ``training=True``.

    Parameters
    ----------
    net : Sequential
    X, y : arrays
        The batch to differentiate the loss on.
    sample_weight : array, optional
    eps : float, default 1e-5
        The finite-difference step, near the cube root of float64's machine epsilon,
        which balances truncation error (~eps²) against rounding error (~1e-16 / eps).
    training : bool, default False
        Differentiate the training-mode loss, dropout on. Every evaluation must see the
        same mask, so each ``Dropout`` uses its fixed mask (``Dropout.fix_mask``) when it
        has one, else one mask drawn once, from the copy's generator, and then held fixed.

    Returns
    -------
    dict of str -> float
        The relative error of each parameter array (``"dense.W"``, ``"dense.b"``, ...),
        in the order of ``net.parameters()``. Values below ~1e-7 mean agreement.

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> net = gn.Sequential([gn.Dense(3, activation="tanh"), gn.Dense(1)], random_state=0)
    >>> X, y = np.random.default_rng(0).normal(size=(5, 2)), np.arange(5.0)
    >>> errors = gn.gradcheck(net, X, y)
    >>> max(errors.values()) < 1e-7
    True
    """
    if not net.built:
        net.build(np.asarray(X).shape[1:])
    twin = net.copy(dtype="float64")
    X, T, sw = twin.prepare(X, y, sample_weight)
    X = twin.as_input(X)
    if training:
        for mine, theirs in zip(twin.layers, net.layers):
            mine.copy_randomness(theirs)  # a mask the user fixed on the network
        twin.forward(X, training=True)
        for layer in twin.layers:  # then every draw of this pass held for the differences
            layer.hold_randomness()
    twin.loss_and_gradients(X, T, sw, training=training)
    analytic = twin.grads.copy()

    def loss():
        return twin.loss_value(X, T, sw, training)

    numeric = numerical_gradient(loss, twin.params, eps)
    errors, offset = {}, 0
    for name, p in zip(twin.parameter_names(), twin.parameters()):
        part = slice(offset, offset + p.size)
        errors[name] = relative_error(analytic[part], numeric[part])
        offset += p.size
    return errors
