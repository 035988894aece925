"""The graph a renderer draws: nested models expanded to a depth, repeats folded, nodes highlighted.

Every renderer goes through :func:`prepare` with the same options, so DOT, HTML
and plotly show the same nodes.  Folding happens level by level *before*
expansion (so 1,600 calls of a nested model fold like 1,600 layers), then nested
models are expanded ``expand_depth`` levels, give or take the models named one by
one in ``expand_models`` / ``collapse_models`` (the app's clicks); a model left
collapsed remembers how many layers it hides.

Example:
    >>> from inspector.graph import LayerNode, ModelGraph
    >>> g = ModelGraph("m", "Functional", (LayerNode(id="a", name="a", class_name="Dense"),), (), ("a",), ("a",))
    >>> v = prepare(g, highlight="a")
    >>> [n.id for n in v.graph.nodes], sorted(v.highlighted)
    (['a'], ['a'])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import Enum

from inspector.errors import InputDataError, LayerNotFoundError
from inspector.graph import ModelGraph, NodeKind
from inspector.limits import get_limits
from inspector.rendering.fold import fold_repeats

__all__ = ["RankDir", "View", "prepare", "check_rankdir", "nested_model_ids"]


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
        """Pairs ``(first call, later call)`` of shared layers, both drawn as boxes and distinct.

        A nested model's first call may be drawn open (a cluster, not a box) while a later call is one box: a call
        folded by the static view (:mod:`inspector.model.static`), or closed by the reader.
        """
        out = []
        boxes = {n.id for n in self.graph.nodes}
        for n in self.graph.nodes:
            if n.shared_with:
                first = self.locate(n.shared_with)
                if first in boxes and first != n.id:
                    out.append((first, n.id))
        return out


def prepare(graph: ModelGraph, *, expand_depth: int | None = None, fold: bool = True,
            unfold: Iterable[str] = (), collapse_blocks: bool | None = None,
            highlight: str | Iterable[str] | None = None, min_repeats: int = 3,
            expand_models: str | Iterable[str] | None = None,
            collapse_models: str | Iterable[str] | None = None) -> View:
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
        expand_models: node id(s) of nested models to draw open whatever their
            level; opening a model also opens the models that hold it.
        collapse_models: node id(s) of nested models to draw as one box whatever
            their level (and whatever ``expand_models`` says of the models inside).

    A nested model is drawn open when it is not in ``collapse_models`` and either
    its level is within ``expand_depth`` (the models of the top graph are level 1),
    or it or a model inside it is in ``expand_models``.  A model is drawn at all only
    when every model holding it is open.  An id in both lists is refused.

    Raises:
        LayerNotFoundError: a highlighted id is not in the graph.
        InputDataError: a bad ``expand_depth``, or an id in ``expand_models`` /
            ``collapse_models`` that is not a nested model of the graph (or is in both).

    Example:
        >>> import inspector
        >>> gan = inspector.build_graph(inspector.get_sample("nested_gan").path)
        >>> nested_model_ids(gan)
        ['generator', 'discriminator', 'discriminator/critic_head']
        >>> view = prepare(gan, expand_depth=0, expand_models=["generator"])
        >>> list(view.graph.clusters), list(view.collapsed)
        (['generator'], ['discriminator'])
        >>> list(prepare(gan, expand_depth=0, expand_models="discriminator/critic_head").graph.clusters)
        ['discriminator', 'discriminator/critic_head']
        >>> list(prepare(gan, collapse_models="generator").graph.clusters)
        ['discriminator', 'discriminator/critic_head']
    """
    if expand_depth is not None and (not isinstance(expand_depth, int) or expand_depth < 0):
        raise InputDataError("expand_depth must be a whole number ≥ 0 or None.", received=repr(expand_depth),
                             fix="Pass None to expand every nested model, 0 to expand none.")
    opening = _check_models(graph, expand_models, collapse_models)
    keep = tuple(unfold)
    view = _build(graph, expand_depth, fold, keep, blocks=bool(collapse_blocks), min_repeats=min_repeats,
                  opening=opening)
    if collapse_blocks is None and len(view.graph.nodes) > get_limits().max_layout_nodes:
        view = _build(graph, expand_depth, fold, keep, blocks=True, min_repeats=min_repeats, opening=opening)
    return _highlight(view, highlight)


