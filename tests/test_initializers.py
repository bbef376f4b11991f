"""Every named initializer against its published formula, not against glassnet's own output.

References (``fan_in``/``fan_out`` from the kernel's ``(n_in, n_out)`` shape):

=================  ==============================  ==================================
name               uniform: limit ``a``            normal: std ``s``
=================  ==============================  ==================================
glorot / xavier    ``sqrt(6 / (fan_in + fan_out))``  ``sqrt(2 / (fan_in + fan_out))``
he (kaiming)       ``sqrt(6 / fan_in)``            ``sqrt(2 / fan_in)``
lecun              ``sqrt(3 / fan_in)``            ``sqrt(1 / fan_in)``
=================  ==============================  ==================================

(Keras's ``GlorotUniform``/``HeUniform``/``LecunUniform``, Glorot & Bengio 2010, He et al.
2015.) The *normal* variants are a plain normal ``N(0, s^2)``, as PyTorch's
``xavier_normal_``/``kaiming_normal_``, NOT Keras's truncated normal (which cuts at 2
stddev and widens the stddev to ``s / 0.87962566`` to keep the variance): the kurtosis and
the largest |w| below tell the two apart, so a switch to a truncated normal fails here.

The checks are statistical, on kernels large enough that sampling noise is far below the
bugs they must catch: the mean of ``w^2`` (the variance; the mean is 0) must lie within
6 standard errors of the formula, while a variance off by a factor of 2 (the std off by
sqrt(2), e.g. He's 2 forgotten, or fan_avg used for fan_in) lies more than 50 standard
errors away; each test asserts that gap too, so the margin cannot silently shrink. The
draws are seeded, so the tests are deterministic.
"""

import math

import numpy as np
import pytest

import glassnet as gn
from glassnet.ops.initializers import INITIALIZERS, get_initializer

# name -> (distribution, the variance as a function of (fan_in, fan_out))
REFERENCE = {
    "glorot_uniform": ("uniform", lambda fi, fo: 2.0 / (fi + fo)),
    "xavier_uniform": ("uniform", lambda fi, fo: 2.0 / (fi + fo)),
    "glorot_normal": ("normal", lambda fi, fo: 2.0 / (fi + fo)),
    "xavier_normal": ("normal", lambda fi, fo: 2.0 / (fi + fo)),
    "he_uniform": ("uniform", lambda fi, fo: 2.0 / fi),
    "he_normal": ("normal", lambda fi, fo: 2.0 / fi),
    "lecun_uniform": ("uniform", lambda fi, fo: 1.0 / fi),
    "lecun_normal": ("normal", lambda fi, fo: 1.0 / fi),
}
CONSTANTS = {"zeros": 0.0, "ones": 1.0}

# Square, and both ways round a very non-square one, so fan_in vs fan_out vs their mean
# all give different answers (for (50, 2000): 1/50, 1/1025, 1/2000).
SHAPES = [(400, 600), (50, 2000), (2000, 50)]


def uniform_limit(name, fan_in, fan_out):
    """The published limit, written out (not derived from the variance as the code does)."""
    return {
        "glorot_uniform": math.sqrt(6.0 / (fan_in + fan_out)),
        "xavier_uniform": math.sqrt(6.0 / (fan_in + fan_out)),
        "he_uniform": math.sqrt(6.0 / fan_in),
        "lecun_uniform": math.sqrt(3.0 / fan_in),
    }[name]


def normal_std(name, fan_in, fan_out):
    return {
        "glorot_normal": math.sqrt(2.0 / (fan_in + fan_out)),
        "xavier_normal": math.sqrt(2.0 / (fan_in + fan_out)),
        "he_normal": math.sqrt(2.0 / fan_in),
        "lecun_normal": math.sqrt(1.0 / fan_in),
    }[name]


