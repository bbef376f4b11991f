"""Where the fit loop's batches come from: a source yields ``(X, T, sample_weight)`` batches
epoch after epoch. ``ArraySource`` holds arrays in memory; a source over Dask arrays (out of
core) can stand in its place without the loop changing."""

from .arrays import ArraySource, split_last

__all__ = ["ArraySource", "split_last"]
