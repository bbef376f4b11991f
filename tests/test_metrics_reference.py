"""glassnet's metrics and batched predict against independent references.

- ``accuracy`` / ``r2_score`` (and ``Sequential.evaluate``, which reports them) against
  ``sklearn.metrics.accuracy_score`` / ``r2_score``, with and without ``sample_weight``
  (integer and non-uniform), binary, multiclass, multilabel and multi-output (sklearn's
  default ``multioutput="uniform_average"``, which glassnet's docstring promises).
- ``predict(X, batch_size=k)`` against ``predict(X)`` and against a forward pass written
  out here in numpy, for every ``k`` in ``1..n+2``.
"""

import numpy as np
import pytest
from sklearn import metrics

import glassnet as gn
from glassnet.ops.metrics import accuracy, r2_score

RNG = np.random.default_rng(0)
N = 23  # not a multiple of most batch sizes


def weights_of(kind, n, seed=1):
    rng = np.random.default_rng(seed)
    if kind == "none":
        return None
    if kind == "int":
        return rng.integers(0, 5, n).astype(float)  # zeros included: they drop samples
    return rng.uniform(0.01, 10.0, n) ** 2  # very non-uniform


WEIGHTS = ["none", "int", "float"]


# -- the metric functions --------------------------------------------------------------------


@pytest.mark.parametrize("w", WEIGHTS)
@pytest.mark.parametrize("n_classes", [2, 3, 7])
@pytest.mark.parametrize("one_hot", [False, True])
def test_accuracy_argmax_matches_sklearn(w, n_classes, one_hot):
    rng = np.random.default_rng(n_classes)
    n = 200
    y = rng.integers(0, n_classes, n)
    P = rng.dirichlet(np.ones(n_classes), n)
    P[np.arange(n) % 3 == 0] = np.eye(n_classes)[y[np.arange(n) % 3 == 0]]  # some right
    sw = weights_of(w, n)
    T = np.eye(n_classes)[y] if one_hot else y
    want = metrics.accuracy_score(y, P.argmax(axis=1), sample_weight=sw)
    assert accuracy(P, T, sw) == pytest.approx(want, rel=1e-12)
    if sw is not None:  # the weights matter here: unweighted differs
        assert abs(metrics.accuracy_score(y, P.argmax(axis=1)) - want) > 1e-3


@pytest.mark.parametrize("w", WEIGHTS)
@pytest.mark.parametrize("n_labels", [1, 4])
def test_binary_accuracy_matches_sklearn_subset_accuracy(w, n_labels):
    rng = np.random.default_rng(n_labels)
    n = 200
    T = rng.integers(0, 2, (n, n_labels))
    P = np.clip(T + rng.normal(0, 0.45, T.shape), 0.001, 0.999)
    sw = weights_of(w, n)
    want = metrics.accuracy_score(T, (P > 0.5).astype(int), sample_weight=sw)
    assert accuracy(P, T.astype(float), sw, binary=True) == pytest.approx(want, rel=1e-12)
    if sw is not None:
        assert abs(metrics.accuracy_score(T, (P > 0.5).astype(int)) - want) > 1e-3


@pytest.mark.parametrize("w", WEIGHTS)
@pytest.mark.parametrize("k", [1, 3])
def test_r2_matches_sklearn_uniform_average(w, k):
    rng = np.random.default_rng(k)
    n = 150
    T = rng.normal(size=(n, k)) * rng.uniform(0.5, 3, k) + rng.normal(size=k)
    # Outputs of unequal quality, and rows too (so the weights change the score).
    noise = rng.normal(size=(n, k)) * np.linspace(0.5, 2.0, k) * rng.uniform(0.1, 2, (n, 1))
    P = T + noise
    sw = weights_of(w, n)
    want = metrics.r2_score(T, P, sample_weight=sw)  # default multioutput="uniform_average"
    assert r2_score(P, T, sw) == pytest.approx(want, rel=1e-12, abs=1e-12)
    if k > 1:  # uniform_average, not variance_weighted (which differs here)
        other = metrics.r2_score(T, P, sample_weight=sw, multioutput="variance_weighted")
        assert abs(other - want) > 1e-3
    if sw is not None:
        assert abs(metrics.r2_score(T, P) - want) > 1e-3
    assert r2_score(P[:, 0], T[:, 0], sw) == pytest.approx(
        metrics.r2_score(T[:, 0], P[:, 0], sample_weight=sw), rel=1e-12, abs=1e-12)


