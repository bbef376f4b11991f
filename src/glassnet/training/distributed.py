"""Data-parallel synchronous training on a Dask cluster (PyTorch DDP's arithmetic).

The training rows are split into one contiguous shard per worker, sent once (and, with two
or more workers, each held by a second one too, so that a step survives losing a worker).
Each step the client sends the current parameters; every worker computes, on the batch's
rows that fall in its shard, the loss and gradient *sums* (the part's mean times its count,
the number of rows or the sum of their weights) and that count; the client adds the sums
in shard order and takes one optimizer step with ``grads = sum / count``, the mean gradient
of the whole batch. The batches are those of the single-process ``fit`` (the same
``ArraySource`` permutation from ``net.rng``), so both train the same network up to rounding.
"""

from __future__ import annotations

import copy
import math
import threading
import time
import uuid

import numpy as np

from ..callbacks import Callback, History, ProgressLogger
from ..data import ArraySource
from .loop import (
    FIT_ADVICE,
    DivergenceError,
    _check_int,
    _CtrlC,
    _end_epoch,
    _finish_interrupted,
    _Guard,
    _validation,
)

#: A worker's copy of the network for each run, by (run id, worker thread): the copy is
#: made once per run, and threads of one process (``processes=False``) never share one.
_NETS = {}


def _part_sums(run, twin, params, shard, rows, training):
    """On a worker: ``(loss sum, gradient sum, count, rows)`` of its shard's ``rows``."""
    net = _NETS.get((run, threading.get_ident()))
    if net is None:
        net = _NETS[(run, threading.get_ident())] = copy.deepcopy(twin)
    X, T, sw = shard
    swb = None if sw is None else sw[rows]
    count = float(len(rows)) if swb is None else float(swb.sum(dtype=np.float64))
    if count == 0:  # all weights zero: the part adds nothing
        return 0.0, None, 0.0, len(rows)
    net.params[...] = params
    loss = net.loss_and_gradients(net.as_input(X[rows]), T[rows], swb, training)
    return loss * count, net.grads.astype(np.float64) * count, count, len(rows)


def _forget(run):
    """On a worker: drop the run's copies of the network."""
    for key in [key for key in _NETS if key[0] == run]:
        _NETS.pop(key, None)


def _check_supported(net, training):
    """Refuse in one line what the sums cannot reproduce exactly."""
    from ..layers.base import Layer
    from ..network import Network

    if type(net).loss_and_gradients is not Network.loss_and_gradients:
        raise ValueError(f"data-parallel training supports networks whose loss is a mean over "
                         f"samples; {type(net).__name__} computes its own loss_and_gradients "
                         f"(a penalty); train it without client=.")
    odd = [layer.name for layer in net.layers
           if layer.state or type(layer).hold_randomness is not Layer.hold_randomness]
    if training and odd:
        raise ValueError(f"data-parallel fit supports networks without Dropout/"
                         f"BatchNormalization (random draws or batch statistics would differ "
                         f"per worker); {', '.join(odd)} has them: remove it or train "
                         f"without client=.")


