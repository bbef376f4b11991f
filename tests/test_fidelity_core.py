"""What the core says is what happened: runaway training is reported and leaves weights that
predict, the logged losses are one quantity, a traced chain rule's arithmetic holds, and the
summary, the errors and the dependencies say what they mean."""

import pickle
import re
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.backend.checks import check_features


def regression(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    return X, X @ rng.normal(size=5) + 0.1 * rng.normal(size=n)


def classification(n=200, seed=0):
    X, _ = regression(n, seed)
    return X, (X[:, 0] > 0).astype(int)


class Recorder(gn.Callback):
    def __init__(self):
        super().__init__()
        self.at_epoch_begin = []

    def on_epoch_begin(self, epoch, logs=None):
        self.at_epoch_begin.append(self.model.params.copy())


class BlowUpAfter(gn.Callback):
    """At the end of epoch ``epoch`` (0-based), scale every weight to ``size`` (finite)."""

    def __init__(self, epoch, size):
        super().__init__()
        self.epoch, self.size = epoch, size

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.params[...] = self.size


class InfAfterBatch(gn.Callback):
    """After batch ``batch`` (0-based) of the first epoch, every weight becomes inf."""

    def __init__(self, batch):
        super().__init__()
        self.batch = batch

    def on_batch_end(self, batch, logs=None):
        if batch == self.batch and not self.model.epochs_done:
            self.model.params[...] = np.inf


# -- 1. runaway growth ----------------------------------------------------------------------


def test_a_huge_adam_step_is_runaway_growth_and_the_kept_weights_predict():
    # Before: Adam(1e6) ran all epochs at losses of 1e12 with no signal.
    X, y = classification()
    net = gn.Sequential([gn.Dense(16, activation="relu"), gn.Dense(2, activation="softmax")],
                        optimizer=gn.Adam(learning_rate=1e6), random_state=0)
    with pytest.raises(gn.DivergenceError, match=r"^Training diverged: the loss grew to "
                                                 r"\S+ \(over 1,000,000 times the first batch's "):
        net.fit(X, y, epochs=30, verbose=0)
    assert "diverged" in net.stop_reason and net.stop_training
    P = net.predict(X)
    assert np.isfinite(P).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)


def test_sgd_on_regression_warns_and_keeps_weights_that_predict_finite_numbers():
    # Before: the loss curve reached 1e96 and the predictions -1e50.
    X, y = regression()
    net = gn.Sequential([gn.Dense(16, activation="relu"), gn.Dense(1)],
                        optimizer=gn.SGD(learning_rate=10), random_state=0, dtype="float64")
    with pytest.warns(RuntimeWarning, match="Training diverged: the loss (grew|became)"):
        history = net.fit(X, y, epochs=50, verbose=0, on_divergence="warn")
    assert "diverged" in history.stop_reason
    P = net.predict(X)
    assert np.isfinite(P).all() and np.abs(P).max() < 1e3 * np.abs(y).max()


@pytest.mark.parametrize("size", [3e27, 1e15])  # 3e27: the loss overflows; 1e15: it is huge
def test_huge_weights_after_an_epoch_are_not_kept(size):
    # Weights blown up at the end of epoch 2 are finite, so the old "last finite weights"
    # kept them and predict gave inf. Epoch 3's first batch diverges on them; the network
    # keeps the start of epoch 1 or 2, whichever had the lower first-batch loss.
    X, y = regression(60)
    rec = Recorder()
    net = gn.Sequential([gn.Dense(1)], loss="mse", optimizer=gn.SGD(0.01), random_state=0)
    with pytest.raises(gn.DivergenceError) as info:
        net.fit(X, y, epochs=5, batch_size=20, verbose=0,
                callbacks=[rec, BlowUpAfter(1, size)])
    error = info.value
    assert (error.epoch, error.batch) == (3, 1)
    kept = re.search(r"start of epoch (\d)", error.kept)
    assert kept, error.kept
    np.testing.assert_array_equal(net.params, rec.at_epoch_begin[int(kept.group(1)) - 1])
    assert np.isfinite(net.predict(X)).all()


def test_a_network_that_cannot_start_keeps_the_weights_it_started_with():
    X, y = regression(20)
    net = gn.Sequential([gn.Dense(1, kernel_initializer=1e30)], loss="mse", random_state=0)
    with pytest.warns(RuntimeWarning, match="at epoch 1, batch 1 .*keeps the weights it "
                                            "started with"):
        net.fit(X, y, epochs=2, verbose=0, on_divergence="warn")
    np.testing.assert_array_equal(net.layers[0].W, np.float32(1e30))


