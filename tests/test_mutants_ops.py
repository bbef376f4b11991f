"""Activations, losses, initializers and optimizers at the edges the reference tests leave
open: defaults (checked by their effect), argument checks and their exact messages, reprs
and configs, boundary values (0, 1, a weight sum of 0, a fan of 1, a gradient norm at the
clip), dtypes. References: PyTorch (autograd, torch.nn.functional, torch.optim),
scikit-learn's metrics, the formula written out in NumPy here, or exact expected text.
"""

import math
import warnings

import numpy as np
import pytest
from sklearn.metrics import log_loss

import glassnet as gn
from glassnet.ops import activations
from glassnet.ops.activations import get_activation
from glassnet.ops.initializers import VarianceScaling, get_initializer
from glassnet.ops.losses import get_loss
from glassnet.optimizers import get_optimizer

torch = pytest.importorskip("torch")
F = torch.nn.functional

# -- activations ---------------------------------------------------------------------

Z = np.array([[-3.0, -0.5, 0.0, 0.25, 0.75, 2.0], [40.0, -40.0, 0.5, -0.25, 1.0, -1.0]])
TORCH = {
    "sigmoid": torch.sigmoid, "logistic": torch.sigmoid, "tanh": torch.tanh,
    "relu": torch.relu, "identity": lambda z: z, "linear": lambda z: z,
    "purelin": lambda z: z, "exp": torch.exp, "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "softmax": lambda z: torch.softmax(z, dim=1),
}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_activation_value_and_backward_match_torch_with_and_without_out(name):
    f = get_activation(name.upper() if name == "relu" else name)  # names are case-insensitive
    z = torch.tensor(Z, requires_grad=True)
    a = TORCH[name](z)
    G = np.linspace(-1.0, 1.5, Z.size).reshape(Z.shape)
    a.backward(torch.tensor(G))
    expected, dZ = a.detach().numpy(), z.grad.numpy()
    A = f.value(Z.copy())
    np.testing.assert_allclose(A, expected, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(f.value(Z.copy(), out=np.empty_like(Z)), expected, rtol=1e-14,
                               atol=1e-300)
    np.testing.assert_allclose(f.backward(G, Z, A), dZ, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(f.backward(G, Z, A, out=np.empty_like(Z)), dZ, rtol=1e-13,
                               atol=1e-300)
    if f.name != "softmax":  # element-wise: the derivative itself: dA/dZ, torch's gradient of a ones upstream
        z1 = torch.tensor(Z, requires_grad=True)
        TORCH[name](z1).backward(torch.ones_like(z1))
        np.testing.assert_allclose(f.derivative(Z, A), z1.grad.numpy(), rtol=1e-13)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "identity", "exp",
                                  "softmax"])
def test_biased_value_is_f_of_z_plus_b_and_leaves_z_plus_b_in_z(name):
    f = get_activation(name)
    b = np.array([0.5, -1.0, 0.25, 0.0, -0.75, 1.0])
    Zb = Z.copy()
    out = f.biased_value(Zb, b)
    np.testing.assert_allclose(out, TORCH[name](torch.tensor(Z + b)).numpy(), rtol=1e-14)
    np.testing.assert_array_equal(Zb, Z + b)
    Zb = Z.copy()
    out = f.biased_value(Zb, b, out=np.empty_like(Z))
    np.testing.assert_allclose(out, TORCH[name](torch.tensor(Z + b)).numpy(), rtol=1e-14)


def test_sigmoid_keeps_relative_precision_far_out_and_never_overflows():
    f = get_activation("sigmoid")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A = f.value(np.array([[-40.0, -800.0, 800.0, 0.0, 0.5]]))
    # 1 / (1 + e^40) = e^-40 / (1 + e^-40), written out.
    assert A[0, 0] == pytest.approx(math.exp(-40) / (1 + math.exp(-40)), rel=1e-15)
    assert A[0, 1] == 0.0 and A[0, 2] == 1.0 and A[0, 3] == 0.5
    assert A[0, 4] == pytest.approx(1 / (1 + math.exp(-0.5)), rel=1e-15)
    A32 = f.value(np.array([[0.5, -0.5]], dtype=np.float32))
    assert A32.dtype == np.float32


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0, 1.5, 2.5])
def test_leaky_relu_of_every_slope_matches_torch(alpha):
    f = get_activation({"name": "leaky_relu", "alpha": alpha})
    assert f.alpha == alpha and f.get_config() == {"name": "leaky_relu", "alpha": alpha}
    z = torch.tensor(Z, requires_grad=True)
    a = F.leaky_relu(z, alpha)
    a.backward(torch.ones_like(z))
    A = f.value(Z)
    np.testing.assert_array_equal(A, a.detach().numpy())
    np.testing.assert_array_equal(f.value(Z, out=np.empty_like(Z)), a.detach().numpy())
    # At z = 0 torch's slope is alpha (the left one): the same here.
    np.testing.assert_array_equal(f.derivative(Z, A), z.grad.numpy())
    np.testing.assert_array_equal(f.backward(np.ones_like(Z), Z, A), z.grad.numpy())


