"""The estimators' solver bookkeeping against scikit-learn's, from identical weights.

Early stopping is compared on a data set whose validation split does not depend on
the seed: two distinct points, ``x0`` (class 0) 12 times and ``x1`` (class 1) 8 times.
Any stratified split with ``validation_fraction=0.25`` holds out 3 copies of ``x0`` and
2 of ``x1`` and trains on 9 and 6, whichever rows it picks, so glassnet's split and
scikit-learn's (drawn from different random generators) hold the same data, and from
the same initial weights the two estimators must agree on ``loss_curve_``,
``validation_scores_``, ``best_validation_score_``, ``n_iter_``, ``t_`` and the weights
they restore. A split that is not stratified, or of another size, breaks that.
"""

import re
import warnings

import numpy as np
import pytest
from conftest import start_alike
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

import glassnet as gn
from glassnet import MLPClassifier, MLPRegressor

RTOL, ATOL = 1e-10, 1e-12

X0, X1 = np.array([1.0, -0.5]), np.array([-0.3, 0.8])
X_TWO = np.r_[np.tile(X0, (12, 1)), np.tile(X1, (8, 1))]
Y_TWO = np.r_[np.zeros(12, int), np.ones(8, int)]
# The training part of any stratified 25% split of (X_TWO, Y_TWO): 9 x0 and 6 x1.
X_TRAIN = np.r_[np.tile(X0, (9, 1)), np.tile(X1, (6, 1))]
Y_TRAIN = np.r_[np.zeros(9, int), np.ones(6, int)]

# Full-batch SGD without shuffling; from start 5 at learning rate 0.2 the validation
# accuracy runs 0, 0, 0, 0.6, 0.6, 0.6, 0.6, then 1.0 from epoch 8 on (scikit-learn's).
ES = dict(solver="sgd", learning_rate_init=0.2, momentum=0.0, early_stopping=True,
          validation_fraction=0.25, shuffle=False, activation="tanh", alpha=0.0, max_iter=25,
          random_state=0)


@pytest.fixture(autouse=True)
def _no_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def classifier_pair(seed=5, hidden=(3,), n_features=2, **params):
    return start_alike(SkClassifier(hidden_layer_sizes=hidden, **params),
                       MLPClassifier(hidden_layer_sizes=hidden, **params),
                       [n_features, *hidden, 1], seed)


def regressor_pair(seed=0, hidden=(3,), n_features=2, **params):
    return start_alike(SkRegressor(hidden_layer_sizes=hidden, **params),
                       MLPRegressor(hidden_layer_sizes=hidden, **params),
                       [n_features, *hidden, 1], seed)


def assert_same_weights(sk, ours):
    for name in ("coefs_", "intercepts_"):
        for mine, theirs in zip(getattr(ours, name), getattr(sk, name), strict=True):
            np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=ATOL, err_msg=name)


def assert_same_early_stopping(sk, ours):
    assert ours.n_iter_ == sk.n_iter_
    assert ours.t_ == sk.t_
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ours.validation_scores_, sk.validation_scores_, rtol=RTOL)
    assert ours.best_validation_score_ == pytest.approx(sk.best_validation_score_, rel=RTOL)
    assert ours.best_loss_ is None and sk.best_loss_ is None
    assert_same_weights(sk, ours)


# -- the validation split -------------------------------------------------------------------


@pytest.mark.parametrize("random_state", [0, 1, 2, 3])
def test_early_stopping_holds_out_a_stratified_validation_fraction_as_scikit_learn(
        random_state):
    sk, ours = classifier_pair(**{**ES, "random_state": random_state, "tol": 0.0,
                                  "n_iter_no_change": 100, "max_iter": 8})
    sk.fit(X_TWO, Y_TWO)
    ours.fit(X_TWO, Y_TWO)
    # 20 rows, 25% (5) held out: t_ counts the 15 training rows per epoch.
    assert ours.t_ == 8 * 15
    assert_same_early_stopping(sk, ours)


def test_early_stopping_scores_the_validation_set_with_its_sample_weights():
    # x0 weighs 1, x1 weighs 3: the validation accuracy is the weighted one, 6/9 when
    # only the two held-out x1 are right (0.4 unweighted).
    w = np.where(Y_TWO == 1, 3.0, 1.0)
    sk, ours = classifier_pair(**{**ES, "tol": 0.0, "n_iter_no_change": 100, "max_iter": 6})
    sk.fit(X_TWO, Y_TWO, sample_weight=w)
    ours.fit(X_TWO, Y_TWO, sample_weight=w)
    for score in sk.validation_scores_:
        assert min(abs(score - v) for v in (0.0, 1 / 3, 2 / 3, 1.0)) < 1e-12
    assert_same_early_stopping(sk, ours)


