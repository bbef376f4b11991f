"""Losses: value and gradient, plus the fused forms with their output activation.

Every loss is a weighted mean over samples: ``L = sum_i w_i l_i / sum_i w_i``
(``w_i = 1`` by default), where ``l_i`` is the loss of sample ``i``. Predictions
``P`` and encoded targets ``T`` are ``(n_samples, n_outputs)``; integer class labels
for cross-entropy stay ``(n_samples,)``.

Fused gradients. When the output activation is the one a loss pairs with
(softmax + categorical cross-entropy, sigmoid + binary cross-entropy), the chain
rule through the activation collapses to ``dL/dZ = w_i (P - Y) / (k sum w)``
(``k = 1`` for categorical cross-entropy, ``k = n_outputs`` for binary), and the
loss is computed from the logits ``Z`` with log-sum-exp / softplus, so neither
the value nor the gradient ever takes ``log(0)``. The shortcut is valid for
these pairings only; every other pairing uses the general chain rule.
"""

from __future__ import annotations

from ..backend import namespace, resolve_name


def _sample_scale(sample_weight, n, dtype):
    """Per-sample factor ``w_i / sum w`` as a column, or the scalar ``1 / n``."""
    xp = namespace(sample_weight)
    if sample_weight is None:
        return 1.0 / n
    total = float(sample_weight.sum())
    if total <= 0:
        return xp.zeros((n, 1), dtype=dtype)
    return (sample_weight / total).astype(dtype, copy=False)[:, None]


def _weighted_mean(per_sample, scale):
    """``sum_i scale_i * l_i`` for a ``(n,)`` vector of per-sample losses."""
    xp = namespace(per_sample)
    if not hasattr(scale, "shape"):  # a number: every sample weighs the same
        return float(per_sample.sum(dtype=xp.float64) * scale)
    return float((per_sample * scale[:, 0]).sum(dtype=xp.float64))


def _as_columns(y, n_outputs, loss_name):
    xp = namespace(y)
    y = xp.asarray(y)
    if y.ndim == 1 and n_outputs == 1:
        return y.reshape(-1, 1)
    if y.ndim == 2 and y.shape[1] == n_outputs:
        return y
    raise ValueError(
        f"y has shape {y.shape} but the network has {n_outputs} output(s); loss {loss_name!r} "
        f"needs y of shape (n_samples, {n_outputs})"
        + (" or (n_samples,)." if n_outputs == 1 else ".")
    )


def _check_unit_interval(T, loss_name):
    if T.size and (T.min() < 0 or T.max() > 1):
        raise ValueError(
            f"Loss {loss_name!r} needs targets y in [0, 1] (class labels 0/1 or probabilities), "
            f"got values in [{T.min()}, {T.max()}]."
        )


class Loss:
    """A loss: ``value(P, T)``, ``gradient(P, T) = dL/dP``, ``prepare_targets(y)``."""

    name = "loss"
    #: The output activation whose backward step fuses with this loss.
    fused_activation: str | None = None
    #: Whether the targets are classes (so accuracy is a meaningful score).
    is_classification = False

    def prepare_targets(self, y, n_outputs: int, dtype):
        """Check ``y`` against the network's output and encode it, once per fit."""
        raise NotImplementedError

    def value(self, P, T, sample_weight=None) -> float:
        raise NotImplementedError

    def gradient(self, P, T, sample_weight=None):
        raise NotImplementedError

    def fused(self, Z, T, activation, sample_weight=None):
        """``(L, dL/dZ)`` from the logits, for ``fused_activation`` only; reuses ``Z``."""
        raise NotImplementedError

    def get_config(self) -> dict:
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}()"


class MeanSquaredError(Loss):
    """``L = sum_i w_i mean_j (p_ij - y_ij)^2 / sum_i w_i``;
    ``dL/dp_ij = 2 w_i (p_ij - y_ij) / (k sum_i w_i)`` with ``k = n_outputs``.

    With one output and no weights this is the articles' ``E = 1/N sum (T - O)^2``.
    """

    name = "mse"

    def prepare_targets(self, y, n_outputs, dtype):
        T = _as_columns(y, n_outputs, self.name)
        if T.dtype.kind not in "biuf":
            raise ValueError(f"Loss 'mse' needs numeric targets y, got dtype {T.dtype}.")
        return T.astype(dtype, copy=False)

    def value(self, P, T, sample_weight=None):
        xp = namespace(P)
        scale = _sample_scale(sample_weight, len(P), P.dtype)
        diff = P - T
        return _weighted_mean(xp.einsum("ij,ij->i", diff, diff) / P.shape[1], scale)

    def gradient(self, P, T, sample_weight=None, out=None):
        xp = namespace(P)
        scale = _sample_scale(sample_weight, len(P), P.dtype)
        out = xp.subtract(P, T, out=out)
        out *= scale * (2.0 / P.shape[1])
        return out