def nested_model_ids(graph: ModelGraph) -> list[str]:
    """Node ids of the nested models of ``graph`` (at every level, outer ones first): what
    ``expand_models`` and ``collapse_models`` of :func:`prepare` take.

    Example:
        >>> from inspector.graph import LayerNode, ModelGraph
        >>> nested_model_ids(ModelGraph("m", "Functional", (LayerNode(id="a", name="a", class_name="Dense"),),
        ...                             (), ("a",), ("a",)))
        []
    """
    return [n.id for n, g in graph.walk() if n.id in g.nested]


@dataclass(frozen=True)
class _Opening:
    """The per-model choices of :func:`prepare`, checked: which models to open or keep shut by id."""

    expand: frozenset[str] = frozenset()  # the models named, and every model holding one of them
    collapse: frozenset[str] = frozenset()

    def is_open(self, model_id: str, level: int, expand_depth: int | None) -> bool:
        if model_id in self.collapse:
            return False
        return model_id in self.expand or expand_depth is None or level <= expand_depth


def _model_ids(option: str, ids: str | Iterable[str] | None) -> list[str]:
    if ids is None:
        return []
    if isinstance(ids, str):
        return [ids]
    try:
        return [str(i) for i in ids]
    except TypeError:
        raise InputDataError(f"{option} must be node ids of nested models.", received=repr(ids)[:200],
                             fix=f"Pass a list of ids, e.g. {option}=['encoder'].") from None


def _check_models(graph: ModelGraph, expand: str | Iterable[str] | None,
                  collapse: str | Iterable[str] | None) -> _Opening:
    wanted = {"expand_models": _model_ids("expand_models", expand),
              "collapse_models": _model_ids("collapse_models", collapse)}
    if not any(wanted.values()):
        return _Opening()
    parents = {n.id: n.parent for n, _ in graph.walk()}
    models = nested_model_ids(graph)
    known = set(models)
    for option, ids in wanted.items():
        for model_id in ids:
            if model_id in known:
                continue
            what = "a layer, not a nested model" if model_id in parents else "not a node of the graph"
            sample = ", ".join(repr(m) for m in models[:5])
            raise InputDataError(f"{option} names {model_id!r}, which is {what} of model {graph.name!r}.",
                                 received=repr(model_id),
                                 fix=f"Use the node id of a nested model, e.g. {sample}." if models else
                                     "This model has no nested models: leave expand_models and "
                                     "collapse_models empty.")
    both = sorted(set(wanted["expand_models"]) & set(wanted["collapse_models"]))
    if both:
        raise InputDataError("A nested model cannot be both expanded and collapsed.", received=repr(both[:5]),
                             fix="Name each model in expand_models or in collapse_models, not in both.")
    expand = set()
    for model_id in wanted["expand_models"]:
        while model_id is not None:  # a model shows only inside open owners: open them too
            expand.add(model_id)
            model_id = parents.get(model_id)
    return _Opening(frozenset(expand), frozenset(wanted["collapse_models"]))


def _open_models(graph: ModelGraph, expand_depth: int | None, opening: _Opening, level: int = 1) -> ModelGraph:
    """``graph`` keeping only the sub-graphs of the models to open: ``expanded()`` then opens exactly those."""
    if not graph.nested:
        return graph
    return replace(graph, nested={k: _open_models(sub, expand_depth, opening, level + 1)
                                  for k, sub in graph.nested.items() if opening.is_open(k, level, expand_depth)})


def _build(graph: ModelGraph, expand_depth: int | None, fold: bool, unfold: tuple[str, ...], *, blocks: bool,
           min_repeats: int, opening: _Opening) -> View:
    folded = graph
    if fold or blocks:  # an unreachable min_repeats keeps branch folding off when only blocks fold
        folded = fold_repeats(graph, min_repeats=min_repeats if fold else 2**62, unfold=unfold, blocks=blocks)
    flat = _open_models(folded, expand_depth, opening).expanded(None)
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

