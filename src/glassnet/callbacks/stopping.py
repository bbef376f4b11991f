"""When to stop and how fast to go: ``EarlyStopping``, ``TargetLoss``, ``ReduceLROnPlateau``
(Keras 3's rules).
"""

from __future__ import annotations

import math
import numbers

from ..backend import check_positive
from ..optimizers import LearningRateSchedule
from .base import Callback


class _Monitor:
    """Tracks the best value of one logged quantity and says when it improved."""

    def __init__(self, monitor, mode, min_delta):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}.")
        if mode == "auto":
            mode = "min" if "loss" in monitor else "max"
        self.monitor, self.mode = monitor, mode
        self.min_delta = abs(check_positive("min_delta", min_delta, allow_zero=True))
        self.best = math.inf if mode == "min" else -math.inf

    def check_available(self, params):
        keys = params.get("metrics", [])
        if self.monitor not in keys:
            hint = " (pass validation_split or validation_data to fit)" if "val" in \
                self.monitor else ""
            raise ValueError(
                f"monitor={self.monitor!r} is not logged in this fit{hint}; "
                f"available: {', '.join(keys)}."
            )

    def beats(self, value, reference) -> bool:
        """Whether ``value`` is better than ``reference`` by more than ``min_delta`` (Keras'
        rule: ``value < reference - min_delta`` in min mode; equal to it is no improvement).
        """
        if self.mode == "min":
            return bool(value < reference - self.min_delta)
        return bool(value > reference + self.min_delta)

    def improved(self, logs) -> bool:
        value = logs[self.monitor]
        better = self.beats(value, self.best)
        if better:
            self.best = value
        return better


