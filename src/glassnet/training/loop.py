"""The fit loop: epochs, shuffled mini-batches, validation, callbacks and ``History``.

Gradient descent as in the articles: each step moves the parameters against the
gradient of the loss on a batch. ``batch_size=None`` is full-batch gradient
descent (one step per epoch); a smaller batch is mini-batch SGD. Training ends
after ``epochs`` or when a callback stops it (a target loss reached, early
stopping).
"""

from __future__ import annotations

import math
import numbers
import signal
import threading
import time
import warnings

from ..backend import all_finite
from ..callbacks import Callback, History, ProgressLogger, TargetLoss
from ..data import ArraySource, split_last
from ..data.dask import DaskSource, check_dask_features, is_dask_collection, split_last_chunks
from ..io import resume_into
from ..ops.metrics import accuracy, r2_score


def _check_int(name, value, low, allow_none=False):
    if value is None and allow_none:
        return None
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
        extra = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an integer >= {low}{extra}, got {value!r}.")
    return int(value)


def _validation(net, validation_data):
    """``validation_data`` prepared, or a ``DaskSource`` over it when its X is Dask."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (X_val, y_val[, sample_weight]).")
    if is_dask_collection(validation_data[0]):
        return dask_source(net, *validation_data, batch_size=None, shuffle=False)
    return net.prepare(*validation_data)


def _sources(net, X, y, sw, batch_size, shuffle, validation_split, validation_data):
    """The training source and the validation data (prepared arrays, a ``DaskSource`` or
    None): the last fraction of the samples, or of the chunks of a Dask ``X``."""
    if is_dask_collection(X):
        train, val = (X, y, sw), None
        if validation_data is None and validation_split:
            train, val = split_last_chunks(X, y, sw, validation_split)
        source = dask_source(net, *train, batch_size=batch_size, shuffle=shuffle)
        if val is not None:
            val = dask_source(net, *val, batch_size=None, shuffle=False)
    else:
        X, T, sw = net.prepare(X, y, sw)
        val = None
        if validation_data is None and validation_split:
            (X, T, sw), val = split_last(X, T, sw, validation_split)
        source = ArraySource(X, T, sw, batch_size, shuffle, net.rng, net.dtype, net.backend.xp)
    if validation_data is not None:
        val = _validation(net, validation_data)
    return source, val


def dask_source(net, X, y, sample_weight=None, batch_size=32, shuffle=True):
    """A ``DaskSource`` of ``net``'s batches of Dask ``X``: the network built for ``X``'s
    samples first (from its shape and dtype, nothing computed), each chunk prepared by
    ``net.prepare`` as it is computed."""
    X = check_dask_features(X, input_shape=net.input_shape if net.built else None)
    if not net.built:
        net.build(X.shape[1:])
    return DaskSource(X, y, sample_weight, batch_size, shuffle, net.rng, net.dtype,
                      net.backend.xp, prepare=net.prepare)


def _outputs(net, X, batch_size=8192):
    return net.backend.xp.concatenate([
        net.forward(net.as_input(X[i : i + batch_size])) for i in range(0, len(X), batch_size)
    ])


def evaluate_prepared(net, X, T, sw, batch_size=8192) -> dict:
    """Loss and accuracy / R² on prepared arrays, predicting in chunks."""
    return _scores(net, _outputs(net, X, batch_size), T, sw)


def evaluate_source(net, source) -> dict:
    """``evaluate_prepared`` of a ``DaskSource``'s data, chunk by chunk: only the outputs,
    targets and weights of all rows are held (``n_samples x n_outputs``), never the
    features, so the scores are those of the same data in memory."""
    xp = net.backend.xp
    parts = [(_outputs(net, X), T, sw) for X, T, sw in source.chunks()]
    P, T, sw = (None if group[0] is None else xp.concatenate(group) for group in zip(*parts))
    return _scores(net, P, T, sw)


def _evaluate(net, val) -> dict:
    return evaluate_source(net, val) if isinstance(val, DaskSource) else \
        evaluate_prepared(net, *val)


def _scores(net, P, T, sw) -> dict:
    result = {"loss": net.reported_loss(P, T, sw)}
    if net.loss.is_classification:
        binary = net.loss.fused_activation == "sigmoid"
        result["accuracy"] = accuracy(P, T, sw, binary=binary)
    else:
        result["r2"] = r2_score(P, T, sw)
    return result


#: Runaway growth: a batch loss above this many times the fit's first batch loss (or above
#: this many, when that loss is below 1). Training that still works never gets a million
#: times worse than where it started; the floor keeps a near-zero start from tripping it.
RUNAWAY = 10**6

#: What ``fit`` advises after a divergence, in ``fit``'s own terms.
FIT_ADVICE = "Lower the learning rate, scale the inputs, or clip gradients (clipnorm=...)."


class DivergenceError(ValueError):
    """Training diverged: the loss became NaN or infinite, or grew without bound; the
    network keeps weights that predict finite numbers.

    Its fields let a caller phrase its own advice (an estimator has no ``clipnorm=``):
    ``what`` (``"the loss became nan"``, ...), ``epoch`` and ``batch`` (1-based, as printed),
    ``learning_rate``, ``kept`` (which weights the network keeps), ``summary`` (the sentence
    with all of these and no advice) and ``advice`` (what ``fit`` suggests); the message is
    ``summary`` then ``advice``.
    """

    def __init__(self, what, epoch, batch, learning_rate, kept, advice=FIT_ADVICE):
        self.what, self.epoch, self.batch = what, epoch, batch
        self.learning_rate, self.kept, self.advice = learning_rate, kept, advice
        super().__init__(f"{self.summary} {advice}")

    @property
    def summary(self) -> str:
        return (f"Training diverged: {self.what} at epoch {self.epoch}, batch {self.batch} "
                f"(learning_rate={self.learning_rate:g}); the network keeps {self.kept}.")

    def __reduce__(self):
        return type(self), (self.what, self.epoch, self.batch, self.learning_rate, self.kept,
                            self.advice)


class _CtrlC:
    """While active in the main thread, Ctrl-C sets ``requested`` (the loop stops after the
    current batch, so no update is left half done); a second Ctrl-C interrupts at once.
    """

    def __init__(self):
        self.requested, self._previous = False, None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class _Guard:
    """Divergence, and the weights to fall back on.

    A batch diverges when its loss is not finite or exceeds ``RUNAWAY`` times the fit's
    first batch loss (at least ``RUNAWAY``). Each epoch starts with a snapshot of the
    weights, and its first batch's loss is computed on exactly those weights: a snapshot
    whose first batch passed predicts finite numbers. The guard keeps the one of lowest
    first-batch loss (two buffers, reused: the best and the current epoch's).
    """

    def __init__(self):
        self.first = None
        self.buffers, self.best = [None, None], None  # best: (loss, buffer, epoch)
        self.index = self.epoch = None

    def snapshot(self, params, epoch):
        """Copy the weights at the start of ``epoch`` into the buffer not holding the best."""
        i = 1 if self.best is not None and self.best[1] == 0 else 0
        if self.buffers[i] is None:
            self.buffers[i] = params.copy()
        else:
            self.buffers[i][...] = params
        self.index, self.epoch = i, epoch
        return self.buffers[i]

    def check(self, loss, batch):
        """What went wrong with a batch's loss, or None."""
        if not math.isfinite(loss):
            return f"the loss became {loss}"
        if self.first is None:
            self.first = loss
        if loss > RUNAWAY * max(self.first, 1.0):
            return (f"the loss grew to {loss:.4g} (over {RUNAWAY:,} times the first "
                    f"batch's {self.first:.4g})")
        if batch == 0 and (self.best is None or loss < self.best[0]):
            self.best = (loss, self.index, self.epoch)
        return None

    def restore(self, params):
        """Put the best checked snapshot back; return a phrase saying which it is."""
        if self.best is None:  # the fit's very first batch diverged
            params[...] = self.buffers[self.index]
            return "the weights it started with"
        loss, i, epoch = self.best
        params[...] = self.buffers[i]
        if epoch == self.epoch:
            return "the weights from the start of that epoch"
        return (f"the weights from the start of epoch {epoch + 1} (the lowest loss on an "
                f"epoch's first batch, {loss:.4g})")


def fit(net, X, y, epochs=10, batch_size=32, shuffle=True, validation_split=0.0,
        validation_data=None, callbacks=None, verbose=1, target_loss=None, sample_weight=None,
        resume_from=None, on_divergence="raise"):
    """Train ``net`` by (mini-batch) gradient descent and return its ``History``.

    Parameters
    ----------
    X : array of shape (n_samples, n_features), or a Dask array (or DataFrame)
        A Dask ``X`` trains out of core: the network is built from its shape and dtype,
        and a :class:`~glassnet.data.dask.DaskSource` computes a chunk of rows at a time
        (the next one ahead), checks it and cuts it into batches, so memory is bounded by
        the chunks; its docstring says how its shuffle differs from a full one.
        ``validation_split`` then holds out the last whole chunks, and ``validation_data``
        may be Dask too; both are evaluated chunk by chunk.
    y : array (a Dask array when ``X`` is, or NumPy)
        Targets: values for ``"mse"``, 0/1 labels for ``"binary_cross_entropy"``,
        integer labels or one-hot rows for ``"cross_entropy"``.
    epochs : int
        Passes over the training data (the articles' iteration budget).
    batch_size : int or None
        Samples per gradient step; ``None`` is full-batch gradient descent.
    shuffle : bool
        Reshuffle the samples every epoch (from the network's ``random_state``).
    validation_split : float in [0, 1)
        Fraction of samples, taken from the end, held out for validation.
    validation_data : tuple (X_val, y_val[, sample_weight]), optional
    callbacks : list of Callback
    verbose : {0, 1, 2}
        0 silent, 1 a line per epoch, 2 also a line per batch with the gradient norm.
    target_loss : float, optional
        Stop as soon as an epoch's training loss is at or below it (the target error).
    sample_weight : array of shape (n_samples,), optional
        Weights of the samples in the loss.
    resume_from : str or os.PathLike, optional
        A ``.glassnet`` file (from ``save`` or a ``Checkpoint``) of this same network:
        its weights, optimizer state, random-generator state and epoch count are put
        into ``net``, and training continues from that epoch up to ``epochs`` in total
        (as Keras' ``initial_epoch``), exactly as if it had never stopped.
    on_divergence : {"raise", "warn"}, default "raise"
        When a batch's loss becomes NaN or infinite or grows past ``RUNAWAY`` (a million)
        times its first value, or the weights become non-finite, training stops and the
        network keeps the weights from the start of an epoch whose first batch had a finite,
        bounded loss (the lowest such), so that it predicts finite numbers; ``"raise"`` then
        raises :class:`DivergenceError`, ``"warn"`` warns and returns normally
        (``History.stop_reason`` says what happened).

    Ctrl-C (SIGINT) stops training after the current batch: the weights of the best
    epoch so far are kept (by ``val_loss``; without validation, the last weights),
    ``History.stop_reason`` and ``History.interrupted`` record it, a warning is
    issued, and ``fit`` returns normally. A callback, or another thread (``LiveView``'s
    Stop button), stops training the same way by setting ``net.stop_requested`` to a
    reason (``"stopped from the live page"``), without the warning.

    Returns
    -------
    History
    """
    epochs, batch_size, callbacks = check_fit_arguments(epochs, batch_size, verbose,
                                                        on_divergence, callbacks)
    source, val = _sources(net, X, y, sample_weight, batch_size, shuffle, validation_split,
                           validation_data)
    first_epoch = start_epoch(net, resume_from)
    return train(net, source, val, _local_step(net), epochs=epochs, callbacks=callbacks,
                 verbose=verbose, target_loss=target_loss, on_divergence=on_divergence,
                 first_epoch=first_epoch)


def check_fit_arguments(epochs, batch_size, verbose, on_divergence, callbacks):
    """``(epochs, batch_size, callbacks)`` checked, each mistake one line naming it."""
    epochs = _check_int("epochs", epochs, 1)
    batch_size = _check_int("batch_size", batch_size, 1, allow_none=True)
    if verbose not in (0, 1, 2, False, True):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}.")
    if on_divergence not in ("raise", "warn"):
        raise ValueError(f"on_divergence must be 'raise' or 'warn', got {on_divergence!r}.")
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise ValueError(f"callbacks must be glassnet Callback instances, got {cb!r}.")
    return epochs, batch_size, callbacks


