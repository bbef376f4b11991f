"""The articles' worked examples, built in (the weights are ours: the articles' tables
did not survive as text).

(a) ``network_3_2_2``: 3 inputs, 2 sigmoid hidden units, 2 linear outputs, mean squared
    error, plain gradient descent with learning rate 0.02; one input ``x = [1, 4, 5]``
    with target ``[0.1, 0.05]``.
(b) ``network_2_3_1``: 2 inputs, 3 sigmoid hidden units, 1 sigmoid output, binary
    cross-entropy, gradient descent with learning rate 0.1; ``x = [1, 2]``, ``y = 1``.

The engine's tests (``tests/test_worked_examples.py``) check every number of one step of
each against arithmetic done by hand.
"""

from __future__ import annotations

import numpy as np

from .layers import Dense, Sigmoid
from .models import Sequential
from .optimizers import SGD


def network_3_2_2(dtype="float64") -> Sequential:
    """The 3-2-2 network: sigmoid hidden layer, linear ("purelin") output, MSE, lr 0.02."""
    return Sequential(
        [Dense(2, activation="sigmoid", input_dim=3,
               kernel_initializer=[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]],
               bias_initializer=[0.5, 0.5]),
         Dense(2, kernel_initializer=[[0.7, 0.8], [0.9, 0.1]], bias_initializer=[0.5, 0.5])],
        loss="mse", optimizer=SGD(0.02), dtype=dtype,
    ).build(3)


def data_3_2_2():
    """``(X, y)`` of the 3-2-2 example: one sample."""
    return np.array([[1.0, 4.0, 5.0]]), np.array([[0.1, 0.05]])


def network_2_3_1(dtype="float64") -> Sequential:
    """The 2-3-1 sigmoid network with binary cross-entropy, lr 0.1."""
    return Sequential(
        [Dense(3, input_dim=2, kernel_initializer=[[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]],
               bias_initializer=[0.1, 0.1, 0.1]), Sigmoid(),
         Dense(1, kernel_initializer=[[0.7], [-0.8], [0.9]], bias_initializer=[0.2]),
         Sigmoid()],
        loss="binary_cross_entropy", optimizer=SGD(0.1), dtype=dtype,
    ).build(2)


def data_2_3_1():
    """``(X, y)`` of the 2-3-1 example: one sample of class 1."""
    return np.array([[1.0, 2.0]]), np.array([1])


EXAMPLES = {"3-2-2": (network_3_2_2, data_3_2_2), "2-3-1": (network_2_3_1, data_2_3_1)}