def _check_count(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}.")
    return int(value)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs, by Keras' rule.

    Each epoch (from ``start_from_epoch`` on) adds one to a wait counter. An epoch whose
    value beats the best so far by more than ``min_delta`` (``value < best - min_delta``
    in min mode, ``value > best + min_delta`` in max mode; the first monitored epoch always
    does) becomes the best epoch and, if it also beats ``baseline`` (or there is none),
    resets the counter to 0. Any other epoch stops training once the counter reaches
    ``patience`` (never at epoch 0). So with ``patience=p`` training stops after ``p``
    epochs in a row without improvement: values 1, 2, 3 with ``patience=2`` stop after
    the third epoch.

    Parameters
    ----------
    monitor : str, default "val_loss"
        A key of ``History.history`` (``"loss"``, ``"val_loss"``, ``"val_accuracy"``, ...).
    min_delta : float
        An improvement must be larger than this (equal to it does not count).
    patience : int
        Epochs in a row without improvement after which training stops.
    mode : {"auto", "min", "max"}
        Whether smaller or larger is better; ``"auto"`` picks min for losses.
    restore_best_weights : bool, default True
        At the end of training, put back the weights of the best epoch, whether or not
        this callback stopped the run (as Keras 3 does; tf.keras 2 restored them only when
        it stopped the run). Keras' default is False; here it is True. With False the
        network keeps the weights of the last epoch.
    baseline : float, optional
        Training stops if the model does not improve on the baseline (Keras): until an
        epoch beats it by more than ``min_delta``, improvements over the best so far do
        not reset the wait counter, so training stops after ``patience`` epochs unless the
        baseline is beaten.
    start_from_epoch : int, default 0
        Epochs to wait before monitoring starts (a warm-up: these epochs are ignored and
        can neither improve nor stop).

    Attributes
    ----------
    best : float
    best_epoch : int
        0-based, as Keras' attribute (and ``History.epoch``); messages say epochs 1-based,
        as the progress lines do.
    stopped_epoch : int or None
        0-based, as ``best_epoch``.
    wait : int
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto",
                 restore_best_weights=True, baseline=None, start_from_epoch=0):
        super().__init__()
        self.monitor, self.min_delta, self.mode = monitor, min_delta, mode
        self.patience = _check_count("patience", patience)
        self.start_from_epoch = _check_count("start_from_epoch", start_from_epoch)
        if baseline is not None:
            ok = isinstance(baseline, numbers.Real) and not isinstance(baseline, bool) \
                and math.isfinite(baseline)
            if not ok:
                raise ValueError(f"baseline must be a finite number or None, got {baseline!r}.")
            baseline = float(baseline)
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        _Monitor(monitor, mode, min_delta)  # validates the arguments now

    def on_train_begin(self, logs=None):
        self._monitor = _Monitor(self.monitor, self.mode, self.min_delta)
        self._monitor.check_available(self.params)
        self.wait, self.best_epoch, self.stopped_epoch = 0, None, None
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_from_epoch:
            return
        value = logs[self.monitor]
        if self.restore_best_weights and self.best_weights is None:
            # As Keras: the first monitored epoch's weights, in case none ever improves.
            self.best_weights, self.best_epoch = self.model.params.copy(), epoch
        self.wait += 1
        if self._monitor.improved(logs):
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.params.copy()
            if self.baseline is None or self._monitor.beats(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            best = self._monitor.best
            if self.baseline is not None and not self._monitor.beats(best, self.baseline):
                why = f"did not improve on the baseline {self.baseline:g} in {self.wait} epochs"
            else:
                why = f"did not improve for {self.wait} epochs"
            self.model.stop_reason = (
                f"early stopping: {self.monitor} {why} "
                f"(best {best:.6g} at epoch {self.best_epoch + 1})"
            )

    @property
    def best(self):
        return self._monitor.best

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.params[...] = self.best_weights


class TargetLoss(Callback):
    """Stop once an epoch's training loss is at or below ``target`` (the target error)."""

    def __init__(self, target: float):
        super().__init__()
        self.target = check_positive("target_loss", target, allow_zero=True)

    def on_epoch_end(self, epoch, logs=None):
        if logs["loss"] <= self.target:
            self.model.stop_training = True
            self.model.stop_reason = (
                f"target loss reached: {logs['loss']:.6g} <= {self.target:g} at epoch "
                f"{epoch + 1}"
            )


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stalls for ``patience``
    epochs, never below ``min_lr`` (Keras' callback; scikit-learn's ``'adaptive'``).

    Keras' rule, each epoch: during a cooldown the cooldown counter drops by one and the
    wait counter is reset; a value better than the best by more than ``min_delta`` becomes
    the best and resets the wait counter; otherwise, outside a cooldown, the wait counter
    grows by one and, on reaching ``patience``, if the learning rate is above ``min_lr``
    it becomes ``max(lr * factor, min_lr)`` and a cooldown of ``cooldown`` epochs starts.
    A learning rate already at (or below) ``min_lr`` is left as it is.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, min_delta=1e-4,
                 mode="auto", cooldown=0, min_lr=0.0):
        super().__init__()
        if not 0 < factor < 1:
            raise ValueError(f"factor must be in (0, 1), got {factor!r}.")
        self.monitor, self.factor = monitor, factor
        self.patience = _check_count("patience", patience)
        self.cooldown = _check_count("cooldown", cooldown)
        self.min_delta, self.mode = min_delta, mode
        self.min_lr = check_positive("min_lr", min_lr, allow_zero=True)
        _Monitor(monitor, mode, min_delta)  # validates the arguments now

    def on_train_begin(self, logs=None):
        if isinstance(self.model.optimizer.learning_rate, LearningRateSchedule):
            raise ValueError("ReduceLROnPlateau needs a constant learning_rate, not a schedule.")
        self._monitor = _Monitor(self.monitor, self.mode, self.min_delta)
        self._monitor.check_available(self.params)
        self.wait, self.cooldown_left = 0, 0

    def on_epoch_end(self, epoch, logs=None):
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self._monitor.improved(logs):
            self.wait = 0
        elif self.cooldown_left == 0:
            self.wait += 1
            opt = self.model.optimizer
            if self.wait >= self.patience and opt.learning_rate > self.min_lr:
                opt.learning_rate = max(opt.learning_rate * self.factor, self.min_lr)
                self.wait, self.cooldown_left = 0, self.cooldown
