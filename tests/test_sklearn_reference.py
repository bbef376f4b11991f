"""glassnet's MLPClassifier / MLPRegressor against scikit-learn's own, from identical weights.

Each comparison starts the installed ``sklearn.neural_network`` estimator and
glassnet's from the same initial weights (scikit-learn's ``_init_coef`` and
glassnet's ``_build`` patched on the instance), fits both in float64 for a few
epochs without shuffling or early stopping, and requires the same ``loss_curve_``,
``loss_``, ``n_iter_``, ``t_`` and final ``coefs_`` / ``intercepts_`` to 1e-10: the
arithmetic is the same operation for operation, so the only differences are
rounding (measured at ~1e-15). A wrong update rule, learning-rate schedule, loss or
penalty shows up as a difference of 1e-3 or more after one epoch.
"""

import pickle
import warnings

import numpy as np
import pytest
from scipy.special import xlogy
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

import glassnet as gn
from glassnet import MLPClassifier, MLPRegressor

RTOL, ATOL = 1e-10, 1e-12


@pytest.fixture(autouse=True)
def _no_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def make_data(seed=1, n=13):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return {
        "X": X,
        "regression": X[:, 0] - 0.5 * X[:, 1] ** 2,
        "regression2": np.c_[X[:, 0] - 0.5 * X[:, 1] ** 2, np.sin(X[:, 2])],
        "binary": (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int),
        "multiclass": np.array(list("abc") * n)[:n],
        "multilabel": (X[:, :2] > 0).astype(int),
        "counts": rng.poisson(np.exp(0.4 * X[:, 0])).astype(float),
        "counts2": rng.poisson(np.exp(0.4 * X[:, :2])).astype(float),
    }


DATA = make_data()


def n_outputs(target, y):
    if np.ndim(y) == 2:
        return y.shape[1]
    if target in ("binary",):
        return 1
    if target == "multiclass":
        return len(np.unique(y))
    return 1


def initial_weights(units, seed=0, bound=0.6):
    rng = np.random.default_rng(seed)
    coefs = [rng.uniform(-bound, bound, (a, b)) for a, b in zip(units[:-1], units[1:])]
    intercepts = [rng.uniform(-bound, bound, b) for b in units[1:]]
    return coefs, intercepts


def start_sklearn_from(est, coefs, intercepts):
    """Make scikit-learn's ``_initialize`` draw these weights (copies) instead of random ones."""
    pairs = iter(list(zip(coefs, intercepts)))

    def _init_coef(fan_in, fan_out, dtype):
        W, b = next(pairs)
        assert W.shape == (fan_in, fan_out)
        return W.astype(dtype, copy=True), b.astype(dtype, copy=True)

    est._init_coef = _init_coef
    return est


def start_glassnet_from(est, coefs, intercepts):
    """Make glassnet's ``_build`` return a network holding these weights."""
    build = est._build

    def _build(n_features, n_out, dtype):
        net = build(n_features, n_out, dtype)
        dense = [layer for layer in net.layers if isinstance(layer, gn.Dense)]
        assert len(dense) == len(coefs)
        for layer, W, b in zip(dense, coefs, intercepts):
            layer.W[...] = W
            layer.b[...] = b
        return net

    est._build = _build
    return est


def pair(target, hidden=(4,), seed=0, **params):
    """scikit-learn's and glassnet's estimator for ``target``, set to start alike."""
    y = DATA[target]
    classify = target in ("binary", "multiclass", "multilabel")
    Sk, Gn = (SkClassifier, MLPClassifier) if classify else (SkRegressor, MLPRegressor)
    if target.startswith("counts"):
        params = {"loss": "poisson", **params}
    units = [DATA["X"].shape[1], *hidden, n_outputs(target, y)]
    coefs, intercepts = initial_weights(units, seed)
    sk = start_sklearn_from(Sk(hidden_layer_sizes=hidden, **params), coefs, intercepts)
    ours = start_glassnet_from(Gn(hidden_layer_sizes=hidden, **params), coefs, intercepts)
    return sk, ours, y


def assert_same_fit(sk, ours, stochastic=True):
    assert ours.n_iter_ == sk.n_iter_
    assert ours.out_activation_ == sk.out_activation_
    np.testing.assert_allclose(ours.loss_, sk.loss_, rtol=RTOL, atol=ATOL)
    if stochastic:
        assert ours.t_ == sk.t_
        assert len(ours.loss_curve_) == len(sk.loss_curve_)
        np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(ours.best_loss_, sk.best_loss_, rtol=RTOL, atol=ATOL)
    for name in ("coefs_", "intercepts_"):
        for mine, theirs in zip(getattr(ours, name), getattr(sk, name), strict=True):
            assert mine.dtype == np.float64
            np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=ATOL, err_msg=name)


