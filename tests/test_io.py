"""The .glassnet file: round trips, exact resume, checkpoints, Ctrl-C and divergence in fit."""

import json
import os
import signal
import warnings
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet.io import ModelFileError


def data(n=80, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def make_net(optimizer="adam", dropout=0.2, dtype="float32", seed=0):
    return gn.Sequential(
        [gn.Dense(8, activation="relu"), gn.Dropout(dropout), gn.Dense(6), gn.Tanh(),
         gn.Dense(2), gn.Softmax()],
        optimizer=optimizer, random_state=seed, dtype=dtype,
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", [
    "adam", "sgd", gn.SGD(0.05, momentum=0.9, nesterov=True), gn.RMSprop(momentum=0.5),
    gn.AdamW(gn.ExponentialDecay(0.01, 10, 0.5)),
])
def test_round_trip_predicts_bit_identically_and_resumes_exactly(tmp_path, optimizer, dtype):
    import copy

    X, y = data()
    a = make_net(copy.deepcopy(optimizer), dtype=dtype)
    b = make_net(copy.deepcopy(optimizer), dtype=dtype)
    a.fit(X, y, epochs=5, batch_size=16, verbose=0)
    b.fit(X, y, epochs=3, batch_size=16, verbose=0)
    path = tmp_path / "net.glassnet"
    gn.save(b, path)
    c = gn.load(path)
    assert np.array_equal(c.predict(X), b.predict(X))
    assert c.dtype == b.dtype and c.parameter_names() == b.parameter_names()
    assert c.optimizer.get_config() == b.optimizer.get_config()
    assert c.optimizer.iterations == b.optimizer.iterations
    c.fit(X, y, epochs=2, batch_size=16, verbose=0)
    # 3 epochs, save, load, 2 more == 5 epochs straight: same bits.
    assert np.array_equal(c._params, a._params)


def test_model_save_method_and_file_layout(tmp_path):
    X, y = data()
    net = make_net()
    net.fit(X, y, epochs=1, verbose=0)
    path = tmp_path / "m.glassnet"
    net.save(path)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["config.json", "weights.npz", "optimizer.npz"]
        config = json.loads(zf.read("config.json"))
    assert config["format"] == "glassnet" and config["format_version"] == 1
    assert config["glassnet_version"] == gn.__version__ and config["kind"] == "Sequential"
    assert config["network"]["input_shape"] == [4]
    assert [w[0] for w in config["weights"]] == net.parameter_names()
    assert config["training"]["epochs_done"] == 1
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]  # no temp file left


def test_save_refuses_unbuilt_network_and_directories(tmp_path):
    with pytest.raises(ValueError, match="not built"):
        gn.save(make_net(), tmp_path / "x.glassnet")
    net = make_net().build(4)
    with pytest.raises(ModelFileError, match="directory"):
        gn.save(net, tmp_path)
    with pytest.raises(TypeError, match="Sequential"):
        gn.save(object(), tmp_path / "x.glassnet")


def test_failed_save_leaves_previous_file(tmp_path, monkeypatch):
    net = make_net().build(4)
    path = tmp_path / "m.glassnet"
    net.save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        net.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.glassnet"]


def test_model_file_error_is_a_value_error_and_exported():
    assert issubclass(gn.ModelFileError, ValueError)
    assert gn.ModelFileError is ModelFileError


