"""glassnet: a neural-network library in which every step of learning can be seen."""

from .callbacks import (
    Callback,
    EarlyStopping,
    History,
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

__all__ = [
    "Activation", "Adam", "AdamW", "BinaryCrossEntropy", "Callback", "CrossEntropy", "Dense",
    "Dropout", "EarlyStopping", "ExponentialDecay", "Flatten", "History", "Identity",
    "InverseScaling", "Layer", "LeakyReLU", "MeanSquaredError", "Optimizer", "ProgressLogger",
    "RMSprop", "ReLU", "ReduceLROnPlateau", "SGD", "Sequential", "Sigmoid", "Softmax", "Tanh",
    "TargetLoss", "gradcheck",
]
