"""``LiveView``: a run watched in the browser as it happens, from a local page served by the
standard library (no web framework, nothing fetched from outside: the page works offline).
"""

from __future__ import annotations

import atexit
import math
import threading
import time
import weakref

import numpy as np

from ..callbacks import Callback, GradientStats
from ..glass.trace import trace_step
from ..layers import Activation, Dense, Dropout
from . import _server

#: Seconds between two batch events at most (a batch's loss, for the page's live number).
BATCH_EVERY = 0.5
#: The share of the training time the view's GradientStats may take (on sampled batches).
STATS_SHARE = 0.01
#: The widest Dense layer (inputs and units) and the most Dense layers whose step is traced.
TRACE_WIDTH, TRACE_DENSE = 16, 4

_OPEN = weakref.WeakSet()  # the views whose servers run, closed at the process's exit


@atexit.register
def _close_all():
    for view in list(_OPEN):
        view.close()


class _Stats(GradientStats):
    """``GradientStats`` that hands its warnings to the page instead of ``warnings``."""

    def __init__(self, say):
        super().__init__(warn=False)
        self._to_page = say

    def _say(self, kind, message):
        if kind not in self._warned:
            self._warned.add(kind)
            self._to_page(message)


def _clean(value):
    """``value`` as JSON takes it: NumPy numbers as Python's, NaN and infinities as null
    (JSON has no such numbers)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


class LiveView(Callback):
    """A callback that serves a live page of the run: losses and metric by epoch, the learning
    rate, per-layer gradient norms and update ratios, warnings, the network, one step number
    by number (small dense networks) and a Stop button.

    The server starts when the view is created (open ``url`` before training) and stays up
    after ``fit`` returns, so the finished run can still be looked at, until :meth:`close`,
    the end of a ``with`` block or the process's exit.

    Parameters
    ----------
    host : str, default "127.0.0.1"
        Where to listen. Loopback keeps the page on this machine; another address lets
        others on the network reach it (they still need the token in ``url``).
    port : int, default 0
        0 picks a free port; a given port that is busy is an error.
    open_browser : bool, default False
        Open ``url`` in the web browser once the server runs.
    sample : tuple (X, y), optional
        A training sample (its first row is used), with ``y`` as the network takes it (an
        estimator's network: class indices): for a small dense network (at most 4 Dense
        layers of at most 16 inputs and units) the page shows ``trace_step`` on it, number by
        number, refreshed every epoch (on a copy: training is not disturbed).
    gradient_stats : bool, default True
        Run a :class:`~glassnet.GradientStats` of the view's own, for the page only (its
        numbers and warnings are not added to the fit's logs, ``History`` or Python's
        warnings). To cost little it reads a sample of the batches: one per epoch, then as
        many as keep it within 1% of the training time. A ``GradientStats`` of your own
        placed before the view reads every batch, and the page shows its numbers.

    Attributes
    ----------
    url : str
        The page's address, with the run's random token (every request needs it).
    status : str
        ``"waiting"``, ``"running"``, ``"finished"``, ``"stopped"`` or ``"diverged"``.

    The page's Stop button (``POST /stop``) ends training after the current batch, as
    Ctrl-C does: with validation data the network keeps the weights of its best epoch (by
    ``val_loss``), otherwise the last ones, and ``History.stop_reason`` says so.

    ``fit`` calls the view after the callbacks that are not recorders (``records_logs``), so
    it shows what they add to the logs.

    Examples
    --------
    >>> import glassnet as gn
    >>> with gn.LiveView() as view:  # doctest: +SKIP
    ...     print(view.url)
    ...     net.fit(X, y, epochs=20, validation_split=0.1, callbacks=[view])
    """

    records_logs = True

    def __init__(self, host="127.0.0.1", port=0, open_browser=False, sample=None,
                 gradient_stats=True):
        super().__init__()
        if not isinstance(host, str) or not host:
            raise ValueError(f"LiveView(host=...) must be an address such as '127.0.0.1', "
                             f"got {host!r}.")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise ValueError(f"LiveView(port=...) must be an integer 0..65535 (0: a free port), "
                             f"got {port!r}.")
        if sample is not None and (not isinstance(sample, (tuple, list)) or len(sample) != 2
                                   or len(sample[0]) < 1 or len(sample[0]) != len(sample[1])):
            raise ValueError("LiveView(sample=...) must be (X, y) with rows of the training "
                             "data, e.g. sample=(X[:1], y[:1]).")
        self._sample = None if sample is None else (sample[0][:1], sample[1][:1])
        self._stats = _Stats(self._warn) if gradient_stats else Callback()
        self._lock = threading.Lock()
        self.status, self._model, self._history, self._warnings = "waiting", None, {}, []
        self._epoch, self._done, self._started, self._ended, self._trace = 0, 0, None, None, None
        self._reason = None
        self._server = _server.start(self, host, port)
        host, port = self._server.server_address[:2]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}/?token={self._server.token}"
        _OPEN.add(self)
        if open_browser:
            import webbrowser

            webbrowser.open(self.url)

    @property
    def server_address(self):
        """``(host, port)`` the server listens on."""
        return self._server.server_address[:2]

    # -- the server's side ---------------------------------------------------------------
    def snapshot(self) -> dict:
        """What ``GET /history`` returns: the run so far, as JSON takes it."""
        with self._lock:
            state = {"history": _clean(self._history), "epoch": self._epoch,
                     "epochs": self.params.get("epochs"), "status": self.status,
                     "model": self._model, "warnings": list(self._warnings),
                     "started": self._started, "elapsed": self._elapsed(), "eta": self._eta(),
                     "trace_html": self._trace, "stop_reason": self._reason,
                     "seq": self._server.events.count}
        return state

    def request_stop(self) -> bool:
        """The Stop button: ask the running fit to stop after its current batch."""
        with self._lock:
            if self.status != "running":
                return False
            # The loop stops after the current batch, as for Ctrl-C (training/loop.py).
            self.model.stop_requested = "stopped from the live page"
            return True

    def _publish(self, kind, **fields):
        self._server.events.publish({"type": kind, **_clean(fields)})

    def _warn(self, message):
        with self._lock:
            self._warnings.append(message)
            self._publish("warning", message=message)

    def _elapsed(self):
        if self._started is None:
            return None
        return (self._ended or time.time()) - self._started

    def _eta(self):
        epochs, left = self.params.get("epochs"), None
        if self.status == "running" and self._done and epochs:
            left = self._elapsed() / self._done * max(epochs - self._epoch, 0)
        return left

    # -- the callback's side -------------------------------------------------------------
    def set_model(self, model):
        super().set_model(model)
        self._stats.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self._stats.set_params(params)

    def on_train_begin(self, logs=None):
        self._stats.on_train_begin(logs)
        net = self.model
        layers = [{"name": layer.name, "type": type(layer).__name__,
                   "activation": getattr(layer.activation, "name", None),
                   "output_shape": list(layer.output_shape), "params": layer.count_params()}
                  for layer in net.layers]
        with self._lock:
            self.status, self._history, self._warnings = "running", {}, []
            self._model = {"input_shape": list(net.input_shape), "layers": layers,
                           "total_params": net.count_params(), "loss": net.loss.name,
                           "optimizer": repr(net.optimizer)}
            self._epoch, self._done, self._started, self._ended = 0, 0, time.time(), None
            self._reason = None
            self._trace = None
            self._publish("begin", epochs=self.params.get("epochs"))
        self._traceable = self._sample is not None and _small_dense(net)
        self._last_batch = self._clock = time.perf_counter()
        self._stats_time = 0.0
        self._refresh_trace()

    def on_epoch_begin(self, epoch, logs=None):
        self._stats.on_epoch_begin(epoch, logs)
        self._current, self._sampled = epoch, 0

    def on_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        # The statistics read every layer's activations: on a batch of each epoch, then on
        # as many as keep them within STATS_SHARE of the training time.
        if not self._sampled or self._stats_time <= STATS_SHARE * (now - self._clock):
            self._stats.on_batch_end(batch, logs)
            self._sampled += 1
            self._stats_time += time.perf_counter() - now
        if now - self._last_batch >= BATCH_EVERY:
            self._last_batch = now
            self._publish("batch", batch=batch, loss=logs["loss"])

    def on_epoch_end(self, epoch, logs=None):
        # The view's statistics go to the page, not into the fit's logs (History): a user's
        # own GradientStats, when it ran first, has its numbers there and they win.
        stats = {"loss": logs["loss"]}
        self._stats.on_epoch_end(epoch, stats)
        logs = {**stats, **logs}
        self._refresh_trace()
        with self._lock:  # the snapshot and the events agree on what was sent
            for key, value in logs.items():
                self._history.setdefault(key, []).append(value)
            self._epoch, self._done = epoch + 1, self._done + 1
            trace = {"trace_html": self._trace} if self._traceable else {}
            self._publish("epoch", epoch=epoch, logs=logs, elapsed=self._elapsed(),
                          eta=self._eta(), **trace)

    def on_train_end(self, logs=None):
        net = self.model
        reason = getattr(net, "stop_reason", None) or ""
        if reason.startswith("Training diverged"):
            status = "diverged"
            self._warn(reason)
        elif net.stop_training:
            status = "stopped"
        else:
            status = "finished"
        with self._lock:
            self.status, self._ended, self._reason = status, time.time(), reason or None
            self._publish("end", status=status, stop_reason=reason or None,
                          elapsed=self._elapsed())

    def _refresh_trace(self):
        """``trace_step`` on the sample, on a copy of the network, as HTML for the page."""
        if not self._traceable:
            return
        try:
            html = trace_step(self.model, *self._sample).to_html()
        except (ValueError, TypeError) as exc:  # a sample that does not fit the network
            self._traceable = False
            self._warn(f"The step cannot be traced on LiveView(sample=...): {exc}")
            return
        with self._lock:
            self._trace = html

    # -- closing -------------------------------------------------------------------------
    def close(self):
        """Stop the server and free its port (the event streams end)."""
        if self in _OPEN:
            _OPEN.discard(self)
            _server.stop(self._server)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"LiveView({self.url!r}, status={self.status!r})"


def _small_dense(net) -> bool:
    """Whether the network is small and dense enough for its step to be read number by
    number: Dense, activation and dropout layers only, a few narrow Dense layers."""
    dense = [layer for layer in net.layers if isinstance(layer, Dense)]
    return (0 < len(dense) <= TRACE_DENSE
            and all(isinstance(layer, (Dense, Activation, Dropout)) for layer in net.layers)
            and all(max(layer.units, layer.input_shape[0]) <= TRACE_WIDTH for layer in dense))
