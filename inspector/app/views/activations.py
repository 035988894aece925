"""Activations: any layer's output on sample, uploaded or random data; inference vs training; stats of all layers."""

from __future__ import annotations

import importlib.util

import streamlit as st

from inspector import Mode, activation_stats, compare_modes, graph_figure, inspect_layers
from inspector.analysis import layers
from inspector.app import common, settings, state
from inspector.errors import InspectorError
from inspector.rendering import facts, figures

MAX_ROWS = 2000

opened = common.require_model()
graph = opened.graph
st.title("Activations")
common.require_runnable(opened, "Activations")
model = opened.model
sample = common.current_sample()

# ------------------------------------------------------------------ input data
sources = (["Sample inputs"] if sample is not None else []) + ["Random data", "Upload data"]
source = st.radio("Input data", sources, horizontal=True, key=state.ACTIVATION_SOURCE)
rows = st.slider("Samples", 1, MAX_ROWS, 200, key=state.ACTIVATION_ROWS,
                 help="How many samples (from the start of the data) to run through the model.")
try:
    if source == "Sample inputs":
        data, data_key = sample.load_inputs(), ("sample", sample.slug)
        st.caption(f"The sample's bundled inputs: {sample.inputs_path.name}.")
    elif source == "Upload data":
        upload = st.file_uploader("A .npy, .npz or .csv file matching the model's inputs", type=["npy", "npz", "csv"],
                                  key=state.ACTIVATION_DATA)
        if upload is None:
            st.dataframe(facts.io_specs_frame(graph, roles=("input",)), hide_index=True)
            st.info("Upload data for the inputs above (.npz: one array per input name; .csv: one column per "
                    "input or all columns for a single input).")
            st.stop()
        data, data_key = layers.read_data_upload(upload.name, upload.getvalue()), ("upload", upload.file_id)
    else:
        data, data_key = layers.random_inputs(model, graph, samples=rows, seed=0), ("random", 0)
        st.caption("Random data matching the input specs (standard normal floats; integer ids below each "
                   "Embedding's vocabulary size).")
except InspectorError as e:
    common.show_error(e)
    st.stop()
data = layers.first_rows(data, rows)
data_key = (*data_key, rows)
try:
    for message in layers.data_warnings(model, data):
        st.warning(settings.message_markdown(message))
except InspectorError as e:
    common.show_error(e)
    st.stop()

# ------------------------------------------------------------------ one layer
choices = facts.node_choices(graph, common.search_text()) or facts.node_choices(graph)
selected = st.session_state.get(state.SELECTED_LAYER)
if selected in choices and st.session_state.get(state.ACTIVATION_LAYER) != selected:
    st.session_state[state.ACTIVATION_LAYER] = selected
columns = st.columns([2, 1, 1])
node_id = columns[0].selectbox("Layer", choices, key=state.ACTIVATION_LAYER)
mode = columns[1].radio("Mode", [m.value for m in Mode], horizontal=True, key=state.ACTIVATION_MODE,
                        help="Training mode runs Dropout and BatchNormalization as in training; the model's "
                             "weights and statistics are not changed.")
compare = columns[2].checkbox("Compare with the other mode", key=state.ACTIVATION_COMPARE)
key = (*common.cache_key(opened), data_key)


def run(layer: str, mode_value: str):
    progress = common.progress_bar(f"Running {settings.literal(layer)} ({mode_value})…")
    try:
        return inspect_layers(model, [layer], data, training=Mode(mode_value), progress=progress)[layer]
    finally:
        progress.bar.empty()


try:
    value = common.remembered("activation_values", (*key, node_id, mode), lambda: run(node_id, mode))
except InspectorError as e:
    common.show_error(e)
    st.stop()
outputs = layers.activation_outputs(value)
index = st.selectbox("Output", range(len(outputs)), key="activation_output") if len(outputs) > 1 else 0
array = outputs[index]
st.caption(f"{settings.literal(node_id)}: output shape {array.shape}, dtype {array.dtype}, mode {mode}.")

