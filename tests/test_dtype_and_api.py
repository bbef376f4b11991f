"""Dtype policy, memory, the callback protocol, summary() and the public hooks."""

import pickle
import tracemalloc

import numpy as np
import pytest
from conftest import summary_text

import glassnet as gn


def net_for(dtype="float32", **kwargs):
    return gn.Sequential([gn.Dense(8, activation="relu"), gn.Dense(3, activation="softmax")],
                         random_state=0, dtype=dtype, **kwargs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("input_dtype", [np.float32, np.float64, np.int64])
def test_the_network_dtype_is_kept_end_to_end(dtype, input_dtype):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(40, 5)) * 3).astype(input_dtype)
    y = rng.integers(0, 3, size=40)
    net = net_for(dtype)
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    assert net.params.dtype == dtype and net.grads.dtype == dtype
    assert all(p.dtype == dtype for p in net.parameters())
    assert all(s.dtype == dtype for s in net.optimizer.state.values())
    assert net.predict(X).dtype == dtype  # no silent upcast of float32 by float64 input
    loss, grads = net.compute_gradients(X, y)
    assert all(g.dtype == dtype for g in grads)


def test_fit_makes_no_copy_of_the_training_set():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200_000, 50)).astype(np.float32)  # 40 MB
    y = rng.integers(0, 3, size=len(X))
    net = net_for()
    tracemalloc.start()
    try:
        net.fit(X, y, epochs=1, batch_size=256, validation_split=0.1, verbose=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The shuffle order (1.6 MB of int64) and the validation predictions are allowed.
    assert peak < 0.15 * X.nbytes, f"peak {peak / 1e6:.1f} MB for {X.nbytes / 1e6:.0f} MB of X"


def test_parameters_are_views_into_one_flat_buffer():
    net = net_for()
    net.build(5)
    W1, b1, W2, b2 = net.parameters()
    assert net.parameter_names() == ["dense.W", "dense.b", "dense_1.W", "dense_1.b"]
    assert [p.shape for p in net.parameters()] == [(5, 8), (8,), (8, 3), (3,)]
    for p in net.parameters():
        assert np.shares_memory(p, net.params)
    assert net.count_params() == 5 * 8 + 8 + 8 * 3 + 3
    W2[0, 0] = 123.0
    assert 123.0 in net.params


def test_pickle_round_trip_keeps_the_views_bound():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 5)), rng.integers(0, 3, size=30)
    net = net_for()
    net.fit(X, y, epochs=1, verbose=0)
    clone = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(clone.predict(X), net.predict(X))
    clone.fit(X, y, epochs=1, verbose=0)  # training the clone moves the clone's own buffer
    assert np.shares_memory(clone.parameters()[0], clone.params)
    assert not np.array_equal(clone.predict(X), net.predict(X))


class Recorder(gn.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_end(self, batch, logs=None):
        self.calls.append(f"batch {batch}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch} {sorted(logs)}")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def test_callback_hooks_are_called_in_order_with_logs():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(10, 5)), rng.integers(0, 3, size=10)
    rec = Recorder()
    net_for().fit(X, y, epochs=2, batch_size=4, validation_data=(X, y), callbacks=[rec],
                  verbose=0)
    keys = "['learning_rate', 'loss', 'time', 'val_accuracy', 'val_loss']"
    assert rec.calls == [
        "train_begin",
        "epoch_begin 0", "batch 0", "batch 1", "batch 2", f"epoch_end 0 {keys}",
        "epoch_begin 1", "batch 0", "batch 1", "batch 2", f"epoch_end 1 {keys}",
        "train_end",
    ]
    assert rec.params["steps"] == 3 and rec.params["epochs"] == 2


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(60, 5)), rng.integers(0, 3, size=60)  # noise: it overfits

    class Snapshots(gn.Callback):
        def on_train_begin(self, logs=None):
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append(self.model.params.copy())

    snaps = Snapshots()
    stop = gn.EarlyStopping(monitor="val_loss", patience=2)
    net = net_for(optimizer=gn.Adam(0.05))
    history = net.fit(X[:40], y[:40], epochs=100, validation_data=(X[40:], y[40:]),
                      callbacks=[snaps, stop], verbose=0)
    best = int(np.argmin(history.history["val_loss"]))
    assert stop.best_epoch == best and best < len(history.epoch) - 1
    np.testing.assert_array_equal(net.params, snaps.weights[best])
    assert net.evaluate(X[40:], y[40:])["loss"] == pytest.approx(min(history.history["val_loss"]))


def test_summary_lists_layers_shapes_and_parameter_counts():
    net = gn.Sequential([gn.Dense(64, activation="relu", input_dim=784), gn.Dropout(0.2),
                         gn.Dense(10), gn.Softmax()])
    text = summary_text(net)
    lines = text.splitlines()
    assert any("dense (Dense)" in l and "(None, 64)" in l and "50240" in l for l in lines)
    assert any("dropout (Dropout)" in l and "(None, 64)" in l for l in lines)
    assert any("dense_1 (Dense)" in l and "(None, 10)" in l and "650" in l for l in lines)
    assert any("softmax (Softmax)" in l and "(None, 10)" in l for l in lines)
    assert "Total params: 50890" in text  # 784·64 + 64 + 64·10 + 10
    assert "cross_entropy" in text  # inferred from the softmax output


def test_loss_is_inferred_from_the_output_layer():
    assert net_for().build(4).loss.name == "cross_entropy"
    sig = gn.Sequential([gn.Dense(1, activation="sigmoid")]).build(4)
    assert sig.loss.name == "binary_cross_entropy"
    assert gn.Sequential([gn.Dense(1)]).build(4).loss.name == "mse"


def test_verbose_prints_a_line_per_epoch_and_per_batch(capsys):
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(8, 5)), rng.integers(0, 3, size=8)
    net_for().fit(X, y, epochs=2, batch_size=4, verbose=1)
    lines = capsys.readouterr().err.strip().splitlines()  # progress goes to stderr
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2 - loss: ")
    net_for().fit(X, y, epochs=1, batch_size=4, verbose=2)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and "grad norm" in lines[0]
