"""The shared graph viewer's payload (no browser): what the script is given to draw, and its vendored Graphviz.

The browser side (layout in WebAssembly, DOM contract, first view, clicks) is in
tests/test_browser.py and test_render.py's Chromium test of the HTML page.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET

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
