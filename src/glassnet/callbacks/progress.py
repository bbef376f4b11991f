"""Progress lines: ``ProgressLogger`` (``verbose`` 1 and 2) and the ``ProgressBar``, on
standard error by default (as tqdm, logging and scikit-learn's progress), so that a
program's own output on standard output stays clean.
"""

from __future__ import annotations

import sys

from .base import Callback


class ProgressLogger(Callback):
    """Text progress: ``verbose=1`` a line per epoch, ``verbose=2`` also one per batch
    with the global gradient norm, written to ``file`` (default: ``sys.stderr``).
    """

    def __init__(self, verbose=1, file=None):
        super().__init__()
        self.verbose = verbose
        self.file = file

    def _print(self, text):
        print(text, file=self.file or sys.stderr, flush=True)

    def on_batch_end(self, batch, logs=None):
        if self.verbose >= 2:
            grads = self.model.grads
            xp = self.model.backend.xp
            norm = float(xp.sqrt(xp.dot(grads, grads)))
            self._print(f"  batch {batch + 1}/{self.params['steps']} - loss: {logs['loss']:.4f}"
                        f" - grad norm: {norm:.4g}")

    def on_epoch_end(self, epoch, logs=None):
        if self.verbose >= 1:
            parts = [f"{k}: {v:.4f}" for k, v in logs.items() if k not in ("time",
                                                                           "learning_rate")]
            self._print(f"Epoch {epoch + 1}/{self.params['epochs']} - " + " - ".join(parts)
                        + f" - {logs['time']:.2f}s")


class ProgressBar(Callback):
    """A live progress bar over the epochs (tqdm), showing the latest losses.

    tqdm is an optional dependency (``pip install glassnet[sklearn]``); without it,
    this falls back to one line per epoch. Written to ``file`` (default: ``sys.stderr``).
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
        self._bar = tqdm(total=self.params["epochs"], unit="epoch",
                         file=self.file or sys.stderr, dynamic_ncols=True, leave=True)

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
