"""Renderers: a :class:`~inspector.graph.ModelGraph` as DOT, SVG/PNG/PDF, JSON, HTML or a plotly figure.

Each output format lives in its own module and sees only the graph dataclasses,
never Keras: :mod:`.dot` (Graphviz), :mod:`.json` (node-link document),
:mod:`.html` (one standalone interactive page), :mod:`.plotly` (a figure for the
app).  :mod:`.style` decides colours and label text for all of them,
:mod:`.fold` folds repeated branches and blocks, :mod:`.view` prepares the graph
a renderer draws (nested expansion, folding, highlight) and :mod:`.layout` is the
built-in layered layout used when Graphviz is not wanted.  Heavy imports
(plotly) happen inside the functions that need them.

Example:
    >>> from inspector.graph import LayerNode, ModelGraph
    >>> g = ModelGraph("m", "Functional", (LayerNode(id="a", name="a", class_name="Dense"),), (), ("a",), ("a",))
    >>> to_json(g)["nodes"][0]["id"], "digraph" in to_dot(g)
    ('a', True)
"""

from __future__ import annotations

from inspector.rendering.dot import OutputFormat, render, to_dot
from inspector.rendering.fold import fold_repeats
from inspector.rendering.html import LayoutEngine, to_html
from inspector.rendering.json import from_json, to_json
from inspector.rendering.plotly import graph_figure
from inspector.rendering.view import RankDir

__all__ = ["to_dot", "render", "to_json", "from_json", "to_html", "graph_figure", "fold_repeats", "OutputFormat",
           "LayoutEngine", "RankDir"]
