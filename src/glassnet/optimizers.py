"""Optimizers: update rules on the network's flat parameter buffer, in place.

Each optimizer holds its per-parameter state (flat arrays shaped like the
parameters) and one rule, ``_update(p, g, lr, scale, l2)``. The shared ``step`` does
the bookkeeping: counting steps, the learning-rate schedule, gradient clipping (as a
factor ``scale`` on the gradient) and L2 weight decay (``l2``). As parameters,
gradients and state are each one contiguous buffer, a rule is one call of a fused
loop in ``_kernels.c`` that reads each element once, rather than a Python loop over
layers or a chain of NumPy passes over the buffers.

The rules follow PyTorch's ``torch.optim`` (and agree with it to 1e-6 in the
tests); ``weight_decay`` is L2 (``g <- g + wd p``, applied to every parameter,
biases included) except in AdamW, where it is decoupled. Simplest first:
SGD, SGD with momentum, RMSprop, Adam, AdamW.
"""

from __future__ import annotations

import math

from .backend import check_fraction, check_positive, kernels, resolve_name, xp

# -- learning-rate schedules ---------------------------------------------------------


class LearningRateSchedule:
    """``lr = schedule(step)``, with ``step`` the number of updates already made (from 0)."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"class_name": type(self).__name__, **vars(self)}


class ExponentialDecay(LearningRateSchedule):
    """``lr = lr0 * rate^(step / decay_steps)``; with ``staircase=True`` the exponent is
    ``floor(step / decay_steps)``, which is step decay.
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        self.initial_learning_rate = check_positive("initial_learning_rate", initial_learning_rate)
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.decay_rate = check_positive("decay_rate", decay_rate)
        self.staircase = bool(staircase)

    def __call__(self, step):
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return self.initial_learning_rate * self.decay_rate**exponent


class InverseScaling(LearningRateSchedule):
    """``lr = lr0 / (step + 1)^power_t`` (scikit-learn's ``'invscaling'``, counted in updates)."""

    def __init__(self, initial_learning_rate, power_t=0.5):
        self.initial_learning_rate = check_positive("initial_learning_rate", initial_learning_rate)
        self.power_t = check_positive("power_t", power_t, allow_zero=True)

    def __call__(self, step):
        return self.initial_learning_rate / (step + 1) ** self.power_t


SCHEDULES = {"exponentialdecay": ExponentialDecay, "inversescaling": InverseScaling}


def _check_learning_rate(learning_rate):
    if isinstance(learning_rate, LearningRateSchedule):
        return learning_rate
    return check_positive("learning_rate", learning_rate)


# -- optimizers ----------------------------------------------------------------------


class Optimizer:
    """The shared loop: ``step(params, grads)`` counts, schedules, clips, then updates.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule
    weight_decay : float
        L2 penalty added to the gradient, ``g <- g + weight_decay * p``.
    clipnorm : float, optional
        Rescale the whole gradient to this global L2 norm when it is larger.
    """

    #: Names of the per-parameter state buffers (each shaped like the parameters).
    state_names: tuple[str, ...] = ()

    def __init__(self, learning_rate, weight_decay=0.0, clipnorm=None):
        self.learning_rate = _check_learning_rate(learning_rate)
        self.weight_decay = check_positive("weight_decay", weight_decay, allow_zero=True)
        self.clipnorm = None if clipnorm is None else check_positive("clipnorm", clipnorm)
        self.iterations = 0
        self.state = {}

    @property
    def current_learning_rate(self) -> float:
        """The learning rate the next step will use."""
        if isinstance(self.learning_rate, LearningRateSchedule):
            return float(self.learning_rate(self.iterations))
        return float(self.learning_rate)

    def build(self, params):
        """Allocate zeroed state buffers shaped like the flat ``params``."""
        self.state = {name: xp.zeros_like(params) for name in self.state_names}

    def step(self, params, grads):
        """Apply one update to ``params`` (in place) from ``grads``."""
        if self.state.keys() != set(self.state_names) or any(
                s.shape != params.shape for s in self.state.values()):
            self.build(params)
        elif any(s.dtype != params.dtype for s in self.state.values()):
            # The network changed dtype (e.g. a float64 copy): keep the state's values.
            self.state = {k: s.astype(params.dtype) for k, s in self.state.items()}
        lr = self.current_learning_rate
        self.iterations += 1
        scale = 1.0
        if self.clipnorm is not None:
            norm = float(xp.sqrt(xp.dot(grads, grads)))
            if norm > self.clipnorm:
                scale = self.clipnorm / norm
        l2 = self.weight_decay if self._l2_in_gradient else 0.0
        self._update(params, grads, lr, scale, l2)

    #: False where weight decay is not an L2 term of the gradient (AdamW).
    _l2_in_gradient = True

    def _update(self, p, g, lr, scale, l2):
        """The rule, for the gradient ``g' = scale g + l2 p``."""
        raise NotImplementedError

    def get_config(self) -> dict:
        config = {"class_name": type(self).__name__}
        for key, value in vars(self).items():
            if key.startswith("_") or key in ("state", "iterations", "state_names"):
                continue
            if isinstance(value, LearningRateSchedule):
                value = value.get_config()
            config[key] = value
        return config

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "class_name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Gradient descent, with optional (Nesterov) momentum.

    Plain: ``p <- p - lr g``. Momentum ``mu``: ``v <- mu v + g``, ``p <- p - lr v``.
    Nesterov: ``v <- mu v + g``, ``p <- p - lr (g + mu v)``
    (`Sutskever et al. 2013 <https://proceedings.mlr.press/v28/sutskever13.html>`_).
    """

    state_names = ("velocity",)

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=0.0,
                 clipnorm=None):
        super().__init__(learning_rate, weight_decay, clipnorm)
        self.momentum = check_fraction("momentum", momentum, low_open=False)
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0, got momentum=0.")
        self.nesterov = bool(nesterov)
        self.state_names = ("velocity",) if self.momentum else ()

    def _update(self, p, g, lr, scale, l2):
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
        kernels.rmsprop(p, g, self.state["square_avg"], self.state.get("momentum_buffer"), lr,
                         self.rho, self.epsilon, self.momentum, scale, l2)


class Adam(Optimizer):
    """``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``,
    ``p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.

    `Kingma & Ba 2015 <https://arxiv.org/abs/1412.6980>`_.
    """

    state_names = ("m", "v")

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 weight_decay=0.0, clipnorm=None):
        super().__init__(learning_rate, weight_decay, clipnorm)
        self.beta_1 = check_fraction("beta_1", beta_1, low_open=False)
        self.beta_2 = check_fraction("beta_2", beta_2, low_open=False)
        self.epsilon = check_positive("epsilon", epsilon)

    def _update(self, p, g, lr, scale, l2, decay=1.0):
        t = self.iterations
        b1, b2 = self.beta_1, self.beta_2
        # p <- decay p - step m / (c2 sqrt(v) + eps), the bias corrections folded into
        # step = lr / (1 - b1^t) and c2 = 1 / sqrt(1 - b2^t).
        kernels.adam(p, g, self.state["m"], self.state["v"], lr / (1.0 - b1**t), b1, b2,
                      1.0 / math.sqrt(1.0 - b2**t), self.epsilon, decay, scale, l2)


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
