"""Pictures of a training run (matplotlib, an optional extra: ``pip install glassnet[plot]``).

Every function returns the matplotlib ``Figure`` it drew on, ready for
``fig.savefig("plot.png")`` (its Axes are ``fig.axes``). Those that draw on one Axes take
``ax=None``: a new figure, with constrained layout so that no label is cut off, or the
given Axes (the Figure returned is then ``ax.figure``). Nothing here calls ``plt.show``.
"""

from __future__ import annotations


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # falls back to Agg when there is no display

    _, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    return ax


def plot_history(history, ax=None, metrics=("loss", "val_loss")):
    """Loss (and validation loss) per epoch; a second axis shows validation accuracy/R².
    Returns the Figure.

    ``history`` is a :class:`glassnet.History`, its ``.history`` dict, or an estimator
    with ``loss_curve_``. The one legend (both axes' lines) sits above the plot, where it
    covers no data.
    """
    data = getattr(history, "history", history)
    if hasattr(history, "loss_curve_"):
        data = {"loss": history.loss_curve_}
        if getattr(history, "validation_loss_curve_", None):
            data["val_loss"] = history.validation_loss_curve_
    ax = _axes(ax)
    for key in metrics:
        if key in data:
            ax.plot(range(1, len(data[key]) + 1), data[key], label=key, marker=".")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    axes = [ax]
    score = next((k for k in ("val_accuracy", "val_r2") if k in data), None)
    if score:
        twin = ax.twinx()
        twin.plot(range(1, len(data[score]) + 1), data[score], color="tab:green", label=score,
                  linestyle="--")
        twin.set_ylabel(score)
        axes.append(twin)
    handles = [line for each in axes for line in each.get_lines()]
    # Above the axes, outside the data (a legend inside covered the accuracy line); the
    # title is the legend's, so that the two do not overlap either.
    axes[-1].legend(handles, [line.get_label() for line in handles], loc="lower center",
                    bbox_to_anchor=(0.5, 1.0), ncols=len(handles), frameon=False,
                    title="Training history")
    return ax.figure


def plot_gradients(history, ax=None, kind="grad_norm"):
    """Per-layer gradient norms over epochs (log scale), from a History that ran with
    :class:`glassnet.GradientStats`; ``kind`` may also be ``'weight_norm'`` or
    ``'update_ratio'``. Returns the Figure.
    """
    data = getattr(history, "history", history)
    keys = [k for k in data if k.startswith(kind + "/")]
    if not keys:
        raise ValueError(f"The history has no {kind!r} series: train with "
                         "callbacks=[glassnet.GradientStats()].")
    ax = _axes(ax)
    for key in keys:
        ax.plot(range(1, len(data[key]) + 1), data[key], marker=".", label=key.split("/", 1)[1])
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(kind.replace("_", " "))
    ax.set_title(f"{kind.replace('_', ' ')} per layer")
    ax.legend(loc="best")  # where it covers the fewest points of this one Axes
    return ax.figure


def plot_decision_boundary(model, X, y=None, ax=None, resolution=200):
    """The regions a classifier assigns to each class over 2-D inputs, with the samples.

    ``model`` is a Sequential (its argmax / 0.5 threshold) or an estimator with ``predict``.
    Returns the Figure.
    """
    import numpy as np

    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs X with 2 features, got shape {X.shape}.")
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0) + 1e-12)
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.c_[xx.ravel(), yy.ravel()]
    if hasattr(model, "layers") and hasattr(model, "forward"):
        P = model.predict(grid)
        labels = P.argmax(axis=1) if P.shape[1] > 1 else (P[:, 0] > 0.5).astype(int)
    else:
        labels = np.unique(model.predict(grid), return_inverse=True)[1]
    ax = _axes(ax)
    ax.contourf(xx, yy, labels.reshape(xx.shape), alpha=0.3, cmap="coolwarm")
    ax.scatter(X[:, 0], X[:, 1], c=None if y is None else np.unique(y, return_inverse=True)[1],
               cmap="coolwarm", edgecolors="k", s=25)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_title("Decision boundary")
    return ax.figure


