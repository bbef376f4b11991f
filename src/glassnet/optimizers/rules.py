"""The update rules, simplest first: SGD (with momentum, Nesterov), RMSprop, Adam, AdamW."""

from __future__ import annotations

import math

from ..backend import backend_of, check_fraction, check_positive, resolve_name
from .base import Optimizer
from .schedules import SCHEDULES


def _check_convention(convention):
    if convention not in ("pytorch", "sklearn"):
        raise ValueError(f"convention must be 'pytorch' or 'sklearn', got {convention!r}.")
    return convention


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum.

    Plain: ``p <- p - lr g``. Momentum ``mu``: ``v <- mu v + g``, ``p <- p - lr v``.
    Nesterov: ``v <- mu v + g``, ``p <- p - lr (g + mu v)``
    (`Sutskever et al. 2013 <https://proceedings.mlr.press/v28/sutskever13.html>`_).

    ``convention="sklearn"`` is scikit-learn's ``SGDOptimizer`` instead: ``v <- mu v - lr g``,
    ``p <- p + v`` (Nesterov: ``p <- p + mu v - lr g``). Its velocity holds
    learning-rate-weighted gradients, so a learning rate changed between epochs
    ('invscaling', 'adaptive') acts on new gradients only, where PyTorch's rule rescales the
    whole velocity. The estimators use it; the fused loop computes it with ``lr = -1`` and
    the gradient scaled by ``-lr``, operation for operation.
    """

    state_names = ("velocity",)

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0,
                 clipnorm=None, convention="pytorch"):
        super().__init__(learning_rate, weight_decay, clipnorm)
        self.convention = _check_convention(convention)
        self.momentum = check_fraction("momentum", momentum, low_open=False)
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0, got momentum=0.")
        self.nesterov = bool(nesterov)
        self.state_names = ("velocity",) if self.momentum else ()

    def _update(self, p, g, lr, scale, l2):
        kernels = backend_of(p).kernels
        if self.convention == "sklearn":
            lr, scale, l2 = -1.0, -lr * scale, -lr * l2
        kernels.sgd(p, g, self.state.get("velocity"), lr, self.momentum, self.nesterov, scale,
                    l2)


class RMSprop(Optimizer):
    """``v <- rho v + (1 - rho) g^2``, ``p <- p - lr g / (sqrt(v) + eps)``;
    with momentum ``mu``: ``u <- mu u + g / (sqrt(v) + eps)``, ``p <- p - lr u``.

    (Hinton, `Lecture 6e <https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf>`_.)
    """

    def __init__(self, learning_rate=1e-3, rho=0.9, epsilon=1e-7, momentum=0.0,
                 weight_decay=0.0, clipnorm=None):
        super().__init__(learning_rate, weight_decay, clipnorm)
        self.rho = check_fraction("rho", rho, low_open=False)
        self.epsilon = check_positive("epsilon", epsilon)
        self.momentum = check_fraction("momentum", momentum, low_open=False)
        self.state_names = ("square_avg", "momentum_buffer") if self.momentum else ("square_avg",)

    def _update(self, p, g, lr, scale, l2):
        kernels = backend_of(p).kernels
        kernels.rmsprop(p, g, self.state["square_avg"], self.state.get("momentum_buffer"), lr,
                         self.rho, self.epsilon, self.momentum, scale, l2)


class Adam(Optimizer):
    """``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.

    `Kingma & Ba 2015 <https://arxiv.org/abs/1412.6980>`_.

    ``convention="sklearn"`` is scikit-learn's ``AdamOptimizer``:
    ``p <- p - lr_t m / (sqrt(v) + eps)`` with ``lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)``, so
    ``eps`` is added to the uncorrected ``sqrt(v)``.
    """

    state_names = ("m", "v")

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 weight_decay=0.0, clipnorm=None, convention="pytorch"):
        super().__init__(learning_rate, weight_decay, clipnorm)
        self.convention = _check_convention(convention)
        self.beta_1 = check_fraction("beta_1", beta_1, low_open=False)
        self.beta_2 = check_fraction("beta_2", beta_2, low_open=False)
        self.epsilon = check_positive("epsilon", epsilon)

    def _update(self, p, g, lr, scale, l2, decay=1.0):
        t = self.iterations
        b1, b2 = self.beta_1, self.beta_2
        # p <- decay p - step m / (c2 sqrt(v) + eps), the bias corrections folded into
        # step = lr / (1 - b1^t) and c2 = 1 / sqrt(1 - b2^t).
        step, c2 = lr / (1.0 - b1**t), 1.0 / math.sqrt(1.0 - b2**t)
        if self.convention == "sklearn":
            step, c2 = lr * math.sqrt(1.0 - b2**t) / (1.0 - b1**t), 1.0
        kernels = backend_of(p).kernels
        kernels.adam(p, g, self.state["m"], self.state["v"], step, b1, b2, c2, self.epsilon,
                     decay, scale, l2)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p <- p - lr wd p`` first, then the Adam step.

    `Loshchilov & Hutter 2019 <https://arxiv.org/abs/1711.05101>`_.
    """

    _l2_in_gradient = False

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 weight_decay=0.01, clipnorm=None):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, clipnorm)

    def _update(self, p, g, lr, scale, l2):
        super()._update(p, g, lr, scale, l2, decay=1.0 - lr * self.weight_decay)


OPTIMIZERS = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def get_optimizer(optimizer) -> Optimizer:
    """Return an Optimizer from a name (default settings), a config dict or an instance."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, dict):
        config = dict(optimizer)
        cls = resolve_name("optimizer", str(config.pop("class_name", "")).lower(), OPTIMIZERS)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            lr = dict(lr)
            schedule = resolve_name("schedule", str(lr.pop("class_name", "")).lower(), SCHEDULES)
            config["learning_rate"] = schedule(**lr)
        return cls(**config)
    return resolve_name("optimizer", optimizer, OPTIMIZERS)()