def test_newer_format_version_is_refused_with_upgrade_hint(tmp_path):
    net = make_net().build(4)
    path = tmp_path / "m.glassnet"
    net.save(path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    config["format_version"] = 99
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    with pytest.raises(ModelFileError, match="version 99.*Upgrade glassnet"):
        gn.load(path)


# -- Checkpoint and resume_from ---------------------------------------------------------


def test_checkpoint_writes_latest_and_best_and_resume_is_exact(tmp_path):
    X, y = data(100)
    path = tmp_path / "ckpt.glassnet"
    straight = make_net()
    straight.fit(X, y, epochs=6, batch_size=16, validation_split=0.2, verbose=0)
    first = make_net()
    cp = gn.Checkpoint(path)
    first.fit(X, y, epochs=4, batch_size=16, validation_split=0.2, callbacks=[cp], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.best.glassnet", "ckpt.glassnet"]
    assert cp.best_path == str(tmp_path / "ckpt.best.glassnet")
    assert gn.load(path).epochs_done == 4
    best = gn.load(cp.best_path)
    val = X[80:], y[80:]
    assert best.evaluate(*val)["loss"] == pytest.approx(min(first.history.history["val_loss"]))
    resumed = make_net()  # a fresh process would start here
    history = resumed.fit(X, y, epochs=6, batch_size=16, validation_split=0.2, verbose=0,
                          resume_from=path)
    assert history.epoch == [4, 5]
    assert np.array_equal(resumed._params, straight._params)


def test_checkpoint_every_and_options(tmp_path):
    X, y = data()
    net = make_net()
    cp = gn.Checkpoint(tmp_path / "c.glassnet", every=3, keep_best=False)
    net.fit(X, y, epochs=4, verbose=0, callbacks=[cp])
    assert os.listdir(tmp_path) == ["c.glassnet"]  # saved at epoch 3 and at the end
    assert gn.load(tmp_path / "c.glassnet").epochs_done == 4
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        gn.Checkpoint(tmp_path / "c.glassnet", every=0)
    with pytest.raises(ValueError, match="directory"):
        gn.Checkpoint(tmp_path)


def test_resume_from_refuses_another_network_and_bad_files(tmp_path):
    X, y = data()
    path = tmp_path / "m.glassnet"
    make_net().fit(X, y, epochs=1, verbose=0)
    net = make_net()
    net.fit(X, y, epochs=1, verbose=0)
    net.save(path)
    other = gn.Sequential([gn.Dense(3, activation="relu"), gn.Dense(2), gn.Softmax()])
    with pytest.raises(ValueError, match="different network"):
        other.fit(X, y, epochs=2, verbose=0, resume_from=path)
    with pytest.raises(ModelFileError, match="resume_from=.*No model file"):
        make_net().fit(X, y, epochs=2, verbose=0, resume_from=tmp_path / "missing.glassnet")


def test_resume_when_already_done_trains_nothing(tmp_path):
    X, y = data()
    net = make_net()
    net.fit(X, y, epochs=3, verbose=0)
    net.save(tmp_path / "m.glassnet")
    again = make_net()
    history = again.fit(X, y, epochs=3, verbose=0, resume_from=tmp_path / "m.glassnet")
    assert history.epoch == [] and "already trained 3 epochs" in history.stop_reason
    assert np.array_equal(again._params, net._params)


# -- Ctrl-C (in process: the handler, not a subprocess) --------------------------------------


class SendSigint(gn.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture
def default_sigint(monkeypatch):
    """Python's own Ctrl-C handler for the test, whatever pytest started with: under
    ``nohup`` or ``trap '' INT`` SIGINT is ignored, and fit (rightly) leaves it ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_fit_leaves_an_ignored_sigint_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        X, y = data()
        history = make_net().fit(X, y, epochs=3, batch_size=16, verbose=0,
                                 callbacks=[SendSigint(1, 0)])
        assert not history.interrupted and len(history.epoch) == 3
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_stops_after_the_batch_keeps_best_weights_and_warns_once():
    X, y = data(120)
    net = make_net()
    keeper = []

    class Keep(gn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            keeper.append((logs["val_loss"], self.model._params.copy()))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(X, y, epochs=50, batch_size=16, validation_split=0.25, verbose=0,
                          callbacks=[Keep(), SendSigint(4, 2)])
    assert history.interrupted and len(history.epoch) == 4
    assert "interrupted (Ctrl-C) during epoch 5, batch 3" in history.stop_reason
    best_loss, best_params = min(keeper, key=lambda t: t[0])
    assert np.array_equal(net._params, best_params)
    assert [str(w.message) for w in caught].count(f"Training {history.stop_reason}.") == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_without_validation_keeps_last_weights():
    X, y = data()
    net = make_net()
    with pytest.warns(RuntimeWarning, match="keeps the last weights"):
        history = net.fit(X, y, epochs=50, batch_size=16, verbose=0,
                          callbacks=[SendSigint(1, 0)])
    assert history.interrupted and np.isfinite(net._params).all()


# -- divergence ------------------------------------------------------------------------------


def diverging():
    X, _ = data()
    y = X[:, 0] * 1e6
    net = gn.Sequential([gn.Dense(1)], loss="mse", optimizer=gn.SGD(10.0), random_state=0)
    return net, X * 100, y


def test_divergence_raises_by_default_and_keeps_finite_weights():
    net, X, y = diverging()
    with pytest.raises(gn.DivergenceError, match="loss became (inf|nan).*learning_rate=10"):
        net.fit(X, y, epochs=100, verbose=0)
    assert issubclass(gn.DivergenceError, ValueError)
    assert np.isfinite(net._params).all()
    assert "diverged" in net.history.stop_reason


def test_divergence_warn_returns_with_finite_weights():
    net, X, y = diverging()
    with pytest.warns(RuntimeWarning, match="Training diverged"):
        history = net.fit(X, y, epochs=100, verbose=0, on_divergence="warn")
    assert np.isfinite(net._params).all() and "diverged" in history.stop_reason
    with pytest.raises(ValueError, match="on_divergence must be 'raise' or 'warn'"):
        net.fit(X, y, on_divergence="ignore")


# -- the estimators --------------------------------------------------------------------------


@pytest.fixture
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits
        yield


@pytest.mark.parametrize("labels", ["int", "str", "binary"])
@pytest.mark.parametrize("kw", [
    {}, {"solver": "lbfgs"}, {"solver": "sgd", "early_stopping": True},
    {"hidden_layer_sizes": (5, 4), "dropout": 0.1, "class_weight": {0: 1.0, 1: 2.0, 2: 1.0}},
])
def test_classifier_round_trip(tmp_path, quiet, labels, kw):
    from sklearn.datasets import make_classification

    X, y = make_classification(150, 6, n_informative=4, n_classes=3, random_state=0)
    if labels == "binary":
        y = (y > 0).astype(int)
        kw = {k: v for k, v in kw.items() if k != "class_weight"}
    names = np.array(["cat", "dog", "eel"])
    if labels == "str":
        y = names[y]
        if "class_weight" in kw:
            kw = {**kw, "class_weight": dict(zip(names, [1.0, 2.0, 1.0]))}
    clf = gn.MLPClassifier(max_iter=5, random_state=0, **kw).fit(X, y)
    clf.save(tmp_path / "c.glassnet")
    back = gn.load(tmp_path / "c.glassnet")
    assert type(back) is gn.MLPClassifier and back.get_params() == clf.get_params()
    assert np.array_equal(back.classes_, clf.classes_)
    assert np.array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert np.array_equal(back.predict(X), clf.predict(X))
    for name in ("n_iter_", "t_", "loss_", "loss_curve_", "n_features_in_", "out_activation_"):
        if hasattr(clf, name):
            assert getattr(back, name) == getattr(clf, name), name
    if kw.get("solver", "adam") != "lbfgs" and not kw.get("early_stopping"):
        clf.partial_fit(X, y)
        back.partial_fit(X, y)  # continues exactly: optimizer and generator state came along
        assert np.array_equal(back.model_._params, clf.model_._params)


def test_regressor_round_trip(tmp_path, quiet):
    from sklearn.datasets import make_regression

    X, y = make_regression(100, 5, random_state=0)
    reg = gn.MLPRegressor(max_iter=5, n_iter_no_change=np.inf, random_state=0).fit(X, y)
    gn.save(reg, tmp_path / "r.glassnet")
    back = gn.load(tmp_path / "r.glassnet")
    assert type(back) is gn.MLPRegressor and back.get_params() == reg.get_params()
    assert np.array_equal(back.predict(X), reg.predict(X))
    assert back.loss_curve_ == reg.loss_curve_ and back.n_iter_ == reg.n_iter_


def test_estimator_save_refuses_code_and_unfitted(tmp_path, quiet):
    from sklearn.datasets import make_classification
    from sklearn.exceptions import NotFittedError

    X, y = make_classification(60, 4, random_state=0)
    clf = gn.MLPClassifier(max_iter=2, callbacks=[gn.EarlyStopping(monitor="loss")]).fit(X, y)
    with pytest.raises(ValueError, match=r"callbacks=.*data only.*set_params\(callbacks=None\)"):
        clf.save(tmp_path / "c.glassnet")
    with pytest.raises(NotFittedError):
        gn.MLPClassifier().save(tmp_path / "c.glassnet")
    assert not os.listdir(tmp_path)