def test_the_divergence_error_carries_its_parts_for_other_advice():
    X, y = regression(40)
    net = gn.Sequential([gn.Dense(1)], loss="mse", optimizer=gn.SGD(0.01), random_state=0)
    with pytest.raises(gn.DivergenceError) as info:
        net.fit(X, y, epochs=4, batch_size=10, verbose=0, callbacks=[InfAfterBatch(3)])
    error = info.value
    assert error.what == "the weights became non-finite" and error.learning_rate == 0.01
    assert (error.epoch, error.batch) == (1, 4)  # 1-based, as the message says
    assert error.kept == "the weights from the start of that epoch"
    assert error.summary == ("Training diverged: the weights became non-finite at epoch 1, "
                             "batch 4 (learning_rate=0.01); the network keeps the weights "
                             "from the start of that epoch.")
    assert "clipnorm=" in error.advice and "on_divergence='warn'" in error.advice
    assert str(error) == f"{error.summary} {error.advice}"
    assert net.stop_reason == error.summary  # why training ended, without fit's advice
    # An estimator phrases its own: the summary with other advice.
    mine = gn.DivergenceError(error.what, error.epoch, error.batch, error.learning_rate,
                              error.kept, advice="Lower learning_rate_init.")
    assert str(mine) == f"{error.summary} Lower learning_rate_init."
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.epoch == 1


def test_ordinary_training_with_a_bumpy_loss_is_not_runaway():
    # A high learning rate makes a batch's loss jump to 36 times the first one before it
    # settles: training goes on to its end.
    X, y = regression(100)
    net = gn.Sequential([gn.Dense(8, activation="tanh"), gn.Dense(1)], loss="mse",
                        optimizer=gn.SGD(0.3), random_state=0)
    history = net.fit(X, y * 10, epochs=30, batch_size=10, verbose=0)
    assert history.stop_reason == "completed 30 epochs"


# -- 5. loss and val_loss: one quantity -----------------------------------------------------


def frozen(net):
    """A learning rate so small that no weight moves: every batch sees the same network."""
    net.optimizer = gn.SGD(1e-30)
    return net


@pytest.mark.parametrize("case", ["mse", "cross_entropy", "binary_cross_entropy"])
def test_a_fixed_networks_loss_and_val_loss_on_the_same_data_agree(case):
    X, y = regression(64)
    out = {"mse": gn.Dense(2), "cross_entropy": gn.Dense(3, activation="softmax"),
           "binary_cross_entropy": gn.Dense(1, activation="sigmoid")}[case]
    Y = {"mse": np.c_[y, -y], "cross_entropy": np.arange(64) % 3,
         "binary_cross_entropy": (y > 0).astype(int)}[case]
    net = frozen(gn.Sequential([gn.Dense(4, activation="tanh"), out], random_state=0,
                               dtype="float64"))
    history = net.fit(X, Y, epochs=2, batch_size=16, shuffle=False, validation_data=(X, Y),
                      verbose=0)
    np.testing.assert_allclose(history.history["loss"], history.history["val_loss"],
                               rtol=1e-9)


class HalvedLoss(gn.Sequential):
    """A network that reports half its loss (as scikit-learn's squared error), declared in
    both places: the training loss and ``reported_loss``."""

    def loss_and_gradients(self, X, T, sample_weight=None, training=True):
        loss = super().loss_and_gradients(X, T, sample_weight, training)
        self.grads *= 0.5
        return 0.5 * loss

    def reported_loss(self, P, T, sample_weight=None):
        return 0.5 * super().reported_loss(P, T, sample_weight)


def test_a_network_that_scales_its_loss_logs_val_loss_on_the_same_scale():
    X, y = regression(64)
    net = frozen(HalvedLoss([gn.Dense(1)], loss="mse", random_state=0, dtype="float64"))
    history = net.fit(X, y, epochs=2, batch_size=None, validation_data=(X, y), verbose=0)
    np.testing.assert_allclose(history.history["loss"], history.history["val_loss"],
                               rtol=1e-9)
    mse = np.mean((net.predict(X)[:, 0] - y) ** 2)
    assert net.evaluate(X, y)["loss"] == pytest.approx(0.5 * mse, rel=1e-9)


