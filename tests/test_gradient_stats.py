"""GradientStats: per-layer diagnostics recorded in History, checked against direct sums."""

import warnings

import numpy as np
import pytest

import glassnet as gn

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 5))
Y = RNG.integers(0, 3, size=40)


def test_numbers_match_a_direct_computation():
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


def test_plain_language_warnings():
    dead = gn.Sequential([gn.Dense(8, activation="relu",
                                   bias_initializer=gn.initializers.Constant(-100.0)),
                          gn.Dense(3, activation="softmax")], random_state=0)
    with pytest.warns(RuntimeWarning, match="of the ReLU units of layer 'dense' are dead"):
        dead.fit(X, Y, epochs=2, callbacks=[gn.GradientStats()], verbose=0)
    exploding = gn.Sequential([gn.Dense(8, activation="relu"), gn.Dense(1)],
                              optimizer=gn.SGD(1e-9), random_state=0)
    with pytest.warns(RuntimeWarning, match="Gradients are exploding"):
        exploding.fit(X, X[:, 0] * 1e6, epochs=1, callbacks=[gn.GradientStats()], verbose=0)
    deep = gn.Sequential([gn.Dense(4, activation="sigmoid",
                                   kernel_initializer=gn.initializers.Constant(0.01))]
                         + [gn.Dense(4, activation="sigmoid",
                                     kernel_initializer=gn.initializers.Constant(0.01))
                            for _ in range(6)] + [gn.Dense(3, activation="softmax")],
                         random_state=0)
    with pytest.warns(RuntimeWarning, match="Gradients are vanishing: layer 'dense'"):
        deep.fit(X, Y, epochs=1, callbacks=[gn.GradientStats()], verbose=0)
    quiet = gn.Sequential([gn.Dense(8, activation="tanh"), gn.Dense(3, activation="softmax")],
                          random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet.fit(X, Y, epochs=3, callbacks=[gn.GradientStats()], verbose=0)
