"""The articles' worked examples, one training step each, every number by hand.

The arithmetic is written out in the comments; the asserted values come from
those formulas evaluated with Python's math module, not from glassnet.
"""

from math import exp, log

import numpy as np
import pytest

import glassnet as gn


def sigmoid(z):
    return 1.0 / (1.0 + exp(-z))


def approx(value):
    return pytest.approx(value, rel=1e-9, abs=1e-12)


def test_3_2_2_network_sigmoid_hidden_linear_output_mse():
    # Inputs, weights (W is (n_in, n_out): column j feeds unit j), target, lr = 0.02.
    x = np.array([[1.0, 4.0, 5.0]])
    W1 = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    b1 = np.array([0.5, 0.5])
    W2 = np.array([[0.7, 0.8], [0.9, 0.1]])
    b2 = np.array([0.5, 0.5])
    T = np.array([[0.1, 0.05]])
    hidden = gn.Dense(2, activation="sigmoid", kernel_initializer=W1, bias_initializer=b1)
    output = gn.Dense(2, kernel_initializer=W2, bias_initializer=b2)  # purelin
    net = gn.Sequential([hidden, output], loss="mse", optimizer=gn.SGD(0.02), dtype="float64")
    net.build(3)

    # Forward.  z¹ = W¹ᵀx + b¹:
    #   z¹₁ = 1·0.1 + 4·0.3 + 5·0.5 + 0.5 = 4.3
    #   z¹₂ = 1·0.2 + 4·0.4 + 5·0.6 + 0.5 = 5.3
    z1 = [4.3, 5.3]
    # a¹ = σ(z¹) = [0.98661308, 0.99503320]
    a1 = [sigmoid(z) for z in z1]
    net.forward(x)
    assert net.layers[0]._Z[0].tolist() == [approx(z1[0]), approx(z1[1])]
    assert net.layers[0]._out[0].tolist() == [approx(a1[0]), approx(a1[1])]
    # ŷ = z² = W²ᵀa¹ + b²:
    #   ŷ₁ = 0.7·0.98661308 + 0.9·0.99503320 + 0.5 = 2.08615904
    #   ŷ₂ = 0.8·0.98661308 + 0.1·0.99503320 + 0.5 = 1.38879379
    y1 = 0.7 * a1[0] + 0.9 * a1[1] + 0.5
    y2 = 0.8 * a1[0] + 0.1 * a1[1] + 0.5
    assert net.predict(x)[0].tolist() == [approx(y1), approx(y2)]

    # Error E = ½[(ŷ₁ - T₁)² + (ŷ₂ - T₂)²] (the mean over the 2 outputs) = 2.86859826
    E = ((y1 - 0.1) ** 2 + (y2 - 0.05) ** 2) / 2
    loss, (gW1, gb1, gW2, gb2) = net.compute_gradients(x, T)
    assert loss == approx(E)

    # Backward.  dE/dŷⱼ = (ŷⱼ - Tⱼ) (the 2 of the square cancels the ½):
    #   = [1.98615904, 1.33879379]; the output is linear, so δ² = dE/dz² = dE/dŷ.
    d2 = [y1 - 0.1, y2 - 0.05]
    # dE/dW²ᵢⱼ = a¹ᵢ · δ²ⱼ, dE/db² = δ²:
    assert gW2.tolist() == [[approx(a1[0] * d2[0]), approx(a1[0] * d2[1])],
                            [approx(a1[1] * d2[0]), approx(a1[1] * d2[1])]]
    assert gb2.tolist() == [approx(d2[0]), approx(d2[1])]
    # dE/da¹ᵢ = Σⱼ W²ᵢⱼ δ²ⱼ (both paths to the outputs are added):
    #   dE/da¹₁ = 0.7·1.98615904 + 0.8·1.33879379 = 2.46134635
    #   dE/da¹₂ = 0.9·1.98615904 + 0.1·1.33879379 = 1.92142251
    da1 = [0.7 * d2[0] + 0.8 * d2[1], 0.9 * d2[0] + 0.1 * d2[1]]
    # δ¹ = dE/da¹ · σ'(z¹) with σ'(z) = a(1 - a):  [0.03250874, 0.00949592]
    d1 = [da1[i] * a1[i] * (1 - a1[i]) for i in range(2)]
    # dE/dW¹ᵢⱼ = xᵢ · δ¹ⱼ, dE/db¹ = δ¹:
    assert gW1.tolist() == [[approx(xi * d1[0]), approx(xi * d1[1])] for xi in (1.0, 4.0, 5.0)]
    assert gb1.tolist() == [approx(d1[0]), approx(d1[1])]

    # Gradient descent: W' = W - 0.02 · gradient, e.g. W²₁₁' = 0.7 - 0.02·1.95957049 = 0.66080859
    history = net.fit(x, T, epochs=1, batch_size=None, verbose=0)
    assert history.history["loss"] == [approx(E)]
    new_W2 = [[0.7 - 0.02 * a1[0] * d2[0], 0.8 - 0.02 * a1[0] * d2[1]],
              [0.9 - 0.02 * a1[1] * d2[0], 0.1 - 0.02 * a1[1] * d2[1]]]
    assert net.layers[1].W.tolist() == [[approx(v) for v in row] for row in new_W2]
    assert net.layers[1].b.tolist() == [approx(0.5 - 0.02 * d2[0]), approx(0.5 - 0.02 * d2[1])]
    new_W1 = [[w - 0.02 * xi * d1[j] for j, w in enumerate(row)]
              for xi, row in zip((1.0, 4.0, 5.0), W1.tolist())]
    assert net.layers[0].W.tolist() == [[approx(v) for v in row] for row in new_W1]
    assert net.layers[0].b.tolist() == [approx(0.5 - 0.02 * d1[0]), approx(0.5 - 0.02 * d1[1])]
    # and the error falls after the step
    assert net.evaluate(x, T)["loss"] < E


