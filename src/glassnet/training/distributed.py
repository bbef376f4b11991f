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
import threading
import uuid

import numpy as np

from ..data import ArraySource, split_last
from ..data.dask import is_dask_collection
from .loop import _validation, check_fit_arguments, start_epoch, train

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
        # The parameters go with each task (one flat array): cheaper than a scatter and a
        # dependency for the scheduler to track (13 against 22 ms a step on this machine).
        client, params = self.client, self.net.params
        tasks = []
        for i, (w, a, b) in enumerate(zip(self.workers, self.bounds[:-1], self.bounds[1:])):
            local = rows[(rows >= a) & (rows < b)] - a
            if len(local):
                tasks.append(client.submit(_part_sums, self.run, self.twin, params,
                                           self.futures[i], local, training, workers=[w],
                                           allow_other_workers=True, pure=False))
        try:  # a shard lost with every copy (every worker dead, too) is one clear error
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

    def step(self, where, batch):
        """The fit loop's step (:func:`glassnet.training.loop.train`): batch ``(rows, _,
        _)`` of ``(epoch, batch)``; returns its loss and weight."""
        self.where = f"epoch {where[0] + 1}, step {where[1] + 1}"
        return self.sums(batch[0], training=True), self.count

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


def fit(net, X, y, *, client, epochs=10, batch_size=32, shuffle=True, validation_split=0.0,
        validation_data=None, callbacks=None, verbose=1, target_loss=None, sample_weight=None,
        resume_from=None, on_divergence="raise", shards=None):
    """Train ``net`` on ``client``'s workers, one synchronous step per batch, as
    :func:`glassnet.training.fit` would on one machine (same batches, same steps up to
    rounding, the same options); returns its ``History``.

    ``shards`` (rows per worker, in the order of their addresses) defaults to equal parts.
    ``validation_split`` holds out the last rows before the shards are cut; validation runs
    on the client after each epoch. A worker that dies is replaced by the one holding its
    shard's copy; when no copy is left, the step is not applied and a ``RuntimeError``
    says which rows were lost.
    """
    epochs, batch_size, callbacks = check_fit_arguments(epochs, batch_size, verbose,
                                                        on_divergence, callbacks)
    if is_dask_collection(X):
        raise ValueError("client= trains on NumPy arrays, each worker holding its shard in "
                         "memory; for a Dask X that does not fit, train without client= "
                         "(out of core), or X.compute() it first.")
    X, T, sw = net.prepare(X, y, sample_weight)
    _check_supported(net, training=True)
    val = None
    if validation_data is not None:
        val = _validation(net, validation_data)
    elif validation_split:
        (X, T, sw), val = split_last(X, T, sw, validation_split)
    first_epoch = start_epoch(net, resume_from)
    # The single-process fit's batches, as row indices: the same permutation, the same cut.
    rows = np.arange(len(X))
    source = ArraySource(rows, rows, None, batch_size, shuffle, net.rng, rows.dtype, np)
    shards_ = _Shards(client, net, X, T, sw, shards)
    try:
        return train(net, source, val, shards_.step, epochs=epochs, callbacks=callbacks,
                     verbose=verbose, target_loss=target_loss, on_divergence=on_divergence,
                     first_epoch=first_epoch)
    finally:
        shards_.close()
