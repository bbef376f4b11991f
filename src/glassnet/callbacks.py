"""Callbacks for ``fit``: stopping rules, learning-rate control and progress lines.

Each is an ordinary :class:`~glassnet.training.Callback`; ``History`` is one too.
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings

from .backend import check_positive, xp
from .optimizers import LearningRateSchedule
from .training import Callback, History

__all__ = ["Callback", "History", "EarlyStopping", "TargetLoss", "ReduceLROnPlateau",
           "ProgressLogger", "ProgressBar"]


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
    stopped_epoch : int or None
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
            self.best_weights, self.best_epoch = self.model._params.copy(), epoch
        self.wait += 1
        if self._monitor.improved(logs):
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model._params.copy()
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
                f"(best {best:.6g} at epoch {self.best_epoch})"
            )

    @property
    def best(self):
        return self._monitor.best

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model._params[...] = self.best_weights


class TargetLoss(Callback):
    """Stop once an epoch's training loss is at or below ``target`` (the target error)."""

    def __init__(self, target: float):
        super().__init__()
        self.target = check_positive("target_loss", target, allow_zero=True)

    def on_epoch_end(self, epoch, logs=None):
        if logs["loss"] <= self.target:
            self.model.stop_training = True
            self.model.stop_reason = (
                f"target loss reached: {logs['loss']:.6g} <= {self.target:g} at epoch {epoch}"
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


class ProgressLogger(Callback):
    """Text progress: ``verbose=1`` a line per epoch, ``verbose=2`` also one per batch
    with the global gradient norm.
    """

    def __init__(self, verbose=1, file=None):
        super().__init__()
        self.verbose = verbose
        self.file = file

    def _print(self, text):
        print(text, file=self.file or sys.stdout, flush=True)

    def on_batch_end(self, batch, logs=None):
        if self.verbose >= 2:
            grads = self.model._grads
            norm = float(xp.sqrt(xp.dot(grads, grads)))
            self._print(f"  batch {batch + 1}/{self.params['steps']} - loss: {logs['loss']:.4f}"
                        f" - grad norm: {norm:.4g}")

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose >= 1:
            parts = [f"{k}: {v:.4f}" for k, v in logs.items() if k not in ("time",
                                                                           "learning_rate")]
            self._print(f"Epoch {epoch + 1}/{self.params['epochs']} - " + " - ".join(parts)
                        + f" - {logs['time']:.2f}s")


class Checkpoint(Callback):
    """Save the network to a ``.glassnet`` file during ``fit``, atomically.

    Every ``every`` epochs the latest state (weights, optimizer state, random-generator
    state, epochs done) goes to ``path``, ready for ``fit(..., resume_from=path)``.
    With ``keep_best=True`` the weights of the best epoch so far (by ``val_loss``, or
    ``loss`` without validation) also go to ``best_path``, ``model.best.glassnet`` beside
    ``model.glassnet``. Each write replaces the previous file in one rename, so a crash
    or ``kill -9`` leaves the previous checkpoint or the new one, never a broken file.

    Parameters
    ----------
    path : str or os.PathLike
    every : int, default 1
        Save to ``path`` after every this many epochs (epochs ``every``, ``2 * every``,
        ...) and, if the last epoch was not one of them, at the end of training; that
        last file holds the weights as of the last epoch even when another callback
        (``EarlyStopping``) puts other weights back at the end.
    keep_best : bool, default True
    monitor : str, optional
        The logged quantity that decides the best epoch (smaller is better for losses).

    Attributes
    ----------
    best_path : str or None
    best : float
    best_epoch : int or None
    """

    def __init__(self, path, every=1, keep_best=True, monitor=None):
        import os

        super().__init__()
        self.path = os.fspath(path)
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}.")
        if os.path.isdir(self.path):
            raise ValueError(f"path {self.path!r} is a directory; give a file name.")
        self.every, self.keep_best, self.monitor = every, bool(keep_best), monitor
        stem, ext = os.path.splitext(self.path)
        self.best_path = f"{stem}.best{ext or '.glassnet'}" if self.keep_best else None

    def on_train_begin(self, logs=None):
        metrics = self.params.get("metrics", [])
        monitor = self.monitor or ("val_loss" if "val_loss" in metrics else "loss")
        self._monitor = _Monitor(monitor, "auto", 0.0)
        self._monitor.check_available(self.params)
        self.best_epoch, self._saved_epoch = None, None
        self._last_epoch, self._last_params = None, None

    def _save(self, path):
        from .io import save  # io.py sits one room up

        save(self.model, path)

    def on_epoch_end(self, epoch, logs=None):
        if self.keep_best and math.isfinite(logs[self._monitor.monitor]) \
                and self._monitor.improved(logs):
            self.best_epoch = epoch
            self._save(self.best_path)
        if (epoch + 1) % self.every == 0:
            self._save(self.path)
            self._saved_epoch = epoch
        else:  # kept for the save at the end, which other callbacks may precede
            params = self.model._params
            if self._last_params is None or self._last_params.shape != params.shape:
                self._last_params = params.copy()
            else:
                self._last_params[...] = params
            self._last_epoch = epoch

    @property
    def best(self):
        return self._monitor.best

    def on_train_end(self, logs=None):
        done = getattr(self.model, "epochs_done", 0)
        if not done or self._saved_epoch == done - 1:
            return
        params = self.model._params
        if self._last_epoch != done - 1 or xp.array_equal(params, self._last_params):
            self._save(self.path)
            return
        # Weights changed since the last epoch ended (EarlyStopping put the best back, or
        # Ctrl-C did): the file must hold the state of epoch `done`, as a resume expects.
        now = params.copy()
        params[...] = self._last_params
        try:
            self._save(self.path)
        finally:
            params[...] = now


