"""The fit loop's user-visible details that mutation testing found unchecked (training.py).

What ``History`` says when training completes, the messages and the weights kept after
divergence and after Ctrl-C, validation metrics with sample weights against scikit-learn,
validation predicted in chunks of 8192 rows, and full-batch training ignoring ``shuffle``.
"""

import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score

import glassnet as gn
from glassnet.training import fit as training_fit  # called directly for its own defaults


def regression(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=n)
    return X, y


def linear_net(lr=0.01):
    return gn.Sequential([gn.Dense(1)], loss="mse", optimizer=gn.SGD(lr), random_state=0)


class Recorder(gn.Callback):
    """Copies of the weights (public get_weights) at each epoch's start and after each batch."""

    def __init__(self):
        super().__init__()
        self.at_epoch_begin, self.after_batch, self.epoch = [], [], 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.at_epoch_begin.append(self.model.get_weights())

    def on_batch_end(self, batch, logs=None):
        self.after_batch.append((self.epoch, batch, self.model.get_weights()))


class SetWeightsAt(gn.Callback):
    """After batch ``at = (epoch, batch)``: set every weight to ``value``, then optionally
    press Ctrl-C (a SIGINT to this process) or raise KeyboardInterrupt (a user's handler)."""

    def __init__(self, at, value, then=None):
        super().__init__()
        self.at, self.value, self.then, self.epoch = at, value, then, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if (self.epoch, batch) != self.at:
            return
        if self.value is not None:
            self.model.set_weights([np.full_like(w, self.value) for w in self.model.get_weights()])
        if self.then == "sigint":
            os.kill(os.getpid(), signal.SIGINT)
        elif self.then == "raise":
            raise KeyboardInterrupt


class RaiseAtEpochEnd(gn.Callback):
    """A user's callback interrupting (KeyboardInterrupt) after epoch ``epoch``'s batches."""

    def __init__(self, epoch):
        super().__init__()
        self.at = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


