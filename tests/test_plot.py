"""Plots are written as PNG files that are not blank."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import glassnet as gn  # noqa: E402


def test_plot_history_writes_a_non_blank_png(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 3)), rng.integers(0, 2, size=60)
    net = gn.Sequential([gn.Dense(4, activation="relu"), gn.Dense(1, activation="sigmoid")],
                        random_state=0)
    history = net.fit(X, y, epochs=5, validation_split=0.2, verbose=0)
    ax = gn.plot_history(history)
    assert ax.get_xlabel() == "epoch" and len(ax.get_lines()) == 2
    path = tmp_path / "history.png"
    ax.figure.savefig(path)
    image = np.asarray(Image.open(path).convert("L"))
    assert image.shape[0] > 200 and image.shape[1] > 300
    assert image.std() > 5  # not a blank page
    clf = gn.MLPClassifier((4,), max_iter=3, early_stopping=True, random_state=0)
    with pytest.warns(Warning):
        clf.fit(np.r_[X, X], np.r_[y, y])
    assert len(gn.plot_history(clf).get_lines()) == 2


def _png_ok(ax, path):
    from PIL import Image

    ax.figure.savefig(path)
    image = np.asarray(Image.open(path).convert("L"))
    assert image.shape[0] > 200 and image.shape[1] > 300 and image.std() > 5


def test_gradient_boundary_and_network_plots(tmp_path):
    import matplotlib.pyplot as plt

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    net = gn.Sequential([gn.Dense(8, activation="tanh"), gn.Dense(1, activation="sigmoid")],
                        optimizer=gn.Adam(0.05), random_state=0)
    history = net.fit(X, y, epochs=200, batch_size=None, callbacks=[gn.GradientStats()],
                      verbose=0)
    ax = gn.plot_gradients(history)
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 2
    _png_ok(ax, tmp_path / "grads.png")
    ax = gn.plot_decision_boundary(net, X, y)
    _png_ok(ax, tmp_path / "boundary.png")
    fig, given = plt.subplots()
    assert gn.plot_network(net, ax=given) is given  # draws on the Axes it is given
    assert len(given.get_lines()) == 2 * 8 + 8 * 1  # one edge per weight
    _png_ok(given, tmp_path / "network.png")
    with pytest.raises(ValueError, match="GradientStats"):
        gn.plot_gradients(net.fit(X, y, epochs=1, verbose=0))
    plt.close("all")


def test_filters_and_feature_maps_of_a_conv_layer(tmp_path):
    net = gn.Sequential([gn.Conv2D(5, 3, activation="relu"), gn.Flatten(), gn.Dense(2)],
                        loss="mse", random_state=0).build((8, 8, 1))
    fig = gn.plot_filters(net, "conv2d")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5  # one image per filter
    np.testing.assert_allclose(shown[2].images[0].get_array(), net.layers[0].W[:, :, 0, 2])
    x = np.random.default_rng(0).normal(size=(8, 8, 1))
    maps = [ax for ax in gn.plot_feature_maps(net, x, layer=0).axes if ax.images]
    expected = net.layers[0].forward(net.as_input(x[None]), False)[0]
    assert len(maps) == 5
    np.testing.assert_allclose(maps[4].images[0].get_array(), expected[:, :, 4], rtol=1e-6)
    with pytest.raises(ValueError, match=r"layer=2 is dense, not a Conv2D layer"):
        gn.plot_filters(net, 2)
    with pytest.raises(ValueError, match=r"layer='nope': the network has no layer of that name"):
        gn.plot_filters(net, "nope")
