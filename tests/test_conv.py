"""Convolution, pooling and batch normalization: central differences in float64, PyTorch
autograd with the same weights (channels-last permuted to torch's layout, Keras's "same"
reproduced with F.pad), Keras's moving-statistics rule by hand, and the shape errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import summary_text

import glassnet as gn

RNG = np.random.default_rng(0)


def images(n, *shape):
    return np.random.default_rng(sum(shape) + n).normal(size=(n, *shape))


def max_error(net, X, y, training=False):
    return max(gn.gradcheck(net, X, y, training=training).values())


# -- central differences, every layer and combination ----------------------------------

CONV2D = [
    dict(filters=3, kernel_size=3),
    dict(filters=2, kernel_size=(2, 3), strides=(2, 1)),
    dict(filters=2, kernel_size=3, dilation_rate=2),
    dict(filters=2, kernel_size=2, padding="same"),  # an even kernel: the odd pad at the end
    dict(filters=2, kernel_size=4, strides=3, padding="same"),
    dict(filters=2, kernel_size=3, padding=1),  # PyTorch's integer padding
    dict(filters=2, kernel_size=(3, 2), padding=(2, 0), use_bias=False),
    dict(filters=3, kernel_size=3, activation="tanh"),
    dict(filters=3, kernel_size=3, activation="relu", padding="same"),
]


@pytest.mark.parametrize("kwargs", CONV2D, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_conv2d_gradients_match_central_differences(kwargs):
    net = gn.Sequential([gn.Conv2D(**kwargs), gn.Flatten(), gn.Dense(2, activation="softmax")],
                        random_state=1, dtype="float64")
    X = images(3, 7, 6, 2)  # odd and even sizes
    assert max_error(net, X, [0, 1, 1]) < 1e-7


@pytest.mark.parametrize("kwargs", [
    dict(filters=3, kernel_size=3), dict(filters=2, kernel_size=4, strides=2, padding="same"),
    dict(filters=2, kernel_size=3, dilation_rate=2, padding=2), dict(filters=2, kernel_size=2,
                                                                     activation="sigmoid"),
])
def test_conv1d_gradients_match_central_differences(kwargs):
    net = gn.Sequential([gn.Conv1D(**kwargs), gn.GlobalMaxPooling1D(), gn.Dense(1)],
                        random_state=2, dtype="float64")
    assert max_error(net, images(4, 11, 3), images(4, 1)[:, 0]) < 1e-7


@pytest.mark.parametrize("pool", [
    gn.MaxPooling2D(2), gn.MaxPooling2D((3, 2), strides=1), gn.MaxPooling2D(3, padding="same"),
    gn.AveragePooling2D(2), gn.AveragePooling2D(3, strides=2, padding="same"),
    gn.GlobalAveragePooling2D(), gn.GlobalMaxPooling2D(),
], ids=repr)
def test_pooling_gradients_match_central_differences(pool):
    net = gn.Sequential([gn.Conv2D(2, 2, activation="tanh"), pool, gn.Flatten(), gn.Dense(1)],
                        random_state=3, dtype="float64")
    assert max_error(net, images(3, 7, 8, 1), [0.5, -1.0, 2.0]) < 1e-7


@pytest.mark.parametrize("pool", [gn.MaxPooling1D(2), gn.AveragePooling1D(3, strides=2),
                                  gn.GlobalAveragePooling1D()], ids=repr)
def test_1d_pooling_gradients_match_central_differences(pool):
    net = gn.Sequential([gn.Conv1D(2, 3), pool, gn.Flatten(), gn.Dense(1)], random_state=4,
                        dtype="float64")
    assert max_error(net, images(3, 9, 2), [1.0, 0.0, -1.0]) < 1e-7


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("where", ["dense", "conv"])
def test_batch_normalization_gradients_in_training_and_prediction(where, training):
    # No bias right before the normalization: in training its gradient is exactly 0 (the
    # batch mean takes it out), which a relative error cannot compare.
    if where == "dense":
        layers = [gn.Dense(4, bias_initializer=0.0), gn.BatchNormalization(), gn.Tanh(),
                  gn.Dense(1)]
        X = images(6, 3)
    else:
        layers = [gn.Conv2D(3, 2, use_bias=False), gn.BatchNormalization(center=False),
                  gn.ReLU(), gn.Flatten(), gn.Dense(1)]
        X = images(4, 5, 5, 2)
    net = gn.Sequential(layers, random_state=5, dtype="float64")
    net.build(X.shape[1:])
    bn = net.layers[1]
    bn.state[0][...], bn.state[1][...] = 0.3, 2.0  # moving statistics that are not the batch's
    y = images(len(X), 1)[:, 0]
    errors = gn.gradcheck(net, X, y, training=training)
    if where == "dense" and training:
        _, grads = net.compute_gradients(X, y, training=True)
        assert np.abs(grads[1]).max() < 1e-12  # dense.b: the normalization removes it
        del errors["dense.b"]
    assert max(errors.values()) < 1e-7


# -- PyTorch autograd with the same weights --------------------------------------------


def torch_conv(layer, A):
    """``layer`` (channels-last) run by torch on ``A`` of shape (n, *spatial, c)."""
    rank = layer.rank
    x = A.permute(0, rank + 1, *range(1, rank + 1))  # -> (n, c, *spatial)
    # (*k, c_in, f) -> (f, c_in, *k), a leaf whose .grad torch fills
    W = torch.tensor(layer.W).permute(rank + 1, rank, *range(rank)).contiguous()
    W.requires_grad_()
    if layer.padding == "same" or not isinstance(layer.padding, str):
        widths = [w for pair in reversed(layer._pads) for w in pair]  # F.pad: last axis first
        x = F.pad(x, widths)
    conv = F.conv1d if rank == 1 else F.conv2d
    b = None if layer.b is None else torch.tensor(layer.b).requires_grad_()
    z = conv(x, W, b, stride=layer.strides, dilation=layer.dilation_rate)
    return z.permute(0, *range(2, rank + 2), 1), W, b


def test_a_conv_network_matches_torch_loss_and_every_gradient():
    net = gn.Sequential([
        gn.Conv2D(4, 3, padding="same", activation="relu"), gn.MaxPooling2D(2),
        gn.Conv2D(3, 2, strides=2, dilation_rate=1, padding=1), gn.BatchNormalization(),
        gn.Tanh(), gn.Flatten(), gn.Dense(3, activation="softmax"),
    ], random_state=6, dtype="float64")
    X, y = images(5, 8, 8, 2), np.array([0, 2, 1, 1, 0])
    loss, grads = net.compute_gradients(X, y, training=True)
    conv1, _, conv2, bn, _, _, dense = net.layers

    x = torch.tensor(X)
    z1, W1, b1 = torch_conv(conv1, x)
    a1 = torch.relu(z1).permute(0, 3, 1, 2)
    p1 = F.max_pool2d(a1, 2).permute(0, 2, 3, 1)
    z2, W2, b2 = torch_conv(conv2, p1)
    gamma, beta = (torch.tensor(p).requires_grad_() for p in bn.params)
    flat2 = z2.reshape(-1, 3)
    mean, var = flat2.mean(0), flat2.var(0, unbiased=False)
    h = torch.tanh(((z2 - mean) / torch.sqrt(var + bn.epsilon)) * gamma + beta)
    Wd, bd = (torch.tensor(p).requires_grad_() for p in dense.params)
    logits = h.reshape(5, -1) @ Wd + bd
    ref = F.cross_entropy(logits, torch.tensor(y))
    ref.backward()
    assert math.isclose(loss, ref.item(), rel_tol=1e-12)
    expected = [W1.grad.permute(2, 3, 1, 0), b1.grad, W2.grad.permute(2, 3, 1, 0), b2.grad,
                gamma.grad, beta.grad, Wd.grad, bd.grad]
    for mine, theirs in zip(grads, expected):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-8, atol=1e-12)


def test_a_conv1d_network_matches_torch():
    net = gn.Sequential([gn.Conv1D(3, 5, strides=2, padding="same", activation="relu"),
                         gn.AveragePooling1D(2), gn.Flatten(), gn.Dense(1)],
                        loss="mse", random_state=7, dtype="float64")
    X, y = images(4, 12, 2), images(4, 1)
    loss, grads = net.compute_gradients(X, y)
    conv = net.layers[0]
    z, W, b = torch_conv(conv, torch.tensor(X))
    pooled = F.avg_pool1d(torch.relu(z).permute(0, 2, 1), 2).permute(0, 2, 1)
    Wd, bd = (torch.tensor(p).requires_grad_() for p in net.layers[-1].params)
    ref = ((pooled.reshape(4, -1) @ Wd + bd - torch.tensor(y)) ** 2).mean()
    ref.backward()
    assert math.isclose(loss, ref.item(), rel_tol=1e-12)
    for mine, theirs in zip(grads, [W.grad.permute(2, 1, 0), b.grad, Wd.grad, bd.grad]):
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-8, atol=1e-12)


def test_max_pooling_ties_go_to_the_first_maximum_as_in_torch():
    A = np.zeros((1, 2, 2, 1))  # four equal values: the gradient goes to the first
    layer = gn.MaxPooling2D(2)
    net = gn.Sequential([layer, gn.Flatten()], loss="mse", dtype="float64").build((2, 2, 1))
    net.forward(A)
    dA = layer.backward(np.ones((1, 1, 1, 1)))
    x = torch.zeros(1, 1, 2, 2, dtype=torch.float64, requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(dA[0, :, :, 0], x.grad[0, 0].numpy())


# -- batch normalization's state ---------------------------------------------------------


def test_moving_statistics_follow_keras_rule_and_are_used_in_prediction():
    X = images(8, 3)
    net = gn.Sequential([gn.BatchNormalization(momentum=0.9)], loss="mse", optimizer="sgd",
                        random_state=0, dtype="float64")
    net.fit(X, np.zeros((8, 3)), epochs=3, batch_size=4, shuffle=False, verbose=0)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(3):
        for batch in (X[:4], X[4:]):  # moving = momentum * moving + (1 - momentum) * batch
            mean = 0.9 * mean + 0.1 * batch.mean(axis=0)
            var = 0.9 * var + 0.1 * batch.var(axis=0)  # the biased variance, as Keras
    moving_mean, moving_var = net.layers[0].state
    np.testing.assert_allclose(moving_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(moving_var, var, rtol=1e-12)
    gamma, beta = net.layers[0].params
    expected = gamma * (X - mean) / np.sqrt(var + 1e-3) + beta
    np.testing.assert_allclose(net.predict(X), expected, rtol=1e-12)
    assert [w.shape for w in net.get_weights()] == [(3,)] * 4  # gamma, beta, mean, variance


def test_conv_and_batch_norm_networks_save_load_and_resume_exactly(tmp_path):
    def make():
        return gn.Sequential([gn.Conv2D(3, 3, activation="relu"), gn.BatchNormalization(),
                              gn.MaxPooling2D(2), gn.Flatten(), gn.Dense(2, activation="softmax")],
                             random_state=0)
    X, y = images(12, 8, 8, 1), np.arange(12) % 2
    whole = make()
    whole.fit(X, y, epochs=4, batch_size=4, verbose=0)
    first = make()
    first.fit(X, y, epochs=2, batch_size=4, verbose=0)
    first.save(tmp_path / "c.glassnet")
    loaded = gn.load(tmp_path / "c.glassnet")
    np.testing.assert_array_equal(loaded.predict(X), first.predict(X))
    np.testing.assert_array_equal(loaded.state, first.state)  # the moving statistics
    resumed = make()
    resumed.fit(X, y, epochs=4, batch_size=4, verbose=0, resume_from=tmp_path / "c.glassnet")
    np.testing.assert_array_equal(resumed.params, whole.params)
    np.testing.assert_array_equal(resumed.state, whole.state)


# -- shapes and errors ---------------------------------------------------------------------


def test_output_shapes_follow_keras_formulas():
    net = gn.Sequential([gn.Conv2D(8, 3, strides=2, padding="same"), gn.MaxPooling2D(2),
                         gn.Conv2D(4, (3, 1)), gn.GlobalAveragePooling2D()])
    net.build((28, 27, 1))
    shapes = [layer.output_shape for layer in net.layers]
    # same: ceil(28 / 2) = 14, ceil(27 / 2) = 14; pool 2: 7, 7; valid (3, 1): 5, 7
    assert shapes == [(14, 14, 8), (7, 7, 8), (5, 7, 4), (4,)]
    assert "(None, 14, 14, 8)" in summary_text(net)


@pytest.mark.parametrize("layers, shape, match", [
    ([gn.Conv2D(2, 3)], (8, 8), r"X has samples of shape \(8, 8\): Conv2D takes samples of "
     r"shape \(height, width, channels\).*Add the channel axis: X\[\.\.\., None\]"),
    ([gn.Conv2D(2, 5)], (4, 4, 1), r"kernel \(5, 5\).* is larger than its input \(4, 4\)"),
    ([gn.MaxPooling2D(3)], (2, 5, 1), r"pool \(3, 3\) leaves nothing of its input \(2, 5\)"),
    ([gn.Conv1D(2, 3)], (5, 5, 1), r"Conv1D takes samples of shape \(steps, channels\)"),
])
def test_shape_errors_say_what_is_wrong(layers, shape, match):
    with pytest.raises(ValueError, match=match):
        gn.Sequential(layers).build(shape)


def test_a_wrong_channel_count_at_predict_is_refused():
    net = gn.Sequential([gn.Conv2D(2, 3), gn.Flatten(), gn.Dense(1)]).build((6, 6, 3))
    with pytest.raises(ValueError, match=r"samples of shape \(6, 6, 1\), but the network was "
                                         r"built for \(6, 6, 3\)"):
        net.predict(np.zeros((2, 6, 6, 1)))


@pytest.mark.parametrize("make, match", [
    (lambda: gn.Conv2D(0, 3), r"^filters must be an int >= 1, got 0"),
    (lambda: gn.Conv2D(2, (3, 3, 3)), r"^kernel_size must be an int or a tuple of 2 ints"),
    (lambda: gn.Conv1D(2, 3, padding="full"), r"^padding must be 'valid', 'same' or an int"),
    (lambda: gn.MaxPooling2D(2, padding=1), r"^padding must be 'valid' or 'same', got 1"),
    (lambda: gn.BatchNormalization(axis=1), r"^axis must be -1"),
    (lambda: gn.BatchNormalization(momentum=1.5), r"^momentum must be a number in \[0, 1\)"),
])
def test_bad_layer_arguments_name_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_configs_round_trip_through_the_registry():
    from glassnet.layers import layer_from_config

    for layer in [gn.Conv2D(3, (2, 3), strides=2, padding=(1, 0), dilation_rate=(1, 2),
                            activation="relu", use_bias=False), gn.Conv1D(2, 4, padding="same"),
                  gn.MaxPooling2D((2, 3), strides=1, padding="same"), gn.AveragePooling1D(2),
                  gn.GlobalMaxPooling2D(), gn.BatchNormalization(momentum=0.5, scale=False)]:
        again = layer_from_config(layer.get_config())
        assert type(again) is type(layer) and again.get_config() == layer.get_config()


def test_a_conv_network_can_be_traced_and_printed():
    net = gn.Sequential([gn.Conv2D(2, 2, activation="relu"), gn.MaxPooling2D(2), gn.Flatten(),
                         gn.Dense(2, activation="softmax")], random_state=0)
    X = images(1, 5, 5, 1)
    step = gn.trace_step(net, X, [1])
    assert [layer.kind for layer in step.layers] == ["conv2d", "max_pooling2d", "flatten",
                                                     "dense"]
    _, grads = net.compute_gradients(X, [1])
    np.testing.assert_allclose(step.layers[0].dW, grads[0], rtol=1e-5)  # the kernel's gradient
    assert step.loss_after < step.loss and "J after the step" in str(step)


def test_five_adam_steps_of_a_conv_network_match_torch():
    net = gn.Sequential([gn.Conv2D(3, 3, padding="same", activation="relu"), gn.MaxPooling2D(2),
                         gn.Flatten(), gn.Dense(2, activation="softmax")],
                        optimizer=gn.Adam(0.01), random_state=8, dtype="float64")
    X, y = images(6, 6, 6, 2), np.array([0, 1, 1, 0, 1, 0])
    net.build(X.shape[1:])
    conv, _, _, dense = net.layers
    W = torch.tensor(conv.W).permute(3, 2, 0, 1).contiguous().requires_grad_()  # (f, c, kh, kw)
    b = torch.tensor(conv.b).requires_grad_()
    Wd, bd = (torch.tensor(p).requires_grad_() for p in dense.params)
    opt = torch.optim.Adam([W, b, Wd, bd], lr=0.01)
    x = torch.tensor(X).permute(0, 3, 1, 2)
    for _ in range(5):
        net.fit(X, y, epochs=1, batch_size=None, verbose=0)
        opt.zero_grad()
        z = F.conv2d(F.pad(x, [1, 1, 1, 1]), W, b)  # "same" for a 3x3 kernel: one zero around
        h = F.max_pool2d(torch.relu(z), 2).permute(0, 2, 3, 1).reshape(6, -1)
        F.cross_entropy(h @ Wd + bd, torch.tensor(y)).backward()
        opt.step()
    expected = [W.permute(2, 3, 1, 0), b, Wd, bd]
    for ours, theirs in zip(net.parameters(), expected):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-6, atol=1e-9)


def test_the_chain_rule_of_one_kernel_weight_sums_over_output_positions():
    net = gn.Sequential([gn.Conv2D(2, 2, strides=2, padding="same", activation="relu"),
                         gn.Flatten(), gn.Dense(2, activation="softmax")], random_state=0,
                        dtype="float64")
    X = images(2, 5, 5, 1)
    step = gn.trace_step(net, X, [1, 0])
    terms = step.chain_rule("conv2d", (1, 0, 0, 1))  # by its name, as printed
    assert len(terms) == 2 * 3 * 3  # samples x output positions (same, stride 2: 5 -> 3)
    # By hand: output position (0, 1, 2) reads input row 1 * 2 + 1 = 3, column 2 * 2 + 0 = 4.
    position, delta, a = terms[5]
    assert position == (0, 1, 2) and a == X[0, 3, 4, 0]
    _, grads = net.compute_gradients(X, [1, 0])
    assert math.isclose(sum(d * a for _, d, a in terms), grads[0][1, 0, 0, 1], rel_tol=1e-12)
    text, md, page = str(step), step.to_markdown(), step.to_html()
    assert "dJ/dW[0, 0, 0, 0] of conv2d = Σ over samples and output positions" in text
    assert "an array of shape (2, 5, 5, 1)" in text  # big arrays are summarized
    assert "conv2d" in md and "conv2d" in page
    # The Dense layer after it: by superscript (1, the first Dense) or by name, i, j.
    by_number, by_name = step.chain_rule(1, 3, 1), step.chain_rule("dense", (3, 1))
    assert [n for n, _ in by_number] == [n for n, _ in by_name]
    assert by_number[-1][1] == by_name[-1][1] == grads[2][3, 1]
    with pytest.raises(ValueError, match="has 4 indices \\(k..., c, f\\), got \\(0, 0\\)"):
        step.chain_rule("conv2d", (0, 0))
    with pytest.raises(ValueError, match="no Dense or convolution layer named 'flatten'; it "
                                         "has 'conv2d', 'dense'"):
        step.chain_rule("flatten", (0, 0))
    with pytest.raises(ValueError, match="superscript 1..1 or a layer's name, got 2"):
        step.chain_rule(2, 0, 0)


def test_a_conv_fit_allocates_nothing_per_batch_after_the_first():
    import tracemalloc

    class Watch(gn.Callback):  # the peak of batches 3-6 above what batch 2 left
        def on_batch_end(self, batch, logs=None):
            if batch == 1:
                self.base = tracemalloc.get_traced_memory()[0]
                tracemalloc.reset_peak()
            if batch == 5:
                self.extra = tracemalloc.get_traced_memory()[1] - self.base

    net = gn.Sequential([gn.Conv2D(8, 3, padding="same", activation="relu"), gn.MaxPooling2D(2),
                         gn.Conv2D(8, 3, activation="relu"), gn.Flatten(),
                         gn.Dense(3, activation="softmax")], random_state=0)
    X = images(32 * 8, 16, 16, 3).astype(np.float32)
    watch = Watch()
    tracemalloc.start()
    try:
        net.fit(X, np.arange(len(X)) % 3, epochs=1, batch_size=32, verbose=0, callbacks=[watch])
    finally:
        tracemalloc.stop()
    # One batch's im2col rows alone are 32 x 256 x 27 floats = 885 kB.
    assert watch.extra < 64_000, f"{watch.extra / 1e3:.0f} kB allocated in four batches"


def test_softmax_on_a_feature_map_normalizes_the_channels_and_backpropagates():
    """As Keras's: over the last axis (each position's channels), not the first spatial
    axis; the gradient through it matches finite differences."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 5, 5, 2))
    net = gn.Sequential([gn.Conv2D(3, 2, activation="softmax"), gn.Flatten(),
                         gn.Dense(2, activation="softmax")], random_state=0, dtype="float64")
    net.build((5, 5, 2))
    conv = net.layers[0]
    Z = torch.nn.functional.conv2d(torch.tensor(X.transpose(0, 3, 1, 2)),
                                   torch.tensor(conv.params[0].transpose(3, 2, 0, 1)),
                                   torch.tensor(conv.params[1]))
    expected = torch.softmax(Z, dim=1).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(conv.forward(X, training=False), expected, rtol=1e-12)
    assert max(gn.gradcheck(net, X, rng.integers(0, 2, 4)).values()) < 1e-7
