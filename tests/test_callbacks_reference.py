"""The callbacks against Keras 3's documented rules, epoch by epoch.

A ``Script`` callback placed before the one under test overwrites the monitored value of
each epoch with a number written here, on a real ``fit`` of a tiny data set, so every
expected sequence below is worked out by hand from the rule (each with a comment), not
produced by the code under test. Keras is not a dependency: the rules, from
keras/src/callbacks/early_stopping.py and reduce_lr_on_plateau.py, are:

EarlyStopping, each epoch >= start_from_epoch: ``wait += 1``; if ``current`` beats
``best`` by more than ``min_delta`` (min mode: ``current < best - min_delta``; the first
monitored epoch always does): it becomes the best, ``wait = 0`` only if there is no
baseline or ``current`` beats the baseline too, and nothing else happens that epoch;
otherwise training stops if ``wait >= patience and epoch > 0``.

ReduceLROnPlateau, each epoch: in cooldown (counter > 0): ``counter -= 1; wait = 0``.
Then if ``current < best - min_delta``: ``best = current; wait = 0``; elif not in
cooldown: ``wait += 1``; if ``wait >= patience`` and ``lr > min_lr``:
``lr = max(lr * factor, min_lr); counter = cooldown; wait = 0``.

In the tables ``w`` is the wait counter after the epoch and ``*`` an improvement.
Learning rates are powers of two, so the arithmetic is exact.
"""

import math

import numpy as np
import pytest

import glassnet as gn

X = np.linspace(-1.0, 1.0, 8).reshape(-1, 1)
Y = 0.5 * X[:, 0] + 0.25
VAL = (X[::2] + 0.125, Y[::2])


