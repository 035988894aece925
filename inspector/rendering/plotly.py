"""An interactive plotly figure of the graph, laid out in Python (no Graphviz needed).

The figure is made for Streamlit's ``st.plotly_chart(fig, on_select="rerun")``:
the layers are ONE scatter trace named ``"layers"`` whose ``customdata`` is
``[node id]`` per point, so ``event.selection.points[0]["customdata"][0]`` is
the id of the clicked layer.  Boxes (coloured by family) are layout shapes in
data coordinates so they scale with zoom; edges are one line trace, arrowheads
one marker trace; shared layers are tied by a dashed line; expanded nested
models are dashed boxes around their layers.  The layout is the deterministic
built-in one (:mod:`inspector.rendering.layout`).

Example:
    >>> from inspector.graph import Edge, LayerNode, ModelGraph
    >>> g = ModelGraph("m", "Functional", (LayerNode(id="a", name="a", class_name="Dense"),
    ...                LayerNode(id="b", name="b", class_name="Dense")), (Edge("a", "b"),), ("a",), ("b",))
    >>> fig = graph_figure(g)
    >>> layers = [t for t in fig.data if t.name == "layers"][0]
    >>> [row[0] for row in layers.customdata]
    ['a', 'b']
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from inspector.graph import ModelGraph, NodeKind
from inspector.rendering.dot import MASK_COLOUR, masked_edges, xml_escape
from inspector.rendering.html import cluster_boxes, node_sizes
from inspector.rendering.layout import clip_to_box, layered_layout
from inspector.rendering.style import (
    FAMILIES,
    LabelOptions,
    abbreviate,
    detail_lines,
    family,
    format_count,
    label_lines,
)
from inspector.rendering.view import check_rankdir, prepare

__all__ = ["graph_figure", "NODE_TRACE"]

NODE_TRACE = "layers"
_MAX_HEIGHT = 1600  # pixels; taller graphs open on their top part


def graph_figure(graph: ModelGraph, *, rankdir: str = "TB", expand_depth: int | None = None,
                 highlight: str | Iterable[str] | None = None, fold: bool = True, unfold: Iterable[str] = (),
                 collapse_blocks: bool | None = None, show_shapes: bool = True, show_params: bool = True,
                 show_dtypes: bool = False, expand_models: str | Iterable[str] | None = None,
                 collapse_models: str | Iterable[str] | None = None) -> Any:
    """An interactive ``plotly.graph_objects.Figure`` of the graph; needs no Graphviz.

    Options are those of :func:`~inspector.rendering.dot.to_dot`.  The trace named
    ``"layers"`` carries each node's id in ``customdata[i][0]``; hovering a node shows
    its facts.

    Raises:
        LayerNotFoundError: a highlighted id is not in the graph.
        MissingDependencyError: plotly is not installed.

    Example:
        >>> from inspector.graph import LayerNode, ModelGraph
        >>> g = ModelGraph("m", "Functional", (LayerNode(id="a", name="a", class_name="Dense"),), (), ("a",), ("a",))
        >>> graph_figure(g, highlight="a").layout.title.text
        'm · 0 params'
    """
    try:
        import plotly.graph_objects as go
    except ImportError as e:  # pragma: no cover - plotly is a declared dependency
        from inspector.errors import MissingDependencyError

        raise MissingDependencyError("The interactive graph needs plotly.", received=str(e),
                                     fix="pip install plotly") from e
    rankdir = check_rankdir(rankdir).value
    options = LabelOptions(show_shapes, show_params, show_dtypes)
    view = prepare(graph, expand_depth=expand_depth, fold=fold, unfold=unfold, collapse_blocks=collapse_blocks,
                   highlight=highlight, expand_models=expand_models, collapse_models=collapse_models)
    g = view.graph
    sizes = node_sizes(view, options)
    lay = layered_layout([n.id for n in g.nodes], [(e.src, e.dst) for e in g.edges], sizes, rankdir=rankdir)

    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    # clusters first so they sit under the nodes
    for cid, (x0, y0, x1, y1) in cluster_boxes(g, lay).items():
        shapes.append(dict(type="rect", x0=x0, x1=x1, y0=y0, y1=y1, layer="below",
                           line=dict(color="#dc2626" if cid in view.highlighted else FAMILIES["model"].border,
                                     dash="dash", width=3.5 if cid in view.highlighted else 1),
                           fillcolor="rgba(240,253,250,0.5)"))
        cnode = g.clusters[cid]
        annotations.append(dict(x=x0 + 4, y=y0 + 2, xanchor="left", yanchor="top", showarrow=False,
                                text=xml_escape(abbreviate(f"{cnode.name} · {cnode.class_name}", 80)),
                                font=dict(size=10, color="#0f766e")))

    outputs = set(g.outputs)
    for n in g.nodes:
        box = lay.nodes[n.id]
        fam = FAMILIES[family(n)]
        colour, width = fam.border, (2.2 if n.kind == NodeKind.GROUP or n.id in view.collapsed else 1.2)
        if n.id in view.highlighted:
            colour, width = "#dc2626", 3.5
        if n.id in outputs:
            shapes.append(dict(type="rect", x0=box.x - box.width / 2 - 3, x1=box.x + box.width / 2 + 3,
                               y0=box.y - box.height / 2 - 3, y1=box.y + box.height / 2 + 3, layer="below",
                               line=dict(color=colour, width=1), fillcolor="rgba(0,0,0,0)"))
        shapes.append(dict(type="rect", x0=box.x - box.width / 2, x1=box.x + box.width / 2,
                           y0=box.y - box.height / 2, y1=box.y + box.height / 2, layer="below",
                           line=dict(color=colour, width=width,
                                     dash="dash" if n.opaque or n.kind == NodeKind.SUBCLASSED else "solid"),
                           fillcolor=fam.fill))

    # edges: one line trace (None separates polylines) and one arrowhead trace
    ex: list[float | None] = []
    ey: list[float | None] = []
    mx: list[float | None] = []  # edges whose tensor carries a Keras mask: their own purple trace
    my: list[float | None] = []
    masked = {(e.src, e.dst) for e in masked_edges(view)}
    ax, ay, angles = [], [], []
    for src, dst, points in lay.edges:
        pts = list(points)
        pts[0] = clip_to_box(pts[0], pts[1], lay.nodes[src])
        pts[-1] = clip_to_box(pts[-1], pts[-2], lay.nodes[dst], margin=1.0)
        xs, ys = (mx, my) if (src, dst) in masked else (ex, ey)
        for x, y in pts:
            xs.append(x)
            ys.append(y)
        xs.append(None)
        ys.append(None)
        (x1, y1), (x2, y2) = pts[-2], pts[-1]
        ax.append(x2)
        ay.append(y2)
        # marker angles are clockwise from "up" on screen; y grows downwards here (axis reversed)
        angles.append(round(math.degrees(math.atan2(x2 - x1, y1 - y2)), 1))
    traces = [go.Scatter(x=ex, y=ey, mode="lines", line=dict(color="#9ca3af", width=1), hoverinfo="skip",
                         name="edges", showlegend=False)]
    if mx:
        traces.append(go.Scatter(x=mx, y=my, mode="lines", line=dict(color=MASK_COLOUR, width=2.2),
                                 hoverinfo="skip", name="masked edges", showlegend=False))
    if ax:
        traces.append(go.Scatter(x=ax, y=ay, mode="markers", hoverinfo="skip", name="arrows", showlegend=False,
                                 marker=dict(symbol="triangle-up", size=9, color="#6b7280", angle=angles,
                                             standoff=0)))
    ties = view.ties()
    if ties:
        tx: list[float | None] = []
        ty: list[float | None] = []
        for first, later in ties:
            a, b = lay.nodes[first], lay.nodes[later]
            tx += [a.x, b.x, None]
            ty += [a.y, b.y, None]
        traces.append(go.Scatter(x=tx, y=ty, mode="lines", line=dict(color="#9ca3af", width=1, dash="dot"),
                                 hoverinfo="skip", name="shared layer", showlegend=False))

    hover = []
    for n in g.nodes:
        rows = detail_lines(n, collapsed_layers=view.collapsed.get(n.id, 0))
        hover.append(f"<b>{xml_escape(abbreviate(n.name, 80))}</b><br>"
                     + "<br>".join(f"{xml_escape(k)}: {xml_escape(abbreviate(v, 100))}" for k, v in rows[:18]))
    text = []
    for n in g.nodes:
        lines = label_lines(n, options, collapsed_layers=view.collapsed.get(n.id, 0))
        text.append("<br>".join(f"<b>{xml_escape(line.text)}</b>" if line.style == "title"
                                else f"<i>{xml_escape(line.text)}</i>" if line.style == "class"
                                else xml_escape(line.text) for line in lines))
    traces.append(go.Scatter(
        x=[lay.nodes[n.id].x for n in g.nodes], y=[lay.nodes[n.id].y for n in g.nodes], mode="markers+text",
        name=NODE_TRACE, text=text, textposition="middle center", textfont=dict(size=10, color="#111827"),
        customdata=[[n.id] for n in g.nodes], hovertext=hover, hovertemplate="%{hovertext}<extra></extra>",
        marker=dict(size=[max(8.0, min(40.0, lay.nodes[n.id].height)) for n in g.nodes], symbol="square",
                    color="rgba(0,0,0,0)", line=dict(width=0)),
        selected=dict(marker=dict(color="rgba(220,38,38,0.25)")), showlegend=False))

    fig = go.Figure(data=traces)
    src = view.source
    height = int(min(_MAX_HEIGHT, max(420, lay.height + 80)))
    visible = height - 60  # a tall graph opens on its top at about 1:1, readable; pan down to see more
    fig.update_layout(
        title=dict(text=xml_escape(f"{abbreviate(src.name, 80)} · {format_count(src.total_params)} params"),
                   font=dict(size=14)),
        shapes=shapes, annotations=annotations, height=height, dragmode="pan", hovermode="closest",
        clickmode="event+select", plot_bgcolor="white", paper_bgcolor="white", showlegend=False,
        margin=dict(l=10, r=10, t=40, b=10), uirevision=src.name,
        hoverlabel=dict(align="left", bgcolor="white", font=dict(size=11)),
        meta={"node_trace": NODE_TRACE, "rankdir": rankdir, "crossings": lay.crossings},
    )
    fig.update_xaxes(visible=False, showgrid=False, zeroline=False, range=[-20, lay.width + 20])
    fig.update_yaxes(visible=False, showgrid=False, zeroline=False, range=[min(lay.height, visible) + 20, -20],
                     scaleanchor="x", scaleratio=1)
    return fig