@pytest.fixture
def default_sigint():
    """Python's own Ctrl-C handler for the test, whatever the parent shell left (ignored
    under nohup / trap '' INT); restored afterwards."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# -- History ------------------------------------------------------------------------------


def test_history_of_a_completed_fit_says_completed_n_epochs_and_not_interrupted():
    X, y = regression()
    history = linear_net().fit(X, y, epochs=3, batch_size=10, verbose=0)
    assert history.stop_reason == "completed 3 epochs"
    assert history.interrupted is False
    assert history.epoch == [0, 1, 2]


def test_a_users_history_has_no_stop_reason_while_training_runs():
    X, y = regression()
    mine = gn.History()
    seen = []

    class Look(gn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((mine.stop_reason, mine.interrupted))

    linear_net().fit(X, y, epochs=2, batch_size=20, verbose=0, callbacks=[mine, Look()])
    assert seen == [(None, False), (None, False)]
    assert mine.stop_reason == "completed 2 epochs" and mine.interrupted is False


# -- divergence: the message and the weights kept -------------------------------------------


def test_divergence_with_huge_finite_weights_puts_back_weights_that_predict():
    X, y = regression()
    net, rec = linear_net(), Recorder()
    # After epoch 2's batch 2 every weight is 1e30 (finite): batch 3's loss overflows.
    # Those weights would predict inf; the start of epoch 2 (checked by its first batch,
    # a lower loss than epoch 1's first) is kept instead.
    with pytest.warns(RuntimeWarning) as caught:
        history = net.fit(X, y, epochs=5, batch_size=10, verbose=0, on_divergence="warn",
                          callbacks=[rec, SetWeightsAt((1, 1), 1e30)])
    reason = ("Training diverged: the loss became inf at epoch 2, batch 3 (learning_rate=0.01); "
              "the network keeps the weights from the start of that epoch.")
    assert history.stop_reason == reason  # why it stopped, without fit's advice
    assert [str(w.message) for w in caught] == [
        reason + " Lower the learning rate, scale the inputs, or clip gradients (clipnorm=...)."]
    assert net.stop_training is True
    assert same_weights(net.get_weights(), rec.at_epoch_begin[1])
    assert np.isfinite(net.predict(X)).all()


def test_divergence_with_infinite_weights_puts_back_the_weights_of_the_epochs_start():
    X, y = regression()
    net, rec = linear_net(), Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy's invalid-value warnings on inf weights
        with pytest.raises(gn.DivergenceError) as info:
            net.fit(X, y, epochs=5, batch_size=10, verbose=0,
                    callbacks=[rec, SetWeightsAt((1, 1), np.inf)])
    assert str(info.value) == (
        "Training diverged: the loss became nan at epoch 2, batch 3 (learning_rate=0.01); "
        "the network keeps the weights from the start of that epoch. Lower the learning "
        "rate, scale the inputs, or clip gradients (clipnorm=...). Pass on_divergence='warn' "
        "to stop with a warning."
    )
    assert len(rec.at_epoch_begin) == 2
    assert same_weights(net.get_weights(), rec.at_epoch_begin[1])
    assert not same_weights(rec.at_epoch_begin[0], rec.at_epoch_begin[1])  # epoch 1 trained


# -- Ctrl-C: the message and the weights kept -----------------------------------------------


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_with_infinite_weights_and_no_validation_puts_back_the_epochs_start():
    X, y = regression()
    net, rec = linear_net(), Recorder()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(X, y, epochs=5, batch_size=10, verbose=0,
                          callbacks=[rec, SetWeightsAt((1, 1), np.inf, then="sigint")])
    reason = ("interrupted (Ctrl-C) during epoch 2, batch 2; the network keeps the weights "
              "from the start of that epoch")
    assert history.stop_reason == reason and history.interrupted is True
    assert [str(w.message) for w in caught].count(f"Training {reason}.") == 1
    assert same_weights(net.get_weights(), rec.at_epoch_begin[1])
    assert np.isfinite(np.concatenate([w.ravel() for w in net.get_weights()])).all()
    assert net.stop_training is True


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_with_validation_names_the_best_epoch_and_its_val_loss():
    X, y = regression(60)
    Xv, yv = regression(30, seed=1)
    net = linear_net(0.02)
    with pytest.warns(RuntimeWarning, match="Training interrupted"):
        history = net.fit(X, y, epochs=50, batch_size=10, verbose=0, validation_data=(Xv, yv),
                          callbacks=[SetWeightsAt((3, 1), None, then="sigint")])
    losses = history.history["val_loss"]
    assert len(losses) == 3  # epochs 1-3 ran to their end
    best = int(np.argmin(losses))
    # The kept weights are the best epoch's: their MSE on the validation set, computed
    # here with numpy and scikit-learn, is the recorded best val_loss.
    W, b = net.get_weights()
    val_mse = mean_squared_error(yv, Xv @ W.astype(np.float64)[:, 0] + float(b[0]))
    assert val_mse == pytest.approx(losses[best], rel=1e-5)
    assert history.stop_reason == (
        f"interrupted (Ctrl-C) during epoch 4, batch 2; the network keeps the weights of "
        f"epoch {best + 1} (best val_loss {losses[best]:.6g})"
    )


def test_keyboard_interrupt_from_a_callback_after_the_batches_names_only_the_epoch():
    X, y = regression()
    net = linear_net()
    with pytest.warns(RuntimeWarning) as caught:
        history = net.fit(X, y, epochs=5, batch_size=10, verbose=0,
                          callbacks=[RaiseAtEpochEnd(1)])
    reason = "interrupted (Ctrl-C) during epoch 2; the network keeps the last weights"
    assert history.stop_reason == reason and history.interrupted is True
    assert [str(w.message) for w in caught] == [f"Training {reason}."]
    assert net.stop_training is True


def test_interrupting_an_estimators_last_epoch_gives_no_convergence_warning():
    from sklearn.exceptions import ConvergenceWarning

    X, y = regression()
    reg = gn.MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0,
                          callbacks=[RaiseAtEpochEnd(2)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.fit(X, y)
    kinds = [w.category for w in caught]
    assert RuntimeWarning in kinds  # the interruption is reported ...
    assert ConvergenceWarning not in kinds  # ... and not taken for running out of epochs


# -- validation metrics -------------------------------------------------------------------


def test_validation_loss_and_r2_use_the_validation_sample_weights():
    X, y = regression()
    Xv, yv = regression(25, seed=1)
    wv = np.linspace(0.1, 3.0, 25)
    net = linear_net()
    history = net.fit(X, y, epochs=1, batch_size=10, verbose=0, validation_data=(Xv, yv, wv))
    W, b = net.get_weights()  # the weights the (last) epoch's validation saw
    P = Xv @ W.astype(np.float64)[:, 0] + float(b[0])
    assert history.history["val_loss"][0] == pytest.approx(
        mean_squared_error(yv, P, sample_weight=wv), rel=1e-5)
    assert history.history["val_r2"][0] == pytest.approx(
        r2_score(yv, P, sample_weight=wv), rel=1e-5)
    # The weights matter here: unweighted, both numbers are different.
    assert mean_squared_error(yv, P) != pytest.approx(mean_squared_error(yv, P, sample_weight=wv))
    assert r2_score(yv, P) != pytest.approx(r2_score(yv, P, sample_weight=wv))


def test_binary_validation_accuracy_thresholds_at_one_half_with_sample_weights():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 2))
    y = (X[:, 0] + 0.8 * rng.normal(size=80) > 0).astype(int)
    Xv = rng.normal(size=(60, 2))
    yv = (Xv[:, 0] + 0.8 * rng.normal(size=60) > 0).astype(int)
    wv = rng.uniform(0.1, 2.0, size=60)
    net = gn.Sequential([gn.Dense(1, activation="sigmoid")], optimizer=gn.SGD(0.1),
                        random_state=0)
    history = net.fit(X, y, epochs=2, batch_size=16, verbose=0, validation_data=(Xv, yv, wv))
    W, b = net.get_weights()
    p = 1.0 / (1.0 + np.exp(-(Xv @ W.astype(np.float64)[:, 0] + float(b[0]))))
    expected = accuracy_score(yv, p > 0.5, sample_weight=wv)
    assert 0.5 < expected < 1.0 and expected != accuracy_score(yv, p > 0.5)
    # (the network keeps sample weights as float32: agreement to ~1e-8)
    assert history.history["val_accuracy"][-1] == pytest.approx(expected, rel=1e-6)
    assert history.history["val_loss"][-1] == pytest.approx(
        log_loss(yv, p, sample_weight=wv), rel=1e-5)


class RowsSeen(gn.Layer):
    """An identity layer that records how many rows each prediction (not training) pass
    sends through the network at once."""

    def __init__(self):
        super().__init__()
        self.rows = []

    def forward(self, A, training=False):
        if not training:
            self.rows.append(len(A))
        return A

    def backward(self, dOut, need_input_grad=True):
        return dOut


def test_validation_of_more_than_8192_rows_runs_in_chunks_and_matches_numpy():
    X, y = regression(50)
    Xv, yv = regression(2 * 8192 + 5, seed=2)
    spy = RowsSeen()
    net = gn.Sequential([spy, gn.Dense(1)], loss="mse", optimizer=gn.SGD(0.01), random_state=0)
    history = net.fit(X, y, epochs=1, batch_size=None, verbose=0, validation_data=(Xv, yv))
    assert spy.rows == [8192, 8192, 5]  # memory stays bounded: chunks of 8192 rows
    W, b = net.get_weights()
    P = Xv @ W.astype(np.float64)[:, 0] + float(b[0])
    assert history.history["val_loss"][0] == pytest.approx(mean_squared_error(yv, P), rel=1e-5)
    assert history.history["val_r2"][0] == pytest.approx(r2_score(yv, P), rel=1e-5)


# -- full batch -----------------------------------------------------------------------------


def test_full_batch_training_ignores_shuffle_exactly():
    """One batch holds every sample, so shuffling has nothing to reorder: it must neither
    permute the rows (a different summation order) nor draw from the generator (which also
    drives dropout)."""
    X, y = regression(30)

    def train(shuffle):
        net = gn.Sequential([gn.Dense(6, activation="tanh"), gn.Dropout(0.3), gn.Dense(1)],
                            loss="mse", optimizer=gn.SGD(0.05), random_state=0)
        net.fit(X, y, epochs=4, batch_size=None, shuffle=shuffle, verbose=0)
        return net.get_weights()

    assert same_weights(train(True), train(False))


# -- validation_split and validation_data ---------------------------------------------------


def test_validation_split_holds_out_the_last_rows_and_refuses_an_empty_side():
    X, y = regression(40)
    sizes = []

    class Sizes(gn.Callback):
        def on_batch_end(self, batch, logs=None):
            sizes.append(logs["size"])

    net = linear_net()
    history = net.fit(X, y, epochs=1, batch_size=None, verbose=0, validation_split=0.25,
                      callbacks=[Sizes()])
    assert sizes == [30]  # int(40 * 0.75) rows train, the last 10 validate
    W, b = net.get_weights()
    P = X[30:] @ W.astype(np.float64)[:, 0] + float(b[0])
    assert history.history["val_loss"][0] == pytest.approx(mean_squared_error(y[30:], P),
                                                           rel=1e-5)
    with pytest.raises(ValueError) as info:
        linear_net().fit(X, y, verbose=0, validation_split=0.99)
    assert str(info.value) == (
        "validation_split=0.99 leaves an empty training or validation set for 40 samples; "
        "use more samples or another split."
    )


@pytest.mark.parametrize("bad", [lambda X, y: X, lambda X, y: [X], lambda X, y: (X, y, y, y)],
                         ids=["array", "one-item-list", "four-tuple"])
def test_validation_data_must_be_a_tuple_of_two_or_three(bad):
    X, y = regression()
    with pytest.raises(ValueError) as info:
        linear_net().fit(X, y, verbose=0, validation_data=bad(X, y))
    assert str(info.value) == "validation_data must be a tuple (X_val, y_val[, sample_weight])."


# -- fit's refusals, word for word ----------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"epochs": 0}, "epochs must be an integer >= 1, got 0."),
    ({"epochs": None}, "epochs must be an integer >= 1, got None."),
    ({"epochs": 2.5}, "epochs must be an integer >= 1, got 2.5."),
    ({"epochs": True}, "epochs must be an integer >= 1, got True."),
    ({"batch_size": 0}, "batch_size must be an integer >= 1 or None, got 0."),
    ({"batch_size": True}, "batch_size must be an integer >= 1 or None, got True."),
    ({"verbose": 3}, "verbose must be 0, 1 or 2, got 3."),
    ({"on_divergence": "ignore"}, "on_divergence must be 'raise' or 'warn', got 'ignore'."),
    ({"callbacks": ["x"]}, "callbacks must be glassnet Callback instances, got 'x'."),
    ({"validation_split": 1.5}, "validation_split must be a number in (0, 1), got 1.5."),
])
def test_fit_refuses_bad_arguments_word_for_word(kwargs, message):
    X, y = regression()
    with pytest.raises(ValueError) as info:
        linear_net().fit(X, y, **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize("verbose", [0, 1, 2, False, True])
def test_fit_takes_batch_size_one_and_every_verbose_level(verbose, capsys):
    X, y = regression(4)
    history = linear_net().fit(X, y, epochs=1, batch_size=1, verbose=verbose)
    assert history.epoch == [0]
    capsys.readouterr()


def test_a_split_leaving_one_training_sample_is_fine():
    X, y = regression(2)
    history = linear_net().fit(X, y, epochs=1, verbose=0, validation_split=0.5)
    assert len(history.history["val_loss"]) == 1


def test_a_new_callback_has_no_model_and_empty_params():
    cb = gn.Callback()
    assert cb.model is None and cb.params == {}


def test_callbacks_get_the_run_parameters_and_logs_with_these_keys():
    X, y = regression(40)
    seen = {}

    class Look(gn.Callback):
        def on_train_begin(self, logs=None):
            seen["params"] = dict(self.params)

    net = linear_net()
    history = net.fit(X, y, epochs=3, batch_size=16, verbose=0, validation_split=0.25,
                      callbacks=[Look()])
    # 30 training rows in batches of 16: ceil(30 / 16) = 2 steps per epoch.
    assert seen["params"] == {"epochs": 3, "steps": 2, "samples": 30,
                              "metrics": ["loss", "learning_rate", "val_loss", "val_r2"]}
    assert set(history.history) == {"loss", "learning_rate", "val_loss", "val_r2", "time"}
    assert history.history["learning_rate"] == [0.01] * 3
    assert all(isinstance(t, float) and t >= 0 for t in history.history["time"])
    assert net.history is history
    assert repr(history) == "<History: 3 epochs; loss, learning_rate, val_loss, val_r2, time>"
    start = time.perf_counter()
    history = linear_net().fit(X, y, epochs=2, verbose=0, callbacks=[Look()])
    elapsed = time.perf_counter() - start  # each epoch's time is a part of the whole fit's
    assert all(0 <= t <= elapsed for t in history.history["time"])
    assert seen["params"]["metrics"] == ["loss", "learning_rate"]  # no validation
    net = gn.Sequential([gn.Dense(1, activation="sigmoid")], random_state=0)
    net.fit(X, (y > 0).astype(int), epochs=1, verbose=0, validation_split=0.25,
            callbacks=[Look()])
    assert seen["params"]["metrics"] == ["loss", "learning_rate", "val_loss", "val_accuracy"]


def test_target_loss_stops_training():
    X, y = regression()
    history = linear_net().fit(X, y, epochs=50, verbose=0, target_loss=1e9)
    assert history.epoch == [0] and history.stop_reason.startswith("target loss reached")


# -- sample weights in the loop and in the epoch loss --------------------------------------


def test_a_zero_weight_samples_target_changes_nothing_in_shuffled_batches():
    X, y = regression(30)
    w = np.ones(30)
    w[7] = 0.0

    def train(target):
        t = y.copy()
        t[7] = target
        net = linear_net()
        history = net.fit(X, t, epochs=3, batch_size=8, verbose=0, sample_weight=w)
        return net.get_weights(), history.history["loss"]

    (w_a, loss_a), (w_b, loss_b) = train(1e3), train(-1e3)
    assert same_weights(w_a, w_b) and loss_a == loss_b


def test_shuffled_minibatches_differ_from_unshuffled_ones():
    X, y = regression(30)
    runs = []
    for shuffle in (True, False):
        net = linear_net()
        net.fit(X, y, epochs=2, batch_size=8, shuffle=shuffle, verbose=0)
        runs.append(net.get_weights())
    assert not same_weights(*runs)


def test_the_epoch_loss_is_the_weighted_mean_of_the_batch_losses_before_each_step():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]])
    y = np.array([1.0, 2.0, 0.0, 1.0])
    w = np.array([1.0, 1.0, 3.0, 1.0])
    net = gn.Sequential([gn.Dense(1, kernel_initializer=np.zeros((2, 1)))], loss="mse",
                        optimizer=gn.SGD(0.1), dtype="float64")
    history = net.fit(X, y, epochs=1, batch_size=2, shuffle=False, verbose=0, sample_weight=w)
    # Batch 1 (rows 0, 1; weights 1, 1) at W = 0, b = 0: loss (1 + 4) / 2 = 2.5;
    # dL/dp = 2 (p - y) w / sum w = [-1, -2]: dW = [-1, -2], db = -3; SGD(0.1):
    # W = [0.1, 0.2], b = 0.3. Batch 2 (rows 2, 3; weights 3, 1): p = [0.6, 0.5],
    # loss (3 * 0.36 + 1 * 0.25) / 4 = 0.3325. Epoch: (2.5 * 2 + 0.3325 * 4) / 6.
    assert history.history["loss"] == [pytest.approx((2.5 * 2 + 0.3325 * 4) / 6, rel=1e-12)]


def test_an_epoch_in_which_no_sample_counts_has_loss_zero():
    X, y = regression(6)
    history = linear_net().fit(X, y, epochs=1, batch_size=3, verbose=0,
                               sample_weight=np.zeros(6))
    assert history.history["loss"] == [0.0]


# -- epochs done: what a saved network resumes from ------------------------------------------


def test_resuming_continues_from_the_epochs_done(tmp_path):
    X, y = regression()
    whole = linear_net()
    whole.fit(X, y, epochs=3, batch_size=8, verbose=0)
    part = linear_net()
    part.fit(X, y, epochs=2, batch_size=8, verbose=0)
    part.save(tmp_path / "two.glassnet")
    resumed = linear_net()
    history = resumed.fit(X, y, epochs=3, batch_size=8, verbose=0,
                          resume_from=tmp_path / "two.glassnet")
    assert history.epoch == [2] and history.stop_reason == "completed 3 epochs"
    assert same_weights(resumed.get_weights(), whole.get_weights())
    again = linear_net().fit(X, y, epochs=2, verbose=0, resume_from=tmp_path / "two.glassnet")
    assert again.epoch == [] and again.stop_reason == "already trained 2 epochs (epochs=2)"


def test_a_network_diverging_in_its_first_epoch_has_no_epoch_done(tmp_path):
    X, y = regression()
    net = linear_net()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.fit(X, y, epochs=3, batch_size=10, verbose=0, on_divergence="warn",
                callbacks=[SetWeightsAt((0, 1), np.inf)])  # back to the initial weights
    net.save(tmp_path / "d.glassnet")
    history = linear_net().fit(X, y, epochs=2, batch_size=10, verbose=0,
                               resume_from=tmp_path / "d.glassnet")
    assert history.epoch == [0, 1]


# -- Ctrl-C after the batches, and ties for the best epoch ----------------------------------


class SigintAtEpochEnd(gn.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.at = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.usefixtures("default_sigint")
def test_ctrl_c_during_the_epochs_callbacks_stops_after_that_epoch():
    X, y = regression()
    with pytest.warns(RuntimeWarning):
        history = linear_net().fit(X, y, epochs=5, batch_size=10, verbose=0,
                                   callbacks=[SigintAtEpochEnd(1)])
    assert history.epoch == [0, 1] and history.interrupted is True
    assert history.stop_reason == ("interrupted (Ctrl-C) during epoch 2; the network keeps "
                                   "the last weights")


@pytest.mark.usefixtures("default_sigint")
def test_with_equal_validation_losses_the_first_best_epoch_is_kept():
    X = np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5], [2.0, 2.0], [1.0, 0.0], [0.0, 1.0]])
    y = X @ np.array([2.0, -1.0]) + 0.5  # fitted exactly: zero gradients, equal val_losses
    net = gn.Sequential([gn.Dense(1, kernel_initializer=np.array([[2.0], [-1.0]]),
                                  bias_initializer=0.5)],
                        loss="mse", optimizer=gn.SGD(0.1), dtype="float64")
    with pytest.warns(RuntimeWarning):
        history = net.fit(X, y, epochs=5, batch_size=2, verbose=0, validation_split=0.5,
                          callbacks=[SigintAtEpochEnd(2)])
    assert history.history["val_loss"] == [0.0, 0.0, 0.0]
    assert history.stop_reason == ("interrupted (Ctrl-C) during epoch 3; the network keeps "
                                   "the weights of epoch 1 (best val_loss 0)")


def test_a_callback_stopping_after_a_batch_ends_training_after_that_epoch():
    X, y = regression(20)
    batches = []

    class Stop(gn.Callback):
        def on_batch_end(self, batch, logs=None):
            batches.append(batch)
            self.model.stop_training = True

    history = linear_net().fit(X, y, epochs=5, batch_size=5, verbose=0, callbacks=[Stop()])
    assert batches == [0] and history.epoch == [0] and len(history.history["loss"]) == 1


def test_training_fit_called_directly_has_the_documented_defaults(capsys):
    X, y = regression(70)
    sizes = []

    class Sizes(gn.Callback):
        def on_batch_end(self, batch, logs=None):
            sizes.append(logs["size"])

    net = linear_net()
    history = training_fit(net, X, y, callbacks=[Sizes()])
    assert history.epoch == list(range(10)) and sizes == [32, 32, 6] * 10
    assert set(history.history) == {"loss", "learning_rate", "time"}  # no validation split
    assert len(capsys.readouterr().err.splitlines()) == 10  # verbose=1: a line per epoch
    unshuffled = linear_net()
    training_fit(unshuffled, X, y, shuffle=False, verbose=0)
    assert not same_weights(net.get_weights(), unshuffled.get_weights())
    reshuffled = linear_net()
    training_fit(reshuffled, X, y, verbose=0)
    assert same_weights(net.get_weights(), reshuffled.get_weights())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(gn.DivergenceError):  # on_divergence="raise"
            training_fit(linear_net(), X, y, verbose=0, callbacks=[SetWeightsAt((0, 0), 1e30)])


def test_fit_runs_in_a_worker_thread():
    X, y = regression()
    result = {}

    def work():
        try:
            result["history"] = linear_net().fit(X, y, epochs=2, verbose=0)
        except Exception as exc:  # e.g. installing a SIGINT handler outside the main thread
            result["error"] = exc

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert "error" not in result, result.get("error")
    assert result["history"].epoch == [0, 1]