FEW_EPOCHS = dict(max_iter=4, shuffle=False, batch_size=5, tol=0.0, n_iter_no_change=1000,
                  alpha=0.1, activation="tanh")

SOLVERS = {
    "sgd": dict(solver="sgd", momentum=0.0, learning_rate_init=0.1),
    "sgd-momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False,
                         learning_rate_init=0.1),
    "sgd-nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True,
                         learning_rate_init=0.1),
    "sgd-invscaling": dict(solver="sgd", momentum=0.9, learning_rate="invscaling",
                           power_t=0.3, learning_rate_init=0.2),
    "sgd-invscaling-plain": dict(solver="sgd", momentum=0.0, learning_rate="invscaling",
                                 power_t=0.7, learning_rate_init=0.2),
    "adam": dict(solver="adam", beta_1=0.8, beta_2=0.99, epsilon=1e-3, learning_rate_init=0.05),
    "adam-defaults": dict(solver="adam", learning_rate_init=0.05),
}
TARGETS = ["regression", "regression2", "binary", "multiclass", "multilabel", "counts",
           "counts2"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_stochastic_trajectory_matches_scikit_learn(solver, target):
    sk, ours, y = pair(target, **FEW_EPOCHS, **SOLVERS[solver])
    sk.fit(DATA["X"], y)
    ours.fit(DATA["X"], y)
    assert_same_fit(sk, ours)
    # The learning rate the next epoch would use ('invscaling': lr0 / (t + 1)^power_t).
    if sk.solver == "sgd":
        assert ours.model_.optimizer.learning_rate == pytest.approx(sk._optimizer.learning_rate,
                                                                   rel=1e-14)


@pytest.mark.parametrize("activation", ["relu", "logistic", "identity"])
@pytest.mark.parametrize("target", ["regression", "multiclass", "multilabel"])
def test_hidden_activations_and_two_hidden_layers_match_scikit_learn(activation, target):
    sk, ours, y = pair(target, hidden=(5, 3), **{**FEW_EPOCHS, "activation": activation},
                       **SOLVERS["sgd-nesterov"])
    sk.fit(DATA["X"], y)
    ours.fit(DATA["X"], y)
    assert_same_fit(sk, ours)


@pytest.mark.parametrize("target", ["regression", "multiclass"])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_adaptive_learning_rate_divides_by_5_as_scikit_learns(target, momentum):
    # tol=1e3: no epoch after the first improves the loss by tol, so every
    # n_iter_no_change + 1 = 2 epochs the 'adaptive' rate is divided by 5 (and the count
    # restarts): after epochs 3, 5 and 7.
    sk, ours, y = pair(target, solver="sgd", learning_rate="adaptive", learning_rate_init=0.2,
                       momentum=momentum, tol=1e3, n_iter_no_change=1, max_iter=7,
                       shuffle=False, batch_size=5, alpha=0.01, activation="tanh")
    sk.fit(DATA["X"], y)
    ours.fit(DATA["X"], y)
    assert sk._optimizer.learning_rate == pytest.approx(0.2 / 5**3)
    assert ours.model_.optimizer.learning_rate == pytest.approx(0.2 / 5**3, rel=1e-14)
    assert ours._no_improvement_count == sk._no_improvement_count
    assert_same_fit(sk, ours)


def test_adaptive_learning_rate_stops_below_1e_6_as_scikit_learns():
    sk, ours, y = pair("regression", solver="sgd", learning_rate="adaptive",
                       learning_rate_init=2e-5, momentum=0.5, tol=1e3, n_iter_no_change=1,
                       max_iter=50, shuffle=False, batch_size=5)
    sk.fit(DATA["X"], y)
    ours.fit(DATA["X"], y)
    # The first epoch always improves on best_loss_=inf; then every second epoch stalls:
    # 2e-5 -> 4e-6 (epoch 3) -> 8e-7 (epoch 5), <= 1e-6, so the stall at epoch 7 stops it.
    assert sk.n_iter_ == 7 and sk._optimizer.learning_rate == pytest.approx(8e-7)
    assert ours.model_.optimizer.learning_rate == pytest.approx(8e-7, rel=1e-14)
    assert_same_fit(sk, ours)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_tol_stopping_matches_scikit_learn(solver):
    sk, ours, y = pair("multiclass", solver=solver, learning_rate_init=0.01, tol=1e-2,
                       n_iter_no_change=2, max_iter=200, shuffle=False, batch_size=5)
    sk.fit(DATA["X"], y)
    ours.fit(DATA["X"], y)
    assert sk.n_iter_ < 200  # it did stop early
    assert ours._no_improvement_count == sk._no_improvement_count
    assert_same_fit(sk, ours)


@pytest.mark.parametrize("target", ["regression", "binary", "counts"])
@pytest.mark.parametrize("solver", ["sgd-nesterov", "adam", "lbfgs"])
def test_sample_weight_matches_scikit_learn(target, solver):
    # scikit-learn's loss_curve_ weighs each batch's (weighted-mean) loss by its number
    # of samples, not by its weight sum.
    params = {"solver": "lbfgs", "max_iter": 6} if solver == "lbfgs" else SOLVERS[solver]
    sk, ours, y = pair(target, **{**FEW_EPOCHS, **params})
    w = np.random.default_rng(5).uniform(0.1, 3.0, len(y))
    sk.fit(DATA["X"], y, sample_weight=w)
    ours.fit(DATA["X"], y, sample_weight=w)
    assert_same_fit(sk, ours, stochastic=solver != "lbfgs")


@pytest.mark.parametrize("target", ["regression", "regression2", "binary", "multiclass",
                                    "multilabel", "counts", "counts2"])
def test_lbfgs_trajectory_matches_scikit_learn(target):
    # A few iterations: L-BFGS amplifies rounding differences (1e-11 after 30 iterations).
    sk, ours, y = pair(target, solver="lbfgs", max_iter=6, alpha=0.05, activation="tanh")
    sk.fit(DATA["X"], y)
    ours.fit(DATA["X"], y)
    assert sk.n_iter_ == 6
    assert_same_fit(sk, ours, stochastic=False)


@pytest.mark.parametrize("solver", ["sgd-invscaling", "adam", "sgd-adaptive"])
def test_warm_start_starts_a_fresh_optimizer_as_scikit_learn(solver):
    # Every fit() makes a new optimizer (learning rate, velocity, Adam's moments and step
    # count afresh), warm start or not; loss_curve_, t_ and best_loss_ carry on.
    params = SOLVERS.get(solver) or dict(solver="sgd", learning_rate="adaptive", momentum=0.9,
                                         learning_rate_init=0.2)
    tol = {"tol": 1e3, "n_iter_no_change": 1} if solver == "sgd-adaptive" else {}
    sk, ours, y = pair("multiclass", warm_start=True, **{**FEW_EPOCHS, "max_iter": 3, **tol},
                       **params)
    for _ in range(3):
        sk.fit(DATA["X"], y)
        ours.fit(DATA["X"], y)
    assert len(sk.loss_curve_) == 9
    assert_same_fit(sk, ours)


@pytest.mark.parametrize("solver", ["sgd-invscaling", "adam"])
def test_partial_fit_keeps_the_optimizer_as_scikit_learn(solver):
    sk, ours, y = pair("regression", **{**FEW_EPOCHS, "max_iter": 2}, **SOLVERS[solver])
    sk.fit(DATA["X"], y)
    ours.fit(DATA["X"], y)
    for _ in range(3):
        sk.partial_fit(DATA["X"], y)
        ours.partial_fit(DATA["X"], y)
    assert len(sk.loss_curve_) == 5
    assert_same_fit(sk, ours)


def test_pickled_estimator_goes_on_with_scikit_learns_rule():
    sk, ours, y = pair("multiclass", **{**FEW_EPOCHS, "max_iter": 2}, **SOLVERS["adam"])
    sk.fit(DATA["X"], y)
    ours.fit(DATA["X"], y)
    del ours._build  # the test's patch (a local function) does not pickle
    ours = pickle.loads(pickle.dumps(ours))
    sk.partial_fit(DATA["X"], y)
    ours.partial_fit(DATA["X"], y)
    assert_same_fit(sk, ours)


# -- the objective by hand, independent of both libraries ------------------------------------


def hand_forward(coefs, intercepts, X, hidden, out):
    A = X
    for i, (W, b) in enumerate(zip(coefs, intercepts)):
        Z = A @ W + b
        if i < len(coefs) - 1:
            A = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[hidden](Z)
        else:
            A = {"exp": np.exp, "identity": lambda z: z}[out](Z)
    return A


@pytest.mark.parametrize("target", ["counts", "counts2", "regression", "regression2"])
def test_first_epoch_loss_is_the_documented_objective(target):
    # One full batch: loss_curve_[0] is the objective at the initial weights, the half
    # Poisson deviance summed over outputs (scikit-learn's poisson_loss) or the half squared
    # error averaged over outputs, plus alpha / (2 n) * sum ||W||^2.
    alpha = 0.3
    sk, ours, y = pair(target, solver="sgd", momentum=0.0, max_iter=1, alpha=alpha,
                       batch_size=len(DATA["X"]), shuffle=False, activation="tanh",
                       learning_rate_init=0.01)
    units = [3, 4, n_outputs(target, y)]
    coefs, intercepts = initial_weights(units)
    X, Y = DATA["X"], y.reshape(len(y), -1)
    if target.startswith("counts"):
        P = hand_forward(coefs, intercepts, X, "tanh", "exp")
        data_loss = (xlogy(Y, Y / P) - Y + P).mean(axis=0).sum()
    else:
        P = hand_forward(coefs, intercepts, X, "tanh", "identity")
        data_loss = 0.5 * ((Y - P) ** 2).mean()
    expected = data_loss + alpha / (2 * len(X)) * sum((W**2).sum() for W in coefs)
    ours.fit(X, y)
    sk.fit(X, y)
    assert ours.loss_curve_[0] == pytest.approx(expected, rel=1e-12)
    assert sk.loss_curve_[0] == pytest.approx(expected, rel=1e-12)


def test_poisson_is_not_trained_as_squared_error():
    # One full-batch step by hand: with the log link the output delta is (e^z - y) / n, the
    # gradient of the half Poisson deviance (the squared error's would be (e^z - y) e^z / n).
    sk, ours, y = pair("counts", solver="sgd", momentum=0.0, max_iter=1, alpha=0.0,
                       batch_size=len(DATA["X"]), shuffle=False, activation="tanh",
                       learning_rate_init=0.1)
    coefs, intercepts = initial_weights([3, 4, 1])
    X = DATA["X"]
    H = np.tanh(X @ coefs[0] + intercepts[0])
    P = np.exp(H @ coefs[1] + intercepts[1])
    delta = (P - y[:, None]) / len(X)  # d(half deviance)/dz with the log link
    W2 = coefs[1] - 0.1 * H.T @ delta
    b2 = intercepts[1] - 0.1 * delta.sum(axis=0)
    ours.fit(X, y)
    np.testing.assert_allclose(ours.coefs_[1], W2, rtol=1e-12)
    np.testing.assert_allclose(ours.intercepts_[1], b2, rtol=1e-12)


# -- initial weights: scikit-learn's Glorot bounds -----------------------------------------


def sklearn_bound(activation, fan_in, fan_out):
    factor = 2.0 if activation == "logistic" else 6.0
    return np.sqrt(factor / (fan_in + fan_out))


class InitialWeights(gn.Callback):
    def on_train_begin(self, logs=None):
        self.coefs = [layer.W.copy() for layer in self.model.layers
                      if isinstance(layer, gn.Dense)]
        self.intercepts = [layer.b.copy() for layer in self.model.layers
                           if isinstance(layer, gn.Dense)]


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("Est", [MLPClassifier, MLPRegressor])
def test_initial_weights_follow_scikit_learns_bounds(Est, activation):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 300))
    y = np.arange(6) % 3 if Est is MLPClassifier else rng.normal(size=6)
    seen = InitialWeights()
    Est(hidden_layer_sizes=(200,), activation=activation, solver="sgd", max_iter=1,
        callbacks=[seen], random_state=0).fit(X, y)
    units = [300, 200, 3 if Est is MLPClassifier else 1]
    # The reference itself: scikit-learn's _init_coef draws within the same bound.
    sk = (SkClassifier if Est is MLPClassifier else SkRegressor)(activation=activation)
    sk._random_state = np.random.RandomState(0)
    sk_W, _ = sk._init_coef(300, 200, np.float64)
    bound0 = sklearn_bound(activation, 300, 200)
    assert bound0 * 0.999 < np.abs(sk_W).max() <= bound0
    for i, (W, b) in enumerate(zip(seen.coefs, seen.intercepts)):
        bound = sklearn_bound(activation, units[i], units[i + 1])
        assert np.abs(W).max() <= bound and np.abs(b).max() <= bound
        assert np.abs(W).max() > 0.98 * bound  # 200+ draws: the largest is near the bound
    assert np.abs(seen.intercepts[0]).max() > 0.98 * bound0
    # U(-c, c) has variance c^2 / 3; with 60,000 draws the estimate is within ~1%, so a
    # bound off by sqrt(2) (variance x2 or /2) or sqrt(3) fails.
    W = seen.coefs[0]
    assert W.var() == pytest.approx(bound0**2 / 3, rel=0.03)
    assert abs(W.mean()) < 0.01 * bound0
    assert W.var() == pytest.approx(sk_W.var(), rel=0.03)
