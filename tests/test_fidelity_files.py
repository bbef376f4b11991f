"""Model files can make loading neither slow, huge nor crash, and saving never writes what
loading refuses.

- Crafted files (each a consistent edit of one ``gn.save`` wrote, built with zipfile, json
  and NumPy's .npy writer) are refused with one ``ModelFileError`` line naming the field,
  before anything the file sizes is allocated: the peak memory of the refusal (tracemalloc)
  is far below what the file asks for.
- What ``set_params``, ``warm_start`` and the learning-rate policies leave in a fitted
  estimator saves and loads back: the same predictions, and training goes on as without the
  round trip (compared with the estimator that was never saved).
- A save killed with SIGKILL leaves a temporary file that the next save to the same target
  deletes; files get the umask's permissions; a missing folder is named before any work.
"""

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest
from conftest import quiet_fit, zip_members

import glassnet as gn
from glassnet import ModelFileError

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
X = np.random.default_rng(0).normal(size=(60, 4))
Y3 = np.arange(60) % 3
MiB = 1 << 20






def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, raw in members.items():
            method = zipfile.ZIP_DEFLATED if name == "config.json" else zipfile.ZIP_STORED
            zf.writestr(name, raw, method)
    return buf.getvalue()


class File:
    """A saved file's config, to change and pack again with its arrays as they were."""

    def __init__(self, model, folder):
        path = folder / "base.glassnet"
        gn.save(model, path)
        self.members = zip_members(path.read_bytes())
        self.config = json.loads(self.members["config.json"])

    def write(self, path):
        path.write_bytes(_zip({**self.members, "config.json": json.dumps(self.config).encode()}))
        return path


def _refusal(path):
    """The refusal's message, its peak memory in bytes: one line, a ModelFileError."""
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as info:
            gn.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    text = str(info.value)
    assert "\n" not in text and text.startswith(f"Cannot load {str(path)!r}: "), text
    return text, peak


# -- every number of the file is checked ------------------------------------------------------


