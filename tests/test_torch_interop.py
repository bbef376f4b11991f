"""``gn.from_torch`` and ``net.to_torch()`` against PyTorch itself: the converted network
computes what the original does (float64, within 1e-6, on channels-first vs channels-last
inputs), round trips keep the weights, and gradients equal torch autograd's."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import layer_from_config

torch = pytest.importorskip("torch")
nn = torch.nn
# torch's own note on its padding="same" with an even kernel (a module of these tests).
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


def nchw(x):
    """glassnet's channels-last samples in PyTorch's channels-first order."""
    return np.ascontiguousarray(np.moveaxis(x, -1, 1)) if x.ndim > 2 else x


def torch_predict(module, x_last):
    """``module``'s output for glassnet-ordered ``x_last``, as channels-last again."""
    with torch.no_grad():
        out = module(torch.from_numpy(nchw(x_last))).numpy()
    return np.moveaxis(out, 1, -1) if out.ndim > 2 else out


def randomize_statistics(module, seed=0):
    """Non-trivial running statistics, so a wrong layout or formula shows."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g))
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                if m.affine:
                    m.weight.copy_(torch.randn(m.num_features, generator=g))
                    m.bias.copy_(torch.randn(m.num_features, generator=g))
    return module


def samples(shape, n=6, seed=1):
    """``n`` glassnet samples for PyTorch's per-sample ``shape`` (C, H, W) / (C, L) / (F,)."""
    x = np.random.default_rng(seed).normal(size=(n, *shape))
    return np.moveaxis(x, 1, -1) if x.ndim > 2 else x


# PyTorch modules and their per-sample input shapes (odd sizes: the "same" pads' odd pad).
TORCH_CASES = {
    "dense": (lambda: nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 4), nn.Tanh(),
                                    nn.Dropout(0.3), nn.Linear(4, 3, bias=False),
                                    nn.Softmax(dim=1)), (5,)),
    "conv2d_stride_padding": (lambda: nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(4, 3, (2, 3), padding="same", bias=False), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3 * 2 * 2, 5)), (2, 9, 8)),
    "conv2d_dilation_avgpool_ceil": (lambda: nn.Sequential(
        nn.Conv2d(3, 4, 3, dilation=2, padding=(1, 2)), nn.Sigmoid(),
        nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
        nn.Flatten(), nn.Linear(4 * 3 * 4, 2)), (3, 7, 7)),
    "conv2d_zero_pad_same_stride2": (lambda: nn.Sequential(
        nn.ZeroPad2d((0, 1, 1, 1)), nn.Conv2d(2, 3, 3, stride=2), nn.Tanh(),
        nn.MaxPool2d(2, ceil_mode=True), nn.Flatten(), nn.Linear(3 * 2 * 2, 2)), (2, 7, 6)),
    "conv1d": (lambda: nn.Sequential(
        nn.Conv1d(3, 4, 3, stride=2), nn.LeakyReLU(0.2), nn.MaxPool1d(2, ceil_mode=True),
        nn.Conv1d(4, 2, 4, padding="same", dilation=2), nn.AvgPool1d(2),
        nn.Flatten(), nn.Linear(2 * 2, 3)), (3, 17)),
    "global_avg": (lambda: nn.Sequential(
        nn.Conv2d(2, 5, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(5, 2)), (2, 6, 7)),
    "global_max_1d": (lambda: nn.Sequential(
        nn.Conv1d(2, 5, 3, padding=1), nn.AdaptiveMaxPool1d(1), nn.Flatten(),
        nn.Linear(5, 1), nn.Sigmoid()), (2, 9)),
    "batch_norm_dense": (lambda: nn.Sequential(
        nn.Linear(4, 6), nn.BatchNorm1d(6, eps=1e-3, momentum=0.2), nn.ReLU(),
        nn.Linear(6, 2)), (4,)),
    "batch_norm_conv": (lambda: nn.Sequential(
        nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 2, 1),
        nn.BatchNorm2d(2, affine=False), nn.Flatten(), nn.Linear(2 * 3 * 4, 2)), (2, 5, 6)),
    "batch_norm_after_flatten": (lambda: nn.Sequential(
        nn.Conv1d(2, 3, 2), nn.BatchNorm1d(3), nn.Flatten(), nn.BatchNorm1d(3 * 5),
        nn.Identity(), nn.Linear(3 * 5, 2)), (2, 6)),
}

