"""glassnet.MLPClassifier / MLPRegressor: scikit-learn's contract and behaviours."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.special import expit, log_expit, log_softmax
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.metrics import mean_poisson_deviance
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import glassnet as gn
from glassnet import MLPClassifier, MLPRegressor


@parametrize_with_checks([
    MLPClassifier(max_iter=100, random_state=0),
    MLPRegressor(max_iter=100, random_state=0),
    MLPClassifier(solver="lbfgs", max_iter=100, random_state=0),
    MLPRegressor(solver="lbfgs", max_iter=100, random_state=0),
])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def fit_quiet(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def sklearn_holding(est, X, y):
    """scikit-learn's estimator of the same kind, fitted on ``(X, y)`` for its shapes and
    labels, then given ``est``'s fitted weights.
    """
    sk = SkClassifier() if isinstance(est, MLPClassifier) else SkRegressor(loss=est.loss)
    sk.set_params(hidden_layer_sizes=est.hidden_layer_sizes, activation=est.activation,
                  solver="lbfgs", max_iter=1)
    fit_quiet(sk, X, y)
    sk.coefs_ = [W.copy() for W in est.coefs_]
    sk.intercepts_ = [b.copy() for b in est.intercepts_]
    return sk


def same_start(ours, theirs, units, seed=0):
    """Start glassnet's and scikit-learn's estimator from the same Glorot-uniform weights
    (scikit-learn's ``_init_coef`` and glassnet's ``_build`` patched on the instances).
    """
    rng = np.random.default_rng(seed)
    pairs = []
    for fan_in, fan_out in zip(units[:-1], units[1:]):
        c = np.sqrt(6.0 / (fan_in + fan_out))
        pairs.append((rng.uniform(-c, c, (fan_in, fan_out)), rng.uniform(-c, c, fan_out)))
    draws = iter(pairs)
    theirs._init_coef = lambda fan_in, fan_out, dtype: tuple(a.copy() for a in next(draws))
    build = ours._build

    def _build(n_features, n_outputs, dtype):
        net = build(n_features, n_outputs, dtype)
        for layer, (W, b) in zip([l for l in net.layers if isinstance(l, gn.Dense)], pairs):
            layer.W[...], layer.b[...] = W, b
        return net

    ours._build = _build
    return ours, theirs


def relu_logits(est, X):
    """The last layer's ``Z`` by hand from ``coefs_`` and ``intercepts_`` (ReLU hidden units)."""
    A = X
    for W, b in zip(est.coefs_[:-1], est.intercepts_[:-1]):
        A = np.maximum(A @ W + b, 0)
    return A @ est.coefs_[-1] + est.intercepts_[-1]


