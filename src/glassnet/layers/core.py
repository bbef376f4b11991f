"""The core layers, one small class each, ``forward`` and directly below it ``backward``:
``Dense``, the activation layers, ``Flatten``, ``Dropout``. The protocol is in ``base``."""

from __future__ import annotations

import math
import numbers

from ..backend import check_fraction
from ..ops import activations as act
from ..ops.initializers import get_initializer
from .base import Layer, ParamSpec, initializer_config, without_class_name


class Dense(Layer):
    """Fully connected layer: ``Z = A @ W + b``, then ``A_out = f(Z)`` if ``activation``.

    ``W`` has shape ``(n_in, n_out)`` and ``b`` shape ``(n_out,)``: for one sample
    ``a`` this is the articles' ``z = Wᵀa + b``, and it is the layout of
    scikit-learn's ``coefs_``. Backward, for ``delta = dL/dZ``:
    ``dL/dW = Aᵀ @ delta``, ``dL/db = sum_rows(delta)``, ``dL/dA = delta @ Wᵀ``.

    Parameters
    ----------
    units : int
        Number of outputs ``n_out``.
    activation : str, Activation or None
        Applied after the affine map (``"relu"``, ``"sigmoid"``, ...); None is linear.
    input_dim : int, optional
        Number of inputs ``n_in``; inferred from the data on first use when omitted.
    kernel_initializer, bias_initializer : str, number, array or callable
        How ``W`` and ``b`` start; an explicit array sets exact values.

    Examples
    --------
    >>> import numpy as np, glassnet as gn
    >>> layer = gn.Dense(2, input_dim=3, kernel_initializer=np.ones((3, 2)))
    >>> net = gn.Sequential([layer], loss="mse")
    >>> net.predict(np.array([[1.0, 2.0, 3.0]]))
    array([[6., 6.]], dtype=float32)
    """

    kind = "dense"

    def __init__(
        self,
        units: int,
        activation=None,
        input_dim: int | None = None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
    ):
        super().__init__()
        if not isinstance(units, numbers.Integral) or isinstance(units, bool) or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}.")
        if input_dim is not None and (not isinstance(input_dim, numbers.Integral)
                                      or isinstance(input_dim, bool) or input_dim < 1):
            raise ValueError(f"input_dim must be a positive integer or None, got {input_dim!r}.")
        self.units = int(units)
        self.activation = None if activation is None else act.get_activation(activation)
        self.input_dim = None if input_dim is None else int(input_dim)
        self.kernel_initializer = get_initializer(kernel_initializer)
        self.bias_initializer = get_initializer(bias_initializer)
        self._initializer_names = (kernel_initializer, bias_initializer)
        self._ones = None  # a column of ones for dL/db, kept per batch size

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 1:
            raise ValueError(
                "Dense takes vectors (samples of shape (n_features,)): put glassnet.Flatten() "
                f"before it to turn each sample into a vector of {math.prod(input_shape)} "
                "features."
            )
        if self.input_dim is not None and self.input_dim != input_shape[0]:
            raise ValueError(
                f"Layer {self!r} was declared with input_dim={self.input_dim}, but it "
                f"receives {input_shape[0]} features."
            )
        self.input_shape, self.output_shape = input_shape, (self.units,)
        return self.output_shape

    def param_specs(self, input_shape):
        n_in, n_out = input_shape[0], self.units
        return [ParamSpec("W", (n_in, n_out), self.kernel_initializer, (n_in, n_out)),
                ParamSpec("b", (n_out,), self.bias_initializer, (n_out, n_out))]

    @property
    def W(self):
        return self.params[0]

    @property
    def b(self):
        return self.params[1]

    def forward(self, A, training=False, activate=True):
        xp = self.xp
        self._A, self._Z, self._out = A, None, None
        Z = xp.matmul(A, self.W, out=self._buffer("Z", (len(A), self.units), A.dtype, training))
        if self.activation is None or not activate:
            Z += self.b
            self._Z = Z
            return Z
        self._Z = Z
        out = self._buffer("out", Z.shape, Z.dtype, training)
        self._out = self.activation.biased_value(Z, self.b, out=out)
        return self._out

    def backward(self, dOut, need_input_grad=True, activate=True):
        xp = self.xp
        if self.activation is None or not activate:
            delta = dOut
        else:
            buf = self._buffer("delta", dOut.shape, dOut.dtype, True)
            delta = self.activation.backward(dOut, self._Z, self._out, out=buf)
        gW, gb = self.grads
        xp.matmul(self._A.T, delta, out=gW)
        # dL/db = 1ᵀ·delta: a BLAS matrix-vector product, 3-4x faster than delta.sum(axis=0).
        ones = self._ones
        if ones is None or len(ones) != len(delta) or ones.dtype != delta.dtype:
            ones = self._ones = xp.ones(len(delta), dtype=delta.dtype)
        xp.matmul(ones, delta, out=gb)
        self._delta = delta
        if not need_input_grad:
            return None
        shape = (len(delta), self.W.shape[0])
        return xp.matmul(delta, self.W.T, out=self._buffer("dA", shape, delta.dtype, True))

    def trace_fields(self):
        return {"A": self._A, "W": self.W, "b": self.b, "Z": self._Z, "out": self._out,
                "delta": getattr(self, "_delta", None), "dW": self.grads[0], "db": self.grads[1]}

    def get_config(self):
        return {
            "class_name": "Dense",
            "units": self.units,
            "activation": None if self.activation is None else self.activation.get_config(),
            "input_dim": self.input_dim,
            **initializer_config(self._initializer_names),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**without_class_name(config))


