"""The shared graph viewer's payload: what the script is given to draw, and its vendored Graphviz.

The browser side (layout in WebAssembly, DOM contract, first view, clicks) is in
tests/test_browser.py and test_render.py's Chromium test of the HTML page; here, in Chromium too,
the app's component page drawing a large graph by parts (first what the first view shows).
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_render import chain, nested_two_levels, odd_names, parallel_branches

import inspector
from inspector.errors import InputDataError, MissingDependencyError
from inspector.rendering.fold import group_id
from inspector.rendering.view import prepare
from inspector.rendering.viewer import viewer_asset, viewer_payload

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` binary not installed")


def test_nodes_are_the_drawing_in_dot_order() -> None:
    graph = parallel_branches(40)
    payload = viewer_payload(graph, engine="browser")
    view = prepare(graph)
    assert [payload["nodes"][f"n{i}"]["id"] for i in range(len(view.graph.nodes))] == [n.id for n in view.graph.nodes]
    for dom in payload["nodes"]:
        assert f"{dom} [id=\"{dom}\"" in payload["dot"]  # the SVG id the script maps back to the node id
    groups = [n for n in payload["nodes"].values() if n["kind"] == "group"]
    assert groups and all(n["id"] == group_id(n["first"], 40) for n in groups)
    # every folded member points at the group drawing it, so search and highlight find hidden layers
    members = {m for n in view.graph.nodes for m in n.members}
    assert set(payload["owners"]) == members
    assert json.loads(json.dumps(payload)) == payload


def test_collapsed_and_expanded_nested_models() -> None:
    graph = nested_two_levels()
    collapsed = viewer_payload(graph, expand_depth=0, engine="browser")
    models = [n for n in collapsed["nodes"].values() if n["kind"] == "model"]
    assert models and not collapsed["clusters"]
    assert all(collapsed["owners"][child.id] == next(d for d, n in collapsed["nodes"].items() if n["id"] == m["id"])
               for m in models for child in graph.nested[m["id"]].nodes)
    opened = viewer_payload(graph, engine="browser")
    assert {c["id"] for c in opened["clusters"].values()} == set(graph.expanded().clusters)
    for dom in opened["clusters"]:
        assert f'graph [id="{dom}"' in opened["dot"]
    assert opened["key"] != collapsed["key"]
    assert viewer_payload(graph, engine="browser")["key"] == opened["key"], "same drawing, same key"


@needs_dot
def test_server_svg_carries_the_ids_the_script_maps() -> None:
    payload = viewer_payload(odd_names(), engine="graphviz")
    root = ET.fromstring(payload["svg"])
    ids = {g.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "node"}
    assert ids == set(payload["nodes"])
    assert payload["layout"] == "graphviz"


def test_engines(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    assert viewer_payload(chain(), engine="builtin")["svg"].startswith("<svg")
    with pytest.raises(InputDataError):
        viewer_payload(chain(), engine="neato")
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot: auto leaves the layout to the browser
    auto = viewer_payload(chain())
    assert auto["svg"] is None and auto["layout"] == "browser" and auto["dot"].startswith("digraph")
    with pytest.raises(MissingDependencyError):
        viewer_payload(chain(), engine="graphviz")


def test_hints_only_where_clicks_act() -> None:
    assert all("hint" in n for n in viewer_payload(chain(), engine="browser")["nodes"].values())
    assert not any("hint" in n for n in viewer_payload(chain(), engine="browser", actions=False)["nodes"].values())


def test_vendored_graphviz_can_be_inlined_and_has_its_licences() -> None:
    module = viewer_asset("vendor/graphviz.js")
    # inlined in <script type="text/plain"> by to_html: nothing in it may end or confuse that element
    assert "</script" not in module.lower() and "<!--" not in module
    assert "export{" in module.replace(" ", "") and "sourceMappingURL" not in module
    folder = inspector.viewer_folder() / "vendor"
    assert "Apache License" in (folder / "LICENSE-hpcc-js-wasm.txt").read_text()
    assert "Eclipse Public License" in (folder / "LICENSE-graphviz-EPL-1.0.txt").read_text()
    page = inspector.to_html(chain(), engine="browser")
    assert page.count('id="ki-graphviz"') == 1 and len(re.findall(r"<script", page)) == 5


CHROMIUM = Path("/usr/bin/chromium")

# in the component's page: post the payload as Streamlit does; note what is in the page when the first view is
# painted and when all of it is in
_DRAW = """async ([payload, marks]) => {
  const canvas = document.getElementById('ki-canvas'), seen = {};
  const count = () => ({nodes: document.querySelectorAll('#ki-canvas [data-node-id]').length,
                        selected: document.querySelectorAll('#ki-canvas g.ki-selected').length});
  new MutationObserver(() => {
    for (const mark of ['painted', 'complete']) {
      if (canvas.dataset[mark] === payload.key && !seen[mark]) { seen[mark] = count(); }
    }
  }).observe(canvas, {attributes: true});
  // as graph_viewer.pack sends it: the payload's JSON, deflated
  const packed = new Response(new Blob([JSON.stringify(payload)]).stream().pipeThrough(new CompressionStream('deflate')));
  const drawing = new Uint8Array(await packed.arrayBuffer());
  window.postMessage({type: 'streamlit:render', args: {drawing, version: payload.key, marks: JSON.stringify(marks), height: 720}}, '*');
  const until = Date.now() + 60000;  // a drawing never complete fails below rather than hanging
  await new Promise(done => { const wait = () => seen.complete || Date.now() > until ? done() : setTimeout(wait, 20); wait(); });
  const scale = document.querySelector('#ki-canvas svg').getScreenCTM().a;
  const top = document.querySelector('#ki-canvas g.graph');
  seen.order = [...top.children].map(e => e.id || e.tagName);
  seen.smallest = Math.min(...[...document.querySelectorAll('[data-node-id] text')]
    .filter(t => t.getBoundingClientRect().bottom > 0 && t.getBoundingClientRect().top < innerHeight)
    .map(t => parseFloat(t.getAttribute('font-size')) * scale));
  return seen;
}"""


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium")
@needs_dot
def test_a_large_drawing_goes_in_by_parts_first_what_the_first_view_shows(tmp_path: Path) -> None:
    import keras
    from playwright.sync_api import sync_playwright

    path = tmp_path / "mobilenet.keras"
    keras.applications.MobileNetV2(weights=None).save(path)
    payload = viewer_payload(inspector.build_graph(path), engine="graphviz")
    svg = ET.fromstring(payload["svg"])
    top = next(g for g in svg.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "graph")
    drawn_order = [e.get("id") or e.tag.split("}")[1] for e in top]
    last = payload["nodes"][max(payload["nodes"], key=lambda n: int(n[1:]))]["id"]  # far from the first view
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 720})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((inspector.viewer_folder() / "index.html").as_uri())
            seen = page.evaluate(_DRAW, [payload, {"highlight": [last]}])
        finally:
            browser.close()
    assert errors == []
    total = len(payload["nodes"])
    assert 0 < seen["painted"]["nodes"] < total / 2, seen["painted"]  # the first paint: the top of the graph
    assert seen["painted"]["selected"] == 0
    assert seen["complete"] == {"nodes": total, "selected": 1}  # all of it, and the mark on the late piece
    assert seen["order"] == drawn_order  # each piece in its place: Graphviz's order, so the same overlaps
    assert seen["smallest"] >= 9


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium")
def test_the_component_warms_its_layout_engine_only_when_it_lays_out() -> None:
    """Without Graphviz on the server the component lays drawings out itself: after the first one it warms the
    engine in idle time (NASNetMobile's first layout: 0.32-0.39 s cold, 0.10-0.15 s warmed) and marks the canvas
    ``data-warm``; the next drawing is laid out as before.  A server-laid-out drawing never starts the engine."""
    from playwright.sync_api import sync_playwright

    first, second = viewer_payload(chain(), engine="browser"), viewer_payload(parallel_branches(40), engine="browser")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--allow-file-access-from-files"])  # the page imports vendor/graphviz.js from its file:// folder
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 720})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((inspector.viewer_folder() / "index.html").as_uri())
            page.evaluate(_DRAW, [first, {}])
            page.wait_for_selector("#ki-canvas[data-warm]", state="attached", timeout=60_000)
            page.evaluate(_DRAW, [second, {}])
            assert page.locator("#ki-canvas").get_attribute("data-layout") == "browser"
            assert page.locator("[data-node-id]").count() == len(second["nodes"])
            if shutil.which("dot"):
                page.goto((inspector.viewer_folder() / "index.html").as_uri())
                page.evaluate(_DRAW, [viewer_payload(chain(), engine="graphviz"), {}])
                page.wait_for_timeout(1000)
                assert page.locator("#ki-canvas").get_attribute("data-layout") == "server"
                assert page.locator("#ki-canvas").get_attribute("data-warm") is None
        finally:
            browser.close()
    assert errors == []
