"""The summary table: one row per node, like ``model.summary()`` but as data.

Example:
    >>> from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind
    >>> g = ModelGraph("m", "Functional",
    ...     (LayerNode("x", "x", "InputLayer", NodeKind.INPUT, output_shapes=((None, 3),)),
    ...      LayerNode("d", "d", "Dense", params=4, trainable_params=4, output_shapes=((None, 1),))),
    ...     (Edge("x", "d"),), ("x",), ("d",), total_params=4, trainable_params=4)
    >>> df = summary_frame(g)
    >>> df[["name", "output_shape", "params", "connected_to"]].values.tolist()
    [['x', '(None, 3)', 0, ''], ['d', '(None, 1)', 4, 'x']]
    >>> df.attrs["total_params"]
    4
    >>> df["macs"].tolist(), df.attrs["total_macs"]  # d's input shape is not given: no count, no guess
    ([0, <NA>], None)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inspector.cost import layer_costs, total_macs, total_output_bytes
from inspector.errors import InputDataError
from inspector.graph import ModelGraph, format_shapes

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["summary_frame", "SUMMARY_COLUMNS"]

SUMMARY_COLUMNS = (
    "id", "name", "class_name", "kind", "input_shape", "output_shape", "params", "trainable_params",
    "non_trainable_params", "connected_to", "depth", "parent", "dtype", "activation", "trainable", "shared_with",
    "opaque", "macs", "output_bytes", "mask",
)


def summary_frame(model_or_graph: Any) -> pd.DataFrame:
    """A DataFrame with one row per node at every depth, totals in ``df.attrs``.

    ``model_or_graph`` is a :class:`ModelGraph` (``inspector.build_graph`` makes one of a model or a file).
    Rows at depth 0 add up to the model's parameter count; a nested model's row
    equals the sum of its children's rows; a shared layer's weights are counted
    on its first call.  ``macs`` and ``output_bytes`` (per sample, nullable
    integers: ``<NA>`` where a shape or a counting rule is missing) follow the
    rules of :mod:`inspector.cost`; their totals are ``df.attrs["total_macs"]``
    and ``df.attrs["total_output_bytes"]`` (``None`` if any layer's is unknown).
    """
    import pandas as pd

    if not isinstance(model_or_graph, ModelGraph):
        raise InputDataError(
            "summary_frame takes a ModelGraph, the plain data every drawing and table is made from.",
            received=f"a {type(model_or_graph).__name__}",
            fix="Build the graph first: inspector.summary_frame(inspector.build_graph(model_or_path)).")
    graph = model_or_graph
    costs = layer_costs(graph)
    from inspector.masks import mask_flow

    flow = mask_flow(graph)  # the `mask` column: produces / propagates / consumes / drops / "" (docs/masks.md)
    rows = []
    for node, owner in graph.walk():
        rows.append({
            "id": node.id,
            "name": node.name,
            "class_name": node.class_name,
            "kind": node.kind.value,
            "input_shape": format_shapes(node.input_shapes),
            "output_shape": format_shapes(node.output_shapes),
            "params": node.params,
            "trainable_params": node.trainable_params,
            "non_trainable_params": node.non_trainable_params,
            "connected_to": ", ".join(owner.predecessors(node.id)),
            "depth": node.depth,
            "parent": node.parent or "",
            "dtype": node.dtype or "",
            "activation": node.activation or "",
            "trainable": node.trainable,
            "shared_with": node.shared_with or "",
            "opaque": node.opaque,
            "macs": costs[node.id].macs,
            "output_bytes": costs[node.id].output_bytes,
            "mask": flow.role(node.id),
        })
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    # nullable integers: a missing count stays <NA> instead of turning the column into floats
    frame = frame.astype({"macs": "Int64", "output_bytes": "Int64"})
    frame.attrs.update(
        name=graph.name, class_name=graph.class_name, total_params=graph.total_params, trainable_params=graph.trainable_params,
        non_trainable_params=graph.non_trainable_params, total_bytes=graph.total_bytes, source=graph.source.value,
        total_macs=total_macs(graph), total_output_bytes=total_output_bytes(graph))
    return frame


