"""glassnet's MLPClassifier / MLPRegressor behave as scikit-learn 1.9's where a fit goes
wrong or is unusual: divergence, verbose output, the early-stopping split, one class, warm
starts with another architecture, partial_fit with lbfgs, continuous labels, huge layers
and where warnings point. Each test runs the installed scikit-learn on the same case (from
the same initial weights where numbers are compared) as the reference.
"""

import re
import warnings

import numpy as np
import pytest
from conftest import start_alike
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from glassnet import MLPClassifier, MLPRegressor

RTOL, ATOL = 1e-10, 1e-12
SKLEARNS_SENTENCE = ("Solver produced non-finite parameter weights. The input data may "
                     "contain large values and need to be preprocessed.")

# Two distinct points, x0 (class 0) 12 times and x1 (class 1) 8 times: any stratified 25%
# split holds out 3 x0 and 2 x1, so glassnet's split and scikit-learn's hold the same data.
X0, X1 = np.array([1.0, -0.5]), np.array([-0.3, 0.8])
X_TWO = np.r_[np.tile(X0, (12, 1)), np.tile(X1, (8, 1))]
Y_TWO = np.r_[np.zeros(12, int), np.ones(8, int)]
ES = dict(solver="sgd", learning_rate_init=0.2, momentum=0.0, early_stopping=True,
          validation_fraction=0.25, shuffle=False, activation="tanh", alpha=0.0, max_iter=25,
          random_state=0)


def pair(kind, hidden=(3,), n_features=2, n_outputs=1, seed=5, **params):
    Sk, Gn = (SkClassifier, MLPClassifier) if kind == "classifier" else (SkRegressor,
                                                                         MLPRegressor)
    return start_alike(Sk(hidden_layer_sizes=hidden, **params),
                       Gn(hidden_layer_sizes=hidden, **params),
                       [n_features, *hidden, n_outputs], seed)


def assert_same_weights(sk, ours):
    for name in ("coefs_", "intercepts_"):
        for mine, theirs in zip(getattr(ours, name), getattr(sk, name), strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=ATOL, err_msg=name)


def caught(fn):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fn()
    return record


# -- 1, 2: divergence ------------------------------------------------------------------------


def test_early_stopping_keeps_the_best_weights_when_the_loss_becomes_infinite():
    # Inputs of 1e200: the first batch's squared error overflows. scikit-learn fits, its
    # validation scores are NaN and it keeps the weights it started from (no score beat
    # -inf); glassnet ends the fit there (warning) with the same weights.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2)) * 1e200
    y = X[:, 0] / 1e200
    sk, ours = pair("regressor", solver="sgd", momentum=0.0, learning_rate_init=0.01,
                    early_stopping=True, validation_fraction=0.25, max_iter=5, shuffle=False)
    with np.errstate(all="ignore"):  # scikit-learn's overflows
        fit_quiet(sk, X, y)
    record = caught(lambda: ours.fit(X, y))
    assert np.isnan(sk.validation_scores_).all() and sk.best_validation_score_ == -np.inf
    assert_same_weights(sk, ours)
    assert ours.n_iter_ == 0 and ours.validation_scores_ == []
    messages = [str(w.message) for w in record if w.category is ConvergenceWarning]
    assert len(messages) == 1 and messages[0].startswith("Training diverged in iteration 1: "
                                                         "the loss became inf")
    assert "weights kept are those it started from" in messages[0]
    assert np.isfinite(ours.predict(X / 1e200)).all()


