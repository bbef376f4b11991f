"""It learns: XOR, digits, a non-linear regression; and the same seed gives the same net."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import log_loss, r2_score
from sklearn.model_selection import train_test_split

import glassnet as gn

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0])


def test_xor_with_a_2_2_1_sigmoid_network_and_full_batch_gradient_descent():
    net = gn.Sequential([gn.Dense(2, activation="sigmoid"), gn.Dense(1, activation="sigmoid")],
                        loss="binary_cross_entropy", optimizer=gn.SGD(2.0), random_state=0)
    history = net.fit(XOR_X, XOR_Y, epochs=3000, batch_size=None, verbose=0)
    assert net.evaluate(XOR_X, XOR_Y)["accuracy"] == 1.0
    assert ((net.predict(XOR_X)[:, 0] > 0.5) == XOR_Y).all()
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]


def test_xor_without_a_hidden_layer_gets_no_better_than_the_best_linear_model():
    # For XOR the best logistic model is w = 0, b = 0, p = 1/2 for every sample, loss ln 2:
    # there the gradient sum_i (p_i - y_i) [x_i, 1] is
    # (1/2) [(0,0,1) - (0,1,1) - (1,0,1) + (1,1,1)] = 0, and the loss is strictly convex in
    # (w, b) (the [x_i, 1] span R^3), so that is the only minimum. A trained linear net must
    # reach it, and can never go below it.
    net = gn.Sequential([gn.Dense(1, activation="sigmoid")], optimizer=gn.SGD(2.0),
                        random_state=0, dtype="float64")
    history = net.fit(XOR_X, XOR_Y, epochs=2000, batch_size=None, verbose=0)
    loss = net.evaluate(XOR_X, XOR_Y)["loss"]
    assert history.history["loss"][0] > np.log(2) + 0.01  # it started elsewhere
    assert np.log(2) - 1e-12 <= loss < np.log(2) + 1e-9
    W, b = net.get_weights()
    np.testing.assert_allclose(np.r_[W.ravel(), b], 0.0, atol=1e-6)
    np.testing.assert_allclose(net.predict(XOR_X), 0.5, atol=1e-6)
    # The same optimum from scikit-learn's (barely regularized) logistic regression, and
    # the same loss computed by scikit-learn from our predictions.
    logistic = LogisticRegression(C=1e10, tol=1e-12, max_iter=10_000).fit(XOR_X, XOR_Y)
    np.testing.assert_allclose(np.r_[logistic.coef_.ravel(), logistic.intercept_], 0.0,
                               atol=1e-6)
    assert log_loss(XOR_Y, logistic.predict_proba(XOR_X)) == pytest.approx(np.log(2))
    assert log_loss(XOR_Y, net.predict(XOR_X)[:, 0]) == pytest.approx(loss, rel=1e-12)
    # One hidden layer gets far below the linear optimum on the same data.
    deep = gn.Sequential([gn.Dense(2, activation="sigmoid"), gn.Dense(1, activation="sigmoid")],
                         optimizer=gn.SGD(2.0), random_state=0, dtype="float64")
    deep.fit(XOR_X, XOR_Y, epochs=3000, batch_size=None, verbose=0)
    assert deep.evaluate(XOR_X, XOR_Y)["loss"] < 0.05


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split((X / 16.0).astype(np.float32), y, test_size=0.25, random_state=0,
                            stratify=y)


def test_digits_64_64_10_relu_softmax_adam(digits):
    X_train, X_test, y_train, y_test = digits
    net = gn.Sequential([gn.Dense(64, activation="relu"), gn.Dense(10, activation="softmax")],
                        loss="cross_entropy", optimizer=gn.Adam(3e-3), random_state=0)
    history = net.fit(X_train, y_train, epochs=40, batch_size=32, verbose=0)
    assert net.evaluate(X_test, y_test)["accuracy"] >= 0.97
    P = net.predict(X_test)
    assert P.dtype == np.float32
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)  # probabilities
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_digits_with_one_hot_targets_validation_and_early_stopping(digits):
    X_train, X_test, y_train, y_test = digits
    net = gn.Sequential([gn.Dense(64), gn.ReLU(), gn.Dropout(0.1), gn.Dense(10), gn.Softmax()],
                        optimizer=gn.Adam(3e-3), random_state=1)
    stop = gn.EarlyStopping(monitor="val_loss", patience=3)
    history = net.fit(X_train, np.eye(10)[y_train], epochs=200, batch_size=64,
                      validation_split=0.2, callbacks=[stop], verbose=0)
    assert set(history.history) >= {"loss", "val_loss", "val_accuracy", "learning_rate"}
    assert len(history.epoch) < 200 and stop.stopped_epoch is not None
    assert "early stopping" in history.stop_reason
    assert net.evaluate(X_test, y_test)["accuracy"] >= 0.95


def test_nonlinear_regression_beats_a_linear_model():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(1200, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.normal(size=1200)
    X_train, X_test, y_train, y_test = X[:900], X[900:], y[:900], y[900:]
    linear = r2_score(y_test, LinearRegression().fit(X_train, y_train).predict(X_test))
    net = gn.Sequential([gn.Dense(32, activation="tanh"), gn.Dense(32, activation="tanh"),
                         gn.Dense(1)], loss="mse", optimizer=gn.Adam(0.01), random_state=0)
    net.fit(X_train, y_train, epochs=150, batch_size=64, verbose=0)
    ours = net.evaluate(X_test, y_test)["r2"]
    assert ours == pytest.approx(r2_score(y_test, net.predict(X_test)[:, 0]), abs=1e-5)
    assert ours > 0.95 > linear + 0.3


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
def test_same_random_state_gives_bit_identical_weights(optimizer):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(100, 5)), rng.integers(0, 3, size=100)

    def make(seed):
        return gn.Sequential([gn.Dense(8, activation="relu"), gn.Dropout(0.2),
                              gn.Dense(3, activation="softmax")], optimizer=optimizer,
                             random_state=seed)

    def initial(seed):
        return make(seed).build(5).get_weights()

    def train(seed, start=None):
        net = make(seed).build(5)
        if start is not None:
            net.set_weights(start)
        net.fit(X, y, epochs=3, batch_size=16, validation_split=0.2, verbose=0)
        return net.get_weights()

    def same(a, b):
        return all(p.tobytes() == q.tobytes() for p, q in zip(a, b))

    # Initialization: the same seed gives the same bits, another seed other weights.
    assert same(initial(42), initial(42))
    assert not any(np.array_equal(p, q) for p, q in zip(initial(42)[::2], initial(43)[::2]))
    # Training: two seed-42 runs end bit-identical; a seed-43 run ends elsewhere.
    first = train(42)
    assert same(first, train(42))
    assert not same(first, initial(42))  # training moved the weights
    assert not any(np.array_equal(p, q) for p, q in zip(first, train(43)))
    # The seed drives the shuffling and dropout too, not only the initial weights: from
    # seed 42's initial weights, a seed-43 generator trains to other weights.
    assert not same(first, train(43, start=initial(42)))


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop"])
def test_optimizers_converge_on_a_quadratic(name):
    # L(w) = ½‖w - c‖², gradient w - c: every optimizer must reach c.
    c = np.array([3.0, -2.0, 0.5])
    opt = {"sgd": gn.SGD(0.1, momentum=0.9), "adam": gn.Adam(0.1),
           "adamw": gn.AdamW(0.1, weight_decay=0.0), "rmsprop": gn.RMSprop(0.05)}[name]
    w = np.zeros(3)
    for _ in range(1000):
        opt.step(w, w - c)
    np.testing.assert_allclose(w, c, atol=0.05)


def test_schedules_and_reduce_on_plateau():
    decay = gn.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert decay(0) == 0.1 and decay(10) == pytest.approx(0.05) and decay(5) == pytest.approx(
        0.1 * 0.5**0.5)
    step = gn.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=True)
    assert step(9) == 0.1 and step(10) == pytest.approx(0.05)
    inv = gn.InverseScaling(0.1, power_t=0.5)
    assert inv(3) == pytest.approx(0.1 / 2)
    opt = gn.SGD(step)
    w = np.zeros(1)
    for _ in range(10):
        opt.step(w, np.ones(1))
    assert w[0] == pytest.approx(-1.0)  # ten steps of 0.1
    assert opt.current_learning_rate == pytest.approx(0.05)

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)), rng.normal(size=50)  # noise: the loss soon stalls
    net = gn.Sequential([gn.Dense(1)], optimizer=gn.SGD(0.3), random_state=0)
    plateau = gn.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2, min_delta=1e-3)
    history = net.fit(X, y, epochs=60, batch_size=None, callbacks=[plateau], verbose=0)
    lrs = history.history["learning_rate"]
    assert lrs[0] == 0.3 and lrs[-1] < 0.3
    assert all(b in (a, a * 0.5) for a, b in zip(lrs, lrs[1:]))
