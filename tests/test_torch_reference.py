"""Losses, gradients and optimizer trajectories against PyTorch autograd (float64)."""

import numpy as np
import pytest

import glassnet as gn

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACT = {
    "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01), "identity": lambda z: z,
    "softmax": lambda z: torch.softmax(z, dim=1), "exp": torch.exp,
}


def torch_forward(net, X, params, dropped=None):
    """The glassnet network's forward pass, rebuilt with torch ops on torch tensors.

    With ``dropped`` a list, dropout is on: torch's own ``F.dropout`` draws its mask (from
    torch's generator) and each dropout's ``(input, output)`` is appended to ``dropped``;
    otherwise dropout is off, as in glassnet's prediction mode.
    """
    A, i = X, 0
    for layer in net.layers:
        if isinstance(layer, gn.Dense):
            A = A @ params[i] + params[i + 1]
            i += 2
            if layer.activation is not None:
                A = activation(layer.activation, A)
        elif isinstance(layer, gn.Activation):
            A = activation(layer.activation, A)
        elif isinstance(layer, gn.Flatten):
            A = A.reshape(len(A), -1)
        elif isinstance(layer, gn.Dropout) and dropped is not None:
            out = F.dropout(A, p=layer.rate, training=True)
            dropped.append((A.detach(), out.detach()))
            A = out
    return A


def activation(fn, Z):
    if fn.name == "leaky_relu":
        return F.leaky_relu(Z, fn.alpha)
    return TORCH_ACT[fn.name](Z)


def torch_loss(name, P, y, w):
    if name == "mse":
        per_sample = ((P - y) ** 2).mean(dim=1)
    elif name == "binary_cross_entropy":
        per_sample = F.binary_cross_entropy(P, y, reduction="none").mean(dim=1)
    elif name == "poisson":  # half deviance: p - y log p + y log y - y
        per_sample = (P - y * torch.log(P) + torch.xlogy(y, y) - y).mean(dim=1)
    else:
        per_sample = -torch.log(P)[torch.arange(len(y)), y]
    return (w * per_sample).sum() / w.sum()


def make_case(seed, loss):
    rng = np.random.default_rng(seed)
    hidden = rng.choice(["sigmoid", "tanh", "relu", "leaky_relu", "identity"], size=3)
    out = {"mse": rng.choice(["identity", "tanh", "sigmoid"]), "binary_cross_entropy": "sigmoid",
           "cross_entropy": "softmax", "poisson": "exp"}[loss]
    layers = [gn.Dense(int(rng.integers(3, 7)), activation=hidden[0]),
              gn.Dense(int(rng.integers(3, 7))), gn.LeakyReLU(0.2) if hidden[1] == "leaky_relu"
              else gn.Activation(hidden[1]),
              gn.Dense(int(rng.integers(3, 7)), activation=hidden[2])]
    # The output as a separate layer half the time, inside Dense the other half.
    if seed % 2:
        layers += [gn.Dense(3), gn.Activation(out)]
    else:
        layers += [gn.Dense(3, activation=out)]
    net = gn.Sequential(layers, loss=loss, random_state=seed, dtype="float64")
    n = 8
    X = rng.normal(size=(n, 4))
    if loss == "mse":
        y = rng.normal(size=(n, 3))
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, size=(n, 3)).astype(float)
    elif loss == "poisson":
        y = rng.poisson(1.0, size=(n, 3)).astype(float)
    else:
        y = rng.integers(0, 3, size=n)
    w = rng.uniform(0.2, 2.0, size=n)
    net.build(4)
    return net, X, y, w


def to_torch(net):
    return [torch.tensor(p.copy(), requires_grad=True) for p in net.parameters()]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("loss", ["mse", "binary_cross_entropy", "cross_entropy", "poisson"])
