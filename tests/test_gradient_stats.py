"""GradientStats: per-layer diagnostics recorded in History, checked against direct sums."""

import warnings

import numpy as np
import pytest

import glassnet as gn

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 5))
Y = RNG.integers(0, 3, size=40)


def test_numbers_match_a_direct_computation():
    # One full batch, against the network's own (torch-checked) gradients.
    net = gn.Sequential([gn.Dense(6, activation="relu"), gn.Dense(4, activation="tanh"),
                         gn.Dense(3, activation="softmax")], optimizer=gn.SGD(0.1),
                        random_state=0, dtype="float64")
    net.build(5)
    start = [p.copy() for p in net.parameters()]
    _, grads = net.compute_gradients(X, Y)
    hidden = np.maximum(X @ start[0] + start[1], 0)
    tanh = np.tanh(hidden @ start[2] + start[3])
    history = net.fit(X, Y, epochs=1, batch_size=None, callbacks=[gn.GradientStats()],
                      verbose=0)
    h = {k: v[0] for k, v in history.history.items()}
    end = net.parameters()
    for i, name in enumerate(["dense", "dense_1", "dense_2"]):
        g = np.r_[grads[2 * i].ravel(), grads[2 * i + 1]]
        w0 = np.r_[start[2 * i].ravel(), start[2 * i + 1]]
        w1 = np.r_[end[2 * i].ravel(), end[2 * i + 1]]
        assert h[f"grad_norm/{name}"] == pytest.approx(np.linalg.norm(g))
        assert h[f"weight_norm/{name}"] == pytest.approx(np.linalg.norm(w1))
        assert h[f"update_ratio/{name}"] == pytest.approx(np.linalg.norm(w1 - w0)
                                                         / np.linalg.norm(w0))
    assert h["dead_relu/dense"] == pytest.approx(1 - (hidden > 0).any(axis=0).mean())
    assert h["saturated/dense_1"] == pytest.approx((np.abs(tanh) > 0.99).mean())


RELU_BIAS = np.array([0.0, 0.3, -2.5, -1.0, -8.0, 0.1])  # unit 4 never fires, unit 2 rarely


def wide_normal(shape, rng, dtype):  # large tanh weights, so some tanh units saturate
    return rng.normal(0.0, 2.0, size=shape).astype(dtype)


def replay_by_hand(params, lr, epochs, batch_size):
    """The same training (SGD, batches in order) in plain numpy, with the statistics
    GradientStats documents: per epoch, the mean over batches of each layer's gradient
    norm ‖[dL/dW, dL/db]‖, ‖W_end‖ and ‖W_end - W_start‖ / ‖W_start‖ of the epoch, the
    fraction of ReLUs silent on every sample and the fraction of tanh outputs beyond 0.99.
    """
    params = [p.copy() for p in params]
    flat = lambda ps: np.concatenate([p.ravel() for p in ps])  # noqa: E731
    stats, batch_norms = [], []
    for _ in range(epochs):
        start = [p.copy() for p in params]
        norms, alive, saturated, seen = [], np.zeros(6, bool), 0, 0
        for lo in range(0, len(X), batch_size):
            A0, y = X[lo : lo + batch_size], Y[lo : lo + batch_size]
            W1, b1, W2, b2, W3, b3 = params
            A1 = np.maximum(A0 @ W1 + b1, 0.0)
            A2 = np.tanh(A1 @ W2 + b2)
            Z3 = A2 @ W3 + b3
            P = np.exp(Z3 - Z3.max(axis=1, keepdims=True))
            P /= P.sum(axis=1, keepdims=True)
            alive |= (A1 > 0).any(axis=0)
            saturated, seen = saturated + (np.abs(A2) > 0.99).sum(), seen + A2.size
            # Backpropagation of the mean cross-entropy over the batch.
            dZ3 = (P - np.eye(3)[y]) / len(y)
            dZ2 = dZ3 @ W3.T * (1.0 - A2**2)
            dZ1 = dZ2 @ W2.T * (A1 > 0)
            grads = [A0.T @ dZ1, dZ1.sum(0), A1.T @ dZ2, dZ2.sum(0), A2.T @ dZ3, dZ3.sum(0)]
            norms.append([np.linalg.norm(flat(grads[i : i + 2])) for i in (0, 2, 4)])
            params = [p - lr * g for p, g in zip(params, grads)]
        batch_norms.append(np.array(norms))
        stats.append({"grad_norm": np.mean(norms, axis=0),
                      "weight_norm": [np.linalg.norm(flat(params[i : i + 2])) for i in (0, 2, 4)],
                      "update_ratio": [np.linalg.norm(flat(params[i : i + 2])
                                                      - flat(start[i : i + 2]))
                                       / np.linalg.norm(flat(start[i : i + 2]))
                                       for i in (0, 2, 4)],
                      "dead_relu": 1.0 - alive.mean(), "saturated": saturated / seen})
    return params, stats, batch_norms