class Activation(Layer):
    """A layer that applies an activation function element by element (or per row)."""

    kind = "activation"

    def __init__(self, activation):
        super().__init__()
        self.activation = act.get_activation(activation)

    def forward(self, A, training=False, activate=True):
        self._Z, self._out = A, None
        if not activate:
            return A
        out = self._buffer("out", A.shape, A.dtype, training)
        self._out = self.activation.value(A, out=out)
        return self._out

    def backward(self, dOut, need_input_grad=True, activate=True):
        if not activate:
            return dOut
        buf = self._buffer("dA", dOut.shape, dOut.dtype, True)
        return self.activation.backward(dOut, self._Z, self._out, out=buf)

    def trace_fields(self):
        return {"A": self._Z, "Z": self._Z, "out": self._out}

    def get_config(self):
        return {"class_name": "Activation", "activation": self.activation.get_config()}

    def __repr__(self):
        return f"{type(self).__name__}({self.activation!r})"

    @classmethod
    def from_config(cls, config):
        return cls(config["activation"])


class Sigmoid(Activation):
    """``A = 1 / (1 + e^(-Z))``; ``dL/dZ = dL/dA * A (1 - A)``."""

    kind = "sigmoid"

    def __init__(self):
        super().__init__("sigmoid")


class Tanh(Activation):
    """``A = tanh(Z)``; ``dL/dZ = dL/dA * (1 - A^2)``."""

    kind = "tanh"

    def __init__(self):
        super().__init__("tanh")


class ReLU(Activation):
    """``A = max(Z, 0)``; ``dL/dZ = dL/dA * [Z > 0]``."""

    kind = "relu"

    def __init__(self):
        super().__init__("relu")


class LeakyReLU(Activation):
    """``A = Z if Z > 0 else alpha Z``; ``dL/dZ = dL/dA * (1 if Z > 0 else alpha)``."""

    kind = "leaky_relu"

    def __init__(self, alpha: float = 0.01):
        super().__init__(act.LeakyReLU(alpha))

    def __repr__(self):
        return f"LeakyReLU(alpha={self.activation.alpha})"


class Identity(Activation):
    """``A = Z``; ``dL/dZ = dL/dA`` (the articles' "purelin")."""

    kind = "identity"

    def __init__(self):
        super().__init__("identity")


