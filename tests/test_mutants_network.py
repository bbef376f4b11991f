"""Sequential's user-visible details that mutation testing found unchecked (network.py).

``evaluate``'s loss, R² and accuracy with sample weights and several outputs against
scikit-learn (constant targets included), the exact refusals of ``check_features`` and
``set_weights``, ``summary`` of built, unbuilt and empty networks, and ``copy``.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import summary_text
from sklearn.metrics import accuracy_score, mean_squared_error, r2_score
from sklearn.preprocessing import LabelBinarizer

import glassnet as gn

# The two metric functions, called directly for the inputs Sequential never hands them
# (1-D targets, mis-shaped weights); the one place this file names a module-level helper.
from glassnet.ops.metrics import accuracy as gn_accuracy
from glassnet.ops.metrics import r2_score as gn_r2_score


def linear(n_in, n_out, W, b, activation=None, optimizer="adam"):
    """A float64 one-layer network with exactly the weights ``W`` and ``b``."""
    net = gn.Sequential([gn.Dense(n_out, activation=activation)], optimizer=optimizer,
                        dtype="float64", random_state=0)
    net.build(n_in)
    net.set_weights([np.asarray(W, dtype=float), np.asarray(b, dtype=float)])
    return net


def data(n=30, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), rng.uniform(0.1, 3.0, size=n)


W2 = np.array([[1.0, -0.5], [0.5, 0.25], [-1.0, 2.0]])


# -- evaluate: loss and R² with weights and several outputs ---------------------------------


def test_evaluate_two_outputs_with_weights_matches_sklearn():
    X, w = data()
    rng = np.random.default_rng(1)
    Y = X @ W2 + rng.normal(scale=[0.5, 0.05], size=(30, 2))  # the 2nd output fits better
    Y[:, 1] *= 0.05  # ... and spreads so little that its SS_tot is below 1
    net = linear(3, 2, W2 * [1.0, 0.05], [0.1, 0.0])
    P = X @ (W2 * [1.0, 0.05]) + [0.1, 0.0]  # the network's output, by numpy
    result = net.evaluate(X, Y, sample_weight=w)
    assert set(result) == {"loss", "r2"}
    assert result["loss"] == pytest.approx(mean_squared_error(Y, P, sample_weight=w), rel=1e-12)
    assert result["r2"] == pytest.approx(r2_score(Y, P, sample_weight=w), rel=1e-12)
    # Weights and the uniform average over outputs both matter for these data:
    assert r2_score(Y, P) != pytest.approx(r2_score(Y, P, sample_weight=w), rel=1e-6)
    assert ((w[:, None] * (Y - np.average(Y, axis=0, weights=w)) ** 2).sum(axis=0)[1]) < 1
    unweighted = net.evaluate(X, Y)
    assert unweighted["r2"] == pytest.approx(r2_score(Y, P), rel=1e-12)


@pytest.mark.parametrize("offset, expected_second", [(0.0, 1.0), (0.1, 0.0)])
def test_r2_of_a_constant_output_is_one_if_exact_else_zero_as_sklearn(offset, expected_second):
    X, _ = data()
    # Whole-number weights: the weighted mean of the constant column is exactly 2.0 (with
    # weights like 0.37 it comes out 2.0 - 2e-16, and both scikit-learn and glassnet then
    # score an inexact constant prediction about -1e29: see notes/training_network.md).
    w = np.arange(30) % 3 + 1.0
    Y = np.column_stack([X @ W2[:, 0] + 0.3 * np.sin(7 * X[:, 1]), np.full(30, 2.0)])
    net = linear(3, 2, np.column_stack([W2[:, 0], np.zeros(3)]), [0.0, 2.0 + offset])
    P = np.column_stack([X @ W2[:, 0], np.full(30, 2.0 + offset)])
    # scikit-learn (force_finite=True): a constant output scores 1.0 if predicted exactly,
    # else 0.0; the score is the mean over the two outputs.
    first = r2_score(Y[:, 0], P[:, 0], sample_weight=w)
    assert r2_score(Y, P, sample_weight=w) == pytest.approx((first + expected_second) / 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no division-by-zero warning on the way
        result = net.evaluate(X, Y, sample_weight=w)
    assert result["r2"] == pytest.approx(r2_score(Y, P, sample_weight=w), rel=1e-12)


def test_r2_score_takes_one_dimensional_targets_as_one_output():
    rng = np.random.default_rng(2)
    t = rng.normal(size=20)
    p = t + rng.normal(scale=0.3, size=20)
    w = rng.uniform(0.5, 2.0, size=20)
    assert gn_r2_score(p, t) == pytest.approx(r2_score(t, p), rel=1e-12)
    assert gn_r2_score(p[:, None], t, w) == pytest.approx(r2_score(t, p, sample_weight=w),
                                                         rel=1e-12)


def test_metric_weights_summing_to_zero_or_below_one_and_of_a_wrong_shape():
    X, _ = data(6)
    net = linear(3, 1, W2[:, :1], [0.0])
    y = X[:, 0] - X[:, 2] + 0.1
    P = X @ W2[:, :1]
    with pytest.raises(ValueError) as info:
        net.evaluate(X, y, sample_weight=np.zeros(6))
    assert str(info.value) == ("sample_weight sums to 0: no sample counts, so the metric is "
                               "undefined; give some sample a positive weight.")
    small = np.full(6, 0.05)  # sums to 0.3: small weights are fine
    assert net.evaluate(X, y, sample_weight=small)["r2"] == pytest.approx(
        r2_score(y, P[:, 0], sample_weight=small), rel=1e-9)
    with pytest.raises(ValueError) as info:
        gn_r2_score(P, y[:, None], np.ones(5))
    assert str(info.value) == ("sample_weight must hold 6 numbers, one per sample, got shape "
                               "(5,).")


# -- evaluate: accuracy -------------------------------------------------------------------


def test_multilabel_accuracy_is_subset_accuracy_thresholded_above_one_half():
    X, w = data(40)
    rng = np.random.default_rng(3)
    W = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, -0.5]])
    Y = ((X @ W + rng.normal(scale=0.7, size=(40, 2))) > 0).astype(float)
    net = linear(3, 2, W, [0.0, 0.0], activation="sigmoid")
    P = 1.0 / (1.0 + np.exp(-(X @ W)))
    pred = LabelBinarizer().fit([0, 1]).inverse_transform  # scikit-learn's thresholding
    labels = (P > 0.5).astype(int)
    assert np.array_equal(pred(P[:, :1], threshold=0.5), labels[:, 0])
    expected = accuracy_score(Y, labels, sample_weight=w)  # subset accuracy, weighted
    assert 0.3 < expected < 1 and expected != accuracy_score(Y, labels)
    assert net.evaluate(X, Y, sample_weight=w)["accuracy"] == pytest.approx(expected, rel=1e-7)


def test_binary_accuracy_counts_an_output_of_exactly_one_half_as_class_zero():
    X, _ = data(8)
    net = linear(3, 1, np.zeros((3, 1)), [0.0], activation="sigmoid")  # every output 0.5
    assert np.all(net.predict(X) == 0.5)
    # scikit-learn predicts class 1 only for p > threshold (LabelBinarizer, MLPClassifier).
    pred = LabelBinarizer().fit([0, 1]).inverse_transform(np.full((8, 1), 0.5), threshold=0.5)
    assert np.all(pred == 0)
    assert net.evaluate(X, np.ones(8))["accuracy"] == 0.0
    assert net.evaluate(X, np.zeros(8))["accuracy"] == 1.0
    # A soft target of exactly 0.5 is thresholded the same way: class 0, as the outputs.
    assert net.evaluate(X, np.full(8, 0.5))["accuracy"] == 1.0


@pytest.mark.parametrize("one_hot", [False, True])
def test_softmax_accuracy_with_labels_or_one_hot_rows_and_weights_matches_sklearn(one_hot):
    X, w = data(40)
    rng = np.random.default_rng(4)
    W = np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0], [0.5, 0.5, 1.0]])
    labels = (X @ W + rng.normal(scale=0.8, size=(40, 3))).argmax(axis=1)
    net = linear(3, 3, W, [0.0, 0.0, 0.0], activation="softmax")
    predicted = (X @ W).argmax(axis=1)
    expected = accuracy_score(labels, predicted, sample_weight=w)
    assert 0.3 < expected < 1 and expected != accuracy_score(labels, predicted)
    y = np.eye(3)[labels] if one_hot else labels
    assert net.evaluate(X, y, sample_weight=w)["accuracy"] == pytest.approx(expected, rel=1e-7)
    assert net.evaluate(X, y)["accuracy"] == pytest.approx(accuracy_score(labels, predicted))


def test_accuracy_defaults_to_the_argmax_class():
    P = np.array([[0.9, 0.6], [0.2, 0.7], [0.6, 0.8]])  # argmax classes 0, 1, 1
    assert gn_accuracy(P, np.array([0, 1, 0])) == pytest.approx(2 / 3)
    assert gn_accuracy(P, np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])) == 1.0


# -- check_features: each refusal, word for word ---------------------------------------------


def built():
    return linear(3, 1, np.ones((3, 1)), [0.0])


def refusal(X):
    with pytest.raises(ValueError) as info:
        built().predict(X)
    return str(info.value)


def test_a_sparse_matrix_is_refused_with_the_way_out():
    assert refusal(sp.csr_matrix(np.ones((2, 3)))) == (
        "X is a sparse matrix; Sequential takes dense arrays: pass X.toarray() "
        "(glassnet.MLPClassifier / MLPRegressor accept sparse input directly)."
    )


def test_an_array_like_with_a_toarray_method_is_not_taken_for_sparse():
    class Grid:
        def toarray(self):
            return np.ones((2, 3))

        def __array__(self, dtype=None, copy=None):
            return np.ones((2, 3))

    assert built().predict(Grid()) == pytest.approx(np.full((2, 1), 3.0))


def test_ragged_rows_are_refused_with_numpys_reason():
    rows = [[1.0, 2.0, 3.0], [4.0]]
    with pytest.raises(ValueError) as numpy_says:
        np.asarray(rows)
    assert refusal(rows) == f"X must be an array of numbers: {numpy_says.value}"


@pytest.mark.parametrize("X, dtype", [(np.array([["a", "b", "c"]]), "<U1"),
                                      (np.ones((2, 3), dtype=complex), "complex128")])
def test_non_real_numbers_are_refused(X, dtype):
    assert refusal(X) == (f"X must hold numbers (int or float), got dtype {dtype}; "
                          "convert strings or objects to numbers first.")


def test_booleans_and_integers_are_numbers():
    X = np.array([[True, False, True], [False, False, True]])
    assert built().predict(X) == pytest.approx(np.array([[2.0], [1.0]]))
    assert built().predict(X.astype(np.int8)) == pytest.approx(np.array([[2.0], [1.0]]))


def test_one_dimensional_input_is_refused_with_the_reshape_hint():
    assert refusal(np.array([1.0, 2.0, 3.0])) == (
        "X must be 2-D (n_samples, n_features), got 1-D with shape (3,). Reshape it with "
        "X.reshape(-1, 1) for one feature or X.reshape(1, -1) for one sample."
    )


def test_a_scalar_is_refused_as_not_two_dimensional():
    assert refusal(5.0) == (  # once with the hint for images, which a scalar is not
        "X must be 2-D (n_samples, n_features), got 0-D with shape (). Pass one row per "
        "sample, e.g. [[value]].")


def test_no_samples_wrong_width_and_nan_are_refused():
    assert refusal(np.empty((0, 3))) == "X has 0 samples; at least 1 is needed."
    assert refusal(np.ones((2, 2))) == (
        "X has samples of shape (2,), but the network was built for (3,).")
    assert refusal(np.array([[1.0, np.inf, 0.0]])) == (
        "X contains NaN or infinity; clean or impute it first.")
    with pytest.raises(ValueError) as info:
        built().fit(np.array([[1.0, np.nan, 0.0]]), [1.0], verbose=0)
    assert str(info.value) == "X contains NaN or infinity; clean or impute it first."


def test_one_sample_is_enough():
    assert built().predict(np.array([[1.0, 2.0, 3.0]])) == pytest.approx(np.array([[6.0]]))


def test_image_input_behind_flatten_is_accepted():
    net = gn.Sequential([gn.Flatten(), gn.Dense(1, kernel_initializer=np.ones((4, 1)))],
                        loss="mse", dtype="float64")
    images = np.arange(8.0).reshape(2, 2, 2)
    assert net.fit(images, [1.0, 2.0], epochs=1, verbose=0, shuffle=False) is not None
    assert net.predict(images).shape == (2, 1)


# -- set_weights ---------------------------------------------------------------------------


def two_layers():
    net = gn.Sequential([gn.Dense(4, activation="relu"), gn.Dense(1)], random_state=0)
    net.build(3)
    return net


def test_set_weights_refuses_a_wrong_count_or_shape_and_changes_nothing():
    net = two_layers()
    before = net.get_weights()
    with pytest.raises(ValueError) as info:
        net.set_weights(before[:3])
    assert str(info.value) == "weights must hold 4 arrays, got 3."
    new = [np.full_like(w, 0.5) for w in before]
    new[2] = np.ones((4, 2))
    with pytest.raises(ValueError) as info:
        net.set_weights(new)
    assert str(info.value) == "weights for dense_1.W must have shape (4, 1), got (4, 2)."
    assert all(np.array_equal(a, b) for a, b in zip(net.get_weights(), before))


def test_set_weights_takes_nested_lists_and_sets_every_array():
    net = two_layers()
    W1 = np.arange(12.0).reshape(3, 4) / 10
    net.set_weights([W1.tolist(), [0.0, 0.1, 0.2, 0.3], [[1.0], [-1.0], [0.5], [2.0]], [0.25]])
    got = net.get_weights()
    assert np.array_equal(got[0], W1.astype(np.float32))
    assert np.array_equal(got[1], np.float32([0.0, 0.1, 0.2, 0.3]))
    assert np.array_equal(got[2], np.float32([[1.0], [-1.0], [0.5], [2.0]]))
    assert np.array_equal(got[3], np.float32([0.25]))
    x = np.array([[1.0, 0.0, -1.0]])
    hidden = np.maximum(x @ W1 + [0.0, 0.1, 0.2, 0.3], 0)  # by numpy
    assert net.predict(x) == pytest.approx(hidden @ [[1.0], [-1.0], [0.5], [2.0]] + 0.25,
                                           rel=1e-6)


# -- summary -------------------------------------------------------------------------------

ADAM = ("Adam(learning_rate=0.001, weight_decay=0.0, clipnorm=None, beta_1=0.9, beta_2=0.999, "
        "epsilon=1e-08)")


def test_summary_of_an_unbuilt_network_with_input_dim_builds_it():
    # Dense(4) on 3 inputs: 3*4 + 4 = 16; Dropout: 0; Dense(1) on 4: 4 + 1 = 5; 21 in all.
    net = gn.Sequential([gn.Dense(4, input_dim=3, activation="relu"), gn.Dropout(0.2),
                         gn.Dense(1)], random_state=0)
    text = summary_text(net)
    assert text == "\n".join([
        'Model: "sequential"',
        "=" * 42,
        "Layer (type)       Output Shape  Param #  ",
        "=" * 42,
        "dense (Dense)      (None, 4)     16       ",
        "dropout (Dropout)  (None, 4)     0        ",
        "dense_1 (Dense)    (None, 1)     5        ",
        "=" * 42,
        "Total params: 21",
        f"Loss: mse   Optimizer: {ADAM}",
        "dtype: float32",
    ])
    assert net.built and net.count_params() == 21


def test_summary_of_a_trained_network_leaves_its_weights_alone():
    X, _ = data(20)
    net = gn.Sequential([gn.Dense(2, input_dim=3), gn.Dense(1)], random_state=0)
    net.fit(X, X[:, 0], epochs=3, verbose=0)
    trained = net.get_weights()
    summary_text(net)
    assert all(np.array_equal(a, b) for a, b in zip(net.get_weights(), trained))


def test_summary_of_an_unbuilt_network_without_input_dim_is_question_marks():
    net = gn.Sequential([gn.Dense(4), gn.Dense(1)])
    assert summary_text(net) == "\n".join([
        'Model: "sequential"',
        "=" * 38,
        "Layer (type)   Output Shape  Param #  ",
        "=" * 38,
        "dense (Dense)  (None, ?)     ?        ",
        "dense (Dense)  (None, ?)     ?        ",
        "=" * 38,
        "Total params: ?",
        f"Loss: (from the output layer)   Optimizer: {ADAM}",
        "dtype: float32",
    ])
    assert not net.built


def test_summary_of_a_network_without_layers():
    printed = []
    assert gn.Sequential(loss="mse").summary(print_fn=printed.append) is None
    text = printed[0]
    assert text == "\n".join([
        'Model: "sequential"', "=" * 37, "Layer (type)  Output Shape  Param #  ", "=" * 37,
        "=" * 37, "Total params: ?", f"Loss: mse   Optimizer: {ADAM}", "dtype: float32",
    ])
    assert printed == [text]


# -- copy ----------------------------------------------------------------------------------


def trained_net(dtype="float32"):
    X, _ = data(24)
    net = gn.Sequential([gn.Dense(3, activation="tanh"), gn.Dense(1, activation="sigmoid")],
                        loss="mse", optimizer=gn.SGD(0.05, momentum=0.9), random_state=7,
                        dtype=dtype)
    net.fit(X, (X[:, 0] > 0).astype(float), epochs=3, batch_size=8, verbose=0)
    return net, X


def test_copy_has_the_same_layers_loss_optimizer_settings_and_weights():
    net, X = trained_net()
    twin = net.copy()
    assert twin is not net and twin.dtype == np.float32
    assert twin.loss.name == "mse"  # as given, not the sigmoid output's default
    assert twin.optimizer.get_config() == net.optimizer.get_config()
    assert twin.random_state == 7
    assert all(np.array_equal(a, b) for a, b in zip(twin.get_weights(), net.get_weights()))
    assert np.array_equal(twin.predict(X), net.predict(X))
    twin.set_weights([np.zeros_like(w) for w in twin.get_weights()])  # its own weights
    assert not np.array_equal(twin.predict(X), net.predict(X))


def test_copy_keeps_float64_and_converts_when_asked():
    net64, X = trained_net("float64")
    assert net64.copy().dtype == np.float64
    net32, _ = trained_net()
    twin = net32.copy(dtype="float64")
    assert twin.dtype == np.float64
    assert all(np.array_equal(a, b.astype(np.float64))
               for a, b in zip(twin.get_weights(), net32.get_weights()))


def test_copy_trains_as_a_fresh_network_with_those_weights():
    """The optimizer starts fresh (no momentum carried over) and the twin's shuffling comes
    from the same random_state: two copies train identically, as a new network built with
    random_state=7 and given the same weights does."""
    net, X = trained_net()
    y = (X[:, 1] > 0).astype(float)
    fresh = gn.Sequential([gn.Dense(3, activation="tanh"), gn.Dense(1, activation="sigmoid")],
                          loss="mse", optimizer=gn.SGD(0.05, momentum=0.9), random_state=7)
    fresh.build(3)
    fresh.set_weights(net.get_weights())
    runs = []
    for model in (net.copy(), net.copy(), fresh):
        model.fit(X, y, epochs=2, batch_size=8, verbose=0)
        runs.append(model.get_weights())
    for other in runs[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(runs[0], other))


# -- building: a new network, adding layers, the build's refusals ---------------------------


def test_a_new_network_is_unbuilt_untrained_and_has_no_history():
    net = gn.Sequential([gn.Dense(1)])
    assert net.built is False and net.history is None and net.stop_training is False
    assert net.count_params() == 0


def test_add_refuses_what_is_not_a_layer_and_a_built_network():
    with pytest.raises(ValueError) as info:
        gn.Sequential(["relu"])
    assert str(info.value) == (
        "layers must be glassnet layers (Dense, ReLU, Dropout, ...), got 'relu'.")
    net = gn.Sequential([gn.Dense(1)])
    net.add(gn.ReLU())  # unbuilt: fine
    net.build(2)
    with pytest.raises(ValueError) as info:
        net.add(gn.Dense(1))
    assert str(info.value) == "Cannot add a layer to a network that is already built."
    assert len(net.layers) == 2


def test_build_refuses_no_layers_images_without_flatten_and_a_wrong_input_dim():
    with pytest.raises(ValueError) as info:
        gn.Sequential().build(3)
    assert str(info.value) == "The network has no layers; pass layers=[gn.Dense(...), ...]."
    with pytest.raises(ValueError) as info:
        gn.Sequential([gn.Dense(1)]).fit(np.ones((3, 2, 2)), np.ones(3), verbose=0)
    assert str(info.value) == (
        "X has samples of shape (2, 2): Dense takes vectors (samples of shape (n_features,)): "
        "put glassnet.Flatten() before it to turn each sample into a vector of 4 features."
    )
    layer = gn.Dense(2, input_dim=5)
    with pytest.raises(ValueError) as info:
        gn.Sequential([layer]).fit(np.ones((3, 3)), np.ones(3), verbose=0)
    assert str(info.value) == (
        f"X has samples of shape (3,): Layer {layer!r} was declared with input_dim=5, but it "
        "receives 3 features.")


def test_dropout_masks_come_from_the_networks_random_state():
    X, _ = data(16)

    def train(seed):
        net = gn.Sequential([gn.Dense(8, activation="relu"), gn.Dropout(0.5), gn.Dense(1)],
                            loss="mse", optimizer=gn.SGD(0.05), random_state=seed)
        net.build(3)
        net.set_weights([np.full_like(w, 0.1) for w in net.get_weights()])  # same start
        net.fit(X, X[:, 0], epochs=2, batch_size=None, verbose=0)
        return net.get_weights()

    same = [np.array_equal(a, b) for a, b in zip(train(0), train(0))]
    other = [np.array_equal(a, b) for a, b in zip(train(0), train(1))]
    assert all(same) and not all(other)


def test_an_unbuilt_network_refuses_to_predict_and_says_how_to_build_it():
    message = "The network is not built yet: call fit(X, y) or build(n_features)."
    net = gn.Sequential([gn.Dense(2)])
    for call in (lambda: net.predict(np.ones((1, 2))), net.get_weights, net.copy):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == message


def test_a_classification_loss_needs_a_softmax_or_sigmoid_output():
    with pytest.raises(ValueError) as info:
        gn.Sequential([gn.Dense(2)], loss="cross_entropy").build(3)
    assert str(info.value) == (
        "loss='cross_entropy' needs outputs in (0, 1), but the network ends with 'identity'. "
        "End it with a Softmax (one unit per class) or a Sigmoid output."
    )


def test_saturated_outputs_keep_the_exact_gradient_of_the_logits():
    """Cross-entropy through its own output activation: dL/dz = p - y exactly, also where
    p rounds to 1 (computing dL/dp and then dp/dz would give 0 * inf there)."""
    x = np.ones((1, 2))
    net = gn.Sequential([gn.Dense(1, activation="sigmoid", kernel_initializer="zeros",
                                  bias_initializer=40.0)])
    loss, (dW, db) = net.compute_gradients(x, np.array([0]))
    # z = 40: p = 1/(1+e^-40) = 1 - 4e-18; loss = -log(1-p) = log(1+e^40) = 40 + 4e-18;
    # dL/db = p - y = 1, dL/dW = x^T (p - y) = [[1], [1]].
    assert loss == pytest.approx(40.0, rel=1e-6)
    assert db == pytest.approx(np.array([1.0])) and dW == pytest.approx(np.ones((2, 1)))
    net = gn.Sequential([gn.Dense(3, activation="softmax", kernel_initializer="zeros",
                                  bias_initializer=np.array([60.0, 0.0, 0.0]))])
    loss, (dW, db) = net.compute_gradients(x, np.array([1]))
    # p = softmax([60, 0, 0]) = [1, e^-60, e^-60]; loss = -log p_1 = 60 + log(1 + 2e^-60);
    # dL/db = p - onehot(1) = [1, -1, e^-60].
    assert loss == pytest.approx(60.0, rel=1e-6)
    assert db == pytest.approx([1.0, -1.0, 0.0], abs=1e-6)


def test_a_network_without_parameters_predicts_and_trains():
    X = np.array([[0.0, 1.0], [-2.0, 3.0]])
    net = gn.Sequential([gn.Sigmoid()], loss="mse", dtype="float64")
    history = net.fit(X, X, epochs=1, verbose=0)
    sig = 1.0 / (1.0 + np.exp(-X))  # by numpy
    assert history.history["loss"] == pytest.approx([np.mean((sig - X) ** 2)], rel=1e-12)
    assert net.count_params() == 0 and net.predict(X) == pytest.approx(sig, rel=1e-12)


def test_forward_applies_dropout_only_when_training():
    net = gn.Sequential([gn.Dense(50, kernel_initializer="ones"), gn.Dropout(0.5)],
                        loss="mse", random_state=0)
    net.build(2)
    x = np.ones((4, 2), dtype=np.float32)  # every unit outputs 2 without dropout
    assert np.all(net.forward(x) == 2.0) and np.all(net.predict(x) == 2.0)
    trained = net.forward(x, training=True)  # kept units scaled by 1 / (1 - 0.5)
    assert set(np.unique(trained)) == {0.0, 4.0}


# -- gradients: backpropagation against finite differences of the loss ------------------------


def finite_difference_gradients(net, X, y, w, eps=1e-6):
    """Central differences of evaluate()'s loss (the forward pass only), weight by weight."""
    base = net.get_weights()
    grads = []
    for k, array in enumerate(base):
        g = np.zeros_like(array)
        for idx in np.ndindex(array.shape):
            losses = []
            for step in (eps, -eps):
                trial = [a.copy() for a in base]
                trial[k][idx] += step
                net.set_weights(trial)
                losses.append(net.evaluate(X, y, sample_weight=w)["loss"])
            g[idx] = (losses[0] - losses[1]) / (2 * eps)
        grads.append(g)
    net.set_weights(base)
    return grads


