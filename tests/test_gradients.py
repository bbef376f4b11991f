"""Backpropagation against central differences in float64, for every activation x loss."""

import zlib

import numpy as np
import pytest

import glassnet as gn
from glassnet.glass.gradcheck import numerical_gradient, relative_error
from glassnet.ops.activations import ACTIVATIONS, get_activation
from glassnet.ops.losses import get_loss

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "identity", "softmax"]
# Each loss with the output activations it is defined for (cross-entropies need (0, 1)).
LOSS_OUTPUTS = [
    ("mse", "identity"), ("mse", "sigmoid"), ("mse", "tanh"), ("mse", "relu"),
    ("mse", "leaky_relu"), ("mse", "softmax"),
    ("binary_cross_entropy", "sigmoid"), ("binary_cross_entropy", "softmax"),
    ("cross_entropy", "softmax"), ("cross_entropy", "sigmoid"),
    ("poisson", "exp"), ("poisson", "sigmoid"),
]
SHAPES = {  # name: (n_samples, n_features, hidden sizes, n_outputs)
    "shallow": (7, 3, [5], 3),
    "deep": (6, 4, [6, 5, 4, 3], 3),
    "one_sample": (1, 3, [4], 3),
    "one_feature": (8, 1, [5], 2),
}


def random_bias(shape, rng, dtype):
    # Non-zero biases: with zero biases a dead ReLU row gives the next layer z = 0
    # exactly, on the kink, where a central difference is one-sided.
    return rng.normal(0.0, 0.5, size=shape).astype(dtype)