class Softmax(Activation):
    """``A_ij = e^(Z_ij) / sum_k e^(Z_ik)``; ``dL/dZ = A * (dL/dA - sum_k dL/dA_k A_k)``."""

    kind = "softmax"

    def __init__(self):
        super().__init__("softmax")


class Flatten(Layer):
    """``(n_samples, d1, d2, ...) -> (n_samples, d1 * d2 * ...)``, for image inputs;
    backward reshapes the gradient back. A view, not a copy, for contiguous input.
    """

    kind = "flatten"

    def build(self, input_shape):
        self.input_shape, self.output_shape = tuple(input_shape), (math.prod(input_shape),)
        return self.output_shape

    def forward(self, A, training=False, activate=True):
        self._shape = A.shape
        return A.reshape(len(A), -1)

    def backward(self, dOut, need_input_grad=True, activate=True):
        return dOut.reshape(self._shape)

    @classmethod
    def from_config(cls, config):
        return cls()


class Dropout(Layer):
    """Inverted dropout: ``A_out = A * M / (1 - rate)`` with ``M_ij ~ Bernoulli(1 - rate)``
    while training, ``A_out = A`` in prediction; ``dL/dA = dL/dA_out * M / (1 - rate)``.

    `Srivastava et al. 2014 <https://jmlr.org/papers/v15/srivastava14a.html>`_.

    ``fix_mask(keep)`` makes every training pass use the given ``M`` instead of a fresh
    draw (for gradient checks, or to replay another library's mask); ``fix_mask(None)``
    goes back to drawing.
    """

    kind = "dropout"
    #: A fixed boolean mask ``M`` (see ``fix_mask``), or None to draw one per pass.
    fixed_keep = None

    def __init__(self, rate: float):
        super().__init__()
        self.rate = check_fraction("rate", rate, low_open=False)

    def fix_mask(self, keep):
        """Use ``keep`` (0/1 or booleans, of the shape of this layer's input) as ``M`` in
        every training pass from now on; ``None`` draws a fresh mask per pass again.
        """
        if keep is not None:
            keep = self.xp.asarray(keep)
            if not self.xp.isin(keep, (0, 1)).all():
                raise ValueError("A dropout mask must hold only 0 (dropped) and 1 (kept).")
            keep = keep.astype(bool)
        self.fixed_keep = keep

    def hold_randomness(self):
        if self.fixed_keep is None and getattr(self, "_mask", None) is not None:
            self.fix_mask(self._mask != 0)

    def copy_randomness(self, other):
        self.fix_mask(other.fixed_keep)

    def forward(self, A, training=False, activate=True):
        xp = self.xp
        if not training or self.rate == 0:
            self._mask = None
            return A
        keep = 1.0 - self.rate
        mask = self._buffer("mask", A.shape, A.dtype, True)
        if self.fixed_keep is not None:
            if self.fixed_keep.shape != A.shape:
                raise ValueError(f"The fixed dropout mask has shape {self.fixed_keep.shape}, "
                                 f"but the layer's input has shape {A.shape}.")
            mask[...] = self.fixed_keep
        elif self.rng is None:
            raise RuntimeError("Dropout needs a random generator: use it inside a Sequential.")
        else:
            self.rng.random(out=mask, dtype=mask.dtype)
            # mask = [u < keep], in place.
            xp.less(mask, keep, out=mask)
        mask *= 1.0 / keep
        self._mask = mask
        return xp.multiply(A, mask, out=self._buffer("out", A.shape, A.dtype, True))

    def backward(self, dOut, need_input_grad=True, activate=True):
        if self._mask is None:
            return dOut
        buf = self._buffer("dA", dOut.shape, dOut.dtype, True)
        return self.xp.multiply(dOut, self._mask, out=buf)

    def get_config(self):
        return {"class_name": "Dropout", "rate": self.rate}

    @classmethod
    def from_config(cls, config):
        return cls(config["rate"])