def test_validation_set_of_two_rows_is_enough_and_of_one_too_small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = X[:, 0] - X[:, 1]
    params = dict(solver="adam", early_stopping=True, max_iter=3, random_state=0)
    # 10% of 20 rows: 2 held out, as in scikit-learn, which fits too.
    sk, ours = regressor_pair(n_features=3, validation_fraction=0.1, **params)
    sk.fit(X, y)
    ours.fit(X, y)
    assert ours.t_ == sk.t_ == 3 * 18
    # 5%: 1 row, and both refuse with scikit-learn's message.
    sk, ours = regressor_pair(n_features=3, validation_fraction=0.05, **params)
    message = "The validation set is too small. Increase 'validation_fraction' or the size"
    for est in (sk, ours):
        with pytest.raises(ValueError, match=message):
            est.fit(X, y)


def test_a_class_too_rare_to_stratify_raises_scikit_learns_message():
    # One row of class 1: no stratified split exists; scikit-learn's train_test_split
    # raises, and so does glassnet, with that message first (its advice after).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    y = np.r_[np.zeros(19, int), 1]
    params = dict(hidden_layer_sizes=(3,), early_stopping=True, validation_fraction=0.1,
                  max_iter=4, n_iter_no_change=100, random_state=5)
    messages = []
    for Est in (SkClassifier, MLPClassifier):
        with pytest.raises(ValueError) as error:
            Est(**params).fit(X, y)
        messages.append(str(error.value))
    # scikit-learn names the class as its binarized label (['True']); glassnet as in y.
    head = "Classes with too few members are: "
    assert messages[0].startswith("The least populated classes in y have only 1 member")
    assert messages[1].startswith(messages[0].split(head)[0] + head + "[1]")


# -- the patience rule on the validation score ------------------------------------------------


@pytest.mark.parametrize("tol,n_iter_no_change,stops_at,best_epoch", [
    # tol=0: a plateau at the best score is not "no improvement" (score < best + 0 fails):
    # it never stops; the weights kept are those of epoch 8, the first at 1.0.
    (0.0, 2, 25, 8),
    # tol=0.1: plateaus count: epochs 2, 3 (1, 2), 0.6 at 4 (reset), 5, 6, 7 (1, 2, 3 > 2).
    (0.1, 2, 7, 4),
    # Patience 3: 1.0 at epoch 8 resets the count to 0 before it passes 3; 9-12 stall.
    (0.1, 3, 12, 8),
])
def test_early_stopping_patience_and_tol_follow_scikit_learn(tol, n_iter_no_change, stops_at,
                                                            best_epoch):
    sk, ours = classifier_pair(**{**ES, "tol": tol, "n_iter_no_change": n_iter_no_change})
    sk.fit(X_TWO, Y_TWO)
    ours.fit(X_TWO, Y_TWO)
    assert sk.n_iter_ == stops_at
    expected = [0, 0, 0, 0.6, 0.6, 0.6, 0.6, 1][:stops_at]
    np.testing.assert_allclose(sk.validation_scores_[:8], expected)
    assert_same_early_stopping(sk, ours)
    # The weights restored are those after epoch best_epoch (the first at the best score).
    assert_same_weights(reference_epochs(best_epoch, ES)[-1], ours)


def reference_epochs(n_epochs, params, X=X_TRAIN, y=Y_TRAIN, regressor=False, seed=5):
    """scikit-learn's estimator trained on the training rows one epoch at a time (no early
    stopping), from the same start: its fitted copy after each epoch.
    """
    import copy

    make = regressor_pair if regressor else classifier_pair
    sk, _ = make(seed=seed, **{**params, "early_stopping": False})
    states = []
    for _ in range(n_epochs):
        if regressor:
            sk.partial_fit(X, y)
        else:
            sk.partial_fit(X, y, classes=[0, 1])
        states.append(copy.deepcopy(sk))
    return states


