"""The progress callbacks print exactly the lines their docstrings promise.

The expected lines are written out here from the logged numbers (History), so a wrong
epoch number, a dropped key, a lost gradient norm or output sent to the wrong stream fails.
"""

import io

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import ProgressBar, ProgressLogger


def tiny_net():
    return gn.Sequential([gn.Dense(3, activation="tanh"), gn.Dense(1)], loss="mse",
                         optimizer=gn.SGD(0.05), random_state=0, dtype="float64")


X = np.linspace(-1, 1, 12).reshape(6, 2)
y = X[:, :1] - X[:, 1:]


@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_progress_logger_lines(verbose):
    out = io.StringIO()
    net = tiny_net()
    history = net.fit(X, y, epochs=2, batch_size=3, shuffle=False, validation_data=(X, y),
                      callbacks=[ProgressLogger(verbose, file=out)], verbose=0)
    h = history.history
    lines = out.getvalue().splitlines()
    epoch_lines = [line for line in lines if line.startswith("Epoch")]
    batch_lines = [line for line in lines if line.startswith("  batch")]
    if verbose == 0:
        assert lines == []
        return
    assert len(epoch_lines) == 2
    for e, line in enumerate(epoch_lines):
        # "Epoch 1/2 - loss: 0.1234 - val_loss: ... - val_r2: ... - 0.00s"
        head = f"Epoch {e + 1}/2 - loss: {h['loss'][e]:.4f} - val_loss: {h['val_loss'][e]:.4f}"
        assert line.startswith(head), (line, head)
        assert f"val_r2: {h['val_r2'][e]:.4f}" in line
        assert "learning_rate" not in line and "time" not in line
        assert line.endswith("s") and float(line.rsplit(" - ", 1)[1][:-1]) >= 0
    if verbose == 1:
        assert batch_lines == []
        return
    # verbose=2: two batches of 3 per epoch, each with its loss and the global gradient norm.
    assert [line.split(" - ")[0] for line in batch_lines] == ["  batch 1/2", "  batch 2/2"] * 2
    assert lines.index(batch_lines[0]) < lines.index(epoch_lines[0]) < lines.index(batch_lines[2])
    for line in batch_lines:
        loss, norm = line.split(" - ")[1:]
        assert loss.startswith("loss: ") and float(loss[6:]) > 0
        assert norm.startswith("grad norm: ") and float(norm[11:]) > 0


def test_progress_logger_batch_gradient_norm_is_the_global_norm():
    out = io.StringIO()
    net = tiny_net()
    net.build(2)
    # One full batch: the printed norm is that of the gradient at the starting weights.
    _, grads = net.copy().compute_gradients(X, y, training=True)
    expected = np.sqrt(sum(float((g ** 2).sum()) for g in grads))
    net.fit(X, y, epochs=1, batch_size=None, shuffle=False,
            callbacks=[ProgressLogger(2, file=out)], verbose=0)
    line = out.getvalue().splitlines()[0]
    assert line.endswith(f"grad norm: {expected:.4g}"), (line, expected)


def test_progress_logger_defaults_to_stderr(capsys):
    # Progress is not a program's output: stdout stays clean for what it prints itself.
    tiny_net().fit(X, y, epochs=1, callbacks=[ProgressLogger(2)], verbose=0)
    captured = capsys.readouterr()
    assert captured.err.startswith("  batch 1/1 - loss: ") and "Epoch 1/1 - loss: " in captured.err
    assert captured.out == ""


def test_fit_verbose_prints_through_the_logger(capsys):
    tiny_net().fit(X, y, epochs=3, verbose=1)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert captured.out == ""


def test_progress_bar_defaults_to_stderr(capsys):
    pytest.importorskip("tqdm")
    tiny_net().fit(X, y, epochs=2, callbacks=[ProgressBar()], verbose=0)
    captured = capsys.readouterr()
    assert "2/2" in captured.err and captured.out == ""


def _hide_tqdm(monkeypatch):
    """Make ``import tqdm`` fail, as where it is not installed."""
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)


def test_progress_bar_without_tqdm_defaults_to_stderr(monkeypatch, capsys):
    _hide_tqdm(monkeypatch)
    tiny_net().fit(X, y, epochs=1, callbacks=[ProgressBar()], verbose=0)
    captured = capsys.readouterr()
    assert captured.err.startswith("Epoch 1/1 - loss: ") and captured.out == ""


def test_progress_bar_counts_epochs_and_shows_losses():
    pytest.importorskip("tqdm")
    out = io.StringIO()
    history = tiny_net().fit(X, y, epochs=4, callbacks=[ProgressBar(file=out)], verbose=0)
    text = out.getvalue()
    # tqdm redraws the bar in place; its last state reads 4/4 with the last epoch's loss.
    last = text.rsplit("\r", 1)[-1]
    assert "4/4" in last and "epoch" in last
    assert f"loss={history.history['loss'][-1]:.4g}" in last
    assert "time" not in last and "learning_rate" not in last


def test_progress_bar_without_tqdm_prints_epoch_lines(monkeypatch):
    _hide_tqdm(monkeypatch)
    out = io.StringIO()
    tiny_net().fit(X, y, epochs=2, callbacks=[ProgressBar(file=out)], verbose=0)
    lines = out.getvalue().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/2", "Epoch 2/2"]