def moments_se(distribution, variance, n):
    """Standard errors of mean(w), mean(w^2) and mean(w^4) for n iid draws."""
    if distribution == "uniform":  # U(-a, a): E w^2 = a^2/3, E w^4 = a^4/5, E w^8 = a^8/9
        a2 = 3.0 * variance
        var_w2 = a2**2 / 5 - a2**2 / 9
        var_w4 = a2**4 / 9 - a2**4 / 25
    else:  # N(0, s^2): E w^4 = 3 s^4, E w^8 = 105 s^8
        var_w2 = 2.0 * variance**2
        var_w4 = 96.0 * variance**4
    return math.sqrt(variance / n), math.sqrt(var_w2 / n), math.sqrt(var_w4 / n)


def draw(name, shape, seed=0, dtype=np.float64):
    return np.asarray(get_initializer(name)(shape, np.random.default_rng(seed), np.dtype(dtype)))


def test_every_named_initializer_has_a_reference_here():
    # A new initializer added without its formula in this file fails here.
    assert set(INITIALIZERS) == set(REFERENCE) | set(CONSTANTS)


def check_variance_scaling(name, w, fan_in, fan_out):
    distribution, variance_of = REFERENCE[name]
    variance = variance_of(fan_in, fan_out)
    se_mean, se_var, se_w4 = moments_se(distribution, variance, w.size)
    # The margin: a variance off by a factor 2 either way is > 50 standard errors away.
    assert variance * (1 - 1 / 2) / se_var > 50
    w = w.astype(np.float64)
    assert abs(w.mean()) < 6 * se_mean, name
    w2 = np.mean(w**2)
    assert abs(w2 - variance) < 6 * se_var, (name, w2, variance, (w2 - variance) / se_var)
    # The shape of the distribution: E w^4 = 1.8 var^2 (uniform), 3 var^2 (normal). A
    # truncated normal of the same variance (Keras) has about 2.37 var^2: > 20 SE away.
    kurtosis = 1.8 if distribution == "uniform" else 3.0
    assert abs(np.mean(w**4) - kurtosis * variance**2) < 6 * se_w4, name
    if distribution == "uniform":
        limit = uniform_limit(name, fan_in, fan_out)
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() > 0.99 * limit
    else:
        std = normal_std(name, fan_in, fan_out)
        assert math.isclose(std**2, variance)
        # Keras's truncated normal never exceeds 2 / 0.8796 = 2.27 std; among >= 100,000
        # plain-normal draws the largest is beyond 4 std (P(all below 3.5 std) < 1e-20).
        assert np.abs(w).max() > 3.5 * std


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_variance_scaling_matches_formula_with_fans_from_shape(name, shape):
    fan_in, fan_out = shape  # a kernel is (n_in, n_out)
    w = draw(name, shape)
    assert w.shape == shape
    check_variance_scaling(name, w, fan_in, fan_out)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_bias_vector_uses_its_length_as_both_fans(name):
    # A 1-D parameter has fan_in = fan_out = its length (Keras's _compute_fans).
    w = draw(name, (200_000,))
    check_variance_scaling(name, w, 200_000, 200_000)


@pytest.mark.parametrize("name, value", sorted(CONSTANTS.items()))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_constants_are_exact(name, value, dtype):
    w = draw(name, (7, 3), dtype=dtype)
    assert w.dtype == dtype and w.shape == (7, 3) and (w == value).all()
    assert (draw(name, (5,), dtype=dtype) == value).all()
    assert (np.asarray(get_initializer(0.25)((2, 2), None, np.dtype(dtype))) == 0.25).all()


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_and_seed(name, dtype):
    a, b, c = draw(name, (30, 20), 1, dtype), draw(name, (30, 20), 1, dtype), draw(name, (30, 20),
                                                                              2, dtype)
    assert a.dtype == dtype
    assert np.array_equal(a, b) and not np.array_equal(a, c)


# -- through Dense in a built network --------------------------------------------------------


def built(*layers, n_in, seed=0):
    return gn.Sequential(list(layers), loss="mse", random_state=seed).build(n_in)


