"""Layers' small contracts that the numeric tests leave open: the repr and config a user
reads or saves, the names a network gives its layers, the argument checks and their
messages, dropout's edges, pickling and the fresh arrays of prediction. The expected
values are written out here (exact text, hand-computed numbers).
"""

import pickle

import numpy as np
import pytest
from conftest import summary_text

import glassnet as gn
from glassnet.layers import layer_from_config
from glassnet.ops import activations


def test_dense_repr_lists_every_argument_with_its_value():
    layer = gn.Dense(3, activation="relu", input_dim=2)
    assert repr(layer) == (
        "Dense(units=3, activation={'name': 'relu'}, input_dim=2, "
        "kernel_initializer='glorot_uniform', bias_initializer='zeros')"
    )
    assert repr(gn.Dense(1)) == (
        "Dense(units=1, activation=None, input_dim=None, "
        "kernel_initializer='glorot_uniform', bias_initializer='zeros')"
    )


# Layers are made inside the tests (not at collection), so that each test builds its own.
@pytest.mark.parametrize("make, text", [
    (lambda: gn.Dropout(0.25), "Dropout(rate=0.25)"),
    (lambda: gn.Flatten(), "Flatten()"),
    (lambda: gn.Activation("tanh"), "Activation(Tanh())"),
    (lambda: gn.Sigmoid(), "Sigmoid(Sigmoid())"),
    (lambda: gn.Tanh(), "Tanh(Tanh())"),
    (lambda: gn.ReLU(), "ReLU(ReLU())"),
    (lambda: gn.Identity(), "Identity(Identity())"),
    (lambda: gn.Softmax(), "Softmax(Softmax())"),
    (lambda: gn.LeakyReLU(0.2), "LeakyReLU(alpha=0.2)"),
    (lambda: gn.LeakyReLU(), "LeakyReLU(alpha=0.01)"),  # the default slope, as in Keras/torch
], ids=lambda x: x if isinstance(x, str) else "")
def test_reprs_of_the_other_layers(make, text):
    assert repr(make()) == text


def test_layers_are_named_by_kind_and_numbered_per_kind():
    net = gn.Sequential([
        gn.Flatten(), gn.Dense(4), gn.ReLU(), gn.Dropout(0.1), gn.Dense(4), gn.LeakyReLU(),
        gn.Tanh(), gn.Sigmoid(), gn.Identity(), gn.Activation("relu"), gn.Dense(3), gn.Softmax(),
    ], loss="cross_entropy")
    net.build((2, 2))
    assert [layer.name for layer in net.layers] == [
        "flatten", "dense", "relu", "dropout", "dense_1", "leaky_relu", "tanh", "sigmoid",
        "identity", "activation", "dense_2", "softmax",
    ]
    assert gn.Dense(2).name is None  # unnamed until a network numbers it


def test_dense_config_names_its_initializers_and_none_for_given_values():
    layer = gn.Dense(4, activation=activations.LeakyReLU(0.3), input_dim=5,
                     kernel_initializer="he_normal", bias_initializer="ones")
    assert layer.get_config() == {
        "class_name": "Dense", "units": 4, "activation": {"name": "leaky_relu", "alpha": 0.3},
        "input_dim": 5, "kernel_initializer": "he_normal", "bias_initializer": "ones",
    }
    given = gn.Dense(2, kernel_initializer=np.ones((3, 2)), bias_initializer=0.5)
    assert given.get_config() == {
        "class_name": "Dense", "units": 2, "activation": None, "input_dim": None,
        "kernel_initializer": None, "bias_initializer": None,
    }


def test_dense_rebuilt_from_its_config_uses_named_initializers_and_zeros_for_values():
    rebuilt = layer_from_config(gn.Dense(3, activation="tanh", input_dim=2,
                                         kernel_initializer="ones",
                                         bias_initializer="ones").get_config())
    assert type(rebuilt) is gn.Dense
    assert repr(rebuilt) == (
        "Dense(units=3, activation={'name': 'tanh'}, input_dim=2, "
        "kernel_initializer='ones', bias_initializer='ones')"
    )
    net = gn.Sequential([rebuilt], loss="mse", dtype="float64").build(2)
    # W = 1, b = 1: tanh(1 + 2 + 1) = tanh(4) in every output.
    np.testing.assert_allclose(net.predict(np.array([[1.0, 2.0]])), np.full((1, 3), np.tanh(4.0)))
    # Explicit values are not in a config (the weights are saved apart): zeros stand in.
    zeros = layer_from_config(gn.Dense(2, kernel_initializer=np.ones((1, 2)),
                                       bias_initializer=0.5).get_config())
    net = gn.Sequential([zeros], loss="mse", dtype="float64").build(1)
    np.testing.assert_array_equal(net.predict(np.array([[3.0]])), [[0.0, 0.0]])