def test_r2_constant_target_columns_match_sklearn_force_finite():
    rng = np.random.default_rng(0)
    T = rng.normal(size=(40, 3))
    T[:, 1] = 2.5
    P = T + 0.1 * rng.normal(size=T.shape)
    for exact in (True, False):
        P[:, 1] = 2.5 if exact else 2.6
        assert r2_score(P, T) == pytest.approx(metrics.r2_score(T, P), rel=1e-12)
    assert r2_score(T, T) == 1.0 == metrics.r2_score(T, T)


@pytest.mark.parametrize("metric", ["accuracy", "r2"])
def test_all_zero_weights_are_refused_like_sklearn(metric):
    P, T = np.eye(3), np.array([0, 1, 1])
    fn = (lambda w: accuracy(P, T, w)) if metric == "accuracy" else (
        lambda w: r2_score(P, np.eye(3), w))
    with pytest.raises(ValueError, match="sample_weight sums to 0"):
        fn(np.zeros(3))
    with pytest.raises(ValueError, match="at least one non-zero"):
        metrics.accuracy_score(T, P.argmax(1), sample_weight=np.zeros(3))


# -- Sequential.evaluate ---------------------------------------------------------------------


def trained(layers, X, y, loss=None, dtype="float64"):
    net = gn.Sequential(layers, loss=loss, random_state=0, dtype=dtype)
    net.fit(X, y, epochs=3, batch_size=16, verbose=0)
    return net


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("w", WEIGHTS)
def test_evaluate_multiclass_accuracy_is_sklearns_on_predict(w, dtype):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    net = trained([gn.Dense(6, activation="tanh"), gn.Dense(3), gn.Softmax()], X, y,
                  dtype=dtype)
    sw = weights_of(w, len(X))
    got = net.evaluate(X, y, sample_weight=sw)
    want = metrics.accuracy_score(y, net.predict(X).argmax(axis=1), sample_weight=sw)
    # float32 nets hold the weights in float32: w rounded to 24 bits
    assert got["accuracy"] == pytest.approx(want, rel=1e-6)
    P = net.predict(X).astype(np.float64)
    assert got["loss"] == pytest.approx(
        metrics.log_loss(y, P / P.sum(axis=1, keepdims=True), sample_weight=sw,
                         labels=[0, 1, 2]),
        rel=1e-5 if dtype == "float32" else 1e-9)


@pytest.mark.parametrize("w", WEIGHTS)
def test_evaluate_binary_accuracy_is_sklearns_on_thresholded_predict(w):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=120) > 0).astype(int)
    net = trained([gn.Dense(5, activation="relu"), gn.Dense(1, activation="sigmoid")], X, y)
    sw = weights_of(w, len(X))
    want = metrics.accuracy_score(y, (net.predict(X)[:, 0] > 0.5).astype(int), sample_weight=sw)
    assert net.evaluate(X, y, sample_weight=sw)["accuracy"] == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("w", WEIGHTS)
def test_evaluate_r2_is_sklearns_on_predict_multi_output(w):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(100, 4))
    Y = np.column_stack([X[:, 0] * 3, X[:, 1] - X[:, 2], 0.1 * X[:, 3]])
    net = trained([gn.Dense(8, activation="tanh"), gn.Dense(3)], X, Y, loss="mse")
    sw = weights_of(w, len(X))
    got = net.evaluate(X, Y, sample_weight=sw)
    P = net.predict(X)
    assert got["r2"] == pytest.approx(metrics.r2_score(Y, P, sample_weight=sw), rel=1e-12)
    assert got["loss"] == pytest.approx(
        metrics.mean_squared_error(Y, P, sample_weight=sw), rel=1e-9)
    y1 = Y[:, 0]
    net1 = trained([gn.Dense(4, activation="tanh"), gn.Dense(1)], X, y1, loss="mse")
    assert net1.evaluate(X, y1, sample_weight=sw)["r2"] == pytest.approx(
        metrics.r2_score(y1, net1.predict(X)[:, 0], sample_weight=sw), rel=1e-12)


