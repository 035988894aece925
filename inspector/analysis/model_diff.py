"""Compare two models layer by layer: what was added, removed or changed, and by how much the weights moved.

Typical uses: a fine-tuned model against its base, two checkpoints of one run,
a model before and after an edit.  :func:`compare` matches the layer calls of
the two models (node ids, see :mod:`inspector.graph`) in two passes:

1. **by name** — the same node id on both sides (``dense``, ``encoder/dense_2``);
2. **by position** — what is left is paired when both nodes have the same class
   and their already-matched predecessors correspond, walking in topological
   order, so a chain of renamed layers (``dense_3`` → ``dense_7``) still pairs.

A matched pair is ``same`` when class, output shapes, parameter counts, config
(apart from the name) and weights are all equal, otherwise ``changed``; an
unmatched node of the second model is ``added``, of the first ``removed``.

Weight deltas (NaN when a side has no loaded weights — a static view — when the
layer has none, or when the weight shapes differ):

* ``weight_max_abs_diff`` = max over every weight of the layer of ``|b - a|``;
* ``weight_rel_diff`` = ``‖b − a‖ / ‖a‖``, Frobenius norms taken over all the
  layer's weights together (``0`` when they are equal, ``inf`` when ``a`` is all zeros and ``b`` is not).

Example:
    >>> import inspector
    >>> path = inspector.get_sample("otto_mlp").path
    >>> diff = inspector.compare(path, path)
    >>> diff.counts()
    {'same': 4, 'added': 0, 'removed': 0, 'changed': 0}
    >>> float(diff.frame["weight_max_abs_diff"].max())
    0.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from inspector.errors import ModelLoadError, UnsafeModelError
from inspector.graph import Edge, LayerNode, ModelGraph, format_shape

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ModelDiff", "compare", "DIFF_COLUMNS", "STATUSES"]

STATUSES = ("same", "added", "removed", "changed")
DIFF_COLUMNS = (
    "name", "status", "id_a", "id_b", "class_a", "class_b", "output_shape_a", "output_shape_b", "params_a",
    "params_b", "weight_max_abs_diff", "weight_rel_diff", "changes",
)


@dataclass(frozen=True)
class ModelDiff:
    """The result of :func:`compare`.

    Attributes:
        frame: one row per layer call (columns :data:`DIFF_COLUMNS`), in the second
            model's order with removed layers after their nearest kept predecessor.
        graph: the second model's graph, flattened, plus the first model's removed
            layers — one graph to draw the difference on.
        status: node id of ``graph`` → ``"same"``/``"added"``/``"removed"``/``"changed"``.
        name_a, name_b: the two models' names.
    """

    frame: pd.DataFrame = field(compare=False, hash=False)
    graph: ModelGraph
    status: dict[str, str] = field(compare=False, hash=False)
    name_a: str = ""
    name_b: str = ""

    def counts(self) -> dict[str, int]:
        """How many rows have each status, in the order of :data:`STATUSES`."""
        return {s: int((self.frame["status"] == s).sum()) for s in STATUSES}

    @property
    def marks(self) -> dict[str, str]:
        """Node id → status for every node that is not ``same``: the ``marks=`` of ``to_dot``/``to_html``/``render``."""
        return {k: v for k, v in self.status.items() if v != "same"}

    def to_dot(self, **options: Any) -> str:
        """DOT of :attr:`graph` with added/removed/changed layers coloured (options of ``inspector.to_dot``)."""
        from inspector.rendering import to_dot

        return to_dot(self.graph, marks=self.marks, **options)

    def to_html(self, **options: Any) -> str:
        """A standalone HTML page of :attr:`graph` with the changes coloured (options of ``inspector.to_html``)."""
        from inspector.rendering import to_html

        options.setdefault("title", f"{self.name_a} → {self.name_b}")
        return to_html(self.graph, marks=self.marks, **options)


def compare(a: Any, b: Any, *, trust: bool = False, custom_objects: dict[str, Any] | None = None) -> ModelDiff:
    """Compare model ``a`` (the reference, e.g. the base model) with model ``b``.

    ``a`` and ``b`` are each a model file (path, bytes, binary file object), a
    ``keras.Model`` or a :class:`~inspector.graph.ModelGraph`.  Files are loaded
    with :func:`inspector.load_model` (no code from the file runs unless
    ``trust=True``); a file that cannot be loaded is compared from its static
    view, and its weight columns are NaN.  ``custom_objects`` (with ``trust=True``)
    gives Keras your own classes, as in :func:`inspector.load_model`.

    Raises:
        InspectorError: a file is not a readable model (see :func:`inspector.build_graph`).

    Example:
        >>> import inspector
        >>> diff = inspector.compare(inspector.get_sample("otto_mlp").path, inspector.get_sample("otto_mlp").path)
        >>> list(diff.frame.columns[:4])
        ['name', 'status', 'id_a', 'id_b']
    """
    graph_a, model_a = _open(a, trust, custom_objects)
    graph_b, model_b = _open(b, trust, custom_objects)
    nodes_a = [n for n, _ in graph_a.walk()]
    nodes_b = [n for n, _ in graph_b.walk()]
    pairs = _match(graph_a, graph_b)
    by_a = {n.id: n for n in nodes_a}
    matched_a = set(pairs.values())

    rows_b: list[dict[str, Any]] = []
    status: dict[str, str] = {}
    row_of_a: dict[str, int] = {}
    for node in nodes_b:
        other = by_a.get(pairs[node.id]) if node.id in pairs else None
        row = _row(other, node, model_a, graph_a, model_b, graph_b)
        status[node.id] = row["status"]
        if other is not None:
            row_of_a[other.id] = len(rows_b)
        rows_b.append(row)
    # removed layers go after the row of their nearest earlier matched layer (in a's order)
    inserts: dict[int, list[dict[str, Any]]] = {}
    last = -1
    for node in nodes_a:
        if node.id in matched_a:
            last = row_of_a.get(node.id, last)
            continue
        inserts.setdefault(last, []).append(_row(node, None, model_a, graph_a, model_b, graph_b))
        status[node.id] = "removed"
    # a nested model whose own facts match is still changed when anything inside it is
    models_b = {n.id for n in nodes_b if n.kind.value == "model"}
    for row in rows_b:
        node_id = row["id_b"]
        if row["status"] == "same" and node_id in models_b:
            inside = [k for k, v in status.items() if v != "same"
                      and (k.startswith(node_id + "/") or k.startswith(row["id_a"] + "/"))]
            if inside:
                row["status"] = status[node_id] = "changed"
                row["changes"] = f"{len(inside)} layer(s) inside changed"
    rows = list(inserts.get(-1, []))
    for i, row in enumerate(rows_b):
        rows.append(row)
        rows.extend(inserts.get(i, []))

    import pandas as pd

    frame = pd.DataFrame(rows, columns=list(DIFF_COLUMNS))
    frame.attrs.update(name_a=graph_a.name, name_b=graph_b.name, source_a=graph_a.source.value,
                       source_b=graph_b.source.value, total_params_a=graph_a.total_params,
                       total_params_b=graph_b.total_params)
    merged = _merged_graph(graph_a, graph_b, pairs, status)
    drawn = {n.id for n in merged.nodes} | set(merged.clusters)
    return ModelDiff(frame=frame, graph=merged, status={k: v for k, v in status.items() if k in drawn},
                     name_a=graph_a.name, name_b=graph_b.name)


# --------------------------------------------------------------------------- inputs
def _open(source: Any, trust: bool, custom_objects: dict[str, Any] | None) -> tuple[ModelGraph, Any]:
    """The graph of ``source`` and its loaded model (``None`` for a graph or a file shown statically)."""
    from inspector.model.loading import _is_keras_model, build_graph, load_model

    if isinstance(source, ModelGraph):
        return source, None
    if _is_keras_model(source):
        return build_graph(source), source
    from inspector.io.files import ModelFile, read_model_file

    model_file = source if isinstance(source, ModelFile) else read_model_file(source)
    try:
        model = load_model(model_file, trust=trust, custom_objects=custom_objects)
    except (UnsafeModelError, ModelLoadError):
        return build_graph(model_file, trust=trust, custom_objects=custom_objects), None  # the static view: structure only
    return build_graph(model), model


# --------------------------------------------------------------------------- matching
def _match(graph_a: ModelGraph, graph_b: ModelGraph) -> dict[str, str]:
    """Node id of ``b`` → node id of ``a``: by id first, then by class and matched predecessors."""
    walk_a = list(graph_a.walk())
    walk_b = list(graph_b.walk())
    ids_a = {n.id for n, _ in walk_a}
    pairs = {n.id: n.id for n, _ in walk_b if n.id in ids_a}
    preds_a = {n.id: owner.predecessors(n.id) for n, owner in walk_a}
    preds_b = {n.id: owner.predecessors(n.id) for n, owner in walk_b}
    changed = True
    while changed:  # a renamed chain pairs one link per round at worst
        changed = False
        taken = set(pairs.values())
        free_a = [n for n, _ in walk_a if n.id not in taken]
        for node, _ in walk_b:
            if node.id in pairs:
                continue
            want = [pairs.get(p) for p in preds_b[node.id]]
            if None in want:
                continue
            for candidate in free_a:
                if (candidate.class_name == node.class_name and candidate.parent == _mapped_parent(node, pairs)
                        and preds_a[candidate.id] == want):
                    pairs[node.id] = candidate.id
                    free_a.remove(candidate)
                    changed = True
                    break
    return pairs


def _mapped_parent(node: LayerNode, pairs: dict[str, str]) -> str | None:
    return None if node.parent is None else pairs.get(node.parent, node.parent)


# --------------------------------------------------------------------------- rows
def _row(a: LayerNode | None, b: LayerNode | None, model_a: Any, graph_a: ModelGraph, model_b: Any,
         graph_b: ModelGraph) -> dict[str, Any]:
    max_abs, rel, weights_note = math.nan, math.nan, ""
    if a is not None and b is not None:
        max_abs, rel, weights_note = _weight_delta(_weights(model_a, a), _weights(model_b, b))
    changes = _changes(a, b, weights_note) if a is not None and b is not None else []
    status = "added" if a is None else "removed" if b is None else "changed" if changes else "same"
    node = b if b is not None else a
    assert node is not None
    return {
        "name": node.name, "status": status, "id_a": a.id if a else "", "id_b": b.id if b else "",
        "class_a": a.class_name if a else "", "class_b": b.class_name if b else "",
        "output_shape_a": _shapes(a), "output_shape_b": _shapes(b),
        "params_a": a.params if a else math.nan, "params_b": b.params if b else math.nan,
        "weight_max_abs_diff": max_abs, "weight_rel_diff": rel, "changes": "; ".join(changes),
    }


def _changes(a: LayerNode, b: LayerNode, weights_note: str) -> list[str]:
    out = []
    if a.class_name != b.class_name:
        out.append(f"class {a.class_name} → {b.class_name}")
    if a.output_shapes != b.output_shapes:
        out.append(f"output {_shapes(a)} → {_shapes(b)}")
    if a.params != b.params:
        out.append(f"params {a.params:,} → {b.params:,}")
    for key in sorted(set(a.config) | set(b.config)):
        if key in ("name", "build_config", "layers", "trainable") or a.kind.value == "model":
            continue
        va, vb = a.config.get(key), b.config.get(key)
        if va != vb and key in a.config and key in b.config:
            out.append(f"{key} {_short(va)} → {_short(vb)}")
    if a.trainable != b.trainable:
        out.append(f"trainable {a.trainable} → {b.trainable}")
    if weights_note:
        out.append(weights_note)
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _shapes(node: LayerNode | None) -> str:
    if node is None or not node.output_shapes:
        return ""
    return ", ".join(format_shape(s) for s in node.output_shapes)


def _weights(model: Any, node: LayerNode) -> list[np.ndarray] | None:
    """The node's weight values, or ``None`` when they are not loaded (a graph or a static view)."""
    if model is None or node.kind.value in ("input", "model"):
        return None
    layer = model
    try:
        for part in (node.path or node.name).split("/"):
            layer = layer.get_layer(part)
    except (ValueError, AttributeError):
        return None
    return [np.asarray(v.numpy()) for v in layer.weights]