def test_early_stopping_keeps_the_best_weights_when_the_loss_runs_away():
    # Every row is (x, 2.0), so any split holds the same data; at learning rate 10 the loss
    # grows ~1e4-fold per epoch. scikit-learn's validation r2 is 0 every epoch, so its best
    # weights are epoch 1's; glassnet stops once the loss has run away and keeps epoch 1's.
    X = np.tile([0.5, -1.0], (10, 1))
    y = np.full(10, 2.0)
    sk, ours = pair("regressor", solver="sgd", momentum=0.0, learning_rate_init=10.0,
                    early_stopping=True, validation_fraction=0.2, max_iter=30, shuffle=False,
                    random_state=0, seed=0)
    sk.fit(X, y)
    with pytest.warns(ConvergenceWarning, match=r"^Training diverged in iteration \d+: the "
                                                r"loss grew to .*; the weights kept are those "
                                                r"of the best validation score \(0\)"):
        ours.fit(X, y)
    assert sk.loss_curve_[-1] > 1e20 and sk.validation_scores_[0] == sk.best_validation_score_
    assert ours.n_iter_ < sk.n_iter_
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_[:ours.n_iter_], rtol=RTOL)
    assert ours.validation_scores_ == sk.validation_scores_[:ours.n_iter_]
    assert_same_weights(sk, ours)
    np.testing.assert_allclose(ours.predict(X), sk.predict(X), rtol=RTOL)


@pytest.mark.parametrize("data", ["make_regression", "diabetes"])
def test_divergence_without_early_stopping_raises_scikit_learns_error(data):
    # make_regression: scikit-learn's weights overflow and it raises its sentence.
    # diabetes: scikit-learn's loss grows to 1e36 and it returns a model predicting -1e50
    # without a word; glassnet raises the same sentence for both.
    X, y = make_regression(n_samples=100, n_features=5, noise=1, random_state=0) \
        if data == "make_regression" else load_diabetes(return_X_y=True)
    params = dict(solver="sgd", learning_rate_init=10, random_state=0)
    if data == "make_regression":
        with pytest.raises(ValueError, match="^" + re.escape(SKLEARNS_SENTENCE) + "$"), \
                np.errstate(all="ignore"):
            fit_quiet(SkRegressor(**params), X, y)
    else:
        sk = fit_quiet(SkRegressor(**params), X, y)
        assert np.abs(sk.predict(X[:5])).min() > 1e40
    ours = MLPRegressor(**params)
    with pytest.raises(ValueError) as error:
        ours.fit(X, y)
    message = str(error.value)
    assert message.startswith(SKLEARNS_SENTENCE + " Training diverged in iteration ")
    assert "\n" not in message and "learning_rate_init" in message
    # Its advice names only the estimator's own parameters.
    assert "clipnorm" not in message and "on_divergence" not in message
    # The weights left are those the fit started from: finite, and predicting finite numbers.
    assert np.isfinite(ours.model_.params).all()
    assert np.abs(ours.predict(X)).max() < 1e3 * np.abs(y).max()


def fit_quiet(est, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args)


# -- 3: verbose --------------------------------------------------------------------------------


def outputs(capsys, est, method="fit", *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        getattr(est, method)(*args)
    return capsys.readouterr()


@pytest.mark.parametrize("case", ["early-stopping", "training-loss", "adaptive"])
@pytest.mark.parametrize("verbose", [True, 2])
def test_verbose_prints_scikit_learns_lines(capsys, case, verbose):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(13, 2))
    if case == "early-stopping":
        # Its lines end "Validation score did not improve more than tol=0.100000 for 2
        # consecutive epochs. Stopping."
        kind, X, y = "classifier", X_TWO, Y_TWO
        params = {**ES, "tol": 0.1, "n_iter_no_change": 2}
    elif case == "training-loss":
        kind, y = "regressor", X[:, 0]
        params = dict(solver="adam", tol=1e3, n_iter_no_change=1, max_iter=5, shuffle=False)
    else:  # 'adaptive': "Setting learning rate to ..." then "Learning rate too small."
        kind, y = "regressor", X[:, 0]
        params = dict(solver="sgd", learning_rate="adaptive", learning_rate_init=2e-5,
                      momentum=0.5, tol=1e3, n_iter_no_change=1, max_iter=50, shuffle=False,
                      batch_size=5)
    sk, ours = pair(kind, verbose=verbose, **params)
    theirs, mine = outputs(capsys, sk, "fit", X, y), outputs(capsys, ours, "fit", X, y)
    assert mine.out == theirs.out
    last = {"early-stopping": "Validation score did not improve more than tol=0.100000 for 2 "
                              "consecutive epochs. Stopping.",
            "training-loss": "Training loss did not improve more than tol=1000.000000 for 1 "
                             "consecutive epochs. Stopping.",
            "adaptive": "Training loss did not improve more than tol=1000.000000 for 1 "
                        "consecutive epochs. Learning rate too small. Stopping."}[case]
    assert mine.out.splitlines()[-1] == last
    assert mine.out.startswith("Iteration 1, loss = ")
    if case == "adaptive":
        assert "Setting learning rate to 0.000004\n" in mine.out
    if case == "early-stopping":
        assert "Validation score: 0.600000\n" in mine.out
    # Progress on stderr: nothing with verbose=True, the bar over the epochs with 2.
    assert theirs.err == ""
    if verbose is True:
        assert mine.err == ""
    else:
        assert f"{ours.n_iter_}/{ours.max_iter}" in mine.err and "epoch" in mine.err


