"""The graph a renderer draws: nested models expanded to a depth, repeats folded, nodes highlighted.

Every renderer goes through :func:`prepare` with the same options, so DOT, HTML
and plotly show the same nodes.  Folding happens level by level *before*
expansion (so 1,600 calls of a nested model fold like 1,600 layers), then nested
models are expanded ``expand_depth`` levels; a model left collapsed remembers
how many layers it hides.

Example:
    >>> from inspector.graph import LayerNode, ModelGraph
    >>> g = ModelGraph("m", "Functional", (LayerNode(id="a", name="a", class_name="Dense"),), (), ("a",), ("a",))
    >>> v = prepare(g, highlight="a")
    >>> [n.id for n in v.graph.nodes], sorted(v.highlighted)
    (['a'], ['a'])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from inspector.errors import InputDataError, LayerNotFoundError
from inspector.graph import ModelGraph, NodeKind
from inspector.limits import get_limits
from inspector.rendering.fold import fold_repeats

__all__ = ["RankDir", "View", "prepare", "check_rankdir"]


class RankDir(str, Enum):
    """Direction of the layered drawing: top→bottom, left→right, bottom→top, right→left."""

    TB = "TB"
    LR = "LR"
    BT = "BT"
    RL = "RL"


def check_rankdir(rankdir: str | RankDir) -> RankDir:
    """``rankdir`` as a :class:`RankDir`, or an :class:`InputDataError` naming the choices.

    Example:
        >>> check_rankdir("lr")
        <RankDir.LR: 'LR'>
    """
    try:
        return RankDir(str(getattr(rankdir, "value", rankdir)).upper())
    except ValueError:
        raise InputDataError("Unknown rankdir for the graph drawing.", received=repr(rankdir),
                             fix="Use one of 'TB', 'LR', 'BT', 'RL'.") from None


@dataclass(frozen=True)
class View:
    """A flat graph ready to draw, plus what the drawing needs to know about the original."""

    graph: ModelGraph
    source: ModelGraph
    collapsed: dict[str, int] = field(default_factory=dict)  # collapsed model id -> layers it hides
    highlighted: frozenset[str] = frozenset()
    owner: dict[str, str] = field(default_factory=dict)  # original id -> id of the view node showing it
    blocks_folded: bool = False

    def locate(self, node_id: str) -> str | None:
        """The id of the view node that shows ``node_id`` (itself, its group, or a collapsed model)."""
        return self.owner.get(node_id)

    def ties(self) -> list[tuple[str, str]]:
        """Pairs ``(first call, later call)`` of shared layers, both visible and distinct."""
        out = []
        for n in self.graph.nodes:
            if n.shared_with:
                first = self.locate(n.shared_with)
                if first is not None and first != n.id:
                    out.append((first, n.id))
        return out


def prepare(graph: ModelGraph, *, expand_depth: int | None = None, fold: bool = True,
            unfold: Iterable[str] = (), collapse_blocks: bool | None = None,
            highlight: str | Iterable[str] | None = None, min_repeats: int = 3) -> View:
    """Expand, fold and highlight ``graph`` for drawing.

    Args:
        expand_depth: nested-model levels to expand (``None``: all, ``0``: none).
        fold: fold repeated parallel branches (see :func:`fold_repeats`).
        unfold: ids of groups to keep expanded.
        collapse_blocks: fold runs of identical sequential blocks; ``None`` does it
            only when the drawing would otherwise have more than
            ``get_limits().max_layout_nodes`` nodes.
        highlight: node id(s) to emphasise; a folded or hidden node highlights
            the group or collapsed model that shows it.

    Raises:
        LayerNotFoundError: a highlighted id is not in the graph.
    """
    if expand_depth is not None and (not isinstance(expand_depth, int) or expand_depth < 0):
        raise InputDataError("expand_depth must be a whole number ≥ 0 or None.", received=repr(expand_depth),
                             fix="Pass None to expand every nested model, 0 to expand none.")
    keep = tuple(unfold)
    view = _build(graph, expand_depth, fold, keep, blocks=bool(collapse_blocks), min_repeats=min_repeats)
    if collapse_blocks is None and len(view.graph.nodes) > get_limits().max_layout_nodes:
        view = _build(graph, expand_depth, fold, keep, blocks=True, min_repeats=min_repeats)
    return _highlight(view, highlight)


def _build(graph: ModelGraph, expand_depth: int | None, fold: bool, unfold: tuple[str, ...], *, blocks: bool,
           min_repeats: int) -> View:
    folded = graph
    if fold or blocks:  # an unreachable min_repeats keeps branch folding off when only blocks fold
        folded = fold_repeats(graph, min_repeats=min_repeats if fold else 2**62, unfold=unfold, blocks=blocks)
    flat = folded.expanded(expand_depth)
    subgraphs = {n.id: g.nested[n.id] for n, g in graph.walk() if n.id in g.nested}
    collapsed = {n.id: subgraphs[n.id].layer_count for n in flat.nodes
                 if n.kind == NodeKind.MODEL and n.id in subgraphs}
    owner: dict[str, str] = {}
    for n in flat.nodes:
        owner[n.id] = n.id
        for m in n.members:
            owner[m] = n.id
    for c in flat.clusters:
        owner.setdefault(c, c)
    # nodes hidden inside a collapsed model or a folded model are shown by their nearest visible ancestor
    parents = {n.id: n.parent for n, _ in graph.walk()}
    for node_id, parent in parents.items():
        if node_id not in owner:
            while parent is not None and parent not in owner:
                parent = parents.get(parent)
            if parent is not None:
                owner[node_id] = owner[parent]
    return View(graph=flat, source=graph, collapsed=collapsed, owner=owner, blocks_folded=blocks)


def _highlight(view: View, highlight: str | Iterable[str] | None) -> View:
    if highlight is None:
        return view
    wanted = [highlight] if isinstance(highlight, str) else list(highlight)
    found = set()
    for node_id in wanted:
        located = view.locate(str(node_id))
        if located is None:
            sample = ", ".join(repr(n.id) for n in view.source.nodes[:5])
            raise LayerNotFoundError(f"No node {node_id!r} to highlight in model {view.source.name!r}.",
                                     received=repr(node_id),
                                     fix=f"Use a node id of the graph, e.g. {sample}.")
        found.add(located)
    return View(graph=view.graph, source=view.source, collapsed=view.collapsed, highlighted=frozenset(found),
                owner=view.owner, blocks_folded=view.blocks_folded)

