"""Renderers on graphs walked from real Keras models: the tests/zoo.py models and keras.applications.

The TensorFlow-free renderer tests are in test_render.py; here the graphs come
from ``inspector.build_graph`` on real models built in code (``weights=None``,
nothing downloaded), and the SVG comes from the real ``dot`` program.
"""

from __future__ import annotations

import json
import shutil
import time
import xml.etree.ElementTree as ET

import keras
import pytest
import zoo

from inspector import build_graph
from inspector.graph import NodeKind
from inspector.rendering import from_json, graph_figure, render, to_dot, to_html, to_json
from inspector.rendering.view import prepare

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` binary not installed")
SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_nodes(svg: bytes) -> list[ET.Element]:
    """The layers' boxes (a file's drawing also has a box for each nested model's title)."""
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "node" and not g.get("id", "").endswith("_title")]


def layer_count(graph) -> int:
    return sum(1 for _ in graph.walk())


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_zoo_models_render_everywhere(name: str) -> None:
    keras.backend.clear_session()  # reset automatic layer names, so the same model gets the same names
    graph = build_graph(zoo.ZOO[name]())
    view = prepare(graph)
    assert sum(len(n.members) or 1 for n in view.graph.nodes) == len(graph.expanded().nodes)
    keras.backend.clear_session()
    assert to_dot(graph) == to_dot(build_graph(zoo.ZOO[name]()))  # same model, same DOT
    figure = graph_figure(graph)
    ids = [row[0] for row in next(t for t in figure.data if t.name == "layers").customdata]
    assert ids == [n.id for n in view.graph.nodes]
    assert 'class="node"' in to_html(graph, engine="builtin")
    assert from_json(json.loads(json.dumps(to_json(graph)))) == graph
    if shutil.which("dot"):
        assert len(svg_nodes(render(graph, "svg"))) == len(view.graph.nodes)


@needs_dot
def test_shared_and_nested_zoo_models_show_ties_and_clusters() -> None:
    shared = to_dot(build_graph(zoo.shared_layer()))
    assert 'label="shared"' in shared and "shared with shared_dense" in shared
    nested = build_graph(zoo.nested_3_levels())
    assert to_dot(nested).count("subgraph cluster_") == 2
    assert "subgraph" not in to_dot(nested, expand_depth=0)
    svg = ET.fromstring(render(nested, "svg"))
    clusters = [g for g in svg.iter(f"{SVG_NS}g") if g.get("class") == "cluster"]
    assert len(clusters) == 2


@needs_dot
@pytest.mark.parametrize("name", ["MobileNetV2", "EfficientNetB0", "Xception"])
def test_keras_applications_render_to_svg(name: str) -> None:
    # EfficientNetB0 and Xception crash plot_model's Graphviz (orthogonal edge router); not ours
    model = getattr(keras.applications, name)(weights=None)
    graph = build_graph(model)
    start = time.perf_counter()
    svg = render(graph, "svg", collapse_blocks=False)
    elapsed = time.perf_counter() - start
    nodes = svg_nodes(svg)
    assert len(nodes) == len(graph.nodes) == len(model.layers)
    text = " ".join(t.text or "" for t in ET.fromstring(svg).iter(f"{SVG_NS}text"))
    assert f"{graph.total_params:,} params" in text
    assert elapsed < 30, f"{elapsed:.1f} s"
    folded = render(graph, "svg", collapse_blocks=True)
    assert 0 < len(svg_nodes(folded)) < len(nodes)


@needs_dot
@pytest.mark.slow
def test_1600_column_entity_model_renders_quickly() -> None:
    # the model that makes plot_model fail: its Concatenate label is longer than Graphviz's 16,384 limit
    inputs, flats = [], []
    for i in range(1600):
        x = keras.Input(shape=(1,), dtype="int32", name=f"col_{i}")
        flats.append(keras.layers.Flatten(name=f"flat_{i}")(keras.layers.Embedding(10 + i % 50, 4,
                                                                                     name=f"emb_{i}")(x)))
        inputs.append(x)
    x = keras.layers.Dense(16, activation="relu")(keras.layers.Concatenate(name="concat")(flats))
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(keras.layers.Dropout(0.2)(x)))
    start = time.perf_counter()
    graph = build_graph(model)
    svg = render(graph, "svg")
    elapsed = time.perf_counter() - start
    nodes = svg_nodes(svg)
    assert len(nodes) == 7
    groups = [n for n in prepare(graph).graph.nodes if n.kind == NodeKind.GROUP]
    assert [len(g.members) for g in groups] == [1600, 1600, 1600]
    assert sum(n.params for n in prepare(graph).graph.nodes) == model.count_params()
    assert elapsed < 10, f"{elapsed:.1f} s"
