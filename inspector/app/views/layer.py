"""Layer: one node's facts, config, weights with statistics and histograms."""

from __future__ import annotations

import streamlit as st

import inspector
from inspector.analysis import layers
from inspector.app import common, settings, state
from inspector.errors import InspectorError
from inspector.rendering import facts, figures

MAX_HISTOGRAMS = 12

opened = common.require_model()
graph = opened.graph
st.title("Layer")

everything = facts.node_choices(graph)
choices = facts.node_choices(graph, common.search_text()) or everything
selected = st.session_state.get(state.SELECTED_LAYER)
if selected in everything and selected not in choices:
    choices = [selected, *choices]
if not choices:
    st.info("This model has no layers to show.")
    st.stop()
if selected in choices:
    st.session_state[state.LAYER_PICK] = selected
elif st.session_state.get(state.LAYER_PICK) not in choices:
    st.session_state[state.LAYER_PICK] = choices[0]


def _picked() -> None:
    st.session_state[state.SELECTED_LAYER] = st.session_state[state.LAYER_PICK]


def _embedding_explained(opened, node_id: str) -> None:
    """A lookup is a matrix product: W[i] next to one_hot(i) @ W, on the real weights."""
    with st.expander("A lookup is a one-hot product", expanded=True):
        item = st.text_input("Index or token", value="1", key=state.EMBEDDING_LOOKUP,
                             help="A row number of the table, or a token of the model's vocabulary.")
        sample = common.current_sample()
        try:
            look = inspector.embedding_lookup(opened.model, node_id, item,
                                              labels=sample.metadata.get("embedding_labels") if sample else None)
        except InspectorError as e:
            common.show_error(e)
            return
        verdict = "equal, exactly" if look.equal else f"differ by up to {look.max_abs_diff:.3g}"
        st.markdown(f"Index **{look.index}** (label {settings.literal(look.label)}, from "
                    f"{settings.literal(look.label_source)}) of a "
                    f"{look.shape[0]:,} × {look.shape[1]:,} table: `W[{look.index}]` and "
                    f"`one_hot({look.index}) @ W` **{verdict}**.")
        st.dataframe({"W[i]": look.row, "one_hot(i) @ W": look.product, "layer(i)": look.layer_output},
                     hide_index=False)


node_id = st.selectbox("Layer", choices, key=state.LAYER_PICK, on_change=_picked,
                       help="Filtered by the sidebar search; click a layer in the Graph page to open it here.")
node = graph.node(node_id)
st.header(f"{settings.literal(node.name)} · {settings.literal(node.class_name)}")

facts = facts.node_facts(graph, node_id)
st.dataframe([{"fact": k, "value": v} for k, v in facts.items()], hide_index=True)

if node.class_name == "Embedding":
    if opened.can_run and st.button("Project this embedding", type="primary",
                                    help="Open the Embeddings page with this layer's vectors."):
        st.session_state[state.EMBEDDING_LAYER] = node_id
        st.switch_page(common.PAGES["embeddings"])
    elif opened.loading:
        st.caption("Projecting this embedding needs the model: it is loading, and the button appears when it is ready.")
    elif not opened.can_run:
        st.caption("Projecting this embedding needs the model loaded (not a static view).")
    if opened.can_run:
        _embedding_explained(opened, node_id)

with st.expander("Config (JSON)", expanded=len(node.config) < 12):
    st.json(node.config or {}, expanded=True)

st.subheader("Weights")
try:
    weights = layers.weight_frame(graph, node_id, opened.model)
except InspectorError as e:
    common.show_error(e)
    st.stop()
if weights.empty:
    st.caption("This layer has no weights.")
    st.stop()
st.dataframe(weights, hide_index=True)
if opened.loading:
    common.wait_for_model("**Loading the model…** The weights' statistics and histograms fill in here when Keras "
                          "has loaded it.")
if not opened.can_run:
    st.caption("Static view: the shapes come from the file; values are not read, so no statistics.")
    st.stop()
if node.kind.value == "model":
    st.caption("A nested model: open its layers to see their weights.")
    st.stop()

names = list(weights["name"])
if len(names) > MAX_HISTOGRAMS:
    st.caption(f"Histograms of the first {MAX_HISTOGRAMS} of {len(names)} weights.")
columns = st.columns(2)
for i, name in enumerate(names[:MAX_HISTOGRAMS]):
    try:
        values = layers.weight_values(opened.model, graph, node_id, name)
    except InspectorError as e:
        common.show_error(e)
        continue
    columns[i % 2].plotly_chart(figures.histogram_figure(values, title=f"{name} {values.shape}"),
                                key=f"weight_histogram_{i}")