def test_same_parameters_as_scikit_learn():
    from sklearn.neural_network import MLPClassifier as SkC
    from sklearn.neural_network import MLPRegressor as SkR

    for ours, theirs in [(MLPClassifier(), SkC()), (MLPRegressor(), SkR())]:
        mine = ours.get_params()
        for name, value in theirs.get_params().items():
            assert name in mine and mine[name] == value, name


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_fitted_attributes(iris, solver):
    X, y = iris
    clf = fit_quiet(MLPClassifier((8, 6), solver=solver, max_iter=30, random_state=0), X, y)
    assert list(clf.classes_) == [0, 1, 2]
    assert [c.shape for c in clf.coefs_] == [(4, 8), (8, 6), (6, 3)]
    assert [b.shape for b in clf.intercepts_] == [(8,), (6,), (3,)]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 3 and clf.out_activation_ == "softmax"
    assert clf.n_features_in_ == 4 and 1 <= clf.n_iter_ <= 30
    assert np.isfinite(clf.loss_)
    if solver != "lbfgs":
        assert len(clf.loss_curve_) == clf.n_iter_ and clf.loss_ == clf.loss_curve_[-1]
        assert clf.t_ == clf.n_iter_ * len(X)
        assert clf.best_loss_ == min(clf.loss_curve_)
        assert clf.validation_scores_ is None and clf.best_validation_score_ is None
        assert isinstance(clf.history_, gn.History)
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-6)
    # Against references that do not share glassnet's code: scikit-learn's own methods
    # holding the same weights, and log_softmax of the logits computed by hand from coefs_
    # (where no probability underflows to 0 or a subnormal: log(predict_proba) is -inf or
    # inexact there, as in scikit-learn, whose checks require log_proba == log(proba)).
    with np.errstate(divide="ignore"):
        log_P = clf.predict_log_proba(X)
        sk = sklearn_holding(clf, X, y)
        np.testing.assert_allclose(log_P, sk.predict_log_proba(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(P, sk.predict_proba(X), rtol=1e-10, atol=1e-300)
    finite = P >= np.finfo(P.dtype).tiny
    assert finite.mean() > 0.5
    expected = log_softmax(relu_logits(clf, X), axis=1)
    np.testing.assert_allclose(log_P[finite], expected[finite], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), sk.predict(X))


def test_loss_matches_scikit_learns_objective(iris):
    # One epoch of full-batch SGD from identical weights: glassnet's loss_ (data loss plus
    # alpha / 2n * sum ||W||^2) equals the one scikit-learn's formula gives for that start.
    X, y = iris
    from sklearn.neural_network._base import log_loss

    clf = MLPClassifier((5,), solver="sgd", alpha=0.3, batch_size=len(X), max_iter=1,
                        shuffle=False, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    # reproduce by hand with the weights clf started from: refit with max_iter=1, read back
    start = MLPClassifier((5,), solver="sgd", alpha=0.3, batch_size=len(X), max_iter=1,
                          shuffle=False, random_state=0, learning_rate_init=1e-12)
    fit_quiet(start, X, y)
    W1, W2 = start.coefs_
    b1, b2 = start.intercepts_
    H = np.maximum(X @ W1 + b1, 0)
    Z = H @ W2 + b2
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    Y = np.eye(3)[y]
    expected = log_loss(Y, P) + 0.3 / (2 * len(X)) * ((W1**2).sum() + (W2**2).sum())
    assert start.loss_ == pytest.approx(expected, rel=1e-5)
    assert clf.loss_ == pytest.approx(expected, rel=1e-4)


def test_binary_uses_one_logistic_unit_and_multilabel_sigmoid_outputs():
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    clf = fit_quiet(MLPClassifier((8,), max_iter=50, random_state=0), X, np.where(y, "yes", "no"))
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    assert clf.coefs_[-1].shape == (8, 1) and clf.predict_proba(X).shape == (120, 2)
    assert set(clf.predict(X)) <= {"yes", "no"}
    z = relu_logits(clf, X)[:, 0]  # classes_ == ["no", "yes"]
    np.testing.assert_allclose(clf.predict_proba(X), np.c_[expit(-z), expit(z)], rtol=1e-12)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.c_[log_expit(-z), log_expit(z)],
                               rtol=1e-9)
    sk = sklearn_holding(clf, X, np.where(y, "yes", "no"))
    np.testing.assert_allclose(clf.predict_log_proba(X), sk.predict_log_proba(X), rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), sk.predict(X))

    X, Y = make_multilabel_classification(n_samples=300, n_features=6, n_classes=4,
                                          random_state=0)
    X_tr, X_te, Y_tr, Y_te = train_test_split(X, Y, random_state=0)
    settings = dict(hidden_layer_sizes=(32,), solver="adam", learning_rate_init=0.01,
                    batch_size=50, alpha=1e-3, max_iter=150, shuffle=False)
    clf, sk = same_start(MLPClassifier(**settings), SkClassifier(**settings), [6, 32, 4])
    fit_quiet(clf, X_tr, Y_tr)
    fit_quiet(sk, X_tr, Y_tr)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 4
    assert clf.predict(X_te).shape == (75, 4) and set(np.unique(clf.predict(X_te))) <= {0, 1}
    # Held out: the same predictions as scikit-learn's from the same start, and a subset
    # accuracy far above predicting the most common label set (4% of the test rows).
    np.testing.assert_array_equal(clf.predict(X_te), sk.predict(X_te))
    np.testing.assert_allclose(clf.predict_proba(X_te), sk.predict_proba(X_te), rtol=1e-9)
    baseline = np.mean((Y_te == (Y_tr.mean(axis=0) > 0.5)).all(axis=1))
    assert clf.score(X_te, Y_te) == sk.score(X_te, Y_te) > baseline + 0.3


