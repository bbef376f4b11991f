"""Scores of predictions: accuracy and R², weighted as scikit-learn weights them."""

from __future__ import annotations

import numpy as np

from ..backend import backend_of


def _metric_weights(sample_weight, n):
    """``sample_weight`` as float64 (``None`` stays ``None``); refuses an all-zero one."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"sample_weight must hold {n} numbers, one per sample, got shape "
                         f"{w.shape}.")
    if not w.sum() > 0:
        raise ValueError("sample_weight sums to 0: no sample counts, so the metric is "
                         "undefined; give some sample a positive weight.")
    return w


def accuracy(P, T, sample_weight=None, binary=False) -> float:
    """Fraction of samples classified right: the argmax class, or with ``binary=True``
    every label thresholded at 0.5 (subset accuracy, as scikit-learn's for multilabel).
    With ``sample_weight``, the weighted fraction ``sum_i w_i [right_i] / sum_i w_i``, as
    ``sklearn.metrics.accuracy_score(..., sample_weight=w)``.
    """
    P, T = backend_of(P).to_host(P), backend_of(T).to_host(T)  # scores are counted on the host
    if binary:
        correct = ((P > 0.5) == (T > 0.5)).all(axis=1)
    else:
        labels = T if T.ndim == 1 else T.argmax(axis=1)
        correct = P.argmax(axis=1) == labels
    return float(np.average(correct, weights=_metric_weights(sample_weight, len(P))))


def r2_score(P, T, sample_weight=None) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` of each output (sums weighted by
    ``sample_weight``), averaged over outputs with equal weights: scikit-learn's
    ``r2_score(T, P, sample_weight=w)`` with its default ``multioutput="uniform_average"``.
    An output with constant targets scores 1.0 if predicted exactly and 0.0 otherwise
    (scikit-learn's ``force_finite=True``).
    """
    P, T = backend_of(P).to_host(P), backend_of(T).to_host(T)
    w = _metric_weights(sample_weight, len(T))
    w = np.ones(len(T)) if w is None else w
    T64, P64 = T.astype(np.float64), P.astype(np.float64)
    if T64.ndim == 1:
        T64, P64 = T64[:, None], P64.reshape(len(P64), -1)
    mean = np.average(T64, axis=0, weights=w)
    ss_res = (w[:, None] * (T64 - P64) ** 2).sum(axis=0)
    ss_tot = (w[:, None] * (T64 - mean) ** 2).sum(axis=0)
    scores = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1),
                      np.where(ss_res > 0, 0.0, 1.0))
    return float(scores.mean())
