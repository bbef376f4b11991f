"""How training ends and what it says: bugs found by mutation testing, pinned."""

import json
import signal
import warnings
import zipfile

import numpy as np
import pytest

import glassnet as gn


@pytest.fixture(autouse=True)
def default_sigint():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_an_interrupt_raised_while_the_weights_are_not_finite_restores_the_epochs_start():
    class InfThenInterrupt(gn.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = self.model.get_weights()

        def on_batch_end(self, batch, logs=None):
            if batch == 1:
                self.model.set_weights([np.full_like(w, np.inf) for w in self.model.get_weights()])
                raise KeyboardInterrupt  # a second Ctrl-C, or a user's handler

    cb = InfThenInterrupt()
    net = gn.Sequential([gn.Dense(1)], loss="mse", optimizer=gn.SGD(0.01), random_state=0)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        history = net.fit(np.ones((8, 2)), np.ones(8), epochs=2, batch_size=2, verbose=0,
                          callbacks=[cb])
    for now, start in zip(net.get_weights(), cb.start):
        np.testing.assert_array_equal(now, start)
    assert history.stop_reason == ("interrupted (Ctrl-C) during epoch 1, batch 2; the network "
                                   "keeps the weights from the start of that epoch")


def test_weights_that_turn_non_finite_are_named_so():
    net = gn.Sequential([gn.Dense(1)], loss="mse", optimizer=gn.SGD(1e30), random_state=0)
    with pytest.raises(gn.DivergenceError, match=r"^Training diverged: the weights became "
                                                 r"non-finite at epoch 1, batch 1 "):
        net.fit(np.ones((4, 1)), np.full(4, 1e18), epochs=3, batch_size=None, verbose=0)


def test_a_callback_that_stops_training_is_not_reported_as_completing_it():
    class StopAfterOneBatch(gn.Callback):
        def on_batch_end(self, batch, logs=None):
            self.model.stop_training = True

    net = gn.Sequential([gn.Dense(1)], loss="mse", random_state=0)
    history = net.fit(np.ones((8, 2)), np.ones(8), epochs=5, batch_size=2, verbose=0,
                      callbacks=[StopAfterOneBatch()])
    assert history.epoch == [0]
    assert history.stop_reason == "stopped by a callback (stop_training) after 1 of 5 epochs"
    done = net.fit(np.ones((8, 2)), np.ones(8), epochs=2, verbose=0)
    assert done.stop_reason == "completed 2 epochs"


def test_a_file_whose_config_provokes_a_type_error_is_a_model_file_error(tmp_path):
    # The loader once passed on any TypeError mentioning "path must be" as the caller's.
    path = tmp_path / "m.glassnet"
    gn.Sequential([gn.Dense(2)], loss="mse").build(3).save(path)
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    config = json.loads(members["config.json"])
    config["network"]["optimizer"]["path must be"] = 1
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, raw in members.items():
            zf.writestr(name, raw)
    with pytest.raises(gn.ModelFileError, match=r"^Cannot load '.*m\.glassnet': config\.json: "
                                                r"network: .*'path must be'"):
        gn.load(path)
    with pytest.raises(TypeError, match=r"^path must be a str or os.PathLike, got int"):
        gn.load(3)


def test_a_stop_request_from_a_callback_stops_as_ctrl_c_does_without_a_warning():
    # net.stop_requested (LiveView's Stop button sets it from the server's thread): the fit
    # ends after the current batch, the unfinished epoch is not recorded, and the network
    # keeps the best epoch's weights by val_loss, as for Ctrl-C.
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 2, 64)

    class StopAt(gn.Callback):
        def on_train_begin(self, logs=None):
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append((logs["val_loss"], self.model.params.copy()))

        def on_batch_end(self, batch, logs=None):
            if len(self.weights) == 3 and batch == 1:
                self.model.stop_requested = "stopped by the test"

    stop = StopAt()
    net = gn.Sequential([gn.Dense(4, activation="tanh"), gn.Dense(2, activation="softmax")],
                        optimizer=gn.Adam(0.05), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning, unlike Ctrl-C
        history = net.fit(X, y, epochs=10, batch_size=8, validation_data=(X, 1 - y),
                          callbacks=[stop], verbose=0)
    assert len(history.history["loss"]) == 3 and history.interrupted
    best = min(range(3), key=lambda i: stop.weights[i][0])
    assert history.stop_reason.startswith("stopped by the test during epoch 4, batch 2; the "
                                          f"network keeps the weights of epoch {best + 1}")
    np.testing.assert_array_equal(net.params, stop.weights[best][1])
