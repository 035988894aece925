"""Fold repeated structure so big graphs stay readable: parallel branches and sequential blocks.

Parallel branches
    A *branch* is a maximal chain of nodes ``v1 → … → vk`` (each link the only
    way out of one node and into the next) that leaves one *fork* node (or starts
    the model) and enters one *join* node (or ends the model).  When at least
    ``min_repeats`` branches share the same fork, join and sequence of layer
    classes, each position of the chain becomes one :attr:`NodeKind.GROUP` node:
    1,600 × ``Input → Embedding → Flatten → Concatenate`` becomes the chain
    ``×1600 InputLayer → ×1600 Embedding → ×1600 Flatten → Concatenate``.

Repeated blocks (``blocks=True``)
    A *cut node* is one that every path from the inputs to the outputs goes
    through (the ``Add`` closing a residual block, each layer of a plain chain).
    The stretch between two cut nodes is a block; a run of consecutive blocks
    with the same structure (the same layer classes wired the same way) repeated
    at least ``block_min_repeats`` times becomes one GROUP node.

Every GROUP node lists the ids of the nodes it stands for in ``members`` and
carries the sum of their parameters, so totals and node counts are kept:
``sum(len(n.members) or 1 for n in folded.nodes)`` equals the original count.
A group's id is ``"<first member id>[x<repeats>]"``; pass it in ``unfold`` to
keep that group expanded.  Nested sub-graphs are folded level by level.

Example:
    >>> from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind
    >>> ins = [LayerNode(id=f"in{i}", name=f"in{i}", class_name="InputLayer", kind=NodeKind.INPUT)
    ...        for i in range(4)]
    >>> cat = LayerNode(id="cat", name="cat", class_name="Concatenate")
    >>> g = ModelGraph("m", "Functional", (*ins, cat), tuple(Edge(n.id, "cat", dst_index=i)
    ...                for i, n in enumerate(ins)), tuple(n.id for n in ins), ("cat",))
    >>> folded = fold_repeats(g)
    >>> [(n.id, len(n.members)) for n in folded.nodes]
    [('in0[x4]', 4), ('cat', 0)]
    >>> fold_repeats(g, unfold=["in0[x4]"]) == g
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind

__all__ = ["fold_repeats", "group_id", "topological_order"]


def group_id(first_member: str, repeats: int) -> str:
    """The id of the group folding ``repeats`` copies, the first being ``first_member``.

    Example:
        >>> group_id("input_7", 1600)
        'input_7[x1600]'
    """
    return f"{first_member}[x{repeats}]"


def fold_repeats(graph: ModelGraph, *, min_repeats: int = 3, unfold: Iterable[str] = (), blocks: bool = False,
                 block_min_repeats: int = 2) -> ModelGraph:
    """Fold repeated parallel branches (and, with ``blocks=True``, repeated sequential blocks).

    Args:
        graph: any graph, nested or flat.
        min_repeats: fold parallel branches only when at least this many are alike.
        unfold: ids of groups (``"<first member>[x<n>]"``) to keep expanded.
        blocks: also fold runs of identical consecutive blocks into one group each.
        block_min_repeats: fold a run of blocks only when it repeats at least this often.

    Returns:
        A new graph whose GROUP nodes list the folded node ids in ``members``; the
        parameter totals of the graph are unchanged.

    Example:
        >>> from inspector.graph import ModelGraph
        >>> fold_repeats(ModelGraph("empty", "Functional", (), (), (), ())).nodes
        ()
    """
    keep = frozenset(unfold)
    min_repeats = max(2, int(min_repeats))
    block_min_repeats = max(2, int(block_min_repeats))
    nested = {k: fold_repeats(v, min_repeats=min_repeats, unfold=keep, blocks=blocks,
                              block_min_repeats=block_min_repeats) for k, v in graph.nested.items()}
    folded = replace(graph, nested=nested) if nested else graph
    folded = _fold_branches(folded, min_repeats, keep)
    if blocks:
        folded = _fold_blocks(folded, block_min_repeats, keep)
    return folded


# ------------------------------------------------------------------ helpers
def topological_order(ids: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[str]:
    """``ids`` in an order where every edge goes forward, as close to the given order as possible.

    Edges closing a cycle (a graph that is not a DAG) are ignored.

    Example:
        >>> topological_order(["b", "a"], [("a", "b")])
        ['a', 'b']
    """
    import heapq

    index = {n: i for i, n in enumerate(ids)}
    succs: dict[str, list[str]] = {n: [] for n in ids}
    indegree = dict.fromkeys(ids, 0)
    for s, d in edges:
        if s in index and d in index and s != d:
            succs[s].append(d)
            indegree[d] += 1
    heap = [index[n] for n in ids if indegree[n] == 0]
    heapq.heapify(heap)
    out: list[str] = []
    done: set[str] = set()
    while len(out) < len(ids):
        if not heap:  # a cycle: release the earliest remaining node
            heap.append(min(index[n] for n in ids if n not in done))
        n = ids[heapq.heappop(heap)]
        if n in done:
            continue
        done.add(n)
        out.append(n)
        for d in succs[n]:
            indegree[d] -= 1
            if indegree[d] == 0 and d not in done:
                heapq.heappush(heap, index[d])
    return out


def _neighbours(graph: ModelGraph) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    preds: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    succs: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for e in graph.edges:
        if e.src in succs and e.dst in preds and e.src != e.dst:
            if e.dst not in succs[e.src]:
                succs[e.src].append(e.dst)
            if e.src not in preds[e.dst]:
                preds[e.dst].append(e.src)
    return preds, succs


def _signature(node: LayerNode, graph: ModelGraph) -> tuple[Any, ...]:
    sub = graph.nested.get(node.id)
    return (node.kind.value, node.class_name, node.parent, len(sub.nodes) if sub is not None else -1,
            len(node.members))


def _common(values: Iterable[Any]) -> Any:
    values = list(values)
    return values[0] if values and all(v == values[0] for v in values) else None


def _group_node(gid: str, members: Sequence[LayerNode], *, name: str, class_name: str,
                input_shapes: tuple, output_shapes: tuple, repeats: int, extra: dict[str, Any]) -> LayerNode:
    flat_members: list[str] = []
    for m in members:
        flat_members.extend(m.members or (m.id,))
    first = members[0]
    weights = tuple(w for m in members if not m.call_index and not m.shared_with for w in m.weights)
    opaque = [m for m in members if m.opaque]
    return LayerNode(
        id=gid, name=name, class_name=class_name, kind=NodeKind.GROUP, input_shapes=input_shapes,
        output_shapes=output_shapes, dtype=_common(m.dtype for m in members),
        params=sum(m.params for m in members), trainable_params=sum(m.trainable_params for m in members),
        non_trainable_params=sum(m.non_trainable_params for m in members),
        layer_params=sum(m.layer_params for m in members),
        config={"repeats": repeats, "first": first.id, "last": members[-1].id, **extra},
        activation=_common(m.activation for m in members), trainable=all(m.trainable for m in members),
        path=first.path, parent=first.parent, depth=first.depth, module=_common(m.module for m in members),
        weights=weights, opaque=bool(opaque), opaque_reason=opaque[0].opaque_reason if opaque else "",
        members=tuple(flat_members))


def _rebuild(graph: ModelGraph, groups: dict[str, LayerNode], owner: dict[str, str]) -> ModelGraph:
    """Replace every member by its group: nodes in first-member order, edges mapped and deduplicated."""
    if not groups:
        return graph
    nodes: list[LayerNode] = []
    emitted: set[str] = set()
    for n in graph.nodes:
        g = owner.get(n.id)
        if g is None:
            nodes.append(n)
        elif g not in emitted:
            emitted.add(g)
            nodes.append(groups[g])
    edges: list[Edge] = []
    seen: set[tuple[Any, ...]] = set()
    for e in graph.edges:
        src, dst = owner.get(e.src, e.src), owner.get(e.dst, e.dst)
        if src == dst and (src in groups):
            continue  # inside one group
        grouped = src in groups or dst in groups
        key = (src, dst) if grouped else (src, dst, e.src_index, e.dst_index)
        if key in seen:
            continue
        seen.add(key)
        edges.append(replace(e, src=src, dst=dst, src_index=0 if src in groups else e.src_index,
                             dst_index=0 if dst in groups else e.dst_index) if grouped else e)
    inputs = tuple(dict.fromkeys(owner.get(i, i) for i in graph.inputs))
    outputs = tuple(dict.fromkeys(owner.get(o, o) for o in graph.outputs))
    nested = {k: v for k, v in graph.nested.items() if k not in owner}
    return replace(graph, nodes=tuple(nodes), edges=tuple(edges), inputs=inputs, outputs=outputs, nested=nested)


# ------------------------------------------------------- parallel branches
def _fold_branches(graph: ModelGraph, min_repeats: int, keep: frozenset[str]) -> ModelGraph:
    preds, succs = _neighbours(graph)
    by_id = {n.id: n for n in graph.nodes}
    chains: dict[tuple[Any, ...], list[list[str]]] = {}
    for n in graph.nodes:
        p = preds[n.id]
        if len(p) > 1 or (len(p) == 1 and len(succs[p[0]]) == 1) or n.kind == NodeKind.GROUP:
            continue  # not the start of a branch
        chain = [n.id]
        while True:
            s = succs[chain[-1]]
            if len(s) != 1 or preds[s[0]] != [chain[-1]] or by_id[s[0]].kind == NodeKind.GROUP:
                break
            chain.append(s[0])
        # a chain entering its join must end there; a chain ending the model must have no successor
        if len(succs[chain[-1]]) > 1 or len({by_id[c].parent for c in chain}) != 1:
            continue
        key = (p[0] if p else None, succs[chain[-1]][0] if succs[chain[-1]] else None,
               tuple(_signature(by_id[c], graph) for c in chain))
        chains.setdefault(key, []).append(chain)
    groups: dict[str, LayerNode] = {}
    owner: dict[str, str] = {}
    for branches in chains.values():
        if len(branches) < min_repeats:
            continue
        repeats = len(branches)
        ids = [group_id(branches[0][i], repeats) for i in range(len(branches[0]))]
        if keep.intersection(ids):
            continue
        for position, gid in enumerate(ids):
            members = [by_id[b[position]] for b in branches]
            first, last = members[0], members[-1]
            shapes_vary = len({(m.input_shapes, m.output_shapes) for m in members}) > 1
            name = first.name if first.name == last.name else f"{first.name} … {last.name}"
            groups[gid] = _group_node(gid, members, name=name, class_name=first.class_name,
                                      input_shapes=first.input_shapes, output_shapes=first.output_shapes,
                                      repeats=repeats, extra={"fold": "branches", "shapes_vary": shapes_vary})
            owner.update((m.id, gid) for m in members)
    return _rebuild(graph, groups, owner)


# ------------------------------------------------------- sequential blocks
def _cut_positions(order: list[str], preds: dict[str, list[str]], succs: dict[str, list[str]]) -> list[int]:
    """Positions of the nodes every input-to-output path goes through (no edge jumps over them)."""
    pos = {n: i for i, n in enumerate(order)}
    size = len(order)
    cover = [0] * (size + 1)

    def jump(a: int, b: int) -> None:  # mark positions strictly between a and b
        if b - a > 1:
            cover[a + 1] += 1
            cover[b] -= 1

    for n in order:
        if not preds[n]:
            jump(-1, pos[n])
        if not succs[n]:
            jump(pos[n], size)
        for d in succs[n]:
            jump(pos[n], pos[d])
    cuts, running = [], 0
    for i in range(size):
        running += cover[i]
        if running == 0:
            cuts.append(i)
    return cuts


def _fold_blocks(graph: ModelGraph, min_repeats: int, keep: frozenset[str]) -> ModelGraph:
    if len(graph.nodes) < 2 * min_repeats:
        return graph
    preds, succs = _neighbours(graph)
    order = topological_order([n.id for n in graph.nodes], [(s, d) for s in succs for d in succs[s]])
    by_id = {n.id: n for n in graph.nodes}
    cuts = _cut_positions(order, preds, succs)
    if not cuts:
        return graph
    bounds = [-1, *cuts]
    if cuts[-1] != len(order) - 1:
        bounds.append(len(order) - 1)
    blocks = [order[a + 1:b + 1] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    signatures = [_block_signature(block, graph, by_id, preds) for block in blocks]
    groups: dict[str, LayerNode] = {}
    owner: dict[str, str] = {}
    i = 0
    max_period = 12
    while i < len(blocks):
        best = (0, 0)  # (blocks covered, period)
        for period in range(1, min(max_period, (len(blocks) - i) // min_repeats) + 1):
            unit = signatures[i:i + period]
            repeats = 1
            while signatures[i + repeats * period:i + (repeats + 1) * period] == unit:
                repeats += 1
            if repeats >= min_repeats and repeats * period > best[0]:
                best = (repeats * period, period)
        covered, period = best
        if not covered:
            i += 1
            continue
        run = [n for block in blocks[i:i + covered] for n in block]
        members = [by_id[n] for n in run]
        repeats = covered // period
        gid = group_id(run[0], repeats)
        if gid in keep or len({m.parent for m in members}) != 1:
            i += covered
            continue
        entry = by_id[blocks[i][0]]
        exit_ = by_id[blocks[i + covered - 1][-1]]
        per_block = len(run) // repeats
        class_name = _common(m.class_name for m in members) or "Block"
        groups[gid] = _group_node(gid, members, name=f"{entry.name} … {exit_.name}", class_name=class_name,
                                  input_shapes=entry.input_shapes, output_shapes=exit_.output_shapes,
                                  repeats=repeats, extra={"fold": "blocks", "block_layers": per_block,
                                                          "classes": _class_summary(members[:per_block])})
        owner.update((n, gid) for n in run)
        i += covered
    return _rebuild(graph, groups, owner)


def _block_signature(block: list[str], graph: ModelGraph, by_id: dict[str, LayerNode],
                     preds: dict[str, list[str]]) -> tuple[Any, ...]:
    local = {n: i for i, n in enumerate(block)}
    wiring = tuple(tuple(local.get(p, -1) for p in preds[n]) for n in block)
    return tuple(_signature(by_id[n], graph) for n in block), wiring


def _class_summary(members: Sequence[LayerNode]) -> str:
    counts: dict[str, int] = {}
    for m in members:
        counts[m.class_name] = counts.get(m.class_name, 0) + 1
    return ", ".join(f"{c}×{k}" if k > 1 else c for c, k in counts.items())
