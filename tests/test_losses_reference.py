"""Every loss's value against scikit-learn's metrics (an independent implementation) and
PyTorch's, including the edges where clipping and ``y log y`` decide: targets between 0
and 1 for Poisson, probabilities of exactly 0 or 1 for the cross-entropies; the general
(unfused) gradients against central differences; the targets each loss refuses.
"""

import numpy as np
import pytest
from sklearn.metrics import log_loss, mean_poisson_deviance, mean_squared_error

from glassnet.ops.losses import get_loss

rng = np.random.default_rng(0)
P = rng.uniform(0.05, 3.0, size=(7, 2))
T = np.array([[0.0, 0.5], [0.25, 1.0], [2.0, 0.75], [0.0, 0.0], [3.0, 0.1], [1.5, 0.9],
              [0.6, 4.0]])  # Poisson targets: zeros, fractions in (0, 1) and counts
W = np.array([1.0, 2.0, 0.5, 0.0, 3.0, 1.0, 1.0])


@pytest.mark.parametrize("weights", [None, W])
def test_poisson_is_half_sklearns_mean_poisson_deviance(weights):
    # sklearn: deviance 2 (y log(y/p) - y + p), mean over samples; glassnet: half of it,
    # averaged over the outputs (so one column at a time here).
    loss = get_loss("poisson")
    for j in range(2):
        expected = 0.5 * mean_poisson_deviance(T[:, j], P[:, j], sample_weight=weights)
        got = loss.value(P[:, j:j + 1], T[:, j:j + 1], weights)
        assert got == pytest.approx(expected, rel=1e-12)
    both = [0.5 * mean_poisson_deviance(T[:, j], P[:, j], sample_weight=weights)
            for j in range(2)]
    assert loss.value(P, T, weights) == pytest.approx(np.mean(both), rel=1e-12)


@pytest.mark.parametrize("weights", [None, W])
def test_mse_is_sklearns_mean_squared_error(weights):
    expected = mean_squared_error(T, P, sample_weight=weights)  # mean over outputs too
    assert get_loss("mse").value(P, T, weights) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("weights", [None, W])
def test_binary_cross_entropy_is_sklearns_log_loss_even_at_0_and_1(weights):
    Pb = np.array([0.0, 1.0, 0.2, 0.9, 1.0, 0.0, 0.5])[:, None]
    Tb = np.array([0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0])[:, None]
    # A certain wrong answer costs -log(eps) with eps the float64 epsilon (sklearn clips
    # the same way); a certain right answer costs 0 (log(1 - eps) ~ -eps).
    expected = log_loss(Tb[:, 0], Pb[:, 0], sample_weight=weights, labels=[0, 1])
    got = get_loss("binary_cross_entropy").value(Pb, Tb, weights)
    assert np.isfinite(got) and got == pytest.approx(expected, rel=1e-9)


def test_cross_entropy_of_a_zero_probability_is_finite_and_large():
    Pc = np.array([[1.0, 0.0], [0.25, 0.75]])
    got = get_loss("cross_entropy").value(Pc, np.array([1, 1]))
    # Sample 0: -log(tiny) (the smallest normal float64, 2.2e-308), sample 1: -log(0.75).
    expected = (-np.log(np.finfo(np.float64).tiny) - np.log(0.75)) / 2
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("name, targets", [
    ("poisson", T), ("mse", T), ("binary_cross_entropy", np.clip(T / 4, 0, 1)),
])
def test_general_gradients_match_central_differences(name, targets):
    loss = get_loss(name)
    Pd = np.clip(P / 3, 0.05, 0.95) if name == "binary_cross_entropy" else P
    G = loss.gradient(Pd, targets, W)
    h = 1e-6
    numeric = np.zeros_like(Pd)
    for idx in np.ndindex(Pd.shape):
        up, down = Pd.copy(), Pd.copy()
        up[idx] += h
        down[idx] -= h
        numeric[idx] = (loss.value(up, targets, W) - loss.value(down, targets, W)) / (2 * h)
    np.testing.assert_allclose(G, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name, y, message", [
    ("poisson", np.array([1.0, -0.5]),
     "Loss 'poisson' needs targets y >= 0, got a minimum of -0.5."),
    ("poisson", np.array(["a", "b"]), "Loss 'poisson' needs numeric targets y, got dtype <U1."),
    ("poisson", np.ones((2, 3)),
     "y has shape (2, 3) but the network has 1 output(s); loss 'poisson' needs y of shape "
     "(n_samples, 1) or (n_samples,)."),
])
def test_targets_a_loss_refuses(name, y, message):
    with pytest.raises(ValueError) as error:
        get_loss(name).prepare_targets(y, 1, np.float64)
    assert str(error.value) == message


def test_poisson_targets_keep_the_networks_dtype():
    T32 = get_loss("poisson").prepare_targets(np.array([0, 1, 2]), 1, np.float32)
    assert T32.dtype == np.float32 and T32.shape == (3, 1)
