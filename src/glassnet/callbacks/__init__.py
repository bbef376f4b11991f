"""Callbacks for ``fit``: stopping rules, learning-rate control, progress, checkpoints and
gradient statistics. Each is an ordinary :class:`Callback`; ``History`` is one too.
"""

from .base import Callback, History
from .checkpoint import Checkpoint
from .gradient_stats import GradientStats
from .progress import ProgressBar, ProgressLogger
from .stopping import EarlyStopping, ReduceLROnPlateau, TargetLoss

__all__ = [
    "Callback", "Checkpoint", "EarlyStopping", "GradientStats", "History", "ProgressBar",
    "ProgressLogger", "ReduceLROnPlateau", "TargetLoss",
]