def start_epoch(net, resume_from):
    """The epoch training starts from: ``resume_from``'s, its state put into ``net``, or 0."""
    if resume_from is not None:
        return resume_into(net, resume_from)
    if not hasattr(net, "epochs_done"):
        net.epochs_done = 0
    return 0


def _local_step(net):
    """The single-process step: the batch's loss with ``net.grads`` filled, and its weight
    in the epoch's mean loss (rows, or the sum of the sample weights)."""
    def step(where, batch):
        Xb, Tb, swb = batch
        loss = net.loss_and_gradients(Xb, Tb, swb)
        return loss, (len(Xb) if swb is None else float(swb.sum()))
    return step


def train(net, source, val, step, *, epochs, callbacks, verbose=1, target_loss=None,
          on_divergence="raise", first_epoch=0):
    """The epochs of ``fit`` over a data ``source`` (``n``, ``steps``, ``batches()``), with
    ``step((epoch, batch), data) -> (loss, weight)`` computing each batch's gradients into
    ``net.grads`` (on this process, or summed over a cluster's workers); then one optimizer
    step, the callbacks, validation, Ctrl-C, stop requests and divergence, as ``fit``
    documents. Returns the ``History``."""
    history = History()
    extra = [] if target_loss is None else [TargetLoss(target_loss)]
    # The callbacks that only record or show the logs (History, TensorBoard, LiveView)
    # come after the others, so that what those add to an epoch's logs (GradientStats'
    # per-layer numbers, say) is recorded too; each group keeps the user's order.
    recorders = [cb for cb in callbacks if cb.records_logs]
    callbacks = [*(cb for cb in callbacks if not cb.records_logs), *extra, *recorders, history,
                 ProgressLogger(int(verbose))]
    metric = "accuracy" if net.loss.is_classification else "r2"
    keys = ["loss", "learning_rate"] + (["val_loss", f"val_{metric}"] if val else [])
    params = {"epochs": epochs, "steps": source.steps, "samples": source.n, "metrics": keys}
    net.stop_training, net.stop_reason, net.stop_requested = False, None, None
    for cb in callbacks:
        cb.set_model(net)
        cb.set_params(params)
    for cb in callbacks:
        cb.on_train_begin()

    problem, best, epoch = None, (math.inf, None, None), first_epoch
    # Where an interrupt finds the epoch, and the divergence guard.
    progress = {"snapshot": None, "batch": None, "guard": _Guard()}
    with _CtrlC() as ctrl_c:
        try:
            for epoch in range(first_epoch, epochs):
                problem, best = _run_epoch(net, epoch, source, val, step, callbacks, best,
                                           ctrl_c, progress)
                if (ctrl_c.requested or net.stop_requested) and not problem:
                    # pressed during validation or the epoch's callbacks
                    problem = ("interrupted", epoch, None, net.params.copy())
                if problem or net.stop_training:
                    break
        except KeyboardInterrupt:  # raised by a second Ctrl-C or a user's handler
            snapshot = progress["snapshot"]
            problem = ("interrupted", epoch, progress["batch"],
                       net.params.copy() if snapshot is None else snapshot)
    if problem and problem[0] == "interrupted":
        _finish_interrupted(net, history, problem, best)
    elif problem:
        _, (at_epoch, at_batch), what, _ = problem
        advice = FIT_ADVICE + (" Pass on_divergence='warn' to stop with a warning."
                               if on_divergence == "raise" else "")
        error = DivergenceError(what, at_epoch + 1, at_batch + 1,
                                net.optimizer.current_learning_rate,
                                progress["guard"].restore(net.params), advice)
        net.stop_training, net.stop_reason = True, error.summary
    elif epochs <= first_epoch:
        net.stop_reason = f"already trained {first_epoch} epochs (epochs={epochs})"
    for cb in callbacks:
        cb.on_train_end()
    net.history = history
    if problem and problem[0] != "interrupted":
        if on_divergence == "raise":
            raise error
        warnings.warn(str(error), RuntimeWarning, stacklevel=4)
    return history


