"""One standalone HTML page that pans, zooms and shows every fact of a layer on hover and click.

Everything is inline (SVG, CSS, the viewer script the app uses too, the node facts
as JSON): the file opens from disk with no server and no network.  The drawing is
Graphviz's SVG when the ``dot`` program is installed; without it the page carries
the DOT and the vendored WebAssembly Graphviz and lays it out when opened (the same
drawing); :func:`builtin_svg` draws the built-in layered layout on request.  The
viewer (:mod:`inspector.rendering.viewer`) wires up the ``<g class="node" id="n0">``
groups:

* the mouse wheel and + / − zoom around the pointer, dragging pans, "Fit" shows all;
* hovering a node shows its facts in a tooltip, clicking pins them in the side panel;
* the search box highlights the nodes whose name or class contains the text.

Example:
    >>> from inspector.graph import LayerNode, ModelGraph
    >>> g = ModelGraph("m", "Functional", (LayerNode(id="a", name="a", class_name="Dense"),), (), ("a",), ("a",))
    >>> page = to_html(g, engine="builtin")
    >>> page.startswith("<!DOCTYPE html>"), 'class="node"' in page, "http" in page.split("<svg", 1)[0]
    (True, True, False)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from enum import Enum

from inspector.graph import LayerNode, ModelGraph, NodeKind
from inspector.rendering.colour import MISSING_FILL, ColourScale, colour_scale, ramp
from inspector.rendering.dot import (
    MARK_COLOURS,
    MASK_COLOUR,
    masked_edges,
    view_marks,
    xml_escape,
)
from inspector.rendering.layout import Layout, clip_to_box, layered_layout
from inspector.rendering.style import (
    FAMILIES,
    LabelOptions,
    abbreviate,
    family,
    format_count,
    label_lines,
)
from inspector.rendering.view import View, check_rankdir, prepare

__all__ = ["LayoutEngine", "to_html", "builtin_svg", "node_sizes", "cluster_boxes"]


class LayoutEngine(str, Enum):
    """Who lays out the drawing: AUTO (Graphviz on the server when installed, else in the browser),
    GRAPHVIZ (the server's ``dot``), BROWSER (the vendored WebAssembly Graphviz) or BUILTIN."""

    AUTO = "auto"
    GRAPHVIZ = "graphviz"
    BROWSER = "browser"
    BUILTIN = "builtin"


def check_engine(engine: str | LayoutEngine) -> LayoutEngine:
    """``engine`` as a :class:`LayoutEngine`, or an :class:`InputDataError` naming the choices.

    Example:
        >>> check_engine("Browser")
        <LayoutEngine.BROWSER: 'browser'>
    """
    from inspector.errors import InputDataError

    try:
        return LayoutEngine(str(getattr(engine, "value", engine)).lower())
    except ValueError:
        raise InputDataError("Unknown layout engine for the graph drawing.", received=repr(engine),
                             fix="Use 'auto', 'graphviz', 'browser' or 'builtin'.") from None


CHAR_WIDTH = 6.2  # points per character at the 10.5 pt label font; a generous estimate
LINE_HEIGHT = 13.0


def node_sizes(view: View, options: LabelOptions) -> dict[str, tuple[float, float]]:
    """Box size ``(width, height)`` in points of each node, from its label text."""
    sizes = {}
    for n in view.graph.nodes:
        lines = label_lines(n, options, collapsed_layers=view.collapsed.get(n.id, 0))
        longest = max(len(line.text) * (1.1 if line.style == "title" else 1.0) for line in lines)
        sizes[n.id] = (round(longest * CHAR_WIDTH + 16, 1), round(len(lines) * LINE_HEIGHT + 10, 1))
    return sizes


def cluster_boxes(graph: ModelGraph, lay: Layout, *, margin: float = 8.0,
                  label: float = 14.0) -> dict[str, tuple[float, float, float, float]]:
    """``(x0, y0, x1, y1)`` of each expanded nested model: around its layers and inner boxes, in cluster order.

    Each box holds its children's boxes plus a margin and room for its label on top, so
    nested boxes never cross.
    """
    own: dict[str, list[tuple[float, float, float, float]]] = {c: [] for c in graph.clusters}
    for n in graph.nodes:
        if n.parent in own:
            b = lay.nodes[n.id]
            own[n.parent].append((b.x - b.width / 2, b.y - b.height / 2, b.x + b.width / 2, b.y + b.height / 2))
    boxes: dict[str, tuple[float, float, float, float]] = {}
    for cid in sorted(graph.clusters, key=lambda c: -graph.clusters[c].depth):
        inside = own[cid]
        if not inside:
            continue
        box = (min(b[0] for b in inside) - margin, min(b[1] for b in inside) - margin - label,
               max(b[2] for b in inside) + margin, max(b[3] for b in inside) + margin)
        boxes[cid] = box
        parent = graph.clusters[cid].parent
        if parent in own:
            own[parent].append(box)
    return {c: boxes[c] for c in graph.clusters if c in boxes}


def builtin_svg(view: View, *, rankdir: str = "TB", options: LabelOptions | None = None,
                marks: Mapping[str, str] | None = None, show_masks: bool = True,
                colours: ColourScale | None = None) -> str:
    """The view drawn as SVG with the built-in layout (no Graphviz); node groups have ``id="n<i>"``."""
    options = options or LabelOptions()
    colours = colours.for_view(view) if colours is not None else None
    marks = view_marks(view, marks)
    masked = {(e.src, e.dst) for e in masked_edges(view)} if show_masks else set()
    g = view.graph
    names = {n.id: f"n{i}" for i, n in enumerate(g.nodes)}
    sizes = node_sizes(view, options)
    lay = layered_layout([n.id for n in g.nodes], [(e.src, e.dst) for e in g.edges], sizes, rankdir=rankdir)
    pad = 20.0
    top = 34.0 if colours is None else 62.0  # room for the title (and the colour legend)
    width, height = lay.width + 2 * pad, lay.height + 2 * pad + top
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}pt" height="{height:.0f}pt" '
           f'viewBox="0 0 {width:.2f} {height:.2f}" font-family="Helvetica, Arial, sans-serif">',
           '<defs><marker id="ki-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>',
           f'<g id="graph0" class="graph" transform="translate({pad} {pad + top})">',
           f'<text x="0" y="{-top / 2:.1f}" font-size="13" font-weight="bold">{xml_escape(abbreviate(view.source.name))}'
           f' <tspan font-weight="normal" font-size="11">{format_count(view.source.total_params)} params</tspan></text>']
    if colours is not None:
        out.append(_svg_legend(colours, y=-top / 2 + 8))
    # clusters: the bounding box of everything inside each expanded nested model
    for i, (cid, (x0, y0, x1, y1)) in enumerate(cluster_boxes(g, lay).items()):
        cnode = g.clusters[cid]
        stroke, width = ("#dc2626", 3.5) if cid in view.highlighted else (FAMILIES["model"].border, 1)
        out.append(f'<g id="cluster_{i}" class="cluster"><title>{xml_escape(cid)}</title>'
                   f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" rx="8" '
                   f'fill="#f0fdfa" fill-opacity="0.6" stroke="{stroke}" stroke-width="{width}" '
                   'stroke-dasharray="4 3"/>'
                   f'<text x="{x0 + 6:.1f}" y="{y0 + 12:.1f}" font-size="10" fill="#0f766e">'
                   f'{xml_escape(abbreviate(cnode.name))} · {xml_escape(abbreviate(cnode.class_name))}</text></g>')
    for k, (src, dst, points) in enumerate(lay.edges):
        pts = list(points)
        pts[0] = clip_to_box(pts[0], pts[1], lay.nodes[src])
        pts[-1] = clip_to_box(pts[-1], pts[-2], lay.nodes[dst], margin=1.0)
        path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))
        colour, width = (MASK_COLOUR, 2.2) if (src, dst) in masked else ("#6b7280", 1)
        out.append(f'<g id="edge{k}" class="edge"><path d="{path}" fill="none" stroke="{colour}" '
                   f'stroke-width="{width}" marker-end="url(#ki-arrow)"/></g>')
    for first, later in view.ties():
        a, b = lay.nodes[first], lay.nodes[later]
        out.append(f'<g class="edge tie"><path d="M{a.x:.1f},{a.y:.1f} L{b.x:.1f},{b.y:.1f}" fill="none" '
                   f'stroke="#9ca3af" stroke-dasharray="5 4"/></g>')
    outputs = set(g.outputs)
    for n in g.nodes:
        out.append(_svg_node(n, names[n.id], lay.nodes[n.id], view, options, n.id in outputs, marks.get(n.id),
                             colours))
    out.append("</g></svg>")
    return "\n".join(out)


