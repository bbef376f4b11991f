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
    fig = gn.plot_history(history)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and len(ax.get_lines()) == 2
    path = tmp_path / "history.png"
    fig.savefig(path)
    image = np.asarray(Image.open(path).convert("L"))
    assert image.shape[0] > 200 and image.shape[1] > 300
    assert image.std() > 5  # not a blank page
    clf = gn.MLPClassifier((4,), max_iter=3, early_stopping=True, random_state=0)
    with pytest.warns(Warning):
        clf.fit(np.r_[X, X], np.r_[y, y])
    assert len(gn.plot_history(clf).axes[0].get_lines()) == 2


def _png_ok(fig, path):
    from PIL import Image

    fig.savefig(path)
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
    fig = gn.plot_gradients(history)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 2
    _png_ok(fig, tmp_path / "grads.png")
    _png_ok(gn.plot_decision_boundary(net, X, y), tmp_path / "boundary.png")
    fig, given = plt.subplots()
    assert gn.plot_network(net, ax=given) is fig  # draws on the Axes it is given
    assert len(given.get_lines()) == 2 * 8 + 8 * 1  # one edge per weight
    _png_ok(fig, tmp_path / "network.png")
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


def _history_with_accuracy():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(80, 3)), rng.integers(0, 2, size=80)
    net = gn.Sequential([gn.Dense(4, activation="relu"), gn.Dense(1, activation="sigmoid")],
                        random_state=0)
    return net, X, y, net.fit(X, y, epochs=12, validation_split=0.25, verbose=0)


def test_every_plot_returns_its_figure():
    # One kind of return value, the one matplotlib users save: Figure.savefig is at hand.
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    net, X, y, history = _history_with_accuracy()
    stats = net.fit(X, y, epochs=2, verbose=0, callbacks=[gn.GradientStats()])
    conv = gn.Sequential([gn.Conv2D(2, 3), gn.Flatten(), gn.Dense(2)], loss="mse",
                         random_state=0).build((6, 6, 1))
    flat = gn.Sequential([gn.Dense(3, activation="tanh"), gn.Dense(1, activation="sigmoid")],
                         random_state=0)
    flat.fit(X[:, :2], y, epochs=1, verbose=0)
    made = [gn.plot_history(history), gn.plot_gradients(stats),
            gn.plot_decision_boundary(flat, X[:, :2], y), gn.plot_network(net),
            gn.plot_filters(conv), gn.plot_feature_maps(conv, np.zeros((6, 6, 1)))]
    assert all(type(fig) is Figure for fig in made)
    _, given = plt.subplots()
    assert gn.plot_history(history, ax=given) is given.figure
    plt.close("all")


def _display_points(ax):
    points = [ax.transData.transform(np.column_stack(line.get_data()))
              for line in ax.get_lines()]
    return np.concatenate(points)


def test_the_history_legend_covers_no_line(tmp_path):
    # Every point of every line (loss, val_loss on the left axis, val_accuracy on the right)
    # lies outside the legend's box, in display coordinates after drawing.
    import matplotlib.pyplot as plt

    *_, history = _history_with_accuracy()
    fig = gn.plot_history(history)
    fig.savefig(tmp_path / "h.png")
    renderer = fig.canvas.get_renderer()
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert len(legends) == 1  # one legend naming all three lines
    assert [t.get_text() for t in legends[0].get_texts()] == ["loss", "val_loss", "val_accuracy"]
    box = legends[0].get_window_extent(renderer)
    for ax in fig.axes:
        points = _display_points(ax)
        inside = ((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
                  & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1))
        assert not inside.any()
    plt.close("all")


@pytest.mark.parametrize("make", ["history", "gradients"])
def test_axis_labels_lie_inside_the_saved_figure(make, tmp_path):
    # savefig without bbox_inches="tight": the labels must fit in the figure by its layout.
    import matplotlib.pyplot as plt

    net, X, y, history = _history_with_accuracy()
    if make == "history":
        fig = gn.plot_history(history)
    else:
        fig = gn.plot_gradients(net.fit(X, y, epochs=3, verbose=0,
                                        callbacks=[gn.GradientStats()]), kind="update_ratio")
    fig.savefig(tmp_path / "p.png", bbox_inches=None)
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    for ax in fig.axes:
        for label in (ax.yaxis.label, ax.xaxis.label):
            if label.get_text():
                box = label.get_window_extent(renderer)
                assert page.x0 <= box.x0 and box.x1 <= page.x1, label.get_text()
                assert page.y0 <= box.y0 and box.y1 <= page.y1, label.get_text()
    plt.close("all")