def plot_network(net, ax=None, max_units=12):
    """The diagram of the articles: one column of nodes per layer, an edge per weight,
    coloured by sign (blue > 0, red < 0) and as wide as its size. Returns the Figure.
    """
    import numpy as np

    from ..layers import Dense

    dense = [layer for layer in net.layers if isinstance(layer, Dense)]
    if not dense:
        raise ValueError("plot_network needs a built network with Dense layers.")
    sizes = [dense[0].W.shape[0]] + [layer.W.shape[1] for layer in dense]
    shown = [min(s, max_units) for s in sizes]
    ax = _axes(ax)

    def y_of(n):
        return np.linspace(0, 1, n) if n > 1 else np.array([0.5])

    biggest = max(float(np.abs(layer.W).max()) for layer in dense) or 1.0
    for col, layer in enumerate(dense):
        W = layer.W[: shown[col], : shown[col + 1]]
        ys_in, ys_out = y_of(shown[col]), y_of(shown[col + 1])
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                w = float(W[i, j])
                ax.plot([col, col + 1], [ys_in[i], ys_out[j]],
                        color="tab:blue" if w > 0 else "tab:red",
                        linewidth=0.3 + 3.0 * abs(w) / biggest, alpha=0.7, zorder=1)
    for col, n in enumerate(shown):
        ax.scatter(np.full(n, col), y_of(n), s=200, color="white", edgecolors="black",
                   zorder=2)
        label = "input" if col == 0 else ("output" if col == len(shown) - 1 else f"hidden {col}")
        more = f" (first {n} of {sizes[col]})" if n < sizes[col] else ""
        ax.text(col, -0.12, label + more, ha="center", va="top", fontsize=8)
    ax.set_xlim(-0.5, len(shown) - 0.5)
    ax.set_ylim(-0.25, 1.1)
    ax.axis("off")
    ax.set_title("Network (edge width ~ |weight|, blue > 0, red < 0)")
    return ax.figure


def _conv_layer(net, layer):
    """The layer ``layer`` names (an index or a name), checked to be a convolution."""
    net.check_built()
    if isinstance(layer, str):
        found = [candidate for candidate in net.layers if candidate.name == layer]
        if not found:
            raise ValueError(f"layer={layer!r}: the network has no layer of that name; its "
                             f"layers are {[candidate.name for candidate in net.layers]}.")
        layer = net.layers.index(found[0])
    chosen = net.layers[layer]
    if getattr(chosen, "rank", None) != 2 or not chosen.params:
        raise ValueError(f"layer={layer!r} is {chosen.name}, not a Conv2D layer.")
    return layer, chosen


def _grid(images, title, cmap):
    """One small image per item of ``images`` (n, h, w), in a square-ish grid of Axes."""
    import math

    import matplotlib.pyplot as plt

    n = len(images)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.4 * rows), squeeze=False,
                             layout="constrained")
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap, interpolation="nearest")
            ax.set_title(str(i), fontsize=7)
    fig.suptitle(title)
    return fig


def plot_filters(net, layer=0, channel=0):
    """The kernels of the Conv2D layer ``layer`` (index or name) for input ``channel``, one
    image per filter (blue < 0 < red): what the layer has learned to look for. Returns the
    Figure."""
    _, conv = _conv_layer(net, layer)
    W = conv.backend.to_host(conv.W)  # (kh, kw, c_in, filters)
    kernels = W[:, :, channel, :].transpose(2, 0, 1)
    return _grid(kernels, f"{conv.name}: {conv.filters} filters, input channel {channel}",
                 "coolwarm")


def plot_feature_maps(net, x, layer=0):
    """What the layer ``layer`` (index or name, a Conv2D) outputs for one image ``x`` of
    shape ``(height, width, channels)``: one map per filter. Returns the Figure."""
    index, conv = _conv_layer(net, layer)
    import numpy as np

    A = net.as_input(np.asarray(x)[None])
    for earlier in net.layers[: index + 1]:
        A = earlier.forward(A, False)
    maps = conv.backend.to_host(A)[0].transpose(2, 0, 1)
    return _grid(maps, f"{conv.name}: {len(maps)} feature maps", "viridis")