@pytest.mark.parametrize("make, values", [
    (lambda: gn.Activation("sigmoid"), [0.5, 1 / (1 + np.exp(-2.0)), 1 / (1 + np.exp(3.0))]),
    (lambda: gn.ReLU(), [0.0, 2.0, 0.0]),
    (lambda: gn.LeakyReLU(0.2), [0.0, 2.0, -0.6]),
    (lambda: gn.Softmax(), np.exp([0.0, 2.0, -3.0]) / np.exp([0.0, 2.0, -3.0]).sum()),
], ids=["activation", "relu", "leaky_relu", "softmax"])
def test_activation_layers_rebuilt_from_their_config_compute_the_same_function(make, values):
    config = make().get_config()
    rebuilt = layer_from_config(config)
    assert rebuilt.get_config() == config
    np.testing.assert_allclose(rebuilt.forward(np.array([[0.0, 2.0, -3.0]])), [values],
                               rtol=1e-15)


def test_configs_of_the_other_layers_are_exact():
    assert gn.Dropout(0.3).get_config() == {"class_name": "Dropout", "rate": 0.3}
    assert gn.Flatten().get_config() == {"class_name": "Flatten"}
    assert gn.ReLU().get_config() == {"class_name": "Activation", "activation": {"name": "relu"}}
    assert gn.LeakyReLU(0.2).get_config() == {
        "class_name": "Activation", "activation": {"name": "leaky_relu", "alpha": 0.2}}
    # A rebuilt dropout drops at its rate: 1 / (1 - 0.3) on the kept units.
    rebuilt = layer_from_config({"class_name": "Dropout", "rate": 0.3})
    rebuilt.fix_mask(np.array([[1, 0]]))
    np.testing.assert_allclose(rebuilt.forward(np.array([[2.1, 5.0]]), training=True),
                               [[3.0, 0.0]])


def test_layer_from_config_names_what_is_wrong():
    with pytest.raises(ValueError) as error:
        layer_from_config(["Dense"])
    assert str(error.value) == "A layer config must be a dict, got list."
    with pytest.raises(ValueError) as error:
        layer_from_config({"units": 3})
    assert str(error.value) == (
        "Unknown layer class ''. Valid layer class names are: 'activation', "
        "'averagepooling1d', 'averagepooling2d', 'batchnormalization', 'conv1d', 'conv2d', "
        "'dense', 'dropout', 'flatten', 'globalaveragepooling1d', 'globalaveragepooling2d', "
        "'globalmaxpooling1d', 'globalmaxpooling2d', 'maxpooling1d', 'maxpooling2d'.")
    with pytest.raises(ValueError, match="^Unknown layer class 'conv3d'. Valid layer class"):
        layer_from_config({"class_name": "Conv3D"})
    assert type(layer_from_config({"class_name": "DENSE", "units": 2})) is gn.Dense


@pytest.mark.parametrize("units", [0, -3, 2.0, True, "4"])
def test_dense_refuses_units_that_are_not_a_positive_integer(units):
    with pytest.raises(ValueError) as error:
        gn.Dense(units)
    assert str(error.value) == f"units must be a positive integer, got {units!r}."


@pytest.mark.parametrize("input_dim", [0, -1, 2.0, "3"])
def test_dense_refuses_an_input_dim_that_is_not_a_positive_integer(input_dim):
    with pytest.raises(ValueError) as error:
        gn.Dense(2, input_dim=input_dim)
    assert str(error.value) == (
        f"input_dim must be a positive integer or None, got {input_dim!r}.")


def test_dense_accepts_one_unit_and_one_input_and_numpy_integers():
    layer = gn.Dense(np.int64(1), input_dim=np.int32(1))
    assert layer.units == 1 and type(layer.units) is int
    assert layer.input_dim == 1 and type(layer.input_dim) is int
    net = gn.Sequential([layer], loss="mse")
    assert net.count_params() == 0 and summary_text(net)  # built from input_dim
    assert net.count_params() == 2  # one weight and one bias


