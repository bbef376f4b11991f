"""The estimators in scikit-learn's Dask ecosystem: dask-ml's ``Incremental`` over
``partial_fit``, ``GridSearchCV`` under joblib's Dask backend, and Dask arrays and
dataframes in ``fit`` and ``predict`` (out of core, through the network's Dask source),
each compared with the same estimator on the same data in NumPy.

dask-ml 2025.1 itself breaks, with scikit-learn's own SGD estimators as with these, in three
paths (with scikit-learn 1.9 and dask 2026.8): its Dask scorers ``neg_log_loss``
(``log_loss() got an unexpected keyword argument 'needs_proba'``) and ``r2``, the default of
a regressor (``cannot broadcast shape (nan,) to shape (nan,)``), and ``IncrementalSearchCV``
(``Attempting to use an asynchronous Client in a synchronous context``). What works:
``scoring="accuracy"`` on Dask arrays, and any score on NumPy arrays (scikit-learn's scorer),
as ``test_incremental_regressor_scores_on_numpy`` does."""

import pickle
import warnings
from copy import deepcopy

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pytest.importorskip("dask_ml")

import joblib  # noqa: E402
import pandas as pd  # noqa: E402
from dask_ml.wrappers import Incremental  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.metrics import accuracy_score, r2_score  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from glassnet import MLPClassifier, MLPRegressor  # noqa: E402

KW = {"hidden_layer_sizes": (8,), "random_state": 0, "batch_size": 50, "max_iter": 4,
      "shuffle": False}


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       protocol="tcp://", dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(300, 5, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=0)
    return X, y


def _same_weights(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.coefs_ + a.intercepts_,
                                                    b.coefs_ + b.intercepts_))


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits
        return fn()


def test_incremental_is_partial_fit_chunk_by_chunk(client, data):
    X, y = data
    Xd, yd = da.from_array(X, chunks=100), da.from_array(y, chunks=100)
    est = MLPClassifier((8,), random_state=0, batch_size=32)
    inc = Incremental(est, scoring="accuracy", shuffle_blocks=False)
    inc.fit(Xd, yd, classes=[0, 1, 2])
    ref = MLPClassifier((8,), random_state=0, batch_size=32)
    for start in range(0, 300, 100):
        ref.partial_fit(X[start : start + 100], y[start : start + 100], classes=[0, 1, 2])
    assert _same_weights(inc.estimator_, ref)  # exact: same order, same seed, float64
    assert inc.estimator_.loss_curve_ == ref.loss_curve_ and len(ref.loss_curve_) == 3
    assert inc.estimator_.t_ == ref.t_ == 300
    # the fitted attributes are plain ones, copied onto the wrapper
    assert list(inc.classes_) == [0, 1, 2] and inc.n_features_in_ == 5
    assert all(np.array_equal(a, b) for a, b in zip(inc.coefs_, ref.coefs_))
    predicted = inc.predict(Xd)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), ref.predict(X))
    assert inc.score(Xd, yd) == pytest.approx(accuracy_score(y, ref.predict(X)))
    # partial_fit of the wrapper goes on from the fitted estimator
    inc.partial_fit(Xd, yd, classes=[0, 1, 2])
    assert len(inc.estimator_.loss_curve_) == 6


def test_incremental_regressor_scores_on_numpy(client, data):
    X, _ = data
    y = X @ np.arange(5.0)
    inc = Incremental(MLPRegressor(hidden_layer_sizes=(8,), random_state=0), shuffle_blocks=False)
    inc.fit(da.from_array(X, chunks=100), da.from_array(y, chunks=100))
    ref = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    for start in range(0, 300, 100):
        ref.partial_fit(X[start : start + 100], y[start : start + 100])
    assert _same_weights(inc.estimator_, ref)
    assert inc.score(X, y) == pytest.approx(r2_score(y, ref.predict(X)), rel=1e-12)