def test_verbose_partial_fit_prints_its_iteration_line_as_scikit_learn(capsys):
    X = np.random.default_rng(0).normal(size=(13, 2))
    sk, ours = pair("regressor", solver="adam", verbose=True)
    for _ in range(2):
        theirs = outputs(capsys, sk, "partial_fit", X, X[:, 0])
        mine = outputs(capsys, ours, "partial_fit", X, X[:, 0])
        assert re.fullmatch(r"Iteration 1, loss = \d+\.\d{8}\n", mine.out)
        assert mine.out == theirs.out and mine.err == ""


def test_verbose_lbfgs_prints_as_scikit_learns_with_this_scipy(capfd):
    # scikit-learn passes iprint to SciPy only where SciPy (< 1.15) takes it.
    X = np.random.default_rng(0).normal(size=(13, 2))
    sk, ours = pair("regressor", solver="lbfgs", max_iter=5, verbose=True)
    fit_quiet(sk, X, X[:, 0])
    theirs = capfd.readouterr().out
    fit_quiet(ours, X, X[:, 0])
    assert capfd.readouterr().out == theirs


# -- 4: the early-stopping split ---------------------------------------------------------------


def test_a_binary_class_of_one_member_cannot_be_stratified_as_in_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    y = np.r_[np.zeros(19, int), 1]
    messages = []
    for Est in (SkClassifier, MLPClassifier):
        with pytest.raises(ValueError) as error:
            Est(early_stopping=True, max_iter=3).fit(X, y)
        messages.append(str(error.value))
    prefix = ("The least populated classes in y have only 1 member, which is too few. The "
              "minimum number of groups for any class cannot be less than 2. Classes with too "
              "few members are: [")
    assert messages[0].startswith(prefix) and messages[1].startswith(prefix + "1]")
    assert "early_stopping=False" in messages[1] and "\n" not in messages[1]


def test_a_multiclass_split_is_not_stratified_as_in_scikit_learn():
    # scikit-learn stratifies single-output targets only. Three distinct points of three
    # classes, 8, 8 and 4 times: a stratified 25% split would always hold out 2, 2 and 1 of
    # them (one first validation score, whatever the seed); from one start, the first score
    # varies with random_state in both libraries.
    X = np.r_[np.tile(X0, (8, 1)), np.tile(X1, (8, 1)), np.tile([0.2, 0.2], (4, 1))]
    y = np.r_[np.zeros(8, int), np.ones(8, int), np.full(4, 2)]
    firsts = {"sk": set(), "ours": set()}
    for random_state in range(8):
        sk, ours = pair("classifier", n_outputs=3, **{**ES, "random_state": random_state,
                                                      "max_iter": 1})
        fit_quiet(sk, X, y)
        fit_quiet(ours, X, y)
        firsts["sk"].add(round(sk.validation_scores_[0], 6))
        firsts["ours"].add(round(ours.validation_scores_[0], 6))
    assert len(firsts["sk"]) > 1 and len(firsts["ours"]) > 1
    # A class of one member fits too, holding out 10% of the rows (2 of 20).
    y[-1] = 3
    sk = fit_quiet(SkClassifier((3,), early_stopping=True, max_iter=3, random_state=0), X, y)
    ours = fit_quiet(MLPClassifier((3,), early_stopping=True, max_iter=3, random_state=0), X, y)
    assert ours.t_ == sk.t_ == 3 * 18