def test_evaluate_refuses_all_zero_weights_clearly():
    X = RNG.normal(size=(10, 3))
    net = gn.Sequential([gn.Dense(2), gn.Softmax()], random_state=0).build(3)
    with pytest.raises(ValueError, match="sample_weight sums to 0"):
        net.evaluate(X, np.arange(10) % 2, sample_weight=np.zeros(10))


# -- predict(batch_size=k) -------------------------------------------------------------------


def reference_forward(net, X):
    """The network's inference output, written out in numpy float64 from its weights."""
    A = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    acts = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, None: lambda z: z}
    for layer in net.layers:
        if isinstance(layer, gn.Dense):
            name = None if layer.activation is None else layer.activation.name
            A = acts[name](A @ layer.W.astype(np.float64) + layer.b.astype(np.float64))
        elif isinstance(layer, gn.Softmax):
            E = np.exp(A - A.max(axis=1, keepdims=True))
            A = E / E.sum(axis=1, keepdims=True)
        elif isinstance(layer, gn.Dropout):
            pass  # inference: the identity (inverted dropout scales while training)
        else:
            raise AssertionError(f"no reference for {layer!r}")
    return A


def batch_net(dtype, dropout):
    X = RNG.normal(size=(N, 7))
    y = np.arange(N) % 3
    layers = [gn.Dense(40, activation="relu")]
    layers += [gn.Dropout(0.5)] if dropout else []
    layers += [gn.Dense(17, activation="tanh"), gn.Dense(3), gn.Softmax()]
    net = gn.Sequential(layers, random_state=0, dtype=dtype)
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    return net, X


@pytest.mark.parametrize("dropout", [False, True], ids=["plain", "dropout"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_batch_size_gives_every_row_in_order(dtype, dropout):
    net, X = batch_net(dtype, dropout)
    rng_state = net.rng.bit_generator.state
    full = net.predict(X)
    ref = reference_forward(net, X)
    eps = np.finfo(dtype).eps
    assert full.shape == (N, 3) and full.dtype == np.dtype(dtype)
    # Against numpy written out: the same numbers up to rounding (a dropped, repeated or
    # swapped row, or dropout at inference, is off by far more).
    np.testing.assert_allclose(full, ref, rtol=0, atol=200 * eps)
    for k in range(1, N + 3):
        got = net.predict(X, batch_size=k)
        assert got.shape == full.shape and got.dtype == full.dtype, k
        if k >= N:
            assert np.array_equal(got, full), k  # one batch: the very same computation
        else:
            # BLAS rounds a row differently depending on how many rows share the matrix
            # product (a 1-row product takes another kernel), so the batches agree with the
            # full product to the last bit or two, not bit for bit.
            np.testing.assert_allclose(got, full, rtol=0, atol=4 * eps, err_msg=f"k={k}")
            chunks = np.concatenate([net.predict(X[i:i + k]) for i in range(0, N, k)])
            assert np.array_equal(got, chunks), k  # exactly the rows of each chunk
        np.testing.assert_allclose(got, ref, rtol=0, atol=200 * eps)
    # Inference draws no dropout mask: the generator did not move, and a repeat is the same.
    assert net.rng.bit_generator.state == rng_state
    assert np.array_equal(net.predict(X), full)


@pytest.mark.parametrize("k", [0, -1])
def test_predict_batch_size_below_one(k):
    net, X = batch_net("float64", False)
    # range(0, n, 0) would raise a bare "range() arg 3 must not be zero".
    with pytest.raises(ValueError, match="batch_size must be"):
        net.predict(X, batch_size=k)