ACTIVATIONS = [nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=1), nn.Softmax(dim=-1),
               nn.LeakyReLU(0.3), nn.Identity()]


def torch_case(name, dtype=torch.float64):
    make, shape = TORCH_CASES[name]
    torch.manual_seed(sum(map(ord, name)))
    return randomize_statistics(make().to(dtype).eval()), shape


@pytest.mark.parametrize("name", TORCH_CASES)
def test_from_torch_predicts_what_the_module_computes(name):
    module, shape = torch_case(name)
    net = gn.from_torch(module, shape)
    assert net.dtype == np.float64 and net.built
    x = samples(shape)
    expected = torch_predict(module, x)
    np.testing.assert_allclose(net.predict(x), expected, atol=1e-6, rtol=0)
    assert np.abs(expected).max() > 1e-3  # a real signal, not zeros agreeing


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=repr)
@pytest.mark.parametrize("after", ["linear", "pooled"])
def test_each_activation_after_a_layer_and_standalone(activation, after):
    if after == "linear":  # merged into the Dense
        module = nn.Sequential(nn.Linear(4, 5), activation)
        shape = (4,)
    else:  # a layer of its own, after global pooling
        module = nn.Sequential(nn.Conv1d(2, 4, 2), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                               activation)
        shape = (2, 5)
    torch.manual_seed(3)
    module = module.double().eval()
    net = gn.from_torch(module, shape)
    x = samples(shape) * 3
    np.testing.assert_allclose(net.predict(x), torch_predict(module, x), atol=1e-6, rtol=0)
    np.testing.assert_allclose(torch_predict(net.to_torch(), x), net.predict(x), atol=1e-6,
                               rtol=0)


def test_an_activation_after_linear_becomes_its_activation():
    net = gn.from_torch(nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.25), nn.Dropout(0.1),
                                      nn.Tanh()).double(), (3,))
    assert [type(layer) for layer in net.layers] == [gn.Dense, gn.Dropout, gn.Tanh]
    assert net.layers[0].activation.name == "leaky_relu"
    assert net.layers[0].activation.alpha == 0.25


def random_state(net, seed=0):
    """Random weights and moving statistics for a glassnet network."""
    rng = np.random.default_rng(seed)
    net.set_weights([rng.uniform(0.5, 1.5, a.shape) if name.endswith("moving_variance")
                     else rng.normal(size=a.shape)
                     for name, a in zip(net._weight_names(), net.get_weights())])
    return net


# glassnet networks and their per-sample (channels-last) input shapes.
GLASSNET_CASES = {
    "dense": ([gn.Dense(6, activation="tanh"), gn.Dropout(0.2), gn.Dense(4),
               gn.LeakyReLU(0.1), gn.Dense(3, activation="softmax")], (5,)),
    "conv2d_same_odd": ([gn.Conv2D(3, 3, strides=2, padding="same", activation="relu"),
                         gn.Conv2D(2, (2, 3), padding="same", dilation_rate=(2, 1)),
                         gn.MaxPooling2D(2, padding="same"), gn.Flatten(), gn.Dropout(0.1),
                         gn.Dense(3, activation="sigmoid")], (9, 7, 2)),
    "conv2d_avg_same": ([gn.Conv2D(3, 2, padding=1, use_bias=False),
                         gn.AveragePooling2D(3, strides=2, padding="same"),
                         gn.AveragePooling2D((2, 1)), gn.Flatten(), gn.Dense(2)], (8, 9, 3)),
    "conv1d": ([gn.Conv1D(4, 3, strides=2, padding="same", activation="softmax"),
                gn.MaxPooling1D(3, strides=2), gn.Conv1D(2, 2, dilation_rate=2),
                gn.AveragePooling1D(2, padding="same"), gn.Flatten(), gn.Dense(2)], (21, 3)),
    "global": ([gn.Conv2D(4, 3), gn.GlobalMaxPooling2D(), gn.Dense(2)], (6, 5, 2)),
    "global_avg_1d": ([gn.Conv1D(4, 3), gn.GlobalAveragePooling1D(), gn.Flatten(),
                       gn.Dense(2)], (7, 2)),
    "batch_norm": ([gn.Conv2D(3, 3), gn.BatchNormalization(momentum=0.9), gn.ReLU(),
                    gn.Flatten(), gn.BatchNormalization(center=False), gn.Dense(4),
                    gn.BatchNormalization(scale=False, epsilon=1e-2), gn.Sigmoid()],
                   (5, 6, 2)),
    "ends_in_a_map": ([gn.Conv1D(3, 2), gn.Identity()], (6, 2)),
    "ends_flattened": ([gn.Conv2D(3, 2), gn.Flatten()], (4, 3, 2)),
}