# -- 5: one class ------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_a_single_class_is_fitted_as_in_scikit_learn(solver):
    X = np.random.default_rng(0).normal(size=(12, 2))
    y = np.full(12, "only")
    params = dict(solver=solver, max_iter=4, shuffle=False, momentum=0.0,
                  learning_rate_init=0.1)
    sk, ours = pair("classifier", **params)
    fit_quiet(sk, X, y)
    fit_quiet(ours, X, y)
    assert list(ours.classes_) == list(sk.classes_) == ["only"]
    assert ours.n_outputs_ == sk.n_outputs_ == 1
    assert_same_weights(sk, ours)
    np.testing.assert_array_equal(ours.predict(X), sk.predict(X))
    assert ours.predict_proba(X).shape == sk.predict_proba(X).shape == (12, 2)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), rtol=1e-9)


# -- 6: warm start with another architecture ----------------------------------------------------


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_warm_start_with_other_hidden_layer_sizes_is_refused(solver):
    X = np.random.default_rng(0).normal(size=(20, 2))
    y = np.arange(20) % 3
    sk = fit_quiet(SkClassifier((5,), solver=solver, warm_start=True, max_iter=5), X, y)
    sk.set_params(hidden_layer_sizes=(7,))
    if solver == "lbfgs":  # scikit-learn fails in numpy's reshape
        with pytest.raises(ValueError, match="cannot reshape"):
            sk.fit(X, y)
    else:  # scikit-learn ignores the new sizes without a word
        fit_quiet(sk, X, y)
        assert sk.coefs_[0].shape == (2, 5)
    ours = fit_quiet(MLPClassifier((5,), solver=solver, warm_start=True, max_iter=5), X, y)
    ours.set_params(hidden_layer_sizes=(7,))
    with pytest.raises(ValueError, match=r"^hidden_layer_sizes is \[7\] but the fitted network "
                                         r"has \[5\]; warm_start=True goes on .*warm_start="
                                         r"False"):
        ours.fit(X, y)
    assert ours.coefs_[0].shape == (2, 5) and np.isfinite(ours.predict_proba(X)).all()


def test_partial_fit_with_other_hidden_layer_sizes_or_outputs_is_refused():
    X = np.random.default_rng(0).normal(size=(20, 2))
    reg = MLPRegressor(hidden_layer_sizes=(4,)).partial_fit(X, X[:, 0])
    reg.set_params(hidden_layer_sizes=(4, 4))
    with pytest.raises(ValueError, match=r"^hidden_layer_sizes is \[4, 4\] but the fitted "
                                         r"network has \[4\]; partial_fit goes on"):
        reg.partial_fit(X, X[:, 0])
    # Another number of outputs: scikit-learn broadcasts y against its 2 outputs silently.
    Y = np.c_[X[:, 0], X[:, 1]]
    sk = fit_quiet(SkRegressor(hidden_layer_sizes=(4,), warm_start=True, max_iter=3), X, Y)
    fit_quiet(sk, X, X[:, 0])
    assert sk.coefs_[-1].shape == (4, 2)
    ours = fit_quiet(MLPRegressor(hidden_layer_sizes=(4,), warm_start=True, max_iter=3), X, Y)
    with pytest.raises(ValueError, match=r"^y has 1 output\(s\) but the fitted network has 2"):
        ours.fit(X, X[:, 0])


