"""Nothing lost on a crash or Ctrl-C, and the same seed gives the same bits.

The kill -9 and SIGINT tests train in a subprocess (``sys.executable -c ...``) on small
data. Kills land at points the child announces (it stops there and waits), not after a
sleep, so every run kills at the same places.
"""

import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings
import zipfile

import numpy as np
import pytest

import glassnet as gn

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# Trains with a Checkpoint after every epoch and stops, announcing "at <stage>", at the
# <count>-th time it reaches <stage>, then waits on stdin to be killed:
#   writing  - inside a save, the temporary file half written (config.json in, no weights);
#   renaming - the temporary file complete and fsynced, not yet renamed over the checkpoint;
#   renamed  - just after the rename;
#   idle     - between saves, after the epoch's checkpoint was written and reported.
# Each finished epoch is reported (epochs_done) on a line of its own.
TRAIN = textwrap.dedent("""
    import os, sys, zipfile, numpy as np, glassnet as gn

    path, epochs, stage, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    reached = {}

    def reach(name):
        reached[name] = reached.get(name, 0) + 1
        if name == stage and reached[name] == count:
            print("at", name, flush=True)
            sys.stdin.readline()  # wait for the kill (EOF, should it never come: go on)

    writestr, replace = zipfile.ZipFile.writestr, os.replace

    def writestr_hook(self, name, *args, **kwargs):
        if name == "weights.npz":
            reach("writing")
        return writestr(self, name, *args, **kwargs)

    def replace_hook(src, dst, *args, **kwargs):
        reach("renaming")
        replace(src, dst, *args, **kwargs)
        reach("renamed")

    zipfile.ZipFile.writestr, os.replace = writestr_hook, replace_hook

    class Say(gn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(self.model.epochs_done, flush=True)
            reach("idle")

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 8))
    y = (X[:, 0] > 0).astype(int)
    net = gn.Sequential([gn.Dense(32, activation="relu"), gn.Dropout(0.2), gn.Dense(2),
                         gn.Softmax()], random_state=0)
    resume = path if os.path.exists(path) else None
    net.fit(X, y, epochs=epochs, batch_size=32, verbose=0, resume_from=resume,
            callbacks=[gn.Checkpoint(path, keep_best=False), Say()])
    np.save(path + ".final.npy", net.params)
""")


def _default_sigint():
    # A child inherits an ignored SIGINT (pytest run under `trap '' INT`, nohup, some CI
    # runners), and Python then installs no KeyboardInterrupt handler: restore the default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextlib.contextmanager
