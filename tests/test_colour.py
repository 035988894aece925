"""Colouring the graph by a number: MACs from the graph, health columns from activation_stats, a legend.

The expected colours are computed here from the numbers with NumPy (log10 position on the ramp), never read
back from the renderer's own scale; Graphviz runs for real (skipped with the reason when `dot` is absent) and
the HTML page is opened in headless Chromium.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

import inspector
from inspector.rendering import (
    render,  # `inspector.rendering` is the subpackage once it is imported (see report)
)
from inspector.rendering.colour import ramp

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
CHROMIUM = Path("/usr/bin/chromium")


def _conv_model() -> keras.Model:
    x = keras.Input((16, 16, 3), name="image")
    a = keras.layers.Conv2D(8, 3, padding="same", name="small")(x)  # 16·16·8·27 = 55,296 MACs
    b = keras.layers.Conv2D(32, 3, padding="same", name="big")(a)  # 16·16·32·72 = 589,824 MACs
    c = keras.layers.Flatten(name="flat")(b)  # 0 MACs
    return keras.Model(x, keras.layers.Dense(4, name="head")(c), name="convs")  # 8192·4 = 32,768 MACs


def _health_model() -> keras.Model:
    """`dead` is a ReLU whose bias pushes every unit below zero; `blowup` overflows to inf (6 units ≥ 1 times
    1e38), `nan` makes NaN (inf - inf)."""
    x = keras.Input((4,), name="x")
    alive = keras.layers.Dense(6, activation="relu", name="alive")(x)
    dead = keras.layers.Dense(6, activation="relu", name="dead")(x)
    blowup = keras.layers.Dense(3, name="blowup")(alive)
    nan = keras.layers.Dense(2, name="nan")(blowup)
    model = keras.Model(x, [dead, nan], name="health")
    model.get_layer("alive").set_weights([np.ones((4, 6)), np.ones(6)])  # every unit ≥ 1 for x ≥ 0
    model.get_layer("dead").set_weights([np.zeros((4, 6)), np.full(6, -10.0)])
    model.get_layer("blowup").set_weights([np.full((6, 3), 1e38), np.zeros(3)])
    model.get_layer("nan").set_weights([np.array([[1.0, 1.0], [-1.0, -1.0], [0.0, 0.0]]), np.zeros(2)])
    return model


def _expected_fill(value: float, low: float, high: float) -> str:
    """Position on a log10 scale from the smallest positive value to the largest; 0 gets the palest."""
    if value <= 0:
        return ramp(0.0)
    return ramp(float((np.log10(value) - np.log10(low)) / (np.log10(high) - np.log10(low))))


def _svg_fills(svg: str) -> dict[str, str]:
    """Node id (the start of Graphviz's tooltip, ``id · column: value``) → the fill of its box."""
    out = {}
    for block in re.findall(r'<g id="n\d+" class="node">(.*?)</g>\s*</g>', svg, re.S):
        node_id = re.search(r'xlink:title="(.*?) · ', block).group(1)
        out[node_id] = re.search(r'<(?:path|polygon) fill="(#[0-9a-f]{6})"', block).group(1)
    return out


@needs_dot
def test_svg_coloured_by_macs_with_legend():
    graph = inspector.build_graph(_conv_model())
    macs = {"small": 16 * 16 * 8 * 3 * 3 * 3, "big": 16 * 16 * 32 * 3 * 3 * 8, "flat": 0, "head": 16 * 16 * 32 * 4}
    svg = render(graph, "svg", color_by="macs").decode()
    fills = _svg_fills(svg)
    low, high = min(v for v in macs.values() if v), max(macs.values())
    for node_id, value in macs.items():
        assert fills[node_id] == _expected_fill(value, low, high), node_id
    assert fills["big"] == "#bd0026" and fills["flat"] == "#ffffcc"
    assert fills["image"] == "#ffffcc"  # an input layer computes nothing: zero, the palest
    assert "colour: macs (log scale)" in svg
    for colour, text in (("#ffffcc", "32.77 K"), ("#bd0026", "589.82 K")):  # the legend's ends, as format_macs
        assert re.search(f'fill="{colour}"[^>]*>\\s*<polygon[^>]*>\\s*<text[^>]*>{re.escape(text)}</text>', svg)
    assert "no value" in svg


@needs_dot
def test_svg_coloured_by_a_health_column():
    model = _health_model()
    X = np.random.default_rng(0).random((50, 4)).astype("float32")
    stats = inspector.activation_stats(model, "all", X)
    nan_count = dict(zip(stats["layer"], stats["nan_count"], strict=True))
    assert nan_count["nan"] == 100 and nan_count["alive"] == 0  # both outputs of `nan` are inf - inf
    svg = render(inspector.build_graph(model), "svg", color_by="nan_count", values=stats).decode()
    fills = _svg_fills(svg)
    assert fills["nan"] == "#bd0026"  # the only layer with NaN: the top of the scale
    assert fills["alive"] == fills["dead"] == fills["blowup"] == "#ffffcc"
    assert fills["x"] == "#ffffff"  # activation_stats has no row for an input: no value, white
    assert "colour: nan_count (log scale)" in svg
    dead = inspector.to_dot(inspector.build_graph(model), color_by="dead_fraction", values=stats)
    line = next(x for x in dead.splitlines() if 'tooltip="dead ' in x)
    assert 'fillcolor="#bd0026"' in line and 'fontcolor="white"' in line  # every unit of `dead` is dead


def test_values_as_a_mapping_and_errors():
    graph = inspector.build_graph(_conv_model())
    dot = inspector.to_dot(graph, color_by="score", values={"small": 0.0, "big": 1.0, "head": 0.5},
                           color_scale="linear")
    assert "colour: score (linear scale)" in dot
    line = next(x for x in dot.splitlines() if "tooltip=\"head" in x)
    assert f'fillcolor="{ramp(0.5)}"' in line
    with pytest.raises(inspector.InputDataError, match="values="):
        inspector.to_dot(graph, color_by="seconds")
    with pytest.raises(inspector.InputDataError, match="names a node"):
        inspector.to_dot(graph, color_by="seconds", values={"other_model_layer": 1.0})
    with pytest.raises(inspector.InputDataError, match="scale"):
        inspector.to_dot(graph, color_by="macs", color_scale="cubic")


def test_profile_frame_colours_the_graph():
    model = _conv_model()
    profile = inspector.profile_layers(model, np.ones((2, 16, 16, 3), "float32"), repeats=1)
    # unfolded: a folded group shows the sum of its members, which may outweigh the slowest single layer
    page = inspector.to_html(inspector.build_graph(model), engine="builtin", color_by="seconds", values=profile,
                             fold=False)
    assert 'id="ki-scale" data-column="seconds"' in page and 'id="legend"' in page
    slowest = profile.loc[profile.seconds.idxmax(), "id"]
    # the output layer's box has an outer ring (fill "none") before its filled box
    assert re.search(f'<title>{slowest}</title>(<rect [^>]*fill="none"[^>]*/>)?<rect [^>]*fill="#bd0026"', page)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium (apt install chromium)")
@pytest.mark.parametrize("engine", [pytest.param("graphviz", marks=needs_dot), "browser"])
def test_html_export_coloured_in_chromium(tmp_path: Path, engine: str):
    """Graphviz's SVG from the server, and the same coloured DOT laid out in the page by the bundled Graphviz."""
    from playwright.sync_api import sync_playwright

    model = _health_model()
    stats = inspector.activation_stats(model, "all", np.random.default_rng(1).random((40, 4)).astype("float32"))
    path = tmp_path / "health.html"
    path.write_text(inspector.to_html(inspector.build_graph(model), color_by="zero_fraction", values=stats,
                                      engine=engine), encoding="utf-8")
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(path.as_uri())
        page.locator("g.node").first.wait_for()  # the browser engine lays the graph out after loading
        # the dead ReLU (every value zero) is the darkest node, as the browser paints it
        fill_of = ("id => { const data = JSON.parse(document.getElementById('ki-data').textContent);"
                   " const key = Object.keys(data).find(k => data[k].id === id);"
                   " return getComputedStyle(document.getElementById(key).querySelector('path, polygon')).fill; }")
        assert page.evaluate(fill_of, "dead") == "rgb(189, 0, 38)"  # #bd0026
        assert page.evaluate(fill_of, "alive") != "rgb(189, 0, 38)"
        assert page.evaluate(fill_of, "x") == "rgb(255, 255, 255)"  # an input: no statistics, no value
        scale = page.locator("#ki-scale")
        assert scale.is_visible()
        assert "zero_fraction (linear scale)" in scale.inner_text()
        bar = page.locator("#ki-scale .ki-bar").evaluate("el => getComputedStyle(el).backgroundImage")
        assert bar.startswith("linear-gradient") and "rgb(189, 0, 38)" in bar
        page.locator("g.node").nth(2).hover()  # the node's value is among its details
        assert "zero_fraction" in page.locator("#ki-tip").inner_text()
        page.screenshot(path=str(tmp_path / "coloured.png"))
    finally:
        browser.close()
        playwright.stop()


def test_collapsed_models_and_folded_groups_show_their_own_or_summed_values():
    import zoo

    graph = inspector.build_graph(zoo.nested_3_levels())
    # collapsed: level2 is one box showing its own MAC count, 6·4 + 4 (BatchNormalization) + 4·2 = 36
    dot = inspector.to_dot(graph, expand_depth=0, color_by="macs")
    assert 'tooltip="level2 · macs: 36"' in dot
    # a value only for the inner layers: the collapsed box sums them (time adds up)
    seconds = {"level2/level3/deep_dense": 0.002, "level2/level3/deep_bn": 0.001, "level2/mid_dense": 0.004}
    dot = inspector.to_dot(graph, expand_depth=0, color_by="seconds", values=seconds)
    assert 'tooltip="level2 · seconds: 7 ms"' in dot
    # a fraction does not add up: the box shows its worst member
    dot = inspector.to_dot(graph, expand_depth=0, color_by="zero_fraction",
                           values={"level2/level3/deep_dense": 0.25, "level2/mid_dense": 0.75})
    assert 'tooltip="level2 · zero_fraction: 0.75"' in dot

    x = keras.Input((4,), name="x")
    branches = [keras.layers.Dense(2, name=f"branch_{i}")(x) for i in range(4)]
    model = keras.Model(x, keras.layers.Concatenate(name="join")(branches), name="four_branches")
    dot = inspector.to_dot(inspector.build_graph(model), color_by="macs")  # four branches fold into one ×4 node
    assert re.search(r'tooltip="branch_0\[x4\] · macs: 32"', dot)  # 4 × (4·2)
