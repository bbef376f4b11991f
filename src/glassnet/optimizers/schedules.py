"""Learning-rate schedules: ``lr = schedule(step)``, Keras's names."""

from __future__ import annotations

import math

from ..backend import check_positive


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