def glassnet_case(name, dtype="float64"):
    layers, shape = GLASSNET_CASES[name]
    net = gn.Sequential([layer_from_config(layer.get_config()) for layer in layers],
                        dtype=dtype, random_state=0)
    return random_state(net.build(shape), sum(map(ord, name))), shape


@pytest.mark.parametrize("name", GLASSNET_CASES)
def test_to_torch_computes_what_predict_does(name):
    net, shape = glassnet_case(name)
    module = net.to_torch()
    assert isinstance(module, nn.Sequential) and not module.training
    assert all(p.dtype == torch.float64 for p in module.state_dict().values()
               if p.is_floating_point())
    x = np.random.default_rng(2).normal(size=(7, *shape))
    expected = net.predict(x)
    got = torch_predict(module, x)
    if name == "ends_flattened":  # each library flattens in its own order: (C, H, W) here
        expected = expected.reshape(7, 3, 2, 3).transpose(0, 3, 1, 2).reshape(7, -1)
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def tensors(module):
    return [t for name, t in module.state_dict().items()
            if not name.endswith("num_batches_tracked")]


@pytest.mark.parametrize("name", sorted(set(TORCH_CASES) - {"dense"}))  # dense: bias=False
def test_torch_glassnet_torch_keeps_the_weights(name):
    module, shape = torch_case(name)
    back = gn.from_torch(module, shape).to_torch()
    before, after = tensors(module), tensors(back)
    assert len(before) == len(after)
    for a, b in zip(before, after):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("name", GLASSNET_CASES)
