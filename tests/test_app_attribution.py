"""The Attribution page, driven headless with ``streamlit.testing.v1.AppTest``: its numbers are the library's."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from test_app import array, assert_clean, charts, open_sample, texts, upload, viewer

import inspector

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_saliency_integrated_gradients_and_gradient_health_of_a_sample() -> None:
    at = open_sample("otto_mlp")
    at.switch_page("views/attribution.py").run()
    assert_clean(at)
    assert at.radio(key="attribution_source_widget").value == "Sample inputs"
    assert any("feature-map" in e for e in texts(at.error))  # Grad-CAM first: an MLP has no feature map, said so
    at.radio(key="attribution_method_widget").set_value("Saliency").run()
    at.number_input(key="attribution_row_widget").set_value(2).run()
    at.number_input(key="attribution_target_widget").set_value(4).run()
    assert_clean(at) and not at.error
    sample = inspector.get_sample("otto_mlp")
    model = inspector.load_model(sample.path)
    X = sample.load_inputs()
    expected = inspector.saliency(model, X[2:3] if not isinstance(X, dict) else {k: v[2:3] for k, v in X.items()},
                                  target=4).map[0]
    bars = charts(at)[0]["data"][0]
    np.testing.assert_allclose(array(bars["y"]).astype(float), expected, rtol=1e-6)

    at.radio(key="attribution_method_widget").set_value("Integrated gradients").run()
    assert_clean(at)
    assert any("Completeness passed" in s for s in texts(at.success))
    next(b for b in at.button if b.label == "Compute gradients of all layers").click().run()
    assert_clean(at)
    health = next(d.value for d in at.dataframe if "grad_norm" in d.value)
    assert health["layer"].tolist()[1:] == ["hidden", "logits", "softmax"]
    assert at.get("graphviz_chart"), "the gradient norms are drawn on the graph"

    # the Graph page's colour menu offers them too: each node's details carry its gradient norm
    at.switch_page("views/graph.py").run()
    choice = at.selectbox(key="graph_colour_widget")
    assert {"grad_norm", "grad_norm_max"} <= set(choice.options)
    choice.set_value("grad_norm").run()
    assert_clean(at)
    nodes = {n["id"]: dict(map(tuple, n["rows"])) for n in viewer(at)[1]["payload"]["nodes"].values()}
    expected = health.set_index("layer")["grad_norm"]
    for layer in ("hidden", "logits"):
        assert float(nodes[layer]["grad_norm"]) == pytest.approx(expected[layer], rel=0.01)


def test_token_ids_are_attributed_to_the_embedding() -> None:
    at = open_sample("masked_text")
    at.switch_page("views/attribution.py").run()
    at.radio(key="attribution_method_widget").set_value("Saliency").run()
    assert_clean(at) and not at.error
    assert any("Embedding" in c for c in texts(at.caption))


def test_an_uploaded_image_gets_a_grad_cam_overlay(tmp_path) -> None:
    import keras

    keras.utils.set_random_seed(1)
    x = keras.Input((16, 16, 3), name="image")
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(x)
    model = keras.Model(x, keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(h)))
    model.save(tmp_path / "cnn.keras")
    at = upload(open_sample("otto_mlp"), "cnn.keras", (tmp_path / "cnn.keras").read_bytes())
    at.switch_page("views/attribution.py").run()
    assert at.radio(key="attribution_source_widget").options == ["Upload image", "Upload data"]
    picture = np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    at.main.get("file_uploader")[0].set_value(("cat.png", buffer.getvalue(), "image/png")).run()
    assert_clean(at) and not at.error
    assert any("layer `conv`" in c or "layer conv" in c for c in texts(at.caption)), texts(at.caption)
    figure = charts(at)[0]
    assert figure["data"][0]["type"] == "image"
    assert len(at.get("download_button")) == 2  # the map and the overlay
