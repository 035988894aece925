"""Graph: the model drawn by Graphviz in the shared viewer; click a layer to open it, downloads in every format."""

from __future__ import annotations

import json

import streamlit as st

from inspector import render, to_dot, to_html, to_json, viewer_payload
from inspector.app import common, settings, state
from inspector.app.components.graph_viewer import graph_viewer
from inspector.errors import InspectorError
from inspector.render import facts

opened = common.require_model()
graph = opened.graph
st.title(f"Graph · {graph.name}")


@st.cache_data(max_entries=16, show_spinner=False)
def drawing(sha256: str, trusted: bool, options: tuple, _graph) -> dict:
    # Graphviz SVG when the server has `dot`, else only the DOT: the browser lays it out
    return viewer_payload(_graph, **dict(options))


@st.cache_data(max_entries=16, show_spinner=False)
def export(sha256: str, trusted: bool, options: tuple, format: str, _graph) -> bytes | str:
    kwargs = dict(options)
    if format == "dot":
        return to_dot(_graph, **kwargs)
    if format == "json":
        return json.dumps(to_json(_graph), indent=2)
    if format == "html":
        return to_html(_graph, **kwargs, title=_graph.name)
    return render(_graph, format, **kwargs)


depth_limit = facts.max_nesting_depth(graph)
if depth_limit and state.GRAPH_DEPTH not in st.session_state:
    st.session_state[state.GRAPH_DEPTH] = facts.default_expand_depth(graph)
if state.GRAPH_DEPTH_WANTED in st.session_state:  # a widget's value can only be set before it is drawn
    st.session_state[state.GRAPH_DEPTH] = st.session_state.pop(state.GRAPH_DEPTH_WANTED)
controls = st.columns([1, 1, 1, 2])
rankdir = controls[0].radio("Direction", ["TB", "LR"], horizontal=True, key=state.GRAPH_RANKDIR,
                            format_func={"TB": "top → bottom", "LR": "left → right"}.get)
expand_depth = 0
if depth_limit:
    expand_depth = controls[1].number_input("Expand nested models", 0, depth_limit, key=state.GRAPH_DEPTH,
                                            help="How many levels of nested models to open (0: all collapsed).")
fold = controls[2].checkbox("Fold repeats", value=True, key=state.GRAPH_FOLD,
                            help="Draw repeated parallel branches as one group; click a group to unfold it.")
unfolded = list(st.session_state.get(state.GRAPH_UNFOLD, []))
if unfolded:
    keep = controls[3].multiselect("Unfolded groups", unfolded, default=unfolded)
    if keep != unfolded:
        st.session_state[state.GRAPH_UNFOLD] = unfolded = keep

options = (("rankdir", rankdir), ("expand_depth", int(expand_depth)), ("fold", bool(fold)),
           ("unfold", tuple(unfolded)))
try:
    payload = drawing(*common.cache_key(opened), options, graph)
except InspectorError as e:
    common.show_error(e)
    st.stop()

selected = st.session_state.get(state.SELECTED_LAYER)
event = graph_viewer(payload, highlight=[selected] if selected else [], search=common.search_text(),
                     focus=st.session_state.pop(state.GRAPH_FOCUS, None), height=720)
st.caption("Click a layer to open it in the Layer page, a ×N group to unfold it, a nested model to expand it "
           "(click its box's title to collapse it). Scroll or + / − to zoom, drag to pan, 0 for the whole graph.")

if event is not None:
    kind, node_id, depth = event.get("type"), str(event.get("id", "")), int(event.get("depth") or 0)
    st.session_state[state.GRAPH_FOCUS] = str(event.get("focus") or node_id)
    if kind == "select":
        common.select_layer(node_id, "layer")
    elif kind == "unfold" and node_id not in unfolded:
        st.session_state[state.GRAPH_UNFOLD] = [*unfolded, node_id]
        st.rerun()
    elif kind in ("expand", "collapse") and depth_limit:
        # nesting opens level by level (expand_depth): expanding a model opens its level, collapsing closes it
        st.session_state[state.GRAPH_DEPTH_WANTED] = min(depth_limit, depth + 1) if kind == "expand" else depth
        st.rerun()

st.subheader("Download")
formats = [("DOT", "dot", "text/vnd.graphviz"), ("JSON", "json", "application/json"), ("HTML", "html", "text/html")]
if settings.graphviz_available():
    formats = [("SVG", "svg", "image/svg+xml"), ("PNG", "png", "image/png"), *formats]
else:
    st.info("SVG and PNG need the Graphviz `dot` program: install it (`apt install graphviz`, "
            "`brew install graphviz` or `conda install graphviz`) and restart the app.")
buttons = st.columns(len(formats))
for column, (label, format, mime) in zip(buttons, formats, strict=True):
    column.download_button(
        label, lambda format=format: export(*common.cache_key(opened), options, format, graph),
        file_name=f"{graph.name}.{format if format != 'dot' else 'gv'}", mime=mime, on_click="ignore",
        key=f"graph_download_{format}")