def test_warm_start_with_another_activation_goes_on_as_scikit_learn():
    # scikit-learn reads activation afresh on every fit: the weights fitted with tanh go on
    # training (and predicting) with relu. glassnet does the same, from the same start.
    X = np.random.default_rng(0).normal(size=(13, 2))
    y = X[:, 0] - X[:, 1]
    sk, ours = pair("regressor", activation="tanh", solver="sgd", momentum=0.9,
                    learning_rate_init=0.05, max_iter=3, shuffle=False, warm_start=True)
    for activation in ("tanh", "relu"):
        sk.set_params(activation=activation)
        ours.set_params(activation=activation)
        fit_quiet(sk, X, y)
        fit_quiet(ours, X, y)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL)
    assert_same_weights(sk, ours)
    np.testing.assert_allclose(ours.predict(X), sk.predict(X), rtol=RTOL)
    assert ours._fitted_architecture["activation"] == ["relu"]


def test_warm_start_with_dropout_added_keeps_the_fitted_weights():
    X = np.random.default_rng(0).normal(size=(13, 2))
    reg = fit_quiet(MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, warm_start=True,
                                 random_state=0), X, X[:, 0])
    fitted = reg.model_.params.copy()
    reg.set_params(dropout=0.2, learning_rate_init=1e-300)  # a step too small to move them
    fit_quiet(reg, X, X[:, 0])
    assert [type(l).__name__ for l in reg.model_.layers] == ["Dense", "Dropout", "Dense"]
    np.testing.assert_array_equal(reg.model_.params, fitted)
    assert reg._fitted_architecture == {"hidden_layer_sizes": [4], "activation": ["relu"],
                                        "dropout": [0.2]}


def test_set_params_without_refitting_keeps_predicting_what_was_fitted():
    # glassnet's model_ is the fitted network: after set_params(activation="tanh") it still
    # predicts with relu, as the ReLU forward pass by hand from coefs_ does (scikit-learn's
    # estimator, reading activation on every predict, would switch to tanh).
    X = np.random.default_rng(0).normal(size=(13, 2))
    reg = fit_quiet(MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0), X, X[:, 0])
    by_hand = np.maximum(X @ reg.coefs_[0] + reg.intercepts_[0], 0) @ reg.coefs_[1] \
        + reg.intercepts_[1]
    reg.set_params(activation="tanh", hidden_layer_sizes=(9,))
    np.testing.assert_allclose(reg.predict(X), by_hand[:, 0], rtol=1e-12)
    assert reg._fitted_architecture == {"hidden_layer_sizes": [4], "activation": ["relu"],
                                        "dropout": [0.0]}


# -- 7: partial_fit with lbfgs ----------------------------------------------------------------