def test_validation_loss_curve_and_the_val_loss_monitor_by_hand():
    # The held-out rows are 3 x0 (class 0) and 2 x1 (class 1): the validation log-loss
    # after each epoch is -(3 log(1 - p(x0)) + 2 log p(x1)) / 5, p from scikit-learn's
    # estimator trained epoch by epoch on the 15 training rows from the same start.
    tol, patience = 0.01, 2
    params = {**ES, "tol": tol, "n_iter_no_change": patience, "max_iter": 40}
    states = reference_epochs(40, params)
    losses = []
    for sk in states:
        p0, p1 = sk.predict_proba(np.array([X0, X1]))[:, 1]
        losses.append(-(3 * np.log(1 - p0) + 2 * np.log(p1)) / 5)
    # scikit-learn's patience rule on the score -loss.
    best, count, stop = -np.inf, 0, None
    for epoch, loss in enumerate(losses):
        count = count + 1 if -loss < best + tol else 0
        if -loss > best:
            best, best_epoch = -loss, epoch
        if count > patience:
            stop = epoch + 1
            break
    assert stop is not None and stop < 40
    _, ours = classifier_pair(**params)
    ours.set_params(early_stopping_monitor="val_loss")
    ours.fit(X_TWO, Y_TWO)
    assert ours.n_iter_ == stop
    np.testing.assert_allclose(ours.validation_loss_curve_, losses[:stop], rtol=1e-9)
    assert ours.best_validation_score_ == pytest.approx(best, rel=1e-9)
    assert_same_weights(states[best_epoch], ours)


def test_regressor_validation_scores_and_loss_as_scikit_learn():
    # Every row is the same (x, 2.0), so any split holds the same data. scikit-learn's r2
    # of a constant target is 0 unless the prediction is exact; the validation loss is the
    # half squared error 0.5 (f(x) - 2)^2 of scikit-learn's epoch-by-epoch fit.
    X = np.tile([0.5, -1.0], (10, 1))
    y = np.full(10, 2.0)
    params = dict(solver="sgd", momentum=0.0, learning_rate_init=0.01, early_stopping=True,
                  validation_fraction=0.2, max_iter=20, tol=1e-3, n_iter_no_change=2,
                  shuffle=False, random_state=0)
    sk, ours = regressor_pair(**params)
    sk.fit(X, y)
    ours.fit(X, y)
    assert sk.n_iter_ == 4 and sk.validation_scores_ == [0.0] * 4
    assert_same_early_stopping(sk, ours)
    states = reference_epochs(4, params, X[:8], y[:8], regressor=True, seed=0)
    expected = [0.5 * (s.predict(X[:1])[0] - 2.0) ** 2 for s in states]
    np.testing.assert_allclose(ours.validation_loss_curve_, expected, rtol=1e-9)


def test_adaptive_learning_rate_of_1e_6_stops_as_scikit_learns():
    # scikit-learn stops once the 'adaptive' rate is <= 1e-6 instead of dividing it again.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = X[:, 0]
    sk, ours = regressor_pair(solver="sgd", learning_rate="adaptive", learning_rate_init=1e-6,
                              tol=1e3, n_iter_no_change=1, max_iter=20, shuffle=False,
                              momentum=0.0)
    sk.fit(X, y)
    ours.fit(X, y)
    assert sk.n_iter_ == 3  # epoch 1 improves on inf, epochs 2 and 3 do not: stop
    assert ours.n_iter_ == sk.n_iter_
    assert ours.model_.optimizer.learning_rate == 1e-6
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL)


# -- lbfgs: max_fun, max_iter and tol reach SciPy as scikit-learn's do ----------------------


