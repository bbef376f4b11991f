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

from ..backend import check_positive, namespace
from .schedules import LearningRateSchedule


def _check_learning_rate(learning_rate):
    if isinstance(learning_rate, LearningRateSchedule):
        return learning_rate
    return check_positive("learning_rate", learning_rate)


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
        self.state = {name: namespace(params).zeros_like(params) for name in self.state_names}

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
            xp = namespace(grads)
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
            if key == "convention" and value == "pytorch":
                continue  # the default rule: configs and files name only the other one
            if isinstance(value, LearningRateSchedule):
                value = value.get_config()
            config[key] = value
        return config

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "class_name")
        return f"{type(self).__name__}({args})"