def test_glassnet_torch_glassnet_keeps_the_weights(name):
    net, shape = glassnet_case(name)
    torch_shape = shape if len(shape) == 1 else (shape[-1], *shape[:-1])
    back = gn.from_torch(net.to_torch(), torch_shape)
    assert back.input_shape == net.input_shape
    weights = net.get_weights()
    if name == "batch_norm":  # center=False / scale=False: PyTorch's affine has both
        assert len(back.get_weights()) == len(weights) + 2
        x = np.random.default_rng(4).normal(size=(5, *shape))
        np.testing.assert_allclose(back.predict(x), net.predict(x), atol=1e-12, rtol=0)
        return
    for a, b in zip(weights, back.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_glassnet_torch_glassnet_keeps_the_layers_as_glassnet_writes_them():
    # An activation module after a Linear or Conv comes back as the layer's activation.
    net = gn.Sequential([gn.Conv2D(3, 2, padding="same", activation="relu"),
                         gn.MaxPooling2D(2, padding="same"), gn.Flatten(), gn.Dropout(0.5),
                         gn.Dense(4, activation=gn.ops.activations.LeakyReLU(0.1)),
                         gn.Dense(3, activation="softmax")], dtype="float64").build((5, 7, 2))
    back = gn.from_torch(net.to_torch(), (2, 5, 7))
    assert [layer.get_config() for layer in back.layers] == \
        [layer.get_config() for layer in net.layers]


def test_float32_both_ways():
    module, shape = torch_case("conv2d_stride_padding", dtype=torch.float32)
    net = gn.from_torch(module, shape)
    assert net.dtype == np.float32
    x = samples(shape).astype(np.float32)
    np.testing.assert_allclose(net.predict(x), torch_predict(module, x), atol=1e-5, rtol=0)
    back = net.to_torch()
    assert {t.dtype for t in back.state_dict().values()} == {torch.float32}
    np.testing.assert_allclose(torch_predict(back, x), net.predict(x), atol=1e-5, rtol=0)
    assert gn.from_torch(module, shape, dtype="float64").dtype == np.float64  # cast on ask


def test_sequential_keywords_pass_through():
    module = nn.Sequential(nn.Linear(3, 2)).double()
    net = gn.from_torch(module, (3,), loss="mse", optimizer=gn.SGD(0.1), random_state=5)
    assert net.loss.name == "mse" and isinstance(net.optimizer, gn.SGD)
    assert net.random_state == 5


def glassnet_layout(module):
    """The gradients of ``module``'s parameters in glassnet's layouts, written out here for
    this test's module (conv, BN, Flatten of a (3, 3, 3) map, Linear, Linear)."""
    conv, bn, _, _, lin1, lin2 = (module[i] for i in (0, 1, 2, 3, 4, 6))
    perm = np.arange(27).reshape(3, 3, 3).transpose(2, 0, 1).ravel()  # (H, W, C) -> CHW
    W1 = np.empty((27, 4))
    W1[perm] = lin1.weight.grad.numpy().T
    return [conv.weight.grad.numpy().transpose(2, 3, 1, 0), conv.bias.grad.numpy(),
            bn.weight.grad.numpy(), bn.bias.grad.numpy(), W1, lin1.bias.grad.numpy(),
            lin2.weight.grad.numpy().T, lin2.bias.grad.numpy()]


def test_gradients_equal_torch_autograd_and_the_net_trains_on():
    torch.manual_seed(7)
    module = nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.BatchNorm2d(3),
                           nn.ReLU(), nn.Flatten(), nn.Linear(27, 4), nn.Tanh(),
                           nn.Linear(4, 3), nn.Softmax(dim=1)).double()
    randomize_statistics(module)
    net = gn.from_torch(module, (2, 5, 6), optimizer=gn.Adam(0.01), random_state=0)
    rng = np.random.default_rng(8)
    x, y = samples((2, 5, 6), n=10, seed=9), rng.integers(0, 3, size=10)

    module.train()  # batch statistics, as glassnet's training pass
    P = module(torch.from_numpy(nchw(x)))
    ref = -torch.log(P[torch.arange(10), torch.from_numpy(y)]).mean()
    ref.backward()
    loss, grads = net.compute_gradients(x, y, training=True)
    assert loss == pytest.approx(ref.item(), rel=1e-10)
    assert len(grads) == 8
    for g, expected in zip(grads, glassnet_layout(module), strict=True):
        np.testing.assert_allclose(g, expected, rtol=1e-7, atol=1e-12)

    history = net.fit(x, y, epochs=15, batch_size=5, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


@pytest.mark.parametrize("module, shape, match", [
    (nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.GRU(3, 3)), (3,),
     r"module 2 \(GRU\) has no glassnet equivalent"),
    (nn.Sequential(nn.Conv2d(2, 2, 3, groups=2)), (2, 5, 5), r"module 0 \(Conv2d\).*groups=2"),
    (nn.Sequential(nn.Conv1d(1, 2, 3, padding=1, padding_mode="reflect")), (1, 5),
     r"padding_mode='reflect'"),
    (nn.Sequential(nn.AvgPool2d(2, padding=1)), (1, 4, 4), r"count_include_pad=False"),
    (nn.Sequential(nn.MaxPool1d(2, padding=1)), (1, 4), r"module 0 \(MaxPool1d\).*neither"),
    (nn.Sequential(nn.MaxPool2d(2, dilation=2)), (1, 6, 6), r"dilation"),
    (nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten()), (1, 4, 4), r"output_size=1"),
    (nn.Sequential(nn.AdaptiveAvgPool2d(1)), (1, 4, 4), r"follow it with nn.Flatten"),
    (nn.Sequential(nn.BatchNorm1d(3, track_running_stats=False)), (3,),
     r"track_running_stats=True"),
    (nn.Sequential(nn.BatchNorm1d(3, momentum=None)), (3,), r"momentum=None"),
    (nn.Sequential(nn.Softmax(dim=0)), (3,), r"module 0 \(Softmax\).*dim=0"),
    (nn.Sequential(nn.Conv1d(1, 2, 2), nn.Softmax(dim=2)), (1, 4), r"module 1.*dim=2"),
    (nn.Sequential(nn.Flatten(start_dim=2)), (2, 3, 3), r"start_dim=2"),
    (nn.Sequential(nn.Conv1d(1, 2, 2), nn.Linear(3, 2)), (1, 4),
     r"module 1 \(Linear\).*put nn.Flatten\(\) before it"),
    (nn.Sequential(nn.Linear(4, 2)), (3,), r"in_features=4, but it receives 3"),
    (nn.Sequential(nn.Conv2d(3, 2, 2)), (1, 4, 4), r"in_channels=3"),
    (nn.Sequential(nn.ConstantPad1d(1, 0.0), nn.ReLU()), (1, 4), r"right before a Conv1d"),
    (nn.Sequential(nn.ConstantPad1d((2, 0), 0.0), nn.Conv1d(1, 1, 2)), (1, 4),
     r"equally on both sides or as 'same'"),
    (nn.Sequential(nn.Sequential(nn.Linear(2, 2))), (2,), r"module 0 \(Sequential\)"),
    (nn.Linear(2, 3), (2,), r"converts a torch.nn.Sequential, got Linear"),
    (nn.Sequential(nn.Linear(2, 3)).half(), (2,), r"float32 or float64"),
    (nn.Sequential(nn.Linear(2, 3)), (1, 2, 3, 4), r"input_shape must be PyTorch's"),
    (nn.Sequential(nn.Linear(2, 3)), 2, r"input_shape must be PyTorch's"),
])
def test_unsupported_modules_are_refused_in_one_line(module, shape, match):
    with pytest.raises(ValueError, match=match) as info:
        gn.from_torch(module, shape)
    assert "\n" not in str(info.value)


