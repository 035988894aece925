"""A built-in layered (Sugiyama-style) layout in pure Python: no Graphviz needed.

Used by the plotly figure and by the HTML page when the ``dot`` program is
absent.  The steps are the classic ones, each kept simple and deterministic
(no randomness, ties broken by the input order):

1. **Layers**: longest path from the sources; a source is then pulled down to
   sit just above its first consumer (a late second input does not float at the top).
2. **Dummy nodes** on every edge spanning several layers, so long edges bend
   around nodes instead of crossing them.
3. **Order within layers**: barycenter sweeps down and up, keeping the order with
   the fewest crossings (counted exactly).
4. **Coordinates**: each node pulled towards the mean position of its
   neighbours, in alternating sweeps; overlaps are resolved by an isotonic
   regression that keeps the order and the minimum gaps.

Coordinates are in points with ``y`` growing downwards (as in SVG); a node's
``x, y`` is its centre.

Example:
    >>> lay = layered_layout(["a", "b", "c"], [("a", "b"), ("a", "c")], {n: (40.0, 20.0) for n in "abc"})
    >>> lay.nodes["a"].layer, lay.nodes["b"].layer, lay.nodes["b"].y > lay.nodes["a"].y
    (0, 1, True)
    >>> lay.nodes["b"].x < lay.nodes["c"].x
    True
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from inspector.rendering.fold import topological_order

__all__ = ["NodeBox", "Layout", "layered_layout", "count_crossings", "clip_to_box"]


@dataclass(frozen=True)
class NodeBox:
    """A laid-out node: centre, size, layer."""

    id: str
    x: float
    y: float
    width: float
    height: float
    layer: int


@dataclass(frozen=True)
class Layout:
    """Positions of every node and the polyline of every edge (through its bends)."""

    nodes: dict[str, NodeBox]
    edges: tuple[tuple[str, str, tuple[tuple[float, float], ...]], ...]
    width: float
    height: float
    crossings: int


def layered_layout(ids: Sequence[str], edges: Iterable[tuple[str, str]], sizes: Mapping[str, tuple[float, float]],
                   *, rankdir: str = "TB", node_gap: float = 18.0, layer_gap: float = 36.0,
                   sweeps: int = 8) -> Layout:
    """Lay out a directed graph in layers.

    Args:
        ids: node ids; their order breaks ties (give them in topological order).
        edges: ``(src, dst)`` pairs; duplicates and self-loops are drawn once / ignored.
        sizes: ``id -> (width, height)`` of each node's box, in points.
        rankdir: "TB", "BT", "LR" or "RL".
        node_gap: space between neighbours in a layer; ``layer_gap``: between layers.
        sweeps: barycenter sweeps for crossing reduction.

    Returns:
        A :class:`Layout`; edge polylines run from the centre of ``src`` to the
        centre of ``dst`` (use :func:`clip_to_box` to stop them at the borders).
    """
    rankdir = rankdir.upper()
    horizontal = rankdir in ("LR", "RL")
    ids = list(dict.fromkeys(ids))
    known = set(ids)
    pairs = list(dict.fromkeys((s, d) for s, d in edges if s in known and d in known and s != d))
    order = topological_order(ids, pairs)
    position = {n: i for i, n in enumerate(order)}
    forward = [(s, d) for s, d in pairs if position[s] < position[d]]  # cycles: drop the closing edges

    # 1. layers
    preds: dict[str, list[str]] = {n: [] for n in ids}
    succs: dict[str, list[str]] = {n: [] for n in ids}
    for s, d in forward:
        preds[d].append(s)
        succs[s].append(d)
    layer: dict[str, int] = {}
    for n in order:
        layer[n] = max((layer[p] + 1 for p in preds[n]), default=0)
    for n in reversed(order):
        if not preds[n] and succs[n]:
            layer[n] = min(layer[s] for s in succs[n]) - 1

    # 2. dummy nodes; each edge becomes a chain of unit-span links
    size = {n: (sizes[n][1], sizes[n][0]) if horizontal else tuple(sizes[n]) for n in ids}
    chains: list[tuple[str, str, list[str]]] = []
    links: list[tuple[str, str]] = []
    for s, d in forward:
        chain = [s]
        for k in range(layer[s] + 1, layer[d]):
            dummy = f"\x00{s}\x00{d}\x00{k}"
            layer[dummy] = k
            size[dummy] = (0.0, 0.0)
            chain.append(dummy)
        chain.append(d)
        links.extend(zip(chain, chain[1:], strict=False))
        chains.append((s, d, chain))
    up: dict[str, list[str]] = {n: [] for n in layer}
    down: dict[str, list[str]] = {n: [] for n in layer}
    for a, b in links:
        down[a].append(b)
        up[b].append(a)

    # 3. order within layers
    depth = max(layer.values(), default=-1) + 1
    rows: list[list[str]] = [[] for _ in range(depth)]
    seen: set[str] = set()

    def place(n: str) -> None:  # depth-first from the sources keeps branches together
        stack = [n]
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            rows[layer[v]].append(v)
            stack.extend(reversed(down[v]))

    for n in order:
        place(n)
    rows = _reduce_crossings(rows, up, down, sweeps)
    crossings = sum(count_crossings(rows[i], rows[i + 1], down) for i in range(depth - 1))

    # 4. coordinates: x along the layer, y across layers
    widths = {n: size[n][0] for n in layer}
    xs: dict[str, float] = {}
    for row in rows:
        x = 0.0
        for i, n in enumerate(row):
            if i:
                x += _gap(row[i - 1], n, widths, node_gap)
            xs[n] = x
    for sweep in range(8):
        sequence = range(1, depth) if sweep % 2 == 0 else range(depth - 2, -1, -1)
        neighbours = up if sweep % 2 == 0 else down
        for li in sequence:
            row = rows[li]
            targets = [sum(xs[m] for m in neighbours[n]) / len(neighbours[n]) if neighbours[n] else xs[n]
                       for n in row]
            weights = [1.0 if neighbours[n] else 0.2 for n in row]
            gaps = [_gap(row[i - 1], row[i], widths, node_gap) for i in range(1, len(row))]
            for n, x in zip(row, _isotonic_with_gaps(targets, weights, gaps), strict=True):
                xs[n] = x
    heights = [max((size[n][1] for n in row), default=0.0) for row in rows]
    ys, y = [], 0.0
    for i, h in enumerate(heights):
        if i:
            y += heights[i - 1] / 2 + layer_gap + h / 2
        ys.append(y)
    left = min((xs[n] - widths[n] / 2 for n in layer), default=0.0)
    top = -(heights[0] / 2) if heights else 0.0
    span_x = max((xs[n] + widths[n] / 2 for n in layer), default=0.0) - left
    span_y = (ys[-1] + heights[-1] / 2 - top) if heights else 0.0

    def point(n: str) -> tuple[float, float]:
        px, py = xs[n] - left, ys[layer[n]] - top
        if rankdir == "BT":
            py = span_y - py
        if horizontal:
            px, py = py, px
            if rankdir == "RL":
                px = span_y - px
        return round(px, 2), round(py, 2)

    boxes = {}
    for n in ids:
        cx, cy = point(n)
        boxes[n] = NodeBox(n, cx, cy, float(sizes[n][0]), float(sizes[n][1]), layer[n])
    routes = tuple((s, d, tuple(point(v) for v in chain)) for s, d, chain in chains)
    width, height = (span_y, span_x) if horizontal else (span_x, span_y)
    return Layout(boxes, routes, round(width, 2), round(height, 2), crossings)


def _gap(a: str, b: str, widths: Mapping[str, float], node_gap: float) -> float:
    dummy = (widths[a] == 0) + (widths[b] == 0)
    return widths[a] / 2 + widths[b] / 2 + (node_gap if dummy == 0 else node_gap / 2 if dummy == 1 else 6.0)


def _reduce_crossings(rows: list[list[str]], up: Mapping[str, list[str]], down: Mapping[str, list[str]],
                      sweeps: int) -> list[list[str]]:
    best = [list(r) for r in rows]
    best_count = sum(count_crossings(rows[i], rows[i + 1], down) for i in range(len(rows) - 1))
    current = [list(r) for r in rows]
    for sweep in range(sweeps):
        if best_count == 0:
            break
        downward = sweep % 2 == 0
        sequence = range(1, len(current)) if downward else range(len(current) - 2, -1, -1)
        for li in sequence:
            ref = current[li - 1] if downward else current[li + 1]
            ref_pos = {n: i for i, n in enumerate(ref)}
            neighbours = up if downward else down
            row = current[li]
            keys = []
            for i, n in enumerate(row):
                ps = [ref_pos[m] for m in neighbours[n] if m in ref_pos]
                keys.append((sum(ps) / len(ps) if ps else float(i) * len(ref) / max(len(row), 1), i))
            current[li] = [n for _, n in sorted(zip(keys, row, strict=True), key=lambda t: t[0])]
        count = sum(count_crossings(current[i], current[i + 1], down) for i in range(len(current) - 1))
        if count < best_count:
            best_count, best = count, [list(r) for r in current]
    return best


def count_crossings(upper: Sequence[str], lower: Sequence[str], down: Mapping[str, list[str]]) -> int:
    """Number of crossings between the links of two adjacent layers.

    Example:
        >>> count_crossings(["a", "b"], ["c", "d"], {"a": ["d"], "b": ["c"]})
        1
    """
    lower_pos = {n: i for i, n in enumerate(lower)}
    sequence = []
    for n in upper:
        sequence.extend(sorted(lower_pos[m] for m in down.get(n, ()) if m in lower_pos))
    # crossings = inversions of the lower positions taken in upper order (merge-free, with a sorted list)
    total, seen = 0, []
    for i, p in enumerate(sequence):
        total += i - bisect_left(seen, p + 1) if seen else 0
        _insort(seen, p)
    return total


def _insort(values: list[int], value: int) -> None:
    values.insert(bisect_left(values, value + 1), value)


def _isotonic_with_gaps(targets: Sequence[float], weights: Sequence[float], gaps: Sequence[float]) -> list[float]:
    """Positions closest (weighted least squares) to ``targets`` with ``x[i+1] - x[i] >= gaps[i]``."""
    offsets = [0.0]
    for g in gaps:
        offsets.append(offsets[-1] + g)
    blocks: list[list[float]] = []  # [weighted sum, weight, count]
    for t, w, o in zip(targets, weights, offsets, strict=True):
        blocks.append([(t - o) * w, w, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, wt, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += wt
            blocks[-1][2] += c
    out: list[float] = []
    for s, wt, c in blocks:
        out.extend([s / wt] * int(c))
    return [y + o for y, o in zip(out, offsets, strict=True)]


def clip_to_box(inside: tuple[float, float], outside: tuple[float, float], box: NodeBox,
                margin: float = 0.0) -> tuple[float, float]:
    """Where the segment from ``inside`` (a box centre) towards ``outside`` leaves ``box``.

    Example:
        >>> clip_to_box((0, 0), (0, 100), NodeBox("a", 0, 0, 40, 20, 0))
        (0.0, 10.0)
    """
    dx, dy = outside[0] - inside[0], outside[1] - inside[1]
    if dx == 0 and dy == 0:
        return float(inside[0]), float(inside[1])
    half_w, half_h = box.width / 2 + margin, box.height / 2 + margin
    scale = min(half_w / abs(dx) if dx else float("inf"), half_h / abs(dy) if dy else float("inf"))
    scale = min(scale, 1.0)
    return round(inside[0] + dx * scale, 2), round(inside[1] + dy * scale, 2)
