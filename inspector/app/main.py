"""Keras Inspector, the Streamlit app: ``keras-inspector app`` (or ``streamlit run app/main.py`` in a clone).

It ships inside the package (``inspector/app/``), so an installed wheel has it.  The sidebar (model
source, facts, layer search) is drawn here for every page; the pages are short scripts under
``views/`` (not ``pages/``: that folder name turns on Streamlit's automatic multipage mode, which
fights ``st.navigation``).  All computing happens in the ``inspector`` library; the app is the only
part of the package that imports Streamlit.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this script's folder on sys.path; the package root must be there to import `inspector`
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from inspector.app import common  # noqa: E402
from inspector.model import opening  # noqa: E402

opening.start_reader()  # the HDF5 reader's interpreter starts while the sidebar is drawn, before a file is opened

st.set_page_config(page_title="Keras Inspector", page_icon=":material/search:", layout="wide")

navigation = st.navigation([
    # the graph first: a model opens on its drawing, as in Netron (the Graph page is the fastest way to see it)
    st.Page(common.PAGES["graph"], title="Graph", icon=":material/account_tree:", default=True),
    st.Page(common.PAGES["overview"], title="Overview", icon=":material/table_chart:"),
    st.Page(common.PAGES["layer"], title="Layer", icon=":material/layers:"),
    st.Page(common.PAGES["activations"], title="Activations", icon=":material/bolt:"),
    st.Page(common.PAGES["embeddings"], title="Embeddings", icon=":material/scatter_plot:"),
    st.Page(common.PAGES["attribution"], title="Attribution", icon=":material/target:"),
    st.Page(common.PAGES["compare"], title="Compare", icon=":material/compare_arrows:"),
])
common.sidebar()
try:
    navigation.run()
finally:  # also after st.stop() and st.rerun(), which end the run by raising
    # the model's load, TensorFlow's import and the UMAP kernels' compilation begin in the background once the
    # page is sent (and its graph painted): begun before, they took Python's lock from the landing graph
    common.begin_background()
