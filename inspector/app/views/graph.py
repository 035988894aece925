"""Graph: the model drawn by Graphviz in the shared viewer; click a layer to open it, downloads in every format."""

from __future__ import annotations

import json

import streamlit as st

from inspector import render, to_dot, to_html, to_json, viewer_payload
from inspector.app import common, settings, state
from inspector.app.components.graph_viewer import graph_viewer, pack
from inspector.errors import InspectorError
from inspector.rendering import facts
from inspector.rendering.colour import GRAPH_COLUMNS
from inspector.rendering.view import nested_model_ids

# the statistics of Activations' 'all layers' run that say whether a layer is healthy
HEALTH_COLUMNS = ("dead_fraction", "zero_fraction", "nan_count", "inf_count", "std")
# and of Attribution's gradients of all layers (its other columns share the names above)
GRADIENT_COLUMNS = ("grad_norm", "grad_norm_max")

opened = common.require_model()
graph = opened.graph
st.title(f"Graph · {settings.literal(graph.name)}")


@st.cache_data(max_entries=16, show_spinner=False)
def drawing(sha256: str, trusted: bool, options: tuple, values: tuple, _graph) -> bytes:
    # Graphviz SVG when the server has `dot`, else only the DOT: the browser lays it out.  Kept packed: a rerun
    # (a search, a click) copies the bytes out of the cache instead of a 1.4 MB dict, and does not pack it again
    return pack(viewer_payload(_graph, **dict(options), values=dict(values) or None))


@st.cache_data(max_entries=16, show_spinner=False)
def export(sha256: str, trusted: bool, options: tuple, values: tuple, format: str, _graph) -> bytes | str:
    kwargs = dict(options)
    if kwargs.get("color_by"):
        kwargs["values"] = dict(values) or None
    else:
        kwargs.pop("color_by", None)
    if format == "dot":
        return to_dot(_graph, **kwargs)
    if format == "json":
        return json.dumps(to_json(_graph), indent=2)
    if format == "html":
        return to_html(_graph, **kwargs, title=_graph.name)
    return render(_graph, format, **kwargs)


def _forget_model_clicks() -> None:
    # a new default depth starts over: the models clicked open or shut follow it again
    st.session_state.pop(state.GRAPH_EXPANDED, None)
    st.session_state.pop(state.GRAPH_COLLAPSED, None)


depth_limit = facts.max_nesting_depth(graph)
if depth_limit and state.GRAPH_DEPTH not in st.session_state:
    st.session_state[state.GRAPH_DEPTH] = facts.default_expand_depth(graph)
controls = st.columns([1, 1, 1, 1, 2])
controls[0].radio("Direction", ["TB", "LR"], horizontal=True, key=state.GRAPH_RANKDIR,
                  format_func={"TB": "top → bottom", "LR": "left → right"}.get)
if depth_limit:
    controls[1].number_input(
        "Expand nested models", 0, depth_limit, key=state.GRAPH_DEPTH, on_change=_forget_model_clicks,
        help="How many levels of nested models to open (0: all collapsed); click a model to open or close it alone.")
controls[2].checkbox("Fold repeats", value=True, key=state.GRAPH_FOLD,
                     help="Draw repeated parallel branches as one group; click a group to unfold it.")
unfolded = list(st.session_state.get(state.GRAPH_UNFOLD, []))
if unfolded:
    keep = controls[4].multiselect("Unfolded groups", unfolded, default=unfolded)
    if keep != unfolded:
        st.session_state[state.GRAPH_UNFOLD] = unfolded = keep

# health columns of the last statistics run on this model (Activations page) and of its last gradients of all
# layers (Attribution page) join the graph's own numbers
health = common.latest_frame(opened, state.ACTIVATION_STATS)
gradients = common.latest_frame(opened, state.GRADIENT_HEALTH)
colour_columns = ["", *GRAPH_COLUMNS, *(HEALTH_COLUMNS if health is not None else ()),
                  *(GRADIENT_COLUMNS if gradients is not None else ())]
color_by = controls[3].selectbox(
    "Colour by", colour_columns, key=state.GRAPH_COLOUR, format_func=lambda c: c or "family",
    help="Fill the layers by a number. Dead units, NaN and Inf appear after 'Compute statistics of all layers' "
         "on the Activations page; gradient norms after 'Compute gradients of all layers' on the Attribution page.")
source = health if color_by in HEALTH_COLUMNS else gradients if color_by in GRADIENT_COLUMNS else None
values = () if source is None else tuple((str(k), float(v)) for k, v in source.groupby("layer")[color_by].max().items())
# the widgets' values, and the models opened / closed one by one by a click; ids of another graph of the same
# file (static view, then the loaded model) are dropped rather than refused
options = common.graph_options(graph)
expanded, collapsed = list(dict(options)["expand_models"]), list(dict(options)["collapse_models"])
try:
    packed = drawing(*common.cache_key(opened), options, values, graph)
except InspectorError as e:
    common.show_error(e)
    st.stop()

selected = st.session_state.get(state.SELECTED_LAYER)
event = graph_viewer(packed, highlight=[selected] if selected else [], search=common.search_text(),
                     focus=st.session_state.pop(state.GRAPH_FOCUS, None), height=720)
st.caption("Click a layer to open it in the Layer page, a ×N group to unfold it, a nested model to expand it "
           "(click its box's title to collapse it). Scroll or + / − to zoom, drag to pan, 0 for the whole graph.")

if event is not None:
    kind, node_id = event.get("type"), str(event.get("id", ""))
    st.session_state[state.GRAPH_FOCUS] = str(event.get("focus") or node_id)
    if kind == "select":
        common.select_layer(node_id, "layer")
    elif kind == "unfold" and node_id not in unfolded:
        st.session_state[state.GRAPH_UNFOLD] = [*unfolded, node_id]
        st.rerun()
    elif kind in ("expand", "collapse") and node_id in nested_model_ids(graph):
        # that model only: its id moves to the list of the click's kind (the depth widget stays the default)
        st.session_state[state.GRAPH_EXPANDED] = [i for i in expanded if i != node_id]
        st.session_state[state.GRAPH_COLLAPSED] = [i for i in collapsed if i != node_id]
        st.session_state[state.GRAPH_EXPANDED if kind == "expand" else state.GRAPH_COLLAPSED].append(node_id)
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
        label, lambda format=format: export(*common.cache_key(opened), options, values, format, graph),
        file_name=f"{graph.name}.{format if format != 'dot' else 'gv'}", mime=mime, on_click="ignore",
        key=f"graph_download_{format}")
