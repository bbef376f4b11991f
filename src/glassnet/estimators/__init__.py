"""scikit-learn's ``MLPClassifier`` and ``MLPRegressor``, on glassnet's engine: the same
parameters, attributes and behaviour, plus what scikit-learn lacks (dropout, sample weights
with every solver, callbacks, a model file)."""

from .mlp import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
