"""Stopping the app's server while a model loads in the background: SIGTERM or Ctrl-C (SIGINT) ends the server
and every process it started within 5 s.

The server is ``keras-inspector app MODEL`` (it becomes Streamlit); a headless Chromium opens the page, so the
static graph is drawn and Keras starts loading the model (an 800-layer chain: about 25 s on a busy 2-core
machine). The signal goes out while the sidebar still says "Loading the model…". It once hung for minutes in
"Stopping...": the loading thread, killed at interpreter exit while it held h5py's lock, left a deallocation
waiting for that lock forever, with the HDF5 reader child alive.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from servers import wait_for_health

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
LAYERS = 800

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (apt install chromium)"),
]


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model Keras takes long to load: a chain of many small Dense layers."""
    import keras

    x = inputs = keras.Input((16,), name="x")
    for i in range(LAYERS):
        x = keras.layers.Dense(16, name=f"dense_{i}")(x)
    path = tmp_path_factory.mktemp("slow") / "long_chain.keras"
    keras.Model(inputs, x, name="long_chain").save(path)
    return path


def descendants(root: int) -> set[int]:
    """Every living process under ``root`` (from /proc; no psutil), zombies left out."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        state, parent = text[text.rindex(")") + 2:].split()[:2]
        if state != "Z":
            children.setdefault(int(parent), []).append(int(stat.parent.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_signal_mid_load_stops_the_server_and_its_children(stop: signal.Signals, slow_model: Path,
                                                           tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "inspector", "app", str(slow_model), "--port", str(port),
                                   "--no-browser"], cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    started: set[int] = set()
    try:
        wait_for_health(f"http://127.0.0.1:{port}", server, 120, log)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            try:
                page = browser.new_page()
                page.set_default_timeout(180_000)
                page.goto(f"http://127.0.0.1:{port}/")
                page.locator("h1", has_text="Graph · long_chain").first.wait_for()
                page.get_by_text("Loading the model").first.wait_for()
                time.sleep(2)  # well into the Keras load (about 25 s)
                assert page.get_by_text("Loading the model").count() > 0, "the load ended before the signal"
                started = descendants(server.pid)
                assert started, "the server started no HDF5 reader"
                sent = time.monotonic()
                server.send_signal(stop)
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pytest.fail(f"the server still runs 30 s after {stop.name}:\n{log.read_text()[-3000:]}")
                seconds = time.monotonic() - sent
                deadline = time.monotonic() + 5
                while alive(started) and time.monotonic() < deadline:
                    time.sleep(0.1)
                left = alive(started)
            finally:
                browser.close()
        print(f"\n{stop.name} mid-load: server exited in {seconds:.1f} s (code {server.returncode}); "
              f"{len(started)} child process(es), {len(left)} left")
        assert seconds <= 5, log.read_text()[-3000:]
        assert not left, f"children left running: {left}"
    finally:
        for pid in alive(started | {server.pid}):
            os.kill(pid, signal.SIGKILL)
        server.wait()
