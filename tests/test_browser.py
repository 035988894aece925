"""The real app in a real browser: ``streamlit run app/main.py`` driven by headless Debian Chromium.

Uploads a ``.keras`` file through the sidebar's file input, opens the Graph page,
clicks a layer (which opens the Layer page), opens Activations, and checks that
no page shows an exception box.  Saves screenshots of the Graph and Activations
pages in the test's tmp folder; with ``KERAS_INSPECTOR_UPDATE_SCREENSHOT=1`` the Graph
one also replaces ``docs/screenshot.png`` (the README's picture).

Never runs ``playwright install``: it uses the system's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import inspector
from inspector.app import settings
from inspector.render import facts

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
STARTUP_SECONDS = 90
PAGE_SECONDS = 120_000  # ms: the first model load in a fresh server imports TensorFlow
EXCEPTION = '[data-testid="stException"]'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (apt install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """A Streamlit server running the app on a free port; yields its URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("KERAS_INSPECTOR_PRELOAD", None)
    env.pop("KERAS_INSPECTOR_ALLOW_TRUST", None)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--client.showErrorDetails", "full"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start (exit {process.poll()}):\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def page(server: str):
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    page.set_default_timeout(PAGE_SECONDS)
    try:
        yield page
    finally:
        browser.close()
        playwright.stop()


def _open_page(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.locator("h1", has_text=title).first.wait_for()


def _settle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")
    page.wait_for_timeout(300)


def test_upload_graph_layer_activations_in_chromium(page, server: str, tmp_path: Path) -> None:
    page.goto(server)
    default = inspector.build_graph(inspector.list_samples()[0].path)
    page.locator("h1", has_text=f"Overview · {default.name}").wait_for()
    assert page.locator(EXCEPTION).count() == 0

    upload = inspector.get_sample("nested_gan")
    gan = inspector.build_graph(upload.path)
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(upload.path))
    page.locator("h1", has_text=f"Overview · {gan.name}").wait_for()
    _settle(page)
    assert page.locator(EXCEPTION).count() == 0
    assert page.locator('[data-testid="stSidebar"]', has_text="model.keras").count() == 1
    assert page.get_by_text(f"{gan.total_params:,}").count() >= 1

    _open_page(page, "Graph")
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for()
    _settle(page)
    assert page.locator(EXCEPTION).count() == 0
    page.screenshot(path=str(tmp_path / "graph.png"), full_page=False)
    if os.environ.get("KERAS_INSPECTOR_UPDATE_SCREENSHOT") == "1":  # the README's picture, on request only
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(tmp_path / "graph.png", REPO / "docs" / "screenshot.png")

    # downloads are made when clicked (deferred): check two of them are real files of the right kind
    with page.expect_download() as download:
        page.get_by_role("button", name="JSON", exact=True).click()
    document = json.loads(Path(download.value.path()).read_text())
    assert {n["id"] for n in document["nodes"]} >= {"generator", "discriminator"}
    if settings.graphviz_available():
        with page.expect_download() as download:
            page.get_by_role("button", name="SVG", exact=True).click()
        assert b"<svg" in Path(download.value.path()).read_bytes()[:2000]
        assert download.value.suggested_filename == f"{gan.name}.svg"

    # click a layer box: its marker sits at the box centre, in the "layers" trace (same order as customdata)
    figure = inspector.graph_figure(gan, expand_depth=facts.default_expand_depth(gan))
    ids = [str(row[0]) for row in next(t for t in figure.data if t.name == "layers").customdata]
    target = "generator/g_dense_1"
    points = chart.locator(".scatterlayer .trace:has(.textpoint) .points path")
    assert points.count() == len(ids)
    point = points.nth(ids.index(target))
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.locator("h2", has_text="g_dense_1 · Dense").first.wait_for()
    _settle(page)
    assert page.locator("h1", has_text="Layer").count() == 1
    assert page.locator(EXCEPTION).count() == 0

    _open_page(page, "Activations")
    page.locator(".js-plotly-plot").first.wait_for()
    _settle(page)
    assert page.locator(EXCEPTION).count() == 0
    assert page.get_by_text("Download .npy").count() == 1
    page.screenshot(path=str(tmp_path / "activations.png"), full_page=False)

    # a broken upload: an error box, no exception, and the GAN is still shown
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a model at all")
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(broken))
    page.locator('[data-testid="stAlertContentError"]').first.wait_for()
    _settle(page)
    assert page.locator(EXCEPTION).count() == 0
    assert "not a Keras model file" in page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    assert page.get_by_text("Still showing the previous model").count() == 1
