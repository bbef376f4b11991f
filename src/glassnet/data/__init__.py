"""Where the fit loop's batches come from: a source yields ``(X, T, sample_weight)`` batches
epoch after epoch. ``ArraySource`` holds arrays in memory; ``DaskSource`` (``data.dask``) computes
Dask arrays a chunk at a time (out of core) in its place; Dask is imported only when used."""

from .arrays import ArraySource, split_last
from .dask import DaskSource, is_dask_collection

__all__ = ["ArraySource", "DaskSource", "is_dask_collection", "split_last"]