def _targets(loss, rng, n, k):
    if loss == "mse":
        return rng.normal(size=(n, k))
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n, k)).astype(float)
    if loss == "poisson":
        return rng.poisson(1.5, size=(n, k)).astype(float)
    return rng.integers(0, k, size=n)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("loss,output", LOSS_OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_network_gradients_match_finite_differences(hidden, loss, output, shape):
    n, d, sizes, k = SHAPES[shape]
    rng = np.random.default_rng(zlib.crc32(f"{hidden}{loss}{output}{shape}".encode()))
    layers = [gn.Dense(h, activation=hidden, bias_initializer=random_bias) for h in sizes]
    layers.append(gn.Dense(k, activation=output, bias_initializer=random_bias))
    net = gn.Sequential(layers, loss=loss, random_state=0, dtype="float64")
    X = rng.normal(size=(n, d))
    errors = gn.gradcheck(net, X, _targets(loss, rng, n, k))
    assert len(errors) == 2 * len(layers)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("training", [False, True], ids=["dropout_off", "dropout_on"])
@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy", "cross_entropy"])
def test_separate_activation_layers_dropout_and_sample_weight(loss, training):
    # With training=True gradcheck draws one mask and holds it fixed for every difference.
    rng = np.random.default_rng(3)
    out = {"mse": gn.Identity(), "binary_cross_entropy": gn.Sigmoid(),
           "cross_entropy": gn.Softmax()}[loss]
    net = gn.Sequential(
        [gn.Dense(5), gn.LeakyReLU(0.2), gn.Dropout(0.5), gn.Dense(4), gn.Tanh(),
         gn.Dense(3), out], loss=loss, random_state=1, dtype="float64")
    X = rng.normal(size=(9, 4))
    w = rng.uniform(0, 2, size=9)
    errors = gn.gradcheck(net, X, _targets(loss, rng, 9, 3), sample_weight=w, training=training)
    assert max(errors.values()) < 1e-6, errors


def test_dropout_on_gradients_match_differences_with_a_mask_drawn_here():
    """Training mode, dropout ON, with a mask M fixed by the test: backprop equals central
    differences of the same training-mode loss, and units that M drops get no gradient."""
    rng = np.random.default_rng(13)
    net = gn.Sequential([gn.Dense(5, bias_initializer=random_bias), gn.Tanh(), gn.Dropout(0.4),
                         gn.Dense(3, activation="softmax")], random_state=2, dtype="float64")
    X, y = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
    keep = rng.random((8, 5)) >= 0.4
    keep[:, 1] = False  # hidden unit 1 dropped for every sample: its weights get no gradient
    keep[:, [0, 4]] = True  # units 0 and 4 kept for every sample
    assert 0 < (~keep).sum() < keep.size
    net.build(4)
    dropout = net.layers[2]
    dropout.fix_mask(keep)
    loss_on, grads = net.compute_gradients(X, y, training=True)
    assert np.array_equal(dropout._mask, keep / 0.6)  # M / (1 - rate), M the test's mask

    # The training-mode loss by hand: softmax cross-entropy of tanh(X W1 + b1) * M / 0.6.
    W1, b1, W2, b2 = net.get_weights()
    Z = np.tanh(X @ W1 + b1) * keep / 0.6 @ W2 + b2
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    assert loss_on == pytest.approx(-np.log(P[np.arange(8), y]).mean(), rel=1e-12)

    # Central differences of that same loss (the fixed mask makes it deterministic).
    def loss():
        return net.compute_gradients(X, y, training=True)[0]

    numeric = numerical_gradient(loss, net.params)
    offset = 0
    for g in grads:
        part = numeric[offset : offset + g.size].reshape(g.shape)
        offset += g.size
        assert relative_error(g, part) < 1e-8
    gW1, gb1 = grads[0], grads[1]
    assert (gW1[:, 1] == 0).all() and gb1[1] == 0  # a dropped unit gets exactly zero
    assert (gW1[:, [0, 4]] != 0).all() and (gb1[[0, 4]] != 0).all()
    assert (grads[2][1] == 0).all()  # its outgoing weights see a zero input: zero too
    # Dropout was really on: the prediction-mode gradient is another one.
    assert not np.allclose(net.compute_gradients(X, y)[1][2], grads[2])
    # Per element: dL/dA is zero exactly where M drops, dL/dA_out / 0.6 where it keeps.
    G = rng.normal(size=(8, 5))
    dropout.forward(rng.normal(size=(8, 5)), training=True)
    np.testing.assert_array_equal(dropout.backward(G), np.where(keep, G / 0.6, 0.0))
    # gradcheck in training mode uses the same fixed mask on its float64 copy.
    assert max(gn.gradcheck(net, X, y, training=True).values()) < 1e-7
    dropout.fix_mask(None)  # back to drawing: a fresh mask, not the test's
    net.compute_gradients(X, y, training=True)
    assert not np.array_equal(dropout._mask != 0, keep)


def test_fixed_dropout_mask_is_checked():
    layer = gn.Dropout(0.5)
    with pytest.raises(ValueError, match="only 0"):
        layer.fix_mask(np.full((2, 3), 0.5))
    layer.fix_mask(np.ones((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        layer.forward(np.ones((4, 3)), training=True)
    assert layer.forward(np.ones((4, 3))).shape == (4, 3)  # prediction ignores the mask


def test_one_hot_and_soft_targets_for_cross_entropy():
    rng = np.random.default_rng(4)
    net = gn.Sequential([gn.Dense(4, activation="tanh"), gn.Dense(3, activation="softmax")],
                        random_state=0, dtype="float64")
    X = rng.normal(size=(5, 2))
    soft = rng.dirichlet(np.ones(3), size=5)
    assert max(gn.gradcheck(net, X, soft).values()) < 1e-6
    assert max(gn.gradcheck(net, X, np.eye(3)[[0, 2, 1, 1, 0]]).values()) < 1e-6


def test_image_input_through_flatten():
    rng = np.random.default_rng(5)
    images = rng.uniform(size=(4, 3, 3, 2))  # (n, height, width, channels)
    net = gn.Sequential([gn.Flatten(), gn.Dense(5, activation="relu"),
                         gn.Dense(2, activation="softmax")], random_state=0, dtype="float64")
    assert max(gn.gradcheck(net, images, [0, 1, 1, 0]).values()) < 1e-6
    assert net.predict(images).shape == (4, 2)


# -- the harness for single pieces: layers, activations, losses ----------------------

def check_layer(layer, A, rng, tol=1e-7):
    """Gradient of L = sum(G * layer(A)) w.r.t. A and every parameter, vs differences."""
    layer.name = "x"
    output_shape = layer.build(A.shape[1:])
    specs = layer.param_specs(A.shape[1:])
    params = [rng.normal(size=s.shape) for s in specs]
    grads = [np.zeros(s.shape) for s in specs]
    layer.bind(params, grads)
    out = layer.forward(A, training=False)
    assert out.shape == (len(A), *output_shape)  # declared == actual shape
    G = rng.normal(size=out.shape)

    def loss():
        return float((G * layer.forward(A, training=False)).sum())

    layer.forward(A, training=False)
    dA = layer.backward(G)
    assert relative_error(dA, numerical_gradient(loss, A)) < tol
    for p, g in zip(params, grads):
        assert relative_error(g, numerical_gradient(loss, p)) < tol


@pytest.mark.parametrize("activation", [None, *sorted(set(ACTIVATIONS))])
def test_dense_layer(activation):
    rng = np.random.default_rng(6)
    check_layer(gn.Dense(4, activation=activation), rng.normal(size=(5, 3)), rng)


@pytest.mark.parametrize("layer", [gn.Sigmoid(), gn.Tanh(), gn.ReLU(), gn.LeakyReLU(0.3),
                                   gn.Identity(), gn.Softmax()], ids=repr)
def test_activation_layers(layer):
    rng = np.random.default_rng(7)
    check_layer(layer, rng.normal(size=(6, 4)), rng)


def test_dropout_backward_uses_the_forward_mask():
    rng = np.random.default_rng(8)
    layer = gn.Dropout(0.4)
    A = rng.normal(size=(50, 20))
    layer.rng = np.random.default_rng(0)
    out = layer.forward(A, training=True)
    kept = out != 0
    # Inverted dropout: kept units are scaled by 1 / (1 - rate); about 60% are kept.
    np.testing.assert_allclose(out[kept], A[kept] / 0.6)
    assert 0.5 < kept.mean() < 0.7
    G = rng.normal(size=A.shape)
    np.testing.assert_allclose(layer.backward(G), np.where(kept, G / 0.6, 0.0))
    assert layer.forward(A, training=False) is A  # off in prediction


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "identity", "exp"])
def test_elementwise_derivative_matches_differences(name):
    f = get_activation(name)
    Z = np.random.default_rng(9).normal(size=(4, 3))
    eps = 1e-6
    numeric = (f.value(Z + eps) - f.value(Z - eps)) / (2 * eps)
    np.testing.assert_allclose(f.derivative(Z, f.value(Z)), numeric, atol=1e-8)


def test_softmax_jacobian_matches_differences():
    f = get_activation("softmax")
    z = np.random.default_rng(10).normal(size=(1, 4))
    eps = 1e-6
    numeric = np.stack([(f.value(z + eps * e) - f.value(z - eps * e))[0] / (2 * eps)
                        for e in np.eye(4)], axis=1)
    np.testing.assert_allclose(f.derivative(z, f.value(z))[0], numeric, atol=1e-8)


@pytest.mark.parametrize("name,act", [("mse", "identity"), ("binary_cross_entropy", "sigmoid"),
                                      ("cross_entropy", "softmax"), ("poisson", "exp")])
def test_losses_general_and_fused_gradients(name, act):
    rng = np.random.default_rng(11)
    loss, f = get_loss(name), get_activation(act)
    Z = rng.normal(size=(5, 3))
    T = loss.prepare_targets(_targets(name, rng, 5, 3), 3, np.float64)
    w = rng.uniform(0.5, 2, size=5)
    P = f.value(Z)
    dP = loss.gradient(P, T, w)
    numeric_P = numerical_gradient(lambda: loss.value(P, T, w), P)
    assert relative_error(dP, numeric_P) < 1e-7
    if loss.fused_activation:
        value, dZ = loss.fused(Z.copy(), T, f, w)
        assert value == pytest.approx(loss.value(P, T, w), rel=1e-12)
        numeric_Z = numerical_gradient(lambda: loss.value(f.value(Z), T, w), Z)
        assert relative_error(dZ, numeric_Z) < 1e-7


def test_fused_losses_stay_finite_for_extreme_logits():
    Z = np.array([[1000.0, -1000.0, 0.0]])
    value, dZ = get_loss("cross_entropy").fused(Z.copy(), np.array([1]), get_activation("softmax"))
    assert value == pytest.approx(2000.0)  # -log softmax = logsumexp(z) - z_1 = 1000 + 1000
    np.testing.assert_allclose(dZ, [[1.0, -1.0, 0.0]], atol=1e-12)
    # Binary cross-entropy of logits: per entry softplus(z) - t z, mean over the n x k
    # entries; dL/dz = (sigmoid(z) - t) / (n k).
    sigmoid, bce = get_activation("sigmoid"), get_loss("bce")
    # z = 800, t = 0: softplus(800) = 800 + log(1 + e^-800) = 800; sigmoid(800) - 0 = 1.
    value, dZ = bce.fused(np.array([[800.0]]), np.array([[0.0]]), sigmoid)
    assert value == pytest.approx(800.0, rel=1e-15)
    np.testing.assert_array_equal(dZ, [[1.0]])
    # z = -800, t = 1: softplus(-800) + 800 = 800; sigmoid(-800) - 1 = -1.
    value, dZ = bce.fused(np.array([[-800.0]]), np.array([[1.0]]), sigmoid)
    assert value == pytest.approx(800.0, rel=1e-15)
    np.testing.assert_array_equal(dZ, [[-1.0]])
    # z = 800, t = 1: softplus(800) - 800 = log(1 + e^-800) = 0; sigmoid(800) - 1 = 0.
    value, dZ = bce.fused(np.array([[800.0]]), np.array([[1.0]]), sigmoid)
    assert value == 0.0
    np.testing.assert_array_equal(dZ, [[0.0]])
    # n = 2, k = 2, z = [[800, -800], [-800, 30]], t = [[0, 0], [0, 1]]:
    # loss = (800 + 0 + 0 + softplus(-30)) / 4 = 200 + log(1 + e^-30) / 4 = 200 + 2.34e-14;
    # dL/dz = [[1 - 0, 0 - 0], [0 - 0, sigmoid(30) - 1]] / 4
    #       = [[0.25, 0], [0, -e^-30 / (1 + e^-30) / 4]] = [[0.25, 0], [0, -2.339e-14]].
    value, dZ = bce.fused(np.array([[800.0, -800.0], [-800.0, 30.0]]),
                          np.array([[0.0, 0.0], [0.0, 1.0]]), sigmoid)
    assert value == pytest.approx(200.0 + np.log1p(np.exp(-30.0)) / 4, rel=1e-15)
    tail = -np.exp(-30.0) / (1 + np.exp(-30.0)) / 4
    np.testing.assert_allclose(dZ, [[0.25, 0.0], [0.0, tail]], rtol=0, atol=1e-16)