def test_to_torch_refusals_name_the_layer():
    net = gn.Sequential([gn.Dense(2), gn.Activation("exp")], loss="mse").build(3)
    with pytest.raises(ValueError, match=r"layer 2 \(activation, Activation\).*'exp'"):
        net.to_torch()
    with pytest.raises(ValueError, match="not built"):
        gn.Sequential([gn.Dense(2)]).to_torch()


def test_importing_glassnet_loads_no_torch():
    import subprocess
    import sys

    # gn.from_torch itself loads no scikit-learn either (the ONNX export does, for the
    # estimators): a PyTorch user's import stays light
    code = ("import sys, glassnet as gn; gn.from_torch; gn.save_weights; "
            "print(sorted(m for m in ('torch', 'safetensors', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_batch_norm_momentum_maps_both_ways():
    # One training pass moves the running mean by the momentum: torch's m is glassnet's 1 - m.
    module = randomize_statistics(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=0.3))
                                  .double())
    net = gn.from_torch(module, (3,))
    back = net.to_torch().train()
    x = samples((3,), n=8)
    net.forward(x, training=True)
    for m in (module.train(), back):
        m(torch.from_numpy(x))
        np.testing.assert_allclose(net.layers[1].state[0], m[1].running_mean.numpy(),
                                   rtol=1e-12, atol=1e-14)


def test_softmax_on_a_map_is_over_the_channels_both_ways():
    """glassnet's softmax on a map normalizes each position's channels, PyTorch's dim=1."""
    net = gn.Sequential([gn.Conv2D(3, 2, activation="softmax"), gn.Conv2D(2, 2), gn.Softmax(),
                         gn.Flatten(), gn.Dense(2)], dtype="float64", random_state=0)
    net.build((5, 5, 2))
    x = np.random.default_rng(4).normal(size=(6, 5, 5, 2))
    module = net.to_torch()
    np.testing.assert_allclose(torch_predict(module, x), net.predict(x), atol=1e-12, rtol=0)
    back = gn.from_torch(module, (2, 5, 5))
    np.testing.assert_allclose(back.predict(x), net.predict(x), atol=1e-12, rtol=0)
