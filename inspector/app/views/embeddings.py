"""Embeddings: project an Embedding layer's vectors, or a layer's activations, with UMAP or PCA."""

from __future__ import annotations

import streamlit as st

from inspector import embedding_layers, project_activations, project_embedding
from inspector.analysis import layers
from inspector.app import common, settings, state
from inspector.errors import InspectorError
from inspector.rendering import facts

MAX_ROWS = 2000

opened = common.require_model()
graph = opened.graph
st.title("Embeddings")
common.require_runnable(opened, "Embeddings")
model = opened.model
sample = common.current_sample()

try:
    table = embedding_layers(model, labels=sample.metadata.get("embedding_labels") if sample else None)
except InspectorError as e:
    common.show_error(e)
    st.stop()
embeddings = [str(layer) for layer in table["layer"]]
sources = (["Embedding layer"] if embeddings else []) + ["Layer activations"]
if not embeddings:
    st.caption("This model has no Embedding layer: project a layer's activations instead.")
if st.session_state.get(state.EMBEDDING_LAYER) in embeddings:
    st.session_state[state.EMBEDDING_SOURCE] = "Embedding layer"  # arrived from Layer's "Project" button
source = st.radio("Project", sources, horizontal=True, key=state.EMBEDDING_SOURCE)

columns = st.columns(3)
method = columns[0].radio("Method", ["umap", "pca"], horizontal=True, key=state.EMBEDDING_METHOD,
                          format_func=str.upper)
dimensions = columns[1].radio("Dimensions", [2, 3], horizontal=True, key=state.EMBEDDING_DIMENSIONS,
                              format_func=lambda d: f"{d}-D")
metadata_file = columns[2].file_uploader("Metadata (.csv, one row per point)", type=["csv"],
                                         key=state.EMBEDDING_METADATA,
                                         help="Any columns, to colour by; a 'label' column names the points.")
try:
    metadata = layers.read_data_upload(metadata_file.name, metadata_file.getvalue()) if metadata_file else None
except InspectorError as e:
    common.show_error(e)
    metadata = None
options = dict(method=method, n_components=dimensions, seed=0)
key = (*common.cache_key(opened), method, dimensions, metadata_file.file_id if metadata_file else None)

if source == "Embedding layer":
    wanted = st.session_state.pop(state.EMBEDDING_LAYER, None)
    if wanted in embeddings:
        st.session_state[state.EMBEDDING_PICK] = wanted
    elif st.session_state.get(state.EMBEDDING_PICK) not in embeddings:
        st.session_state[state.EMBEDDING_PICK] = embeddings[facts.default_embedding(table)]
    layer = st.selectbox("Embedding layer", embeddings, key=state.EMBEDDING_PICK)
    st.dataframe(table[table["layer"] == layer], hide_index=True)
    name = graph.node(layer).name if layer in {n.id for n, _ in graph.walk()} else layer
    labels = sample.embedding_labels(name) if sample is not None else None
    if metadata is None and sample is not None:
        metadata = layers.sample_embedding_metadata(sample.embedding_groups(name))

    def compute():
        progress = common.progress_bar(f"Projecting {settings.literal(layer)}…")
        try:
            return project_embedding(model, layer, labels=labels, metadata=metadata, progress=progress, **options)
        finally:
            progress.bar.empty()
    key = (*key, "embedding", layer)
else:
    choices = facts.node_choices(graph, common.search_text()) or facts.node_choices(graph)
    selected = st.session_state.get(state.SELECTED_LAYER)
    layer = st.selectbox("Layer", choices, key="embedding_activation_layer",
                         index=choices.index(selected) if selected in choices else len(choices) - 1)
    rows = st.slider("Samples", 10, MAX_ROWS, 200, key=state.EMBEDDING_ROWS,
                     help="One point per sample: how many samples to run through the model.")
    try:
        if sample is not None:
            data = layers.first_rows(sample.load_inputs(), rows)
            sample_labels = sample.load_labels()
            labels = None if sample_labels is None else layers.first_rows(sample_labels, rows)
            what = "the sample's bundled inputs, labelled by " + (
                "their targets" if labels is not None else "the predicted class")
        else:
            data, labels = layers.random_inputs(model, graph, samples=rows, seed=0), None
            what = "random inputs matching the input specs, labelled by the predicted class"
    except InspectorError as e:
        common.show_error(e)
        st.stop()
    key = (*key, "activations", layer, rows)
    if key not in st.session_state.get(state.PROJECTIONS, {}) and not st.button(
            "Run and project", type="primary", key="embedding_run_button"):
        st.caption(f"Runs up to {rows} of {what} through the model to {settings.literal(layer)}, then projects one "
                   "point per sample.")
        st.stop()

    def compute():
        progress = common.progress_bar(f"Projecting the activations of {settings.literal(layer)}…")
        try:
            return project_activations(model, layer, data, labels=labels, metadata=metadata, progress=progress,
                                       **options)
        finally:
            progress.bar.empty()

try:
    projection = common.remembered(state.PROJECTIONS, key, compute)
except InspectorError as e:
    common.show_error(e)
    st.stop()

st.caption(settings.literal(repr(projection)))
colour_choices = [None, *facts.projection_colour_columns(projection.frame)]
if st.session_state.get(state.EMBEDDING_COLOUR, "unset") not in colour_choices:
    st.session_state[state.EMBEDDING_COLOUR] = "group" if "group" in colour_choices else None
colour = st.selectbox("Colour by", colour_choices, key=state.EMBEDDING_COLOUR,
                      format_func=lambda c: "automatic (label)" if c is None else c,
                      help="A metadata column; the sample models give each point the hidden group it came from.")
try:
    st.plotly_chart(projection.figure(color=colour), key="projection_figure")
except InspectorError as e:
    common.show_error(e)

query = st.text_input("Nearest neighbours of (a label, or an index)", key=state.EMBEDDING_SEARCH,
                      placeholder=str(projection.frame["label"].iloc[0]) if len(projection.frame) else "")
if query:
    try:
        target = facts.label_or_index(query, projection.frame["label"])
        st.dataframe(projection.neighbours(target, k=10), hide_index=True)
    except InspectorError as e:
        common.show_error(e)
st.download_button("Download coordinates (.csv)", projection.to_csv(), file_name=f"{layer.replace('/', '_')}.csv",
                   mime="text/csv", on_click="ignore")
st.download_button("Download for TensorBoard's projector (.zip)", projection.to_tensorboard_zip,
                   file_name=f"{layer.replace('/', '_')}_projector.zip", mime="application/zip", on_click="ignore",
                   help="tensors.tsv, metadata.tsv and projector_config.pbtxt: unzip into a folder and run "
                        "`tensorboard --logdir FOLDER` (Projector tab).")  # built only when clicked