def fit_recording(est, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    return [w for w in caught if issubclass(w.category, ConvergenceWarning)]


@pytest.mark.parametrize("limits,converges", [
    (dict(max_fun=4), False),
    (dict(max_iter=3), False),
    (dict(tol=0.05), True),
])
def test_lbfgs_limits_and_warnings_match_scikit_learn(limits, converges):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    y = np.tanh(X[:, 0]) - 0.5 * X[:, 1]
    params = {**dict(solver="lbfgs", activation="tanh", alpha=0.01, max_iter=200), **limits}
    sk, ours = regressor_pair(n_features=3, **params)
    sk_warnings = fit_recording(sk, X, y)
    our_warnings = fit_recording(ours, X, y)
    assert ours.n_iter_ == sk.n_iter_ < 200
    assert ours.loss_ == pytest.approx(sk.loss_, rel=1e-9)
    assert_same_weights(sk, ours)
    assert len(sk_warnings) == len(our_warnings) == (0 if converges else 1)
    if not converges:
        # scikit-learn's message starts "lbfgs failed to converge after N iteration(s)
        # (status=1)"; glassnet's names the same count and status.
        prefix = f"lbfgs failed to converge after {sk.n_iter_} iteration(s) (status=1)"
        assert str(sk_warnings[0].message).startswith(prefix)
        assert str(our_warnings[0].message).startswith(prefix)


# -- stochastic solver warnings ----------------------------------------------------------------


def test_stochastic_convergence_warning_is_scikit_learns_and_only_at_max_iter():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = X[:, 0]
    params = dict(solver="adam", max_iter=3, shuffle=False, learning_rate_init=0.01)
    sk, ours = regressor_pair(**params)
    sk_warnings, our_warnings = fit_recording(sk, X, y), fit_recording(ours, X, y)
    assert [str(w.message) for w in our_warnings] == [str(w.message) for w in sk_warnings] == [
        "Stochastic Optimizer: Maximum iterations (3) reached and the optimization hasn't "
        "converged yet."]
    # Stopped by the tol rule before max_iter: no warning (tol=1e3: epoch 1 improves on
    # inf, 2 and 3 do not, n_iter_no_change=1: stop after epoch 3 of 5).
    sk, ours = regressor_pair(**{**params, "max_iter": 5, "tol": 1e3, "n_iter_no_change": 1})
    assert fit_recording(sk, X, y) == [] and sk.n_iter_ == 3
    assert fit_recording(ours, X, y) == [] and ours.n_iter_ == 3
    # Stopped by the tol rule at max_iter exactly: no warning either.
    sk, ours = regressor_pair(**{**params, "tol": 1e3, "n_iter_no_change": 1})
    assert fit_recording(sk, X, y) == [] and fit_recording(ours, X, y) == []
    # partial_fit is one epoch, never "max_iter reached", even with max_iter=1.
    reg = MLPRegressor(hidden_layer_sizes=(3,), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        reg.partial_fit(X, y)
        reg.partial_fit(X, y)
    assert reg.n_iter_ == 1 and reg.t_ == 24


@pytest.mark.parametrize("batch_size,warns", [(13, True), (12, False), (1, False)])
def test_batch_size_is_clipped_with_scikit_learns_warning(batch_size, warns):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = X[:, 0] - X[:, 1]
    params = dict(solver="sgd", momentum=0.0, learning_rate_init=0.05, max_iter=2,
                  shuffle=False, batch_size=batch_size)
    sk, ours = regressor_pair(**params)
    caught = {}
    for name, est in (("sk", sk), ("ours", ours)):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            est.fit(X, y)
        caught[name] = [str(w.message) for w in record
                        if not issubclass(w.category, ConvergenceWarning)]
    expected = ["Got `batch_size` less than 1 or larger than sample size. It is going to be "
                "clipped"] if warns else []
    assert caught["sk"] == caught["ours"] == expected
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL)
    assert_same_weights(sk, ours)


class InterruptAtTheEnd(gn.Callback):
    def on_train_end(self, logs=None):
        raise KeyboardInterrupt


def test_keyboard_interrupt_warns_as_scikit_learn_and_keeps_the_best_weights():
    # scikit-learn catches KeyboardInterrupt, warns "Training interrupted by user." and
    # still restores the best validation weights.
    sk, ours = classifier_pair(**{**ES, "tol": 0.0, "n_iter_no_change": 100, "max_iter": 8})
    sk.fit(X_TWO, Y_TWO)
    ours.set_params(callbacks=[InterruptAtTheEnd()])
    with pytest.warns(UserWarning, match=r"^Training interrupted by user\.$") as record:
        ours.fit(X_TWO, Y_TWO)
    assert len([w for w in record if "interrupted" in str(w.message)]) == 1
    assert_same_early_stopping(sk, ours)


def test_verbose_levels_show_what_the_docstring_says(capsys):
    # verbose=False is silent; True prints scikit-learn's "Iteration N, loss = ..." lines
    # (stdout) and nothing else; 2 adds a progress bar over the epochs (stderr), except
    # in partial_fit, which shows no bar.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = X[:, 0]
    outputs = {}
    for verbose in (False, True, 2):
        for method in ("fit", "partial_fit"):
            reg = MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, batch_size=6,
                               verbose=verbose, random_state=0)
            getattr(reg, method)(X, y)
            outputs[verbose, method] = capsys.readouterr()
    for method in ("fit", "partial_fit"):
        assert outputs[False, method].out == outputs[False, method].err == ""
        assert outputs[True, method].err == ""
    iterations = {"fit": 2, "partial_fit": 1}
    for verbose in (True, 2):
        for method, count in iterations.items():
            lines = [line for line in outputs[verbose, method].out.splitlines()
                     if line.startswith("Iteration ")]
            assert [line.split(",")[0] for line in lines] == \
                [f"Iteration {i}" for i in range(1, count + 1)]
    assert "2/2" in outputs[2, "fit"].err and outputs[2, "partial_fit"].err == ""


def test_partial_fit_refuses_early_stopping_with_scikit_learns_message():
    X, y = X_TWO, Y_TWO
    for est in (SkClassifier(early_stopping=True), MLPClassifier(early_stopping=True)):
        with pytest.raises(ValueError, match=r"^partial_fit does not support early_stopping=True$"):
            est.partial_fit(X, y, classes=[0, 1])


