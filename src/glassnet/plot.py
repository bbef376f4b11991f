"""Pictures of a training run (matplotlib, an optional extra: ``pip install glassnet[plot]``).

Each function takes ``ax=None`` (a new figure when None) and returns the Axes it drew
on, as scikit-learn's and seaborn's plotting do. Nothing here calls ``plt.show``.
"""

from __future__ import annotations


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # falls back to Agg when there is no display

    _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_history(history, ax=None, metrics=("loss", "val_loss")):
    """Loss (and validation loss) per epoch; a second axis shows validation accuracy/R².

    ``history`` is a :class:`glassnet.History`, its ``.history`` dict, or an estimator
    with ``loss_curve_``.
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
    score = next((k for k in ("val_accuracy", "val_r2") if k in data), None)
    if score:
        twin = ax.twinx()
        twin.plot(range(1, len(data[score]) + 1), data[score], color="tab:green", label=score,
                  linestyle="--")
        twin.set_ylabel(score)
        twin.legend(loc="center right")
    ax.legend(loc="upper right")
    ax.set_title("Training history")
    return ax