def test_dense_without_activation_is_linear_and_with_one_applies_it():
    W = np.array([[1.0, -2.0]])
    linear = gn.Sequential([gn.Dense(2, kernel_initializer=W, bias_initializer=0.5)],
                           loss="mse", dtype="float64").build(1)
    np.testing.assert_array_equal(linear.predict(np.array([[1.0]])), [[1.5, -1.5]])
    relu = gn.Sequential([gn.Dense(2, activation="relu", kernel_initializer=W,
                                   bias_initializer=0.5)], loss="mse", dtype="float64").build(1)
    np.testing.assert_array_equal(relu.predict(np.array([[1.0]])), [[1.5, 0.0]])


def test_dense_default_bias_is_zero_and_default_kernel_is_random_glorot():
    layer = gn.Dense(50)
    gn.Sequential([layer], loss="mse", random_state=0, dtype="float64").build(40)
    np.testing.assert_array_equal(layer.b, np.zeros(50))
    limit = np.sqrt(6 / (40 + 50))
    assert np.abs(layer.W).max() <= limit and np.abs(layer.W).max() > 0.95 * limit


def test_layer_forward_and_backward_called_directly_use_the_documented_defaults():
    # Dense: forward(A) applies the activation; backward(G) returns dL/dA and fills grads.
    layer = gn.Dense(2, activation="relu")
    W, b = np.array([[1.0, -1.0], [2.0, 0.5]]), np.array([0.5, -0.5])
    gW, gb = np.zeros((2, 2)), np.zeros(2)
    layer.bind([W, b], [gW, gb])
    A = np.array([[1.0, 1.0]])  # Z = [3.5, -1.0]: the second unit is off
    np.testing.assert_array_equal(layer.forward(A), [[3.5, 0.0]])
    dA = layer.backward(np.array([[1.0, 1.0]]))
    np.testing.assert_array_equal(dA, [[1.0, 2.0]])  # delta = [1, 0]; delta @ W.T
    np.testing.assert_array_equal(gW, [[1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(gb, [1.0, 0.0])
    # An activation layer: backward returns dL/dZ.
    relu = gn.ReLU()
    relu.forward(np.array([[-1.0, 2.0]]))
    np.testing.assert_array_equal(relu.backward(np.array([[5.0, 7.0]])), [[0.0, 7.0]])
    flat = gn.Flatten()
    assert flat.forward(np.zeros((2, 3, 4))).shape == (2, 12)
    assert flat.backward(np.zeros((2, 12))).shape == (2, 3, 4)


def test_layer_count_params_counts_its_bound_arrays():
    layer = gn.Dense(3)
    assert layer.count_params() == 0
    gn.Sequential([gn.Dense(2), layer], loss="mse").build(4)
    assert layer.count_params() == 2 * 3 + 3
    assert gn.Flatten().count_params() == 0


def test_predictions_are_fresh_arrays_that_a_later_call_does_not_overwrite():
    rng = np.random.default_rng(0)
    net = gn.Sequential([gn.Dense(4, activation="tanh"), gn.ReLU(), gn.Dense(3), gn.Softmax()],
                        loss="cross_entropy", random_state=0, dtype="float64").build(2)
    X1, X2 = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    P1 = net.predict(X1)
    kept = P1.copy()
    P2 = net.predict(X2)
    np.testing.assert_array_equal(P1, kept)
    assert not np.allclose(P1, P2)
    # The same for a layer called outside training.
    relu = gn.ReLU()
    out1 = relu.forward(np.array([[1.0, -1.0]]))
    relu.forward(np.array([[5.0, 6.0]]))
    np.testing.assert_array_equal(out1, [[1.0, 0.0]])


# -- dropout -------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, True])
def test_dropout_refuses_a_rate_outside_0_to_1(rate):
    with pytest.raises(ValueError) as error:
        gn.Dropout(rate)
    assert str(error.value) == f"rate must be a number in [0, 1), got {rate!r}."


def test_dropout_of_rate_zero_passes_its_input_through_even_in_training():
    layer = gn.Dropout(0)
    assert layer.rate == 0.0
    A = np.array([[1.0, 2.0]])
    assert layer.forward(A, training=True) is A  # no generator needed: nothing is drawn
    G = np.array([[3.0, 4.0]])
    assert layer.backward(G) is G


def test_dropout_outside_a_network_asks_for_one():
    layer = gn.Dropout(0.5)
    with pytest.raises(RuntimeError) as error:
        layer.forward(np.ones((2, 2)), training=True)
    assert str(error.value) == (
        "Dropout needs a random generator: use it inside a Sequential.")


def test_dropout_mask_messages_and_integer_masks():
    layer = gn.Dropout(0.5)
    with pytest.raises(ValueError) as error:
        layer.fix_mask([[2, 0]])
    assert str(error.value) == "A dropout mask must hold only 0 (dropped) and 1 (kept)."
    layer.fix_mask([[1, 0, 1]])  # a nested list of 0/1
    with pytest.raises(ValueError) as error:
        layer.forward(np.ones((2, 3)), training=True)
    assert str(error.value) == ("The fixed dropout mask has shape (1, 3), but the layer's "
                                "input has shape (2, 3).")
    out = layer.forward(np.array([[1.0, 2.0, 3.0]]), training=True)
    np.testing.assert_array_equal(out, [[2.0, 0.0, 6.0]])  # kept / (1 - 0.5)
    np.testing.assert_array_equal(layer.backward(np.array([[1.0, 1.0, 1.0]])), [[2.0, 0.0, 2.0]])
    layer.fix_mask(None)
    assert layer.fixed_keep is None


def test_drawn_dropout_keeps_each_unit_with_probability_one_minus_rate():
    layer = gn.Dropout(0.75)
    layer.rng = np.random.default_rng(1)
    A = np.ones((400, 50))
    out = layer.forward(A, training=True)
    kept = out != 0
    np.testing.assert_array_equal(out[kept], 4.0)  # 1 / (1 - 0.75)
    # 20 000 draws: the kept share is 0.25 +- 5 sd.
    assert abs(kept.mean() - 0.25) < 5 * np.sqrt(0.25 * 0.75 / A.size)
    np.testing.assert_array_equal(layer.backward(np.full(A.shape, 2.0)), np.where(kept, 8.0, 0))
    out = layer.forward(np.ones((1, 3)), training=False)
    np.testing.assert_array_equal(layer.backward(np.full((1, 3), 2.0)), np.full((1, 3), 2.0))


# -- pickling ------------------------------------------------------------------------

def test_a_pickled_network_leaves_out_every_batch_sized_cache():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(3000, 2, 2)), rng.integers(0, 3, size=3000)

    def make():
        return gn.Sequential([gn.Flatten(), gn.Dense(6, activation="relu"), gn.Tanh(),
                              gn.Dropout(0.5), gn.Dense(3, activation="softmax")],
                             random_state=0, dtype="float64").build((2, 2))

    fresh, used = make(), make()
    used.predict(X)
    used.fit(X, y, epochs=1, batch_size=None, verbose=0)
    used.forward(X.reshape(3000, 2, 2), training=True)  # leaves the dropout mask set
    # Each cache would be 3000 x (4 or 6 or 3) float64s: >= 72 kB; the two pickles differ
    # only by the trained weights and optimizer state (a few hundred bytes).
    assert len(pickle.dumps(used)) < len(pickle.dumps(fresh)) + 3000
    copy = pickle.loads(pickle.dumps(used))
    np.testing.assert_array_equal(copy.predict(X[:5]), used.predict(X[:5]))
    copy.fit(X[:10], y[:10], epochs=1, batch_size=5, verbose=0)  # trains on after loading


def test_a_pickled_network_holds_each_parameter_once():
    # 200 x 500 weights: 0.8 MB of float64. The network's flat parameter and gradient
    # buffers are pickled (1.6 MB; plain SGD keeps no state); the layers' views into them
    # are not pickled again (that would be 3.2 MB).
    net = gn.Sequential([gn.Dense(500, input_dim=200)], loss="mse", optimizer=gn.SGD(0.1),
                        dtype="float64").build(200)
    size = net.get_weights()[0].nbytes
    assert len(pickle.dumps(net)) < 3 * size
    copy = pickle.loads(pickle.dumps(net))
    X = np.ones((2, 200))
    np.testing.assert_array_equal(copy.predict(X), net.predict(X))
    assert np.shares_memory(copy.layers[0].W, copy.get_weights()[0]) or \
        copy.layers[0].W.base is not None  # a view into the network's buffer again


def test_a_new_layer_has_empty_parameter_and_gradient_lists():
    for layer in (gn.ReLU(), gn.Flatten(), gn.Dropout(0.5), gn.Dense(2)):
        assert layer.params == [] and layer.grads == []
        assert layer.count_params() == 0


def test_a_float32_network_trains_in_float32_through_every_layer():
    rng = np.random.default_rng(3)
    net = gn.Sequential([gn.Dense(5, activation="tanh"), gn.ReLU(), gn.Dropout(0.3),
                         gn.Dense(4), gn.LeakyReLU(0.1), gn.Dense(3, activation="relu")],
                        loss="mse", random_state=0, dtype="float32").build(2)
    X = rng.normal(size=(6, 2)).astype(np.float32)
    A = X
    for layer in net.layers:
        A = layer.forward(A, training=True)
        assert A.dtype == np.float32, layer
    G = np.ones_like(A)
    for layer in reversed(net.layers):
        G = layer.backward(G)
        assert G.dtype == np.float32, layer


def test_a_pickled_layer_outside_a_network_keeps_its_parameters():
    layer = gn.Dense(2)
    W, b = np.array([[1.0, 2.0]]), np.array([0.5, -0.5])
    layer.bind([W, b], [np.zeros((1, 2)), np.zeros(2)])
    layer.forward(np.ones((4, 1)), training=True)
    layer.backward(np.ones((4, 2)))
    copy = pickle.loads(pickle.dumps(layer))
    np.testing.assert_array_equal(copy.W, W)
    np.testing.assert_array_equal(copy.b, b)
    np.testing.assert_array_equal(copy.forward(np.array([[2.0]])), [[2.5, 3.5]])
    copy.forward(np.ones((3, 1)), training=True)
    copy.backward(np.ones((3, 2)))
    np.testing.assert_array_equal(copy.grads[1], [3.0, 3.0])  # the sum over 3 rows


def test_parameters_are_named_w_and_b_per_dense_layer():
    net = gn.Sequential([gn.Dense(3), gn.ReLU(), gn.Dense(2)], loss="mse").build(4)
    assert net.parameter_names() == ["dense.W", "dense.b", "dense_1.W", "dense_1.b"]


def test_a_random_bias_initializer_draws_from_the_networks_generator():
    def make(seed):
        layer = gn.Dense(2000, bias_initializer="he_uniform")
        gn.Sequential([layer], loss="mse", random_state=seed, dtype="float64").build(3)
        return layer.b.copy()

    b = make(0)
    # A bias of 2000: fan_in = 2000, limit sqrt(6 / 2000).
    limit = np.sqrt(6 / 2000)
    assert np.abs(b).max() <= limit and np.abs(b).max() > 0.99 * limit
    np.testing.assert_array_equal(make(0), b)  # random_state fixes it
    assert not np.array_equal(make(1), b)


def test_dense_forward_called_directly_returns_a_fresh_array_each_time():
    layer = gn.Dense(2, activation="tanh")
    layer.bind([np.array([[1.0, -1.0]]), np.array([0.0, 0.5])], [np.zeros((1, 2)), np.zeros(2)])
    first = layer.forward(np.array([[0.5]]))
    linear = gn.Dense(2)
    linear.bind([np.array([[1.0, -1.0]]), np.array([0.0, 0.5])], [np.zeros((1, 2)), np.zeros(2)])
    first_linear = linear.forward(np.array([[0.5]]))
    layer.forward(np.array([[3.0]]))
    linear.forward(np.array([[3.0]]))
    np.testing.assert_allclose(first, np.tanh([[0.5, 0.0]]), rtol=1e-15)
    np.testing.assert_array_equal(first_linear, [[0.5, 0.0]])


def test_dropout_called_without_training_is_off_and_a_fixed_mask_is_boolean():
    layer = gn.Dropout(0.5)  # no generator: a training pass would raise
    A = np.array([[1.0, 2.0]])
    assert layer.forward(A) is A
    layer.fix_mask(np.array([[1.0, 0.0]]))
    assert layer.fixed_keep.dtype == bool
    np.testing.assert_array_equal(layer.fixed_keep, [[True, False]])


def test_dense_gradients_with_a_leaky_relu_and_changing_batch_sizes_match_torch():
    # LeakyReLU's derivative reads Z, not A; batches of 3, 5, 3 rows exercise the
    # per-batch-size column of ones used for dL/db.
    torch = pytest.importorskip("torch")
    layer = gn.Dense(3, activation=activations.LeakyReLU(0.2))
    net = gn.Sequential([layer, gn.Dense(2)], loss="mse", random_state=4,
                        dtype="float64").build(4)
    rng = np.random.default_rng(5)
    for n in (3, 5, 3):
        X, y = rng.normal(size=(n, 4)), rng.normal(size=(n, 2))
        _, grads = net.compute_gradients(X, y)
        params = [torch.tensor(p.copy(), requires_grad=True) for p in net.parameters()]
        H = torch.nn.functional.leaky_relu(torch.tensor(X) @ params[0] + params[1], 0.2)
        P = H @ params[2] + params[3]
        ((P - torch.tensor(y)) ** 2).mean(dim=1).mean().backward()
        for g, p in zip(grads, params):
            np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-12, atol=1e-15)