def test_warm_start_early_stopping_restores_the_best_weights_of_an_earlier_fit():
    # The first fit reaches accuracy 1.0 (its weights are scikit-learn's); the second
    # cannot beat it, so the best weights are still the first fit's, and they come back
    # even though the weights were changed in place in between (coefs_ are views).
    # scikit-learn 1.9 ends such a second fit on its last weights instead: after an
    # early-stopping fit its coefs_ *are* _best_coefs, so training moves the "best" too.
    sk, ours = classifier_pair(**{**ES, "tol": 0.0, "n_iter_no_change": 100, "max_iter": 10,
                                  "warm_start": True})
    sk.fit(X_TWO, Y_TWO)
    ours.fit(X_TWO, Y_TWO)
    assert sk.best_validation_score_ == ours.best_validation_score_ == 1.0
    assert_same_weights(sk, ours)
    best = [W.copy() for W in sk.coefs_], [b.copy() for b in sk.intercepts_]
    ours.coefs_[0][...] = 0.0
    ours.set_params(max_iter=3)
    ours.fit(X_TWO, Y_TWO)
    assert len(ours.validation_scores_) == 13 and ours.best_validation_score_ == 1.0
    for mine, theirs in zip([*ours.coefs_, *ours.intercepts_], [*best[0], *best[1]],
                            strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=ATOL)


def test_auto_batch_size_is_200_rows_as_scikit_learns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(230, 2))
    y = X[:, 0] * X[:, 1]
    sk, ours = regressor_pair(solver="sgd", momentum=0.0, learning_rate_init=0.05, max_iter=2,
                              shuffle=False)
    sk.fit(X, y)
    ours.fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL)
    assert_same_weights(sk, ours)


def test_shuffle_true_changes_the_batches_and_shuffle_false_keeps_them():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 2))
    y = X[:, 0] - X[:, 1]
    params = dict(solver="sgd", momentum=0.0, learning_rate_init=0.1, max_iter=3,
                  batch_size=4, random_state=0)
    sk, ours = regressor_pair(**params, shuffle=False)
    sk.fit(X, y)
    ours.fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL)
    # Shuffled batches (in another order than the fixed one) give another trajectory.
    _, shuffled = regressor_pair(**params, shuffle=True)
    shuffled.fit(X, y)
    assert np.abs(np.array(shuffled.loss_curve_[1:]) - sk.loss_curve_[1:]).max() > 1e-6


def test_lbfgs_minimizes_the_deterministic_objective_with_dropout_off():
    # L-BFGS needs one fixed objective: glassnet evaluates it with dropout off (in
    # inference mode), so a dropout rate changes nothing and the fit is scikit-learn's.
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    y = np.tanh(X[:, 0]) - 0.5 * X[:, 1]
    params = dict(solver="lbfgs", activation="tanh", alpha=0.01, max_iter=8)
    sk, ours = regressor_pair(n_features=3, **params)
    ours.set_params(dropout=0.5)
    sk.fit(X, y)
    ours.fit(X, y)
    assert ours.n_iter_ == sk.n_iter_ == 8
    assert ours.loss_ == pytest.approx(sk.loss_, rel=1e-9)
    assert_same_weights(sk, ours)


def test_lbfgs_convergence_warning_text():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    y = np.tanh(X[:, 0]) - 0.5 * X[:, 1]
    reg = MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=2, random_state=0)
    caught = fit_recording(reg, X, y)
    assert len(caught) == 1
    assert re.fullmatch(r"lbfgs failed to converge after 2 iteration\(s\) \(status=1\): .+\. "
                        r"Increase max_iter or max_fun, or scale the data\.",
                        str(caught[0].message), flags=re.DOTALL)


def test_a_training_loss_that_stays_equal_is_no_improvement_only_with_tol():
    # A learning rate so small that no weight moves (1e-30 * gradient is below the
    # rounding of weights ~0.5): every epoch has exactly the first epoch's loss. With
    # tol=0 that is not "no improvement" (loss > best - 0 fails), so, as in
    # scikit-learn, it runs to max_iter; any tol > 0 stops it after n_iter_no_change + 1.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = X[:, 0]
    for tol, stops_at in ((0.0, 6), (1e-12, 3)):
        sk, ours = regressor_pair(solver="sgd", momentum=0.0, learning_rate_init=1e-30,
                                  tol=tol, n_iter_no_change=1, max_iter=6, shuffle=False)
        sk.fit(X, y)
        ours.fit(X, y)
        assert len(set(sk.loss_curve_)) == 1
        assert sk.n_iter_ == ours.n_iter_ == stops_at
        assert ours.loss_curve_ == pytest.approx(sk.loss_curve_, rel=RTOL)


