"""``Checkpoint``: the model saved to a file as it trains, atomically.
"""

from __future__ import annotations

import math

from .base import Callback
from .stopping import _Monitor


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
        0-based, as ``History.epoch``.
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
        self.model.save(path)

    def on_epoch_end(self, epoch, logs=None):
        if self.keep_best and math.isfinite(logs[self._monitor.monitor]) \
                and self._monitor.improved(logs):
            self.best_epoch = epoch
            self._save(self.best_path)
        if (epoch + 1) % self.every == 0:
            self._save(self.path)
            self._saved_epoch = epoch
        else:  # kept for the save at the end, which other callbacks may precede
            params = self.model.params
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
        params, xp = self.model.params, self.model.backend.xp
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
