"""Compare: a second model file against the open one — added, removed and changed layers, weight deltas."""

from __future__ import annotations

import streamlit as st
import streamlit.components.v1 as components

import inspector
from inspector.app import common, settings, state
from inspector.errors import InspectorError
from inspector.model import opening

opened = common.require_model()
st.title(f"Compare · {settings.literal(opened.graph.name)}")
st.caption("Upload a second model (a fine-tuned copy, another checkpoint): layers are matched by name, then by "
           "position, and compared with the open model (A) — no code from the file runs.")
other = st.file_uploader("Model to compare (B)", type=["keras", "h5", "hdf5", "zip"], key=state.COMPARE_UPLOAD,
                         max_upload_size=settings.upload_limit_mb())
if other is None:
    st.stop()

data = other.getvalue()
key = (*common.cache_key(opened), opening.file_digest(data))
reference = opened.model if opened.can_run else opened.graph
try:
    with st.spinner(f"Comparing with {settings.literal(other.name)}…"):
        diff = common.remembered(state.COMPARISONS, key, lambda: inspector.compare(reference, data), keep=2)
except InspectorError as e:
    common.show_error(e)
    st.stop()

columns = st.columns(4)
for column, (status, count) in zip(columns, diff.counts().items(), strict=True):
    column.metric(status.capitalize(), count)
if diff.frame["weight_max_abs_diff"].isna().all() and not diff.frame.empty:
    st.caption("No weight deltas: one side is a static view (or no layer kept its weight shapes).")
changed_only = st.toggle("Only added, removed and changed layers", value=True)
frame = diff.frame[diff.frame["status"] != "same"] if changed_only else diff.frame
st.dataframe(frame, hide_index=True)
st.download_button("Download CSV", diff.frame.to_csv(index=False), file_name=f"{diff.name_a}_vs_{diff.name_b}.csv",
                   mime="text/csv", on_click="ignore")
page = diff.to_html(engine="builtin")
st.subheader("On B's graph")
st.caption("Green: added · red, dashed: removed · amber: changed.")
components.html(page, height=640)
st.download_button("Download HTML", page, file_name=f"{diff.name_a}_vs_{diff.name_b}.html", mime="text/html",
                   on_click="ignore")
