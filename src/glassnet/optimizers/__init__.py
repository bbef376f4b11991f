"""Optimizers: update rules on the network's flat parameter buffer, and learning-rate
schedules."""

from .base import Optimizer
from .rules import OPTIMIZERS, SGD, Adam, AdamW, RMSprop, get_optimizer
from .schedules import SCHEDULES, ExponentialDecay, InverseScaling, LearningRateSchedule

__all__ = [
    "OPTIMIZERS", "SCHEDULES", "SGD", "Adam", "AdamW", "ExponentialDecay", "InverseScaling",
    "LearningRateSchedule", "Optimizer", "RMSprop", "get_optimizer",
]
