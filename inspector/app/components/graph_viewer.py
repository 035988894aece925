"""The graph viewer as a bidirectional Streamlit component, served from ``inspector``'s viewer folder.

The folder holds plain files (``index.html``, ``component.js``, ``viewer.js``, the vendored
WebAssembly Graphviz): ``component.js`` speaks Streamlit's component protocol by hand, so there
is no npm build.  The component's value is the last click event; each event carries a ``nonce``,
and :func:`graph_viewer` returns an event once only, since Streamlit keeps the value across reruns.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
import streamlit.components.v1 as components

import inspector
from inspector.app import state

_component = components.declare_component("graph_viewer", path=str(inspector.viewer_folder()))


def graph_viewer(payload: dict[str, Any], *, highlight: list[str] | None = None, search: str = "",
                 focus: str | None = None, height: int = 720, key: str = "graph_viewer") -> dict[str, Any] | None:
    """Draw ``payload`` (from ``inspector.viewer_payload``); return a new click event, else ``None``.

    An event is ``{"type": "select" | "unfold" | "expand" | "collapse", "id": node id, "depth": level}``.
    """
    marks = {"highlight": list(highlight or []), "search": search, "focus": focus}
    event = _component(payload=payload, marks=marks, height=height, key=key, default=None)
    if not isinstance(event, dict) or event.get("nonce") == st.session_state.get(state.GRAPH_EVENT):
        return None
    st.session_state[state.GRAPH_EVENT] = event.get("nonce")
    return event
