"""``glassnet train --live`` and ``glassnet demo --live``: the address on stderr, the page
serving the run while it trains and after, until Enter; run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest


def start(*args, cwd):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "glassnet", *map(str, args)], cwd=cwd,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_for_line(stream, pattern, limit=400):
    """The first line of ``stream`` that matches ``pattern`` (lines read one by one)."""
    seen = []
    for _ in range(limit):
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match, seen
    raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(seen)}")


def snapshot(url):
    parts = urllib.parse.urlsplit(url)
    with urllib.request.urlopen(urllib.parse.urlunsplit(parts._replace(path="/history")),
                                timeout=5) as response:
        return json.load(response)


def port_is_free(port):
    """Whether a server could listen on ``port`` again (SO_REUSEADDR, as http.server sets:
    the connections the test made may linger in TIME_WAIT)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture
def csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    label = (X[:, 0] > 0).astype(int)
    lines = ["a,b,c,label"] + [f"{r[0]:.5f},{r[1]:.5f},{r[2]:.5f},{t}" for r, t in zip(X, label)]
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_live_serves_the_finished_run_until_enter(csv, tmp_path):
    proc = start("train", csv, "--target", "label", "--epochs", 4, "--hidden", 4,
                 "--validation-split", 0, "--out", tmp_path / "m.glassnet", "--live",
                 cwd=tmp_path)
    try:
        match, _ = wait_for_line(proc.stderr, r"watch the run live at (http://127\.0\.0\.1:"
                                              r"\d+/\S*token=\S+)")
        url = match.group(1)
        wait_for_line(proc.stderr, r"the page stays up at .*press Enter")
        state = snapshot(url)  # after training: the whole run, still served
        assert state["status"] == "finished"
        assert state["epoch"] == state["epochs"] == 4
        assert len(state["history"]["loss"]) == 4
        port = urllib.parse.urlsplit(url).port
        out, _ = proc.communicate("\n", timeout=30)  # Enter: the page closes, the CLI ends
        assert proc.returncode == 0
        assert "saved the model to" in out
        assert port_is_free(port)
        with pytest.raises(urllib.error.URLError):
            snapshot(url)
    finally:
        proc.kill()
        proc.wait()


def test_live_with_lbfgs_is_refused_in_one_line(csv, tmp_path):
    proc = start("train", csv, "--target", "label", "--optimizer", "lbfgs", "--live",
                 cwd=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().splitlines() == [
        "glassnet train: error: --live needs --optimizer adam or sgd: lbfgs does not train "
        "in epochs"]
