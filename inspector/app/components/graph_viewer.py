"""The graph viewer as a bidirectional Streamlit component, served from ``inspector``'s viewer folder.

The folder holds plain files (``index.html``, ``component.js``, ``viewer.js``, the vendored
WebAssembly Graphviz): ``component.js`` speaks Streamlit's component protocol by hand, so there
is no npm build.  The component's value is the last click event; each event carries a ``nonce``,
and :func:`graph_viewer` returns an event once only, since Streamlit keeps the value across reruns.

The drawing goes to the browser as deflated JSON bytes (``drawing``), which ``component.js``
inflates with the browser's ``DecompressionStream``: a fifth of the size over the network, and
Streamlit's page passes bytes to the frame as they are.  Sent as JSON arguments, NASNetMobile's
1.4 MB were parsed, compared and copied by Streamlit's page before the frame had them (0.1–0.2 s).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Any

import streamlit as st
import streamlit.components.v1 as components

import inspector
from inspector.app import state

_component = components.declare_component("graph_viewer", path=str(inspector.viewer_folder()))


def pack(payload: dict[str, Any]) -> bytes:
    """``payload`` as the component receives it: its JSON, deflated (zlib's format, level 1: fast)."""
    return zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 1)


def unpack(drawing: bytes) -> dict[str, Any]:
    """The payload in :func:`pack`'s bytes (what ``component.js`` does in the browser)."""
    return json.loads(zlib.decompress(drawing))


def graph_viewer(drawing: bytes, *, highlight: list[str] | None = None, search: str = "",
                 focus: str | None = None, height: int = 720, key: str = "graph_viewer") -> dict[str, Any] | None:
    """Draw ``drawing`` (an ``inspector.viewer_payload``, :func:`pack`ed); return a new click event, else ``None``.

    An event is ``{"type": "select" | "unfold" | "expand" | "collapse", "id": node id, "depth": level}``.
    """
    # the marks go as JSON text: Streamlit checks a dict argument for a dataframe, which imports pandas and pyarrow
    # (0.3 s of the cold landing page, before anything else needed them)
    marks = json.dumps({"highlight": list(highlight or []), "search": search, "focus": focus})
    # Streamlit's page sends the frame a new render when the JSON arguments change, not for new bytes alone
    event = _component(drawing=drawing, version=hashlib.sha256(drawing).hexdigest()[:20], marks=marks,
                       height=height, key=key, default=None)
    if not isinstance(event, dict) or event.get("nonce") == st.session_state.get(state.GRAPH_EVENT):
        return None
    st.session_state[state.GRAPH_EVENT] = event.get("nonce")
    return event
