"""Attribution: which inputs made a prediction (Grad-CAM, saliency, integrated gradients), gradient health per layer."""

from __future__ import annotations

import streamlit as st

from inspector import grad_cam, gradient_stats, integrated_gradients, saliency, to_dot
from inspector.analysis import layers
from inspector.analysis.attribution import select_sample
from inspector.app import common, settings, state
from inspector.errors import InspectorError
from inspector.io.images import IMAGE_SCALES, IMAGE_SUFFIXES, read_image
from inspector.io.inputs import input_specs
from inspector.rendering import facts, figures
from inspector.rendering.attribution import attribution_figure, attribution_png, drawn_over_image

METHODS = ("Grad-CAM", "Saliency", "Integrated gradients")

opened = common.require_model()
graph = opened.graph
st.title("Attribution")
common.require_runnable(opened, "Attribution")
model = opened.model
sample = common.current_sample()

# ------------------------------------------------------------------ the input
sources = (["Sample inputs"] if sample is not None else []) + ["Upload image", "Upload data"]
source = st.radio("Input", sources, horizontal=True, key=state.ATTRIBUTION_SOURCE)
try:
    if source == "Sample inputs":
        data, data_key = sample.load_inputs(), ("sample", sample.slug)
    elif source == "Upload image":
        scale = st.radio("Pixel values the model expects", IMAGE_SCALES, horizontal=True, key=state.ATTRIBUTION_SCALE)
        upload = st.file_uploader("An image (resized to the model's input)", type=list(IMAGE_SUFFIXES),
                                  key=state.ATTRIBUTION_IMAGE)
        if upload is None:
            st.info("Upload a PNG or JPEG image for the model's image input.")
            st.stop()
        data, data_key = read_image(upload.getvalue(), input_specs(model)[0].shape, scale=scale), \
            ("image", upload.file_id, scale)
    else:
        upload = st.file_uploader("A .npy, .npz or .csv file matching the model's inputs (one row is explained)",
                                  type=["npy", "npz", "csv"], key=state.ATTRIBUTION_DATA)
        if upload is None:
            st.dataframe(facts.io_specs_frame(graph, roles=("input",)), hide_index=True)
            st.info("Upload data for the inputs above; pick the row (sample) to explain below.")
            st.stop()
        data, data_key = layers.read_data_upload(upload.name, upload.getvalue()), ("upload", upload.file_id)
    count = select_sample(model, data, 0)[1]
    columns = st.columns([1, 1, 2])
    row = int(columns[0].number_input("Sample (row)", 0, max(count - 1, 0), 0, key=state.ATTRIBUTION_ROW))
    x, _ = select_sample(model, data, row)
except InspectorError as e:
    common.show_error(e)
    st.stop()

target = int(columns[1].number_input("Target (output unit or class)", 0, None, 0, key=state.ATTRIBUTION_TARGET))
method = columns[2].radio("Method", METHODS, horizontal=True, key=state.ATTRIBUTION_METHOD)
if method == "Saliency":
    smoothgrad = st.slider("SmoothGrad samples (0: plain gradient)", 0, 50, 0, key=state.ATTRIBUTION_SMOOTHGRAD)
elif method == "Integrated gradients":
    steps = st.slider("Integration steps", 4, 200, 50, key=state.ATTRIBUTION_STEPS)
key = (*common.cache_key(opened), data_key, row, target)


def explain():
    with st.spinner(f"{method} of target {settings.literal(target)}…"):
        if method == "Grad-CAM":
            return grad_cam(model, x, target=target)
        if method == "Saliency":
            return saliency(model, x, target=target, smoothgrad=smoothgrad)
        return integrated_gradients(model, x, target=target, steps=steps)


options = (smoothgrad,) if method == "Saliency" else (steps,) if method == "Integrated gradients" else ()
try:
    result = common.remembered(state.ATTRIBUTIONS, (*key, method, *options), explain)
except InspectorError as e:
    common.show_error(e)
    st.stop()

# ------------------------------------------------------------------ the map
image = x[0][0]
if method == "Grad-CAM":
    maps, signed, where = (result.heatmap if result.heatmap is not None else result.cam), False, \
        f"layer {result.layer}"
elif method == "Saliency":
    maps, signed, where = result.map, False, result.attributed_to
else:
    maps, signed, where = result.attributions, True, result.attributed_to
st.caption(f"{method} of {settings.literal(result.target)} on {settings.literal(where)}; score {float(result.score[0]):.6g}.")
if method == "Integrated gradients":
    error = float(result.completeness_error[0])
    text = (f"sum of attributions vs score(x) − score(baseline) {float(result.score[0] - result.baseline_score[0]):.6g}"
            f": relative error {error:.2%} (tolerance {result.tolerance:.0%})")
    (st.success if result.complete else st.warning)(
        f"Completeness {'passed' if result.complete else 'failed — raise the steps'}: {text}.")
labels = image.tolist() if "Embedding" in where and len(image.shape) == 1 else None
figure = attribution_figure(maps[0], image=image, signed=signed, labels=labels, title=f"{method}: target {target}")
st.plotly_chart(figure, key="attribution_figure")
downloads = st.columns(2)
downloads[0].download_button("Download map (.npy)", figures.npy_bytes(maps), file_name="attribution.npy",
                             mime="application/octet-stream", on_click="ignore")
if drawn_over_image(maps[0], image):
    overlay = attribution_png(maps[0], image, signed=signed)
    downloads[1].download_button("Download overlay (.png)", overlay, file_name="attribution.png", mime="image/png",
                                 on_click="ignore")

# ------------------------------------------------------------------ gradient health
st.subheader("Gradient health of every layer")
known = st.session_state.get(state.GRADIENT_HEALTH, {})
if key not in known and st.button("Compute gradients of all layers", key="gradient_health_button"):
    try:
        with st.spinner("Gradients of every layer…"):
            common.remembered(state.GRADIENT_HEALTH, key, lambda: gradient_stats(model, x, target=target))
    except InspectorError as e:
        common.show_error(e)
health = st.session_state.get(state.GRADIENT_HEALTH, {}).get(key)
if health is None:
    st.caption("The gradient of the target with respect to every layer's output for this sample: its norm, the "
               "share of exact zeros (dead ReLUs), NaN and Inf — coloured on the graph.")
else:
    st.dataframe(health, hide_index=True)
    try:
        st.graphviz_chart(to_dot(graph, color_by="grad_norm", values=health), use_container_width=True)
    except InspectorError as e:
        common.show_error(e)
