"""Nothing lost on a crash or Ctrl-C, and the same seed gives the same bits.

The kill -9 and SIGINT tests train in a subprocess (``sys.executable -c ...``) on small
data, so each takes a few seconds.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile

import numpy as np
import pytest

import glassnet as gn

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TRAIN = textwrap.dedent("""
    import sys, numpy as np, glassnet as gn

    class Say(gn.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print(self.model.epochs_done, flush=True)

    path, epochs = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 32))
    y = (X[:, 0] > 0).astype(int)
    net = gn.Sequential([gn.Dense(512, activation="relu"), gn.Dense(128, activation="relu"),
                         gn.Dense(2), gn.Softmax()], random_state=0)
    resume = path if len(sys.argv) > 3 else None
    print("ready", flush=True)
    net.fit(X, y, epochs=epochs, batch_size=32, verbose=0, resume_from=resume,
            callbacks=[gn.Checkpoint(path, keep_best=False), Say()])
""")


def start(*args):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-c", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_kill_9_never_leaves_a_broken_checkpoint(tmp_path):
    """SIGKILL at random moments (most of the run is spent saving ~0.6 MB checkpoints):
    the checkpoint always loads and holds the last epoch reported saved, or the next.
    """
    path = str(tmp_path / "ckpt.glassnet")
    rng = np.random.default_rng()
    last = 0
    for round_ in range(6):
        args = [TRAIN, path, "100000"] + (["resume"] if os.path.exists(path) else [])
        proc = start(*args)
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        reported = [int(line) for line in out.split()]
        if not os.path.exists(path):  # killed before the first save finished
            assert not reported
            continue
        previous = reported[-1] if reported else last
        net = gn.load(path)  # never a ModelFileError
        assert net.epochs_done in (previous, previous + 1), (round_, net.epochs_done, previous)
        assert net.epochs_done >= last and np.isfinite(net._params).all()
        last = net.epochs_done
    assert last > 0


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


def test_sigint_exits_normally_with_the_best_model_saved(tmp_path):
    proc = start(SIGINT_SCRIPT, str(tmp_path))
    for line in proc.stdout:
        if line.startswith("epoch") and int(line.split()[1]) >= 5:
            break
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
        assert np.isfinite(net._params).all()
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
        assert np.array_equal(a._params, b._params)
        for key in ("loss", "val_loss", "val_accuracy"):
            assert a.history.history[key] == b.history.history[key]
    c = gn.Sequential([gn.Dense(16, activation="tanh"), gn.Dropout(0.3), gn.Dense(2),
                       gn.Softmax()], optimizer=gn.AdamW(0.01), random_state=43)
    c.fit(X, y, epochs=5, batch_size=16, validation_split=0.2, verbose=0)
    assert not np.array_equal(c._params, run("float32")._params)


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


def test_same_seed_same_file_across_processes(tmp_path):
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