def _svg_legend(colours: ColourScale, *, y: float) -> str:
    """The colour scale as a row of swatches with their values (``id="legend"``)."""
    parts = [f'<g id="legend"><text x="0" y="{y + 10:.1f}" font-size="9">colour: '
             f'{xml_escape(abbreviate(colours.title, 80))}</text>']
    x = 130.0
    for colour, text in [*colours.ticks(), (MISSING_FILL, "no value")]:
        ink = ' fill="white"' if colour == ramp(1.0) else ""  # the darkest stop
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="56" height="14" fill="{colour}" stroke="#9ca3af"/>'
                     f'<text x="{x + 28:.1f}" y="{y + 10:.1f}" font-size="9" text-anchor="middle"{ink}>'
                     f'{xml_escape(text)}</text>')
        x += 56
    parts.append("</g>")
    return "".join(parts)


def _svg_node(node: LayerNode, name: str, box, view: View, options: LabelOptions, is_output: bool,
              mark: str | None = None, colours: ColourScale | None = None) -> str:
    fam = FAMILIES[family(node)]
    x0, y0 = box.x - box.width / 2, box.y - box.height / 2
    fill, stroke = MARK_COLOURS.get(mark or "", (fam.fill, fam.border))
    ink = ""
    if colours is not None:
        fill = colours.colour(node.id)
        ink = ' fill="white"' if colours.dark(node.id) else ""
    stroke_width = 2.5 if mark else 1.2
    if node.kind == NodeKind.GROUP or node.id in view.collapsed:
        stroke_width = 2.2
    if node.id in view.highlighted:
        stroke, stroke_width = "#dc2626", 3.5
    dash = ' stroke-dasharray="4 3"' if node.opaque or node.kind == NodeKind.SUBCLASSED or mark == "removed" else ""
    parts = [f'<g id="{name}" class="node"><title>{xml_escape(node.id)}</title>']
    if is_output:
        parts.append(f'<rect x="{x0 - 3:.1f}" y="{y0 - 3:.1f}" width="{box.width + 6:.1f}" '
                     f'height="{box.height + 6:.1f}" rx="7" fill="none" stroke="{stroke}"/>')
    parts.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" rx="5" '
                 f'fill="{fill}" stroke="{stroke}" stroke-width="{stroke_width}"{dash}/>')
    lines = label_lines(node, options, collapsed_layers=view.collapsed.get(node.id, 0))
    y = y0 + 5 + LINE_HEIGHT - 2.5
    for line in lines:
        attrs = {"title": ' font-weight="bold" font-size="10.5"', "class": ' font-style="italic" font-size="10"',
                 "badge": ' font-size="8.5" fill="#1d4ed8"'}.get(line.style, ' font-size="10"')
        if ink and line.style != "badge":
            attrs += ink
        parts.append(f'<text x="{box.x:.1f}" y="{y:.1f}" text-anchor="middle"{attrs}>{xml_escape(line.text)}</text>')
        y += LINE_HEIGHT
    parts.append("</g>")
    return "".join(parts)


