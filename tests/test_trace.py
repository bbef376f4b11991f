"""trace_step: its numbers are fit's numbers, checked against independent references."""

import copy
from math import exp, log

import numpy as np
import pytest

import glassnet as gn
from glassnet.glass.gradcheck import numerical_gradient, relative_error


def small_net(optimizer, out="softmax"):
    return gn.Sequential([gn.Dense(4, activation="tanh"), gn.Dense(3), gn.ReLU(),
                          gn.Dense(3, activation=out)],
                         optimizer=optimizer, random_state=0, dtype="float64")


RNG = np.random.default_rng(0)
X = RNG.normal(size=(5, 3))
Y = np.array([0, 2, 1, 1, 0])


def test_trace_gradients_equal_compute_gradients_and_finite_differences():
    net = small_net("sgd").build(3)
    trace = gn.trace_step(net, X, Y)
    loss, grads = net.compute_gradients(X, Y)
    assert trace.loss == pytest.approx(loss, rel=1e-12)
    traced = [g for layer in trace.dense_layers for g in (layer.dW, layer.db)]
    for ours, ref in zip(traced, grads):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    # finite differences of the loss in each weight
    T = net.loss.prepare_targets(Y, 3, np.float64)
    numeric = numerical_gradient(lambda: net.loss.value(net.forward(X), T), net.params)
    assert relative_error(np.concatenate([g.ravel() for g in traced]), numeric) < 1e-8
    # and each dL/dA_prev the trace shows is delta·Wᵀ of the layer above
    for layer in trace.dense_layers:
        np.testing.assert_allclose(layer.dA, layer.delta @ layer.W.T)
        np.testing.assert_allclose(layer.dW, layer.A.T @ layer.delta)


OPTIMIZERS = {
    "sgd": lambda: gn.SGD(0.1),
    "momentum": lambda: gn.SGD(0.1, momentum=0.9, weight_decay=0.01),
    "nesterov": lambda: gn.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": lambda: gn.Adam(0.01, weight_decay=0.01),
    "adamw": lambda: gn.AdamW(0.01),
    "rmsprop": lambda: gn.RMSprop(0.01, momentum=0.5),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_trace_updates_equal_one_fit_step(name):
    net = small_net(OPTIMIZERS[name]())
    net.fit(X, Y, epochs=2, batch_size=None, verbose=0)  # optimizer state is not fresh
    before = copy.deepcopy(net)
    trace = gn.trace_step(net, X, Y)
    np.testing.assert_array_equal(net.params, before.params)  # untouched
    assert net.optimizer.iterations == before.optimizer.iterations
    before.fit(X, Y, epochs=1, batch_size=None, shuffle=False, verbose=0)
    new = [p for layer in trace.dense_layers for p in (layer.W_new, layer.b_new)]
    for ours, ref in zip(new, before.parameters()):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    applied = gn.trace_step(net, X, Y, apply=True)
    assert applied.applied
    np.testing.assert_allclose(net.params, before.params, rtol=1e-12, atol=1e-15)


def test_learning_rate_override_and_float32_networks():
    net = gn.Sequential([gn.Dense(2, activation="sigmoid"), gn.Dense(1)], optimizer=gn.SGD(1.0),
                        random_state=0)
    trace = gn.trace_step(net, X, X[:, 0], learning_rate=0.5)
    layer = trace.dense_layers[1]
    np.testing.assert_allclose(layer.W_new, layer.W - 0.5 * layer.dW, rtol=1e-12)
    assert trace.learning_rate == 0.5 and net.optimizer.learning_rate == 1.0
    np.testing.assert_allclose(layer.W, net.layers[1].W, rtol=1e-7)  # float32 net, float64 trace


def sigmoid(z):
    return 1 / (1 + exp(-z))


def test_the_3_2_2_example_prints_the_hand_computed_numbers():
    trace = gn.trace_step(gn.examples.network_3_2_2(), *gn.examples.data_3_2_2())
    text = trace.to_text(digits=4)
    a1 = [sigmoid(4.3), sigmoid(5.3)]  # z¹ = [1·0.1+4·0.3+5·0.5+0.5, 1·0.2+4·0.4+5·0.6+0.5]
    y1, y2 = 0.7 * a1[0] + 0.9 * a1[1] + 0.5, 0.8 * a1[0] + 0.1 * a1[1] + 0.5
    J = ((y1 - 0.1) ** 2 + (y2 - 0.05) ** 2) / 2
    d1 = (0.7 * (y1 - 0.1) + 0.8 * (y2 - 0.05)) * a1[0] * (1 - a1[0])  # δ¹₁
    assert "z¹ = [[4.3000 5.3000]]" in text
    assert f"a¹ = σ(z¹) = [[{a1[0]:.4f} {a1[1]:.4f}]]" in text
    assert f"ŷ = [[{y1:.4f} {y2:.4f}]]" in text
    assert f"J = mse(ŷ, y) = {J:.10g}" in text
    assert f"dJ/dŷ = [[{y1 - 0.1:.4f} {y2 - 0.05:.4f}]]" in text
    assert f"= {d1:.6g}" in text  # the chain-rule product for W¹₁₁ (x₁ = 1)
    assert f"W²' = W² − 0.02·dJ/dW² = [[{0.7 - 0.02 * a1[0] * (y1 - 0.1):.4f}" in text


def test_the_2_3_1_example_and_its_chain_rule_factors():
    trace = gn.trace_step(gn.examples.network_2_3_1(), *gn.examples.data_2_3_1())
    a1 = [sigmoid(1.0), sigmoid(0.9), sigmoid(-0.8)]
    p = sigmoid(0.7 * a1[0] - 0.8 * a1[1] + 0.9 * a1[2] + 0.2)
    assert f"J = binary_cross_entropy(ŷ, y) = {-log(p):.10g}" in str(trace)
    # dJ/dW²₂₁ = dJ/da²₁ · da²₁/dz²₁ · dz²₁/dW²₂₁ = (-1/p) · p(1-p) · a¹₂
    names, values = zip(*trace.chain_rule(2, 1, 0))
    assert names == ("dJ/da²₁", "da²₁/dz²₁", "dz²₁/dW²₂₁", "dJ/dW²₂₁")
    # One sample: each factor holds one value, and their product is the gradient.
    assert [v.shape for v in values[:3]] == [(1,)] * 3
    assert [v[0] for v in values[:3]] == pytest.approx([-1 / p, p * (1 - p), a1[1]])
    assert values[3] == pytest.approx((p - 1) * a1[1])


def test_markdown_and_html_renderings():
    trace = gn.trace_step(gn.examples.network_3_2_2(), *gn.examples.data_3_2_2())
    md = trace.to_markdown()
    assert "$$ z^{[1]} = W^{[1]T} a^{[0]} + b^{[1]} = \\begin{bmatrix}4.3000 & 5.3000" in md
    page = trace.to_html(digits=3)
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    assert "<td>4.300</td><td>5.300</td>" in page


def test_a_float32_network_with_momentum_is_traced_with_its_state():
    net = gn.Sequential([gn.Dense(3, activation="tanh"), gn.Dense(1)],
                        optimizer=gn.SGD(0.1, momentum=0.9), random_state=0)
    net.fit(X, X[:, 0], epochs=3, batch_size=None, verbose=0)
    trace = gn.trace_step(net, X, X[:, 0])
    net.fit(X, X[:, 0], epochs=1, batch_size=None, verbose=0)
    new = np.concatenate([np.r_[l.W_new.ravel(), l.b_new] for l in trace.dense_layers])
    np.testing.assert_allclose(new, net.params, rtol=1e-5, atol=1e-6)