def _finish_interrupted(net, history, problem, best):
    """After Ctrl-C or a stop request: keep the best epoch's weights (or the last), say so;
    warn once for Ctrl-C (a request's sender knows)."""
    _, epoch, batch, snapshot = problem
    kept = "the last weights"
    if best[1] is not None:
        net.params[...] = best[1]
        kept = f"the weights of epoch {best[2] + 1} (best val_loss {best[0]:.6g})"
    elif not all_finite(net.params):
        net.params[...] = snapshot
        kept = "the weights from the start of that epoch"
    where = f"epoch {epoch + 1}" + ("" if batch is None else f", batch {batch + 1}")
    net.stop_training = True
    by = net.stop_requested or "interrupted (Ctrl-C)"
    net.stop_reason = f"{by} during {where}; the network keeps {kept}"
    history.interrupted = True
    if not net.stop_requested:
        warnings.warn(f"Training {net.stop_reason}.", RuntimeWarning, stacklevel=5)


def _run_epoch(net, epoch, source, val, step, callbacks, best, ctrl_c, progress):
    """One pass over the data; returns ``(problem, best)``, ``problem`` None when all went
    well, else ``(kind, where, loss, snapshot)``.
    """
    progress["snapshot"], progress["batch"] = None, None
    start_time = time.perf_counter()
    for cb in callbacks:
        cb.on_epoch_begin(epoch)
    # The weights the epoch starts from, after on_epoch_begin: its first batch's loss is
    # computed on exactly these.
    snapshot = progress["snapshot"] = progress["guard"].snapshot(net.params, epoch)
    lr = net.optimizer.current_learning_rate
    total, seen = 0.0, 0
    for batch, data in enumerate(source.batches()):
        progress["batch"] = batch
        loss, weight = step((epoch, batch), data)
        what = progress["guard"].check(loss, batch)
        if what:
            return ("diverged", (epoch, batch), what, snapshot), best
        net.apply_gradients()
        total, seen = total + loss * weight, seen + weight
        for cb in callbacks:
            cb.on_batch_end(batch, {"loss": loss, "size": len(data[0])})
        if ctrl_c.requested or net.stop_requested:
            return ("interrupted", epoch, batch, snapshot), best
        if net.stop_training:
            break
    progress["batch"] = None  # past the batches: validation and the epoch's callbacks
    loss = total / seen if seen else 0.0
    if not all_finite(net.params):
        return ("diverged", (epoch, batch), "the weights became non-finite", snapshot), best
    logs = {"loss": loss, "learning_rate": lr}
    if val is not None:
        for key, value in _evaluate(net, val).items():
            logs[f"val_{key}"] = value
        if logs["val_loss"] < best[0]:
            best = (logs["val_loss"], net.params.copy(), epoch)
    logs["time"] = time.perf_counter() - start_time
    net.epochs_done = epoch + 1
    for cb in callbacks:
        cb.on_epoch_end(epoch, logs)
    return None, best
