"""The .glassnet file: round trips, exact resume, checkpoints, Ctrl-C and divergence in fit."""

import io
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
    assert np.array_equal(c.params, a.params)


def test_model_save_method_and_file_layout(tmp_path):
    X, y = data()
    net = make_net()
    net.fit(X, y, epochs=1, verbose=0)
    path = tmp_path / "m.glassnet"
    net.save(path)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["config.json", "weights.npz", "state.npz", "optimizer.npz"]
        config = json.loads(zf.read("config.json"))
    assert config["format"] == "glassnet" and config["format_version"] == 2
    assert config["state"] == []  # Dense and Dropout keep no state
    assert config["glassnet_version"] == gn.__version__ and config["kind"] == "Sequential"
    assert config["network"]["input_shape"] == [4]
    assert [w[0] for w in config["weights"]] == net.parameter_names()
    assert config["training"]["epochs_done"] == 1
    assert os.listdir(tmp_path) == ["m.glassnet"]  # no temporary file left


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
    assert np.array_equal(resumed.params, straight.params)


def test_checkpoint_every_and_options(tmp_path):
    X, y = data()
    net = make_net()
    path = tmp_path / "c.glassnet"
    cp = gn.Checkpoint(path, every=3, keep_best=False)
    seen = []

    class Probe(gn.Callback):  # runs after the Checkpoint at the end of each epoch
        def on_epoch_end(self, epoch, logs=None):
            if not path.exists():
                seen.append((epoch + 1, None))
                return
            saved = gn.load(path)
            same = np.array_equal(saved.params, self.model.params)
            seen.append((epoch + 1, saved.epochs_done, same))
            if epoch + 1 == 3:
                self.at_3 = self.model.params.copy()

    probe = Probe()
    net.fit(X, y, epochs=4, verbose=0, callbacks=[cp, probe])
    # Nothing after epochs 1 and 2; epoch 3's weights after epoch 3, still there after 4.
    assert seen == [(1, None), (2, None), (3, 3, True), (4, 3, False)]
    assert os.listdir(tmp_path) == ["c.glassnet"]
    final = gn.load(path)  # and at the end of training, epoch 4's
    assert final.epochs_done == 4 and np.array_equal(final.params, net.params)
    assert not np.array_equal(probe.at_3, net.params)
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
    assert np.array_equal(again.params, net.params)


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
            keeper.append((logs["val_loss"], self.model.params.copy()))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(X, y, epochs=50, batch_size=16, validation_split=0.25, verbose=0,
                          callbacks=[Keep(), SendSigint(4, 2)])
    assert history.interrupted and len(history.epoch) == 4
    assert "interrupted (Ctrl-C) during epoch 5, batch 3" in history.stop_reason
    best_loss, best_params = min(keeper, key=lambda t: t[0])
    assert np.array_equal(net.params, best_params)
    assert [str(w.message) for w in caught].count(f"Training {history.stop_reason}.") == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_without_validation_keeps_last_weights():
    X, y = data()
    net = make_net()
    with pytest.warns(RuntimeWarning, match="keeps the last weights"):
        history = net.fit(X, y, epochs=50, batch_size=16, verbose=0,
                          callbacks=[SendSigint(1, 0)])
    assert history.interrupted and np.isfinite(net.params).all()


# -- divergence ------------------------------------------------------------------------------


def diverging():
    X, _ = data()
    y = X[:, 0] * 1e6
    net = gn.Sequential([gn.Dense(1)], loss="mse", optimizer=gn.SGD(10.0), random_state=0)
    return net, X * 100, y


def test_divergence_raises_by_default_and_keeps_finite_weights():
    net, X, y = diverging()
    with pytest.raises(gn.DivergenceError, match="(loss became (inf|nan)|loss grew to).*learning_rate=10"):
        net.fit(X, y, epochs=100, verbose=0)
    assert issubclass(gn.DivergenceError, ValueError)
    assert np.isfinite(net.params).all()
    assert "diverged" in net.history.stop_reason


def test_divergence_warn_returns_with_finite_weights():
    net, X, y = diverging()
    with pytest.warns(RuntimeWarning, match="Training diverged"):
        history = net.fit(X, y, epochs=100, verbose=0, on_divergence="warn")
    assert np.isfinite(net.params).all() and "diverged" in history.stop_reason
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
        assert np.array_equal(back.model_.params, clf.model_.params)


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


# -- every refusal of the loader: one crafted file per check ---------------------------------
#
# Each row rewrites a valid saved file so that it breaks exactly one of io.py's checks (the
# untouched rewrite loads and predicts what the saved model did: the "control" test), and
# asserts the ModelFileError names that problem: with the check removed, the file would load
# or fail elsewhere with another message, so the row fails.


