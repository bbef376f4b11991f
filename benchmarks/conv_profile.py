"""Where the time of one epoch of a convolutional workload goes (F, G, H of
``conv_workloads.py``), and the peak memory of that epoch.

    python -m benchmarks.conv_profile F G H [--rounds 3]

In-process and warm: the backend's array namespace and kernels are wrapped in timers
(``perf_counter`` around each ``matmul`` and each fused loop), each layer's ``forward`` and
``backward`` in another, so every second of ``Sequential.fit`` lands in one row: per layer
and direction, the matrix products, the compiled loops (im2col, col2im, pooling, ReLU),
the NumPy rest (padding, zero-fill, reshapes), then the optimizer step, the loss, and
what is left (batch gathering and Python). The timers cost ~1 µs a call, small beside
these calls (tens of µs to ms). Prints the median over ``--rounds`` epochs.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time

from .conv_workloads import CONV_WORKLOADS, glassnet_model, make_images


class _Clock:
    """Seconds per label, and the label of the layer call in progress."""

    def __init__(self):
        self.seconds = collections.Counter()
        self.where = "outside layers"

    def timed(self, label, fn):
        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[(self.where, label)] += time.perf_counter() - start
        return call


class _Proxy:
    """A module stand-in whose chosen functions are timed; the rest pass through."""

    def __init__(self, module, clock, names):
        self._module = module
        for name in names:
            setattr(self, name, clock.timed(name, getattr(module, name)))

    def __getattr__(self, name):
        return getattr(self._module, name)


def _instrument(net, clock):
    """Wrap ``net``'s backend and layers in ``clock``'s timers; returns the undo."""
    backend = net.backend
    xp, kernels = backend.xp, backend.kernels
    names = [n for n in dir(kernels) if not n.startswith("_") and callable(getattr(kernels, n))]
    backend.xp = _Proxy(xp, clock, ["matmul"])
    backend.kernels = _Proxy(kernels, clock, names)
    for i, layer in enumerate(net.layers):
        for direction in ("forward", "backward"):
            inner = getattr(layer, direction)
            label = f"{i} {type(layer).__name__} {direction}"

            def call(*args, _inner=inner, _label=label, **kwargs):
                outer, clock.where = clock.where, _label
                start = time.perf_counter()
                try:
                    return _inner(*args, **kwargs)
                finally:
                    clock.seconds[(_label, "total")] += time.perf_counter() - start
                    clock.where = outer
            setattr(layer, direction, call)
    net.apply_gradients = clock.timed("optimizer step", net.apply_gradients)
    net.loss_and_gradients = clock.timed("loss and gradients", net.loss_and_gradients)

    def undo():
        backend.xp, backend.kernels = xp, kernels
    return undo


def profile(workload, rounds):
    """``(rows, epoch_seconds)``: the median seconds of each (where, what) over rounds."""
    spec = CONV_WORKLOADS[workload]
    X, y = make_images(spec["shape"], spec["n"])
    warm = glassnet_model(workload)
    warm.fit(X[:256], y[:256], epochs=1, batch_size=spec["batch"], verbose=0)
    samples, epochs = collections.defaultdict(list), []
    for _ in range(rounds):
        net = glassnet_model(workload)
        net.fit(X[:spec["batch"]], y[:spec["batch"]], epochs=1, batch_size=spec["batch"],
                verbose=0)  # built, buffers allocated, before the clocks go on
        clock = _Clock()
        undo = _instrument(net, clock)
        start = time.perf_counter()
        try:
            net.fit(X, y, epochs=1, batch_size=spec["batch"], verbose=0)
        finally:
            epochs.append(time.perf_counter() - start)
            undo()
        for key, value in clock.seconds.items():
            samples[key].append(value)
    return {k: statistics.median(v) for k, v in samples.items()}, statistics.median(epochs)


def report(workload, rows, epoch):
    layers = sorted({where for where, _ in rows if where != "outside layers"},
                    key=lambda w: (int(w.split()[0]), w.endswith("backward")))
    lines = [f"{workload}: one epoch {epoch:.3f} s", "",
             "| where | total | matmul | compiled loops | NumPy rest |", "|---|---|---|---|---|"]
    in_layers = 0.0
    for where in layers:
        total = rows.get((where, "total"), 0.0)
        matmul = rows.get((where, "matmul"), 0.0)
        loops = {what: s for (w, what), s in rows.items()
                 if w == where and what not in ("total", "matmul")}
        loop_text = ", ".join(f"{name} {s * 1e3:.0f}" for name, s in
                              sorted(loops.items(), key=lambda kv: -kv[1]) if s > 5e-4)
        rest = total - matmul - sum(loops.values())
        in_layers += total
        lines.append(f"| {where} | {total * 1e3:.0f} ms ({total / epoch:.0%}) | "
                     f"{matmul * 1e3:.0f} | {loop_text or '-'} | {rest * 1e3:.0f} |")
    step = rows.get(("outside layers", "optimizer step"), 0.0)
    loss_all = rows.get(("outside layers", "loss and gradients"), 0.0)
    # loss_and_gradients holds the layers' forward and backward; its remainder is the loss.
    loss = loss_all - in_layers
    other = epoch - loss_all - step
    for name, value in (("loss (softmax cross-entropy, fused)", loss),
                        ("optimizer step (Adam, C)", step),
                        ("batches, validation, callbacks, Python", other)):
        lines.append(f"| {name} | {value * 1e3:.0f} ms ({value / epoch:.0%}) | | | |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conv_profile")
    parser.add_argument("workloads", nargs="*", default=["F", "G", "H"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    for workload in args.workloads:
        rows, epoch = profile(workload, args.rounds)
        print(report(workload, rows, epoch), "\n", flush=True)


if __name__ == "__main__":
    main()