def test_leaky_relu_default_slope_and_refused_slopes():
    f = get_activation("leaky_relu")
    np.testing.assert_array_equal(f.value(np.array([[-2.0, 3.0]])), [[-0.02, 3.0]])
    assert repr(f) == "LeakyReLU(alpha=0.01)"
    layer = gn.LeakyReLU()
    np.testing.assert_array_equal(layer.forward(np.array([[-2.0, 3.0]])), [[-0.02, 3.0]])
    with pytest.raises(ValueError) as error:
        get_activation({"name": "leaky_relu", "alpha": -0.1})
    assert str(error.value) == "alpha must be a finite number >= 0, got -0.1."


def test_relu_and_leaky_relu_derivatives_at_zero_are_torchs():
    z = torch.tensor([[0.0, -0.0, 1e-300, -1e-300]], requires_grad=True)
    torch.relu(z).backward(torch.ones_like(z))
    Z0 = z.detach().numpy()
    relu = get_activation("relu")
    np.testing.assert_array_equal(relu.derivative(Z0, relu.value(Z0)), z.grad.numpy())
    np.testing.assert_array_equal(relu.backward(np.ones_like(Z0), Z0, relu.value(Z0)),
                                  z.grad.numpy())


def test_softmax_jacobian_and_backward_match_torch():
    f = get_activation("softmax")
    z = torch.tensor(Z[:, :4])
    jac = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, dim=1), z)
    per_sample = np.stack([jac[i, :, i, :].numpy() for i in range(len(Z))])
    A = f.value(Z[:, :4])
    np.testing.assert_allclose(f.derivative(Z[:, :4], A), per_sample, rtol=1e-12, atol=1e-300)
    big = np.array([[1000.0, 999.0, -1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(f.value(big),
                                   torch.softmax(torch.tensor(big), dim=1).numpy(), rtol=1e-14)


class Softplus(activations.Activation):
    """A user's activation: only ``value`` and ``derivative``, the rest from the base class."""

    name = "softplus"

    def value(self, Z, out=None):
        return np.logaddexp(0.0, Z, out=out)

    def derivative(self, Z, A):
        return 1.0 / (1.0 + np.exp(-Z))  # from Z, not A


def test_a_user_activation_gets_its_backward_step_from_the_base_class():
    f = Softplus()
    assert repr(f) == "Softplus()" and f.get_config() == {"name": "softplus"}
    z = torch.tensor(Z, requires_grad=True)
    a = F.softplus(z)
    G = np.linspace(-1.0, 1.5, Z.size).reshape(Z.shape)
    a.backward(torch.tensor(G))
    A = f.value(Z)
    np.testing.assert_allclose(f.backward(G, Z, A), z.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(f.backward(G, Z, A, out=np.empty_like(Z)), z.grad.numpy(),
                               rtol=1e-13)
    b = np.full(Z.shape[1], 0.5)
    np.testing.assert_allclose(f.biased_value(Z.copy(), b), F.softplus(z + 0.5).detach().numpy(),
                               rtol=1e-14)
    # Inside a network: the gradients of a Dense layer with it match autograd.
    net = gn.Sequential([gn.Dense(3, activation=f), gn.Dense(1)], loss="mse", random_state=0,
                        dtype="float64").build(2)
    X, y = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([1.0, -1.0])
    _, grads = net.compute_gradients(X, y)
    params = [torch.tensor(p.copy(), requires_grad=True) for p in net.parameters()]
    P = F.softplus(torch.tensor(X) @ params[0] + params[1]) @ params[2] + params[3]
    ((P[:, 0] - torch.tensor(y)) ** 2).mean().backward()
    for g, p in zip(grads, params):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "identity", "exp",
                                  "softmax"])
def test_float32_activations_stay_float32(name):
    f = get_activation(name)
    Z32 = Z.astype(np.float32)
    A = f.value(Z32)
    assert A.dtype == np.float32
    assert f.derivative(Z32, A).dtype == np.float32
    assert f.backward(np.ones_like(Z32), Z32, A).dtype == np.float32


def test_get_activation_accepts_names_configs_and_instances_and_names_what_is_wrong():
    inst = get_activation("tanh")
    assert get_activation(inst) is inst
    assert repr(get_activation({"name": "Sigmoid"})) == "Sigmoid()"
    assert repr(get_activation("linear")) == "Identity()"
    assert get_activation("exp").get_config() == {"name": "exp"}
    choices = ("Valid activation names are: 'exp', 'identity', 'leaky_relu', 'linear', "
               "'logistic', 'purelin', 'relu', 'sigmoid', 'softmax', 'tanh'.")
    with pytest.raises(ValueError) as error:
        get_activation("swish")
    assert str(error.value) == "Unknown activation 'swish'. " + choices
    with pytest.raises(ValueError) as error:
        get_activation({"alpha": 0.1})
    assert str(error.value) == "Unknown activation None. " + choices


# -- initializers --------------------------------------------------------------------

def test_a_kernel_with_one_input_uses_a_fan_of_one():
    # he_uniform on (1, 20000): fan_in = 1, limit sqrt(6 / 1); lecun_normal: std 1.
    w = get_initializer("he_uniform")((1, 20000), np.random.default_rng(0), np.float64)
    limit = math.sqrt(6.0)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.999 * limit
    w = get_initializer("lecun_normal")((1, 20000), np.random.default_rng(1), np.float64)
    assert abs(w.std() - 1.0) < 0.03  # 20 000 draws: se of the std ~ 0.005
    # glorot_uniform on (1, 1): fan_avg = 1, limit sqrt(3); on a bias of 1: the same.
    for shape in [(1, 1), (1,)]:
        w = get_initializer("glorot_uniform")(shape, np.random.default_rng(2), np.float64)
        assert w.shape == shape and abs(w).max() <= math.sqrt(3.0)
    many = np.concatenate([get_initializer("glorot_uniform")((1,), np.random.default_rng(s),
                                                             np.float64) for s in range(400)])
    assert np.abs(many).max() > 0.98 * math.sqrt(3.0)


def test_a_variance_scaling_built_by_hand_draws_with_its_scale_mode_and_distribution():
    rng = np.random.default_rng(3)
    w = VarianceScaling(2.0, "fan_in", "uniform")((50, 4000), rng, np.float64)
    limit = math.sqrt(3 * 2.0 / 50)  # U(-a, a) has variance a^2 / 3 = 2 / fan_in
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.999 * limit
    w = VarianceScaling(1.0, "fan_avg", "normal")((50, 4000), rng, np.float64)
    assert abs(w.std() - math.sqrt(1.0 / 2025)) < 0.01 * math.sqrt(1.0 / 2025)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numbers_and_arrays_give_exact_values_in_the_asked_dtype(dtype):
    rng = np.random.default_rng(0)
    c = get_initializer(0.25)((2, 3), rng, np.dtype(dtype))
    assert c.dtype == dtype and c.shape == (2, 3) and (c == 0.25).all()
    i = get_initializer(3)((2,), rng, np.dtype(dtype))
    assert i.dtype == dtype and (i == 3.0).all()
    e = get_initializer([[1, 2], [3, 4]])((2, 2), rng, np.dtype(dtype))
    assert e.dtype == dtype
    np.testing.assert_array_equal(e, [[1, 2], [3, 4]])
    ones = get_initializer("ones")((3,), rng, np.dtype(dtype))
    assert ones.dtype == dtype and (ones == 1).all()
    g = get_initializer("he_normal")((3, 4), rng, np.dtype(dtype))
    assert g.dtype == dtype and g.shape == (3, 4)


def test_initializer_errors_name_what_is_wrong():
    with pytest.raises(ValueError) as error:
        get_initializer(None)
    assert str(error.value) == (
        "An initializer must be a name, a number, an array of numbers or a callable "
        "init(shape, rng, dtype), got None.")
    with pytest.raises(ValueError) as error:
        get_initializer(["a", "b"])
    assert str(error.value).startswith("An initializer must be a name, a number")
    with pytest.raises(ValueError) as error:
        get_initializer(np.ones((2, 3)))((3, 2), None, np.float64)
    assert str(error.value) == (
        "An explicit initial array has shape (2, 3), but the parameter it initializes has "
        "shape (3, 2) (kernels are (n_in, n_out)).")
    with pytest.raises(ValueError, match=r"^Unknown initializer 'glorot'\. Valid initializer"):
        get_initializer("glorot")
    assert get_initializer("He_Uniform") is get_initializer("he_uniform")

    def custom(shape, rng, dtype):
        return np.full(shape, 7.0, dtype=dtype)

    assert get_initializer(custom) is custom


# -- losses --------------------------------------------------------------------------

def test_loss_names_reprs_and_configs():
    assert repr(get_loss("squared_error")) == "MeanSquaredError()"
    assert repr(get_loss({"name": "bce"})) == "BinaryCrossEntropy()"
    assert repr(get_loss(gn.CrossEntropy)) == "CrossEntropy()"
    assert get_loss("poisson").get_config() == {"name": "poisson"}
    assert get_loss("categorical_crossentropy").get_config() == {"name": "cross_entropy"}
    loss = gn.MeanSquaredError()
    assert get_loss(loss) is loss
    with pytest.raises(ValueError) as error:
        get_loss("hinge")
    assert str(error.value).startswith("Unknown loss 'hinge'. Valid loss names are: 'bce', ")
    with pytest.raises(ValueError, match=r"^Unknown loss None\. Valid loss names"):
        get_loss({"kind": "mse"})


@pytest.mark.parametrize("name", ["mse", "binary_cross_entropy", "poisson", "cross_entropy"])
def test_all_zero_sample_weights_give_zero_loss_and_zero_gradient(name):
    loss = get_loss(name)
    P = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    T = np.array([0, 2]) if name == "cross_entropy" else np.array([[0.0, 1, 0], [1, 0, 1]])
    w = np.zeros(2)
    assert loss.value(P, T, w) == 0.0
    np.testing.assert_array_equal(loss.gradient(P, T, w), np.zeros_like(P))


@pytest.mark.parametrize("w", [[0.5, 0.5], [0.25, 0.5], [2.0, 6.0]])
def test_weighted_losses_are_weighted_means_for_any_weight_total(w):
    w = np.array(w)
    P = np.array([[0.2, 0.7], [0.9, 0.4]])
    T = np.array([[0.0, 1.0], [1.0, 1.0]])
    mse = ((P - T) ** 2).mean(axis=1)
    assert get_loss("mse").value(P, T, w) == pytest.approx((w * mse).sum() / w.sum(),
                                                           rel=1e-14)
    np.testing.assert_allclose(get_loss("mse").gradient(P, T, w),
                               2 * (P - T) * w[:, None] / (2 * w.sum()), rtol=1e-14)
    bce = F.binary_cross_entropy(torch.tensor(P), torch.tensor(T), reduction="none").mean(1)
    assert get_loss("bce").value(P, T, w) == pytest.approx(
        float((torch.tensor(w) * bce).sum() / w.sum()), rel=1e-13)


def test_float32_losses_sum_in_float64_and_keep_the_gradient_dtype():
    # (1e4 - 0)^2 = 1e8 plus two 1s: a float32 sum gives 1e8 (the 1s are below its
    # resolution of 8), float64 gives 100000002.
    P = np.array([[1e4], [1.0], [1.0]], dtype=np.float32)
    T = np.zeros((3, 1), dtype=np.float32)
    assert get_loss("mse").value(P, T) == pytest.approx(100000002.0 / 3, rel=1e-12)
    w = np.array([1.0, 2.0, 1.0])
    for name in ["mse", "poisson", "bce"]:
        Pn = np.array([[0.3], [0.6], [0.9]], dtype=np.float32)
        Tn = np.array([[0.0], [1.0], [1.0]], dtype=np.float32)
        assert get_loss(name).gradient(Pn, Tn, w).dtype == np.float32, name
        assert get_loss(name).gradient(Pn, Tn).dtype == np.float32, name
    labels = np.array([0, 1, 1])
    P3 = np.array([[0.7, 0.3], [0.4, 0.6], [0.5, 0.5]], dtype=np.float32)
    assert get_loss("cross_entropy").gradient(P3, labels, w).dtype == np.float32


def test_binary_cross_entropy_clips_at_the_float32_epsilon_in_float32():
    # sklearn's log_loss clips at the epsilon of the input's dtype too.
    P = np.array([[0.0], [1.0], [0.5]], dtype=np.float32)
    T = np.array([[1.0], [0.0], [1.0]], dtype=np.float32)
    expected = log_loss(T[:, 0], P[:, 0], labels=[0, 1])
    got = get_loss("bce").value(P, T)
    assert got == pytest.approx(expected, rel=1e-6)
    eps = np.finfo(np.float32).eps
    assert got == pytest.approx((-2 * np.log(np.float64(eps)) - np.log(0.5)) / 3, rel=1e-6)
    # The general gradient at the clip: (p - t) / (p (1 - p)) / n with p clipped.
    G = get_loss("bce").gradient(P, T)
    np.testing.assert_allclose(G[:2, 0], [-1 / (3 * eps), 1 / (3 * eps)], rtol=1e-6)
    assert np.isfinite(G).all()


def test_cross_entropy_value_of_probability_rows_matches_torch():
    P = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1], [0.25, 0.25, 0.5]])
    T = np.array([[0.0, 0.0, 1.0], [0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    w = np.array([1.0, 3.0, 0.5])
    per_sample = -(torch.tensor(T) * torch.log(torch.tensor(P))).sum(dim=1)
    expected = float((torch.tensor(w) * per_sample).sum() / w.sum())
    assert get_loss("cross_entropy").value(P, T, w) == pytest.approx(expected, rel=1e-14)
    labels = np.array([2, 0, 1])
    ref = F.nll_loss(torch.log(torch.tensor(P)), torch.tensor(labels))
    assert get_loss("cross_entropy").value(P, labels) == pytest.approx(ref.item(), rel=1e-14)


def test_cross_entropy_gradient_of_a_zero_probability_is_finite():
    P = np.array([[1.0, 0.0], [0.25, 0.75]])
    G = get_loss("cross_entropy").gradient(P, np.array([1, 1]))
    tiny = np.finfo(np.float64).tiny
    np.testing.assert_allclose(G, [[0.0, -1 / tiny / 2], [0.0, -1 / 0.75 / 2]], rtol=1e-14)
    G1 = get_loss("cross_entropy").gradient(P, np.array([[0.0, 1.0], [0.0, 1.0]]))
    np.testing.assert_allclose(G1, G, rtol=1e-14)


def test_poisson_edges_zero_targets_warn_nothing_and_zero_predictions_are_clipped():
    loss = get_loss("poisson")
    P = np.array([[0.5, 2.0], [1.0, 0.0]])
    T = np.array([[0.0, 3.0], [0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = loss.value(P, T)
        G = loss.gradient(P, T)
        fused_value, dZ = loss.fused(np.log(P[:1]), T[:1], get_activation("exp"))
    # l = p - y log p + y log y - y per entry; at y = 0: l = p.
    per = np.array([[0.5, 2.0 - 3 * np.log(2.0) + 3 * np.log(3.0) - 3], [1.0, 0.0]])
    assert value == pytest.approx(per.mean(axis=1).mean(), rel=1e-14)
    np.testing.assert_allclose(G, (1 - T / np.array([[0.5, 2.0], [1.0, 1.0]])) / 4, rtol=1e-14)
    assert fused_value == pytest.approx(per[0].mean(), rel=1e-14)
    np.testing.assert_allclose(dZ, (P[:1] - T[:1]) / 2, rtol=1e-14)


def test_cross_entropy_fused_with_soft_targets_that_do_not_sum_to_one():
    # l_i = sum_j y_ij (logsumexp(z_i) - z_ij); dL/dz = (p sum_j y_ij - y) / n: torch's
    # cross_entropy with probability targets is that same sum.
    Zl = np.array([[1.0, -0.5, 2.0], [0.0, 0.3, -1.0]])
    T = np.array([[0.2, 0.3, 0.1], [0.0, 1.5, 0.5]])
    z = torch.tensor(Zl, requires_grad=True)
    ref = F.cross_entropy(z, torch.tensor(T), reduction="mean")
    ref.backward()
    value, dZ = get_loss("cross_entropy").fused(Zl.copy(), T, get_activation("softmax"))
    assert value == pytest.approx(ref.item(), rel=1e-13)
    np.testing.assert_allclose(dZ, z.grad.numpy(), rtol=1e-13)


@pytest.mark.parametrize("name, y, n_outputs, message", [
    ("mse", np.array(["a"]), 1, "Loss 'mse' needs numeric targets y, got dtype <U1."),
    ("mse", np.ones((2, 2)), 3,
     "y has shape (2, 2) but the network has 3 output(s); loss 'mse' needs y of shape "
     "(n_samples, 3)."),
    ("bce", np.array([0.0, 1.5]), 1,
     "Loss 'binary_cross_entropy' needs targets y in [0, 1] (class labels 0/1 or "
     "probabilities), got values in [0.0, 1.5]."),
    ("bce", np.array([-0.5, 1.0]), 1,
     "Loss 'binary_cross_entropy' needs targets y in [0, 1] (class labels 0/1 or "
     "probabilities), got values in [-0.5, 1.0]."),
    ("bce", np.array(["a", "b"]), 1,
     "Loss 'binary_cross_entropy' needs numeric targets y (0/1 labels), got dtype <U1; encode "
     "string labels as 0/1 first (or use glassnet.MLPClassifier)."),
    ("cross_entropy", np.array([0, 1]), 1,
     "Loss 'cross_entropy' needs an output layer of 2 or more units (one per class), got 1. "
     "For two classes with one output unit use loss='binary_cross_entropy' with a sigmoid "
     "output."),
    ("cross_entropy", np.array([0.0, 1.5]), 3,
     "Loss 'cross_entropy' needs integer class labels y (or one-hot rows), got non-integer "
     "floats."),
    ("cross_entropy", np.array(["a", "b"]), 3,
     "Loss 'cross_entropy' needs integer class labels 0..n_classes-1 (or one-hot rows), got "
     "dtype <U1; encode string labels first (or use glassnet.MLPClassifier)."),
    ("cross_entropy", np.array([["a", "b"]] * 2), 3,
     "Loss 'cross_entropy' needs integer class labels 0..n_classes-1 (or one-hot rows), got "
     "dtype <U1; encode string labels first (or use glassnet.MLPClassifier)."),
    ("cross_entropy", np.array([0, 3]), 3,
     "Loss 'cross_entropy' needs class labels y in [0, 2] for a network with 3 outputs, got "
     "labels in [0, 3]."),
    ("cross_entropy", np.array([-1, 2]), 3,
     "Loss 'cross_entropy' needs class labels y in [0, 2] for a network with 3 outputs, got "
     "labels in [-1, 2]."),
    ("cross_entropy", np.array([[1.5, 0.0], [0.0, 1.0]]), 2,
     "Loss 'cross_entropy' needs targets y in [0, 1] (class labels 0/1 or probabilities), "
     "got values in [0.0, 1.5]."),
    ("poisson", np.array([[1.0, -2.0]]), 2,
     "Loss 'poisson' needs targets y >= 0, got a minimum of -2.0."),
])
def test_every_refused_target_gets_its_exact_message(name, y, n_outputs, message):
    with pytest.raises(ValueError) as error:
        get_loss(name).prepare_targets(y, n_outputs, np.float64)
    assert str(error.value) == message


@pytest.mark.parametrize("name, y, n_outputs, expected, dtype", [
    ("mse", np.array([1, 2, 3]), 1, [[1.0], [2.0], [3.0]], np.float32),
    ("mse", np.array([[1, 2]]), 2, [[1.0, 2.0]], np.float64),
    ("bce", np.array([0, 1, 1]), 1, [[0.0], [1.0], [1.0]], np.float32),
    ("bce", np.array([[0.0, 1.0]]), 2, [[0.0, 1.0]], np.float64),
    ("cross_entropy", np.array([0.0, 2.0, 1.0]), 3, [0, 2, 1], np.intp),
    ("cross_entropy", np.array([True, False]), 2, [1, 0], np.intp),
    ("cross_entropy", np.array([[0.0, 1.0], [1.0, 0.0]]), 2, [[0.0, 1.0], [1.0, 0.0]],
     np.float32),
    ("poisson", np.array([0, 4]), 1, [[0.0], [4.0]], np.float32),
])
def test_accepted_targets_are_encoded_in_the_networks_dtype(name, y, n_outputs, expected,
                                                            dtype):
    net_dtype = np.float64 if dtype == np.intp else dtype
    T = get_loss(name).prepare_targets(y, n_outputs, net_dtype)
    assert T.dtype == dtype
    np.testing.assert_array_equal(T, expected)


@pytest.mark.parametrize("name, n_outputs", [("mse", 1), ("bce", 1), ("bce", 2),
                                             ("cross_entropy", 3), ("poisson", 1)])
def test_empty_targets_are_accepted(name, n_outputs):
    y = np.zeros((0,)) if n_outputs == 1 or name == "cross_entropy" else np.zeros((0, 2))
    T = get_loss(name).prepare_targets(y, n_outputs, np.float64)
    assert len(T) == 0


# -- optimizers and schedules --------------------------------------------------------

def one_step(opt, p, g):
    """One update of a flat parameter vector (a copy) from the gradient g."""
    p = np.array(p, dtype=np.float64)
    opt.step(p, np.array(g, dtype=np.float64))
    return p


def torch_steps(make, p, grads):
    t = torch.tensor(np.array(p, dtype=np.float64), requires_grad=True)
    opt = make([t])
    for g in grads:
        opt.zero_grad()
        t.grad = torch.tensor(np.array(g, dtype=np.float64))
        opt.step()
    return t.detach().numpy()


P0 = [1.0, -2.0, 0.5, 3.0]
GRADS = [[0.1, -0.2, 0.3, 0.05], [0.2, 0.1, -0.4, 0.0], [-0.1, 0.3, 0.2, 0.1]]


@pytest.mark.parametrize("ours, theirs", [
    (lambda: gn.SGD(), lambda p: torch.optim.SGD(p, lr=0.01)),
    (lambda: gn.RMSprop(), lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7)),
    (lambda: gn.Adam(), lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)),
    (lambda: gn.AdamW(), lambda p: torch.optim.AdamW(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                                     weight_decay=0.01)),
    (lambda: get_optimizer("adamw"), lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.01,
                                                                 eps=1e-8)),
    (lambda: get_optimizer("rmsprop"), lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9,
                                                                     eps=1e-7)),
], ids=["sgd", "rmsprop", "adam", "adamw", "adamw_by_name", "rmsprop_by_name"])
def test_default_optimizers_step_like_torch_with_the_documented_defaults(ours, theirs):
    opt = ours()
    p = np.array(P0)
    for g in GRADS:
        opt.step(p, np.array(g))
    np.testing.assert_allclose(p, torch_steps(theirs, P0, GRADS), rtol=1e-12, atol=1e-15)
    assert opt.iterations == 3


def test_adamw_default_decay_shrinks_the_weights_by_lr_times_0_01():
    # With a zero gradient Adam's step is 0 / (0 + eps) = 0: only the decay acts.
    p = one_step(gn.AdamW(), P0, np.zeros(4))
    np.testing.assert_allclose(p, np.array(P0) * (1 - 1e-3 * 0.01), rtol=1e-15)
    p = one_step(gn.Adam(), P0, np.zeros(4))  # Adam's default: no decay
    np.testing.assert_array_equal(p, P0)


def test_a_custom_optimizer_gets_the_base_defaults():
    class Plain(gn.Optimizer):
        def _update(self, p, g, lr, scale, l2):
            p -= lr * (scale * g + l2 * p)

    opt = Plain(0.5)
    assert opt.weight_decay == 0.0 and opt.clipnorm is None
    np.testing.assert_allclose(one_step(opt, P0, [1.0, 1.0, 1.0, 1.0]), np.array(P0) - 0.5)
    assert repr(opt) == "Plain(learning_rate=0.5, weight_decay=0.0, clipnorm=None)"


@pytest.mark.parametrize("g, clipnorm", [
    ([3.0, 4.0, 0.0, 0.0], 1.0),  # norm 5 > 1: rescaled to norm 1
    ([3.0, 4.0, 0.0, 0.0], 5.0),  # norm 5 = clipnorm: unchanged
    ([0.3, 0.4, 0.0, 0.0], 1.0),  # norm 0.5 < 1: unchanged
])
def test_clipnorm_rescales_the_gradient_to_its_norm_only_when_larger(g, clipnorm):
    def clipped(p):
        t = torch.tensor(np.array(g))
        norm = float(torch.linalg.vector_norm(t))
        return t * min(1.0, clipnorm / norm)

    p = one_step(gn.SGD(0.1, clipnorm=clipnorm), P0, g)
    np.testing.assert_allclose(p, np.array(P0) - 0.1 * clipped(P0).numpy(), rtol=1e-15)
    # With L2 decay the clip applies to the loss gradient only: g' = scale g + wd p.
    p = one_step(gn.SGD(0.1, clipnorm=clipnorm, weight_decay=0.5), P0, g)
    expected = np.array(P0) - 0.1 * (clipped(P0).numpy() + 0.5 * np.array(P0))
    np.testing.assert_allclose(p, expected, rtol=1e-15)


@pytest.mark.parametrize("ours, theirs", [
    (lambda c: gn.SGD(0.1, momentum=0.9, clipnorm=c),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    (lambda c: gn.RMSprop(0.01, clipnorm=c),
     lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7)),
    (lambda c: gn.Adam(0.01, clipnorm=c), lambda p: torch.optim.Adam(p, lr=0.01)),
    (lambda c: gn.AdamW(0.01, clipnorm=c), lambda p: torch.optim.AdamW(p, lr=0.01)),
], ids=["sgd_momentum", "rmsprop", "adam", "adamw"])
def test_every_optimizer_clips_the_gradient_norm_like_torch_fed_the_clipped_gradient(ours,
                                                                                     theirs):
    clip = 0.05  # every gradient in GRADS has a norm above 0.05
    clipped = [np.array(g) * min(1.0, clip / np.linalg.norm(g)) for g in GRADS]
    assert all(np.linalg.norm(g) > clip for g in GRADS)
    opt = ours(clip)
    assert opt.clipnorm == clip
    p = np.array(P0)
    for g in GRADS:
        opt.step(p, np.array(g))
    np.testing.assert_allclose(p, torch_steps(theirs, P0, clipped), rtol=1e-12, atol=1e-15)


def test_schedules_follow_their_formulas_and_defaults():
    exp = gn.ExponentialDecay(0.1, 10, 0.5)
    for step in [0, 1, 5, 10, 25]:
        assert exp(step) == pytest.approx(0.1 * 0.5 ** (step / 10), rel=1e-15)
    stair = gn.ExponentialDecay(0.1, 10, 0.5, staircase=True)
    for step, k in [(0, 0), (9, 0), (10, 1), (25, 2)]:
        assert stair(step) == pytest.approx(0.1 * 0.5**k, rel=1e-15)
    inv = gn.InverseScaling(0.2)  # scikit-learn's default power_t = 0.5
    for step in [0, 1, 3, 8]:
        assert inv(step) == pytest.approx(0.2 / (step + 1) ** 0.5, rel=1e-15)
    assert gn.InverseScaling(0.2, power_t=2)(3) == pytest.approx(0.2 / 16, rel=1e-15)


def test_an_optimizer_uses_its_schedule_step_by_step():
    # SGD, a constant gradient 1: step t moves every weight by lr_t = 0.1 * 0.5^(t / 2).
    opt = gn.SGD(gn.ExponentialDecay(0.1, 2, 0.5))
    p = np.zeros(2)
    rates = []
    for _ in range(4):
        rates.append(opt.current_learning_rate)
        opt.step(p, np.ones(2))
    expected = [0.1 * 0.5 ** (t / 2) for t in range(4)]
    assert rates == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(p, -sum(expected), rtol=1e-15)
    assert gn.Adam(0.25).current_learning_rate == 0.25


def test_optimizer_configs_reprs_and_rebuilding_from_them():
    sched = gn.InverseScaling(0.05, power_t=0.25)
    opt = gn.SGD(sched, momentum=0.9, nesterov=True, weight_decay=0.1, clipnorm=2.0)
    config = opt.get_config()
    assert config == {
        "class_name": "SGD",
        "learning_rate": {"class_name": "InverseScaling", "initial_learning_rate": 0.05,
                          "power_t": 0.25},
        "weight_decay": 0.1, "clipnorm": 2.0, "momentum": 0.9, "nesterov": True,
    }
    given = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    rebuilt = get_optimizer(given)
    assert given == config  # the caller's dicts are not consumed
    assert type(rebuilt) is gn.SGD and rebuilt.get_config() == config
    assert rebuilt.current_learning_rate == 0.05
    assert repr(gn.RMSprop(momentum=0.5)) == (
        "RMSprop(learning_rate=0.001, weight_decay=0.0, clipnorm=None, rho=0.9, "
        "epsilon=1e-07, momentum=0.5)")
    assert gn.AdamW(beta_1=0.8).get_config() == {
        "class_name": "AdamW", "learning_rate": 0.001, "weight_decay": 0.01, "clipnorm": None,
        "beta_1": 0.8, "beta_2": 0.999, "epsilon": 1e-08}
    assert gn.ExponentialDecay(1.0, 5, 0.5).get_config() == {
        "class_name": "ExponentialDecay", "initial_learning_rate": 1.0, "decay_steps": 5.0,
        "decay_rate": 0.5, "staircase": False}
    exp = get_optimizer({"class_name": "Adam", "learning_rate": {
        "class_name": "ExponentialDecay", "initial_learning_rate": 1.0, "decay_steps": 5,
        "decay_rate": 0.5, "staircase": True}})
    assert type(exp.learning_rate) is gn.ExponentialDecay and exp.learning_rate.staircase
    assert repr(get_optimizer("SGD")) == (
        "SGD(learning_rate=0.01, weight_decay=0.0, clipnorm=None, momentum=0.0, "
        "nesterov=False)")
    inst = gn.Adam()
    assert get_optimizer(inst) is inst


def test_get_optimizer_names_what_is_wrong():
    choices = "Valid optimizer names are: 'adam', 'adamw', 'rmsprop', 'sgd'."
    with pytest.raises(ValueError) as error:
        get_optimizer("lbfgs")
    assert str(error.value) == "Unknown optimizer 'lbfgs'. " + choices
    with pytest.raises(ValueError) as error:
        get_optimizer({"learning_rate": 0.1})
    assert str(error.value) == "Unknown optimizer ''. " + choices
    with pytest.raises(ValueError) as error:
        get_optimizer({"class_name": "SGD", "learning_rate": {"class_name": "Cosine"}})
    assert str(error.value) == (
        "Unknown schedule 'cosine'. Valid schedule names are: 'exponentialdecay', "
        "'inversescaling'.")
    with pytest.raises(ValueError) as error:
        get_optimizer({"class_name": "SGD", "learning_rate": {"initial_learning_rate": 1}})
    assert str(error.value).startswith("Unknown schedule ''. ")
    with pytest.raises(ValueError) as error:
        gn.Adam(learning_rate="fast")
    assert str(error.value) == "learning_rate must be a finite number > 0, got 'fast'."


def test_state_follows_the_parameters_shape_and_dtype():
    opt = gn.SGD(0.1, momentum=0.5)
    p = np.zeros(3)
    opt.step(p, np.ones(3))  # v = 1, p = -0.1
    opt.step(p, np.ones(3))  # v = 1.5, p = -0.25
    np.testing.assert_allclose(p, -0.25, rtol=1e-15)
    p32 = p.astype(np.float32)
    opt.step(p32, np.ones(3, dtype=np.float32))  # the float32 copy keeps the velocity 1.5
    np.testing.assert_allclose(p32, -0.25 - 0.1 * 1.75, rtol=1e-6)
    assert opt.state["velocity"].dtype == np.float32
    bigger = np.zeros(5)
    opt.step(bigger, np.ones(5))  # another shape: fresh zero state
    np.testing.assert_allclose(bigger, -0.1, rtol=1e-15)
    assert set(gn.SGD(0.1).state_names) == set() and gn.RMSprop().state_names == ("square_avg",)
