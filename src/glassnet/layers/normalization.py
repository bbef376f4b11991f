"""``BatchNormalization`` (Keras's arguments and update rule), after Dense or conv layers.

Training, over every axis but the features' (the last):
``mu = mean(x)``, ``var = mean((x - mu)^2)`` (the biased variance),
``x_hat = (x - mu) / sqrt(var + eps)``, ``y = gamma x_hat + beta``, and the moving statistics
(layer state, not trained) ``moving = momentum * moving + (1 - momentum) * batch``.
Prediction uses the moving statistics. Backward (training), with ``m`` values per feature:
``dL/dbeta = sum(dy)``, ``dL/dgamma = sum(dy x_hat)``,
``dL/dx = gamma / sqrt(var + eps) * (dy - mean(dy) - x_hat * mean(dy x_hat))``.
`Ioffe & Szegedy 2015 <https://arxiv.org/abs/1502.03167>`_.
"""

from __future__ import annotations

from ..backend import check_fraction, check_positive
from ..ops.initializers import get_initializer
from .base import Layer, ParamSpec, StateSpec


class BatchNormalization(Layer):
    """Normalize each feature (the last axis) by its batch statistics while training and by
    their moving averages in prediction; then scale by ``gamma`` and shift by ``beta``.

    Parameters
    ----------
    axis : int, default -1
        The feature axis; only the last (channels-last) is supported.
    momentum : float, default 0.99
        Of the moving mean and variance.
    epsilon : float, default 1e-3
    center, scale : bool, default True
        Learn ``beta`` / ``gamma`` (else 0 / 1).
    """

    kind = "batch_normalization"

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True):
        super().__init__()
        if axis != -1:
            raise ValueError(f"axis must be -1 (the channels-last feature axis), got {axis!r}.")
        self.axis = -1
        self.momentum = check_fraction("momentum", momentum, low_open=False)
        self.epsilon = check_positive("epsilon", epsilon)
        self.center, self.scale = bool(center), bool(scale)

    def param_specs(self, input_shape):
        c = input_shape[-1]
        specs = []
        if self.scale:
            specs.append(ParamSpec("gamma", (c,), get_initializer("ones"), (c, c)))
        if self.center:
            specs.append(ParamSpec("beta", (c,), get_initializer("zeros"), (c, c)))
        return specs

    def state_specs(self, input_shape):
        c = input_shape[-1]
        return [StateSpec("moving_mean", (c,), 0.0), StateSpec("moving_variance", (c,), 1.0)]

    def _gamma_beta(self):
        params = list(self.params)
        gamma = params.pop(0) if self.scale else None
        beta = params.pop(0) if self.center else None
        return gamma, beta

    def forward(self, A, training=False, activate=True):
        xp = self.xp
        moving_mean, moving_var = self.state
        gamma, beta = self._gamma_beta()
        X = A.reshape(-1, A.shape[-1])
        if training:
            mean = X.mean(axis=0)
            var = ((X - mean) ** 2).mean(axis=0)
            moving_mean *= self.momentum
            moving_mean += (1 - self.momentum) * mean
            moving_var *= self.momentum
            moving_var += (1 - self.momentum) * var
        else:
            mean, var = moving_mean, moving_var
        inv_std = 1.0 / xp.sqrt(var + self.epsilon)
        xhat = (X - mean) * inv_std
        self._xhat, self._inv_std, self._training = xhat, inv_std, training
        Y = xhat if gamma is None else xhat * gamma
        if beta is not None:
            Y = Y + beta
        return Y.reshape(A.shape).astype(A.dtype, copy=False)

    def backward(self, dOut, need_input_grad=True, activate=True):
        gamma, _ = self._gamma_beta()
        dY = dOut.reshape(-1, dOut.shape[-1])
        xhat, grads = self._xhat, list(self.grads)
        if self.scale:
            grads.pop(0)[...] = (dY * xhat).sum(axis=0)
        if self.center:
            grads.pop(0)[...] = dY.sum(axis=0)
        if not need_input_grad:
            return None
        g = 1.0 if gamma is None else gamma
        if not self._training:  # the statistics are constants
            return (dY * (g * self._inv_std)).reshape(dOut.shape)
        dX = (g * self._inv_std) * (dY - dY.mean(axis=0) - xhat * (dY * xhat).mean(axis=0))
        return dX.reshape(dOut.shape).astype(dOut.dtype, copy=False)

    def get_config(self):
        return {"class_name": "BatchNormalization", "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale}

    @classmethod
    def from_config(cls, config):
        return cls(**{k: v for k, v in config.items() if k != "class_name"})
