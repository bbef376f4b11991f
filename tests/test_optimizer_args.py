"""Optimizers and schedules: each bad argument gets one line naming it and the value;
the defaults are the ones of the library each name comes from (Keras 3 for SGD, RMSprop,
Adam, AdamW and ExponentialDecay; scikit-learn's power_t=0.5 for InverseScaling).
"""

import inspect
import math

import numpy as np
import pytest

import glassnet as gn


@pytest.mark.parametrize("make, message", [
    (lambda: gn.ExponentialDecay(0, 10, 0.5),
     "initial_learning_rate must be a finite number > 0, got 0."),
    (lambda: gn.ExponentialDecay(0.1, 0, 0.5), "decay_steps must be a finite number > 0, got 0."),
    (lambda: gn.ExponentialDecay(0.1, 10, -1),
     "decay_rate must be a finite number > 0, got -1."),
    (lambda: gn.InverseScaling(math.inf), "initial_learning_rate must be a finite number > 0, "
                                          "got inf."),
    (lambda: gn.InverseScaling(0.1, power_t=-0.5),
     "power_t must be a finite number >= 0, got -0.5."),
    (lambda: gn.SGD(-1.0), "learning_rate must be a finite number > 0, got -1.0."),
    (lambda: gn.SGD(0.1, weight_decay=-1), "weight_decay must be a finite number >= 0, got -1."),
    (lambda: gn.SGD(0.1, clipnorm=0), "clipnorm must be a finite number > 0, got 0."),
    (lambda: gn.SGD(0.1, nesterov=True), "nesterov=True needs a momentum > 0, got momentum=0."),
    (lambda: gn.RMSprop(epsilon=0), "epsilon must be a finite number > 0, got 0."),
    (lambda: gn.Adam(epsilon=-1e-8), "epsilon must be a finite number > 0, got -1e-08."),
])
def test_bad_arguments_get_one_clear_line(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value) == message


@pytest.mark.parametrize("make, name", [
    (lambda v: gn.SGD(0.1, momentum=v), "momentum"),
    (lambda v: gn.RMSprop(rho=v), "rho"),
    (lambda v: gn.Adam(beta_1=v), "beta_1"),
    (lambda v: gn.Adam(beta_2=v), "beta_2"),
])
def test_fractions_are_checked_by_name(make, name):
    make(0.0)  # 0 is allowed (no momentum, no averaging)
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=rf"^{name} must be "):
            make(bad)


def test_zero_power_t_is_a_constant_rate():
    schedule = gn.InverseScaling(0.5, power_t=0)
    assert schedule.power_t == 0.0


@pytest.mark.parametrize("cls, defaults", [
    (gn.InverseScaling, {"power_t": 0.5}),
    (gn.ExponentialDecay, {"staircase": False}),
    (gn.SGD, {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}),
    (gn.RMSprop, {"learning_rate": 1e-3, "rho": 0.9, "momentum": 0.0}),
    (gn.Adam, {"learning_rate": 1e-3, "beta_1": 0.9, "beta_2": 0.999}),
])
def test_defaults(cls, defaults):
    params = inspect.signature(cls).parameters
    assert {k: params[k].default for k in defaults} == defaults


# -- scikit-learn's conventions (the estimators' rules), against scikit-learn's own optimizers


@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_with_the_sklearn_convention_matches_sklearns_sgd_optimizer(momentum, nesterov):
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

    rng = np.random.default_rng(0)
    p0, grads = rng.normal(size=6), [rng.normal(size=6) for _ in range(4)]
    theirs = [p0.copy()]
    ref = SGDOptimizer(theirs, learning_rate_init=0.1, momentum=momentum, nesterov=nesterov)
    opt, mine = gn.SGD(0.1, momentum=momentum, nesterov=nesterov, convention="sklearn"), p0.copy()
    for g in grads:
        ref.update_params(theirs, [g])
        opt.step(mine, g.copy())
    np.testing.assert_allclose(mine, theirs[0], rtol=1e-12)


def test_adam_with_the_sklearn_convention_matches_sklearns_adam_optimizer():
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer

    rng = np.random.default_rng(1)
    p0, grads = rng.normal(size=5), [rng.normal(size=5) * 1e-3 for _ in range(5)]
    theirs = [p0.copy()]
    ref = AdamOptimizer(theirs, learning_rate_init=0.01, epsilon=1e-4)
    opt, mine = gn.Adam(0.01, epsilon=1e-4, convention="sklearn"), p0.copy()
    pytorch, p_torch = gn.Adam(0.01, epsilon=1e-4), p0.copy()
    for g in grads:
        ref.update_params(theirs, [g])
        opt.step(mine, g.copy())
        pytorch.step(p_torch, g.copy())
    np.testing.assert_allclose(mine, theirs[0], rtol=1e-12)
    assert np.abs(p_torch - theirs[0]).max() > 1e-6  # the two conventions do differ here


def test_the_convention_is_checked_and_kept_in_the_config():
    with pytest.raises(ValueError, match=r"^convention must be 'pytorch' or 'sklearn', got 'keras'"):
        gn.SGD(convention="keras")
    assert gn.Adam(convention="sklearn").get_config()["convention"] == "sklearn"
    assert "convention" not in gn.Adam().get_config()  # the default is not written out
    restored = gn.optimizers.get_optimizer(gn.SGD(0.2, convention="sklearn").get_config())
    assert restored.convention == "sklearn"