def test_a_regressors_logged_loss_and_val_loss_are_on_one_scale():
    # The progress bar of a regressor showed val_loss on twice the scale of loss.
    X, y = regression(600)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = gn.MLPRegressor(hidden_layer_sizes=(8,), alpha=0.0, learning_rate_init=1e-12, max_iter=2,
                              early_stopping=True, random_state=0).fit(X, y)
    logs = reg.history_.history
    ratio = np.array(logs["val_loss"]) / np.array(logs["loss"])
    assert np.all((0.6 < ratio) & (ratio < 1.6)), ratio


# -- 7. the traced chain rule: its printed arithmetic holds -----------------------------------


def chain_line(text, start):
    return next(line.strip() for line in text.splitlines() if start in line)


def check_sum(expression, total):
    """``expression`` is ``a × b × c + d × e × f + ... [+ r (the other k ...)]``."""
    terms = [re.sub(r"\s*\(the other \d+ \w+\)$", "", term) for term in expression.split(" + ")]
    products = [np.prod([float(f) for f in term.split(" × ")]) for term in terms]
    scale = sum(abs(p) for p in products) + abs(total)
    assert abs(sum(products) - total) <= 2e-5 * scale, (expression, total)
    return products


@pytest.mark.parametrize("n", [1, 4, 9])
def test_the_chain_rule_line_adds_up_for_a_batch(n):
    X, y = regression(n, seed=3)
    net = gn.Sequential([gn.Dense(3, activation="sigmoid"), gn.Dense(1)], loss="mse",
                        random_state=0)
    step = gn.trace_step(net, X, y)
    line = chain_line(str(step), "Chain rule for one weight")
    *_, expression, total = line.split(" = ")
    check_sum(expression, float(total))
    assert float(total) == pytest.approx(step.dense_layers[0].dW[0, 0], rel=1e-5)
    if n > 1:
        assert f"Σₙ dJ/da¹₁ · da¹₁/dz¹₁ · dz¹₁/dW¹₁₁ over the {n} samples" in line


def test_a_softmax_chain_rule_uses_the_whole_jacobian():
    # dJ/dz for softmax + cross-entropy is (P - Y) / n, computed here with numpy; the
    # Jacobian's diagonal alone would give P(1 - P) dJ/dP, which is not it.
    X, y = regression(5, seed=1)
    labels = np.array([0, 2, 1, 1, 0])
    net = gn.Sequential([gn.Dense(3, activation="softmax")], random_state=0, dtype="float64")
    step = gn.trace_step(net, X, labels)
    P = net.predict(X)
    expected = (P - np.eye(3)[labels]) / len(X)
    (_, dJ_dz), (_, a), (name, total) = step.chain_rule(1, 0, 1)
    np.testing.assert_allclose(dJ_dz, expected[:, 1], rtol=1e-12)
    np.testing.assert_allclose(a, X[:, 0])
    assert name == "dJ/dW¹₁₂" and total == pytest.approx(X[:, 0] @ expected[:, 1], rel=1e-12)
    text = str(step)
    *_, expression, total = chain_line(text, "Chain rule for one weight").split(" = ")
    check_sum(expression, float(total))
    couples = chain_line(text, "softmax couples its outputs")
    *_, expression, delta = couples.split(" = ")
    delta = float(delta.removesuffix(" (sample 1)"))
    assert len(check_sum(expression, delta)) == 3  # a term per output
    assert delta == pytest.approx(expected[0, 0], rel=1e-5)


MATH = re.compile(r"\$\$(.*?)\$\$", re.S)


def test_the_markdown_math_is_ascii_latex():
    conv = gn.Sequential([gn.Conv2D(2, 2, activation="leaky_relu"), gn.Conv2D(1, 2),
                          gn.Flatten(), gn.Dense(2, activation="softmax")], random_state=0,
                         dtype="float64")
    images = np.random.default_rng(0).normal(size=(3, 4, 4, 1))
    dense = gn.Sequential([gn.Dense(2, activation="leaky_relu"), gn.Dense(3),
                           gn.Softmax()], loss="cross_entropy", random_state=0)
    X, _ = regression(4)
    for step in (gn.trace_step(conv, images, [0, 1, 0]),
                 gn.trace_step(dense, X, [0, 1, 2, 0])):
        blocks = MATH.findall(step.to_markdown())
        assert len(blocks) > 10
        for block in blocks:
            assert block.isascii(), block
            for name in re.findall(r"\\(?:mathrm|text)\{([^{}]*)\}", block):
                assert not re.search(r"(?<!\\)_", name), block
    md = gn.trace_step(dense, X, [0, 1, 2, 0]).to_markdown()
    assert "\\mathrm{cross\\_entropy}" in md and "\\times" in md and "\\sum_" in md


