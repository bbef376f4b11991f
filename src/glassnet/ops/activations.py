"""Activation functions as (value, derivative) pairs, and their registry.

Each activation ``f`` gives ``A = f(Z)`` and the backward step of the chain rule,
``dL/dZ = dL/dA * f'(Z)``. Element-wise derivatives are written in terms of the
output ``A`` where that is cheaper (sigmoid, tanh, ReLU), as in scikit-learn's
``_base.DERIVATIVES``. Arrays are ``(n_samples, n_units)``.
"""

from __future__ import annotations

from ..backend import backend_of, check_positive, namespace, resolve_name


class Activation:
    """A function pair: ``value(Z) = f(Z)`` and ``backward(dA, Z, A) = dA * f'(Z)``."""

    name = "activation"

    def value(self, Z, out=None):
        raise NotImplementedError

    def biased_value(self, Z, b, out=None):
        """``f(Z + b)``, leaving ``Z + b`` in ``Z``: a Dense layer's bias and activation."""
        Z += b
        return self.value(Z, out=out)

    def derivative(self, Z, A):
        """``dA/dZ`` element by element, shape of ``Z`` (element-wise activations only)."""
        raise NotImplementedError

    def backward(self, dA, Z, A, out=None):
        """``dL/dZ = dL/dA * f'(Z)``; writes into ``out`` when given."""
        xp = namespace(dA)
        return xp.multiply(dA, self.derivative(Z, A), out=out)

    def get_config(self) -> dict:
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}()"


class Identity(Activation):
    """``f(z) = z``, ``f'(z) = 1`` (the articles' "purelin")."""

    name = "identity"

    def value(self, Z, out=None):
        if out is None:
            return Z.copy()
        out[...] = Z
        return out

    def derivative(self, Z, A):
        xp = namespace(Z)
        return xp.ones_like(Z)

    def backward(self, dA, Z, A, out=None):
        if out is None:
            return dA.copy()
        out[...] = dA
        return out


class Sigmoid(Activation):
    """``f(z) = 1 / (1 + e^(-z))``, ``f'(z) = f(z) (1 - f(z))``.

    Computed from ``e = e^(-|z|)``, as ``1 / (1 + e)`` for ``z >= 0`` and ``e / (1 + e)``
    for ``z < 0``: it never overflows and keeps full relative precision for outputs
    near 0 (``f(-40) = 4.2e-18``, not 0), which log-losses and probabilities need.
    """

    name = "sigmoid"

    def value(self, Z, out=None):
        xp = namespace(Z)
        negative = Z < 0  # before `out`, which may be Z itself
        e = xp.exp(-xp.abs(Z))
        out = xp.add(e, 1.0, out=out)
        xp.reciprocal(out, out=out)
        xp.multiply(e, out, out=out, where=negative)
        return out

    def derivative(self, Z, A):
        return A * (1.0 - A)

    def backward(self, dA, Z, A, out=None):
        xp = namespace(dA)
        out = xp.subtract(1.0, A, out=out)
        out *= A
        out *= dA
        return out


class Tanh(Activation):
    """``f(z) = tanh(z)``, ``f'(z) = 1 - f(z)^2``."""

    name = "tanh"

    def value(self, Z, out=None):
        xp = namespace(Z)
        return xp.tanh(Z, out=out)

    def derivative(self, Z, A):
        return 1.0 - A * A

    def backward(self, dA, Z, A, out=None):
        xp = namespace(dA)
        out = xp.multiply(A, A, out=out)
        xp.subtract(1.0, out, out=out)
        out *= dA
        return out


