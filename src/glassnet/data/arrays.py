"""``ArraySource``: mini-batches of in-memory arrays, shuffled each epoch, gathered into
buffers reused from batch to batch (the hot path allocates nothing after the first batch).
"""

from __future__ import annotations

from ..backend import check_fraction


def split_last(X, T, sw, validation_split):
    """``(train, validation)``: the last ``validation_split`` of the samples held out, as
    views (Keras's rule: taken before any shuffling, from the end)."""
    split = check_fraction("validation_split", validation_split)
    n_train = int(len(X) * (1.0 - split))
    if n_train < 1 or n_train == len(X):
        raise ValueError(
            f"validation_split={validation_split} leaves an empty training or validation set "
            f"for {len(X)} samples; use more samples or another split."
        )
    cut = slice(None, n_train), slice(n_train, None)
    pick = [tuple(None if a is None else a[s] for a in (X, T, sw)) for s in cut]
    return pick[0], pick[1]


class ArraySource:
    """Batches of ``batch_size`` rows of ``(X, T, sample_weight)`` (``None``: all rows, full
    batch), in a new random order each epoch when ``shuffle`` (drawn from ``rng``), with
    ``X`` cast to ``dtype``.

    ``n`` is the number of samples and ``steps`` the batches per epoch.
    """

    def __init__(self, X, T, sample_weight, batch_size, shuffle, rng, dtype, xp):
        self.n = len(X)
        self.batch_size = self.n if batch_size is None else min(batch_size, self.n)
        self.steps = -(-self.n // self.batch_size)
        self.shuffle, self.rng, self.dtype, self.xp = shuffle, rng, dtype, xp
        if self.batch_size == self.n and X.dtype != dtype:  # full batch: one cast, up front
            X = X.astype(dtype)
        self.X, self.T, self.sw = X, T, sample_weight
        self._buffers = {}

    def batches(self):
        """This epoch's batches, as ``(X, T, sample_weight)``; a shuffled epoch draws its
        permutation from ``rng`` when it starts."""
        n, bs = self.n, self.batch_size
        order = self.rng.permutation(n) if self.shuffle and bs < n else None
        for start in range(0, n, bs):
            if order is None:
                rows = slice(start, start + bs)
                X = self.X[rows]
                yield (X if X.dtype == self.dtype else X.astype(self.dtype), self.T[rows],
                       None if self.sw is None else self.sw[rows])
            else:
                idx = order[start : start + bs]
                yield (self._gather(self.X, idx, "X", self.dtype),
                       self._gather(self.T, idx, "T", self.T.dtype),
                       None if self.sw is None else self.sw[idx])

    def _gather(self, A, idx, key, dtype):
        """``A[idx]`` as ``dtype``, into a reused buffer when the dtypes match."""
        if A.dtype != dtype:
            return A.take(idx, axis=0).astype(dtype)
        shape = (len(idx),) + A.shape[1:]
        buf = self._buffers.get(key)
        if buf is None or buf.shape != shape:
            buf = self._buffers[key] = self.xp.empty(shape, dtype=A.dtype)
        # mode="clip" lets numpy write straight into `out` (idx is always in range).
        return self.xp.take(A, idx, axis=0, out=buf, mode="clip")