class BinaryCrossEntropy(Loss):
    """``l_ij = -(y_ij log p_ij + (1 - y_ij) log(1 - p_ij))``,
    ``L = sum_i w_i mean_j l_ij / sum_i w_i``;
    ``dL/dp_ij = w_i (p_ij - y_ij) / (p_ij (1 - p_ij) k sum_i w_i)``.

    Fused with a sigmoid output: ``l = max(z, 0) - z y + log(1 + e^(-|z|))`` and
    ``dL/dz = w_i (p - y) / (k sum w)``. Logs of probabilities are clipped to
    ``[eps, 1 - eps]`` with ``eps`` the machine epsilon of the dtype.
    """

    name = "binary_cross_entropy"
    fused_activation = "sigmoid"
    is_classification = True

    def prepare_targets(self, y, n_outputs, dtype):
        T = _as_columns(y, n_outputs, self.name)
        if T.dtype.kind not in "biuf":
            raise ValueError(
                f"Loss {self.name!r} needs numeric targets y (0/1 labels), got dtype {T.dtype}; "
                "encode string labels as 0/1 first (or use glassnet.MLPClassifier)."
            )
        _check_unit_interval(T, self.name)
        return T.astype(dtype, copy=False)

    def _clip(self, P):
        xp = namespace(P)
        eps = xp.finfo(P.dtype).eps
        return xp.clip(P, eps, 1 - eps)

    def value(self, P, T, sample_weight=None):
        xp = namespace(P)
        scale = _sample_scale(sample_weight, len(P), P.dtype)
        Pc = self._clip(P)
        elementwise = T * xp.log(Pc) + (1 - T) * xp.log1p(-Pc)
        return _weighted_mean(-elementwise.mean(axis=1), scale)

    def gradient(self, P, T, sample_weight=None):
        scale = _sample_scale(sample_weight, len(P), P.dtype)
        Pc = self._clip(P)
        return (Pc - T) / (Pc * (1 - Pc)) * (scale / P.shape[1])

    def fused(self, Z, T, activation, sample_weight=None):
        xp = namespace(Z)
        scale = _sample_scale(sample_weight, len(Z), Z.dtype)
        softplus = xp.logaddexp(0, -xp.abs(Z))
        softplus += xp.maximum(Z, 0)
        softplus -= Z * T
        loss = _weighted_mean(softplus.mean(axis=1), scale)
        dZ = activation.value(Z, out=Z)  # P, written over the logits
        dZ -= T
        dZ *= scale / Z.shape[1]
        return loss, dZ


class CrossEntropy(Loss):
    """Categorical cross-entropy: ``l_i = -sum_j y_ij log p_ij``, ``L = sum_i w_i l_i / sum w``;
    ``dL/dp_ij = -w_i y_ij / (p_ij sum w)``.

    Targets are integer labels ``(n_samples,)`` in ``[0, n_outputs)`` or one-hot /
    probability rows ``(n_samples, n_outputs)``. Fused with a softmax output:
    ``l_i = logsumexp(z_i) - sum_j y_ij z_ij`` and ``dL/dz = w_i (p - y) / sum w``
    (for rows of ``y`` that sum to 1; ``p sum_j y_ij - y`` in general).
    """

    name = "cross_entropy"
    fused_activation = "softmax"
    is_classification = True

    def prepare_targets(self, y, n_outputs, dtype):
        xp = namespace(y)
        y = xp.asarray(y)
        if n_outputs < 2:
            raise ValueError(
                "Loss 'cross_entropy' needs an output layer of 2 or more units (one per class), "
                f"got {n_outputs}. For two classes with one output unit use "
                "loss='binary_cross_entropy' with a sigmoid output."
            )
        if y.dtype.kind not in "biuf":  # labels or rows: strings are neither
            raise ValueError(
                "Loss 'cross_entropy' needs integer class labels 0..n_classes-1 (or one-hot "
                f"rows), got dtype {y.dtype}; encode string labels first (or use "
                "glassnet.MLPClassifier)."
            )
        if y.ndim == 1:
            if y.dtype.kind == "f" and y.size and not xp.all(xp.mod(y, 1) == 0):
                raise ValueError(
                    "Loss 'cross_entropy' needs integer class labels y (or one-hot rows), "
                    "got non-integer floats."
                )
            if y.size and (y.min() < 0 or y.max() >= n_outputs):
                raise ValueError(
                    f"Loss 'cross_entropy' needs class labels y in [0, {n_outputs - 1}] for a "
                    f"network with {n_outputs} outputs, got labels in [{y.min()}, {y.max()}]."
                )
            return y.astype(xp.intp, copy=False)
        T = _as_columns(y, n_outputs, self.name)
        _check_unit_interval(T, self.name)
        return T.astype(dtype, copy=False)

    def value(self, P, T, sample_weight=None):
        xp = namespace(P)
        scale = _sample_scale(sample_weight, len(P), P.dtype)
        logP = xp.log(xp.clip(P, xp.finfo(P.dtype).tiny, None))
        if T.ndim == 1:
            per_sample = -logP[xp.arange(len(T)), T]
        else:
            per_sample = -xp.einsum("ij,ij->i", T, logP)
        return _weighted_mean(per_sample, scale)

    def gradient(self, P, T, sample_weight=None):
        xp = namespace(P)
        scale = _sample_scale(sample_weight, len(P), P.dtype)
        Pc = xp.clip(P, xp.finfo(P.dtype).tiny, None)
        if T.ndim == 1:
            G = xp.zeros_like(P)
            rows = xp.arange(len(T))
            G[rows, T] = -1.0 / Pc[rows, T]
        else:
            G = -T / Pc
        G *= scale
        return G

    def fused(self, Z, T, activation, sample_weight=None):
        xp = namespace(Z)
        scale = _sample_scale(sample_weight, len(Z), Z.dtype)
        rows = xp.arange(len(Z))
        shifted = xp.subtract(Z, Z.max(axis=1, keepdims=True), out=Z)
        picked = shifted[rows, T] if T.ndim == 1 else xp.einsum("ij,ij->i", T, shifted)
        dZ = xp.exp(shifted, out=Z)
        sums = dZ.sum(axis=1)
        # Rows of T need not sum to 1: l_i = sum_j y_ij (logsumexp(z_i) - z_ij).
        mass = 1.0 if T.ndim == 1 else T.sum(axis=1)
        loss = _weighted_mean(xp.log(sums) * mass - picked, scale)
        dZ /= sums[:, None]  # P
        if T.ndim == 1:
            dZ[rows, T] -= 1.0
        else:
            dZ *= mass[:, None]
            dZ -= T
        dZ *= scale
        return loss, dZ


