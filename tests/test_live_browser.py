"""The live page in a real browser: headless Chromium (Debian's ``chromium``, driven by
Playwright with that executable; no browser is downloaded) opens the page during a run and
after it. The screenshots are kept in ``test-artifacts/live/`` to look at."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "live"

if CHROMIUM is None:
    if os.environ.get("CI"):  # CI installs it (.ci/run): missing there is a failure
        raise RuntimeError("chromium is not installed; .ci/run installs it with apt-get")
    pytest.skip("no chromium on this machine (apt-get install chromium)",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


class Gate(gn.Callback):
    """Holds the fit after epoch ``at`` (1-based) until released: the test's pause point
    (a recorder, so that it comes after the view: the page has the epoch when it holds)."""

    records_logs = True

    def __init__(self, at):
        super().__init__()
        self.at, self.reached, self.go = at, threading.Event(), threading.Event()

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.at:
            self.reached.set()
            assert self.go.wait(30), "the test never released the fit"


def data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def net():
    return gn.Sequential([gn.Dense(6, activation="tanh"), gn.Dense(2, activation="softmax")],
                         optimizer=gn.Adam(0.01), random_state=0)


def points(page):
    return int(page.get_attribute("#loss-chart", "data-points"))


def not_blank(path):
    import matplotlib.image as mpimg

    image = mpimg.imread(path)[..., :3]
    # A page with a chart, text and a badge: many distinct colours, and not one flat fill.
    colours = np.unique((image.reshape(-1, 3) * 255).astype(np.uint8), axis=0)
    return len(colours) > 20 and image.std() > 0.02


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox"])
        yield browser
        browser.close()


def test_the_page_follows_a_run_and_its_stop_button_stops_it(browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    X, y = data()
    model, gate = net(), Gate(at=3)
    with gn.LiveView() as view:
        done = threading.Event()
        result = {}

        def train():
            try:
                result["history"] = model.fit(X, y, epochs=50, batch_size=16,
                                              validation_split=0.25, verbose=0,
                                              callbacks=[view, gate])
            finally:
                done.set()

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(view.url)  # opened before training starts
        threading.Thread(target=train, daemon=True).start()
        assert gate.reached.wait(30)
        # Three epochs finished, the fit held in the third's on_epoch_end, after the view's
        # (earlier in the list): the page shows three points, then Stop is pressed.
        page.wait_for_function("() => +document.querySelector('#loss-chart')"
                               ".getAttribute('data-points') >= 3", timeout=10_000)
        shot = ARTIFACTS / "during-run.png"
        page.screenshot(path=str(shot), full_page=True)
        assert not_blank(shot)
        with page.expect_response(lambda r: "/stop" in r.url) as response:
            page.click("#stop")
        assert response.value.ok
        gate.go.set()  # the fit goes on, and stops after its next batch
        assert done.wait(30), "the Stop button did not stop the fit"
        finished = len(result["history"].history["loss"])
        assert finished < 50
        page.wait_for_function("() => document.querySelector('#status').textContent"
                               ".toLowerCase().includes('stopped')", timeout=10_000)
        page.wait_for_function(f"() => +document.querySelector('#loss-chart')"
                               f".getAttribute('data-points') === {finished}", timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "stopped.png"), full_page=True)

        # Opened after the run: the whole run at once, one point per finished epoch.
        later = browser.new_page(viewport={"width": 1280, "height": 900})
        later.goto(view.url)
        later.wait_for_function(f"() => +document.querySelector('#loss-chart')"
                                f".getAttribute('data-points') === {finished}",
                                timeout=10_000)
        assert "stopped" in later.text_content("#status").lower()
        shot = ARTIFACTS / "after-run.png"
        later.screenshot(path=str(shot), full_page=True)
        assert not_blank(shot)
        page.close()
        later.close()