if compare:
    other = "training" if mode == "inference" else "inference"
    try:
        other_value = common.remembered("activation_values", (*key, node_id, other), lambda: run(node_id, other))
        other_array = layers.activation_outputs(other_value)[index]
        difference = layers.mode_difference(
            array if mode == "training" else other_array, other_array if mode == "training" else array)
    except InspectorError as e:
        common.show_error(e)
        st.stop()
    left, middle, right = st.columns(3)
    left.plotly_chart(figures.histogram_figure(array, title=mode), key="compare_this")
    middle.plotly_chart(figures.histogram_figure(other_array, title=other), key="compare_other")
    right.plotly_chart(figures.histogram_figure(difference, title="training − inference"), key="compare_diff")

views = ["Histogram", "Heatmap", *(["Feature maps"] if figures.is_image_activation(array) else []), "Table"]
tabs = dict(zip(views, st.tabs(views), strict=True))
with tabs["Histogram"]:
    st.plotly_chart(figures.histogram_figure(array, title=f"{node_id} ({mode})"), key="activation_histogram")
with tabs["Heatmap"]:
    st.plotly_chart(figures.heatmap_figure(array), key="activation_heatmap")
if "Feature maps" in tabs:
    with tabs["Feature maps"]:
        which = st.number_input("Sample", 0, len(array) - 1, 0, key="feature_map_sample")
        st.plotly_chart(figures.feature_map_figure(array, sample=int(which)), key="activation_feature_maps")
with tabs["Table"]:
    st.dataframe(figures.activation_frame(array))
st.download_button("Download .npy", figures.npy_bytes(array), file_name=f"{node_id.replace('/', '_')}.npy",
                   mime="application/octet-stream", on_click="ignore")

# ------------------------------------------------------------------ all layers
st.subheader("All layers")
# the cluster is the server's (RAY_ADDRESS where it was started, else a local one): never an address typed here,
# as the driver unpickles what a cluster sends (SECURITY.md)
on_ray = importlib.util.find_spec("ray") is not None and st.toggle(
    "On a Ray cluster", key=state.ACTIVATION_RAY,
    help="Ray workers compute the statistics of the samples above, block by block, each opening the model file "
         "with the same trust; the cluster is the server's (RAY_ADDRESS where the app was started, else a local "
         "one on the server). For a dataset of any size, use keras-inspector stats --engine ray.")
stats_key = (*key, mode, on_ray)
known = st.session_state.get(state.ACTIVATION_STATS, {})
if stats_key not in known and st.button("Compute statistics of all layers", key="activation_stats_button"):
    def compute_stats():
        progress = common.progress_bar("Statistics of all layers" + (" on Ray (workers start in about 20 s)…"
                                                                     if on_ray else "…"))
        try:
            if on_ray:
                return activation_stats(st.session_state[state.LOADED].data, "all", data, training=Mode(mode),
                                        progress=progress, engine="ray", trust=opened.trusted)
            return activation_stats(model, "all", data, training=Mode(mode), progress=progress)
        finally:
            progress.bar.empty()

    try:
        common.remembered(state.ACTIVATION_STATS, stats_key, compute_stats)
    except InspectorError as e:
        common.show_error(e)
stats = st.session_state.get(state.ACTIVATION_STATS, {}).get(stats_key)
if stats is None:
    st.caption("Mean, spread, dead units and NaN of every layer's output over the samples above.")
else:
    problems = facts.problem_layers(stats)
    st.dataframe(stats, hide_index=True)
    for message in stats.attrs.get("input_warnings", []):
        st.warning(settings.message_markdown(message))
    if problems:
        st.warning(f"{len(problems)} layer(s) with dead units, NaN or Inf: {settings.literal(', '.join(problems))} "
                   "(highlighted below).")
        try:
            st.plotly_chart(graph_figure(graph, highlight=problems), key="activation_problem_graph")
        except InspectorError as e:
            common.show_error(e)
    else:
        st.success("No dead units, NaN or Inf in any layer.")

if compare:
    st.subheader("Training vs inference, all layers")
    try:
        diff = common.remembered("mode_comparison", key, lambda: compare_modes(model, "all", data, progress=False))
        st.dataframe(diff, hide_index=True)
    except InspectorError as e:
        common.show_error(e)
