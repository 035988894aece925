"""The app's Compare page (a second upload against the open model) and the Layer page's Embedding lookup,
driven headless with AppTest like tests/test_app.py."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from test_app import assert_clean, new_app, texts

import inspector

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SAMPLE = inspector.list_samples()[0]  # the app opens on it


def test_layer_page_shows_an_embedding_row_equals_its_one_hot_product() -> None:
    model = inspector.load_model(SAMPLE.path)
    layer = inspector.embedding_layers(model)["layer"][0]
    weights = model.get_layer(layer).get_weights()[0]
    at = new_app(selected_layer=layer)
    at.switch_page("views/layer.py").run()
    assert_clean(at)
    at.text_input(key="embedding_lookup_widget").set_value("5").run()
    assert_clean(at)
    message = next(m for m in texts(at.markdown) if "one_hot(5) @ W" in m)
    assert "equal, exactly" in message and f"{weights.shape[0]:,} × {weights.shape[1]:,}" in message
    table = next(d.value for d in at.dataframe if "one_hot(i) @ W" in d.value.columns)
    np.testing.assert_array_equal(table["W[i]"].to_numpy(), weights[5])
    np.testing.assert_array_equal(table["one_hot(i) @ W"].to_numpy(), np.eye(len(weights))[5] @ weights)
    at.text_input(key="embedding_lookup_widget").set_value(str(weights.shape[0])).run()
    assert_clean(at)
    assert any("outside" in e for e in texts(at.error))


def test_a_second_upload_is_compared_with_the_open_model() -> None:
    model = inspector.load_model(SAMPLE.path)
    layer = inspector.embedding_layers(model)["layer"][0]
    table = model.get_layer(layer).get_weights()[0]
    model.get_layer(layer).set_weights([table + np.float32(0.01)])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "nudged.keras"
        model.save(path)
        data = path.read_bytes()
    at = new_app()
    at.switch_page("views/compare.py").run()
    assert_clean(at)
    assert at.title[0].value.startswith("Compare")
    at.main.get("file_uploader")[0].set_value(("nudged.keras", data, "application/octet-stream"))
    at.run()
    assert_clean(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Changed"] == "1" and metrics["Added"] == metrics["Removed"] == "0"
    shown = at.dataframe[0].value
    assert shown["name"].tolist() == [layer]
    assert shown["weight_max_abs_diff"].iloc[0] == pytest.approx(0.01, abs=1e-6)
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download CSV", "Download HTML"]


def test_embeddings_page_offers_the_tensorboard_download() -> None:
    at = new_app()
    at.switch_page("views/embeddings.py").run()
    assert_clean(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download for TensorBoard's projector (.zip)" in labels