def test_2_3_1_sigmoid_network_binary_cross_entropy():
    x = np.array([[1.0, 2.0]])
    W1 = np.array([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]])
    b1 = np.array([0.1, 0.1, 0.1])
    W2 = np.array([[0.7], [-0.8], [0.9]])
    b2 = np.array([0.2])
    net = gn.Sequential(
        [gn.Dense(3, kernel_initializer=W1, bias_initializer=b1), gn.Sigmoid(),
         gn.Dense(1, kernel_initializer=W2, bias_initializer=b2), gn.Sigmoid()],
        loss="binary_cross_entropy", optimizer=gn.SGD(0.1), dtype="float64")
    # z¹ = W¹ᵀx + b¹ = [1·0.1 + 2·0.4 + 0.1, 1·(-0.2) + 2·0.5 + 0.1, 1·0.3 + 2·(-0.6) + 0.1]
    #    = [1.0, 0.9, -0.8];  a¹ = σ(z¹) = [0.73105858, 0.71094950, 0.31002552]
    a1 = [sigmoid(1.0), sigmoid(0.9), sigmoid(-0.8)]
    # z² = 0.7·0.73105858 - 0.8·0.71094950 + 0.9·0.31002552 + 0.2 = 0.42200437
    z2 = 0.7 * a1[0] - 0.8 * a1[1] + 0.9 * a1[2] + 0.2
    # ŷ = σ(z²) = 0.60396278;  J = -[y log ŷ + (1 - y) log(1 - ŷ)] = -log 0.60396278 = 0.50424271
    p = sigmoid(z2)
    assert net.fit(x, [1], epochs=1, batch_size=None, verbose=0).history["loss"] == [
        approx(-log(p))]
    # (fit took one step; the gradients below are those of the starting weights)
    net2 = gn.Sequential(
        [gn.Dense(3, kernel_initializer=W1, bias_initializer=b1), gn.Sigmoid(),
         gn.Dense(1, kernel_initializer=W2, bias_initializer=b2), gn.Sigmoid()],
        loss="binary_cross_entropy", optimizer=gn.SGD(0.1), dtype="float64")
    loss, (gW1, gb1, gW2, gb2) = net2.compute_gradients(x, [1])
    assert loss == approx(-log(p))
    # dJ/dŷ = -1/ŷ and dŷ/dz² = ŷ(1 - ŷ), so δ² = dJ/dz² = ŷ - y = -0.39603722
    d2 = p - 1.0
    # dJ/dW² = a¹ · δ², dJ/db² = δ²
    assert gW2[:, 0].tolist() == [approx(a * d2) for a in a1]
    assert gb2.tolist() == [approx(d2)]
    # δ¹ᵢ = W²ᵢ · δ² · a¹ᵢ(1 - a¹ᵢ);  dJ/dW¹ᵢⱼ = xᵢ δ¹ⱼ
    d1 = [w * d2 * a * (1 - a) for w, a in zip((0.7, -0.8, 0.9), a1)]
    assert gb1.tolist() == [approx(v) for v in d1]
    assert gW1.tolist() == [[approx(xi * v) for v in d1] for xi in (1.0, 2.0)]
    # One step of gradient descent with lr 0.1 moved every weight by -0.1 · gradient
    assert net.layers[2].W[:, 0].tolist() == [approx(w - 0.1 * a * d2)
                                              for w, a in zip((0.7, -0.8, 0.9), a1)]
    assert net.layers[0].W.tolist() == [[approx(W1[i, j] - 0.1 * xi * d1[j]) for j in range(3)]
                                        for i, xi in enumerate((1.0, 2.0))]
    # and ŷ moved toward the target 1
    assert net.predict(x)[0, 0] > p


def test_errors_fall_over_steps_until_the_target_error():
    # The articles' stopping rule: an iteration budget or a target error, whichever first.
    x = np.array([[1.0, 4.0, 5.0]])
    T = np.array([[0.1, 0.05]])
    net = gn.Sequential(
        [gn.Dense(2, activation="sigmoid", kernel_initializer=[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]],
                  bias_initializer=[0.5, 0.5]),
         gn.Dense(2, kernel_initializer=[[0.7, 0.8], [0.9, 0.1]], bias_initializer=[0.5, 0.5])],
        loss="mse", optimizer=gn.SGD(0.02), dtype="float64")
    history = net.fit(x, T, epochs=10_000, batch_size=None, verbose=0, target_loss=1e-4)
    losses = history.history["loss"]
    assert all(b < a for a, b in zip(losses, losses[1:]))  # full-batch GD: monotone here
    assert losses[-1] <= 1e-4 < losses[-2]
    assert len(losses) < 10_000
    assert "target loss reached" in history.stop_reason