def test_coefs_are_plain_attributes_bound_to_the_network_after_pickling(data):
    X, y = data
    est = MLPClassifier((4,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    assert {"coefs_", "intercepts_", "model_"} <= set(vars(est))
    for copy in (pickle.loads(pickle.dumps(est)), deepcopy(est)):
        copy.partial_fit(X, y)  # trains copy.model_: its coefs_ must follow
        assert not np.array_equal(copy.coefs_[0], est.coefs_[0])
        W, b = copy.model_.layers[0].W, copy.model_.layers[0].b
        assert np.shares_memory(copy.coefs_[0], W) and np.shares_memory(copy.intercepts_[0], b)


def test_grid_search_under_joblib_dask_backend(client, data):
    X, y = data
    grid = {"alpha": [1e-4, 1e-1], "hidden_layer_sizes": [(4,), (8,)]}
    est = MLPClassifier(max_iter=15, random_state=0)
    ref = _quiet(lambda: GridSearchCV(est, grid, cv=3).fit(X, y))
    with joblib.parallel_backend("dask"), distributed.get_task_stream(client) as tasks:
        search = _quiet(lambda: GridSearchCV(est, grid, cv=3, n_jobs=-1).fit(X, y))
    assert tasks.data  # the fits ran on the cluster's workers
    assert search.best_params_ == ref.best_params_
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  ref.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(search.predict(X), ref.predict(X))


@pytest.mark.parametrize("kind", ["multiclass", "binary", "regression"])
def test_fit_and_predict_dask_arrays_as_numpy(client, data, kind, monkeypatch):
    X, y = data
    cls = MLPRegressor if kind == "regression" else MLPClassifier
    y = {"multiclass": y, "binary": (y > 0).astype(int), "regression": X @ np.arange(5.0)}[kind]
    Xd, yd = da.from_array(X, chunks=70), da.from_array(y, chunks=70)
    # out of core: nothing converts the whole of X to NumPy (scikit-learn's check_array would)
    monkeypatch.setattr(da.Array, "__array__", lambda *a, **k: pytest.fail("X computed whole"))
    est = _quiet(lambda: cls(**KW).fit(Xd, yd))
    monkeypatch.undo()
    ref = _quiet(lambda: cls(**KW).fit(X, y))
    assert _same_weights(est, ref) and est.loss_curve_ == ref.loss_curve_
    # block by block: equal up to BLAS's rounding for other row counts
    close = {"rtol": 1e-12, "atol": 1e-14}
    predicted = est.predict(Xd)
    assert isinstance(predicted, da.Array) and predicted.chunks[0] == Xd.chunks[0]
    if cls is MLPRegressor:
        np.testing.assert_allclose(predicted.compute(), ref.predict(X), **close)
        return
    np.testing.assert_array_equal(predicted.compute(), ref.predict(X))
    proba = est.predict_proba(Xd)
    assert isinstance(proba, da.Array) and proba.shape == (300, len(ref.classes_))
    np.testing.assert_allclose(proba.compute(), ref.predict_proba(X), **close)
    np.testing.assert_allclose(est.predict_log_proba(Xd).compute(), ref.predict_log_proba(X),
                               **close)


def test_partial_fit_labels_and_weights_from_dask(client, data):
    X, y = data
    labels = np.array(["cat", "dog", "eel"])[y]
    w = np.linspace(0.5, 2.0, 300)
    Xd, yd, wd = (da.from_array(a, chunks=c) for a, c in ((X, 100), (labels, 60), (w, 50)))
    est, ref = MLPClassifier(**KW), MLPClassifier(**KW)
    for _ in range(2):
        est.partial_fit(Xd, yd, sample_weight=wd, classes=["cat", "dog", "eel"])
        ref.partial_fit(X, labels, sample_weight=w, classes=["cat", "dog", "eel"])
    assert _same_weights(est, ref) and est.loss_curve_ == ref.loss_curve_
    np.testing.assert_array_equal(est.predict(Xd).compute(), ref.predict(X))
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        est.partial_fit(Xd, da.from_array(np.array(["cat", "fox"] * 150), chunks=100))


def test_dask_dataframe_keeps_feature_names(client, data):
    X, y = data
    frame = pd.DataFrame(X, columns=list("abcde"))
    ddf = dd.from_pandas(frame, npartitions=3)
    est = _quiet(lambda: MLPClassifier(**KW).fit(ddf, dd.from_pandas(pd.Series(y), npartitions=3)))
    ref = _quiet(lambda: MLPClassifier(**KW).fit(frame, y))
    assert list(est.feature_names_in_) == list(ref.feature_names_in_) == list("abcde")
    assert _same_weights(est, ref)
    np.testing.assert_array_equal(est.predict(ddf).compute(), ref.predict(frame))
    with pytest.raises(ValueError, match="feature names"):
        est.predict(ddf.rename(columns={"a": "z"}))


def test_early_stopping_validates_on_the_last_chunks(client, data):
    X, y = data
    kw = dict(KW, max_iter=5, n_iter_no_change=100)
    est = _quiet(lambda: MLPClassifier(**kw, early_stopping=True, validation_fraction=1 / 3)
                 .fit(da.from_array(X, chunks=100), da.from_array(y, chunks=100)))
    # the reference: epoch by epoch on the first two chunks, scored on the last one
    ref, scores = MLPClassifier(**kw), []
    for _ in range(5):
        ref.partial_fit(X[:200], y[:200], classes=[0, 1, 2])
        scores.append(ref.score(X[200:], y[200:]))
    assert est.validation_scores_ == pytest.approx(scores, abs=1e-12)
    assert est.t_ == 5 * 200 and est.best_validation_score_ == max(scores)


def test_dask_input_errors_are_one_line(data):
    X, y = data
    Xd, yd = da.from_array(X, chunks=100), da.from_array(y, chunks=100)
    cases = [
        (MLPClassifier(solver="lbfgs"), (Xd, yd), "solver='lbfgs' needs all of X"),
        (MLPClassifier(class_weight="balanced"), (Xd, yd), "class_weight needs y in memory"),
        (MLPClassifier(), (da.ones((10, 2, 2)), da.ones(10)), "Expected a 2-D Dask array"),
        (MLPClassifier(), (Xd, yd[:50]), r"y must have one row per sample of X \(300\)"),
        (MLPClassifier(), (Xd, da.ones((300, 2), chunks=100)), "one class label per sample"),
        (MLPRegressor(), (Xd.astype(str), yd), "X must be numeric"),
    ]
    for est, args, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            est.fit(*args)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=r"validation_fraction=0.1 of X's chunks .* has 1 ch"):
        MLPClassifier(early_stopping=True).fit(Xd.rechunk(300), yd)
    fitted = _quiet(lambda: MLPClassifier(**KW).fit(Xd[:, :3], yd))
    with pytest.raises(ValueError, match="X has 5 features, but MLPClassifier is expecting 3"):
        fitted.predict(Xd)
