"""Out of core: ``fit``, ``predict`` and ``evaluate`` of Dask arrays, a chunk of rows at a
time (``glassnet.data.dask``), against the same arrays in memory."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

import glassnet as gn
from benchmarks.memory import reset_peak, status_mb
from glassnet.data.dask import DaskSource

da = pytest.importorskip("dask.array")


def _data(n=120, d=5, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X @ rng.normal(size=(d, classes))).argmax(axis=1)
    return X, y


def _net(classes=3, dtype="float64", **kw):
    return gn.Sequential([gn.Dense(7, activation="tanh"), gn.Dense(classes, activation="softmax")],
                         optimizer=gn.Adam(0.01), random_state=0, dtype=dtype, **kw)


@pytest.mark.parametrize("chunks", [40, (13, 50, 7, 50)])
def test_fit_without_shuffle_equals_numpy(chunks):
    # Batches run across chunk boundaries, so any chunking gives NumPy's batches.
    X, y = _data()
    w = np.random.default_rng(1).uniform(0.5, 2, len(X))
    ref = _net()
    h_ref = ref.fit(X, y, epochs=3, batch_size=20, shuffle=False, sample_weight=w, verbose=0)
    net = _net()
    h = net.fit(da.from_array(X, chunks=(chunks, 5)), da.from_array(y, chunks=60), epochs=3,
                batch_size=20, shuffle=False, sample_weight=w, verbose=0)
    np.testing.assert_allclose(net.params, ref.params, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h.history["loss"], h_ref.history["loss"], rtol=1e-12)


def test_shuffled_batches_are_a_chunk_order_then_in_chunk_permutations():
    chunks, bs = (30, 20, 25, 45), 16
    n = sum(chunks)
    X = da.from_array(np.arange(n, dtype=float)[:, None], chunks=(chunks, 1))
    source = DaskSource(X, np.arange(n), None, bs, True, np.random.default_rng(3), np.float64,
                        np, prepare=lambda X, y, sw, first_row: (X, y, sw))
    twin = np.random.default_rng(3)  # the documented draws, replayed
    starts = np.cumsum((0,) + chunks[:-1])
    for _ in range(2):
        batches = list(source.batches())
        assert [len(b[0]) for b in batches] == [bs] * (n // bs) + [n % bs]
        assert len(batches) == source.steps
        seen = np.concatenate([b[0][:, 0] for b in batches]).astype(int)
        np.testing.assert_array_equal(seen, np.concatenate([b[1] for b in batches]))
        order = twin.permutation(len(chunks))
        expected = np.concatenate([starts[c] + twin.permutation(chunks[c]) for c in order])
        np.testing.assert_array_equal(seen, expected)


@pytest.mark.parametrize("bad", ["x_inf", "x_big", "y_nan", "w_neg", "y_label"])
def test_chunk_checks_give_numpy_messages_with_global_rows(bad):
    X, y = _data(100)
    y = y.astype(float)
    w = np.ones(len(X))
    if bad == "x_inf":
        X[57, 2] = np.inf
    elif bad == "x_big":
        X[73, 1] = 1e39  # beyond float32's range, in the fourth chunk
    elif bad == "y_nan":
        y[66] = np.nan
    elif bad == "w_neg":
        w[88] = -1
    else:
        y[91] = 7  # a label past the output units
    with pytest.raises(ValueError) as expected:
        _net(dtype="float32").fit(X, y, sample_weight=w, verbose=0, epochs=1)
    with pytest.raises(ValueError) as got:
        _net(dtype="float32").fit(da.from_array(X, chunks=(20, 5)), da.from_array(y, chunks=20),
                                  sample_weight=da.from_array(w, chunks=50), verbose=0, epochs=1)
    assert str(got.value) == str(expected.value)
    row = {"x_big": 73, "w_neg": 88}.get(bad)
    if row is not None:
        assert f"at row {row}" in str(got.value)


def test_validation_split_holds_out_last_whole_chunks():
    X, y = _data(100)
    Xd, yd = da.from_array(X, chunks=(10, 5)), da.from_array(y, chunks=10)
    for split, held in ((0.2, 20), (0.25, 20), (0.05, 10)):  # 2.5 chunks: 2; 0.5 chunk: 1
        ref = _net().fit(X[:-held], y[:-held], validation_data=(X[-held:], y[-held:]),
                         epochs=2, batch_size=16, shuffle=False, verbose=0)
        got = _net().fit(Xd, yd, validation_split=split, epochs=2, batch_size=16,
                         shuffle=False, verbose=0)
        for key in ("loss", "val_loss", "val_accuracy"):
            np.testing.assert_allclose(got.history[key], ref.history[key], rtol=1e-12)
    with pytest.raises(ValueError, match=r"validation_split=0.2 holds out whole chunks.*1 chunk"):
        _net().fit(da.from_array(X, chunks=(100, 5)), yd, validation_split=0.2, verbose=0)


def test_dask_validation_data_equals_numpy():
    X, y = _data(100)
    Xv, yv = _data(60, seed=5)
    ref = _net().fit(X, y, validation_data=(Xv, yv), epochs=2, batch_size=16, verbose=0)
    got = _net().fit(X, y, epochs=2, batch_size=16, verbose=0,
                     validation_data=(da.from_array(Xv, chunks=(25, 5)), yv))
    np.testing.assert_allclose(got.history["val_loss"], ref.history["val_loss"], rtol=1e-12)


def test_predict_and_evaluate_of_dask_equal_numpy():
    from sklearn.metrics import accuracy_score, log_loss

    X, y = _data(100)
    w = np.random.default_rng(2).uniform(0.5, 2, len(X))
    net = _net()
    net.fit(X, y, epochs=5, batch_size=16, verbose=0)
    Xd = da.from_array(X, chunks=(30, 5))
    P = net.predict(Xd)
    assert type(P).__module__.startswith("dask.") and P.chunks[0] == Xd.chunks[0]
    before = net.predict(X)
    net.fit(X, y, epochs=1, verbose=0)  # the lazy result keeps the weights it was made with
    np.testing.assert_allclose(P.compute(), before, rtol=1e-12)
    got = net.evaluate(Xd, da.from_array(y, chunks=40), sample_weight=w)
    P = net.predict(X)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, P.argmax(1), sample_weight=w))
    assert got["loss"] == pytest.approx(log_loss(y, P, sample_weight=w), rel=1e-9)
    X[42, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        net.predict(da.from_array(X, chunks=(30, 5))).compute()


def test_fit_with_client_delegates_to_distributed(monkeypatch):
    from glassnet.training import distributed

    calls = {}
    monkeypatch.setattr(distributed, "fit", lambda net, X, y, **kw: calls.setdefault("fit", kw))
    monkeypatch.setattr(distributed, "compute_gradients",
                        lambda net, X, y, client, **kw: calls.setdefault("grads", (client, kw)))
    X, y = _data()
    net = _net()
    assert net.fit(X, y, client="c", epochs=2, verbose=0)["client"] == "c"
    assert net.compute_gradients(X, y, client="c") == ("c", {"sample_weight": None,
                                                             "training": False})
    loss, grads = net.compute_gradients(X, y)  # no client: the network's own
    assert len(grads) == 4


def test_import_glassnet_does_not_import_dask():
    code = "import glassnet, sys; assert 'dask' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_out_of_core_two_gigabytes_with_bounded_memory():
    """2 GB of float32 features (200_000 x 2_500), generated lazily a chunk of 5_000 rows
    (50 MB) at a time and never materialized, with labels from a linear teacher; one epoch
    grows the process's peak memory by well under the data's size: two chunks in flight
    (the one cut into batches, the next computed ahead) and the network."""
    if not reset_peak() or status_mb("VmHWM") is None:
        pytest.skip("needs Linux's /proc/self/clear_refs")
    n, d, rows = 200_000, 2_500, 5_000
    teacher = np.random.default_rng(7).normal(size=d).astype(np.float32)

    def make(seed, n):
        X = da.random.default_rng(seed).standard_normal((n, d), chunks=(rows, d),
                                                        dtype=np.float32)
        return X, (X @ teacher > 0).astype(np.int64)

    X, y = make(0, n)
    X_test, y_test = make(1, 2 * rows)
    assert X.nbytes == 2_000_000_000
    net = gn.Sequential([gn.Dense(16, activation="relu"), gn.Dense(2, activation="softmax")],
                        optimizer=gn.Adam(1e-3), random_state=0)
    reset_peak()
    before = status_mb("VmRSS")
    start = time.perf_counter()
    net.fit(X, y, epochs=1, batch_size=256, verbose=0)
    elapsed = time.perf_counter() - start
    grown = status_mb("VmHWM") - before
    assert grown < 300, f"peak memory grew by {grown:.0f} MB"
    accuracy = net.evaluate(X_test, y_test)["accuracy"]
    print(f"out of core: {elapsed:.1f} s, peak +{grown:.0f} MB, accuracy {accuracy:.3f}")
    assert accuracy > 0.6


def test_dask_dataframe_trains_as_its_values():
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = _data(100)
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcde")), npartitions=4)
    labels = dd.from_pandas(pd.Series(y), npartitions=3)
    ref = _net().fit(X, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    got = _net().fit(frame, labels, epochs=2, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_allclose(got.history["loss"], ref.history["loss"], rtol=1e-12)
    with pytest.raises(ValueError, match="unknown chunk sizes; call X.compute_chunk_sizes"):
        _net().fit(frame.values, y, verbose=0)