def test_partial_fit_with_lbfgs_raises_scikit_learns_reason():
    # scikit-learn's classifier hides partial_fit (hasattr is False) and its AttributeError
    # chains from the reason; glassnet's says the reason itself, for both estimators
    # (scikit-learn's regressor forgets to call its check and runs a full lbfgs fit).
    with pytest.raises(AttributeError) as error:
        SkClassifier(solver="lbfgs").partial_fit(X_TWO, Y_TWO, classes=[0, 1])
    reason = str(error.value.__cause__)
    assert reason == "partial_fit is only available for stochastic optimizers. lbfgs is not " \
                     "stochastic."
    assert not hasattr(SkClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(SkRegressor(solver="lbfgs"), "partial_fit")
    for est in (MLPClassifier(solver="lbfgs"), MLPRegressor(solver="lbfgs")):
        assert not hasattr(est, "partial_fit")
        with pytest.raises(AttributeError, match="^" + re.escape(reason) + "$"):
            est.partial_fit(X_TWO, Y_TWO)
    assert hasattr(MLPClassifier(solver="sgd"), "partial_fit")
    assert MLPClassifier.partial_fit.__doc__.startswith("One pass")


# -- 8: continuous labels ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_continuous_y_to_the_classifier_gets_one_short_line(method):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = rng.normal(size=200)
    kwargs = {"classes": [0, 1]} if method == "partial_fit" else {}
    with pytest.raises(ValueError) as theirs:
        getattr(SkClassifier(), method)(X, y, **kwargs)
    assert str(theirs.value).startswith("Unknown label type: ") and len(str(theirs.value)) > 2000
    with pytest.raises(ValueError) as ours:
        getattr(MLPClassifier(), method)(X, y, **kwargs)
    example = f"{y[0]:.3g}"
    assert str(ours.value) == (f"Unknown label type: y looks continuous (float values such as "
                               f"{example}); MLPClassifier needs class labels: use "
                               "MLPRegressor for regression.")


# -- 9: layers too large to allocate -----------------------------------------------------------


def test_a_hidden_layer_too_large_gets_one_clear_error():
    X, y = X_TWO, Y_TWO
    with pytest.raises(MemoryError):  # scikit-learn: numpy's "Unable to allocate 14.6 TiB"
        SkClassifier(hidden_layer_sizes=(10**12,)).fit(X, y)
    n = (2 + 1) * 10**12 + (10**12 + 1) * 1  # kernels and biases of 2 -> 10**12 -> 1
    tib = 2 * n * 8 / 1024**4  # weights and gradients, 8 bytes each: 58.2 TiB
    with pytest.raises(ValueError, match=rf"^hidden_layer_sizes=\[1000000000000\] needs "
                                         rf"{n:,} weights \({tib:.1f} TiB in float64 with their "
                                         r"gradients\), more than .*: use smaller hidden "
                                         r"layers\.$"):
        MLPClassifier(hidden_layer_sizes=(10**12,)).fit(X, y)


def test_a_layer_numpy_cannot_allocate_is_a_value_error_too(monkeypatch):
    # Where the machine's memory is unknown, numpy's MemoryError becomes the network's line.
    import os

    def unknown(name):
        raise ValueError(name)

    monkeypatch.setattr(os, "sysconf", unknown)
    with pytest.raises(ValueError, match=r"needs 3,000,000,000,000 weights") as error:
        MLPClassifier(hidden_layer_sizes=(10**12,)).fit(X_TWO, Y_TWO)
    assert "\n" not in str(error.value)


# -- 10: warnings point at the user's call ----------------------------------------------------


@pytest.mark.parametrize("case", ["max_iter", "lbfgs", "batch_size", "column", "partial_fit",
                                  "pipeline", "diverged"])
def test_warnings_point_at_the_users_line(case):
    X = np.random.default_rng(0).normal(size=(12, 2))
    y = X[:, 0]
    reg = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    calls = {
        "max_iter": lambda: reg.fit(X, y),
        "lbfgs": lambda: reg.set_params(solver="lbfgs").fit(X, y),
        "batch_size": lambda: reg.set_params(batch_size=50).fit(X, y),
        "column": lambda: reg.fit(X, y.reshape(-1, 1)),
        "partial_fit": lambda: reg.set_params(batch_size=50).partial_fit(X, y),
        "pipeline": lambda: make_pipeline(StandardScaler(), reg).fit(X, y),
        "diverged": lambda: reg.set_params(solver="sgd", learning_rate_init=1e3,
                                           early_stopping=True, validation_fraction=0.25,
                                           max_iter=50).fit(X * 100, y * 100),
    }
    category = {"batch_size": UserWarning, "partial_fit": UserWarning,
                "column": DataConversionWarning}.get(case, ConvergenceWarning)
    record = [w for w in caught(calls[case]) if w.category is category]
    assert record, case
    assert all(w.filename == __file__ for w in record), [w.filename for w in record]
    # scikit-learn's own point inside scikit-learn.
    sk = [w for w in caught(lambda: SkRegressor(hidden_layer_sizes=(3,), max_iter=2).fit(X, y))
          if w.category is ConvergenceWarning]
    assert sk and sk[0].filename != __file__
