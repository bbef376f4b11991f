"""The estimators on the engine: the network with scikit-learn's objective (the L2 penalty
and the scales of the squared error), scikit-learn's initializer, and the callback that
keeps scikit-learn's per-epoch bookkeeping (and its progress lines); the helpers for warnings
at the user's line and for layers too large to allocate."""

from __future__ import annotations

import sys
import warnings

import numpy as np
from sklearn.exceptions import DataConversionWarning

from ..backend import format_bytes, physical_memory
from ..callbacks import Callback
from ..data.dask import is_dask_collection
from ..layers import Dense
from ..models import Sequential


class _UniformInit:
    """``U(-bound, bound)``: scikit-learn's Glorot initialization, for kernels and biases."""

    def __init__(self, bound):
        self.bound = bound

    def __call__(self, shape, rng, dtype):
        return rng.uniform(-self.bound, self.bound, size=shape).astype(dtype)


class _PenalizedNet(Sequential):
    """The engine's network with scikit-learn's objective:
    ``value_scale * L + alpha / (2 sum w) * sum ||W||^2`` as the loss, and
    ``scale * dL + alpha W / sum w`` as its gradient (the two scales differ for the squared
    error with several outputs only: scikit-learn reports the half squared error averaged
    over the outputs but takes the gradient of its sum).
    """

    def __init__(self, layers, loss, optimizer, random_state, dtype, alpha=0.0, scale=1.0,
                 value_scale=None):
        super().__init__(layers, loss=loss, optimizer=optimizer, random_state=random_state,
                         dtype=dtype)
        self.alpha, self.scale = alpha, scale
        self.value_scale = scale if value_scale is None else value_scale

    def loss_and_gradients(self, X, T, sample_weight=None, training=True):
        loss = super().loss_and_gradients(X, T, sample_weight, training) * self.value_scale
        if self.scale != 1.0:
            self.grads *= self.scale
        n = len(X) if sample_weight is None else float(sample_weight.sum())
        if self.alpha and n > 0:
            for layer in self.layers:
                if isinstance(layer, Dense):
                    W = layer.W
                    loss += 0.5 * self.alpha * float(np.vdot(W, W)) / n
                    layer.grads[0] += (self.alpha / n) * W
        return loss

    def reported_loss(self, P, T, sample_weight=None):
        """``val_loss`` on the training loss's scale (the penalty is the weights', not the
        validation data's, so it is left out, as in ``validation_loss_curve_``)."""
        return super().reported_loss(P, T, sample_weight) * self.value_scale


class _SklearnIterations(Callback):
    """scikit-learn's per-epoch bookkeeping: ``loss_curve_``, ``t_``, validation scores,
    best weights, the ``tol``/``n_iter_no_change`` rule and the learning-rate policy.
    """

    def __init__(self, est, n_samples, has_validation):
        super().__init__()
        self.est, self.n_samples, self.has_validation = est, n_samples, has_validation
        self._total = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._total = 0.0

    def on_batch_end(self, batch, logs=None):
        # scikit-learn weighs each batch's loss by its number of samples, with or without
        # sample_weight (the engine's History weighs it by the batch's weight sum).
        self._total += logs["loss"] * logs["size"]

    def on_epoch_end(self, epoch, logs=None):
        est, net = self.est, self.model
        est.n_iter_ += 1
        est.t_ += self.n_samples
        est.loss_ = self._total / self.n_samples
        est.loss_curve_.append(est.loss_)
        self._print(f"Iteration {est.n_iter_:d}, loss = {est.loss_:.8f}")
        if self.has_validation:
            self._validation(logs)
        else:
            if est.loss_ > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, est.loss_)
        opt = net.optimizer
        if est.solver == "sgd" and est.learning_rate == "invscaling":
            opt.learning_rate = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if est._no_improvement_count > est.n_iter_no_change:
            what = "Training loss" if not self.has_validation else "Validation loss" \
                if est.early_stopping_monitor == "val_loss" else "Validation score"
            message = (f"{what} did not improve more than tol={est.tol:f} for "
                       f"{est.n_iter_no_change:d} consecutive epochs.")
            adaptive = est.solver == "sgd" and est.learning_rate == "adaptive"
            if adaptive and opt.learning_rate > 1e-6:
                opt.learning_rate /= 5.0
                est._no_improvement_count = 0
                self._print(f"{message} Setting learning rate to {opt.learning_rate:f}")
            else:
                self._print(message + (" Learning rate too small." if adaptive else "")
                            + " Stopping.")
                net.stop_training = True
                net.stop_reason = (f"no improvement of more than tol={est.tol} for "
                                   f"{est.n_iter_no_change} consecutive epochs")

    def _validation(self, logs):
        """scikit-learn's validation score (or glassnet's validation loss) and the best
        weights by it."""
        est, net = self.est, self.model
        score = logs["val_accuracy"] if "val_accuracy" in logs else logs["val_r2"]
        est.validation_scores_.append(score)
        est.validation_loss_curve_.append(logs["val_loss"])
        self._print(f"Validation score: {score:f}")
        if est.early_stopping_monitor == "val_loss":
            value = -est.validation_loss_curve_[-1]
        else:
            value = score
        if value < est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if value > est.best_validation_score_:
            est.best_validation_score_ = value
            est._best_params = net.params.copy()

    def _print(self, line):
        """scikit-learn's progress lines, on stdout, for any true ``verbose``."""
        if self.est.verbose:
            print(line)


def _warn(message, category=UserWarning):
    """Warn at the user's line: the first caller outside glassnet and scikit-learn (whose
    fit wrapper, pipelines and searches may sit in between)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and \
            frame.f_globals.get("__name__", "").partition(".")[0] in ("glassnet", "sklearn"):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _ravel_column(y):
    """A column-vector ``y`` raveled, with scikit-learn's warning (at the user's line)."""
    if y.ndim == 2 and y.shape[1] == 1:
        _warn("A column-vector y was passed when a 1d array was expected. Please change the "
              "shape of y to (n_samples, ), for example using ravel().", DataConversionWarning)
        y = y.ravel()
        return y if is_dask_collection(y) else np.ascontiguousarray(y)
    return y


def _check_size(sizes, units, dtype):
    """Refuse layers whose weights and gradients exceed this machine's memory in one line
    naming ``hidden_layer_sizes`` (the network refuses what it then fails to allocate)."""
    n = sum((a + 1) * b for a, b in zip(units[:-1], units[1:]))
    need = 2 * n * np.dtype(dtype).itemsize
    memory = physical_memory()
    if memory is not None and need > memory:
        raise ValueError(f"hidden_layer_sizes={sizes} needs {n:,} weights ({format_bytes(need)} in "
                         f"{np.dtype(dtype).name} with their gradients), more than this "
                         f"machine's {format_bytes(memory)} of memory: use smaller hidden layers.")
