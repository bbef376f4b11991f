"""glassnet: a neural-network library in which every step of learning can be seen."""

from ._version import __version__  # noqa: F401
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
from .glass.gradcheck import gradcheck
from .layers import (
    Activation,
    AveragePooling1D,
    AveragePooling2D,
    BatchNormalization,
    Conv1D,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    Identity,
    Layer,
    LeakyReLU,
    MaxPooling1D,
    MaxPooling2D,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .models import Sequential
from .network import Network
from .ops.losses import BinaryCrossEntropy, CrossEntropy, MeanSquaredError
from .optimizers import (
    SGD,
    Adam,
    AdamW,
    ExponentialDecay,
    InverseScaling,
    Optimizer,
    RMSprop,
)

# Names from modules that are imported on first use, so `import glassnet` stays light
# (scikit-learn, matplotlib and the like load only when asked for).
_LAZY = {
    "MLPClassifier": "estimators",
    "MLPRegressor": "estimators",
    "trace_step": "glass.trace",
    "StepTrace": "glass.trace",
    "plot_history": "glass.plot",
    "plot_gradients": "glass.plot",
    "plot_decision_boundary": "glass.plot",
    "plot_network": "glass.plot",
    "plot_filters": "glass.plot",
    "plot_feature_maps": "glass.plot",
    "ModelFileError": "io",
    "DivergenceError": "training",
    "Checkpoint": "callbacks",
    "LiveView": "live",
    "TensorBoard": "live",
    "to_onnx": "export.onnx",
    "from_torch": "export.torch",
    "save_weights": "io.weights",
    "load_weights": "io.weights",
}


def save(model, path, *, epochs_done=None):
    """Write ``model`` (a ``Sequential`` or a fitted ``MLPClassifier``/``MLPRegressor``) to
    ``path`` atomically: a ``.glassnet`` file that holds data only.

    Parameters
    ----------
    model : Sequential, MLPClassifier or MLPRegressor
    path : str or os.PathLike
        Conventionally ending in ``.glassnet``.
    epochs_done : int, optional
        Epochs trained so far, for ``fit(..., resume_from=path)``; defaults to the
        epochs recorded by the network's last ``fit``.

    Examples
    --------
    >>> import numpy as np, glassnet as gn, tempfile, os
    >>> net = gn.Sequential([gn.Dense(1, input_dim=2)], loss="mse", random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "net.glassnet")
    >>> gn.save(net.build(2), path)
    >>> X = np.ones((1, 2))
    >>> bool((gn.load(path).predict(X) == net.predict(X)).all())
    True
    """
    from .io import save_network

    if isinstance(model, Sequential):
        model.check_built()
        return save_network(model, path, kind="Sequential", epochs_done=epochs_done)
    if type(model).__name__ in ("MLPClassifier", "MLPRegressor") and \
            type(model).__module__.startswith("glassnet.estimators"):
        return model.save(path)
    raise TypeError(
        f"model must be a glassnet Sequential, MLPClassifier or MLPRegressor, got "
        f"{type(model).__name__}."
    )


def load(path):
    """Read a model written by :func:`save`: a ``Sequential`` or a fitted estimator.

    Raises
    ------
    ModelFileError
        If ``path`` is missing, a directory, not a ``.glassnet`` file, damaged,
        from a newer glassnet, or inconsistent in any way.
    """
    from .io import load as load_file

    def finish(kind, config, net):
        if kind == "Sequential":
            return net
        from .estimators import MLPClassifier, MLPRegressor  # scikit-learn: loaded on demand
        from .estimators.file import estimator_from_config

        cls = {"MLPClassifier": MLPClassifier, "MLPRegressor": MLPRegressor}[kind]
        return estimator_from_config(cls, config, net)

    return load_file(path, network_class=Sequential, finish=finish)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name == "examples":
        import importlib

        return importlib.import_module(".examples", __name__)
    raise AttributeError(f"module 'glassnet' has no attribute {name!r}")

__all__ = [
    "Activation", "Adam", "AdamW", "AveragePooling1D", "AveragePooling2D", "BatchNormalization",
    "BinaryCrossEntropy", "Callback", "Conv1D", "Conv2D", "CrossEntropy", "Dense",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
    "GlobalMaxPooling2D", "MaxPooling1D", "MaxPooling2D",
    "Dropout", "EarlyStopping", "ExponentialDecay", "Flatten", "GradientStats", "History",
    "Identity", "InverseScaling", "Layer", "LeakyReLU", "MeanSquaredError", "Network", "Optimizer",
    "ProgressBar", "ProgressLogger", "RMSprop", "ReLU", "ReduceLROnPlateau", "SGD", "Sequential",
    "Sigmoid", "Softmax", "Tanh", "TargetLoss", "gradcheck", "load", "save", *_LAZY,
]
