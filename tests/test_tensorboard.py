"""gn.TensorBoard: event files read back with TensorBoard's own reader, against History."""

import builtins
import warnings

import numpy as np
import pytest

import glassnet as gn

pytest.importorskip("tensorboardX")
event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 4))
Y = (X[:, 0] + X[:, 1] > 0).astype(int)


def read(folder):
    """``{tag: [(step, value), ...]}`` of every event file in ``folder``, as TensorBoard
    reads them."""
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)]
            for tag in acc.Tags()["scalars"]}


def classifier():
    return gn.Sequential([gn.Dense(5, activation="tanh"), gn.Dense(2, activation="softmax")],
                         optimizer=gn.Adam(0.01), random_state=0)


def assert_curve(points, values):
    """One point per epoch, steps 0..E-1, the values History holds (float32 in the file)."""
    assert [step for step, _ in points] == list(range(len(values)))
    assert [value for _, value in points] == pytest.approx(values, rel=1e-6)


class BatchLosses(gn.Callback):
    def __init__(self):
        super().__init__()
        self.losses = []

    def on_batch_end(self, batch, logs=None):
        self.losses.append(logs["loss"])


def test_epoch_tags_match_keras_and_history(tmp_path):
    net = classifier()
    history = net.fit(X, Y, epochs=3, batch_size=8, validation_split=0.25, verbose=0,
                      callbacks=[gn.GradientStats(warn=False), gn.TensorBoard(tmp_path)])
    h = history.history
    train, val = read(tmp_path / "train"), read(tmp_path / "validation")
    per_layer = {key for key in h if "/" in key}
    assert {"grad_norm/dense", "grad_norm/dense_1", "saturated/dense"} <= per_layer
    assert set(train) == {"epoch_loss", "epoch_learning_rate"} | per_layer
    assert set(val) == {"epoch_loss", "epoch_accuracy"}
    assert_curve(train["epoch_loss"], h["loss"])
    assert_curve(train["epoch_learning_rate"], h["learning_rate"])
    for key in per_layer:
        assert_curve(train[key], h[key])
    assert_curve(val["epoch_loss"], h["val_loss"])
    assert_curve(val["epoch_accuracy"], h["val_accuracy"])


def test_regression_writes_r2(tmp_path):
    net = gn.Sequential([gn.Dense(3, activation="relu"), gn.Dense(1)], loss="mse",
                        random_state=0)
    history = net.fit(X, X[:, 0], epochs=2, validation_split=0.25, verbose=0,
                      callbacks=[gn.TensorBoard(tmp_path)])
    val = read(tmp_path / "validation")
    assert set(val) == {"epoch_loss", "epoch_r2"}
    assert_curve(val["epoch_r2"], history.history["val_r2"])
    assert set(read(tmp_path / "train")) == {"epoch_loss", "epoch_learning_rate"}


@pytest.mark.parametrize("update_freq, every", [(2, 2), ("batch", 1), ("epoch", None)])
def test_batch_loss_every_n_batches(tmp_path, update_freq, every):
    recorder = BatchLosses()
    classifier().fit(X, Y, epochs=3, batch_size=8, verbose=0,  # 5 batches an epoch
                     callbacks=[gn.TensorBoard(tmp_path, update_freq=update_freq), recorder])
    train = read(tmp_path / "train")
    if every is None:
        assert "batch_loss" not in train
        return
    steps = list(range(every, 16, every))  # the global batch, 1-based, as Keras's
    assert [step for step, _ in train["batch_loss"]] == steps
    assert [v for _, v in train["batch_loss"]] == pytest.approx(
        [recorder.losses[s - 1] for s in steps], rel=1e-6)
    assert len(train["epoch_loss"]) == 3


