"""``TensorBoard``: a run's numbers as TensorBoard event files, in Keras's layout and tag
names, written with tensorboardX (an optional extra: ``pip install "glassnet[tensorboard]"``).
"""

from __future__ import annotations

import itertools
import numbers
import os
import time

from ..callbacks import Callback

#: Bookkeeping in the logs, not measurements: a batch's sample count, an epoch's seconds.
NOT_SCALARS = ("size", "time")

#: Tells apart the event files one process opens in one folder within the same second
#: (tensorboardX names a file by the second and would overwrite the earlier one).
_OPENED = itertools.count()


def _tensorboardx():
    """tensorboardX's synchronous pieces: the scalar summary, the event file, the event."""
    try:
        from tensorboardX.event_file_writer import EventsWriter
        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.summary import scalar
    except ImportError:
        raise ImportError('gn.TensorBoard writes its event files with tensorboardX, which is '
                          'not installed: pip install "glassnet[tensorboard]"') from None
    return scalar, EventsWriter, Event


class TensorBoard(Callback):
    """Write the run to TensorBoard event files as it trains (Keras's ``TensorBoard``).

    ``log_dir/train`` gets ``epoch_loss`` and ``epoch_learning_rate``, and
    ``log_dir/validation`` gets ``epoch_loss`` and ``epoch_accuracy`` (or ``epoch_r2``)
    from the ``val_`` logs, one value per epoch at step ``epoch`` (0-based, as
    ``History.epoch``). Per-layer numbers already named ``kind/layer`` (``GradientStats``'
    ``grad_norm/<layer>``, ``weight_norm/<layer>``, ...) keep their name, which TensorBoard
    shows as one section per kind (``fit`` calls this callback after those that add to
    the logs, wherever it stands in ``callbacks``).
    With ``update_freq=N`` the training batches' ``batch_loss`` is also written every
    ``N`` batches, at the global batch step (1-based, counted over the epochs).

    Each ``fit`` opens new event files in the same folders, so a run resumed with
    ``resume_from`` continues its curves; the files are flushed at every epoch's end (open
    them in TensorBoard while training runs) and closed when training ends.

    Parameters
    ----------
    log_dir : str or os.PathLike, default "logs"
        The folder for the ``train`` and ``validation`` event files
        (``tensorboard --logdir log_dir``).
    update_freq : "epoch", "batch" or int, default "epoch"
        ``"epoch"`` writes once per epoch; an integer ``N`` also writes the batch loss
        every ``N`` batches; ``"batch"`` is ``1``.

    Examples
    --------
    >>> net.fit(X, y, epochs=20, validation_split=0.1,  # doctest: +SKIP
    ...         callbacks=[gn.GradientStats(), gn.TensorBoard("logs/run1")])
    >>> # then: tensorboard --logdir logs
    """

    records_logs = True

    def __init__(self, log_dir="logs", update_freq="epoch"):
        super().__init__()
        try:
            self.log_dir = os.fsdecode(os.fspath(log_dir))
        except TypeError:
            raise TypeError("log_dir must be a path (str or os.PathLike), got "
                            f"{log_dir!r}.") from None
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (not isinstance(update_freq, numbers.Integral)
                                       or isinstance(update_freq, bool) or update_freq < 1):
            raise ValueError("update_freq must be 'epoch', 'batch' or a positive integer "
                             f"(write every N batches), got {update_freq!r}.")
        self.update_freq = update_freq if update_freq == "epoch" else int(update_freq)
        _tensorboardx()  # a missing extra is said here, before any training
        self._writers = {}

    def _writer(self, split):
        """The open event file of ``log_dir/split``, opened on first use."""
        if split not in self._writers:
            folder = os.path.join(self.log_dir, split)
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as exc:
                raise OSError(f"TensorBoard cannot write to log_dir={self.log_dir!r}: "
                              f"{folder!r}: {exc.strerror}; pass a folder it can create."
                              ) from None
            suffix = f".{os.getpid()}.{next(_OPENED)}"
            self._writers[split] = self._events(os.path.join(folder, "events"), suffix)
        return self._writers[split]

    def _write(self, logs, prefix, step):
        """Each number of ``logs``: ``val_`` ones to validation, the others to train."""
        for key, value in logs.items():
            if key in NOT_SCALARS or not isinstance(value, numbers.Real):
                continue
            split, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            tag = name if "/" in name else prefix + name
            self._writer(split).write_event(self._event(
                summary=self._scalar(tag, float(value)), step=step, wall_time=time.time()))

    def _close(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def on_train_begin(self, logs=None):
        self._close()  # left open by a fit that raised before its end
        self._scalar, self._events, self._event = _tensorboardx()
        self._writer("train")  # an unwritable log_dir is said before any training
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch":
            return
        step = self._epoch * self.params["steps"] + batch + 1
        if step % self.update_freq == 0:
            self._write(logs or {}, "batch_", step)

    def on_epoch_end(self, epoch, logs=None):
        self._write(logs or {}, "epoch_", epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        self._close()
