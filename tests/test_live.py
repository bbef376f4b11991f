"""``LiveView`` over real HTTP: the snapshot, the event stream, the Stop button, the token,
where it listens and its port. Fits are small; every socket read has a timeout."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import numpy as np
import pytest
from sklearn.datasets import load_digits

import glassnet as gn
from glassnet.callbacks import Callback
from glassnet.glass.trace import trace_step

TIMEOUT = 2.0


def data(n=120, features=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


def small_net(seed=0, **kwargs):
    return gn.Sequential([gn.Dense(8, activation="relu"), gn.Dense(2, activation="softmax")],
                         random_state=seed, **kwargs)


def request(view, path, method="GET", token=True, headers=None):
    """``(status, body)`` of one request to the view's server."""
    host, port = view.server_address
    if token is True:
        token = urlsplit(view.url).query.split("=", 1)[1]
    query = "" if token is None else ("&" if "?" in path else "?") + f"token={token}"
    req = urllib.request.Request(f"http://{host}:{port}{path}{query}", method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def history(view):
    status, body = request(view, "/history")
    assert status == 200
    return json.loads(body)


class Events:
    """A client of ``/events``: ``next()`` the next event as a dict (comments skipped)."""

    def __init__(self, view, since=None):
        host, port = view.server_address
        token = urlsplit(view.url).query.split("=", 1)[1]
        self.conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        extra = "" if since is None else f"&since={since}"
        self.conn.request("GET", f"/events?token={token}{extra}")
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type") == "text/event-stream"
        assert self.response.fp.readline() == b": connected\n"  # the stream is open

    def next(self, kind=None):
        while True:
            line = self.response.fp.readline()
            if not line:
                return None  # the stream ended
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                if kind is None or event["type"] == kind:
                    return event

    def close(self):
        self.conn.close()


class Gate(Callback):
    """Holds the fit after each epoch until the test lets it go on (no sleeps); a recorder,
    so that ``fit`` calls it after the view that stands before it."""

    records_logs = True

    def __init__(self):
        super().__init__()
        self.reached = [threading.Event() for _ in range(20)]
        self.go_on = [threading.Event() for _ in range(20)]

    def on_epoch_end(self, epoch, logs=None):
        self.reached[epoch].set()
        assert self.go_on[epoch].wait(TIMEOUT)


def in_thread(fn):
    """Run ``fn`` in a thread; ``join()`` returns its result or raises its error."""
    box = {}

    def run():
        try:
            box["result"] = fn()
        except BaseException as exc:  # handed to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join():
        thread.join(TIMEOUT)
        assert not thread.is_alive()
        if "error" in box:
            raise box["error"]
        return box.get("result")
    return join


def test_history_grows_during_a_fit_and_matches_history():
    X, y = data()
    net, gate = small_net(), Gate()
    with gn.LiveView() as view:
        assert history(view)["status"] == "waiting"
        join = in_thread(lambda: net.fit(X, y, epochs=3, batch_size=32, validation_split=0.2,
                                         callbacks=[view, gate], verbose=0))
        seen = []
        for epoch in range(3):
            assert gate.reached[epoch].wait(TIMEOUT)
            seen.append(history(view))
            gate.go_on[epoch].set()
        record = join()
        final = history(view)
    assert [s["epoch"] for s in seen] == [1, 2, 3]
    assert [len(s["history"]["loss"]) for s in seen] == [1, 2, 3]
    assert [s["status"] for s in seen] == ["running"] * 3
    assert seen[0]["eta"] is not None and seen[0]["eta"] >= 0
    assert final["status"] == "finished" and final["eta"] is None
    # The page's numbers are History's.
    for key in ("loss", "val_loss", "val_accuracy", "learning_rate"):
        assert final["history"][key] == pytest.approx(record.history[key])
    assert final["epochs"] == 3
    model = final["model"]
    assert [layer["output_shape"] for layer in model["layers"]] == [[8], [2]]
    assert [layer["params"] for layer in model["layers"]] == [4 * 8 + 8, 8 * 2 + 2]
    assert model["total_params"] == net.count_params()
    # The view runs GradientStats for the page, and leaves the fit's History as it was.
    assert len(final["history"]["grad_norm/dense"]) == 3
    assert not any(key.startswith("grad_norm/") for key in record.history)


def test_the_page_shows_a_users_own_gradient_stats():
    X, y = data()
    with gn.LiveView() as view:  # before GradientStats in the list: fit calls it after
        record = small_net().fit(X, y, epochs=2, callbacks=[view, gn.GradientStats()],
                                 verbose=0)
        shown = history(view)["history"]
    for key in ("grad_norm/dense", "update_ratio/dense_1", "dead_relu/dense"):
        assert shown[key] == pytest.approx(record.history[key])


def test_gradient_warnings_reach_the_page():
    X, y = data()
    net = gn.Sequential([gn.Dense(1)], optimizer=gn.SGD(1e-12), random_state=0)
    with gn.LiveView() as view:
        net.fit(X * 1e5, y * 1e5, epochs=1, callbacks=[view], verbose=0)
        warnings = history(view)["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith("Gradients are exploding")


def test_events_deliver_each_epoch_within_a_second_and_an_end():
    X, y = data()
    net, gate = small_net(), Gate()
    with gn.LiveView() as view:
        events = Events(view)
        join = in_thread(lambda: net.fit(X, y, epochs=2, callbacks=[view, gate], verbose=0))
        assert events.next()["type"] == "begin"
        for epoch in range(2):
            assert gate.reached[epoch].wait(TIMEOUT)
            ended = time.monotonic()
            event = events.next("epoch")
            assert time.monotonic() - ended < 1.0
            assert event["epoch"] == epoch
            gate.go_on[epoch].set()
        record = join()
        end = events.next("end")
        events.close()
    assert event["logs"]["loss"] == pytest.approx(record.history["loss"][-1])
    assert end["status"] == "finished"


def test_batch_events_come_at_most_every_half_second():
    X, y = data(400)
    net = small_net()
    with gn.LiveView() as view:
        start = time.monotonic()
        net.fit(X, y, epochs=3, batch_size=4, callbacks=[view], verbose=0)  # 300 batches
        elapsed = time.monotonic() - start
        events = Events(view, since=0)
        kinds = []
        while (event := events.next()) is not None and event["type"] != "end":
            kinds.append(event["type"])
        events.close()
    assert kinds.count("epoch") == 3
    assert kinds.count("batch") <= elapsed / 0.5 + 1


def test_stop_button_stops_after_the_batch_and_keeps_the_best_weights():
    X, y = data(200)
    Xv, yv = data(60, seed=1)

    class Record(Callback):  # the weights and val_loss at every epoch end, for reference
        def on_train_begin(self, logs=None):
            self.params_seen, self.val = [], []

        def on_epoch_end(self, epoch, logs=None):
            self.params_seen.append(self.model.params.copy())
            self.val.append(logs["val_loss"])

    net, gate, record = small_net(optimizer=gn.Adam(0.05)), Gate(), Record()
    with gn.LiveView() as view:
        assert request(view, "/stop", "POST")[0] == 409  # nothing to stop yet
        # Labels flipped in validation: the better it learns, the worse val_loss gets, so
        # the best epoch is the first and the last weights are not it.
        join = in_thread(lambda: net.fit(X, y, epochs=10, batch_size=16, callbacks=[
            view, record, gate], validation_data=(Xv, 1 - yv), verbose=0))
        for epoch in range(3):
            assert gate.reached[epoch].wait(TIMEOUT)
            if epoch == 2:
                assert request(view, "/stop", "POST", token=None)[0] == 403
                assert request(view, "/stop", "POST")[0] == 200
                for later in gate.go_on[3:]:
                    later.set()
            gate.go_on[epoch].set()
        hist = join()
        final = history(view)
    assert final["status"] == "stopped" and view.status == "stopped"
    # Pressed while the third epoch's callbacks ran: the fit stops there, as for Ctrl-C
    # (a press during an epoch's batches would end it after the current batch, unrecorded).
    assert final["epoch"] == 3 and len(hist.history["loss"]) == 3
    assert "stopped from the live page during epoch 3;" in hist.stop_reason
    assert net.stop_training
    best = int(np.argmin(record.val))
    assert best != len(record.val) - 1
    np.testing.assert_array_equal(net.params, record.params_seen[best])
    assert "live page" in hist.stop_reason and f"epoch {best + 1}" in hist.stop_reason
    assert final["stop_reason"] == hist.stop_reason


def test_a_diverging_run_ends_diverged_with_a_warning():
    X, y = data()
    net = small_net(optimizer=gn.SGD(1e6))
    with gn.LiveView() as view:
        events = Events(view)
        with pytest.raises(gn.DivergenceError) as caught:
            net.fit(X * 100, y, epochs=5, callbacks=[view], verbose=0)
        end = events.next("end")
        events.close()
        final = history(view)
    assert end["status"] == final["status"] == "diverged"
    assert caught.value.summary in final["warnings"]
    assert json.dumps(final)  # valid JSON even though the loss became NaN


def test_a_run_that_a_callback_stops_is_stopped():
    X, y = data()
    with gn.LiveView() as view:
        gn.Sequential([gn.Dense(2, activation="softmax")], random_state=0).fit(
            X, y, epochs=50, callbacks=[view], target_loss=10.0, verbose=0)
        assert history(view)["status"] == "stopped"


@pytest.mark.parametrize("path", ["/", "/history", "/events", "/stop"])
def test_every_endpoint_needs_the_token(path):
    method = "POST" if path == "/stop" else "GET"
    with gn.LiveView() as view:
        assert request(view, path, method, token=None)[0] == 403
        assert request(view, path, method, token="wrong")[0] == 403
        assert request(view, path, method, token="")[0] == 403
    # The token goes in a header too.
    with gn.LiveView() as view:
        token = urlsplit(view.url).query.split("=", 1)[1]
        status, _ = request(view, "/history", token=None, headers={"X-Glassnet-Token": token})
        assert status == 200


def test_the_page_is_served_whole_and_offline():
    with gn.LiveView() as view:
        status, body = request(view, "/")
    page = body.decode()
    assert status == 200 and page.startswith("<!DOCTYPE html>")
    for element in ("status", "epoch", "loss-chart", "stop", "warnings", "network", "trace"):
        assert f'id="{element}"' in page
    assert "data-points" in page
    # Nothing fetched from elsewhere: no address but the SVG namespace name.
    assert [part for part in page.split("http")[1:]
            if not part.startswith("://www.w3.org/2000/svg")] == []


def test_listens_on_loopback_only_and_two_views_get_two_ports():
    with gn.LiveView() as a, gn.LiveView() as b:
        assert a.server_address[0] == b.server_address[0] == "127.0.0.1"
        assert a._server.socket.getsockname()[0] == "127.0.0.1"
        assert a.server_address[1] != b.server_address[1]
        assert a.url.startswith(f"http://127.0.0.1:{a.server_address[1]}/?token=")
        assert a.url != b.url.replace(str(b.server_address[1]), str(a.server_address[1]))


def test_close_frees_the_port_and_ends_the_event_stream():
    view = gn.LiveView()
    port = view.server_address[1]
    events = Events(view)
    view.close()
    assert events.next() is None  # the stream ends rather than hanging
    events.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    with gn.LiveView(port=port) as again:  # the port can be bound again
        assert again.server_address[1] == port
    view.close()  # a second close does nothing


def test_a_busy_port_is_one_clear_error():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(ValueError, match=rf"port={port}\).*in use.*port=0"):
            gn.LiveView(port=port)


@pytest.mark.parametrize("kwargs", [{"port": -1}, {"port": "8000"}, {"port": True},
                                    {"host": ""}, {"sample": ([1, 2], [1])}])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError, match="LiveView"):
        gn.LiveView(**kwargs)


def test_works_with_the_estimators_callbacks():
    X, y = load_digits(return_X_y=True)
    X = X[:300] / 16
    with gn.LiveView() as view:
        clf = gn.MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0,
                               callbacks=[view])
        with pytest.warns(Warning):  # scikit-learn's "maximum iterations reached"
            clf.fit(X, y[:300])
        final = history(view)
    assert final["status"] == "finished"
    assert final["epoch"] == clf.n_iter_ == 3
    assert final["model"]["total_params"] == 64 * 16 + 16 + 16 * 10 + 10


@pytest.mark.parametrize("seed", [0, "generator"])
def test_the_traced_step_is_trace_step_and_leaves_training_alone(seed):
    X, y = data(features=3)

    def fit(callbacks):
        net = small_net(np.random.default_rng(0) if seed == "generator" else seed)
        net.fit(X, y, epochs=3, batch_size=16, callbacks=callbacks, verbose=0)
        return net

    with gn.LiveView(sample=(X[:1], y[:1])) as view:
        traced = fit([view])
        final = history(view)
    plain = fit([])
    np.testing.assert_array_equal(traced.params, plain.params)  # not one bit changed
    assert final["trace_html"] == trace_step(traced, X[:1], y[:1]).to_html()


def test_no_trace_for_a_wide_network():
    X, y = data(features=20)
    with gn.LiveView(sample=(X[:1], y[:1])) as view:
        small_net().fit(X, y, epochs=1, callbacks=[view], verbose=0)
        assert history(view)["trace_html"] is None