class _Shards:
    """The rows of ``(X, T, sw)`` on the workers of ``client`` and the network's copy there;
    ``sums(rows, training)`` is one step's loss with ``net.grads`` set to the batch mean."""

    def __init__(self, client, net, X, T, sw, shards=None):
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise ValueError("client has no workers; start some (LocalCluster(n_workers=2)).")
        n = len(X)
        if shards is None:
            sizes = [len(part) for part in np.array_split(np.arange(n), len(workers))]
        else:
            sizes = [int(s) for s in shards]
            if len(sizes) != len(workers) or sum(sizes) != n or min(sizes) < 0:
                raise ValueError(f"shards must be {len(workers)} row counts (one per worker) "
                                 f"adding up to the {n} samples, got {shards!r}.")
        self.bounds = np.concatenate([[0], np.cumsum(sizes)])
        self.client, self.net, self.workers = client, net, workers
        self.run = uuid.uuid4().hex
        self.futures = [
            client.scatter([(X[a:b], T[a:b], None if sw is None else sw[a:b])],
                           workers=[w], hash=False)[0]
            for w, a, b in zip(workers, self.bounds[:-1], self.bounds[1:])]
        if len(workers) > 1:
            client.replicate(self.futures, n=2)
        self.twin = client.scatter(net.copy(), broadcast=True, hash=False)
        self.where = "the computation"  # "epoch 2, step 5": where a step failed

    def sums(self, rows, training):
        """The loss of the batch ``rows`` (indices into X); fills ``net.grads`` with its
        mean gradient. Applies nothing: the caller steps only once this returns."""
        client, params = self.client, self.client.scatter(self.net.params, broadcast=True,
                                                          hash=False)
        tasks = []
        for i, (w, a, b) in enumerate(zip(self.workers, self.bounds[:-1], self.bounds[1:])):
            local = rows[(rows >= a) & (rows < b)] - a
            if len(local):
                tasks.append(client.submit(_part_sums, self.run, self.twin, params,
                                           self.futures[i], local, training, workers=[w],
                                           allow_other_workers=True, pure=False))
        try:
            parts = client.gather(tasks)
        except Exception:
            self._raise_if_lost()
            raise
        loss, total, count, seen = 0.0, np.zeros(self.net.params.size), 0.0, 0
        for part_loss, grads, part_count, part_rows in parts:  # in shard order: deterministic
            seen += part_rows
            if grads is not None:
                loss, count = loss + part_loss, count + part_count
                total += grads
        if seen != len(rows):  # never a step from a partial sum
            raise RuntimeError(f"In {self.where}, the workers returned {seen} of the batch's "
                               f"{len(rows)} rows; the step was not applied.")
        self.count = count  # the batch's weight in the epoch's mean loss
        self.net.grads[...] = total / count if count else 0.0
        return loss / count if count else 0.0

    def _raise_if_lost(self):
        for w, future, a, b in zip(self.workers, self.futures, self.bounds[:-1],
                                   self.bounds[1:]):
            if future.status != "finished":
                raise RuntimeError(f"Worker {w} died during {self.where}: its shard of rows "
                                   f"{a}..{b - 1} ({b - a} rows) is gone from every worker; "
                                   f"the step was not applied.") from None

    def close(self):
        try:
            self.client.run(_forget, self.run)
        finally:
            self.client.cancel([*self.futures, self.twin])


def compute_gradients(net, X, y, client, sample_weight=None, training=False, shards=None):
    """``net.compute_gradients(X, y, ...)`` with the rows spread over ``client``'s workers:
    ``(loss, [dL/dW1, dL/db1, ...])``; ``shards`` (rows per worker) defaults to equal parts."""
    X, T, sw = net.prepare(X, y, sample_weight)
    _check_supported(net, training)
    shards_ = _Shards(client, net, X, T, sw, shards)
    try:
        loss = shards_.sums(np.arange(len(X)), training)
    finally:
        shards_.close()
    return loss, [g.copy() for layer in net.layers for g in layer.grads]