def test_loss_and_gradients_match_autograd(loss, seed):
    net, X, y, w = make_case(seed, loss)
    loss_value, grads = net.compute_gradients(X, y, sample_weight=w)
    params = to_torch(net)
    yt = torch.tensor(y) if loss == "cross_entropy" else torch.tensor(y, dtype=torch.float64)
    ref = torch_loss(loss, torch_forward(net, torch.tensor(X), params), yt, torch.tensor(w))
    ref.backward()
    assert loss_value == pytest.approx(ref.item(), rel=1e-6)
    for g, p in zip(grads, params):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-6, atol=1e-12)


def test_flatten_and_dropout_in_training_mode_match_autograd():
    # Torch draws and applies its own dropout; its mask (where the output is 0) is then
    # handed to glassnet, which must give the same output, loss and gradients with it.
    rng = np.random.default_rng(12)
    images = rng.normal(size=(6, 3, 2))
    y = rng.integers(0, 4, size=6)
    rate = 0.4
    net = gn.Sequential([gn.Flatten(), gn.Dense(7, activation="tanh"), gn.Dropout(rate),
                         gn.Dense(4, activation="softmax")], random_state=3, dtype="float64")
    net.build((3, 2))
    params = to_torch(net)
    torch.manual_seed(0)
    dropped = []
    P = torch_forward(net, torch.tensor(images), params, dropped)
    ref = torch_loss("cross_entropy", P, torch.tensor(y), torch.ones(6, dtype=torch.float64))
    ref.backward()
    (before, after), = dropped
    assert (before != 0).all()  # so a 0 after dropout is torch's mask, nothing else
    keep = (after != 0).numpy()
    assert 0 < keep.sum() < keep.size  # torch really dropped some units and kept some
    torch_scale = (after[after != 0] / before[after != 0]).numpy()
    np.testing.assert_allclose(torch_scale, 1 / (1 - rate), rtol=1e-14)

    net.layers[2].fix_mask(keep)
    out = net.forward(images, training=True)
    np.testing.assert_allclose(out, P.detach().numpy(), rtol=1e-12, atol=1e-15)
    loss_value, grads = net.compute_gradients(images, y, training=True)
    mask = net.layers[2]._mask
    np.testing.assert_array_equal(mask != 0, keep)
    assert mask[keep] == pytest.approx(torch_scale, rel=1e-14)  # the same inverted scale
    assert loss_value == pytest.approx(ref.item(), rel=1e-12)
    for g, p in zip(grads, params):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.7])
def test_dropout_drops_a_rate_fraction_with_torch_scale_and_nothing_in_prediction(rate):
    net = gn.Sequential([gn.Dense(400, activation="tanh"), gn.Dropout(rate), gn.Dense(2)],
                        loss="mse", random_state=5, dtype="float64")
    X = np.random.default_rng(5).normal(size=(250, 3))
    net.build(3)
    layer = net.layers[1]
    out = net.forward(X, training=True)
    first = layer._mask.copy()
    n = first.size  # 100 000 Bernoulli draws: the drop fraction is rate +- 5 sd
    assert abs((first == 0).mean() - rate) < 5 * np.sqrt(rate * (1 - rate) / n)
    # Torch's inverted-dropout scale for the same rate, read off its output on ones.
    ones = torch.ones(1000, dtype=torch.float64)
    torch.manual_seed(1)
    t = F.dropout(ones, p=rate, training=True)
    torch_scale = t[t != 0].unique()
    assert len(torch_scale) == 1 and torch_scale.item() == pytest.approx(1 / (1 - rate),
                                                                          rel=1e-15)
    assert np.unique(first[first != 0]) == pytest.approx([torch_scale.item()], rel=1e-15)
    hidden = np.tanh(X @ net.layers[0].W + net.layers[0].b)
    np.testing.assert_allclose(out, hidden * first @ net.layers[2].W + net.layers[2].b,
                               rtol=1e-12)
    net.forward(X, training=True)
    assert not np.array_equal(layer._mask, first)  # a fresh mask every training pass
    # Prediction: no mask at all, the output of the network without the Dropout layer.
    P = net.predict(X)
    assert layer._mask is None
    np.testing.assert_allclose(P, hidden @ net.layers[2].W + net.layers[2].b, rtol=1e-12)
    assert layer.forward(hidden) is hidden


