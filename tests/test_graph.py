"""ModelGraph's short repr: one line, under 300 characters, whatever the model."""

from __future__ import annotations

import keras
import zoo

import inspector


def test_repr_is_short_and_names_the_model():
    model = keras.applications.MobileNetV2(weights=None)
    graph = inspector.build_graph(model)
    text = repr(graph)
    assert text == f"<ModelGraph {model.name!r} (Functional): {graph.layer_count:,} layers, {model.count_params():,} params>"
    assert len(text) < 300 and "\n" not in text
    keras.backend.clear_session()


def test_repr_of_a_long_name_and_a_static_view_stays_short(tmp_path):
    x = keras.Input((3,))
    model = keras.Model(x, keras.layers.Dense(2)(x), name="n" * 500)
    path = tmp_path / "long.keras"
    model.save(path)
    text = repr(inspector.static_graph(path))
    assert len(text) < 300 and text.endswith("2 layers, 8 params, static view>")
    assert repr(inspector.build_graph(zoo.nested_3_levels())).startswith("<ModelGraph 'nested_3_levels' (Functional)")
