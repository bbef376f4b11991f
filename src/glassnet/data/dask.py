"""Out of core: the fit loop's batches from Dask arrays, computed a chunk of rows at a time.

``import glassnet`` never imports Dask: this module imports it inside its functions, and
``is_dask_collection`` recognizes a Dask object by its class's module alone.

What stays in memory is bounded by the chunks, not by the data: the chunk being cut into
batches and the next one, computed ahead on a worker thread (``dask.compute`` of the
chunk's blocks of ``X``, ``y`` and ``sample_weight`` together, so a ``y`` computed from
``X`` reuses ``X``'s block). Each chunk is checked as it arrives (NaN, infinity, values
beyond the network's dtype) with the messages of NumPy input and row numbers counted from
the start of the whole array.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..backend import check_features, check_fraction


def is_dask_collection(obj) -> bool:
    """Whether ``obj`` is a Dask collection (array, DataFrame, Series), without importing
    Dask."""
    return type(obj).__module__.startswith("dask.") and hasattr(obj, "__dask_graph__")


def as_dask_array(X, name="X"):
    """A Dask array of known chunk sizes (a DataFrame's values, its lengths computed)."""
    if hasattr(X, "to_dask_array"):  # a Dask DataFrame or Series
        X = X.to_dask_array(lengths=True)
    if any(math.isnan(c) for c in X.chunks[0]):
        raise ValueError(f"{name} is a Dask array of unknown chunk sizes; call "
                         f"{name}.compute_chunk_sizes() first (or to_dask_array(lengths=True)).")
    return X


def check_dask_features(X, name="X", input_shape=None):
    """``X`` as a Dask array, its dtype and shape checked without computing it (the values
    are checked chunk by chunk as they are computed)."""
    X = as_dask_array(X, name)
    probe = np.broadcast_to(np.zeros((), X.dtype), X.shape)  # no memory: a zero stride
    check_features(probe[:1] if X.ndim >= 2 else probe, name, input_shape)
    return X


def split_last_chunks(X, y, sw, validation_split):
    """``(train, validation)``: the last whole chunks of rows held out, as many as come
    closest to ``validation_split`` of the chunks (at least one), so the validation part
    is about that fraction of the samples, exactly so for equal chunks."""
    split = check_fraction("validation_split", validation_split)
    chunks = as_dask_array(X).chunks[0]
    held = max(1, round(len(chunks) * split))
    if held >= len(chunks):
        raise ValueError(
            f"validation_split={validation_split} holds out whole chunks of rows, and X has "
            f"{len(chunks)} chunk(s); rechunk X into more chunks (X.rechunk({{0: rows}})) or "
            "pass validation_data."
        )
    cut = sum(chunks[:-held])
    pick = [tuple(None if a is None else a[s] for a in (X, y, sw))
            for s in (slice(None, cut), slice(cut, None))]
    return pick[0], pick[1]


def map_rows(fn, X, out_shape, dtype, input_shape):
    """The lazy Dask array of ``fn(chunk, first_row=start)`` for each chunk of rows of
    ``X`` (``fn`` returns ``(rows, *out_shape)``; ``start`` is the chunk's first row in
    ``X``, for its messages)."""
    import dask
    import dask.array as da

    X = check_dask_features(X, input_shape=input_shape)
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    rows = X.chunks[0]
    starts = np.cumsum((0,) + rows[:-1])
    call = dask.delayed(fn, pure=True)
    return da.concatenate([
        da.from_delayed(call(block, first_row=int(start)), (r, *out_shape), dtype=dtype)
        for block, start, r in zip(X.to_delayed().ravel(), starts, rows)
    ])


class DaskSource:
    """``ArraySource``'s interface (``n``, ``steps``, ``batches()``) over Dask ``X``, ``y``
    and ``sample_weight`` (``y`` and the weights may also be NumPy arrays; Dask ones are
    rechunked to ``X``'s rows), each chunk of rows computed when needed, put through
    ``prepare(X, y, sample_weight, first_row=...)`` (the network's checks and target form,
    rows named as in the whole array), and cut into
    batches of ``batch_size`` rows; ``X`` is cast to ``dtype`` batch by batch.

    Batches run across chunk boundaries: every batch has ``batch_size`` rows but the
    epoch's last, so ``steps`` is NumPy's, and without shuffling the batches are exactly
    those of the same arrays in memory, whatever the chunks.

    Shuffling (``shuffle=True``) is not a full shuffle: each epoch draws from ``rng`` a new
    order of the chunks, then, as each chunk arrives, a permutation of its rows. A batch so
    holds rows of one chunk, or of two chunks consecutive in that epoch's order, never of
    rows far apart in it; when the data were written sorted (by label, by time), choose
    chunks that each hold a mix, or shuffle the array once (``X[perm]``) beforehand.
    ``batch_size=None`` (one batch of all rows) holds all of ``X`` in memory.
    """

    def __init__(self, X, T, sample_weight, batch_size, shuffle, rng, dtype, xp, prepare):
        X = as_dask_array(X)
        X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
        rows = X.chunks[0]
        self.n = X.shape[0]
        self.batch_size = self.n if batch_size is None else min(batch_size, self.n)
        self.steps = -(-self.n // self.batch_size)
        self.shuffle, self.rng, self.dtype, self.xp = shuffle, rng, dtype, xp
        self.prepare = prepare
        arrays = [X]
        for name, a in (("y", T), ("sample_weight", sample_weight)):
            if a is not None:
                a = as_dask_array(a, name) if is_dask_collection(a) else np.asarray(a)
                if len(a) != self.n:
                    raise ValueError(f"X and {name} must have the same number of samples, "
                                     f"got {self.n} and {len(a)}.")
                if is_dask_collection(a):
                    a = a.rechunk({0: rows, **{axis: -1 for axis in range(1, a.ndim)}})
            arrays.append(a)
        starts = [int(s) for s in np.cumsum((0,) + rows[:-1])]
        kept = [i for i, r in enumerate(rows) if r]  # a slice may leave empty chunks
        self.starts, self.rows = [starts[i] for i in kept], [rows[i] for i in kept]
        self._blocks = [
            tuple(a if a is None else a.blocks[i] if is_dask_collection(a)
                  else a[starts[i] : starts[i] + rows[i]] for a in arrays)
            for i in kept
        ]

    def _load(self, i):
        """Chunk ``i`` computed and prepared."""
        import dask

        X, y, sw = dask.compute(*self._blocks[i])
        return self.prepare(X, y, sw, first_row=self.starts[i])

    def chunks(self, order=None):
        """The prepared chunks ``(X, T, sample_weight)``, in ``order`` (default: as stored),
        the next one computed while the caller works on the current one."""
        order = range(len(self._blocks)) if order is None else order
        with ThreadPoolExecutor(1) as pool:
            ahead = None
            for k, i in enumerate(order):
                current = pool.submit(self._load, i) if ahead is None else ahead
                ahead = pool.submit(self._load, order[k + 1]) if k + 1 < len(order) else None
                yield current.result()

    def batches(self):
        """This epoch's batches, as ``(X, T, sample_weight)``; a shuffled epoch draws its
        order of chunks from ``rng`` when it starts, each chunk's permutation when it comes."""
        order = self.rng.permutation(len(self._blocks)) if self.shuffle else None
        bs, pending, filled = self.batch_size, [], 0
        for X, T, sw in self.chunks(order):
            perm = self.rng.permutation(len(X)) if self.shuffle else None
            pos = 0
            while pos < len(X):
                take = min(bs - filled, len(X) - pos)
                rows = slice(pos, pos + take) if perm is None else perm[pos : pos + take]
                piece = tuple(None if a is None else a[rows] for a in (X, T, sw))
                pos += take
                if take == bs:
                    yield self._cast(piece)
                    continue
                pending.append(piece)
                filled += take
                if filled == bs:
                    yield self._cast(self._join(pending))
                    pending, filled = [], 0
        if pending:
            yield self._cast(self._join(pending))

    def _join(self, pieces):
        return tuple(None if parts[0] is None else self.xp.concatenate(parts)
                     for parts in zip(*pieces))

    def _cast(self, batch):
        X, T, sw = batch
        return (X if X.dtype == self.dtype else X.astype(self.dtype)), T, sw