class ReLU(Activation):
    """``f(z) = max(z, 0)``, ``f'(z) = 1 if z > 0 else 0``."""

    name = "relu"

    def value(self, Z, out=None):
        xp = namespace(Z)
        return xp.maximum(Z, 0, out=out)

    def biased_value(self, Z, b, out=None):
        # One pass (Z += b and the max together) instead of NumPy's two.
        xp = namespace(Z)
        kernels = backend_of(Z).kernels
        out = xp.empty_like(Z) if out is None else out
        kernels.relu_forward(Z, b, out)
        return out

    def derivative(self, Z, A):
        return (A > 0).astype(A.dtype)

    def backward(self, dA, Z, A, out=None):
        # One pass, where NumPy's multiply(dA, A > 0) makes a boolean temporary first.
        xp = namespace(dA)
        kernels = backend_of(dA).kernels
        out = xp.empty_like(dA) if out is None else out
        kernels.relu_backward(dA, A, out)
        return out


class LeakyReLU(Activation):
    """``f(z) = z if z > 0 else alpha z``, ``f'(z) = 1 if z > 0 else alpha``.

    `Maas et al. 2013 <https://ai.stanford.edu/~amaas/papers/relu_hybrid_icml2013_final.pdf>`_.
    """

    name = "leaky_relu"

    def __init__(self, alpha: float = 0.01):
        self.alpha = check_positive("alpha", alpha, allow_zero=True)

    def value(self, Z, out=None):
        # max(z, alpha z) equals the definition for 0 <= alpha <= 1.
        xp = namespace(Z)
        if self.alpha <= 1:
            return xp.maximum(Z, self.alpha * Z, out=out)
        return xp.where(Z > 0, Z, self.alpha * Z)

    def derivative(self, Z, A):
        xp = namespace(Z)
        return xp.where(Z > 0, 1.0, self.alpha).astype(Z.dtype)

    def backward(self, dA, Z, A, out=None):
        xp = namespace(dA)
        return xp.multiply(dA, self.derivative(Z, A), out=out)

    def get_config(self) -> dict:
        return {"name": self.name, "alpha": self.alpha}

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


class Exp(Activation):
    """``f(z) = e^z``, ``f'(z) = e^z`` (the log link of Poisson regression)."""

    name = "exp"

    def value(self, Z, out=None):
        xp = namespace(Z)
        return xp.exp(Z, out=out)

    def derivative(self, Z, A):
        return A.copy()

    def backward(self, dA, Z, A, out=None):
        xp = namespace(dA)
        return xp.multiply(dA, A, out=out)


class Softmax(Activation):
    """``f(z)_j = e^(z_j) / sum_k e^(z_k)`` over the last axis (a row's units, or a
    position's channels, as Keras); ``dL/dz = a * (dL/da - sum_k dL/da_k a_k)`` (the
    Jacobian-vector product).

    Values are shifted by their maximum first, so ``e^z`` never overflows.
    """

    name = "softmax"

    def value(self, Z, out=None):
        xp = namespace(Z)
        out = xp.subtract(Z, Z.max(axis=-1, keepdims=True), out=out)
        xp.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)
        return out

    def derivative(self, Z, A):
        """The Jacobian ``dA/dZ`` per sample, shape ``(n_samples, n_units, n_units)``."""
        xp = namespace(Z)
        eye = xp.eye(A.shape[1], dtype=A.dtype)
        return A[:, :, None] * (eye[None] - A[:, None, :])

    def backward(self, dA, Z, A, out=None):
        xp = namespace(dA)
        dot = xp.einsum("...j,...j->...", dA, A)[..., None]
        out = xp.subtract(dA, dot, out=out)
        out *= A
        return out


ACTIVATIONS = {
    "identity": Identity,
    "linear": Identity,
    "purelin": Identity,
    "sigmoid": Sigmoid,
    "logistic": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
    "exp": Exp,
}


def get_activation(activation) -> Activation:
    """Return an Activation from a name (see ``ACTIVATIONS``), a config dict or an instance."""
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, dict):
        config = dict(activation)
        return resolve_name("activation", config.pop("name", None), ACTIVATIONS)(**config)
    return resolve_name("activation", activation, ACTIVATIONS)()