def sigint_ignored():
    """SIGINT ignored in this process for a moment: a child started inside inherits that."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def start():
    """Start ``python -c script args...``, as pytest under an ignored SIGINT would: the
    child must still get the default SIGINT handling. Children still running at the end
    of the test are killed."""
    children = []
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def spawn(*args):
        with sigint_ignored():
            proc = subprocess.Popen([sys.executable, "-c", *args], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=env, preexec_fn=_default_sigint)
        children.append(proc)
        return proc

    yield spawn
    for proc in children:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


# (stage, count): where each successive run is killed; runs 2.. resume from the checkpoint.
KILLS = [("writing", 1), ("renamed", 2), ("renaming", 1), ("idle", 3), ("writing", 2),
         ("renaming", 3), ("renamed", 1)]


def test_kill_9_never_leaves_a_broken_checkpoint(tmp_path, start):
    """SIGKILL inside a checkpoint save (temporary file half written, complete but not
    renamed, just renamed) or between saves: the checkpoint always loads and holds exactly
    the epoch before the interrupted save or the one it saved, and resuming after all the
    kills ends bit-identical to one run that was never killed."""
    path = str(tmp_path / "ckpt.glassnet")
    done = 0  # epochs in the checkpoint on disk
    for round_, (stage, count) in enumerate(KILLS):
        temps_before = set(glob.glob(str(tmp_path / ".tmp-*")))
        proc = start(TRAIN, path, str(done + count + 2), stage, str(count))
        reported = []
        for line in proc.stdout:
            if line.startswith("at "):
                break
            reported.append(int(line))
        else:
            pytest.fail(f"round {round_}: the child never reached {stage!r} #{count}: "
                        f"{proc.stderr.read()}")
        assert line.split() == ["at", stage]
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        # The k-th save of this run writes done + k; a kill before its rename keeps done.
        saved = done + count if stage in ("renamed", "idle") else done + count - 1
        # Epochs are reported after their save: all before the k-th, and at idle the k-th.
        last_reported = done + count if stage == "idle" else done + count - 1
        assert reported == list(range(done + 1, last_reported + 1)), (round_, reported)
        if saved == 0:  # killed inside the very first save: no checkpoint yet
            assert not os.path.exists(path)
        else:
            net = gn.load(path)  # never a ModelFileError
            assert net.epochs_done == saved, (round_, stage, net.epochs_done)
            assert np.isfinite(net.params).all()
        temps = set(glob.glob(str(tmp_path / ".tmp-*"))) - temps_before
        if stage == "writing":  # the kill really hit a half-written file...
            (temp,) = temps
            with pytest.raises(gn.ModelFileError):
                gn.load(temp)
        elif stage == "renaming":  # ...or a complete one not yet in place
            (temp,) = temps
            assert gn.load(temp).epochs_done == saved + 1
        else:
            assert not temps
        done = saved
    assert done == 9
    # Resuming after seven kills is the same training as one uninterrupted run.
    proc = start(TRAIN, path, str(done + 2), "none", "1")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.split() == [str(done + 1), str(done + 2)]
    fresh = str(tmp_path / "fresh.glassnet")
    proc = start(TRAIN, fresh, str(done + 2), "none", "1")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    resumed, uninterrupted = np.load(path + ".final.npy"), np.load(fresh + ".final.npy")
    assert resumed.tobytes() == uninterrupted.tobytes()


SIGINT_SCRIPT = textwrap.dedent("""
    import json, sys, warnings, numpy as np, glassnet as gn

    class Say(gn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print("epoch", epoch, flush=True)

    folder = sys.argv[1]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    net = gn.Sequential([gn.Dense(32, activation="relu"), gn.Dense(2), gn.Softmax()],
                        optimizer=gn.Adam(0.05), random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        h = net.fit(X, y, epochs=10**6, batch_size=8, validation_split=0.25, verbose=0,
                    callbacks=[gn.Checkpoint(folder + "/ckpt.glassnet"), Say()])
    net.save(folder + "/final.glassnet")
    print(json.dumps({"stop_reason": h.stop_reason, "interrupted": h.interrupted,
                      "val_loss": h.history["val_loss"],
                      "warnings": [str(w.message) for w in caught]}), flush=True)
""")


def test_sigint_exits_normally_with_the_best_model_saved(tmp_path, start):
    # `start` spawns the child with SIGINT ignored here, as under `trap '' INT`: the
    # child must still turn Ctrl-C into a clean stop.
    proc = start(SIGINT_SCRIPT, str(tmp_path))
    for line in proc.stdout:
        if line.startswith("epoch") and int(line.split()[1]) >= 5:
            break
    else:
        pytest.fail(f"the child stopped before epoch 5: {proc.stderr.read()}")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["interrupted"] and "interrupted (Ctrl-C)" in report["stop_reason"]
    assert len(report["warnings"]) == 1 and "Ctrl-C" in report["warnings"][0]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    best = min(report["val_loss"])
    for name in ("final.glassnet", "ckpt.best.glassnet"):
        net = gn.load(tmp_path / name)
        assert np.isfinite(net.params).all()
        assert net.evaluate(X[150:], y[150:])["loss"] == pytest.approx(best, rel=1e-6)


# -- determinism --------------------------------------------------------------------------


def xor_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


def test_sequential_same_seed_same_bits():
    X, y = xor_data()

    def run(dtype):
        net = gn.Sequential([gn.Dense(16, activation="tanh"), gn.Dropout(0.3), gn.Dense(2),
                             gn.Softmax()], optimizer=gn.AdamW(0.01), random_state=42, dtype=dtype)
        net.fit(X, y, epochs=5, batch_size=16, validation_split=0.2, verbose=0)
        return net

    for dtype in ("float32", "float64"):
        a, b = run(dtype), run(dtype)
        assert np.array_equal(a.params, b.params)
        for key in ("loss", "val_loss", "val_accuracy"):
            assert a.history.history[key] == b.history.history[key]
    c = gn.Sequential([gn.Dense(16, activation="tanh"), gn.Dropout(0.3), gn.Dense(2),
                       gn.Softmax()], optimizer=gn.AdamW(0.01), random_state=43)
    c.fit(X, y, epochs=5, batch_size=16, validation_split=0.2, verbose=0)
    assert not np.array_equal(c.params, run("float32").params)


@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_estimators_same_seed_same_bits(kind, solver):
    X, y = xor_data()
    if kind == "MLPRegressor":
        y = X[:, 0] - 2 * X[:, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = [getattr(gn, kind)(hidden_layer_sizes=(8,), solver=solver, max_iter=20,
                                  early_stopping=solver != "lbfgs", dropout=0.1,
                                  random_state=7).fit(X, y) for _ in range(2)]
    a, b = fits
    assert all(np.array_equal(p, q) for p, q in zip(a.coefs_ + a.intercepts_,
                                                    b.coefs_ + b.intercepts_))
    assert np.array_equal(a.predict(X), b.predict(X))


def test_same_seed_same_file_across_processes(tmp_path, start):
    script = textwrap.dedent("""
        import sys, numpy as np, glassnet as gn
        rng = np.random.default_rng(0)
        X = rng.normal(size=(100, 4)); y = (X[:, 0] > 0).astype(int)
        net = gn.Sequential([gn.Dense(8, activation="relu"), gn.Dropout(0.2), gn.Dense(2),
                             gn.Softmax()], random_state=3)
        net.fit(X, y, epochs=4, batch_size=10, verbose=0)
        net.save(sys.argv[1])
    """)
    paths = [str(tmp_path / f"{i}.glassnet") for i in range(2)]
    for p in paths:
        proc = start(script, p)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    members = []
    for p in paths:
        with zipfile.ZipFile(p) as zf:
            members.append((zf.read("weights.npz"), zf.read("optimizer.npz")))
    assert members[0] == members[1]