@pytest.mark.parametrize("layers, targets", [
    # hidden activation as its own layer, softmax in the last Dense (fused with the loss)
    (lambda: [gn.Dense(4, activation="sigmoid"), gn.Tanh(), gn.Dense(3, activation="softmax")],
     "classes"),
    # softmax as its own last layer (fused too), a ReLU-free stack for smooth differences
    (lambda: [gn.Dense(4), gn.Tanh(), gn.Dense(3), gn.Softmax()], "classes"),
    (lambda: [gn.Dense(4, activation="sigmoid"), gn.Tanh(), gn.Dense(1, activation="sigmoid")],
     "binary"),
    (lambda: [gn.Dense(4), gn.Tanh(), gn.Dense(2)], "values"),  # mse: not fused
], ids=["softmax-in-dense", "softmax-layer", "sigmoid", "mse"])
def test_compute_gradients_with_sample_weights_match_finite_differences(layers, targets):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(7, 3))
    w = rng.uniform(0.2, 3.0, size=7)
    y = {"classes": rng.integers(0, 3, size=7), "binary": rng.integers(0, 2, size=7),
         "values": rng.normal(size=(7, 2))}[targets]
    net = gn.Sequential(layers(), random_state=0, dtype="float64")
    net.build(3)
    loss, grads = net.compute_gradients(X, y, sample_weight=w)
    assert loss == pytest.approx(net.evaluate(X, y, sample_weight=w)["loss"], rel=1e-12)
    assert loss != pytest.approx(net.evaluate(X, y)["loss"], rel=1e-6)  # weights matter
    expected = finite_difference_gradients(net, X, y, w)
    for got, want in zip(grads, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


def test_compute_gradients_is_deterministic_unless_asked_to_train():
    X = np.random.default_rng(6).normal(size=(5, 3))
    y = X[:, 0]
    net = gn.Sequential([gn.Dense(20), gn.Dropout(0.5), gn.Dense(1)], loss="mse",
                        random_state=0, dtype="float64")
    net.build(3)
    first, second = net.compute_gradients(X, y), net.compute_gradients(X, y, training=False)
    assert first[0] == second[0] == pytest.approx(net.evaluate(X, y)["loss"], rel=1e-12)
    assert all(np.array_equal(a, b) for a, b in zip(first[1], second[1]))
    dropped = net.compute_gradients(X, y, training=True)  # dropout on: another loss
    assert dropped[0] != pytest.approx(first[0], rel=1e-9)


def test_train_on_batch_returns_the_loss_before_one_sgd_step():
    X = np.array([[1.0, 2.0], [0.0, -1.0], [2.0, 1.0]])
    T = np.array([[1.0], [0.0], [2.0]])
    w = np.array([1.0, 2.0, 1.0])
    net = linear(2, 1, [[0.5], [0.0]], [0.0], optimizer=gn.SGD(0.1))
    # outputs 0.5, 0, 1; errors e = p - t = -0.5, 0, -1; weighted MSE = (0.25 + 0 + 1) / 4;
    # dL/dp_i = 2 w_i e_i / sum w = [-0.25, 0, -0.5]; dL/dW = X^T dL/dp = [[-1.25], [-1]];
    # dL/db = -0.75; one SGD(0.1) step: W = [[0.625], [0.1]], b = 0.075.
    assert net.train_on_batch(X, T, w) == pytest.approx(1.25 / 4, rel=1e-12)
    W, b = net.get_weights()
    np.testing.assert_allclose(W, [[0.625], [0.1]], rtol=1e-12)
    np.testing.assert_allclose(b, [0.075], rtol=1e-12)


# -- the checks of fit / evaluate on X, y and sample_weight ----------------------------------


def test_evaluate_refuses_mismatched_inputs_word_for_word():
    net = built()
    X3 = np.ones((3, 3))
    cases = [
        ((np.ones((3, 2)), np.ones(3)), {},
         "X has samples of shape (2,), but the network was built for (3,)."),
        ((X3, np.ones(4)), {}, "X and y must have the same number of samples, got 3 and 4."),
        ((X3, np.array([1.0, np.nan, 0.0])), {}, "y contains NaN or infinity; clean it first."),
    ]
    for sw, message in (
            (np.ones(2), "sample_weight must hold one number per sample, shape (3,), got "
                         "shape (2,)."),
            (np.array([1.0, np.nan, 1.0]), "sample_weight has nan at row 1; weights must be "
                                            "finite and non-negative."),
            (np.array([1.0, 1.0, -1.0]), "sample_weight has -1 at row 2; weights must be "
                                          "finite and non-negative.")):
        cases.append(((X3, np.ones(3)), {"sample_weight": sw}, message))
    for args, kwargs, expected in cases:
        for call in (built().evaluate, lambda *a, **k: built().fit(*a, **k, verbose=0)):
            with pytest.raises(ValueError) as info:
                call(*args, **kwargs)
            assert str(info.value) == expected
    assert net.evaluate(X3, np.ones(3), sample_weight=[0.0, 1.0, 2.0])["loss"] == pytest.approx(
        mean_squared_error(np.ones(3), np.full(3, 3.0), sample_weight=[0.0, 1.0, 2.0]))


# -- predict in batches ------------------------------------------------------------------------


def test_predict_batch_size_is_checked_and_batches_come_back_in_order():
    net = built()
    X = np.arange(21.0).reshape(7, 3)
    expected = X.sum(axis=1, keepdims=True)  # W = ones, b = 0: the row sums
    for k in (1, 2, 3, 6, 7, 8, None):
        assert np.array_equal(net.predict(X, batch_size=k), expected), k
    for bad in (0, -1, True, 2.5, "4"):
        with pytest.raises(ValueError) as info:
            net.predict(X, batch_size=bad)
        assert str(info.value) == f"batch_size must be an integer >= 1 or None, got {bad!r}."


# -- Sequential.fit: its defaults, and every argument reaching the loop -----------------------


class Sizes(gn.Callback):
    def __init__(self):
        super().__init__()
        self.sizes = []

    def on_epoch_begin(self, epoch, logs=None):
        self.sizes.append([])

    def on_batch_end(self, batch, logs=None):
        self.sizes[-1].append(logs["size"])


def small_net(**kwargs):
    return gn.Sequential([gn.Dense(1)], loss="mse", optimizer=gn.SGD(0.01), random_state=0,
                         **kwargs)


def test_fit_defaults_ten_epochs_of_shuffled_batches_of_32_and_a_line_per_epoch(capsys):
    X, _ = data(70)
    y = X[:, 0]
    sizes = Sizes()
    history = small_net().fit(X, y, callbacks=[sizes])
    assert history.epoch == list(range(10)) and sizes.sizes == [[32, 32, 6]] * 10
    lines = capsys.readouterr().err.splitlines()  # progress goes to stderr
    assert len(lines) == 10 and all(line.startswith(f"Epoch {i + 1}/10 - loss: ")
                                    for i, line in enumerate(lines))
    shuffled, unshuffled = small_net(), small_net()
    shuffled.fit(X, y, epochs=2, verbose=0, shuffle=True)
    unshuffled.fit(X, y, epochs=2, verbose=0, shuffle=False)
    default = small_net()
    default.fit(X, y, epochs=2, verbose=0)
    assert same_weights(default.get_weights(), shuffled.get_weights())
    assert not same_weights(default.get_weights(), unshuffled.get_weights())


def same_weights(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_fit_passes_every_argument_on(tmp_path, capsys):
    X, w = data(40)
    y = X @ W2[:, 0]
    sizes = Sizes()
    history = small_net().fit(X, y, epochs=2, batch_size=None, shuffle=False, verbose=0,
                              callbacks=[sizes])
    assert sizes.sizes == [[40], [40]] and capsys.readouterr().out == ""
    assert "val_loss" in small_net().fit(X, y, epochs=1, verbose=0,
                                         validation_split=0.25).history
    history = small_net().fit(X, y, epochs=1, verbose=0, validation_data=(X[:5], y[:5]))
    assert "val_loss" in history.history
    history = small_net().fit(X, y, epochs=50, verbose=0, target_loss=1e9)
    assert history.epoch == [0]  # the first epoch's loss is below the target
    a, b = small_net(), small_net()
    a.fit(X, y, epochs=1, verbose=0, shuffle=False, sample_weight=w)
    b.fit(X, y, epochs=1, verbose=0, shuffle=False)
    assert not same_weights(a.get_weights(), b.get_weights())
    a.save(tmp_path / "a.glassnet")
    resumed = small_net().fit(X, y, epochs=1, verbose=0, resume_from=tmp_path / "a.glassnet")
    assert resumed.epoch == [] and "already trained 1 epochs" in resumed.stop_reason
    diverging = gn.Sequential([gn.Dense(1)], loss="mse", optimizer=gn.SGD(1e30))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="Training diverged"):
        diverging.fit(X, y * 1e18, epochs=3, verbose=0, on_divergence="warn")


# -- batches of unequal size, saving and pickling -----------------------------------------------


def test_softmax_training_on_unequal_batches_is_numpys_sgd():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(9, 3))
    y = rng.integers(0, 3, size=9)
    W0, b0 = rng.normal(size=(3, 3)), np.zeros(3)
    net = linear(3, 3, W0, b0, activation="softmax", optimizer=gn.SGD(0.5))
    net.fit(X, y, epochs=1, batch_size=4, shuffle=False, verbose=0)  # batches of 4, 4, 1
    W, b = W0.copy(), b0.copy()
    for rows in (slice(0, 4), slice(4, 8), slice(8, 9)):  # by numpy
        Z = X[rows] @ W + b
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        G = (P - np.eye(3)[y[rows]]) / len(P)  # d(mean cross-entropy)/dZ
        W, b = W - 0.5 * X[rows].T @ G, b - 0.5 * G.sum(axis=0)
    got_W, got_b = net.get_weights()
    np.testing.assert_allclose(got_W, W, rtol=1e-10)
    np.testing.assert_allclose(got_b, b, rtol=1e-10, atol=1e-14)


def test_a_network_saved_right_after_build_loads_and_trains_the_same(tmp_path):
    X = np.random.default_rng(9).normal(size=(8, 3))
    net = gn.Sequential([gn.Dense(2)], loss="mse", random_state=0)
    net.build(3)
    net.save(tmp_path / "m.glassnet")
    back = gn.load(tmp_path / "m.glassnet")
    for model in (net, back):
        model.fit(X, X[:, :2], epochs=2, verbose=0, shuffle=False)
    assert same_weights(back.get_weights(), net.get_weights())


def test_a_pickled_classifier_predicts_the_same_and_trains_on():
    import pickle

    X, _ = data(12)
    y = (X[:, 0] > 0).astype(int)
    net = gn.Sequential([gn.Dense(3, activation="tanh"), gn.Dense(2, activation="softmax")],
                        random_state=0)
    net.fit(X, y, epochs=2, batch_size=5, verbose=0)
    back = pickle.loads(pickle.dumps(net))
    assert np.array_equal(back.predict(X), net.predict(X))
    for model in (net, back):
        model.fit(X, y, epochs=1, batch_size=5, verbose=0)
    assert same_weights(back.get_weights(), net.get_weights())
