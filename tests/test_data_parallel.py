"""Data-parallel training on a Dask cluster (training/distributed.py) against the
single-process network: the same gradients, the same fit, and a lost worker."""

import numpy as np
import pytest

import glassnet as gn
from glassnet.training import distributed

distributed_ = pytest.importorskip("distributed")

N = 101  # odd: two workers hold 51 and 50 rows


def _cluster():
    return distributed_.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                     protocol="tcp://", dashboard_address="127.0.0.1:0")


@pytest.fixture(scope="module")
def client():
    with _cluster() as cluster, distributed_.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, 5))
    return X, (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 0), rng.uniform(0, 2, N)


def _net(optimizer=None, *extra):
    return gn.Sequential([gn.Dense(8, activation="tanh"), *extra,
                          gn.Dense(3, activation="softmax")],
                         optimizer=optimizer or gn.SGD(0.1, momentum=0.9), random_state=0,
                         dtype="float64")


@pytest.mark.parametrize("shards", [None, (30, 71), (0, 101)])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradients_equal_the_single_process_ones(client, data, shards, weighted):
    X, y, w = data
    w = w if weighted else None
    loss, grads = _net().compute_gradients(X, y, sample_weight=w)
    net = _net()
    d_loss, d_grads = distributed.compute_gradients(net, X, y, client, sample_weight=w,
                                                    shards=shards)
    assert d_loss == pytest.approx(loss, rel=1e-12)
    assert len(d_grads) == len(grads) == 4
    for g, d in zip(grads, d_grads):
        np.testing.assert_allclose(d, g, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("optimizer", [lambda: gn.SGD(0.1, momentum=0.9),
                                       lambda: gn.Adam(0.01)])
def test_fit_equals_the_single_process_fit(client, data, optimizer):
    X, y, w = data
    val = (X[:20], y[:20])
    ref = _net(optimizer())
    h_ref = ref.fit(X, y, epochs=3, batch_size=16, sample_weight=w, validation_data=val,
                    verbose=0)
    net = _net(optimizer())
    h = distributed.fit(net, X, y, client=client, epochs=3, batch_size=16, sample_weight=w,
                        validation_data=val, verbose=0)
    start = _net()
    start.compute_gradients(X, y)  # built: the weights both fits start from
    assert np.abs(ref.params - start.params).max() > 1e-3
    np.testing.assert_allclose(net.params, ref.params, rtol=0, atol=1e-10)
    assert h.history.keys() == h_ref.history.keys()
    for key in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(h.history[key], h_ref.history[key], rtol=1e-10)
    assert net.epochs_done == 3


def test_sequential_fit_with_client_and_stop_request(client, data):
    X, y, _ = data
    ref = _net()
    ref.fit(X, y, epochs=2, batch_size=32, verbose=0)
    net = _net()
    net.fit(X, y, epochs=2, batch_size=32, verbose=0, client=client)
    np.testing.assert_allclose(net.params, ref.params, rtol=0, atol=1e-10)

    class StopAt(gn.Callback):
        def on_batch_end(self, batch, logs=None):
            self.seen = getattr(self, "seen", 0) + 1
            if batch == 1:
                self.model.stop_requested = "asked"

    stop = StopAt()
    history = distributed.fit(_net(), X, y, client=client, epochs=5, batch_size=32,
                              callbacks=[stop], verbose=0)
    assert stop.seen == 2 and history.interrupted


def test_every_fit_option_works_as_without_client(client, data, tmp_path):
    """validation_split, target_loss, resume_from and on_divergence with client= train what
    the single-process fit trains (none of them silently ignored)."""
    X, y, w = data
    runs = {}
    for where in ("local", "cluster"):
        kw = {} if where == "local" else {"client": client}
        first = _net(gn.Adam(0.01))
        first.fit(X, y, epochs=2, batch_size=16, sample_weight=w, validation_split=0.2,
                  verbose=0, **kw)
        path = tmp_path / f"{where}.glassnet"
        first.save(path)
        resumed = _net(gn.Adam(0.01))
        history = resumed.fit(X, y, epochs=4, batch_size=16, sample_weight=w,
                              validation_split=0.2, resume_from=path, target_loss=1e-9,
                              verbose=0, **kw)
        with pytest.warns(RuntimeWarning, match="Training diverged"):
            _net(gn.SGD(1e12)).fit(X, y, epochs=2, on_divergence="warn", verbose=0, **kw)
        runs[where] = resumed, history
    (ref, h_ref), (net, h) = runs["local"], runs["cluster"]
    assert h.epoch == h_ref.epoch == [2, 3] and net.epochs_done == 4
    np.testing.assert_allclose(net.params, ref.params, rtol=0, atol=1e-10)
    for key in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(h.history[key], h_ref.history[key], rtol=1e-10)
    stopped = _net(gn.Adam(0.01)).fit(X, y, epochs=5, target_loss=10.0, verbose=0,
                                      client=client)
    assert stopped.epoch == [0]  # the first epoch's loss is under 10: the target stops it


def test_a_dask_x_with_client_is_refused(client, data):
    da = pytest.importorskip("dask.array")
    X, y, _ = data
    with pytest.raises(ValueError, match=r"^client= trains on NumPy arrays.*X\.compute\(\)"):
        _net().fit(da.from_array(X, chunks=50), y, client=client, verbose=0)


def test_dropout_and_penalized_losses_are_refused(client, data):
    X, y, _ = data
    with pytest.raises(ValueError, match="without Dropout/BatchNormalization.*dropout"):
        distributed.fit(_net(None, gn.Dropout(0.5)), X, y, client=client, verbose=0)
    with pytest.raises(ValueError, match="shards must be 2 row counts"):
        distributed.compute_gradients(_net(), X, y, client, shards=(50, 50))


def test_divergence_restores_the_weights_as_fit_does(client, data):
    X, y, _ = data
    ref, net = _net(gn.SGD(1e12)), _net(gn.SGD(1e12))
    with pytest.raises(gn.DivergenceError) as expected:
        ref.fit(X, y, epochs=3, batch_size=16, verbose=0)
    with pytest.raises(gn.DivergenceError) as got:
        distributed.fit(net, X, y, client=client, epochs=3, batch_size=16, verbose=0)
    assert (got.value.epoch, got.value.batch) == (expected.value.epoch, expected.value.batch)
    np.testing.assert_array_equal(net.params, ref.params)


class _KillAt(gn.Callback):
    """Close the worker of the first shard (the lowest address), abruptly (its data is lost
    with it), after batch 2."""

    def __init__(self, cluster):
        super().__init__()
        self.cluster, self.params_after = cluster, None

    def on_batch_end(self, batch, logs=None):
        if batch == 2 and self.params_after is None:
            self.params_after = self.model.params.copy()
            self.address = min(w.address for w in self.cluster.workers.values())
            worker = next(w for w in self.cluster.workers.values() if w.address == self.address)
            self.cluster.sync(worker.close)


def test_a_dead_worker_is_replaced_by_its_shards_copy(data):
    X, y, _ = data
    ref = _net(gn.Adam(0.01))
    ref.fit(X, y, epochs=3, batch_size=16, verbose=0)
    with _cluster() as cluster, distributed_.Client(cluster) as c:
        kill, net = _KillAt(cluster), _net(gn.Adam(0.01))
        distributed.fit(net, X, y, client=c, epochs=3, batch_size=16, callbacks=[kill],
                        verbose=0)
        assert len(c.scheduler_info()["workers"]) == 1
    # Every step, the ones after the loss too, used the whole batch's sum.
    np.testing.assert_allclose(net.params, ref.params, rtol=0, atol=1e-10)


def test_a_shard_without_copy_fails_the_step_clearly(data, monkeypatch):
    X, y, _ = data
    monkeypatch.setattr(distributed_.Client, "replicate", lambda self, futures, n: None)
    with _cluster() as cluster, distributed_.Client(cluster) as c:
        kill, net = _KillAt(cluster), _net()
        with pytest.raises(RuntimeError) as error:
            distributed.fit(net, X, y, client=c, epochs=3, batch_size=16, callbacks=[kill],
                            verbose=0)
    assert str(error.value) == (f"Worker {kill.address} died during epoch 1, step 4: its "
                                f"shard of rows 0..50 (51 rows) is gone from every worker; "
                                f"the step was not applied.")
    np.testing.assert_array_equal(net.params, kill.params_after)


def test_losing_every_worker_fails_the_step_clearly(data):
    X, y, _ = data

    class KillAll(_KillAt):
        def on_batch_end(self, batch, logs=None):
            if batch == 2 and self.params_after is None:
                self.params_after = self.model.params.copy()
                for worker in list(self.cluster.workers.values()):
                    self.cluster.sync(worker.close)

    with _cluster() as cluster, distributed_.Client(cluster) as c:
        kill, net = KillAll(cluster), _net()
        with pytest.raises(RuntimeError) as error:
            distributed.fit(net, X, y, client=c, epochs=3, batch_size=16, callbacks=[kill],
                            verbose=0)
    assert str(error.value).endswith(" died during epoch 1, step 4: its shard of rows 0..50 "
                                     "(51 rows) is gone from every worker; the step was not "
                                     "applied.")
    np.testing.assert_array_equal(net.params, kill.params_after)


def test_a_partial_sum_is_never_applied(client, data, monkeypatch):
    X, y, _ = data
    part_sums = distributed._part_sums

    def drops_a_row(run, twin, params, shard, rows, training):
        return part_sums(run, twin, params, shard, rows[1:], training)

    net = _net()
    net.compute_gradients(X, y)  # built
    before = net.params.copy()
    monkeypatch.setattr(distributed, "_part_sums", drops_a_row)
    with pytest.raises(RuntimeError, match="In epoch 1, step 1, the workers returned 15 of "
                                           "the batch's 16 rows; the step was not applied"):
        distributed.fit(net, X, y, client=client, epochs=1, batch_size=16, shuffle=False,
                        verbose=0)
    np.testing.assert_array_equal(net.params, before)