class Poisson(Loss):
    """Half Poisson deviance: ``l_ij = p_ij - y_ij log p_ij + y_ij log y_ij - y_ij``,
    ``L = sum_i w_i mean_j l_ij / sum w``; ``dL/dp = w_i (1 - y / p) / (k sum w)``.

    Fused with an exponential output (the log link), from ``z = log p``:
    ``l = e^z - y z + y log y - y`` and ``dL/dz = w_i (e^z - y) / (k sum w)``.
    Targets must be >= 0.
    """

    name = "poisson"
    fused_activation = "exp"

    def prepare_targets(self, y, n_outputs, dtype):
        T = _as_columns(y, n_outputs, self.name)
        if T.dtype.kind not in "biuf":
            raise ValueError(f"Loss 'poisson' needs numeric targets y, got dtype {T.dtype}.")
        if T.size and T.min() < 0:
            raise ValueError(f"Loss 'poisson' needs targets y >= 0, got a minimum of {T.min()}.")
        return T.astype(dtype, copy=False)

    @staticmethod
    def _y_log_y(T):
        xp = namespace(T)
        return xp.where(T > 0, T * xp.log(xp.where(T > 0, T, 1)), 0.0)

    def value(self, P, T, sample_weight=None):
        xp = namespace(P)
        scale = _sample_scale(sample_weight, len(P), P.dtype)
        logP = xp.log(xp.clip(P, xp.finfo(P.dtype).tiny, None))
        elementwise = P - T * logP + self._y_log_y(T) - T
        return _weighted_mean(elementwise.mean(axis=1), scale)

    def gradient(self, P, T, sample_weight=None):
        xp = namespace(P)
        scale = _sample_scale(sample_weight, len(P), P.dtype)
        return (1 - T / xp.clip(P, xp.finfo(P.dtype).tiny, None)) * (scale / P.shape[1])

    def fused(self, Z, T, activation, sample_weight=None):
        xp = namespace(Z)
        scale = _sample_scale(sample_weight, len(Z), Z.dtype)
        elementwise = xp.exp(Z) - T * Z + self._y_log_y(T) - T
        loss = _weighted_mean(elementwise.mean(axis=1), scale)
        dZ = activation.value(Z, out=Z)  # e^z, written over the logits
        dZ -= T
        dZ *= scale / Z.shape[1]
        return loss, dZ


LOSSES = {
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "squared_error": MeanSquaredError,
    "binary_cross_entropy": BinaryCrossEntropy,
    "binary_crossentropy": BinaryCrossEntropy,
    "bce": BinaryCrossEntropy,
    "cross_entropy": CrossEntropy,
    "categorical_crossentropy": CrossEntropy,
    "categorical_cross_entropy": CrossEntropy,
    "poisson": Poisson,
}


def get_loss(loss) -> Loss:
    """Return a Loss from a name (see ``LOSSES``), a config dict or an instance."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, Loss):
        return loss()
    if isinstance(loss, dict):
        loss = loss.get("name")
    return resolve_name("loss", loss, LOSSES)()