def test_dense_default_is_glorot_uniform_and_zero_bias():
    net = built(gn.Dense(600), gn.Dense(5), n_in=400)
    W, b, W2, b2 = (p.astype(np.float64) for p in net.parameters())
    check_variance_scaling("glorot_uniform", W, 400, 600)
    assert np.abs(W).max() <= math.sqrt(6 / 1000) and np.abs(W2).max() <= math.sqrt(6 / 605)
    assert np.abs(W2).max() > 0.9 * math.sqrt(6 / 605)
    assert (b == 0).all() and (b2 == 0).all()


def test_dense_he_normal_uses_fan_in_equal_to_n_in():
    # 50 -> 2000 -> 50: the first kernel's fan_in is 50 (not 2000, nor their mean 1025),
    # the second's is 2000: the variances differ 40-fold.
    net = built(gn.Dense(2000, kernel_initializer="he_normal"),
                gn.Dense(50, kernel_initializer="he_normal", bias_initializer="ones"), n_in=50)
    W1, b1, W2, b2 = (p.astype(np.float64) for p in net.parameters())
    assert W1.shape == (50, 2000) and W2.shape == (2000, 50)
    check_variance_scaling("he_normal", W1, 50, 2000)
    check_variance_scaling("he_normal", W2, 2000, 50)
    assert (b1 == 0).all() and (b2 == 1).all()


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_dense_uses_the_named_initializer(name):
    net = built(gn.Dense(600, kernel_initializer=name), n_in=400)
    check_variance_scaling(name, net.parameters()[0].astype(np.float64), 400, 600)


def test_dense_with_a_flatten_input_counts_all_pixels_as_fan_in():
    net = gn.Sequential([gn.Flatten(), gn.Dense(300, kernel_initializer="he_uniform")],
                        loss="mse", random_state=0).build((20, 25))
    W = net.parameters()[0]
    assert W.shape == (500, 300)
    check_variance_scaling("he_uniform", W.astype(np.float64), 500, 300)


# -- PyTorch as a second, independent reference ----------------------------------------------

# glassnet name -> torch.nn.init function and its arguments. LeCun is Kaiming with gain 1
# (nonlinearity="linear"); He is Kaiming with the ReLU gain sqrt(2).
TORCH = {
    "glorot_uniform": ("xavier_uniform_", {}),
    "xavier_uniform": ("xavier_uniform_", {}),
    "glorot_normal": ("xavier_normal_", {}),
    "xavier_normal": ("xavier_normal_", {}),
    "he_uniform": ("kaiming_uniform_", {"nonlinearity": "relu"}),
    "he_normal": ("kaiming_normal_", {"nonlinearity": "relu"}),
    "lecun_uniform": ("kaiming_uniform_", {"nonlinearity": "linear"}),
    "lecun_normal": ("kaiming_normal_", {"nonlinearity": "linear"}),
}


@pytest.mark.parametrize("shape", [(50, 2000), (2000, 50)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", sorted(TORCH))
def test_agrees_with_torch_nn_init(name, shape):
    torch = pytest.importorskip("torch")
    n_in, n_out = shape
    fn, kwargs = TORCH[name]
    torch.manual_seed(0)
    # torch's Linear weight is (out, in): its fan_in is size(1), so the shape is swapped.
    t = getattr(torch.nn.init, fn)(torch.empty(n_out, n_in, dtype=torch.float64), **kwargs)
    t = t.numpy().T
    g = draw(name, shape)
    distribution, variance_of = REFERENCE[name]
    variance = variance_of(n_in, n_out)
    _, se_var, _ = moments_se(distribution, variance, g.size)
    # Same variance (two independent samples: the difference's SE is sqrt(2) x one's).
    assert abs(np.mean(g**2) - np.mean(t**2)) < 6 * math.sqrt(2) * se_var
    assert abs(np.mean(t**2) - variance) < 6 * se_var  # and torch agrees with the table
    if distribution == "uniform":  # the same bound
        assert np.abs(g).max() <= np.abs(t).max() / 0.99
        assert np.abs(t).max() <= np.abs(g).max() / 0.99
    else:  # both plain normals: both reach past 3.5 std
        std = math.sqrt(variance)
        assert np.abs(g).max() > 3.5 * std and np.abs(t).max() > 3.5 * std