def test_history_says_why_the_estimator_stopped():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = X[:, 0]
    params = dict(hidden_layer_sizes=(3,), max_iter=5, random_state=0)
    stalled = MLPRegressor(tol=1e3, n_iter_no_change=1, **params).fit(X, y)
    assert stalled.n_iter_ == 3
    assert stalled.history_.stop_reason == ("no improvement of more than tol=1000.0 for 1 "
                                            "consecutive epochs")
    ran = MLPRegressor(**params).fit(X, y)
    assert ran.history_.stop_reason == "completed 5 epochs"


def test_early_stopping_split_is_seeded_by_random_state():
    # Distinct rows: which ones are held out shows in validation_scores_ and the weights.
    # The same random_state gives the same split (and fit), as in scikit-learn; another
    # random_state another split.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = (X[:, 0] + 0.5 * rng.normal(size=40) > 0).astype(int)
    params = dict(hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=0.1,
                  early_stopping=True, validation_fraction=0.3, n_iter_no_change=100,
                  max_iter=5, shuffle=False)
    fits = [MLPClassifier(**params, random_state=seed).fit(X, y) for seed in (1, 1, 2)]
    assert fits[0].validation_scores_ == fits[1].validation_scores_
    np.testing.assert_array_equal(fits[0].coefs_[0], fits[1].coefs_[0])
    assert fits[0].loss_curve_ != fits[2].loss_curve_


# -- estimators.py: targets, class weights, tags ---------------------------------------------


def test_class_weight_multiplies_sample_weight_as_scikit_learns_sample_weight():
    # class_weight is glassnet's; its meaning is scikit-learn's compute_sample_weight
    # multiplied into sample_weight, which scikit-learn's MLP takes as is.
    from sklearn.utils.class_weight import compute_sample_weight

    rng = np.random.default_rng(2)
    X = rng.normal(size=(16, 2))
    y = np.r_[np.zeros(11, int), np.ones(5, int)]
    w = rng.uniform(0.5, 2.0, len(y))
    params = dict(solver="sgd", momentum=0.0, learning_rate_init=0.1, max_iter=3,
                  shuffle=False, batch_size=4, activation="tanh")
    for class_weight, sample_weight in (("balanced", w), ({0: 1.0, 1: 4.0}, w),
                                        ("balanced", None)):
        sk, ours = classifier_pair(**params)
        ours.set_params(class_weight=class_weight)
        weights = compute_sample_weight(class_weight, y)
        sk.fit(X, y, sample_weight=weights if sample_weight is None else weights * w)
        ours.fit(X, y, sample_weight=sample_weight)
        np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL)
        assert_same_weights(sk, ours)


def test_multilabel_validation_split_is_not_stratified_as_in_scikit_learn():
    # scikit-learn stratifies binary targets only ("don't stratify in multilabel
    # classification"). Two distinct rows with label sets {0} (12 copies) and {1} (8):
    # from one start, the first validation score depends on how many of each the random
    # split held out, so it varies with random_state, in both libraries; a split
    # stratified on the label sets would hold out 3 and 2 every time.
    Y = np.c_[1 - Y_TWO, Y_TWO]
    firsts = {"sk": set(), "ours": set()}
    for random_state in range(8):
        sk, ours = start_alike(
            SkClassifier(hidden_layer_sizes=(3,), **{**ES, "random_state": random_state,
                                                     "max_iter": 1}),
            MLPClassifier(hidden_layer_sizes=(3,), **{**ES, "random_state": random_state,
                                                      "max_iter": 1}),
            [2, 3, 2], seed=5)
        sk.fit(X_TWO, Y)
        ours.fit(X_TWO, Y)
        firsts["sk"].add(round(sk.validation_scores_[0], 6))
        firsts["ours"].add(round(ours.validation_scores_[0], 6))
        assert ours.predict(X_TWO).shape == sk.predict(X_TWO).shape == (20, 2)
    assert len(firsts["sk"]) > 1 and len(firsts["ours"]) > 1


def test_a_column_vector_y_warns_and_is_raveled_as_in_scikit_learn():
    from sklearn.exceptions import DataConversionWarning

    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    targets = {"classifier": (X[:, 0] > 0).astype(int), "regressor": X[:, 0] - X[:, 1]}
    for kind, y in targets.items():
        make = classifier_pair if kind == "classifier" else regressor_pair
        sk, ours = make(solver="sgd", momentum=0.0, learning_rate_init=0.1, max_iter=2,
                        shuffle=False)
        for est in (sk, ours):
            with pytest.warns(DataConversionWarning, match="A column-vector y was passed"):
                est.fit(X, y.reshape(-1, 1))
        assert ours.n_outputs_ == sk.n_outputs_ == 1
        np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL)
        assert ours.predict(X).shape == sk.predict(X).shape == (12,)


