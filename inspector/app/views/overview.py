"""Overview: totals, inputs and outputs, warnings and the summary table."""

from __future__ import annotations

import streamlit as st

from inspector.app import common, settings, state
from inspector.cost import format_macs
from inspector.rendering import facts

opened = common.require_model()
graph = opened.graph
st.title(f"Overview · {settings.literal(graph.name)}")

frame = common.summary(*common.cache_key(opened), graph)
columns = st.columns(6)
columns[0].metric("Parameters", f"{graph.total_params:,}")
columns[1].metric("Trainable", f"{graph.trainable_params:,}")
columns[2].metric("Non-trainable", f"{graph.non_trainable_params:,}")
columns[3].metric("Layers", f"{graph.layer_count:,}")
columns[4].metric("MACs per sample", format_macs(frame.attrs.get("total_macs")),
                  help="Multiply-accumulates of one sample's forward pass (rules: docs/cost.md); unknown when a "
                       "layer's shapes or counting rule are missing.")
columns[5].metric("Class", graph.class_name)

for message in common.warnings(*common.cache_key(opened), opened):
    st.warning(settings.message_markdown(message))

st.subheader("Inputs and outputs")
st.dataframe(facts.io_specs_frame(graph), hide_index=True)

st.subheader("Layers")
shown = facts.filter_summary(frame, common.search_text())
if common.search_text():
    st.caption(f"{len(shown)} of {len(frame)} rows match “{settings.literal(common.search_text())}”.")
event = st.dataframe(shown, hide_index=True, key=state.SUMMARY_TABLE, on_select="rerun",
                     selection_mode="single-row")
st.caption("Select a row to open the layer.")
st.download_button("Download CSV", shown.to_csv(index=False), file_name=f"{graph.name}_summary.csv",
                   mime="text/csv", on_click="ignore")
rows = event.selection.rows if event is not None else []
if rows:
    common.select_layer(str(shown.iloc[rows[0]]["id"]), "layer")