# -- 8. trace_step on an estimator ------------------------------------------------------------


def test_trace_step_takes_a_fitted_estimator_and_shows_its_penalty():
    X, y = classification(40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = gn.MLPClassifier((3,), alpha=0.5, max_iter=3, random_state=0).fit(X, y)
    step = gn.trace_step(clf, X[:4], y[:4])
    _, grads = clf.model_.compute_gradients(X[:4], y[:4])  # the estimator's own objective
    np.testing.assert_allclose(step.dense_layers[0].dW, grads[0], rtol=1e-5, atol=1e-7)
    line = chain_line(str(step), "Chain rule for one weight")
    assert "(the network's own terms, e.g. a weight penalty)" in line
    *_, expression, total = line.split(" = ")
    check_sum(expression.replace(" (the network's own terms, e.g. a weight penalty)", ""),
              float(total))


def test_trace_step_refuses_what_is_not_a_network_in_one_line():
    with pytest.raises(ValueError, match=r"^trace_step needs a glassnet network: this "
                                         r"MLPClassifier is not fitted yet"):
        gn.trace_step(gn.MLPClassifier(), np.ones((1, 2)), [0])
    with pytest.raises(TypeError, match=r"^trace_step needs a glassnet network; for an "
                                        r"estimator pass clf.model_ after fitting, got dict\.$"):
        gn.trace_step({"W": 1}, np.ones((1, 2)), [0])


# -- 9. summary prints once -------------------------------------------------------------------


def test_printing_the_summary_shows_the_table_once(capsys):
    net = gn.Sequential([gn.Dense(3, input_dim=2), gn.Dense(1)], loss="mse")
    print(net.summary())
    out = capsys.readouterr().out
    assert out.count("Total params: 13") == 1 and out.endswith("\nNone\n")  # as Keras
    lines = []
    assert net.summary(print_fn=lines.append) is None
    assert len(lines) == 1 and lines[0] + "\nNone\n" == out


# -- 4. a layer too big for memory --------------------------------------------------------------


def test_a_failed_allocation_is_the_same_one_line(monkeypatch):
    # Where the OS does not say the machine's memory, numpy's MemoryError is caught.
    import glassnet.network

    monkeypatch.setattr(glassnet.network, "physical_memory", lambda: None)
    with pytest.raises(ValueError, match=r"^Layer 2 \(dense_1\) needs 110,000,000,000,000 "
                                         r"weights: .* as float32\. Use fewer units"):
        gn.Sequential([gn.Dense(10), gn.Dense(10**13)]).build(3)


# -- 2. the range check is exact, on both paths -----------------------------------------------


def test_the_range_check_accepts_what_the_dtype_holds_and_refuses_the_rest():
    top = float(np.finfo(np.float32).max)
    small = np.full((4, 3), top)
    assert check_features(small, dtype=np.float32) is small
    big = np.full((70_000, 2), 1e38)  # its sum of squares overflows: the values are searched
    assert check_features(big, dtype=np.float32) is big
    big[65_432, 1] = -1e39
    with pytest.raises(ValueError, match=r"^X\[:, 1\] has -1e\+39 at row 65432, beyond"):
        check_features(big, dtype=np.float32)
    # A float64 network holds them all.
    net = gn.Sequential([gn.Dense(1, kernel_initializer=1e-300)], loss="mse", dtype="float64")
    assert np.isfinite(net.build(2).predict(np.full((3, 2), 1e39))).all()


# -- 12. no dependency nothing imports --------------------------------------------------------


def test_rich_is_no_dependency():
    import pathlib

    import tomllib

    root = pathlib.Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = [project["dependencies"], *project["optional-dependencies"].values()]
    assert not [d for group in declared for d in group if d.startswith("rich")]
    sources = (root / "src" / "glassnet").rglob("*.py")
    assert not [p for p in sources if re.search(r"^\s*(import|from) rich\b", p.read_text(),
                                                re.M)]


@pytest.mark.parametrize("make", [lambda v: gn.SGD(learning_rate=v), lambda v: gn.Dropout(v)])
def test_an_int_too_large_for_a_float_is_refused_in_one_short_line(make):
    # 10**400 is a Real that float() overflows: the check says so instead of NumPy's
    # "ufunc 'isfinite' not supported", and does not print all 401 digits.
    with pytest.raises(ValueError, match=r"must be a (finite )?number .*got 1000.*\.\.\. "
                                         r"\(401 characters\)\.$") as error:
        make(10**400)
    assert len(str(error.value)) < 120
