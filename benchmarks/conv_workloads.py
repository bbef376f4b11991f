"""The convolutional workloads (issue 12), glassnet ``Sequential.fit`` vs PyTorch eager:
float32, Adam 1e-3, one epoch over shuffled synthetic images labelled by a random linear
teacher, channels-last for glassnet and channels-first for torch (the same numbers).

  F  LeNet-like: 28x28x1 -> Conv2D(32, 5) ReLU MaxPool 2 -> Conv2D(64, 5) ReLU MaxPool 2
     -> Dense(128) ReLU -> Dense(10); 10,000 samples, batch 128
  G  32x32x3 -> Conv2D(32, 3, same) ReLU -> Conv2D(32, 3, same) ReLU MaxPool 2
     -> Conv2D(64, 3, same) ReLU MaxPool 2 -> Dense(10); 5,000 samples, batch 64
  H  1-D, 40 steps x 1 channel -> 3 x Conv1D(25, 5, strides=2, same) ReLU -> Dense(10);
     4,000 samples, batch 100
"""

from __future__ import annotations

import time

import numpy as np

from .memory import reset_peak, status_mb

CONV_WORKLOADS = {
    "F": {"shape": (28, 28, 1), "n": 10_000, "batch": 128},
    "G": {"shape": (32, 32, 3), "n": 5_000, "batch": 64},
    "H": {"shape": (40, 1), "n": 4_000, "batch": 100},
}
N_CLASSES = 10


def make_images(shape, n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, *shape), dtype=np.float32)
    teacher = rng.standard_normal((int(np.prod(shape)), N_CLASSES), dtype=np.float32)
    return X, (X.reshape(n, -1) @ teacher).argmax(axis=1)


def glassnet_model(workload):
    import glassnet as gn

    relu = {"activation": "relu"}
    layers = {
        "F": [gn.Conv2D(32, 5, **relu), gn.MaxPooling2D(2), gn.Conv2D(64, 5, **relu),
              gn.MaxPooling2D(2), gn.Flatten(), gn.Dense(128, **relu)],
        "G": [gn.Conv2D(32, 3, padding="same", **relu), gn.Conv2D(32, 3, padding="same", **relu),
              gn.MaxPooling2D(2), gn.Conv2D(64, 3, padding="same", **relu), gn.MaxPooling2D(2),
              gn.Flatten()],
        "H": [gn.Conv1D(25, 5, strides=2, padding="same", **relu) for _ in range(3)]
        + [gn.Flatten()],
    }[workload]
    return gn.Sequential([*layers, gn.Dense(N_CLASSES, activation="softmax")],
                         loss="cross_entropy", optimizer=gn.Adam(1e-3), random_state=0)


def torch_model(workload):
    import torch
    from torch import nn

    torch.manual_seed(0)
    layers = {
        "F": [nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5), nn.ReLU(),
              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 4 * 4, 128), nn.ReLU(),
              nn.Linear(128, N_CLASSES)],
        "G": [nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1),
              nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 8 * 8, N_CLASSES)],
        # Keras's "same" for k=5, stride 2: 2 zeros before, 2 after on even lengths (40, 20,
        # 10), which is torch's padding=2.
        "H": [nn.Conv1d(1, 25, 5, stride=2, padding=2), nn.ReLU(),
              nn.Conv1d(25, 25, 5, stride=2, padding=2), nn.ReLU(),
              nn.Conv1d(25, 25, 5, stride=2, padding=2), nn.ReLU(), nn.Flatten(),
              nn.Linear(25 * 5, N_CLASSES)],
    }[workload]
    model = nn.Sequential(*layers)
    model.opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    return model


def run(library, workload):
    """Seconds of one epoch of ``workload`` for ``library`` ("glassnet" or "torch"), and the
    epoch's memory: ``peak_mb``, the process's peak resident set during the epoch, and
    ``epoch_mb``, how far that peak rose above the resident set at its start (the data and
    the model already there).
    """
    spec = CONV_WORKLOADS[workload]
    X, y = make_images(spec["shape"], spec["n"])
    result = {"library": library, "workload": workload}
    if library == "glassnet":
        model = glassnet_model(workload)
        model.fit(X[:256], y[:256], epochs=1, batch_size=spec["batch"], verbose=0)  # warm up
        model = glassnet_model(workload)
        peak_reset, before = reset_peak(), status_mb("VmRSS")
        start = time.perf_counter()
        model.fit(X, y, epochs=1, batch_size=spec["batch"], verbose=0)
    else:
        import torch

        torch.set_num_threads(2)
        model = torch_model(workload)
        channels_first = np.ascontiguousarray(np.moveaxis(X, -1, 1))
        Xt, yt = torch.from_numpy(channels_first), torch.from_numpy(y)
        loss_fn = torch.nn.CrossEntropyLoss()
        peak_reset, before = reset_peak(), status_mb("VmRSS")
        start = time.perf_counter()
        order = torch.randperm(len(Xt))
        for i in range(0, len(Xt), spec["batch"]):
            idx = order[i : i + spec["batch"]]
            model.opt.zero_grad(set_to_none=True)
            loss_fn(model(Xt[idx]), yt[idx]).backward()
            model.opt.step()
    result["seconds"] = time.perf_counter() - start
    peak = status_mb("VmHWM")
    if peak_reset and peak is not None and before is not None:
        result["peak_mb"], result["epoch_mb"] = peak, peak - before
    return result