def test_multi_output_and_poisson_regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    Y = np.c_[X[:, 0] - X[:, 1], np.sin(X[:, 2])]
    reg = fit_quiet(MLPRegressor(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=500,
                                 random_state=0), X, Y)
    assert reg.predict(X).shape == (200, 2) and reg.score(X, Y) > 0.95
    X = rng.normal(size=(400, 3))
    counts = rng.poisson(np.exp(0.5 * X[:, 0]))
    X_tr, X_te, y_tr, y_te = train_test_split(X, counts, random_state=0)
    settings = dict(hidden_layer_sizes=(8,), solver="adam", learning_rate_init=0.01,
                    batch_size=50, alpha=1e-3, max_iter=50, shuffle=False)
    pois, sk = same_start(MLPRegressor(loss="poisson", **settings),
                          SkRegressor(loss="poisson", **settings), [3, 8, 1])
    fit_quiet(pois, X_tr, y_tr)
    fit_quiet(sk, X_tr, y_tr)
    assert pois.out_activation_ == "exp"
    # The log link, by hand from the fitted weights.
    np.testing.assert_allclose(pois.predict(X_te), np.exp(relu_logits(pois, X_te)[:, 0]),
                               rtol=1e-12)
    # Trained on the Poisson deviance: the same fit as scikit-learn's from the same start
    # (a squared-error fit of that start ends elsewhere), and on held-out data clearly
    # better than predicting the mean (deviance 1.14; the true rates score 0.90).
    np.testing.assert_allclose(pois.predict(X_te), sk.predict(X_te), rtol=1e-9)
    deviance = mean_poisson_deviance(y_te, pois.predict(X_te))
    assert deviance < mean_poisson_deviance(y_te, np.full(len(y_te), y_tr.mean())) - 0.1
    with pytest.raises(ValueError, match="non-negative y"):
        MLPRegressor(loss="poisson").fit(X, -np.ones(len(X)))


class Snapshots(gn.Callback):
    """Copies the network's weights at the end of every epoch."""

    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.params.copy())


def test_early_stopping_restores_the_best_weights(iris):
    X, y = iris
    snaps = Snapshots()
    clf = fit_quiet(MLPClassifier((16,), early_stopping=True, n_iter_no_change=3,
                                  validation_fraction=0.3, learning_rate_init=0.05,
                                  max_iter=200, callbacks=[snaps], random_state=0), X, y)
    best = int(np.argmax(clf.validation_scores_))
    assert clf.best_validation_score_ == clf.validation_scores_[best]
    assert best + 1 < clf.n_iter_ < 200  # it ran past the best epoch, then stopped
    assert len(clf.validation_loss_curve_) == len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_loss_ is None
    np.testing.assert_array_equal(clf.model_.params, snaps.weights[best])
    assert not np.array_equal(clf.model_.params, snaps.weights[-1])


def test_early_stopping_on_the_validation_loss(iris):
    X, y = iris
    clf = fit_quiet(MLPClassifier((16,), early_stopping=True, early_stopping_monitor="val_loss",
                                  n_iter_no_change=3, learning_rate_init=0.05, random_state=0),
                    X, y)
    best = int(np.argmin(clf.validation_loss_curve_))
    assert clf.best_validation_score_ == pytest.approx(-clf.validation_loss_curve_[best])
    assert clf.n_iter_ == best + 1 + 4  # patience: stop once 4 epochs fail to improve by tol