def test_a_negative_feature_count_is_refused_naming_the_field_by_load_and_info(tmp_path, capsys):
    from glassnet.cli import main

    f = File(quiet_fit(gn.MLPClassifier((16,), max_iter=2, random_state=0), X, Y3 % 2), tmp_path)
    f.config["estimator"]["attributes"]["n_features_in_"] = -16
    path = f.write(tmp_path / "neg.glassnet")
    text, _ = _refusal(path)
    assert text.endswith("config.json: estimator.attributes.n_features_in_ must be an int >= 1, "
                         "got -16.")
    with pytest.raises(SystemExit) as info:
        main(["info", str(path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err and err.count("\n") == 1
    assert "n_features_in_ must be an int >= 1, got -16" in err


def test_a_huge_hidden_layer_is_refused_before_it_is_allocated(tmp_path):
    # hidden_layer_sizes=(2**24,) edited consistently into every part of the config: the
    # estimator's parameters and fitted layers, the network's layer, its weight shapes and
    # the optimizer's buffers. 2**24 units of 4 inputs take 4 * 5 * 2**24 * 4 bytes (1.3 GB)
    # of weights, gradients and Adam moments; the file holds 4 units' worth.
    H = 2**24
    f = File(quiet_fit(gn.MLPClassifier((4,), max_iter=2, random_state=0), X, Y3 % 2), tmp_path)
    c = f.config
    c["estimator"]["params"]["hidden_layer_sizes"] = {"tuple": [H]}
    c["estimator"]["fitted"]["dict"][0][1] = [H]
    c["network"]["layers"][0]["units"] = H
    c["weights"] = [["dense.W", [4, H]], ["dense.b", [H]], ["dense_1.W", [H, 1]],
                    ["dense_1.b", [1]]]
    for buffer in c["optimizer_state"]["buffers"]:
        buffer[1] = 6 * H + 1
    path = f.write(tmp_path / "huge.glassnet")
    assert path.stat().st_size < 10_000
    text, peak = _refusal(path)
    assert "weights.npz/dense.W has shape (4, 4), but the config says (4, 16777216)" in text
    assert peak < 50 * MiB


def test_many_arrays_of_long_strings_are_refused_before_they_add_up(tmp_path):
    # 64 arrays of 2048 empty <U1024 strings: 8 MiB each, 512 MiB in all, from 400 kB of
    # JSON that deflates to a few kB. The arrays of one file share one 16 MiB budget.
    f = File(quiet_fit(gn.MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0), X, X[:, 0]), tmp_path)
    strings = {"array": [""] * 2048, "dtype": "<U1024"}
    f.config["estimator"]["params"]["class_weight"] = [strings] * 64
    path = f.write(tmp_path / "strings.glassnet")
    assert path.stat().st_size < 12_000
    text, peak = _refusal(path)
    assert text.endswith("config.json: its arrays would take more than 16777216 bytes (at one "
                         "of 2048 items of dtype <U1024).")
    assert peak < 50 * MiB


def test_a_network_of_huge_inputs_is_refused_before_it_is_allocated(tmp_path):
    f = File(gn.Sequential([gn.Dense(5)], loss="mse", random_state=0).build(4), tmp_path)
    f.config["network"]["input_shape"] = [2**30]
    f.config["weights"][0][1] = [2**30, 5]
    f.config["optimizer_state"]["buffers"][0][1] = 5 * 2**30 + 5
    text, peak = _refusal(f.write(tmp_path / "wide.glassnet"))
    assert "weights.npz/dense.W has shape (4, 5), but the config says (1073741824, 5)" in text
    assert peak < 50 * MiB


# -- classes_ against the outputs ---------------------------------------------------------------


def test_classes_that_disagree_with_the_outputs_are_refused(tmp_path):
    # Two classes for a 3-output softmax: loaded, predict would index past classes_.
    f = File(quiet_fit(gn.MLPClassifier((4,), max_iter=2, random_state=0), X, Y3), tmp_path)
    f.config["estimator"]["attributes"]["classes_"] = {"array": [0, 1], "dtype": "<i8"}
    text, _ = _refusal(f.write(tmp_path / "c.glassnet"))
    assert text.endswith("config.json: classes_ holds 2 classes and n_outputs_ is 3, but a "
                         "multiclass classifier has one output per class.")


@pytest.mark.parametrize("targets", ["binary", "one class", "multiclass", "multilabel"])
def test_every_kind_of_classifier_loads_back(tmp_path, targets):
    y = {"binary": Y3 % 2, "one class": np.zeros(60, int), "multiclass": Y3,
         "multilabel": np.stack([Y3 == 0, Y3 == 1, X[:, 0] > 0], axis=1).astype(int)}[targets]
    clf = quiet_fit(gn.MLPClassifier((4,), max_iter=3, random_state=0), X, y)
    clf.save(tmp_path / "c.glassnet")
    back = gn.load(tmp_path / "c.glassnet")
    assert np.array_equal(back.predict(X), clf.predict(X))
    assert np.array_equal(back.predict_proba(X), clf.predict_proba(X))


# -- saving never writes what loading refuses ---------------------------------------------------


@pytest.mark.parametrize("est", [
    gn.MLPClassifier((4,), max_iter=3, random_state=0),
    gn.MLPClassifier((4, 3), solver="lbfgs", dropout=[0.1, 0.0], max_iter=3, random_state=0),
    gn.MLPRegressor(hidden_layer_sizes=(4,), loss="poisson", max_iter=3, random_state=0),
])
def test_parameters_set_after_the_fit_save_and_load_the_fitted_network(tmp_path, est):
    y = Y3 if isinstance(est, gn.MLPClassifier) else np.abs(X[:, 0])
    quiet_fit(est, X, y)
    before = est.predict(X)
    est.set_params(activation="tanh", hidden_layer_sizes=(3,), dropout=0.5, solver="sgd",
                   alpha=0.5, **({"loss": "squared_error"} if "loss" in est.get_params() else {}))
    est.save(tmp_path / "m.glassnet")
    back = gn.load(tmp_path / "m.glassnet")
    assert back.get_params() == est.get_params()
    assert np.array_equal(back.predict(X), before)


def test_a_warm_start_refit_with_another_activation_saves_and_loads(tmp_path):
    clf = quiet_fit(gn.MLPClassifier((4,), max_iter=3, random_state=0), X, Y3)
    clf.set_params(warm_start=True, activation="tanh")
    quiet_fit(clf, X, Y3)
    clf.save(tmp_path / "c.glassnet")
    back = gn.load(tmp_path / "c.glassnet")
    assert np.array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert back.model_.layers[0].get_config()["activation"] == {"name": "tanh"}


def test_partial_fit_after_a_solver_change_goes_on_as_without_the_round_trip(tmp_path):
    # set_params(solver="sgd") after an adam fit: partial_fit goes on with the fitted Adam.
    clf = quiet_fit(gn.MLPClassifier((4,), max_iter=3, random_state=0), X, Y3)
    clf.set_params(solver="sgd")
    clf.save(tmp_path / "c.glassnet")
    back = gn.load(tmp_path / "c.glassnet")
    for model in (clf, back):
        model.partial_fit(X, Y3)
    assert np.array_equal(back.model_.params, clf.model_.params)


@pytest.mark.parametrize("schedule", ["adaptive", "invscaling"])
def test_the_current_learning_rate_is_saved_and_training_goes_on_the_same(tmp_path, schedule):
    # adaptive divides the rate by 5 after n_iter_no_change epochs without improvement
    # (tol=10: none ever is); invscaling sets it to init / (t_ + 1) ** power_t each epoch.
    reg = quiet_fit(gn.MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", learning_rate=schedule, tol=10.0,
                               n_iter_no_change=1, max_iter=6, random_state=0), X, X[:, 0])
    lr = reg.model_.optimizer.learning_rate
    assert lr < reg.learning_rate_init / 5
    reg.save(tmp_path / "r.glassnet")
    back = gn.load(tmp_path / "r.glassnet")
    assert back.model_.optimizer.learning_rate == lr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            reg.partial_fit(X, X[:, 0])
            back.partial_fit(X, X[:, 0])
    assert np.array_equal(back.model_.params, reg.model_.params)
    assert back.model_.optimizer.learning_rate == reg.model_.optimizer.learning_rate


# -- the temporary file, permissions, the folder -----------------------------------------------

KILLED_SAVE = textwrap.dedent("""
    import sys, zipfile, glassnet as gn

    writestr = zipfile.ZipFile.writestr

    def hook(self, name, *args, **kwargs):
        if name == "weights.npz":  # config.json is in, the weights are not
            print("writing", flush=True)
            sys.stdin.readline()  # wait for the kill
        return writestr(self, name, *args, **kwargs)

    zipfile.ZipFile.writestr = hook
    gn.save(gn.Sequential([gn.Dense(300)], loss="mse").build(1000), sys.argv[1])
""")


def _temps(folder):
    return sorted(p for p in os.listdir(folder) if p.startswith(".tmp-"))


def _child(*args):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_the_temporary_file_of_a_killed_save_is_deleted_by_the_next_save(tmp_path):
    path = tmp_path / "m.glassnet"
    net = gn.Sequential([gn.Dense(2)], loss="mse", random_state=0).build(3)
    net.save(tmp_path / "other.glassnet")
    proc = _child("-c", KILLED_SAVE, str(path))
    try:
        assert proc.stdout.readline() == "writing\n"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    (stale,) = _temps(tmp_path)
    assert (tmp_path / stale).stat().st_size > 0 and not path.exists()
    # A live writer's temporary file (a process still running) is left alone.
    waiting = _child("-c", "import sys; sys.stdin.readline()")
    live = stale.replace(f"-{stale.split('-')[-2]}-", f"-{waiting.pid}-")
    (tmp_path / live).write_bytes(b"half a file")
    try:
        net.save(path)
        assert _temps(tmp_path) == [live]
    finally:
        waiting.communicate("\n", timeout=30)
    net.save(path)
    assert _temps(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["m.glassnet", "other.glassnet"]
    assert np.array_equal(gn.load(path).params, net.params)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_model_files_get_the_permissions_of_the_umask(tmp_path, umask, mode):
    net = gn.Sequential([gn.Dense(2)], loss="mse", random_state=0).build(3)
    previous = os.umask(umask)
    try:
        net.save(tmp_path / "m.glassnet")
    finally:
        os.umask(previous)
    assert (tmp_path / "m.glassnet").stat().st_mode & 0o777 == mode


@pytest.mark.parametrize("save", ["gn.save", "net.save", "estimator.save"])
def test_a_missing_folder_is_named_before_any_work(tmp_path, monkeypatch, save):
    import glassnet.io.state as state

    if save == "estimator.save":
        model = quiet_fit(gn.MLPRegressor(hidden_layer_sizes=(3,), max_iter=2, random_state=0), X, X[:, 0])
    else:
        model = gn.Sequential([gn.Dense(2)], loss="mse", random_state=0).build(3)

    def no_work(*args, **kwargs):
        raise AssertionError("the network was read before the folder was checked")

    monkeypatch.setattr(state, "network_config", no_work)
    path = tmp_path / "nope" / "m.glassnet"
    with pytest.raises(FileNotFoundError) as info:
        gn.save(model, path) if save == "gn.save" else model.save(path)
    assert str(info.value) == (
        f"Cannot save {str(path)!r}: there is no folder {str(tmp_path / 'nope')!r}; create it "
        "first (os.makedirs) or save elsewhere."
    )
    assert os.listdir(tmp_path) == []
