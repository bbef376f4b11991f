"""GradientStats' dead-ReLU and saturation fractions and its plain-language warnings.

Each expected fraction is computed here with numpy from weights the test sets (a learning
rate of 1e-300 keeps them fixed, so every batch sees the same network); each warning's exact
text and its threshold (strict: a value at the threshold does not warn) are written out.
"""

import math
import warnings

import numpy as np
import pytest

import glassnet as gn

X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.5], [0.5, -1.0], [2.0, 2.0], [-2.0, 1.0]])
Y = np.array([0.5, -0.5, 1.0, 0.0, 1.5, -1.0])


def net_with(W, b, activation, lr=1e-300):
    return gn.Sequential([gn.Dense(W.shape[1], activation=activation, kernel_initializer=W,
                                   bias_initializer=b),
                          gn.Dense(1, kernel_initializer=np.ones((W.shape[1], 1)))],
                         loss="mse", optimizer=gn.SGD(lr), random_state=0, dtype="float64")


def fit(net, stats, epochs=1, callbacks=(), **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(X, Y, epochs=epochs, batch_size=2, shuffle=False, verbose=0,
                          callbacks=[*callbacks, stats], **kwargs)
    return history.history, [str(w.message) for w in caught
                             if issubclass(w.category, RuntimeWarning)]


def test_dead_relu_fraction_counts_units_dead_for_every_sample():
    # Unit 0 is alive for every sample, unit 1 for some only (alive over the epoch), unit 2
    # outputs in (0, 1) only, unit 3 is never positive: dead fraction 1/4.
    W = np.array([[0.0, 1.0, 0.1, 0.0], [0.0, 0.0, 0.1, 0.0]])
    b = np.array([5.0, 0.0, 0.45, -1.0])
    Z = X @ W + b
    dead = 1.0 - np.mean((Z > 0).any(axis=0))
    assert dead == 0.25  # the worked case is what the comment says
    history, said = fit(net_with(W, b, "relu"), gn.GradientStats(warn=False))
    assert history["dead_relu/dense"] == [0.25] and said == []


@pytest.mark.parametrize("activation, low, high", [("tanh", -0.99, 0.99),
                                                    ("sigmoid", 0.01, 0.99)])
def test_saturated_fraction_is_outputs_beyond_the_bounds(activation, low, high):
    # Pre-activations from -6 to 6: some outputs inside the bounds, some beyond, a few
    # exactly on the open side of them.
    W = np.array([[3.0, 0.5, 0.25], [3.0, 0.0, -0.5]])
    b = np.array([-3.0, 0.2, 0.0])  # unit 0 reaches -6 (sample 5) and 9 (sample 4)
    A = np.tanh(X @ W + b) if activation == "tanh" else 1 / (1 + np.exp(-(X @ W + b)))
    expected = np.count_nonzero((A < low) | (A > high)) / A.size
    assert 0 < expected < 1
    assert (A < low).any() and (A > high).any()  # both bounds matter here
    history, _ = fit(net_with(W, b, activation), gn.GradientStats(warn=False), epochs=2)
    assert history["saturated/dense"] == pytest.approx([expected] * 2, abs=1e-15)
    assert "saturated/dense_1" not in history  # an identity output is never "saturated"


def test_grad_norm_is_the_mean_of_the_batch_norms():
    # lr 1e-300: every epoch sees the same weights; three batches of two samples.
    W, b = np.array([[0.5, -0.25], [0.25, 1.0]]), np.array([0.1, -0.1])
    net = net_with(W, b, "tanh")
    history, _ = fit(net, gn.GradientStats(warn=False), epochs=2)
    norms = []
    for start in range(0, 6, 2):
        _, grads = net.compute_gradients(X[start:start + 2], Y[start:start + 2])
        norms.append(math.sqrt(sum(float((g ** 2).sum()) for g in grads[:2])))
    assert history["grad_norm/dense"] == pytest.approx([np.mean(norms)] * 2, rel=1e-12)
    assert history["update_ratio/dense"] == pytest.approx([0.0, 0.0], abs=1e-200)


def layer_norm(net, X, Y):
    _, grads = net.compute_gradients(X, Y)
    return math.sqrt(sum(float((g ** 2).sum()) for g in grads[:2]))


def test_exploding_gradients_warn_once_with_the_layer_and_its_norm():
    W, b = np.full((2, 2), 30.0), np.zeros(2)
    big = net_with(W, b, None)
    history, said = fit(big, gn.GradientStats(exploding=1.0), epochs=3)
    g = history["grad_norm/dense"][0]
    top = max(g, history["grad_norm/dense_1"][0])
    assert g > 1.0
    assert said == [f"Gradients are exploding: layer 'dense' has a gradient norm of {g:.3g} "
                    "at epoch 1. Lower the learning rate, scale the inputs, or clip gradients "
                    "(clipnorm=...)."]
    # At the threshold itself: no warning (the rule is norm > exploding).
    _, said = fit(net_with(W, b, None), gn.GradientStats(exploding=top), epochs=1)
    assert said == []


def test_exploding_names_the_first_layer_over_the_threshold():
    W, b = np.array([[0.5, -0.25], [0.25, 1.0]]), np.zeros(2)
    history, _ = fit(net_with(W, b, None), gn.GradientStats(warn=False))
    g0, g1 = history["grad_norm/dense"][0], history["grad_norm/dense_1"][0]
    assert g0 != g1
    threshold = (g0 + g1) / 2  # only the larger one is over it
    name, g = ("dense", g0) if g0 > g1 else ("dense_1", g1)
    _, said = fit(net_with(W, b, None), gn.GradientStats(exploding=threshold))
    assert said == [f"Gradients are exploding: layer {name!r} has a gradient norm of {g:.3g} "
                    "at epoch 1. Lower the learning rate, scale the inputs, or clip gradients "
                    "(clipnorm=...)."]


def test_vanishing_gradients_name_the_first_layer():
    W, b = np.array([[0.5, -0.25], [0.25, 1.0]]), np.zeros(2)
    history, _ = fit(net_with(W, b, "tanh"), gn.GradientStats(warn=False))
    g = history["grad_norm/dense"][0]
    _, said = fit(net_with(W, b, "tanh"), gn.GradientStats(vanishing=1e6), epochs=2)
    assert said == [f"Gradients are vanishing: layer 'dense' gets a gradient norm of {g:.2g} "
                    "at epoch 1, so it barely learns. Try ReLU or LeakyReLU, He initialization, "
                    "or a larger learning rate."]
    _, said = fit(net_with(W, b, "tanh"), gn.GradientStats(vanishing=g))
    assert said == []  # the rule is 0 < norm < vanishing


def test_a_zero_gradient_is_not_called_vanishing():
    # All ReLUs dead: the first layer's gradient is exactly 0, which the rule excludes
    # (that case gets the dead-unit warning instead).
    W, b = np.zeros((2, 2)), np.full(2, -1.0)
    history, said = fit(net_with(W, b, "relu"), gn.GradientStats(vanishing=1e6))
    assert history["grad_norm/dense"] == [0.0]
    assert said == ["100% of the ReLU units of layer 'dense' are dead (output 0 for every "
                    "sample) and no longer learn. Lower the learning rate or use LeakyReLU."]


def test_dead_warning_threshold_is_strict():
    W, b = np.zeros((2, 2)), np.array([1.0, -1.0])  # one unit of two dead: 50%
    _, said = fit(net_with(W, b, "relu"), gn.GradientStats(dead_fraction=0.5))
    assert said == []
    _, said = fit(net_with(W, b, "relu"), gn.GradientStats(dead_fraction=0.49))
    assert said == ["50% of the ReLU units of layer 'dense' are dead (output 0 for every "
                    "sample) and no longer learn. Lower the learning rate or use LeakyReLU."]


class Losses(gn.Callback):
    """Overwrites the logged loss with scripted values (GradientStats reads it after)."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["loss"] = self.values[epoch]


@pytest.mark.parametrize("losses, said", [
    ([2.0, 20.0, 19.0], []),  # 20 is not > 10 x 2: the rule is strict
    ([2.0, 10.0, 20.5, 40.0],
     ["The loss is diverging: 20.5 at epoch 3 (it started at 2). Lower the learning rate."]),
    ([2.0, math.nan, math.nan],
     ["The loss is diverging: nan at epoch 2 (it started at 2). Lower the learning rate."]),
])
def test_diverging_loss_warns_once_against_the_first_epoch(losses, said):
    W, b = np.array([[0.5, -0.25], [0.25, 1.0]]), np.zeros(2)
    _, got = fit(net_with(W, b, "tanh"), gn.GradientStats(), epochs=len(losses),
                 callbacks=[Losses(losses)])
    assert got == said


def test_warn_false_silences_every_warning():
    W, b = np.zeros((2, 2)), np.full(2, -1.0)
    _, said = fit(net_with(W, b, "relu"), gn.GradientStats(vanishing=1e6, exploding=0.0,
                                                           warn=False),
                  epochs=2, callbacks=[Losses([1.0, 100.0])])
    assert said == []


def test_each_kind_warns_once_per_fit_and_kinds_do_not_mask_each_other():
    W, b = np.zeros((2, 2)), np.full(2, -1.0)  # dead ReLUs ...
    _, said = fit(net_with(W, b, "relu"), gn.GradientStats(), epochs=3,
                  callbacks=[Losses([1.0, 100.0, 1000.0])])  # ... and a diverging loss
    assert [s.split(" ")[1] for s in said] == ["of", "loss"]  # "100% of ...", "The loss ..."
    assert len(said) == 2


def test_defaults():
    import inspect

    params = inspect.signature(gn.GradientStats).parameters
    assert {k: p.default for k, p in params.items()} == {
        "vanishing": 1e-7, "exploding": 1e3, "dead_fraction": 0.5, "warn": True}


def test_update_ratio_of_small_weights():
    # Weights of norm < 1: the ratio is ||W_end - W_start|| / ||W_start|| over the epoch.
    W, b = np.full((2, 2), 0.01), np.full(2, 0.01)
    net = net_with(W, b, "tanh", lr=0.1)
    history, _ = fit(net, gn.GradientStats(warn=False))
    start = np.concatenate([W.ravel(), b])
    end = np.concatenate([w.ravel() for w in net.get_weights()[:2]])
    expected = np.linalg.norm(end - start) / np.linalg.norm(start)
    assert expected > 0.05
    assert history["update_ratio/dense"] == pytest.approx([expected], rel=1e-12)


def test_one_sample_one_unit_saturated():
    net = gn.Sequential([gn.Dense(1, activation="tanh", kernel_initializer=[[10.0]]),
                         gn.Dense(1)], loss="mse", optimizer=gn.SGD(1e-300), random_state=0)
    history = net.fit(np.ones((1, 1)), np.ones(1), epochs=1, verbose=0,
                      callbacks=[gn.GradientStats(warn=False)])
    assert history.history["saturated/dense"] == [1.0]  # tanh(10) > 0.99


def test_layers_without_an_activation_are_skipped():
    net = gn.Sequential([gn.Dense(4, activation="relu"), gn.Dropout(0.5), gn.Flatten(),
                         gn.Dense(1)], loss="mse", random_state=0)
    history = net.fit(X, Y, epochs=1, verbose=0, callbacks=[gn.GradientStats(warn=False)])
    assert "dead_relu/dense" in history.history
