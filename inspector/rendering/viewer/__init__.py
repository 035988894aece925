"""The one graph viewer: the same drawing and script in the HTML export and in the app's Graph page.

The drawing is always Graphviz's: SVG from the server's ``dot`` program when it is
installed, else the DOT text laid out in the browser by the vendored WebAssembly
build of Graphviz (``static/vendor/graphviz.js``, see its README for version and
licences), which gives the same drawing without a system Graphviz.  The script
(``static/viewer.js``) pans and zooms by the SVG's viewBox, so text grows with the
zoom; it finds layers, and reports clicks as events:

* ``select`` a layer, ``unfold`` a ``×N`` group, ``expand`` a collapsed nested model,
  ``collapse`` an expanded one (a click on its box's title).

An event's ``id`` is the node id of what was clicked: for ``expand`` and ``collapse``
the nested model's, which the host passes back in ``expand_models`` /
``collapse_models`` to open or close that one model (``depth`` is its nesting level).

Every drawn layer carries ``data-node-id="<node id>"``: the viewer adds it to
Graphviz's ``<g id="n3" class="node">`` from :func:`viewer_payload`'s ``nodes`` map,
because Graphviz cannot write arbitrary attributes.  ``static/`` is also the
folder the app serves as a Streamlit component (``index.html`` + ``component.js``).

A large drawing goes into the page by parts: first the nodes, edges and model boxes
that the first view (and a margin around it) reaches, then the others, a slice per
animation frame, each in its place (Graphviz's order).  The frame ``#ki-canvas`` says
how far it is, each mark holding the payload's ``key``: ``data-ready`` (the first view
is set), ``data-painted`` (two frames later: painted), ``data-complete`` (every part is
in: the DOM contract above holds for the whole graph from then on).

Example:
    >>> import inspector
    >>> graph = inspector.build_graph(inspector.get_sample("otto_mlp").path)
    >>> payload = viewer_payload(graph, engine="browser")
    >>> payload["svg"] is None, payload["dot"].startswith("digraph"), payload["nodes"]["n0"]["kind"]
    (True, True, 'layer')
    >>> (viewer_folder() / "vendor" / "graphviz.js").is_file()
    True
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspector.errors import LimitExceededError
from inspector.graph import ModelGraph, NodeKind
from inspector.rendering.colour import ColourScale, colour_scale, format_value
from inspector.rendering.dot import dot_binary, run_dot, view_to_dot
from inspector.rendering.style import LabelOptions, detail_lines, family
from inspector.rendering.view import View, check_rankdir, prepare

if TYPE_CHECKING:
    from inspector.rendering.html import LayoutEngine

__all__ = ["viewer_payload", "start_layout", "viewer_folder", "viewer_asset", "view_payload", "compact_svg"]

_STATIC = Path(__file__).resolve().parent / "static"


def viewer_folder() -> Path:
    """The folder of the viewer's files (``index.html``, ``viewer.js``, ``viewer.css``, ``vendor/``).

    Example:
        >>> (viewer_folder() / "index.html").is_file()
        True
    """
    return _STATIC


def viewer_asset(name: str) -> str:
    """The text of one of the viewer's files, e.g. ``"viewer.js"`` or ``"vendor/graphviz.js"``.

    Example:
        >>> "KerasInspectorViewer" in viewer_asset("viewer.js")
        True
    """
    return (_STATIC / name).read_text(encoding="utf-8")


_HELVETICA = ' font-family="Helvetica,sans-Serif"'
# threads waiting for `dot` (a process of its own) while the caller writes the node facts; four app sessions at once
_LAYOUTS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dot-layout")
# the layouts begun lately, by their DOT text's digest: a drawing begun early (start_layout) is found done
_LAID_OUT: OrderedDict[str, Future[str]] = OrderedDict()
_LAID_OUT_LOCK = threading.Lock()
_KEPT_LAYOUTS = 8


def compact_svg(text: str) -> str:
    r"""Graphviz's SVG without what the viewer does not use: the XML prologue, comments and ``<title>`` elements,
    and the font family repeated on every text (set once on the ``<svg>`` instead).

    A fifth less to send and parse, and a third fewer elements for the browser to lay out (NASNetMobile).

    Example:
        >>> compact_svg('<?xml version="1.0"?>\n<!-- made by dot -->\n<svg width="8pt">\n<g id="n0" class="node">'
        ...             '<title>n0</title>\n<text font-family="Helvetica,sans-Serif">dense</text></g>\n</svg>')
        '<svg font-family="Helvetica,sans-Serif" width="8pt">\n<g id="n0" class="node"><text>dense</text></g>\n</svg>'
    """
    svg = text[max(0, text.find("<svg")):]
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)
    svg = re.sub(r"<title>[^<]*</title>\n?", "", svg)
    if "font-family=" not in svg.replace(_HELVETICA, ""):  # one family throughout: inherited from the root
        svg = "<svg" + _HELVETICA + svg[len("<svg"):].replace(_HELVETICA, "")
    return svg


def viewer_payload(graph: ModelGraph, *, engine: str = "auto", actions: bool = True, **options: Any) -> dict[str, Any]:
    """What the viewer script draws: DOT, SVG when laid out here, and the facts of every drawn node.

    ``options`` are those of :func:`~inspector.rendering.dot.to_dot` (``rankdir``, ``show_shapes``,
    ``show_params``, ``show_dtypes``, ``expand_depth``, ``fold``, ``unfold``, ``collapse_blocks``,
    ``highlight``, ``marks``, ``show_masks``, ``color_by``, ``values``), plus ``expand_models`` and
    ``collapse_models`` (ids of nested models to open or close alone).  ``engine``: "auto" (Graphviz
    SVG when the ``dot`` program is installed, else none, and the browser lays the DOT out),
    "graphviz", "browser" or "builtin" (the built-in layered layout); ``actions``: whether clicks do
    something in the host (the app), which the hover hints then say.  A drawing whose DOT text was
    laid out lately (:func:`start_layout`) is not laid out again.

    The dict is plain JSON: ``key`` (changes with the drawing), ``svg`` (or ``None``),
    ``dot`` (only when there is no ``svg``: the browser lays it out), ``layout``, ``rankdir``, ``nodes`` (SVG id → ``id``, ``name``, ``class``,
    ``family``, ``kind`` "layer" / "group" / "model", ``depth``, ``rows``), ``clusters``
    (SVG id of an expanded nested model's box → its facts) and ``owners`` (id of a
    hidden layer → SVG id of the group or collapsed model that shows it).

    Raises:
        MissingDependencyError: ``engine="graphviz"`` and no ``dot`` program.
        InputDataError: an unknown ``rankdir`` or ``engine``.
    """
    view, drawing = _prepared(graph, **options)
    return view_payload(view, engine=engine, actions=actions, **drawing)


def start_layout(graph: ModelGraph, *, engine: str = "auto", **options: Any) -> bool:
    """Begin laying out, in a worker thread, the drawing ``viewer_payload(graph, **options)`` makes; return at once.

    A later :func:`viewer_payload` whose DOT text is the same (of this graph or of another that draws
    the same) takes that layout instead of running ``dot`` again.  The app begins one with the graph
    whose weights are predicted from a file's config while its stored weights are still read
    (:func:`~inspector.model.static.static_graph`'s ``predicted``).  Returns whether a layout began:
    not when the engine is not Graphviz (``"auto"`` without the ``dot`` program).

    Example:
        >>> import inspector
        >>> graph = inspector.build_graph(inspector.get_sample("otto_mlp").path)
        >>> start_layout(graph, engine="browser")
        False
    """
    from inspector.rendering.html import LayoutEngine

    if _engine(engine) != LayoutEngine.GRAPHVIZ:
        return False
    view, drawing = _prepared(graph, **options)
    _laid_out(view_to_dot(view, tooltips=False, **drawing))
    return True


def _prepared(graph: ModelGraph, *, rankdir: str = "TB", show_shapes: bool = True, show_params: bool = True,
              show_dtypes: bool = False, expand_depth: int | None = None, fold: bool = True,
              unfold: Iterable[str] = (), collapse_blocks: bool | None = None,
              highlight: str | Iterable[str] | None = None, marks: Mapping[str, str] | None = None,
              show_masks: bool = True, color_by: str | None = None, values: Any = None,
              expand_models: str | Iterable[str] | None = None,
              collapse_models: str | Iterable[str] | None = None) -> tuple[View, dict[str, Any]]:
    """The view of ``graph`` the options ask for, and the options :func:`view_to_dot` draws it with."""
    view = prepare(graph, expand_depth=expand_depth, fold=fold, unfold=unfold, collapse_blocks=collapse_blocks,
                   highlight=highlight, expand_models=expand_models, collapse_models=collapse_models)
    return view, {"rankdir": check_rankdir(rankdir).value, "options": LabelOptions(show_shapes, show_params, show_dtypes),
                  "marks": marks, "show_masks": show_masks,
                  "colours": colour_scale(graph, color_by, values) if color_by else None}


def _engine(engine: str | LayoutEngine) -> LayoutEngine:
    """The layout engine ``engine`` names, ``"auto"`` resolved by whether ``dot`` is installed."""
    from inspector.rendering.html import LayoutEngine, check_engine

    chosen = check_engine(engine)
    if chosen == LayoutEngine.AUTO:
        return LayoutEngine.GRAPHVIZ if dot_binary() is not None else LayoutEngine.BROWSER
    return chosen


def _laid_out(dot: str) -> Future[str]:
    """The compact SVG of ``dot``, laid out by Graphviz in a worker thread, or the layout of the same text begun
    lately (the last :data:`_KEPT_LAYOUTS`; one that failed is tried again)."""
    digest = hashlib.sha256(dot.encode()).hexdigest()
    with _LAID_OUT_LOCK:
        future = _LAID_OUT.get(digest)
        # without `dot` (gone from PATH since), run_dot says so rather than a layout kept from before being shown
        if future is None or (future.done() and future.exception() is not None) or dot_binary() is None:
            future = _LAYOUTS.submit(lambda: compact_svg(run_dot(dot, "svg").decode("utf-8", "replace")))
            _LAID_OUT[digest] = future
        _LAID_OUT.move_to_end(digest)
        while len(_LAID_OUT) > _KEPT_LAYOUTS:
            _LAID_OUT.popitem(last=False)
    return future


def view_payload(view: View, *, rankdir: str = "TB", options: LabelOptions | None = None, engine: str = "auto",
                 actions: bool = True, marks: Mapping[str, str] | None = None,
                 show_masks: bool = True, colours: ColourScale | None = None) -> dict[str, Any]:
    """:func:`viewer_payload` of an already prepared :class:`~inspector.rendering.view.View`.

    ``colours`` (:func:`inspector.rendering.colour.colour_scale`) fills the nodes by a number and adds each
    node's value to its details.
    """
    from inspector.rendering.html import LayoutEngine, builtin_svg, check_engine

    options = options or LabelOptions()
    chosen = _engine(engine)
    dot = view_to_dot(view, rankdir=rankdir, options=options, marks=marks, show_masks=show_masks, colours=colours,
                      tooltips=False)
    svg = None
    laid_out: Future | None = None
    if chosen == LayoutEngine.GRAPHVIZ:  # `dot` runs while the node facts are written (NASNetMobile: 40 ms)
        laid_out = _laid_out(dot)
    elif chosen == LayoutEngine.BUILTIN:
        svg = builtin_svg(view, rankdir=rankdir, options=options, marks=marks, show_masks=show_masks,
                          colours=colours)
    shown = colours.for_view(view) if colours is not None else None
    g = view.graph
    names = {n.id: f"n{i}" for i, n in enumerate(g.nodes)}
    nodes = {}
    for n in g.nodes:
        hidden = view.collapsed.get(n.id, 0)
        kind = "group" if n.kind == NodeKind.GROUP else "model" if n.id in view.collapsed else "layer"
        entry = {"id": n.id, "name": n.name, "class": n.class_name, "family": family(n), "kind": kind,
                 "depth": n.depth, "rows": [list(row) for row in detail_lines(n, collapsed_layers=hidden)]}
        if shown is not None:
            entry["rows"].insert(2, [shown.column, format_value(shown.column, shown.value(n.id))])
        if kind == "group" and n.members:
            entry["first"] = n.members[0]  # where to look once the group is unfolded
        if actions:
            entry["hint"] = {"group": f"Click to unfold these {len(n.members)} layers.",
                             "model": f"Click to expand this model ({hidden} layers)."}.get(kind,
                                                                                         "Click to open this layer.")
        nodes[names[n.id]] = entry
    clusters = {}
    for i, (cid, c) in enumerate(g.clusters.items()):
        clusters[f"cluster_{i}"] = {"id": cid, "name": c.name, "class": c.class_name, "depth": c.depth,
                                    "rows": [list(row) for row in detail_lines(c)],
                                    **({"hint": "Click the title to collapse this model."} if actions else {})}
    owners = {node_id: names[shown] for node_id, shown in view.owner.items()
              if shown != node_id and shown in names}
    if laid_out is not None:
        try:
            svg = laid_out.result()
        except LimitExceededError:  # a drawing too dense for Graphviz, or too slow: "auto" draws it itself
            if check_engine(engine) != LayoutEngine.AUTO:
                raise
            chosen = LayoutEngine.BUILTIN
            svg = builtin_svg(view, rankdir=rankdir, options=options, marks=marks, show_masks=show_masks,
                              colours=colours)
    key = hashlib.sha256(f"{chosen.value}\n{dot}".encode()).hexdigest()[:20]
    # drawn already: the DOT would only add to what goes to the browser (a fifth of the SVG's size)
    return {"key": key, "dot": dot if svg is None else None, "svg": svg, "layout": chosen.value, "rankdir": rankdir, "nodes": nodes,
            "clusters": clusters, "owners": owners}
