"""The fit loop: epochs, batches, validation, callbacks, Ctrl-C and divergence."""

from .loop import DivergenceError, evaluate_prepared, fit

__all__ = ["DivergenceError", "evaluate_prepared", "fit"]