OPTIMIZERS = {
    "sgd": (lambda: gn.SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "sgd_wd": (lambda: gn.SGD(0.1, weight_decay=0.05),
               lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.05)),
    "momentum": (lambda: gn.SGD(0.1, momentum=0.9, weight_decay=0.01),
                 lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)),
    "nesterov": (lambda: gn.SGD(0.1, momentum=0.8, nesterov=True),
                 lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.8, nesterov=True)),
    "adam": (lambda: gn.Adam(0.01, weight_decay=0.01),
             lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.01)),
    "adamw": (lambda: gn.AdamW(0.01, beta_1=0.8, beta_2=0.99, weight_decay=0.1),
              lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    "rmsprop": (lambda: gn.RMSprop(0.01, rho=0.9, epsilon=1e-7, weight_decay=0.01),
                lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7,
                                              weight_decay=0.01)),
    "rmsprop_momentum": (lambda: gn.RMSprop(0.01, momentum=0.5),
                         lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-7,
                                                       momentum=0.5)),
    "adam_clipnorm": (lambda: gn.Adam(0.01, weight_decay=0.01, clipnorm=1e-3),
                      lambda p: ClipThenStep(torch.optim.Adam(p, lr=0.01, weight_decay=0.01),
                                             p, 1e-3)),
    "momentum_clipnorm": (lambda: gn.SGD(0.1, momentum=0.9, clipnorm=1e-3),
                          lambda p: ClipThenStep(torch.optim.SGD(p, lr=0.1, momentum=0.9),
                                                 p, 1e-3)),
}


class ClipThenStep:
    """A torch optimizer whose step first rescales the gradients to a global norm of at most
    ``max_norm`` (exactly, where torch's clip_grad_norm_ adds 1e-6 to the norm)."""

    def __init__(self, opt, params, max_norm):
        self.opt, self.params, self.max_norm = opt, params, max_norm

    def zero_grad(self):
        self.opt.zero_grad()

    def step(self):
        norm = torch.sqrt(sum((p.grad**2).sum() for p in self.params))
        assert norm > self.max_norm  # the case under test: the gradient is clipped
        for p in self.params:
            p.grad *= self.max_norm / norm
        self.opt.step()


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_five_optimizer_steps_match_torch(name, loss):
    make_ours, make_theirs = OPTIMIZERS[name]
    net, X, y, w = make_case(7, loss)
    net.optimizer = make_ours()
    net.optimizer.build(net.params)
    params = to_torch(net)
    opt = make_theirs(params)
    yt = torch.tensor(y) if loss == "cross_entropy" else torch.tensor(y, dtype=torch.float64)
    for _ in range(5):
        net.fit(X, y, epochs=1, batch_size=None, verbose=0)
        opt.zero_grad()
        torch_loss(loss, torch_forward(net, torch.tensor(X), params), yt,
                   torch.ones(len(X), dtype=torch.float64)).backward()
        opt.step()
    assert net.optimizer.iterations == 5
    for ours, theirs in zip(net.parameters(), params):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", ["momentum", "adam", "adamw", "rmsprop_momentum"])
def test_five_float32_optimizer_steps_match_torch(name):
    # The float32 loops compute in float32: compare with torch in float32.
    make_ours, make_theirs = OPTIMIZERS[name]
    net, X, y, _ = make_case(3, "mse")
    net = net.copy(dtype="float32")
    net.optimizer = make_ours()
    params = [torch.tensor(p.copy(), requires_grad=True) for p in net.parameters()]
    opt = make_theirs(params)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    for _ in range(5):
        net.fit(X32, y32, epochs=1, batch_size=None, verbose=0)
        opt.zero_grad()
        torch_loss("mse", torch_forward(net, torch.tensor(X32), params), torch.tensor(y32),
                   torch.ones(len(X), dtype=torch.float32)).backward()
        opt.step()
    for ours, theirs in zip(net.parameters(), params):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-4, atol=1e-6)
