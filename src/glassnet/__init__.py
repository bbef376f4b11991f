"""glassnet: a neural-network library in which every step of learning can be seen."""

from .callbacks import (
    Callback,
    EarlyStopping,
    GradientStats,
    History,
    ProgressBar,
    ProgressLogger,
    ReduceLROnPlateau,
    TargetLoss,
)
from .gradcheck import gradcheck
from .layers import (
    Activation,
    Dense,
    Dropout,
    Flatten,
    Identity,
    Layer,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .losses import BinaryCrossEntropy, CrossEntropy, MeanSquaredError
from .network import Sequential
from .optimizers import (
    SGD,
    Adam,
    AdamW,
    ExponentialDecay,
    InverseScaling,
    Optimizer,
    RMSprop,
)

__version__ = "0.1.0"

# Names from modules that are imported on first use, so `import glassnet` stays light
# (scikit-learn, matplotlib and the like load only when asked for).
_LAZY = {
    "MLPClassifier": "estimators",
    "MLPRegressor": "estimators",
    "trace_step": "trace",
    "StepTrace": "trace",
    "plot_history": "plot",
    "plot_gradients": "plot",
    "plot_decision_boundary": "plot",
    "plot_network": "plot",
    "save": "io",
    "load": "io",
    "ModelFileError": "io",
    "DivergenceError": "training",

    "Checkpoint": "callbacks",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name == "examples":
        import importlib

        return importlib.import_module(".examples", __name__)
    raise AttributeError(f"module 'glassnet' has no attribute {name!r}")

__all__ = [
    "Activation", "Adam", "AdamW", "BinaryCrossEntropy", "Callback", "CrossEntropy", "Dense",
    "Dropout", "EarlyStopping", "ExponentialDecay", "Flatten", "GradientStats", "History",
    "Identity", "InverseScaling", "Layer", "LeakyReLU", "MeanSquaredError", "Optimizer",
    "ProgressBar", "ProgressLogger", "RMSprop", "ReLU", "ReduceLROnPlateau", "SGD", "Sequential",
    "Sigmoid", "Softmax", "Tanh", "TargetLoss", "gradcheck", *_LAZY,
]