def test_partial_fit_with_classes_and_unseen_labels(iris):
    X, y = iris
    clf = MLPClassifier((8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    for _ in range(3):
        clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])  # classes= on every call
    assert list(clf.classes_) == [0, 1, 2] and clf.n_iter_ == 1 and clf.t_ == 3 * 100
    assert clf.predict_proba(X).shape == (150, 3)
    with pytest.raises(ValueError, match="`classes=.*` is not the same as on last call"):
        clf.partial_fit(X, y, classes=[0, 1, 5])
    with pytest.raises(AttributeError, match="^partial_fit is only available for stochastic "
                                             "optimizers. lbfgs is not stochastic.$"):
        MLPClassifier(solver="lbfgs").partial_fit(X, y, classes=[0, 1, 2])
    other = MLPClassifier((8,), random_state=0)
    other.partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`"):
        other.partial_fit(X, y)


def test_warm_start_continues_training(iris):
    X, y = iris
    clf = fit_quiet(MLPClassifier((8,), max_iter=5, warm_start=True, random_state=0), X, y)
    first = clf.model_.params.copy()
    curve = list(clf.loss_curve_)
    fit_quiet(clf, X, y)
    assert len(clf.loss_curve_) == 10 and clf.loss_curve_[:5] == curve
    assert clf.loss_curve_[5] < curve[0]  # it went on from where it was
    assert not np.array_equal(first, clf.model_.params)
    cold = fit_quiet(MLPClassifier((8,), max_iter=5, random_state=0), X, y)
    np.testing.assert_array_equal(cold.model_.params, first)  # no warm start: fresh start


def test_sample_weight_zero_equals_removing_the_row(iris):
    X, y = iris
    w = np.ones(len(X))
    w[[3, 70, 120]] = 0
    keep = w > 0
    est = MLPClassifier((6,), solver="lbfgs", max_iter=200, random_state=0)
    weighted = fit_quiet(clone(est), X, y, sample_weight=w)
    removed = fit_quiet(clone(est), X[keep], y[keep])
    np.testing.assert_allclose(weighted.predict_proba(X), removed.predict_proba(X), atol=1e-6)


def test_class_weight_balanced_helps_an_imbalanced_set():
    X, y = make_classification(n_samples=600, n_features=6, weights=[0.95, 0.05], flip_y=0,
                               class_sep=0.6, random_state=1)
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import train_test_split

    X_tr, X_te, y_tr, y_te = train_test_split(X, y, stratify=y, random_state=0)
    scores = {}
    for cw in (None, "balanced"):
        clf = fit_quiet(MLPClassifier((16,), class_weight=cw, max_iter=300, random_state=0),
                        X_tr, y_tr)
        scores[cw] = balanced_accuracy_score(y_te, clf.predict(X_te))
    assert scores["balanced"] > scores[None] + 0.05


def test_list_activation_leaky_relu_and_dropout_build_the_named_layers(iris):
    X, y = iris
    clf = fit_quiet(MLPClassifier((6, 5, 4), activation=["tanh", "leaky_relu", "logistic"],
                                  dropout=[0.0, 0.2, 0.1], max_iter=5, random_state=0), X, y)
    layers = clf.model_.layers
    kinds = [(type(l).__name__, getattr(getattr(l, "activation", None), "name", None))
             for l in layers]
    assert kinds == [("Dense", "tanh"), ("Dense", "leaky_relu"), ("Dropout", None),
                     ("Dense", "sigmoid"), ("Dropout", None), ("Dense", "softmax")]
    assert [l.rate for l in layers if isinstance(l, gn.Dropout)] == [0.2, 0.1]
    with pytest.raises(ValueError, match="activation has 2 entries but hidden_layer_sizes has 3"):
        MLPClassifier((6, 5, 4), activation=["tanh", "relu"]).fit(X, y)


def test_callbacks_and_history(iris):
    X, y = iris

    class Count(gn.Callback):
        epochs = 0

        def on_epoch_end(self, epoch, logs=None):
            Count.epochs += 1

    clf = fit_quiet(MLPClassifier((8,), max_iter=7, callbacks=[Count()], random_state=0), X, y)
    assert Count.epochs == 7 and len(clf.history_.history["loss"]) == 7


def test_ecosystem_pipeline_grid_search_cross_val_clone_pickle(iris):
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier((8,), solver="lbfgs", max_iter=300,
                                                         random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert cross_val_score(pipe, X, y, cv=3).mean() > 0.85
        grid = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-1]}, cv=3).fit(X, y)
    assert grid.best_score_ > 0.85
    fitted = grid.best_estimator_
    for clone_ in (pickle.loads(pickle.dumps(fitted)), joblib.load(_dump(fitted))):
        np.testing.assert_array_equal(clone_.predict_proba(X), fitted.predict_proba(X))
    c = clone(fitted[-1])
    assert not hasattr(c, "model_") and c.get_params() == fitted[-1].get_params()


def _dump(obj):
    import tempfile

    path = tempfile.mktemp(suffix=".joblib")
    joblib.dump(obj, path)
    return path


def test_pandas_feature_names_float32_and_sparse(iris):
    X, y = iris
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = fit_quiet(MLPClassifier((8,), max_iter=20, random_state=0), df, y)
    assert list(clf.feature_names_in_) == ["a", "b", "c", "d"]
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df[["b", "a", "c", "d"]])
    clf32 = fit_quiet(MLPClassifier((8,), max_iter=20, random_state=0), X.astype(np.float32), y)
    assert clf32.coefs_[0].dtype == np.float32 and clf32.predict_proba(X).dtype == np.float32
    sparse = fit_quiet(MLPClassifier((8,), max_iter=20, random_state=0), sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)),
                               fit_quiet(MLPClassifier((8,), max_iter=20, random_state=0), X,
                                         y).predict_proba(X), rtol=1e-6)


def test_convergence_warning_and_determinism(iris):
    X, y = iris
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    a = fit_quiet(MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=7), X, y * 1.0)
    b = fit_quiet(MLPRegressor(hidden_layer_sizes=(8,), max_iter=20, random_state=7), X, y * 1.0)
    assert a.model_.params.tobytes() == b.model_.params.tobytes()


@pytest.mark.parametrize("make,match,error", [
    (lambda X, y: MLPClassifier(max_iter=5).fit(X, y).predict(X[:, :3]),
     "X has 3 features, but MLPClassifier is expecting 4 features", ValueError),
    (lambda X, y: MLPClassifier().fit(np.where(X > 2, np.nan, X), y), "Input X contains NaN",
     ValueError),
    (lambda X, y: MLPClassifier(solver="newton").fit(X, y),
     "The 'solver' parameter of MLPClassifier must be a str among", ValueError),
    (lambda X, y: MLPClassifier(learning_rate_init=-1).fit(X, y),
     "The 'learning_rate_init' parameter of MLPClassifier must be a float in the range "
     "\\(0.0, inf\\)", ValueError),
    (lambda X, y: MLPClassifier(activation="swish").fit(X, y),
     "The 'activation' parameter", ValueError),
    (lambda X, y: MLPClassifier().predict(X), "This MLPClassifier instance is not fitted yet",
     NotFittedError),
    (lambda X, y: MLPRegressor(dropout=1.5).fit(X, y), "The 'dropout' parameter", ValueError),
])
def test_user_mistakes_get_scikit_learns_errors(iris, make, match, error):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.raises(error, match=match):
            make(X, y)


def test_verbose_2_shows_a_progress_bar_over_the_epochs(iris, capsys):
    X, y = iris
    fit_quiet(MLPClassifier((8,), max_iter=12, verbose=2, random_state=0), X, y)
    err = capsys.readouterr().err
    assert "12/12" in err and "epoch" in err and "loss=" in err