def _strip_prolog(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def _script_json(value: object) -> str:
    """JSON safe inside ``<script>``: no ``</script>``, no ``<!--``, no stray ampersands."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def to_html(graph: ModelGraph, *, rankdir: str = "TB", show_shapes: bool = True, show_params: bool = True,
            show_dtypes: bool = False, expand_depth: int | None = None,
            highlight: str | Iterable[str] | None = None, fold: bool = True, unfold: Iterable[str] = (),
            collapse_blocks: bool | None = None, engine: str | LayoutEngine = LayoutEngine.AUTO,
            title: str | None = None, marks: Mapping[str, str] | None = None, show_masks: bool = True,
            color_by: str | None = None, values: object = None, color_scale: str | None = None,
            expand_models: str | Iterable[str] | None = None, collapse_models: str | Iterable[str] | None = None) -> str:
    """One standalone HTML page of the graph: the app's viewer (pan, zoom, search, hover and click for details).

    Options are those of :func:`~inspector.rendering.dot.to_dot`, plus ``engine``
    ("auto": Graphviz when the ``dot`` program is installed, else Graphviz in the
    browser; "graphviz"; "browser": the page carries the DOT and a WebAssembly
    Graphviz (about 0.8 MB) and lays it out when opened; "builtin": the built-in
    layout) and the page ``title``; ``marks``, ``show_masks``, ``color_by``, ``values``
    and ``color_scale`` as in ``to_dot`` (a legend names the mark colours; the colour
    scale is drawn in the top bar as ``#ki-scale`` and each node's value is among its
    details).

    Raises:
        MissingDependencyError: ``engine="graphviz"`` and no ``dot`` program.
        LayerNotFoundError: a highlighted id is not in the graph.

    Example:
        >>> from inspector.graph import LayerNode, ModelGraph
        >>> g = ModelGraph("m<1>", "Functional", (LayerNode(id="a", name="a", class_name="Dense"),), (), ("a",), ("a",))
        >>> "<title>m&lt;1&gt;</title>" in to_html(g, engine="builtin")
        True
    """
    from inspector.rendering.viewer import view_payload, viewer_asset

    rankdir = check_rankdir(rankdir).value
    options = LabelOptions(show_shapes, show_params, show_dtypes)
    view = prepare(graph, expand_depth=expand_depth, fold=fold, unfold=unfold, collapse_blocks=collapse_blocks,
                   highlight=highlight, expand_models=expand_models, collapse_models=collapse_models)
    colours = colour_scale(graph, color_by, values, scale=color_scale) if color_by is not None else None
    payload = view_payload(view, rankdir=rankdir, options=options, engine=check_engine(engine), actions=False,
                           marks=marks, show_masks=show_masks, colours=colours)
    svg = payload.pop("svg")
    nodes = payload.pop("nodes")
    graphviz = ""
    if svg is None:  # laid out when opened: the page carries Graphviz itself
        module = viewer_asset("vendor/graphviz.js")
        graphviz = f'<script type="text/plain" id="ki-graphviz">{module}</script>'
    else:
        del payload["dot"]
    src = view.source
    heading = title if title is not None else src.name
    summary = (f"{src.class_name} · {format_count(src.layer_count)} layers · {format_count(src.total_params)} "
               f"params ({format_count(src.trainable_params)} trainable)")
    families = sorted({family(n) for n in view.graph.nodes}, key=list(FAMILIES).index)
    legend = "".join(f'<span class="sw" style="background:{FAMILIES[f].fill};border-color:{FAMILIES[f].border}">'
                     f"</span>{xml_escape(FAMILIES[f].title)} " for f in families)
    legend += "".join(f'<span class="sw" style="background:{MARK_COLOURS[m][0]};border-color:{MARK_COLOURS[m][1]}">'
                      f"</span>{m} " for m in MARK_COLOURS if m in set((marks or {}).values()))
    if colours is not None:  # the fill is the number now: the scale replaces the family swatches
        legend = _scale_legend(colours)
    engines = {"graphviz": "Graphviz", "browser": "Graphviz in the browser", "builtin": "built-in layout"}
    return _PAGE.format(title=xml_escape(abbreviate(heading, 200)), summary=xml_escape(summary), legend=legend,
                        svg=svg or "", data=_script_json(nodes), graph=_script_json(payload),
                        css=viewer_asset("viewer.css") + _CSS, viewer=viewer_asset("viewer.js"), graphviz=graphviz,
                        engine=engines[payload["layout"]])


def _scale_legend(colours: ColourScale) -> str:
    ticks = colours.ticks()
    gradient = ", ".join(colour for colour, _ in ticks) if len(ticks) > 1 else f"{ticks[0][0]}, {ticks[0][0]}"
    return (f'<span id="ki-scale" data-column="{xml_escape(colours.column)}">{xml_escape(colours.title)}: '
            f'<span class="ki-tick">{xml_escape(ticks[0][1])}</span>'
            f'<span class="ki-bar" style="background:linear-gradient(to right, {gradient})"></span>'
            f'<span class="ki-tick">{xml_escape(ticks[-1][1])}</span>'
            f'<span class="sw" style="background:{MISSING_FILL};border-color:#9ca3af"></span>no value</span>')


# the export's own frame around the shared viewer: a title bar and a details panel
_CSS = """
#ki-top{position:fixed;top:0;left:0;right:0;height:52px;padding:6px 12px;border-bottom:1px solid #e5e7eb;
 background:#f9fafb;display:flex;gap:16px;align-items:center;z-index:2}
#ki-top h1{font-size:15px;margin:0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:30%}
#ki-top .muted{color:#6b7280;font-size:12px}
#ki-legend{font-size:11px;color:#374151;overflow:hidden;white-space:nowrap;text-overflow:ellipsis;flex:1}
.ki-bar{display:inline-block;width:140px;height:10px;border:1px solid #9ca3af;margin:0 4px;vertical-align:-1px}
.sw{display:inline-block;width:10px;height:10px;border:1px solid;border-radius:2px;margin:0 3px 0 6px;
 vertical-align:-1px}
#ki-canvas{position:fixed;top:52px;left:0;right:320px;bottom:0}
#ki-side{position:fixed;top:52px;right:0;width:320px;bottom:0;border-left:1px solid #e5e7eb;padding:10px 12px;
 overflow:auto;background:#fff}
#ki-side h2{font-size:14px;margin:4px 0 8px;word-break:break-all}
"""

_BOOT = """
(function () {
  var graph = JSON.parse(document.getElementById("ki-graph").textContent);
  graph.nodes = JSON.parse(document.getElementById("ki-data").textContent);
  window.KerasInspectorViewer.create({}).show(graph, {});
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Keras Inspector ({engine})">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<div id="ki-top"><h1>{title}</h1><span class="muted">{summary}</span>
<span class="ki-tools"><input id="ki-search" type="search" placeholder="find a layer" aria-label="find a layer">
<button id="ki-zoom-out" type="button" title="zoom out (-)" aria-label="zoom out">−</button>
<button id="ki-zoom-in" type="button" title="zoom in (+)" aria-label="zoom in">+</button>
<button id="ki-fit" type="button" title="the whole graph (0)">Fit</button>
<button id="ki-start" type="button" title="readable, at the start of the graph (1)">Start</button>
<span id="ki-status" role="status"></span></span><div id="ki-legend">{legend}</div></div>
<div id="ki-canvas" tabindex="0">
{svg}
</div>
<div id="ki-side"><div id="ki-details"><p class="muted">Hover a layer for its details; click to pin them here.
Scroll or press + and − to zoom, drag to pan, 0 for the whole graph.</p></div></div>
<div id="ki-tip"></div>
<script type="application/json" id="ki-data">{data}</script>
<script type="application/json" id="ki-graph">{graph}</script>
{graphviz}
<script>{viewer}</script>
<script>""" + _BOOT.replace("{", "{{").replace("}", "}}") + """</script>
</body>
</html>
"""