def test_several_batches_per_epoch_average_as_documented():
    # 40 samples in batches of 12: three full batches and one of 4, in order.
    net = gn.Sequential([gn.Dense(6, activation="relu", bias_initializer=RELU_BIAS),
                         gn.Dense(4, activation="tanh", kernel_initializer=wide_normal),
                         gn.Dense(3, activation="softmax")], optimizer=gn.SGD(0.3),
                        random_state=0, dtype="float64")
    net.build(5)
    params, expected, batch_norms = replay_by_hand(net.get_weights(), 0.3, 3, 12)
    history = net.fit(X, Y, epochs=3, batch_size=12, shuffle=False,
                      callbacks=[gn.GradientStats()], verbose=0).history
    for ours, theirs in zip(net.get_weights(), params):  # the same training took place
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    names = ["dense", "dense_1", "dense_2"]
    for key in ("grad_norm", "weight_norm", "update_ratio"):
        for i, name in enumerate(names):
            np.testing.assert_allclose(history[f"{key}/{name}"],
                                       [epoch[key][i] for epoch in expected], rtol=1e-10)
    np.testing.assert_allclose(history["dead_relu/dense"],
                               [epoch["dead_relu"] for epoch in expected], rtol=1e-12)
    np.testing.assert_allclose(history["saturated/dense_1"],
                               [epoch["saturated"] for epoch in expected], rtol=1e-12)
    assert set(history) == {"loss", "learning_rate", "time", "dead_relu/dense",
                            "saturated/dense_1"} | {f"{k}/{n}" for n in names for k in
                                                    ("grad_norm", "weight_norm",
                                                     "update_ratio")}
    # The case really tells the averages apart: the mean of the batch norms is neither
    # the last batch's norm, nor the first's, nor their root mean square.
    for norms in batch_norms:
        mean = norms.mean(axis=0)
        for other in (norms[-1], norms[0], np.sqrt((norms**2).mean(axis=0))):
            assert (np.abs(other - mean) > 1e-4 * mean).all()
    assert all(0 < epoch["dead_relu"] < 1 and 0 < epoch["saturated"] < 1 for epoch in expected)


def test_fused_sigmoid_output_is_measured_on_the_training_outputs_every_epoch():
    class Weights(gn.Callback):  # the (full-batch) weights each epoch's outputs come from
        def on_epoch_begin(self, epoch, logs=None):
            self.seen.append(self.model.get_weights())

    y = (X[:, 0] > 0).astype(int)
    big = lambda shape, rng, dtype: rng.normal(0.0, 6.0, size=shape).astype(dtype)  # noqa: E731
    net = gn.Sequential([gn.Dense(4, activation="tanh"),
                         gn.Dense(1, activation="sigmoid", kernel_initializer=big)],
                        optimizer=gn.SGD(0.1), random_state=0, dtype="float64")
    weights = Weights()
    weights.seen = []
    history = net.fit(X, y, epochs=2, batch_size=None, validation_split=0.25,
                      callbacks=[gn.GradientStats(warn=False), weights], verbose=0).history
    assert all(len(values) == 2 for values in history.values()), history
    expected = []
    for W1, b1, W2, b2 in weights.seen:
        P = 1 / (1 + np.exp(-(np.tanh(X[:30] @ W1 + b1) @ W2 + b2)))
        expected.append(((P < 0.01) | (P > 0.99)).mean())
    assert 0 < expected[0] < 1
    np.testing.assert_allclose(history["saturated/dense_1"], expected, rtol=1e-12)


def test_plain_language_warnings():
    dead = gn.Sequential([gn.Dense(8, activation="relu",
                                   bias_initializer=gn.ops.initializers.Constant(-100.0)),
                          gn.Dense(3, activation="softmax")], random_state=0)
    with pytest.warns(RuntimeWarning, match="of the ReLU units of layer 'dense' are dead"):
        dead.fit(X, Y, epochs=2, callbacks=[gn.GradientStats()], verbose=0)
    exploding = gn.Sequential([gn.Dense(8, activation="relu"), gn.Dense(1)],
                              optimizer=gn.SGD(1e-9), random_state=0)
    with pytest.warns(RuntimeWarning, match="Gradients are exploding"):
        exploding.fit(X, X[:, 0] * 1e6, epochs=1, callbacks=[gn.GradientStats()], verbose=0)
    deep = gn.Sequential([gn.Dense(4, activation="sigmoid",
                                   kernel_initializer=gn.ops.initializers.Constant(0.01))]
                         + [gn.Dense(4, activation="sigmoid",
                                     kernel_initializer=gn.ops.initializers.Constant(0.01))
                            for _ in range(6)] + [gn.Dense(3, activation="softmax")],
                         random_state=0)
    with pytest.warns(RuntimeWarning, match="Gradients are vanishing: layer 'dense'"):
        deep.fit(X, Y, epochs=1, callbacks=[gn.GradientStats()], verbose=0)
    quiet = gn.Sequential([gn.Dense(8, activation="tanh"), gn.Dense(3, activation="softmax")],
                          random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet.fit(X, Y, epochs=3, callbacks=[gn.GradientStats()], verbose=0)