def fit(net, X, y, *, client, epochs=10, batch_size=32, shuffle=True, validation_data=None,
        sample_weight=None, callbacks=None, verbose=1, shards=None):
    """Train ``net`` on ``client``'s workers, one synchronous step per batch, as ``fit``
    would on one machine (same batches, same steps up to rounding); returns its ``History``.

    ``shards`` (rows per worker, in the order of their addresses) defaults to equal parts.
    Validation runs on the client after each epoch. A worker that dies is replaced by the
    one holding its shard's copy; when no copy is left, the step is not applied and a
    ``RuntimeError`` says which rows were lost. Divergence raises ``DivergenceError`` with
    the weights put back as ``fit`` does; a stop request or Ctrl-C ends after the step.
    """
    epochs = _check_int("epochs", epochs, 1)
    batch_size = _check_int("batch_size", batch_size, 1, allow_none=True)
    if verbose not in (0, 1, 2, False, True):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}.")
    callbacks = list(callbacks or [])
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise ValueError(f"callbacks must be glassnet Callback instances, got {cb!r}.")
    X, T, sw = net.prepare(X, y, sample_weight)
    _check_supported(net, training=True)
    val = None if validation_data is None else _validation(net, validation_data)
    if not hasattr(net, "epochs_done"):
        net.epochs_done = 0
    # The single-process fit's batches, as row indices: the same permutation, the same cut.
    rows = np.arange(len(X))
    source = ArraySource(rows, rows, None, batch_size, shuffle, net.rng, rows.dtype, np)
    history = History()
    recorders = [cb for cb in callbacks if cb.records_logs]
    callbacks = [*(cb for cb in callbacks if not cb.records_logs), *recorders, history,
                 ProgressLogger(int(verbose))]
    metric = "accuracy" if net.loss.is_classification else "r2"
    keys = ["loss", "learning_rate"] + (["val_loss", f"val_{metric}"] if val else [])
    for cb in callbacks:
        cb.set_model(net)
        cb.set_params({"epochs": epochs, "steps": source.steps, "samples": source.n,
                       "metrics": keys})
    net.stop_training, net.stop_reason, net.stop_requested = False, None, None
    shards_ = _Shards(client, net, X, T, sw, shards)
    guard = _Guard()
    try:
        for cb in callbacks:
            cb.on_train_begin()
        with _CtrlC() as ctrl_c:
            problem, best = None, (math.inf, None, None)
            for epoch in range(epochs):
                problem, best = _epoch(net, epoch, shards_, source, val, callbacks, best,
                                       ctrl_c, guard)
                if problem or net.stop_training:
                    break
    finally:
        shards_.close()
    error = None
    if problem and problem[0] == "interrupted":
        _finish_interrupted(net, history, problem, best)
    elif problem:
        _, (at_epoch, at_batch), what, _ = problem
        error = DivergenceError(what, at_epoch + 1, at_batch + 1,
                                net.optimizer.current_learning_rate,
                                guard.restore(net.params), FIT_ADVICE)
        net.stop_training, net.stop_reason = True, error.summary
    for cb in callbacks:
        cb.on_train_end()
    net.history = history
    if error is not None:
        raise error
    return history


def _epoch(net, epoch, shards, source, val, callbacks, best, ctrl_c, guard):
    """One pass, as the single-process loop's: ``(problem, best)``, ``problem`` None, an
    interruption ``("interrupted", epoch, batch, snapshot)`` or a divergence
    ``("diverged", (epoch, batch), what, learning_rate)``."""
    start_time = time.perf_counter()
    for cb in callbacks:
        cb.on_epoch_begin(epoch)
    snapshot = guard.snapshot(net.params, epoch)
    lr = net.optimizer.current_learning_rate
    total, seen, batch = 0.0, 0.0, 0
    for batch, (rows, _, _) in enumerate(source.batches()):
        shards.where = f"epoch {epoch + 1}, step {batch + 1}"
        loss = shards.sums(rows, training=True)
        what = guard.check(loss, batch)
        if what:
            return ("diverged", (epoch, batch), what, snapshot), best
        net.apply_gradients()
        total, seen = total + loss * shards.count, seen + shards.count
        for cb in callbacks:
            cb.on_batch_end(batch, {"loss": loss, "size": len(rows)})
        if ctrl_c.requested or net.stop_requested:
            return ("interrupted", epoch, batch, snapshot), best
        if net.stop_training:
            break
    return _end_epoch(net, epoch, batch, total / seen if seen else 0.0, lr, val, best,
                      callbacks, start_time, snapshot)
