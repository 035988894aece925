"""A model in a notebook: the graph as inline SVG, and a text summary like ``model.summary()``.

:func:`graph_html` is what ``ModelGraph._repr_html_`` shows in Jupyter: the
drawing as inline SVG in a scrollable box, with no script and nothing fetched
from the network (Graphviz's drawing when the ``dot`` program is installed,
else the built-in layout; a Graphviz failure or timeout falls back to the
built-in layout rather than leaving the cell empty).  :func:`summary_text` and
:func:`print_summary` give the summary table as text: one row per layer call
(nested layers indented), output shapes, parameters, MACs per sample, and
whether the facts come from the loaded model or from the file's static view.

Example:
    >>> import inspector
    >>> graph = inspector.build_graph(inspector.get_sample("otto_mlp").path)
    >>> html = graph_html(graph)
    >>> html.startswith("<div") and "<svg" in html and "<script" not in html
    True
    >>> print(summary_text(graph).splitlines()[0])
    Model: 'otto_mlp' (Sequential) · loaded: every shape known
"""

from __future__ import annotations

from typing import Any

from inspector.errors import InspectorError
from inspector.graph import ModelGraph, Source
from inspector.rendering.dot import DEFAULT_TIMEOUT, dot_binary, run_dot, view_to_dot, xml_escape
from inspector.rendering.html import builtin_svg
from inspector.rendering.style import LabelOptions
from inspector.rendering.view import prepare

__all__ = ["graph_html", "summary_text", "print_summary", "NOTEBOOK_TIMEOUT"]

NOTEBOOK_TIMEOUT = 60.0  # seconds of Graphviz before a notebook cell falls back to the built-in layout
_MAX_CELL = 40


def graph_html(graph: ModelGraph, *, max_height: int = 640, timeout: float = NOTEBOOK_TIMEOUT,
               **options: Any) -> str:
    """The graph as an HTML fragment for a notebook: inline SVG in a scrollable box, no script, offline.

    ``options`` are ``rankdir``, ``expand_depth``, ``expand_models``, ``fold``, ``color_by``, ``values``
    and the other drawing options of :func:`~inspector.rendering.dot.to_dot`.
    """
    from inspector.rendering.colour import colour_scale

    rankdir = str(options.pop("rankdir", "TB")).upper()
    label = LabelOptions(options.pop("show_shapes", True), options.pop("show_params", True),
                         options.pop("show_dtypes", False))
    color_by, values = options.pop("color_by", None), options.pop("values", None)
    scale = options.pop("color_scale", None)
    colours = colour_scale(graph, color_by, values, scale=scale) if color_by is not None else None
    marks, show_masks = options.pop("marks", None), options.pop("show_masks", True)
    view = prepare(graph, **options)
    svg = None
    if dot_binary() is not None:
        try:
            dot = view_to_dot(view, rankdir=rankdir, options=label, marks=marks, show_masks=show_masks,
                              colours=colours)
            svg = run_dot(dot, "svg", timeout=min(timeout, DEFAULT_TIMEOUT)).decode("utf-8", "replace")
            svg = svg[svg.find("<svg"):]
        except InspectorError:
            svg = None  # too slow or broken: the built-in layout always draws
    if svg is None:
        svg = builtin_svg(view, rankdir=rankdir, options=label, marks=marks, show_masks=show_masks, colours=colours)
    return (f'<div class="keras-inspector-graph" style="max-height:{int(max_height)}px;overflow:auto;'
            f'border:1px solid #e5e7eb;padding:4px" title="{xml_escape(repr(graph))}">{svg}</div>')


def summary_text(graph: ModelGraph, *, max_rows: int | None = None) -> str:
    """The summary as aligned text: layer (type), output shape, params, MACs, inputs; totals below.

    ``graph`` is a :class:`ModelGraph` (``inspector.build_graph`` makes one of a model or a
    file).  Nested layers are indented under their model;
    ``max_rows`` keeps the first rows of a long model (the totals always cover all of it).
    An unknown count is ``?`` (a shape or a counting rule missing).
    """
    from inspector.cost import format_macs
    from inspector.limits import format_bytes
    from inspector.rendering.summary import summary_frame

    frame = summary_frame(graph)
    attrs = frame.attrs
    headers = ["Layer (type)", "Output shape", "Params", "MACs", "Connected to"]
    rows = []
    shown = frame if max_rows is None else frame.head(max_rows)
    for r in shown.itertuples(index=False):
        macs = "?" if _missing(r.macs) else format_macs(int(r.macs))
        rows.append(["  " * int(r.depth) + _cut(f"{r.name} ({r.class_name})"), _cut(r.output_shape),
                     f"{int(r.params):,}", macs, _cut(r.connected_to)])
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headers)]
    numeric = [False, False, True, True, False]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if num else c.ljust(w)
                         for c, w, num in zip(cells, widths, numeric, strict=True)).rstrip()

    source = attrs.get("source")
    status = ("static view: parsed from the file, no code run; shapes may be missing" if source == Source.STATIC.value
              else "loaded: every shape known")
    title = f"Model: {attrs.get('name', '')!r} ({attrs.get('class_name', '')}) · {status}"
    out = [title, line(headers), "  ".join("-" * w for w in widths), *(line(row) for row in rows)]
    if max_rows is not None and len(frame) > max_rows:
        out.append(f"… {len(frame) - max_rows:,} more rows")
    size = attrs.get("total_bytes")
    out.append("")
    out.append(f"Total params: {int(attrs.get('total_params') or 0):,}" + (f" ({format_bytes(size)})" if size else "")
               + f" | Trainable: {int(attrs.get('trainable_params') or 0):,}"
               + f" | Non-trainable: {int(attrs.get('non_trainable_params') or 0):,}")
    activations = attrs.get("total_output_bytes")
    out.append(f"MACs per sample: {format_macs(attrs.get('total_macs'))} | Activations per sample: "
               + (format_bytes(activations) if activations is not None else "unknown"))
    return "\n".join(out)


def print_summary(graph: ModelGraph, *, max_rows: int | None = None) -> None:
    """Print :func:`summary_text`: Keras's ``model.summary()`` with MACs and the static/loaded status.

    Example:
        >>> import inspector
        >>> graph = inspector.build_graph(inspector.get_sample("otto_mlp").path)
        >>> inspector.print_summary(graph, max_rows=0)  # doctest: +ELLIPSIS
        Model: 'otto_mlp' (Sequential) · ...
        Layer (type)  Output shape  Params  MACs  Connected to
        ...
        MACs per sample: ...
    """
    print(summary_text(graph, max_rows=max_rows))


def _missing(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return value is None


def _cut(text: Any) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_CELL else text[:_MAX_CELL - 1] + "…"
