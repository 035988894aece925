"""The Attribution page in a real browser (headless Debian Chromium, as tests/test_browser.py drives the app).

Uploads a small convolutional model through the sidebar and a PNG through the page's image input, and checks
the Grad-CAM overlay is drawn, switching to integrated gradients shows the completeness check, and the gradient
health of every layer is drawn on the graph, with no exception box on the way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_browser import EXCEPTION, _open_page, _settle, browser, page, server  # noqa: F401 - fixtures

import inspector

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not Path("/usr/bin/chromium").exists(),
                                                      reason="no Chromium at /usr/bin/chromium")]


def test_attribution_page_in_chromium(page, server: str, tmp_path: Path) -> None:  # noqa: F811
    import keras
    from PIL import Image

    keras.utils.set_random_seed(3)
    x = keras.Input((24, 24, 3), name="image")
    h = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv")(x)
    h = keras.layers.GlobalAveragePooling2D(name="pool")(h)
    model = keras.Model(x, keras.layers.Dense(4, activation="softmax", name="probs")(h), name="tiny_cnn")
    model.save(tmp_path / "tiny_cnn.keras")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(tmp_path / "cat.png")

    page.goto(server)
    default = inspector.build_graph(inspector.list_samples()[0].path)
    page.locator("h1", has_text=f"Graph · {default.name}").wait_for()
    page.locator('[data-testid="stSidebar"] input[type="file"]').set_input_files(str(tmp_path / "tiny_cnn.keras"))
    page.locator("h1", has_text="tiny_cnn").first.wait_for()
    _settle(page)
    _open_page(page, "Attribution")
    _settle(page)
    page.locator('[data-testid="stMain"] input[type="file"]').set_input_files(str(tmp_path / "cat.png"))
    page.get_by_text("Grad-CAM of unit 0").first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    _settle(page)
    assert page.locator(EXCEPTION).count() == 0
    assert page.get_by_text("layer conv").count() + page.locator("code", has_text="conv").count() >= 1
    assert page.get_by_text("Download overlay (.png)").count() == 1
    page.screenshot(path=str(tmp_path / "attribution.png"), full_page=False)

    page.get_by_text("Integrated gradients", exact=True).click()
    page.get_by_text("Completeness passed").first.wait_for()
    _settle(page)
    page.get_by_role("button", name="Compute gradients of all layers").click()
    chart = page.locator('[data-testid="stGraphVizChart"] svg')
    chart.first.wait_for()
    _settle(page)
    assert page.locator(EXCEPTION).count() == 0
    assert page.locator('[data-testid="stGraphVizChart"] g.node').count() >= 3
