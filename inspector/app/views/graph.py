"""Graph: the interactive model graph; click a layer to open it, downloads in every format."""

from __future__ import annotations

import json

import streamlit as st

from inspector import graph_figure, render, to_dot, to_html, to_json
from inspector.app import common, settings, state
from inspector.errors import InspectorError
from inspector.render import facts

opened = common.require_model()
graph = opened.graph
st.title(f"Graph · {graph.name}")



@st.cache_data(max_entries=16, show_spinner=False)
def figure(sha256: str, trusted: bool, options: tuple, highlight: tuple[str, ...], _graph) -> dict:
    # a dict, not a Figure: an unpickled Figure serialises its keys in another order, which changes the
    # chart's widget id between the first run and cache hits, and a click's selection would be lost
    return graph_figure(_graph, **dict(options), highlight=list(highlight) or None).to_dict()


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
controls = st.columns([1, 1, 1, 2])
rankdir = controls[0].radio("Direction", ["TB", "LR"], horizontal=True, key=state.GRAPH_RANKDIR,
                            format_func={"TB": "top → bottom", "LR": "left → right"}.get)
expand_depth = 0
if depth_limit:
    expand_depth = controls[1].number_input("Expand nested models", 0, depth_limit,
                                            value=facts.default_expand_depth(graph), key=state.GRAPH_DEPTH,
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
search = common.search_text()
highlight = facts.node_choices(graph, search) if search else []
selected = st.session_state.get(state.SELECTED_LAYER)
if selected and selected not in highlight:
    highlight.append(selected)

try:
    fig = figure(*common.cache_key(opened), options, tuple(highlight), graph)
except InspectorError as e:
    common.show_error(e)
    st.stop()

count = st.session_state.get(state.GRAPH_CHART_COUNT, 0)
event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key=f"graph_chart_{count}",
                        config={"scrollZoom": True, "displaylogo": False})
st.caption("Click a layer to open it in the Layer page; click a folded group to unfold it. "
           + (f"Highlighted: layers matching “{search}”." if search else ""))

clicked = [p["customdata"][0] for p in (event.selection.points if event else []) if p.get("customdata")]
if clicked:
    st.session_state[state.GRAPH_CHART_COUNT] = count + 1  # a fresh chart: the selection must not fire twice
    node_id = str(clicked[0])
    if node_id in {n.id for n, _ in graph.walk()}:
        common.select_layer(node_id, "layer")
    else:  # a folded group: open it in place
        st.session_state[state.GRAPH_UNFOLD] = [*unfolded, node_id]
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
