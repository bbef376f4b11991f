"""Single-sample latency: ONNX Runtime on the exported model vs glassnet's own ``predict``.

    python -m benchmarks.onnx_latency

Models (float32): workload A's network (784-256-128-10 ReLU, softmax; one epoch on workload
D's 2,000 samples) as a ``Sequential`` (``predict``) and as an ``MLPClassifier``
(``predict_proba``), and workload F's LeNet-like conv net (28x28x1, two conv + pool, built,
not trained: latency does not depend on the weights). Each timing is the mean of ``REPS``
calls on one sample; the rounds interleave the two runtimes, and the table gives the medians
of ``ROUNDS`` rounds. ONNX Runtime runs on the CPU provider with one intra-op thread (a single
sample has no work to split), after a check that its outputs equal glassnet's.
"""

from __future__ import annotations

import functools
import statistics
import time
import warnings

import numpy as np

from .conv_workloads import CONV_WORKLOADS
from .conv_workloads import glassnet_model as conv_model
from .workloads import WORKLOADS, glassnet_estimator, glassnet_model, make_data

ROUNDS, REPS, WARMUP = 7, 500, 100


def _session(model):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def cases():
    """``(name, glassnet call, ONNX Runtime call)`` for each model, on one sample."""
    import glassnet as gn

    spec = WORKLOADS["D"]
    X, y = make_data(spec["n"])
    x = X[:1].copy()
    net = glassnet_model(spec["hidden"])
    net.fit(X, y, epochs=1, batch_size=spec["batch"], verbose=0)
    clf = glassnet_estimator(spec["hidden"]).set_params(batch_size=spec["batch"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after one epoch
        clf.fit(X, y)
    shape = CONV_WORKLOADS["F"]["shape"]
    conv = conv_model("F").build(shape)
    image = np.random.default_rng(0).standard_normal((1, *shape), dtype=np.float32)
    out = []
    for name, model, ours, feed, output in [
        ("A: Sequential.predict", net, lambda: net.predict(x), {"input": x}, "output"),
        ("A: MLPClassifier.predict_proba", clf, lambda: clf.predict_proba(x), {"X": x},
         "probabilities"),
        ("F: conv Sequential.predict", conv, lambda: conv.predict(image), {"input": image},
         "output"),
    ]:
        session = _session(gn.to_onnx(model))
        theirs = functools.partial(_run, session, output, feed)
        np.testing.assert_allclose(theirs(), ours(), atol=1e-5)
        out.append((name, ours, theirs))
    return out


def _run(session, output, feed):
    return session.run([output], feed)[0]


def _per_call(fn):
    start = time.perf_counter()
    for _ in range(REPS):
        fn()
    return (time.perf_counter() - start) / REPS


def main():
    rows = cases()
    times = {(name, who): [] for name, *_ in rows for who in (0, 1)}
    for _, ours, theirs in rows:
        for _ in range(WARMUP):
            ours(), theirs()
    for r in range(ROUNDS):
        for name, ours, theirs in rows:
            order = [(0, ours), (1, theirs)] if r % 2 == 0 else [(1, theirs), (0, ours)]
            for who, fn in order:
                times[name, who].append(_per_call(fn))
    print(f"single-sample latency, median of {ROUNDS} interleaved rounds of {REPS} calls")
    print(f"{'model':<34}{'glassnet (µs)':>15}{'ONNX Runtime (µs)':>20}{'glassnet / ORT':>16}")
    for name, *_ in rows:
        ours = statistics.median(times[name, 0]) * 1e6
        theirs = statistics.median(times[name, 1]) * 1e6
        print(f"{name:<34}{ours:>15.1f}{theirs:>20.1f}{ours / theirs:>15.2f}x")


if __name__ == "__main__":
    main()