class ProgressBar(Callback):
    """A live progress bar over the epochs (tqdm), showing the latest losses.

    tqdm is an optional dependency (``pip install glassnet[sklearn]``); without it,
    this falls back to one line per epoch.
    """

    def __init__(self, file=None):
        super().__init__()
        self.file = file

    def on_train_begin(self, logs=None):
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self._bar, self._lines = None, ProgressLogger(1, self.file)
            self._lines.set_params(self.params)
            return
        self._bar = tqdm(total=self.params["epochs"], unit="epoch", file=self.file,
                         dynamic_ncols=True, leave=True)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is None:
            self._lines.on_epoch_end(epoch, logs)
            return
        shown = {k: f"{v:.4g}" for k, v in logs.items() if k not in ("time", "learning_rate")}
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(1)

    def on_train_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()


class GradientStats(Callback):
    """Per layer and epoch: gradient norm, weight norm, update-to-weight ratio, the
    fraction of dead ReLUs and of saturated sigmoid/tanh units, recorded in ``History``
    (keys ``grad_norm/<layer>``, ``weight_norm/<layer>``, ``update_ratio/<layer>``,
    ``dead_relu/<layer>``, ``saturated/<layer>``), with a plain-language warning, once per
    fit, when gradients vanish or explode, most ReLUs are dead or the loss diverges.

    - gradient norm: ``‖[dL/dW, dL/db]‖`` of the layer, averaged over the epoch's batches;
    - update ratio: ``‖W_end - W_start‖ / ‖W_start‖`` over the epoch;
    - dead ReLU: a unit whose output was 0 for every sample of the epoch;
    - saturated: outputs within 0.01 of a sigmoid's (0, 1) or a tanh's (-1, 1) bounds.

    Opt-in (``callbacks=[gn.GradientStats()]``): it reads every batch's activations.
    """

    def __init__(self, vanishing=1e-7, exploding=1e3, dead_fraction=0.5, warn=True):
        super().__init__()
        self.vanishing, self.exploding = vanishing, exploding
        self.dead_fraction, self.warn = dead_fraction, warn

    def on_train_begin(self, logs=None):
        net, offset = self.model, 0
        self._slices = {}
        for layer, shapes in zip(net.layers, net._layout):
            size = sum(int(xp.prod(shape)) for _, shape in shapes)
            if size:
                self._slices[layer.name] = slice(offset, offset + size)
            offset += size
        self._warned = set()
        self._first_loss = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self.model._params.copy()
        self._grad_sq = dict.fromkeys(self._slices, 0.0)
        self._batches = 0
        self._alive, self._saturated, self._seen = {}, {}, {}

    def on_batch_end(self, batch, logs=None):
        grads = self.model._grads
        for name, part in self._slices.items():
            g = grads[part]
            self._grad_sq[name] += float(xp.sqrt(xp.dot(g, g)))
        self._batches += 1
        for layer, fn, out in self._activations():
            if fn == "relu":
                alive = (out > 0).any(axis=0)
                self._alive[layer] = self._alive.get(layer, False) | alive
            elif fn in ("sigmoid", "tanh"):
                low = 0.01 if fn == "sigmoid" else -0.99
                high = 0.99
                count = int(xp.count_nonzero((out < low) | (out > high)))
                self._saturated[layer] = self._saturated.get(layer, 0) + count
                self._seen[layer] = self._seen.get(layer, 0) + out.size

    def _activations(self):
        for layer in self.model.layers:
            fn = getattr(layer, "activation", None)
            out = getattr(layer, "_out", None)
            if fn is not None and out is not None and fn.name in ("relu", "sigmoid", "tanh"):
                yield layer.name, fn.name, out

    def on_epoch_end(self, epoch, logs=None):
        params = self.model._params
        for name, part in self._slices.items():
            start, now = self._start[part], params[part]
            norm = float(xp.sqrt(xp.dot(now, now)))
            moved = now - start
            logs[f"grad_norm/{name}"] = self._grad_sq[name] / max(self._batches, 1)
            logs[f"weight_norm/{name}"] = norm
            start_norm = float(xp.sqrt(xp.dot(start, start)))
            logs[f"update_ratio/{name}"] = float(xp.sqrt(xp.dot(moved, moved))) / max(
                start_norm, 1e-12)
        for name, alive in self._alive.items():
            logs[f"dead_relu/{name}"] = float(1.0 - xp.mean(alive))
        for name, count in self._saturated.items():
            logs[f"saturated/{name}"] = count / max(self._seen[name], 1)
        self._check(epoch, logs)

    def _say(self, kind, message):
        if self.warn and kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(message, RuntimeWarning, stacklevel=2)

    def _check(self, epoch, logs):
        names = list(self._slices)
        norms = {n: logs[f"grad_norm/{n}"] for n in names}
        if names and 0 < norms[names[0]] < self.vanishing:
            self._say("vanishing", f"Gradients are vanishing: layer {names[0]!r} gets a gradient "
                      f"norm of {norms[names[0]]:.2g} at epoch {epoch + 1}, so it barely learns. "
                      "Try ReLU or LeakyReLU, He initialization, or a larger learning rate.")
        big = [n for n in names if norms[n] > self.exploding]
        if big:
            self._say("exploding", f"Gradients are exploding: layer {big[0]!r} has a gradient "
                      f"norm of {norms[big[0]]:.3g} at epoch {epoch + 1}. Lower the learning "
                      "rate, scale the inputs, or clip gradients (clipnorm=...).")
        for name in names:
            dead = logs.get(f"dead_relu/{name}")
            if dead is not None and dead > self.dead_fraction:
                self._say("dead", f"{dead:.0%} of the ReLU units of layer {name!r} are dead "
                          "(output 0 for every sample) and no longer learn. Lower the learning "
                          "rate or use LeakyReLU.")
        loss = logs.get("loss")
        if loss is not None:
            self._first_loss = self._first_loss if self._first_loss is not None else loss
            if not xp.isfinite(loss) or loss > 10 * self._first_loss:
                self._say("diverging", f"The loss is diverging: {loss:.4g} at epoch {epoch + 1} "
                          f"(it started at {self._first_loss:.4g}). Lower the learning rate.")
