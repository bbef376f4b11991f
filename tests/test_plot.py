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