def test_target_messages():
    X = np.random.default_rng(0).normal(size=(6, 2))
    with pytest.raises(ValueError, match=r"^loss='poisson' requires non-negative y, got a "
                                         r"minimum of -1\.0\.$"):
        MLPRegressor(loss="poisson").fit(X, [0.0, 1.0, 2.0, -1.0, 0.0, 1.0])
    # Zero counts are allowed (scikit-learn's Poisson loss takes y >= 0).
    sk, ours = regressor_pair(loss="poisson", solver="sgd", momentum=0.0, max_iter=2,
                              learning_rate_init=0.01, shuffle=False)
    y = np.array([0.0, 0.0, 1.0, 0.0, 2.0, 0.0])
    sk.fit(X, y)
    ours.fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL)


def test_warm_start_with_other_classes_raises_scikit_learns_message():
    X = np.random.default_rng(0).normal(size=(12, 2))
    y = np.arange(12) % 3
    messages = []
    for Est in (SkClassifier, MLPClassifier):
        est = Est(hidden_layer_sizes=(3,), warm_start=True, max_iter=2).fit(X, y)
        with pytest.raises(ValueError) as error:
            est.fit(X, y % 2)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert messages[1].startswith("warm_start can only be used where `y` has the same classes")


def test_estimator_tags():
    from sklearn.linear_model import PoissonRegressor
    from sklearn.utils import get_tags

    # Multilabel targets are supported, as scikit-learn's MLPClassifier declares.
    assert get_tags(MLPClassifier()).classifier_tags.multi_label is True
    assert get_tags(SkClassifier()).classifier_tags.multi_label is True
    # A Poisson loss needs y >= 0, as scikit-learn's PoissonRegressor declares (its
    # MLPRegressor does not say so); the squared error takes any y.
    assert get_tags(PoissonRegressor()).target_tags.positive_only is True
    assert get_tags(MLPRegressor(loss="poisson")).target_tags.positive_only is True
    assert get_tags(MLPRegressor()).target_tags.positive_only is False
    assert get_tags(MLPRegressor()).input_tags.sparse is True


def test_partial_fit_of_lbfgs_is_missing_for_scikit_learns_reason():
    # scikit-learn's available_if hides partial_fit, its reason in the chained error;
    # glassnet's AttributeError says that reason itself (hasattr is False for both).
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as error:
        SkClassifier(solver="lbfgs").partial_fit(X_TWO, Y_TWO, classes=[0, 1])
    reason = str(error.value.__cause__)
    assert reason == "partial_fit is only available for stochastic optimizers. lbfgs is not " \
        "stochastic."
    for Est in (MLPClassifier, MLPRegressor):
        assert not hasattr(Est(solver="lbfgs"), "partial_fit")
        with pytest.raises(AttributeError) as error:
            Est(solver="lbfgs").partial_fit(X_TWO, Y_TWO)
        assert str(error.value) == reason


def test_penalty_is_divided_by_the_batch_weight_sum_even_below_one():
    # Weights of 0.05: every batch of 4 weighs 0.2, and the L2 term is
    # alpha / (2 * 0.2) * sum ||W||^2 (scikit-learn's), not skipped or divided by 4.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = X[:, 0] - X[:, 1]
    w = np.full(12, 0.05)
    sk, ours = regressor_pair(solver="sgd", momentum=0.0, learning_rate_init=0.05, alpha=0.3,
                              max_iter=2, shuffle=False, batch_size=4)
    sk.fit(X, y, sample_weight=w)
    ours.fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL)
    assert_same_weights(sk, ours)


def test_predicting_nan_is_refused_with_scikit_learns_message_start():
    X = np.random.default_rng(0).normal(size=(12, 2))
    y = X[:, 0]
    bad = X.copy()
    bad[3, 1] = np.nan
    for Est in (SkRegressor, MLPRegressor):
        est = Est(hidden_layer_sizes=(3,), max_iter=2).fit(X, y)
        with pytest.raises(ValueError, match="^Input X contains NaN"):
            est.predict(bad)


def test_a_batch_of_zero_weights_changes_nothing():
    # Plain SGD, batches of 4 in order, the first batch weighted 0: no data gradient and
    # no L2 term for it (its weight sum is 0), so the weights are those of scikit-learn
    # trained on the other rows alone. (scikit-learn itself raises ZeroDivisionError on
    # such a batch.)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = X[:, 0] - X[:, 1]
    w = np.r_[np.zeros(4), np.ones(8)]
    params = dict(solver="sgd", momentum=0.0, learning_rate_init=0.05, alpha=0.1, max_iter=3,
                  shuffle=False, batch_size=4)
    sk, ours = regressor_pair(**params)
    sk.fit(X[4:], y[4:])
    ours.fit(X, y, sample_weight=w)
    assert_same_weights(sk, ours)