def _weight_delta(a: list[np.ndarray] | None, b: list[np.ndarray] | None) -> tuple[float, float, str]:
    """``(max |b − a|, ‖b − a‖ / ‖a‖, note)``; NaN where there is nothing comparable."""
    if a is None or b is None or not a or not b:
        return math.nan, math.nan, ""
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b, strict=False)):
        return math.nan, math.nan, ""  # the shape change is reported by the params/output columns
    diffs = [y.astype(np.float64) - x.astype(np.float64) for x, y in zip(a, b, strict=True)]
    max_abs = max((float(np.max(np.abs(d))) if d.size else 0.0) for d in diffs)
    num = math.sqrt(sum(float(np.sum(d * d)) for d in diffs))
    den = math.sqrt(sum(float(np.sum(x.astype(np.float64) ** 2)) for x in a))
    rel = 0.0 if num == 0 else (num / den if den else math.inf)
    return max_abs, rel, f"weights moved (max |Δ| {max_abs:.3g})" if max_abs else ""


# --------------------------------------------------------------------------- one graph to draw
def _merged_graph(graph_a: ModelGraph, graph_b: ModelGraph, pairs: dict[str, str],
                  status: dict[str, str]) -> ModelGraph:
    """``b`` flattened, plus ``a``'s removed nodes and the edges that touch them (ends mapped to ``b``)."""
    from dataclasses import replace

    flat_a, flat_b = graph_a.expanded(), graph_b.expanded()
    to_b = {va: kb for kb, va in pairs.items()}
    removed = [n for n in flat_a.nodes if status.get(n.id) == "removed"]
    removed_ids = {n.id for n in removed}
    nodes = list(flat_b.nodes)
    for node in removed:  # after the kept node that precedes it in a, so the drawing order stays topological
        anchor = _previous_kept(flat_a, node.id, to_b)
        index = next((i + 1 for i, n in enumerate(nodes) if n.id == anchor), 0) if anchor else 0
        nodes.insert(index, node)
    edges = list(flat_b.edges)
    for e in flat_a.edges:
        if e.src in removed_ids or e.dst in removed_ids:
            src = e.src if e.src in removed_ids else to_b.get(e.src)
            dst = e.dst if e.dst in removed_ids else to_b.get(e.dst)
            if src is not None and dst is not None:
                edges.append(Edge(src, dst, shape=e.shape, dtype=e.dtype, src_index=e.src_index,
                                  dst_index=e.dst_index))
    return replace(flat_b, nodes=tuple(nodes), edges=tuple(edges),
                   clusters={**{k: v for k, v in flat_a.clusters.items() if k in removed_ids}, **flat_b.clusters})


def _previous_kept(flat_a: ModelGraph, node_id: str, to_b: dict[str, str]) -> str | None:
    anchor = None
    for n in flat_a.nodes:
        if n.id == node_id:
            return anchor
        if n.id in to_b:
            anchor = to_b[n.id]
    return anchor

