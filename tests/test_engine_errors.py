"""A user's mistake gets a ValueError that names the argument, the value and the choices."""

import numpy as np
import pytest

import glassnet as gn


def small_net(**kwargs):
    return gn.Sequential([gn.Dense(3, activation="relu"), gn.Dense(2, activation="softmax")],
                         random_state=0, **kwargs)


X = np.random.default_rng(0).normal(size=(6, 4))
Y = np.array([0, 1, 0, 1, 1, 0])


@pytest.mark.parametrize("make,match", [
    (lambda: gn.Dense(3, activation="relux"),
     r"Unknown activation 'relux'\. Valid activation names are: .*'relu'.*'sigmoid'"),
    (lambda: small_net(loss="hinge"), r"Unknown loss 'hinge'\. Valid loss names are: .*'mse'"),
    (lambda: small_net(optimizer="adagrad"),
     r"Unknown optimizer 'adagrad'\. Valid optimizer names are: 'adam', 'adamw', 'rmsprop', "
     r"'sgd'"),
    (lambda: gn.SGD(learning_rate=0), r"learning_rate must be a finite number > 0, got 0"),
    (lambda: gn.Adam(learning_rate=-1e-3), r"learning_rate must be .* > 0, got -0.001"),
    (lambda: gn.Adam(learning_rate=float("nan")), r"learning_rate .* got nan"),
    (lambda: gn.SGD(0.1, momentum=1.5), r"momentum must be a number in \[0, 1\), got 1.5"),
    (lambda: gn.SGD(0.1, nesterov=True), r"nesterov=True needs a momentum > 0"),
    (lambda: gn.Dense(0), r"units must be a positive integer, got 0"),
    (lambda: gn.Dense(3, kernel_initializer="glorot_uniformm"),
     r"Unknown initializer 'glorot_uniformm'\. Valid initializer names are: .*'he_normal'"),
    (lambda: gn.Dropout(1.0), r"rate must be a number in \[0, 1\), got 1.0"),
    (lambda: gn.LeakyReLU(alpha=-1), r"alpha must be a finite number >= 0, got -1"),
    (lambda: small_net(dtype="int32"), r"dtype must be one of \('float32', 'float64'\), got "
                                       r"'int32'"),
    (lambda: gn.Sequential(["dense"]), r"layers must be glassnet layers"),
])
def test_bad_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("kwargs,match", [
    ({"epochs": 0}, r"epochs must be an integer >= 1, got 0"),
    ({"batch_size": 0}, r"batch_size must be an integer >= 1 or None, got 0"),
    ({"validation_split": 1.0}, r"validation_split must be a number in \(0, 1\), got 1.0"),
    ({"verbose": 5}, r"verbose must be 0, 1 or 2, got 5"),
    ({"callbacks": [print]}, r"callbacks must be glassnet Callback instances"),
    ({"callbacks": [gn.EarlyStopping(monitor="val_loss")]},
     r"monitor='val_loss' is not logged in this fit \(pass validation_split or "
     r"validation_data"),
    ({"validation_data": (X,)}, r"validation_data must be a tuple \(X_val, y_val"),
])
def test_bad_fit_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_net().fit(X, Y, **{"epochs": 1, "verbose": 0, **kwargs})


@pytest.mark.parametrize("X_bad,y_bad,match", [
    (X[:, 0], Y, r"X must be 2-D \(n_samples, n_features\), got 1-D .* X\.reshape\(-1, 1\)"),
    (X[None], Y, r"X has samples of shape \(6, 4\): Dense takes vectors .* put "
                 r"glassnet\.Flatten\(\) before it"),
    (X[:0], Y[:0], r"X has 0 samples"),
    (X, Y[:5], r"X and y must have the same number of samples, got 6 and 5"),
    (np.where(X > 1, np.nan, X), Y, r"X contains NaN or infinity"),
    (np.full((6, 4), "a"), Y, r"X must hold numbers .* got dtype <U1"),
    (X, np.array([0, 1, 2, 0, 1, 0]),
     r"cross_entropy' needs class labels y in \[0, 1\] for a network with 2 outputs, got labels "
     r"in \[0, 2\]"),
    (X, np.array([0, 1, 0.5, 0, 1, 0]), r"needs integer class labels y"),
    (X, np.array(list("abaabb")),
     r"needs integer class labels 0..n_classes-1 \(or one-hot rows\), got dtype <U1"),
    (X, np.ones((6, 3)), r"y has shape \(6, 3\) but the network has 2 output\(s\)"),
])
def test_bad_training_data(X_bad, y_bad, match):
    with pytest.raises(ValueError, match=match):
        small_net().fit(X_bad, y_bad, epochs=1, verbose=0)


def test_labels_that_do_not_fit_other_losses():
    bce = gn.Sequential([gn.Dense(1, activation="sigmoid")])
    with pytest.raises(ValueError, match=r"binary_cross_entropy' needs targets y in \[0, 1\]"):
        bce.fit(X, np.arange(6), epochs=1, verbose=0)
    one_unit = gn.Sequential([gn.Dense(1, activation="softmax")], loss="cross_entropy")
    with pytest.raises(ValueError, match=r"needs an output layer of 2 or more units"):
        one_unit.fit(X, Y, epochs=1, verbose=0)
    relu_out = gn.Sequential([gn.Dense(2, activation="relu")], loss="cross_entropy")
    with pytest.raises(ValueError, match=r"needs outputs in \(0, 1\), but the network ends with "
                                         r"'relu'"):
        relu_out.fit(X, Y, epochs=1, verbose=0)


def test_prediction_checks_the_feature_count_and_the_declared_input_dim():
    net = small_net()
    with pytest.raises(ValueError, match=r"not built yet: call fit"):
        net.predict(X)
    net.fit(X, Y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"X has samples of shape \(3,\), but the network was "
                                         r"built for \(4,\)"):
        net.predict(X[:, :3])
    declared = gn.Sequential([gn.Dense(3, input_dim=5), gn.Dense(1)])
    with pytest.raises(ValueError, match=r"declared with input_dim=5, but it receives 4"):
        declared.fit(X, Y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"explicit initial array has shape \(2, 2\), but the "
                                         r"parameter it initializes has shape \(4, 2\)"):
        gn.Sequential([gn.Dense(2, kernel_initializer=np.eye(2))]).build(4)


@pytest.mark.parametrize("make", [
    lambda: np.ones((3, 4), np.float32),
    lambda: np.ones((300, 400), np.float32),  # large: the sum-of-squares path
    lambda: np.full((300, 400), 1e30, np.float32),
    lambda: np.ones((300, 800))[:, ::2],
    lambda: np.ones((300, 400), complex),
    lambda: np.full((2, 3), 1e30, np.float32),  # finite, but its sum of squares overflows
    lambda: np.full((2, 3), 1e300),
    lambda: np.ones((4, 6))[:, ::2],  # not contiguous
    lambda: np.ones(5, np.float16) * 300,  # float16 squares overflow at 65504
    lambda: np.ones((2, 2), complex),
    lambda: np.array(2.0),
    lambda: np.arange(6).reshape(2, 3),
])
@pytest.mark.parametrize("bad", [None, np.nan, np.inf, -np.inf])
def test_all_finite_agrees_with_isfinite(make, bad):
    from glassnet.backend import all_finite

    a = make()
    if bad is not None and a.dtype.kind in "fc":
        a[(-1,) * a.ndim] = bad
    assert all_finite(a) == bool(np.isfinite(a).all())
