"""One timed run of one workload for one library, in its own process.

    python -m benchmarks.workloads LIBRARY WORKLOAD

prints one JSON line: {"seconds": ..., "extra_mb": ..., ...}. Run by
``python -m benchmarks``, which alternates libraries and repeats rounds.

Workloads (float32, Adam 1e-3, Glorot init, one epoch over shuffled synthetic data
labelled by a random linear teacher):
  A  784-256-128-10 ReLU, batch 128, 60,000 samples
  B  784-256-128-10 ReLU, batch 16, 10,000 samples
  C  784-1024-1024-10 ReLU, batch 256, 10,000 samples
  D  predict_proba of one sample (seconds per call), on the net of A
  E  extra peak memory (MB) of a one-epoch fit of A over its 188 MB of data

Libraries: glassnet (``Sequential.fit``), glassnet-live (the same with a ``LiveView`` and a
client on its event stream), glassnet-mlp (``MLPClassifier``), sklearn, torch.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np

from .memory import reset_peak, status_mb

WORKLOADS = {
    "A": {"hidden": (256, 128), "batch": 128, "n": 60_000},
    "B": {"hidden": (256, 128), "batch": 16, "n": 10_000},
    "C": {"hidden": (1024, 1024), "batch": 256, "n": 10_000},
    "D": {"hidden": (256, 128), "batch": 128, "n": 2_000},
    "E": {"hidden": (256, 128), "batch": 128, "n": 60_000},
}
N_FEATURES, N_CLASSES = 784, 10


def make_data(n, seed=0):
    """Teacher-labelled Gaussian data, generated in float32 chunks (no float64 peak)."""
    rng = np.random.default_rng(seed)
    teacher = rng.standard_normal((N_FEATURES, N_CLASSES), dtype=np.float32)
    X = np.empty((n, N_FEATURES), dtype=np.float32)
    for i in range(0, n, 5000):
        X[i : i + 5000] = rng.standard_normal((min(5000, n - i), N_FEATURES), dtype=np.float32)
    y = (X @ teacher).argmax(axis=1)
    return X, y


def train_flops(hidden, n):
    """Multiply-adds x 2 of one training epoch: forward 2mnk per layer, backward 4mnk,
    except no input gradient for the first layer (2mnk there).
    """
    sizes = (N_FEATURES, *hidden, N_CLASSES)
    per_sample = sum(2 * a * b for a, b in zip(sizes, sizes[1:]))  # forward
    per_sample += sum(4 * a * b for a, b in zip(sizes, sizes[1:])) - 2 * sizes[0] * sizes[1]
    return per_sample * n


# -- the three libraries ----------------------------------------------------------------

def glassnet_model(hidden, seed=0):
    import glassnet as gn

    layers = [gn.Dense(h, activation="relu") for h in hidden]
    layers.append(gn.Dense(N_CLASSES, activation="softmax"))
    return gn.Sequential(layers, loss="cross_entropy", optimizer=gn.Adam(1e-3), random_state=seed)


def fit_glassnet(model, X, y, batch):
    model.fit(X, y, epochs=1, batch_size=batch, verbose=0)


def glassnet_live_model(hidden, seed=0):
    """The network of ``glassnet_model`` with a ``LiveView`` watching it and one client
    following its event stream, as an open page does (both started before the clock)."""
    import threading
    import urllib.parse
    import urllib.request

    import glassnet as gn

    model = glassnet_model(hidden, seed)
    model.bench_view = gn.LiveView()
    parts = urllib.parse.urlsplit(model.bench_view.url)
    events = urllib.parse.urlunsplit(parts._replace(path="/events"))

    def follow():
        try:
            with urllib.request.urlopen(events, timeout=600) as stream:
                for _ in stream:
                    pass
        except OSError:
            pass

    threading.Thread(target=follow, daemon=True).start()
    return model


def fit_glassnet_live(model, X, y, batch):
    model.fit(X, y, epochs=1, batch_size=batch, verbose=0, callbacks=[model.bench_view])
    model.bench_view.close()


def glassnet_estimator(hidden, seed=0):
    from glassnet import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=hidden, solver="adam", batch_size=0, max_iter=1,
                         random_state=seed, alpha=0.0, shuffle=True, tol=0.0)


def sklearn_model(hidden, seed=0):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=hidden, solver="adam", batch_size=0, max_iter=1,
                         random_state=seed, alpha=0.0, shuffle=True, tol=0.0)


def fit_estimator(model, X, y, batch):
    model.set_params(batch_size=batch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after one epoch
        model.fit(X, y)


def torch_model(hidden, seed=0):
    import torch

    torch.manual_seed(seed)
    sizes = (N_FEATURES, *hidden)
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(sizes[-1], N_CLASSES))
    for layer in layers:
        if isinstance(layer, torch.nn.Linear):
            torch.nn.init.xavier_uniform_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
    model = torch.nn.Sequential(*layers)
    model.opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return model


def fit_torch(model, X, y, batch):
    import torch

    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()
    order = torch.randperm(len(Xt))
    for i in range(0, len(Xt), batch):
        idx = order[i : i + batch]
        model.opt.zero_grad(set_to_none=True)
        loss_fn(model(Xt[idx]), yt[idx]).backward()
        model.opt.step()


def predict_one(library, model, x):
    if library == "torch":
        import torch

        with torch.no_grad():
            return torch.softmax(model(torch.from_numpy(x)), dim=1)
    if library == "glassnet":
        return model.predict(x)
    return model.predict_proba(x)


LIBRARIES = {
    "glassnet": (glassnet_model, fit_glassnet),
    "glassnet-live": (glassnet_live_model, fit_glassnet_live),
    "glassnet-mlp": (glassnet_estimator, fit_estimator),
    "sklearn": (sklearn_model, fit_estimator),
    "torch": (torch_model, fit_torch),
}


def run(library, workload):
    if workload in "FGH":
        from .conv_workloads import run as run_conv

        return run_conv(library, workload)
    spec = WORKLOADS[workload]
    make, fit = LIBRARIES[library]
    X, y = make_data(spec["n"])
    model = make(spec["hidden"])
    result = {"library": library, "workload": workload}
    if workload == "D":
        fit(model, X, y, spec["batch"])
        x = X[:1].copy()
        for _ in range(200):
            predict_one(library, model, x)
        reps = 2000
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(reps):
                predict_one(library, model, x)
            times.append((time.perf_counter() - start) / reps)
        result["seconds"] = min(times)
        return result
    if workload == "E":
        # Warm up on a little data (imports, lazy allocations), then reset the peak.
        fit(make(spec["hidden"]), X[:512], y[:512], spec["batch"])
        reset_peak()  # VmHWM (the peak resident set) back to the current RSS
        before = status_mb("VmRSS")
        fit(model, X, y, spec["batch"])
        result["extra_mb"] = status_mb("VmHWM") - before
        result["data_mb"] = X.nbytes / 2**20
        return result
    start = time.perf_counter()
    fit(model, X, y, spec["batch"])
    result["seconds"] = time.perf_counter() - start
    result["gflops"] = train_flops(spec["hidden"], spec["n"]) / result["seconds"] / 1e9
    return result


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], sys.argv[2])))