def _unzip(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _rezip(members, compress=None):
    """A zip of ``(name, bytes)`` pairs (or a dict); ``compress`` maps names to a method."""
    items = members.items() if isinstance(members, dict) else members
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        with zipfile.ZipFile(buf, "w") as zf:
            for name, raw in items:
                zf.writestr(name, raw, (compress or {}).get(name, zipfile.ZIP_STORED))
    return buf.getvalue()


def _patch_central(blob, name, offset, value):
    """Overwrite a 2- or 4-byte field of ``name``'s central-directory entry."""
    at = 0
    while True:
        at = blob.index(b"PK\x01\x02", at)
        length = int.from_bytes(blob[at + 28 : at + 30], "little")
        if blob[at + 46 : at + 46 + length] == name.encode():
            break
        at += 4
    size = 2 if offset in (8, 10) else 4
    return blob[: at + offset] + value.to_bytes(size, "little") + blob[at + offset + size :]


def _npy(array, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, version=version, allow_pickle=False)
    return buf.getvalue()


class Parts:
    """The members of a valid file, to change one at a time and pack again."""

    def __init__(self, blob):
        self.members = _unzip(blob)
        self.config = json.loads(self.members["config.json"])
        self.weights = _unzip(self.members["weights.npz"])
        self.state = _unzip(self.members["state.npz"])
        self.opt = _unzip(self.members["optimizer.npz"])
        self.config_bytes = self.weights_npz = self.opt_npz = None
        self.extra, self.drop, self.compress = [], set(), {"config.json": zipfile.ZIP_DEFLATED}

    def array(self, name, inner="weights"):
        return np.load(io.BytesIO(getattr(self, inner)[name + ".npy"]))

    def pack(self):
        members = [
            ("config.json", self.config_bytes or json.dumps(self.config).encode()),
            ("weights.npz", self.weights_npz or _rezip(self.weights)),
            ("state.npz", _rezip(self.state)),
            ("optimizer.npz", self.opt_npz or _rezip(self.opt)),
        ]
        members = [m for m in members if m[0] not in self.drop] + self.extra
        return _rezip(members, self.compress)


def _base_files(folder):
    X, y = data(60)
    net = gn.Sequential([gn.Dense(5, activation="relu"), gn.Dropout(0.2), gn.Dense(3),
                         gn.Softmax()], random_state=0)
    net.fit(X, np.arange(60) % 3, epochs=1, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = gn.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
        reg = gn.MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0).fit(
            X, X[:, 0])
    # 500 x 1000 zeros: 2 MB of weights.npz that deflate to a few kB.
    big = gn.Sequential([gn.Dense(1000, input_dim=500, kernel_initializer="zeros")], loss="mse",
                        optimizer="sgd").build(500)
    blobs = {}
    for key, model in {"net": net, "clf": clf, "reg": reg, "big": big}.items():
        gn.save(model, folder / f"{key}.glassnet")
        blobs[key] = (model, (folder / f"{key}.glassnet").read_bytes())
    return blobs


def _set(path, value):
    """A row that sets ``config[path...] = value``."""
    path = (path,) if isinstance(path, str) else path

    def change(p):
        node = p.config
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _delete(*path):
    def change(p):
        node = p.config
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return change


def _attr(name, value):
    return _set(("estimator", "attributes", name), value)


def _param(name, value):
    return _set(("estimator", "params", name), value)


def _fitted(**values):
    """A row that sets entries of the estimator's fitted architecture (a tagged dict)."""
    def change(p):
        for entry in p.config["estimator"]["fitted"]["dict"]:
            entry[1] = values.get(entry[0], entry[1])
    return change


def _weight(name, array):
    def change(p):
        p.weights[name + ".npy"] = _npy(array(p.array(name)) if callable(array) else array)
    return change


def _two_huge_layers(p):
    """A consistent edit of the estimator section: hidden_layer_sizes=(10**6, 10**6)."""
    _fitted(hidden_layer_sizes=[10**6, 10**6], activation=["relu"] * 2, dropout=[0.0] * 2)(p)
    _attr("n_layers_", 4)(p)


def _raw_weight(name, edit):
    def change(p):
        p.weights[name + ".npy"] = edit(p.weights[name + ".npy"])
    return change


def _outer_flag(p):
    blob = p.pack()
    return _patch_central(blob, "weights.npz", 8, 0x1)  # "encrypted"


def _declared_size(member, inner=None):
    """config.json (deflated) or an inner .npy that declares 7 bytes more than it holds."""
    def change(p):
        if inner is None:
            blob = p.pack()
            info = zipfile.ZipFile(io.BytesIO(blob)).getinfo(member)
            return _patch_central(blob, member, 24, info.file_size + 7)
        npz = _rezip(p.weights)
        info = zipfile.ZipFile(io.BytesIO(npz)).getinfo(inner)
        p.weights_npz = _patch_central(npz, inner, 24, info.file_size + 7)
    return change


def _inner_flag(p):
    npz = _rezip(p.weights)
    p.weights_npz = _patch_central(npz, "dense.W.npy", 8, 0x1)


def _rename(old, new, inner="weights"):
    def change(p):
        entries = p.config["weights"] if inner == "weights" else \
            p.config["optimizer_state"]["buffers"]
        for entry in entries:
            if entry[0] == old:
                entry[0] = new
        store = getattr(p, inner if inner == "weights" else "opt")
        store[new + ".npy"] = store.pop(old + ".npy")
    return change


def _set_json(text):
    def change(p):
        p.config_bytes = text
    return change


def _fortran(p):
    W = p.array("dense.W")
    assert W.shape == (4, 5)
    p.weights["dense.W.npy"] = _npy(np.asfortranarray(W))


def _big_deflated(which):
    def change(p):
        if which == "outer":
            p.compress["weights.npz"] = zipfile.ZIP_DEFLATED
        else:
            p.weights_npz = _rezip(p.weights, {"dense.W.npy": zipfile.ZIP_DEFLATED})
    return change


def _inner_extra_bytes(n):
    return _raw_weight("dense.W", lambda raw: raw + b"\0" * n)


def _version_byte(raw):
    return raw[:6] + b"\x03\x00" + raw[8:]


# (id, base file, change(parts) -> None or the file's bytes, message pattern)
REFUSALS = [
    # -- the outer zip ---------------------------------------------------------------------
    ("not-a-zip", "net", lambda p: b"\x89PNG\r\n\x1a\n" + bytes(200), "not a zip archive"),
    ("outer-unexpected-member", "net", lambda p: p.extra.append(("model.pkl", b"x")),
     r"the file has unexpected members \['model.pkl'\]"),
    ("outer-missing-member", "net", lambda p: p.drop.add("optimizer.npz"),
     r"the file lacks the members \['optimizer.npz'\]"),
    ("version-2-without-state", "net", lambda p: p.drop.add("state.npz"),
     r"a file of format version 2 holds \['config.json', 'weights.npz', 'state.npz', "
     r"'optimizer.npz'\], this one \['config.json', 'weights.npz', 'optimizer.npz'\]"),
    ("version-1-with-state", "net", _set("format_version", 1),
     r"a file of format version 1 holds \['config.json', 'weights.npz', 'optimizer.npz'\]"),
    ("state-not-list", "net", _set("state", {}), "'state' must be a list"),
    ("state-shapes-vs-layers", "net", _set("state", [["dense.mean", [5]]]),
     r"the state shapes do not match the layers \(\[\(5,\)\] vs \[\]\)"),
    ("outer-duplicate-member", "net",
     lambda p: p.extra.append(("weights.npz", _rezip(p.weights))), "duplicate member names"),
    ("outer-bzip2", "net", lambda p: p.compress.update({"weights.npz": zipfile.ZIP_BZIP2}),
     r"encrypted or oddly compressed members \['weights.npz'\]"),
    ("outer-encrypted", "net", _outer_flag,
     r"encrypted or oddly compressed members \['weights.npz'\]"),
    ("outer-declared-size", "net", _declared_size("config.json"),
     "config.json holds .* bytes, not the .* declared"),
    ("outer-zip-bomb", "big", _big_deflated("outer"), "weights.npz would expand .*zip bomb"),
    ("weights-npz-too-big", "net",
     lambda p: setattr(p, "weights_npz", _rezip(p.weights) + b"\0" * 20000),
     "weights.npz declares .* bytes, more than the .* expected"),
    ("optimizer-npz-too-big", "net",
     lambda p: setattr(p, "opt_npz", _rezip(p.opt) + b"\0" * 20000),
     "optimizer.npz declares .* bytes, more than the .* expected"),
    ("config-too-big", "net",
     _set_json(b" " * (1 << 20) + b"{}"), "config.json declares .* bytes, more than"),
    # -- config.json -------------------------------------------------------------------------
    ("config-not-utf8", "net", _set_json(b"\xff\xfe{}"), "config.json is not valid JSON"),
    ("config-not-json", "net", _set_json(b"{'format': 'glassnet'}"),
     "config.json is not valid JSON"),
    ("config-not-object", "net", _set_json(b"[1, 2]"), "not a glassnet model description"),
    ("format-other-program", "net", _set("format", "keras"),
     "its format is 'keras', not 'glassnet'"),
    ("format-missing", "net", _delete("format"), "its format is None, not 'glassnet'"),
    ("format-version-string", "net", _set("format_version", "1"),
     "format_version must be a positive integer, got '1'"),
    ("format-version-bool", "net", _set("format_version", True),
     "format_version must be a positive integer, got True"),
    ("format-version-zero", "net", _set("format_version", 0),
     "format_version must be a positive integer, got 0"),
    ("format-version-newer", "net", _set("format_version", 3),
     "format version 3.*reads up to version 2. Upgrade glassnet"),
    ("network-not-dict", "net", _set("network", []), "'network' must be a dict"),
    ("weights-not-list", "net", _set("weights", {}), "'weights' must be a list"),
    ("optimizer-state-not-dict", "net", _set("optimizer_state", []),
     "'optimizer_state' must be a dict"),
    ("training-not-dict", "net", _set("training", None), "'training' must be a dict"),
    ("too-many-weights", "net", _set("weights", [["w", [1]]] * 4097),
     "lists too many weight arrays"),
    ("kind-unknown", "net", _set("kind", "Pipeline"), "unknown model kind 'Pipeline'"),
    ("kind-missing", "net", _delete("kind"), "unknown model kind None"),
    ("layers-empty", "net", _set(("network", "layers"), []),
     "network.layers must be a non-empty list"),
    ("layers-not-list", "net", _set(("network", "layers"), {"class_name": "Dense"}),
     "network.layers must be a non-empty list"),
    ("layer-not-dict", "net", _set(("network", "layers", 1), "Dropout"),
     "A layer config must be a dict"),
    ("layer-unknown-class", "net", _set(("network", "layers", 0, "class_name"), "Lambda"),
     "Unknown layer class 'lambda'"),
    ("layer-units-negative", "net", _set(("network", "layers", 0, "units"), -5),
     "units must be a positive integer"),
    ("layer-units-bool", "net", _set(("network", "layers", 0, "units"), True),
     "units must be a positive integer"),
    ("layer-dropout-rate", "net", _set(("network", "layers", 1, "rate"), 1.5),
     r"rate must be a number in \[0, 1"),
    ("layer-dropout-nan", "net", _set(("network", "layers", 1, "rate"), float("nan")),
     r"rate must be a number in \[0, 1"),
    ("layer-activation-unknown", "net",
     _set(("network", "layers", 0, "activation"), {"name": "swish"}),
     "Unknown activation 'swish'"),
    ("dtype-float16", "net", _set(("network", "dtype"), "float16"), "dtype must be one of"),
    ("dtype-object", "net", _set(("network", "dtype"), "object"), "dtype must be one of"),
    ("input-shape-negative", "net", _set(("network", "input_shape"), [-4]),
     r"network.input_shape must be a list of sizes, got \[-4\]"),
    ("input-shape-float", "net", _set(("network", "input_shape"), [4.0]),
     r"network.input_shape must be a list of sizes, got \[4.0\]"),
    ("input-shape-huge", "net", _set(("network", "input_shape"), [2**40]),
     "network.input_shape must be a list of sizes"),
    ("input-shape-empty", "net", _set(("network", "input_shape"), []),
     "network.input_shape is empty"),
    ("weights-entry-malformed", "net", _set(("weights", 0), {"dense.W": [4, 5]}),
     r"a weights entry must be \[name, shape\]"),
    ("weights-shape-malformed", "net", _set(("weights", 0, 1), [4, "5"]),
     r"weights\['dense.W'\] must be a list of sizes"),
    ("weights-shape-vs-layers", "net", _set(("weights", 0, 1), [4, 6]),
     "the weight shapes do not match the layers"),
    ("weights-names-vs-layers", "net", _rename("dense.W", "dense.V"),
     "the weight names do not match the layers"),
    ("random-state-string", "net", _set(("network", "random_state"), "seven"),
     "network.random_state must be an int >= 0 or null"),
    ("random-state-bool", "net", _set(("network", "random_state"), True),
     "network.random_state must be an int >= 0 or null"),
    ("loss-unknown", "net", _set(("network", "loss"), {"name": "hinge"}), "Unknown loss 'hinge'"),
    ("loss-vs-output", "reg", _set(("network", "loss"), {"name": "cross_entropy"}),
     r"needs outputs in \(0, 1\)"),
    ("optimizer-unknown", "net", _set(("network", "optimizer", "class_name"), "Adamax"),
     "Unknown optimizer 'adamax'"),
    ("optimizer-lr-negative", "net", _set(("network", "optimizer", "learning_rate"), -0.1),
     "learning_rate must be a finite number > 0"),
    ("optimizer-lr-nan", "net", _set(("network", "optimizer", "learning_rate"), float("nan")),
     "learning_rate must be a finite number > 0"),
    ("optimizer-beta-out-of-range", "net", _set(("network", "optimizer", "beta_1"), 1.5),
     r"beta_1 must be a number in \[0, 1"),
    ("optimizer-unknown-argument", "net", _set(("network", "optimizer", "warp"), 9),
     "config.json: network: .*unexpected keyword argument 'warp'"),
    # -- weights.npz and optimizer.npz ---------------------------------------------------
    ("npz-unexpected-member", "net",
     lambda p: p.weights.update({"evil.npy": _npy(np.zeros(1, np.float32))}),
     r"weights.npz has unexpected members \['evil.npy'\]"),
    ("npz-missing-member", "net", lambda p: p.weights.pop("dense_1.b.npy") and None,
     r"weights.npz lacks the members \['dense_1.b.npy'\]"),
    ("npz-duplicate-member", "net",
     lambda p: setattr(p, "weights_npz", _rezip(
         list(p.weights.items()) + [("dense.b.npy", p.weights["dense.b.npy"])])),
     "weights.npz has duplicate member names"),
    ("npz-bzip2", "net",
     lambda p: setattr(p, "weights_npz", _rezip(p.weights, {"dense.b.npy": zipfile.ZIP_BZIP2})),
     r"weights.npz has encrypted or oddly compressed members \['dense.b.npy'\]"),
    ("npz-encrypted", "net", _inner_flag,
     r"weights.npz has encrypted or oddly compressed members \['dense.W.npy'\]"),
    ("npz-not-a-zip", "net", lambda p: setattr(p, "weights_npz", b"\0" * 300),
     "damaged or invalid file .*BadZipFile"),
    ("npy-declared-size", "net", _declared_size("weights.npz", "dense.W.npy"),
     "weights.npz/dense.W holds .* bytes, not the .* declared"),
    ("npy-too-big", "net", _inner_extra_bytes(1100),
     "weights.npz/dense.W declares .* bytes, more than the .* expected"),
    ("npy-zip-bomb", "big", _big_deflated("inner"), "weights.npz/dense.W would expand"),
    ("npy-bad-magic", "net", _raw_weight("dense.W", lambda raw: b"\x93NUMPZ" + raw[6:]),
     "damaged or invalid file .*magic string is not correct"),
    ("npy-version", "net", _raw_weight("dense.W", _version_byte),
     r"weights.npz/dense.W uses .npy version \(3, 0\)"),
    ("npy-damaged-header", "net",
     _raw_weight("dense.W", lambda raw: raw.replace(b"'descr'", b"'dexcr'", 1)),
     "weights.npz/dense.W has a damaged .npy header"),
    ("npy-dtype", "net", _weight("dense.W", lambda W: W.astype(np.float64)),
     "weights.npz/dense.W has dtype <f8, but the network's dtype is <f4"),
    ("npy-byte-order", "net", _weight("dense.W", lambda W: W.astype(">f4")),
     "weights.npz/dense.W has dtype >f4, but the network's dtype is <f4"),
    ("npy-object-dtype", "net", _raw_weight(
        "dense.b", lambda raw: raw.replace(b"'<f4'", b"'|O' ", 1)),
     "weights.npz/dense.b has dtype \\|O, but the network's dtype is <f4"),
    ("npy-shape", "net", _weight("dense.W", lambda W: W.T.copy()),
     r"weights.npz/dense.W has shape \(5, 4\), but the config says \(4, 5\)"),
    ("npy-fortran-order", "net", _fortran, "weights.npz/dense.W is stored in Fortran"),
    ("npy-extra-data", "net", _inner_extra_bytes(4),
     r"weights.npz/dense.W holds the wrong number of bytes for shape \(4, 5\)"),
    ("npy-short-data", "net", _raw_weight("dense.W", lambda raw: raw[:-4]),
     r"weights.npz/dense.W holds the wrong number of bytes"),
    ("optimizer-npy-shape", "net",
     lambda p: p.opt.update({"m.npy": _npy(np.zeros((43, 1), np.float32))}),
     r"optimizer.npz/m has shape \(43, 1\), but the config says \(43,\)"),
    ("buffers-not-list", "net", _set(("optimizer_state", "buffers"), {"m": 43}),
     r"optimizer_state.buffers must be \[\[name, size\]\]"),
    ("buffers-too-many", "net", _set(("optimizer_state", "buffers"), [["m", 43]] * 9),
     r"optimizer_state.buffers must be \[\[name, size\]\]"),
    ("buffer-size", "net", _set(("optimizer_state", "buffers", 0, 1), 42),
     "optimizer state buffers must each hold 43 values"),
    ("buffer-names-vs-optimizer", "net", _rename("m", "q", inner="opt"),
     r"optimizer.npz holds \['q', 'v'\], but Adam keeps \['m', 'v'\]"),
    ("iterations-negative", "net", _set(("optimizer_state", "iterations"), -1),
     "optimizer_state.iterations must be an int >= 0, got -1"),
    ("iterations-bool", "net", _set(("optimizer_state", "iterations"), True),
     "optimizer_state.iterations must be an int >= 0, got True"),
    ("iterations-huge", "net", _set(("optimizer_state", "iterations"), 10**400),
     "optimizer_state.iterations must be an int >= 0"),
    ("epochs-done-string", "net", _set(("training", "epochs_done"), "3"),
     "training.epochs_done must be an int >= 0, got '3'"),
    ("epochs-done-bool", "net", _set(("training", "epochs_done"), False),
     "training.epochs_done must be an int >= 0, got False"),
    ("rng-state-other-generator", "net",
     _set(("training", "rng_state"), np.random.MT19937(0).state | {"state": {}}),
     "training.rng_state is not a state of the network's generator"),
    ("rng-state-not-dict", "net", _set(("training", "rng_state"), [1, 2]),
     "training.rng_state is not a state of the network's generator"),
    ("rng-state-damaged", "net", _set(("training", "rng_state", "state", "state"), -5),
     "training.rng_state is not a state of the network's generator"),
    # -- the estimators ------------------------------------------------------------------
    ("estimator-section-missing", "clf", _delete("estimator"),
     "'estimator' must hold 'params' and 'attributes'"),
    ("estimator-unknown-param", "clf", _param("n_neighbors", 3),
     r"unknown MLPClassifier parameters \['n_neighbors'\]"),
    ("estimator-unknown-attribute", "clf", _attr("coefs_", [1.0]),
     "unknown fitted attribute 'coefs_'"),
    ("classifier-no-label-binarizer", "clf", _delete("estimator", "label_binarizer"),
     "a classifier needs classes_ and label_binarizer"),
    ("classifier-no-classes", "clf", _delete("estimator", "attributes", "classes_"),
     "a classifier needs classes_ and label_binarizer"),
    ("estimator-hidden-sizes", "reg", _two_huge_layers,
     r"hidden_layer_sizes and n_outputs_ give layers \[4, 1000000, 1000000, 1\], but the "
     r"network in the file has \[4, 3, 1\]"),
    ("estimator-n-features", "reg", _attr("n_features_in_", 7), "give layers .7, 3, 1."),
    ("estimator-vs-network", "reg", _fitted(activation=["tanh"]),
     "the network in the file does not match the MLPRegressor its parameters describe"),
    ("estimator-array-dtype", "clf", _attr("classes_", {"array": [0, 1], "dtype": "<M8[s]"}),
     "an array of dtype datetime64.s. is not allowed in config.json"),
    ("estimator-array-too-big", "clf",
     _attr("classes_", {"array": [""] * 10000, "dtype": "<U1000"}),
     r"its arrays would take more than 16777216 bytes \(at one of 10000 items of dtype "
     r"<U1000\)"),
    ("estimator-object-array", "clf", _attr("classes_", {"array": [0, [1]], "dtype": "|O"}),
     r"an array of dtype \|O may hold only strings, not 0"),
    ("estimator-unknown-tag", "clf", _param("class_weight", {"set": [1, 2]}),
     "config.json holds a value glassnet does not understand"),
    ("estimator-dict-key", "clf", _param("class_weight", {"dict": [[[0], 1.0]]}),
     "a dict key must be a number or a string"),
    # every number of the estimator section: type and range, the field named
    ("attr-n-features-negative", "clf", _attr("n_features_in_", -16),
     "estimator.attributes.n_features_in_ must be an int >= 1, got -16"),
    ("attr-n-features-float", "clf", _attr("n_features_in_", 4.5),
     "estimator.attributes.n_features_in_ must be an int >= 1, got 4.5"),
    ("attr-n-outputs-zero", "reg", _attr("n_outputs_", 0),
     "estimator.attributes.n_outputs_ must be an int >= 1, got 0"),
    ("attr-t-negative", "clf", _attr("t_", -1), "estimator.attributes.t_ must be an int >= 0"),
    ("attr-n-iter-string", "reg", _attr("n_iter_", "2"),
     "estimator.attributes.n_iter_ must be an int >= 0, got '2'"),
    ("attr-no-improvement-bool", "clf", _attr("_no_improvement_count", True),
     "estimator.attributes._no_improvement_count must be an int >= 0, got True"),
    ("attr-loss-string", "reg", _attr("loss_", "low"),
     "estimator.attributes.loss_ must be a number, got 'low'"),
    ("attr-loss-huge-int", "reg", _attr("loss_", 10**400),
     "estimator.attributes.loss_ must be a number"),
    ("attr-loss-curve-strings", "clf", _attr("loss_curve_", ["a"]),
     r"estimator.attributes.loss_curve_ must be a list of numbers, got \['a'\]"),
    ("attr-best-loss-list", "clf", _attr("best_loss_", [1.0]),
     "estimator.attributes.best_loss_ must be a number or null"),
    ("attr-out-activation-number", "reg", _attr("out_activation_", 3),
     "estimator.attributes.out_activation_ must be a string, got 3"),
    ("attr-out-activation-unknown", "reg", _attr("out_activation_", "swish"),
     "out_activation_ 'swish' is not an output of the MLPRegressor"),
    ("attr-out-activation-vs-targets", "clf", _attr("out_activation_", "softmax"),
     "out_activation_ is 'softmax', but a binary classifier has 'logistic'"),
    ("attr-n-layers-vs-fitted", "clf", _attr("n_layers_", 5),
     "n_layers_ is 5, but the fitted network has 1 hidden layers"),
    ("attr-missing", "reg", _delete("estimator", "attributes", "n_features_in_"),
     r"the MLPRegressor lacks the fitted attributes \['n_features_in_'\]"),
    ("attr-feature-names-count", "clf",
     _attr("feature_names_in_", {"array": ["a"], "dtype": "|O"}),
     "feature_names_in_ names 1 features, but n_features_in_ is 4"),
    ("param-alpha-negative", "clf", _param("alpha", -16),
     "estimator.params: The 'alpha' parameter of MLPClassifier must be a float in the range"),
    ("param-max-iter-zero", "reg", _param("max_iter", 0),
     "estimator.params: The 'max_iter' parameter of MLPRegressor must be an int"),
    ("param-momentum-string", "reg", _param("momentum", "x"),
     "estimator.params: The 'momentum' parameter of MLPRegressor must be a float"),
    ("param-random-state-negative", "clf", _param("random_state", -16),
     "estimator.params: The 'random_state' parameter of MLPClassifier must be"),
    ("param-callbacks", "clf", _param("callbacks", ["EarlyStopping"]),
     "estimator.params: callbacks must be null"),
    ("fitted-not-dict", "clf", _set(("estimator", "fitted"), [4]),
     r"estimator.fitted must hold \['activation', 'dropout', 'hidden_layer_sizes'\]"),
    ("fitted-dropout", "clf", _fitted(dropout=[1.5]),
     r"layers are invalid \(dropout rates must be in \[0, 1\), got 1.5"),
    ("fitted-activation-count", "clf", _fitted(activation=["relu", "relu"]),
     "layers are invalid .activation has 2 entries but hidden_layer_sizes has 1"),
    ("fitted-sizes-negative", "clf", _fitted(hidden_layer_sizes=[-16]),
     "estimator.fitted: The 'hidden_layer_sizes' parameter|hidden_layer_sizes must be > 0"),
    # classes_ against the outputs (the file's clf is binary: 1 output)
    ("classes-vs-outputs", "clf", _attr("classes_", {"array": [0, 1, 2], "dtype": "<i8"}),
     "classes_ holds 3 classes and n_outputs_ is 1, but a binary classifier has 1 output"),
    ("classes-unsorted", "clf", _attr("classes_", {"array": [1, 0], "dtype": "<i8"}),
     "estimator.attributes.classes_ must be a 1-D array of sorted, distinct labels"),
    ("classes-empty", "clf", _attr("classes_", {"array": [], "dtype": "<i8"}),
     "estimator.attributes.classes_ must be a 1-D array of sorted, distinct labels"),
    ("y-type-unknown", "clf", _set(("estimator", "label_binarizer", "y_type_"), "continuous"),
     "label_binarizer.y_type_ must be one of"),
    ("label-binarizer-labels", "clf", _set(("estimator", "label_binarizer", "params"),
                                           {"dict": [["neg_label", 1], ["pos_label", 0]]}),
     "label_binarizer.params: neg_label < pos_label"),
    ("label-binarizer-unknown", "clf", _set(("estimator", "label_binarizer", "params"),
                                            {"dict": [["classes", 3]]}),
     "label_binarizer.params must be LabelBinarizer's parameters"),
    # the codec's arrays
    ("array-dtype-not-string", "clf", _attr("classes_", {"array": [0, 1], "dtype": 5}),
     "an array's dtype must name a NumPy dtype, got 5"),
    ("array-dtype-unknown", "clf", _attr("classes_", {"array": [0, 1], "dtype": "<q9"}),
     "an array's dtype must name a NumPy dtype, got '<q9'"),
    ("array-int-out-of-range", "clf", _attr("classes_", {"array": [0, 300], "dtype": "|u1"}),
     r"an array of dtype \|u1 may hold only ints in \[0, 255\], not 300"),
    ("array-bool-in-ints", "clf", _attr("classes_", {"array": [False, True], "dtype": "<i8"}),
     r"an array of dtype <i8 may hold only ints in .*, not False"),
    ("array-number-in-strings", "clf", _attr("classes_", {"array": ["a", 1], "dtype": "<U1"}),
     "an array of dtype <U1 may hold only strings, not 1"),
]


@pytest.fixture(scope="module")
def base_files(tmp_path_factory):
    """``{key: (model, the bytes gn.save wrote)}`` for a Sequential, both estimators and a
    2 MB all-zero network (for the compression-ratio rows)."""
    return _base_files(tmp_path_factory.mktemp("base"))


def _outputs(model, X):
    if isinstance(model, gn.Sequential):
        return [model.predict(X)]
    out = [model.predict(X)]
    return out + ([model.predict_proba(X)] if hasattr(model, "predict_proba") else [])


@pytest.mark.parametrize("key", ["net", "clf", "reg", "big"])
def test_control_the_rewritten_file_loads_and_predicts_exactly(base_files, key, tmp_path):
    model, blob = base_files[key]
    path = tmp_path / "same.glassnet"
    path.write_bytes(Parts(blob).pack())
    back = gn.load(path)
    assert type(back) is type(model)
    n_in = (back if key in ("net", "big") else back.model_).input_shape[0]
    X = np.random.default_rng(1).normal(size=(9, n_in))
    for a, b in zip(_outputs(back, X), _outputs(model, X)):
        assert a.dtype == b.dtype and np.array_equal(a, b)


@pytest.mark.parametrize("case", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_loader_refuses_each_broken_rule(base_files, case, tmp_path):
    _, key, change, pattern = case
    parts = Parts(base_files[key][1])
    blob = change(parts)
    path = tmp_path / "broken.glassnet"
    path.write_bytes(parts.pack() if blob is None else blob)
    with pytest.raises(ModelFileError, match=f"Cannot load .*{pattern}"):
        gn.load(path)


def test_refusal_ids_are_unique():
    ids = [c[0] for c in REFUSALS]
    assert len(ids) == len(set(ids))


def test_too_many_members_is_refused(base_files, tmp_path, monkeypatch):
    # 65,537 members would take seconds to write; lower the limit instead.
    import glassnet.io.container as gio

    monkeypatch.setattr(gio, "MAX_MEMBERS", 0)
    path = tmp_path / "m.glassnet"
    path.write_bytes(base_files["net"][1])
    with pytest.raises(ModelFileError, match="the file has 4 members, far more than expected"):
        gn.load(path)


def test_estimator_sizes_are_checked_before_building_a_network(base_files, tmp_path,
                                                              monkeypatch):
    # A file asking for hidden_layer_sizes=(10**6, 10**6) must be refused before the
    # estimator allocates a network of 10**12 weights.
    built = []
    original = gn.MLPRegressor._build
    monkeypatch.setattr(gn.MLPRegressor, "_build",
                        lambda self, *a, **k: built.append(a) or original(self, *a, **k))
    parts = Parts(base_files["reg"][1])
    _two_huge_layers(parts)
    path = tmp_path / "r.glassnet"
    path.write_bytes(parts.pack())
    with pytest.raises(ModelFileError, match="hidden_layer_sizes"):
        gn.load(path)
    assert built == []
    path.write_bytes(Parts(base_files["reg"][1]).pack())
    gn.load(path)
    assert len(built) == 1