def test_hidden_layer_sizes_are_checked_as_scikit_learns():
    X = np.random.default_rng(0).normal(size=(6, 2))
    y = np.array([0, 1] * 3)
    for Est in (SkClassifier, MLPClassifier):
        with pytest.raises(ValueError, match=r"^hidden_layer_sizes must be > 0, got \[3, 0\]\.$"):
            Est(hidden_layer_sizes=[3, 0]).fit(X, y)
    # One unit is a valid layer.
    sk, ours = classifier_pair(hidden=(1,), solver="sgd", momentum=0.0, max_iter=2,
                               shuffle=False, learning_rate_init=0.1)
    sk.fit(X, y)
    ours.fit(X, y)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL)


@pytest.mark.parametrize("params,message", [
    (dict(activation=["tanh", "relu"]), "activation has 2 entries but hidden_layer_sizes has "
                                        "3 layers; give one per hidden layer or a single value."),
    (dict(dropout=[0.1, 0.2]), "dropout has 2 entries but hidden_layer_sizes has 3 layers; "
                               "give one per hidden layer or a single value."),
    (dict(activation=["tanh", "swish", "relu"]),
     "activation entries must be one of ['identity', 'leaky_relu', 'logistic', 'relu', "
     "'tanh'], got 'swish'."),
    (dict(dropout=[0.2, 1.0, 0.0]), "dropout rates must be in [0, 1), got 1.0."),
    (dict(dropout=[0.2, "a", 0.0]), "dropout rates must be in [0, 1), got 'a'."),
])
def test_per_layer_lists_are_checked(params, message):
    X = np.random.default_rng(0).normal(size=(6, 2))
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        MLPRegressor(hidden_layer_sizes=(3, 3, 3), **params).fit(X, X[:, 0])


def test_partial_fit_in_float64_goes_on_with_a_float32_network():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = X[:, 0]
    first, second = (MLPRegressor(hidden_layer_sizes=(3,), random_state=0) for _ in range(2))
    first.partial_fit(X.astype(np.float32), y)
    second.partial_fit(X.astype(np.float32), y)
    first.partial_fit(X, y)
    second.partial_fit(X.astype(np.float32), y)
    assert first.coefs_[0].dtype == np.float32
    np.testing.assert_array_equal(first.coefs_[0], second.coefs_[0])
    assert first.loss_curve_ == second.loss_curve_


def test_integer_features_are_converted_to_float64_as_in_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.integers(-3, 4, size=(12, 2))
    targets = {"classifier": np.arange(12) % 2, "regressor": X[:, 0] - 0.5 * X[:, 1]}
    for kind, y in targets.items():
        make = classifier_pair if kind == "classifier" else regressor_pair
        sk, ours = make(solver="sgd", momentum=0.0, learning_rate_init=0.05, max_iter=2,
                        shuffle=False)
        sk.fit(X, y)
        ours.fit(X, y)
        assert ours.coefs_[0].dtype == np.float64
        np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL)
        np.testing.assert_allclose(ours.predict(X), sk.predict(X), rtol=1e-10)


def test_a_later_partial_fit_checks_the_number_of_features_as_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = np.arange(12) % 2
    for Sk, Gn in ((SkClassifier, MLPClassifier), (SkRegressor, MLPRegressor)):
        for Est in (Sk, Gn):
            est = Est(hidden_layer_sizes=(3,))
            if Sk is SkClassifier:
                est.partial_fit(X, y, classes=[0, 1])
            else:
                est.partial_fit(X, y)
            with pytest.raises(ValueError, match=f"^X has 3 features, but {Sk.__name__} is "
                                                 "expecting 2 features as input"):
                est.partial_fit(np.c_[X, X[:, 0]], y)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_features_train_as_dense_ones_in_scikit_learn(fmt):
    import scipy.sparse as sparse

    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3)) * (rng.random((12, 3)) < 0.5)
    y = X[:, 0] - X[:, 1]
    sk, ours = regressor_pair(n_features=3, solver="sgd", momentum=0.0,
                              learning_rate_init=0.05, max_iter=2, shuffle=False)
    sk.fit(X, y)
    ours.fit({"csr": sparse.csr_matrix, "csc": sparse.csc_matrix}[fmt](X), y)
    np.testing.assert_allclose(ours.loss_curve_, sk.loss_curve_, rtol=RTOL)
    np.testing.assert_allclose(ours.predict(sparse.csr_matrix(X)), sk.predict(X), rtol=1e-10)