def test_files_are_readable_while_training(tmp_path):
    class Reader(gn.Callback):
        records_logs = True  # a recorder too: called after TensorBoard, as listed

        def on_train_begin(self, logs=None):
            self.seen = []

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append(len(read(tmp_path / "train").get("epoch_loss", [])))

    reader = Reader()
    classifier().fit(X, Y, epochs=3, verbose=0, callbacks=[gn.TensorBoard(tmp_path), reader])
    assert reader.seen == [1, 2, 3]


def test_a_resumed_run_continues_its_curves(tmp_path):
    net = classifier()
    first = net.fit(X, Y, epochs=2, verbose=0, callbacks=[gn.TensorBoard(tmp_path)])
    net.save(tmp_path / "net.glassnet")
    second = classifier().fit(X, Y, epochs=4, verbose=0, resume_from=tmp_path / "net.glassnet",
                              callbacks=[gn.TensorBoard(tmp_path)])
    assert len(list((tmp_path / "train").iterdir())) == 2  # one event file per fit
    assert_curve(read(tmp_path / "train")["epoch_loss"],
                 first.history["loss"] + second.history["loss"])


def test_the_estimators_take_it(tmp_path):
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning

    clf = gn.MLPClassifier(hidden_layer_sizes=(5,), max_iter=4, random_state=0,
                           callbacks=[gn.TensorBoard(tmp_path)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, Y)
    assert_curve(read(tmp_path / "train")["epoch_loss"], clf.history_.history["loss"])
    assert clf.n_iter_ == 4
    clone(clf)  # its parameters deep-copy once fitted: no open file is kept


def test_a_missing_tensorboardx_says_how_to_install(monkeypatch):
    real = builtins.__import__

    def no_tensorboardx(name, *args, **kwargs):
        if name.split(".")[0] == "tensorboardX":
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboardx)
    with pytest.raises(ImportError, match=r'pip install "glassnet\[tensorboard\]"') as info:
        gn.TensorBoard("logs")
    assert "\n" not in str(info.value) and info.value.__cause__ is None


@pytest.mark.parametrize("kwargs, error, name", [
    ({"log_dir": 3}, TypeError, "log_dir"),
    ({"log_dir": None}, TypeError, "log_dir"),
    ({"update_freq": 0}, ValueError, "update_freq"),
    ({"update_freq": -2}, ValueError, "update_freq"),
    ({"update_freq": 1.5}, ValueError, "update_freq"),
    ({"update_freq": True}, ValueError, "update_freq"),
    ({"update_freq": "often"}, ValueError, "update_freq"),
])
def test_bad_arguments_say_so_in_one_line(kwargs, error, name):
    with pytest.raises(error, match=name) as info:
        gn.TensorBoard(**kwargs)
    assert "\n" not in str(info.value)


def test_an_unwritable_log_dir_is_said_before_training(tmp_path):
    (tmp_path / "file").write_text("")
    recorder = BatchLosses()
    with pytest.raises(OSError, match="log_dir=") as info:
        classifier().fit(X, Y, epochs=2, verbose=0,
                         callbacks=[gn.TensorBoard(tmp_path / "file"), recorder])
    assert "\n" not in str(info.value)
    assert recorder.losses == []  # no batch ran


def test_gradient_stats_after_tensorboard_in_the_list_is_still_written(tmp_path):
    # fit calls the callbacks that record the logs (History, TensorBoard) after the
    # others, so GradientStats' numbers reach the files wherever it stands in the list.
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    net = gn.Sequential([gn.Dense(3, activation="relu"), gn.Dense(2, activation="softmax")],
                        random_state=0)
    history = net.fit(X, y, epochs=2, verbose=0,
                      callbacks=[gn.TensorBoard(tmp_path), gn.GradientStats()])
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train = EventAccumulator(str(tmp_path / "train"))
    train.Reload()
    layer_tags = [t for t in train.Tags()["scalars"] if t.startswith("grad_norm/")]
    assert layer_tags and all(len(train.Scalars(t)) == 2 for t in layer_tags)
    assert sorted(layer_tags) == sorted(k for k in history.history if k.startswith("grad_norm/"))
