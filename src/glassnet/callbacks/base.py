"""The callback protocol ``fit`` calls (Keras's hook names) and ``History``, the
record of a run as data. Below the loop that calls them: nothing here imports training.
"""

from __future__ import annotations


class Callback:
    """Hooks called by ``fit``: ``on_train_begin``, ``on_epoch_begin``, ``on_batch_end``,
    ``on_epoch_end``, ``on_train_end``. ``self.model`` is the network; setting
    ``self.model.stop_training = True`` ends training after the current batch/epoch.

    A callback that only records or shows the logs (History, TensorBoard, LiveView) sets
    ``records_logs = True``: ``fit`` then calls it after the others, so that it sees what
    they add to an epoch's logs (GradientStats' per-layer numbers), wherever it stands in
    the list.
    """

    records_logs = False

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params: dict):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class History(Callback):
    """What happened in training, as data.

    Attributes
    ----------
    history : dict of str -> list
        Per epoch: ``loss`` (mean training loss over the epoch's batches, each
        computed before its update), ``learning_rate``, and with validation data
        ``val_loss`` and ``val_accuracy`` or ``val_r2``; callbacks may add more.
    epoch : list of int
        The epochs that ran (0-based).
    stop_reason : str
        Why training ended.
    interrupted : bool
        Whether Ctrl-C stopped it.
    """

    records_logs = True

    def on_train_begin(self, logs=None):
        self.history = {}
        self.epoch = []
        self.stop_reason = None
        self.interrupted = False

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def on_train_end(self, logs=None):
        epochs = self.params.get("epochs")
        self.stop_reason = getattr(self.model, "stop_reason", None) or (
            f"stopped by a callback (stop_training) after {len(self.epoch)} of {epochs} epochs"
            if getattr(self.model, "stop_training", False) else f"completed {epochs} epochs"
        )

    def __repr__(self):
        keys = ", ".join(self.history)
        return f"<History: {len(self.epoch)} epochs; {keys}>"
