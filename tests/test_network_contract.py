"""Sequential's small contracts: the summary table, parameter counts, sample weights in a
training step, pickling. References: Keras's summary layout and hand counts; for weights,
the identity "a sample of weight 2 is that sample twice, weight 0 is no sample".
"""

import pickle

import numpy as np
import pytest
from conftest import summary_text

import glassnet as gn

X = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 2.0], [1.0, 1.0]])
Y = np.array([0.25, -0.5, 1.0, 0.75])


def make(**kwargs):
    layers = [gn.Dense(3, activation="tanh", **kwargs), gn.Dense(1)]
    return gn.Sequential(layers, loss="mse", optimizer=gn.SGD(0.1), random_state=0,
                         dtype="float64")


# Keras's layout: each column two spaces wider than its widest cell (trailing spaces
# stripped here).
SUMMARY_BUILT = """\
Model: "sequential"
========================================
Layer (type)     Output Shape  Param #
========================================
dense (Dense)    (None, 3)     9
dense_1 (Dense)  (None, 1)     4
========================================
Total params: 13
Loss: mse   Optimizer: SGD(learning_rate=0.1, weight_decay=0.0, clipnorm=None, momentum=0.0, nesterov=False)
dtype: float64"""


def test_summary_of_a_network_given_its_input_dim():
    # Dense(3) on 2 inputs: 2*3 + 3 = 9; Dense(1) on 3: 3*1 + 1 = 4; 13 in all.
    printed = []
    assert make(input_dim=2).summary(print_fn=printed.append) is None
    assert len(printed) == 1  # the table, in one call
    assert [line.rstrip() for line in printed[0].splitlines()] == SUMMARY_BUILT.splitlines()


def test_summary_of_an_unbuilt_network_shows_question_marks():
    text = summary_text(make())
    lines = text.splitlines()
    assert lines[4].split() == ["dense", "(Dense)", "(None,", "?)", "?"]
    assert lines[5].split() == ["dense", "(Dense)", "(None,", "?)", "?"]  # named when built
    assert "Total params: ?" in lines


def test_summary_prints_with_print_by_default(capsys):
    # Keras: summary() prints and returns None, so print(net.summary()) shows it once.
    net = make(input_dim=2)
    print(net.summary())
    assert capsys.readouterr().out == summary_text(net) + "\nNone\n"


def test_count_params():
    net = make()
    assert net.count_params() == 0
    net.build(2)
    assert net.count_params() == 13 == sum(w.size for w in net.get_weights())


def fit_once(X, Y, sample_weight=None):
    net = make()
    net.fit(X, Y, epochs=1, batch_size=None, shuffle=False, verbose=0,
            sample_weight=sample_weight)
    return net.get_weights()


def same(a, b):
    return all(np.allclose(x, y, rtol=1e-12, atol=1e-15) for x, y in zip(a, b, strict=True))


def test_a_weight_of_two_is_the_sample_twice_and_zero_is_no_sample():
    # One full-batch step from the same start: the weighted mean loss over (X, w) is the
    # plain mean over the batch with each sample repeated w times.
    weighted = fit_once(X, Y, sample_weight=np.array([2.0, 0.0, 1.0, 1.0]))
    repeated = fit_once(X[[0, 0, 2, 3]], Y[[0, 0, 2, 3]])
    assert same(weighted, repeated)
    assert not same(weighted, fit_once(X, Y))


def test_pickle_keeps_the_network_and_not_its_scratch_buffers():
    net = make()
    net.build(2)
    big = np.random.default_rng(0).normal(size=(5000, 2))
    before = net.predict(big)
    copy = pickle.loads(pickle.dumps(net))
    assert np.array_equal(copy.predict(big), before)
    # The 5000-row output buffer of the last predict is not in the pickle.
    fresh = make()
    fresh.build(2)
    assert len(pickle.dumps(net)) < len(pickle.dumps(fresh)) + 5000


@pytest.mark.parametrize("n", [1, 7])
def test_predict_after_unpickling_trains_on(n):
    net = make()
    net.build(2)
    copy = pickle.loads(pickle.dumps(net))
    net.fit(X, Y, epochs=n, batch_size=2, shuffle=False, verbose=0)
    copy.fit(X, Y, epochs=n, batch_size=2, shuffle=False, verbose=0)
    assert same(net.get_weights(), copy.get_weights())