class Script(gn.Callback):
    """Overwrite ``logs[key]`` at each epoch's end with the next scripted value."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


class Weights(gn.Callback):
    """An independent record of the weights at the end of every epoch."""

    def on_train_begin(self, logs=None):
        self.by_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.by_epoch.append(self.model.get_weights())


def make_net(lr=0.1):
    return gn.Sequential([gn.Dense(1)], loss="mse", optimizer=gn.SGD(lr), random_state=0)


def run(callbacks, key, values, net=None, validation=True, **fit):
    """Fit for ``len(values)`` epochs with ``key`` scripted; return (net, history, weights)."""
    net = net or make_net()
    weights = Weights()
    history = net.fit(X, Y, epochs=len(values), batch_size=None, verbose=0,
                      validation_data=VAL if validation else None,
                      callbacks=[Script(key, values), weights, *callbacks], **fit)
    return net, history, weights


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# -- EarlyStopping ----------------------------------------------------------------------

NAN = math.nan

# (options, val_loss per epoch, epochs that run, best_epoch, stopped_epoch)
EARLY_STOPPING = [
    pytest.param(
        {"patience": 0}, [5, 4, 4, 3, 2, 1], 3, 1, 2,
        # e0 5* w0, e1 4* w0, e2 4 (not < 4) w1 >= 0: stop after the 3rd epoch.
        id="patience-0-stops-at-first-non-improvement"),
    pytest.param(
        {"patience": 1}, [5, 6, 4, 4.5, 1], 2, 0, 1,
        # e0 5* w0, e1 6 w1 >= 1: stop. (wait > patience would run on to e4.)
        id="patience-1"),
    pytest.param(
        {"patience": 3}, [5, 4, 4.5, 4.25, 3.875, 4.125, 4, 4, 3, 2], 8, 4, 7,
        # e0* e1* w0, e2 w1, e3 w2, e4 3.875* w0, e5 w1, e6 w2, e7 w3 >= 3: stop after 8.
        id="patience-3"),
    pytest.param(
        {"patience": 2, "min_delta": 0.5}, [10, 9.5, 9.25, 8.75, 8.25, 8, 7.75, 1, 1], 7, 4, 6,
        # e0 10*; e1 9.5 is not < 10 - 0.5 (equal is no improvement) w1; e2 9.25* w0;
        # e3 8.75 not < 8.75 w1; e4 8.25* w0; e5 8 not < 7.75 w1; e6 7.75 not < 7.75 w2: stop.
        id="min_delta-boundary-is-no-improvement"),
    pytest.param(
        {"patience": 2, "baseline": 2.0}, [5, 5, 5, 5], 2, 0, 1,
        # e0 5* but not < 2: w stays 1; e1 5 w2 >= 2: stop (without a baseline: after e2).
        id="baseline-never-reached-stops-after-patience-epochs"),
    pytest.param(
        {"patience": 2, "baseline": 2.0}, [5, 4, 3, 3.5, 2.5, 1], 4, 2, 3,
        # e0 5* w1, e1 4* w2, e2 3* w3 (improvements above the baseline do not reset w and
        # skip the check), e3 3.5 w4 >= 2: stop, though the best kept improving.
        id="improving-above-the-baseline-does-not-reset-wait"),
    pytest.param(
        {"patience": 1, "baseline": 2.0}, [5, 4, 3, 2.5, 2.25], 5, 4, None,
        # Every epoch improves (w 1..5), so the check never runs: no stop.
        id="baseline-not-reached-but-always-improving-never-stops"),
    pytest.param(
        {"patience": 3, "baseline": 2.0}, [5, 5.5, 4, 4.5, 1.5, 1.5], 4, 2, 3,
        # e0 5* w1, e1 w2, e2 4* w3 (above the baseline), e3 4.5 w4 >= 3: stop, one epoch
        # before 1.5 would beat the baseline (without one: w 0,1,0,1 and no stop).
        id="baseline-reached-too-late"),
    pytest.param(
        {"patience": 3, "baseline": 2.0}, [5, 5.5, 1.5, 1.75, 1.75, 1.75, 1.75], 6, 2, 5,
        # e0 5* w1, e1 w2, e2 1.5* beats the baseline: w0, e3 w1, e4 w2, e5 w3: stop.
        id="baseline-reached-in-time"),
    pytest.param(
        {"patience": 1, "start_from_epoch": 2}, [1, 0.5, 5, 6, 4, 4.5, 3], 4, 2, 3,
        # e0, e1 ignored (warm-up); e2 5 is the first monitored, so best: w0; e3 6 w1: stop.
        # (Monitoring from e0: e2 5 w1 would stop after 3 epochs.)
        id="start_from_epoch"),
    pytest.param(
        {"patience": 3}, [1, 2, 2, 2, 2, 2, 2], 4, 0, 3,
        # e0 1* w0, e1 w1, e2 w2, e3 w3 >= 3: stop after the 4th epoch (1-based), that is
        # after 3 epochs without improvement (Keras' rule: wait >= patience).
        id="patience-3-stops-after-3-epochs-without-improvement"),
    pytest.param(
        {"patience": 0}, [NAN, 3, 3, 3], 3, 1, 2,
        # e0 NaN is no improvement (w1 >= 0) but epoch 0 never stops; e1 3* w0; e2 w1: stop.
        id="never-stops-at-epoch-0"),
]


@pytest.mark.parametrize("options, values, ran, best_epoch, stopped", EARLY_STOPPING)
def test_early_stopping_follows_keras_epoch_by_epoch(options, values, ran, best_epoch, stopped):
    stop = gn.EarlyStopping(**options)  # monitors val_loss by default
    _, history, _ = run([stop], "val_loss", values)
    assert len(history.history["loss"]) == ran
    assert history.epoch == list(range(ran))
    assert stop.best_epoch == best_epoch
    assert stop.stopped_epoch == stopped
    assert ("early stopping" in history.stop_reason) == (stopped is not None)


@pytest.mark.parametrize("mode", ["auto", "max"])
def test_early_stopping_mode_max(mode):
    # val_r2: bigger is better ("auto" picks max for a name without "loss").
    # e0 0.5*; e1 0.75 is not > 0.5 + 0.25 w1; e2 0.875* w0; e3 1 not > 1.125 w1;
    # e4 1 w2 >= 2: stop after 5 epochs, best epoch 2.
    stop = gn.EarlyStopping(monitor="val_r2", mode=mode, patience=2, min_delta=0.25)
    _, history, _ = run([stop], "val_r2", [0.5, 0.75, 0.875, 1.0, 1.0, 2.0, 3.0])
    assert len(history.epoch) == 5 and stop.best_epoch == 2 and stop.stopped_epoch == 4
    assert stop.best == 0.875


# val_loss e0 3*, e1 2*, e2 1* (best), e3 1.5 w1, e4 1.25 w2, e5 1.75 w3 >= 3: stop after 6.
RESTORE_VALUES = [3, 2, 1, 1.5, 1.25, 1.75, 0.5]


def test_restore_best_weights_true_puts_back_the_best_epoch():
    stop = gn.EarlyStopping(patience=3)  # restore_best_weights=True is glassnet's default
    net, history, weights = run([stop], "val_loss", RESTORE_VALUES)
    assert len(history.epoch) == 6 and stop.best_epoch == 2
    assert same(net.get_weights(), weights.by_epoch[2])
    assert not same(net.get_weights(), weights.by_epoch[5])


def test_restore_best_weights_false_keeps_the_last_epoch():
    stop = gn.EarlyStopping(patience=3, restore_best_weights=False)
    net, history, weights = run([stop], "val_loss", RESTORE_VALUES)
    assert len(history.epoch) == 6
    assert same(net.get_weights(), weights.by_epoch[5])
    assert not same(net.get_weights(), weights.by_epoch[2])


def test_restore_best_weights_also_when_the_run_was_not_stopped():
    # As Keras 3: restored at the end of training even though all 4 epochs ran (best e1).
    stop = gn.EarlyStopping(patience=10)
    net, history, weights = run([stop], "val_loss", [3, 1, 2, 2])
    assert len(history.epoch) == 4 and stop.stopped_epoch is None
    assert same(net.get_weights(), weights.by_epoch[1])


def test_restore_with_a_baseline_never_beaten_gives_the_best_epoch_of_that_run():
    # Keras' docstring: with no epoch beating the baseline, training runs for `patience`
    # epochs and the best of them is restored. e0 5* w1, e1 4* w2, e2 4.5 w3 >= 3: stop.
    stop = gn.EarlyStopping(patience=3, baseline=1.0)
    net, history, weights = run([stop], "val_loss", [5, 4, 4.5, 0.5])
    assert len(history.epoch) == 3 and stop.best_epoch == 1
    assert same(net.get_weights(), weights.by_epoch[1])


@pytest.mark.parametrize("kwargs", [{"baseline": "1"}, {"baseline": math.nan},
                                    {"baseline": math.inf}, {"baseline": True},
                                    {"start_from_epoch": -1}, {"start_from_epoch": 1.5},
                                    {"patience": -1}, {"patience": True},
                                    {"min_delta": -0.5}])
def test_early_stopping_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=rf"^{next(iter(kwargs))} must be "):
        gn.EarlyStopping(**kwargs)


def test_early_stopping_accepts_numpy_numbers():
    stop = gn.EarlyStopping(baseline=np.float32(0.5), patience=np.int64(2))
    assert stop.baseline == 0.5 and stop.patience == 2


# -- ReduceLROnPlateau ------------------------------------------------------------------

# (options, loss per epoch, learning rate in effect in each epoch, learning rate after)
# The optimizer starts at 1.0; `factor` is 0.5 unless given.
PLATEAU = [
    pytest.param(
        {"patience": 2, "min_delta": 0.0}, [1] * 8, [1, 1, 1, .5, .5, .25, .25, .125], .125,
        # e0 1* w0, e1 w1, e2 w2: lr .5 (w0); e3 w1, e4 w2: .25; e5, e6: .125; e7 w1.
        id="patience-2"),
    pytest.param(
        {"patience": 1, "cooldown": 0}, [1] * 6, [1, 1, .5, .25, .125, .0625], .03125,
        # e0 1*, then w1 >= 1 every epoch: halved after e1, e2, e3, e4, e5.
        id="cooldown-0"),
    pytest.param(
        {"patience": 1, "cooldown": 1}, [1] * 6, [1, 1, .5, .25, .125, .0625], .03125,
        # After a cut the counter is 1; the next epoch takes it to 0 first and is then out
        # of cooldown, so in Keras cooldown=1 changes nothing.
        id="cooldown-1-is-no-cooldown"),
    pytest.param(
        {"patience": 1, "cooldown": 2}, [1] * 6, [1, 1, .5, .5, .25, .25], .125,
        # e1 cut, counter 2; e2 counter 1 (in cooldown: no wait); e3 counter 0, w1: cut;
        # e4 counter 1; e5 counter 0, w1: cut.
        id="cooldown-2"),
    pytest.param(
        {"patience": 1, "cooldown": 2}, [4, 4, 3, 3, 3, 3], [1, 1, .5, .5, .25, .25], .125,
        # e1 cut, counter 2; e2 counter 1, 3 < 4: best 3 (improvements count in cooldown);
        # e3 counter 0, 3 not < 3: w1, cut; e4 counter 1; e5 counter 0, w1: cut.
        id="improvement-during-cooldown"),
    pytest.param(
        {"patience": 1, "min_lr": 0.3}, [1] * 6, [1, 1, .5, .3, .3, .3], .3,
        # e1: .5; e2: max(.25, .3) = .3; from e3 lr .3 is not > min_lr: no change.
        id="min_lr-floor"),
    pytest.param(
        {"patience": 1, "min_lr": 0.25}, [1] * 6, [1, 1, .5, .25, .25, .25], .25,
        # e1: .5; e2: .25 hits min_lr exactly; then .25 > .25 is false: no change.
        id="min_lr-hit-exactly-then-no-change"),
    pytest.param(
        {"patience": 2, "min_delta": 0.5}, [10, 9.5, 9.25, 9, 8.75, 8.5, 8],
        [1, 1, 1, 1, 1, .5, .5], .5,
        # e0 10*; e1 9.5 not < 9.5 w1; e2 9.25* w0; e3 9 not < 8.75 w1; e4 8.75 w2: cut;
        # e5 8.5 < 8.75* w0; e6 8 not < 8 w1.
        id="min_delta-boundary-is-no-improvement"),
    pytest.param(
        {"patience": 1}, [1.0, 0.99995, 0.9998, 0.9998], [1, 1, .5, .5], .25,
        # Default min_delta 1e-4: e1 0.99995 is not < 0.9999 w1: cut; e2 0.9998* w0;
        # e3 w1: cut.
        id="default-min_delta"),
    pytest.param(
        {"patience": 1, "mode": "max", "min_delta": 0.25}, [0.5, 0.75, 1, 1, 2, 2],
        [1, 1, .5, .5, .25, .25], .125,
        # e0 .5*; e1 .75 not > .75 w1: cut; e2 1*; e3 1 not > 1.25: cut; e4 2*; e5: cut.
        id="mode-max"),
    pytest.param(
        {"patience": 1, "factor": 0.25}, [1, 1, 1], [1, 1, .25], .0625,
        # e1 cut to 1 * .25, e2 to .0625.
        id="factor"),
]


@pytest.mark.parametrize("options, values, lrs, final", PLATEAU)
def test_reduce_lr_on_plateau_follows_keras_epoch_by_epoch(options, values, lrs, final):
    plateau = gn.ReduceLROnPlateau(monitor="loss", **{"factor": 0.5, **options})
    net, history, _ = run([plateau], "loss", values, net=make_net(1.0), validation=False)
    assert history.history["learning_rate"] == lrs
    assert net.optimizer.learning_rate == final


def test_reduce_lr_on_plateau_never_raises_a_rate_below_min_lr():
    # Keras changes the rate only when it is above min_lr: 0.125 < 0.25 stays 0.125.
    plateau = gn.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_lr=0.25)
    net, history, _ = run([plateau], "loss", [1] * 4, net=make_net(0.125), validation=False)
    assert history.history["learning_rate"] == [0.125] * 4
    assert net.optimizer.learning_rate == 0.125


def test_reduce_lr_on_plateau_monitors_val_loss_by_default():
    # e0 2*, e1 2 w1 >= 1: cut to .5; e2 1* w0.
    plateau = gn.ReduceLROnPlateau(factor=0.5, patience=1)
    net, history, _ = run([plateau], "val_loss", [2, 2, 1], net=make_net(1.0))
    assert history.history["learning_rate"] == [1, 1, .5]


@pytest.mark.parametrize("kwargs", [{"patience": -1}, {"patience": 1.5}, {"cooldown": -1},
                                    {"min_lr": -1.0}, {"min_delta": -1.0}])
def test_reduce_lr_on_plateau_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=rf"^{next(iter(kwargs))} must be "):
        gn.ReduceLROnPlateau(**kwargs)


# -- Checkpoint -------------------------------------------------------------------------


class Saves:
    """Wraps ``Sequential.save`` to record (file, epochs done, weights) of each write."""

    def __init__(self, monkeypatch, folder):
        self.events, self.folder, real = [], folder, gn.Sequential.save

        def save(model, path, **kwargs):
            name = {str(folder / "c.glassnet"): "path", str(folder / "c.best.glassnet"): "best"}
            self.events.append((name[str(path)], model.epochs_done, model.get_weights()))
            real(model, path, **kwargs)

        monkeypatch.setattr(gn.Sequential, "save", save)

    def written(self):
        return [(name, done) for name, done, _ in self.events]


class Reader(gn.Callback):
    """Placed after the Checkpoint: what its file holds at the end of each epoch."""

    def __init__(self, path):
        super().__init__()
        self.path, self.seen = path, []

    def on_epoch_end(self, epoch, logs=None):
        saved = gn.load(self.path) if self.path.exists() else None
        self.seen.append(None if saved is None else (saved.epochs_done, saved.get_weights()))


@pytest.mark.parametrize("every, epochs, done", [
    (1, 3, [1, 2, 3]),  # after every epoch
    (3, 6, [3, 6]),  # epochs 3 and 6; the last was saved, so nothing more at the end
    (3, 7, [3, 6, 7]),  # epochs 3 and 6, then at the end (7 is not a multiple of 3)
    (5, 3, [3]),  # never a multiple: only the save at the end
])
def test_checkpoint_every_writes_at_these_epochs(tmp_path, monkeypatch, every, epochs, done):
    saves = Saves(monkeypatch, tmp_path)
    path = tmp_path / "c.glassnet"
    reader = Reader(path)
    cp = gn.Checkpoint(path, every=every, keep_best=False)
    net, _, weights = run([cp, reader], "loss", [1.0] * epochs, validation=False)
    assert saves.written() == [("path", d) for d in done]
    for epoch, seen in enumerate(reader.seen):  # the file holds the latest multiple of every
        last = (epoch + 1) // every * every
        if last == 0:
            assert seen is None
        else:
            assert seen[0] == last and same(seen[1], weights.by_epoch[last - 1])
    final = gn.load(path)
    assert final.epochs_done == epochs and same(final.get_weights(), weights.by_epoch[-1])


def test_checkpoint_keep_best_writes_best_path_at_each_improvement(tmp_path, monkeypatch):
    saves = Saves(monkeypatch, tmp_path)
    path = tmp_path / "c.glassnet"
    cp = gn.Checkpoint(path, every=2)  # no validation data: the best is by loss
    net, _, weights = run([cp], "loss", [3, 2, 2, 1, 1.5], validation=False)
    # loss 3* (e0), 2* (e1), 2 is no improvement, 1* (e3), 1.5: best after epochs 1, 2, 4;
    # path after epochs 2 and 4, and 5 at the end.
    assert saves.written() == [("best", 1), ("best", 2), ("path", 2), ("best", 4),
                               ("path", 4), ("path", 5)]
    assert cp.best_epoch == 3 and cp.best == 1
    best = gn.load(cp.best_path)
    assert best.epochs_done == 4 and same(best.get_weights(), weights.by_epoch[3])
    latest = gn.load(path)
    assert latest.epochs_done == 5 and same(latest.get_weights(), weights.by_epoch[4])


def test_checkpoint_final_save_holds_the_last_epoch_after_early_stopping_restores(
        tmp_path, monkeypatch):
    # val_loss 3*, 2*, 1*, 1.5 (w1), 1.25 (w2 >= 2): stop after 5 epochs; EarlyStopping,
    # listed first, puts epoch 2's weights back before the Checkpoint's save at the end.
    # That file (epochs_done 5, for a resume) must still hold epoch 4's weights.
    saves = Saves(monkeypatch, tmp_path)
    path = tmp_path / "c.glassnet"
    stop = gn.EarlyStopping(patience=2)
    cp = gn.Checkpoint(path, every=4, keep_best=False)
    net, history, weights = run([stop, cp], "val_loss", [3, 2, 1, 1.5, 1.25, 1, 1])
    assert len(history.epoch) == 5
    assert saves.written() == [("path", 4), ("path", 5)]
    latest = gn.load(path)
    assert latest.epochs_done == 5 and same(latest.get_weights(), weights.by_epoch[4])
    assert same(net.get_weights(), weights.by_epoch[2])  # the network keeps the best


# -- TargetLoss -------------------------------------------------------------------------


@pytest.mark.parametrize("values, ran", [
    ([2, 1, 0.75, 0.5, 0.25, 0.1], 4),  # 0.5 <= 0.5 at e3: equality stops
    ([2, 0.5000001, 0.4, 0.1], 3),  # 0.5000001 > 0.5 does not; 0.4 at e2 does
    ([0.5, 0.1], 1),  # the first epoch can stop
    ([2, 1, 0.75], 3),  # never reached: all epochs run
])
@pytest.mark.parametrize("how", ["callback", "fit-argument"])
def test_target_loss_stops_at_the_first_epoch_at_or_below_target(values, ran, how):
    extra = {"target_loss": 0.5} if how == "fit-argument" else {}
    callbacks = [gn.TargetLoss(0.5)] if how == "callback" else []
    _, history, _ = run(callbacks, "loss", values, validation=False, **extra)
    assert len(history.epoch) == ran
    reached = any(v <= 0.5 for v in values)
    assert ("target loss reached" in history.stop_reason) == reached


# -- Keras's defaults, the messages a user reads, the edges -----------------------------


@pytest.mark.parametrize("cls, defaults", [
    # keras.callbacks.EarlyStopping / ReduceLROnPlateau signatures (Keras 3); glassnet's
    # one deliberate difference, restore_best_weights=True, is in its docstring.
    (gn.EarlyStopping, {"monitor": "val_loss", "min_delta": 0.0, "patience": 0, "mode": "auto",
                        "baseline": None, "restore_best_weights": True,
                        "start_from_epoch": 0}),
    (gn.ReduceLROnPlateau, {"monitor": "val_loss", "factor": 0.1, "patience": 10,
                            "min_delta": 1e-4, "mode": "auto", "cooldown": 0, "min_lr": 0.0}),
    (gn.Checkpoint, {"every": 1, "keep_best": True, "monitor": None}),
])
def test_defaults_are_keras_defaults(cls, defaults):
    import inspect

    signature = inspect.signature(cls)
    assert {k: signature.parameters[k].default for k in defaults} == defaults


@pytest.mark.parametrize("make, message", [
    (lambda: gn.EarlyStopping(mode="MIN"), "mode must be 'auto', 'min' or 'max', got 'MIN'."),
    (lambda: gn.ReduceLROnPlateau(factor=0), "factor must be in (0, 1), got 0."),
    (lambda: gn.ReduceLROnPlateau(factor=1), "factor must be in (0, 1), got 1."),
    (lambda: gn.ReduceLROnPlateau(factor=1.5), "factor must be in (0, 1), got 1.5."),
    (lambda: gn.TargetLoss(-1), "target_loss must be a finite number >= 0, got -1."),
    (lambda: gn.Checkpoint("m.glassnet", every=True), "every must be an integer >= 1, got True."),
    (lambda: gn.Checkpoint("m.glassnet", every=0), "every must be an integer >= 1, got 0."),
])
def test_bad_arguments_get_one_clear_line(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value) == message


@pytest.mark.parametrize("mode", ["min", "max", "auto"])
def test_every_mode_is_accepted(mode):
    assert gn.EarlyStopping(mode=mode).mode == mode
    assert gn.ReduceLROnPlateau(mode=mode).mode == mode


def test_target_loss_zero_is_a_valid_target():
    assert gn.TargetLoss(0).target == 0.0


def test_a_monitor_not_logged_names_it_and_what_is_available():
    with pytest.raises(ValueError) as error:
        make_net().fit(X, Y, epochs=1, verbose=0, callbacks=[gn.EarlyStopping()])
    assert str(error.value) == ("monitor='val_loss' is not logged in this fit (pass "
                                "validation_split or validation_data to fit); available: loss, "
                                "learning_rate.")
    with pytest.raises(ValueError) as error:
        make_net().fit(X, Y, epochs=1, verbose=0, callbacks=[gn.EarlyStopping("r2")])
    assert str(error.value) == ("monitor='r2' is not logged in this fit; available: loss, "
                                "learning_rate.")


def test_reduce_lr_on_plateau_refuses_a_schedule():
    net = gn.Sequential([gn.Dense(1)], loss="mse", random_state=0,
                        optimizer=gn.SGD(gn.ExponentialDecay(0.1, 10, 0.5)))
    with pytest.raises(ValueError) as error:
        net.fit(X, Y, epochs=1, verbose=0, callbacks=[gn.ReduceLROnPlateau(monitor="loss")])
    assert str(error.value) == ("ReduceLROnPlateau needs a constant learning_rate, "
                                "not a schedule.")


@pytest.mark.parametrize("options, values, reason", [
    ({"patience": 2}, [3, 4, 5, 6],
     # e0 3*, e1 w1, e2 w2 >= 2: stop at epoch 2, best 3 at epoch 0.
     "early stopping: loss did not improve for 2 epochs (best 3 at epoch 1)"),  # 1-based
    ({"patience": 1, "baseline": 2.0}, [3, 2.5, 2.75],
     # e0 3* (not under the baseline: w1), e1 2.5* (w2; an improving epoch never stops),
     # e2 w3 >= 1: stop.
     "early stopping: loss did not improve on the baseline 2 in 3 epochs "
     "(best 2.5 at epoch 2)"),
    ({"patience": 3}, [1, 2, 2, 2, 2, 2],
     # e0 1*, e1 w1, e2 w2, e3 w3 >= 3: stop after the 4th epoch, 3 without improvement.
     "early stopping: loss did not improve for 3 epochs (best 1 at epoch 1)"),
])
def test_early_stopping_says_why_it_stopped(options, values, reason):
    stop = gn.EarlyStopping(monitor="loss", **options)
    _, history, _ = run([stop], "loss", values, validation=False)
    assert history.stop_reason == reason


def test_target_loss_says_why_it_stopped():
    _, history, _ = run([gn.TargetLoss(0.5)], "loss", [1, 0.5, 0.25], validation=False)
    assert history.stop_reason == "target loss reached: 0.5 <= 0.5 at epoch 2"  # 1-based


def test_early_stopping_that_never_monitors_restores_nothing():
    # start_from_epoch beyond the run: no epoch is monitored, no best, weights untouched.
    stop = gn.EarlyStopping(monitor="loss", start_from_epoch=10)
    net, _, weights = run([stop], "loss", [3, 2, 1], validation=False)
    assert stop.best_epoch is None and same(net.get_weights(), weights.by_epoch[-1])


@pytest.mark.parametrize("options, values, lrs", [
    ({"patience": 2}, [NAN, NAN, NAN],
     # NaN never beats best (inf): e0 w1, e1 w2: cut (the wait starts at 0, not 1).
     [1, 1, .5]),
    ({"patience": 2, "cooldown": 1}, [1] * 7,
     # e0 1*; e1 w1; e2 w2: cut, counter 1; e3 counter 0, w reset to 0, then w1; e4 w2: cut;
     # e5 counter 0, w1; e6 w2: cut.
     [1, 1, 1, .5, .5, .25, .25]),
])
def test_reduce_lr_on_plateau_wait_counter_edges(options, values, lrs):
    plateau = gn.ReduceLROnPlateau(monitor="loss", factor=0.5, **options)
    _, history, _ = run([plateau], "loss", values, net=make_net(1.0), validation=False)
    assert history.history["learning_rate"] == lrs


def test_checkpoint_best_path_names():
    assert gn.Checkpoint("run/model.glassnet").best_path == "run/model.best.glassnet"
    assert gn.Checkpoint("run/model").best_path == "run/model.best.glassnet"
    assert gn.Checkpoint("run/model.ckpt").best_path == "run/model.best.ckpt"
    assert gn.Checkpoint("run/model.glassnet", keep_best=False).best_path is None


def test_checkpoint_picks_the_best_by_val_loss_when_there_is_validation(tmp_path):
    # loss keeps falling, val_loss is best at epoch 1: the best file is epoch 1's.
    path = tmp_path / "m.glassnet"
    check = gn.Checkpoint(path)
    net = make_net()
    weights = Weights()
    net.fit(X, Y, epochs=4, batch_size=None, verbose=0, validation_data=VAL,
            callbacks=[Script("val_loss", [3, 1, 2, 4]), weights, check])
    assert check.best_epoch == 1 and check.best == 1
    assert same(gn.load(check.best_path).get_weights(), weights.by_epoch[1])


def test_default_patience_and_every_act_as_documented(tmp_path):
    # ReduceLROnPlateau's default patience 10: a flat loss is cut after epoch 10 (w10).
    plateau = gn.ReduceLROnPlateau(monitor="loss", factor=0.5)
    _, history, _ = run([plateau], "loss", [1] * 12, net=make_net(1.0), validation=False)
    assert history.history["learning_rate"] == [1] * 11 + [0.5]
    # Checkpoint's default every=1: the file exists, holding epoch 1, after the first epoch.
    path = tmp_path / "m.glassnet"
    seen = []

    class After(gn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(gn.load(path).epochs_done)

    make_net().fit(X, Y, epochs=2, verbose=0, callbacks=[gn.Checkpoint(path), After()])
    assert seen == [1, 2]
