"""Facts about a graph as display text and small tables: the sidebar's facts, node details, summary filters.

Example:
    >>> filter_terms("  Dense  ")
    'dense'
"""


from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from inspector.errors import (
    LayerNotFoundError,
)
from inspector.graph import ModelGraph, NodeKind, Source, format_shapes
from inspector.limits import format_bytes, get_limits

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["model_facts", "io_specs_frame", "filter_terms", "filter_summary", "node_choices", "node_facts", "max_nesting_depth", "default_expand_depth", "problem_layers", "projection_colour_columns", "label_or_index", "default_embedding"]


def model_facts(graph: ModelGraph) -> dict[str, str]:
    """The few facts the sidebar shows, as display text.

    Example:
        >>> from inspector.graph import LayerNode, ModelGraph, NodeKind
        >>> g = ModelGraph("m", "Functional", (LayerNode("x", "x", "InputLayer", NodeKind.INPUT,
        ...     output_shapes=((None, 3),)),), (), ("x",), ("x",), total_params=1234)
        >>> model_facts(g)["Parameters"], model_facts(g)["Inputs"]
        ('1,234', 'x (None, 3)')
    """
    def endpoints(ids: Sequence[str]) -> str:
        return ", ".join(f"{i} {format_shapes(graph.find_node(i).output_shapes, empty='?')}" if graph.find_node(i) else i
                         for i in ids)

    facts = {
        "Name": graph.name,
        "Class": graph.class_name,
        "Parameters": f"{graph.total_params:,}",
        "Trainable": f"{graph.trainable_params:,}",
        "Layers": f"{graph.layer_count:,}",
        "Inputs": endpoints(graph.inputs),
        "Outputs": endpoints(graph.outputs),
        "View": "static (no code run)" if graph.source == Source.STATIC else "loaded with Keras",
    }
    if graph.total_bytes:
        facts["Weights"] = format_bytes(graph.total_bytes)
    return facts


def io_specs_frame(graph: ModelGraph, roles: Sequence[str] = ("input", "output")) -> pd.DataFrame:
    """One row per model input and output (``roles``): role, node id, shape, dtype.

    Example:
        >>> from inspector.graph import LayerNode, ModelGraph, NodeKind
        >>> g = ModelGraph("m", "Functional", (LayerNode("x", "x", "InputLayer", NodeKind.INPUT,
        ...     output_shapes=((None, 3),), dtype="float32"),), (), ("x",), ("x",))
        >>> io_specs_frame(g).values.tolist()
        [['input', 'x', '(None, 3)', 'float32'], ['output', 'x', '(None, 3)', 'float32']]
    """
    import pandas as pd

    rows = []
    for role, ids in (("input", graph.inputs), ("output", graph.outputs)):
        if role not in roles:
            continue
        for node_id in ids:
            node = graph.find_node(node_id)
            rows.append({"role": role, "name": node_id,
                         "shape": format_shapes(node.output_shapes, empty="?") if node else "?",
                         "dtype": (node.dtype or "") if node else ""})
    return pd.DataFrame(rows, columns=["role", "name", "shape", "dtype"])


def filter_terms(query: str) -> str:
    """The search box's text as the filter compares it (trimmed, lower case)."""
    return (query or "").strip().lower()


def filter_summary(frame: pd.DataFrame, query: str) -> pd.DataFrame:
    """Rows of a summary frame whose id, name or class contains ``query`` (case-insensitive).

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"id": ["a", "b"], "name": ["a", "b"], "class_name": ["Dense", "Conv2D"]})
        >>> filter_summary(df, "conv")["id"].tolist(), len(filter_summary(df, ""))
        (['b'], 2)
    """
    terms = filter_terms(query)
    if not terms:
        return frame
    hit = np.zeros(len(frame), dtype=bool)
    for column in ("id", "name", "class_name"):
        if column in frame:
            hit |= frame[column].astype(str).str.lower().str.contains(terms, regex=False).to_numpy()
    return frame[hit]


def node_choices(graph: ModelGraph, query: str = "") -> list[str]:
    """Ids of every node at every depth (inputs excluded), filtered by the search text.

    Example:
        >>> from inspector.graph import LayerNode, ModelGraph, NodeKind
        >>> g = ModelGraph("m", "Functional", (LayerNode("x", "x", "InputLayer", NodeKind.INPUT),
        ...     LayerNode("d", "d", "Dense")), (), ("x",), ("d",))
        >>> node_choices(g), node_choices(g, "conv")
        (['d'], [])
    """
    terms = filter_terms(query)
    return [n.id for n, _ in graph.walk() if n.kind != NodeKind.INPUT
            and (not terms or terms in n.id.lower() or terms in n.class_name.lower())]


def node_facts(graph: ModelGraph, node_id: str) -> dict[str, str]:
    """A node's facts as display text for the Layer page (empty entries left out).

    Example:
        >>> from inspector.graph import LayerNode, ModelGraph, NodeKind
        >>> g = ModelGraph("m", "Functional", (LayerNode("x", "x", "InputLayer", NodeKind.INPUT,
        ...     output_shapes=((None, 3),)), LayerNode("d", "d", "Dense", input_shapes=((None, 3),),
        ...     output_shapes=((None, 1),), params=4, layer_params=4)), (), ("x",), ("d",))
        >>> facts = node_facts(g, "d")
        >>> facts["Input shape"], facts["Output shape"], facts["Parameters"]
        ('(None, 3)', '(None, 1)', '4')
    """
    node = graph.find_node(node_id)
    if node is None:
        raise LayerNotFoundError(f"There is no layer {node_id!r} in model {graph.name!r}.", received=repr(node_id),
                                 fix="Pick a layer from the list.")
    owner = next((g for n, g in graph.walk() if n.id == node_id), graph)
    facts = {
        "Id": node.id,
        "Path": node.path if node.path and node.path != node.id else "",
        "Class": node.class_name + (f" ({node.module})" if node.module and not node.module.startswith("keras")
                                    else ""),
        "Kind": node.kind.value,
        "Input shape": format_shapes(node.input_shapes, empty="?") if node.input_shapes else "",
        "Output shape": format_shapes(node.output_shapes, empty="?") if node.output_shapes else "",
        "Parameters": f"{node.params:,}",
        "Layer parameters": f"{node.layer_params:,}" if node.layer_params != node.params else "",
        "Trainable": "yes" if node.trainable else "no",
        "Dtype": node.dtype or "",
        "Activation": node.activation or "",
        "Inside": node.parent or "",
        "Shared with": f"{node.shared_with} (call {node.call_index})" if node.shared_with else "",
        "Inputs from": ", ".join(owner.predecessors(node_id)),
        "Outputs to": ", ".join(owner.successors(node_id)),
        "Opaque": node.opaque_reason or ("yes" if node.opaque else ""),
    }
    return {k: v for k, v in facts.items() if v}


def max_nesting_depth(graph: ModelGraph) -> int:
    """How many levels of nested models the graph has (0: none).

    Example:
        >>> max_nesting_depth(ModelGraph("m", "Functional", (), (), (), ()))
        0
    """
    return max((n.depth + (1 if n.kind == NodeKind.MODEL else 0) for n, _ in graph.walk()), default=0)


def default_expand_depth(graph: ModelGraph) -> int:
    """Expand every nested model unless the flat graph would exceed ``max_layout_nodes``, then none.

    Example:
        >>> default_expand_depth(ModelGraph("m", "Functional", (), (), (), ()))
        0
    """
    depth = max_nesting_depth(graph)
    if depth and len(graph.expanded().nodes) > get_limits().max_layout_nodes:
        return 0
    return depth


def problem_layers(stats: pd.DataFrame) -> list[str]:
    """Layers of an :func:`inspector.activation_stats` table with dead units, NaN or Inf.

    Example:
        >>> import pandas as pd
        >>> problem_layers(pd.DataFrame({"layer": ["a", "b"], "dead_fraction": [0.0, 0.5],
        ...                              "nan_count": [0, 0], "inf_count": [0, 0]}))
        ['b']
    """
    if stats.empty:
        return []
    bad = (stats["dead_fraction"].fillna(0) > 0) | (stats["nan_count"] > 0) | (stats["inf_count"] > 0)
    return list(dict.fromkeys(str(v) for v in stats.loc[bad, "layer"]))


_COORDINATE_COLUMNS = ("x", "y", "z", "index", "is_padding")


def projection_colour_columns(frame: pd.DataFrame) -> list[str]:
    """Columns of a projection's frame worth colouring by: everything but the coordinates and the row index.

    Example:
        >>> import pandas as pd
        >>> projection_colour_columns(pd.DataFrame(columns=["index", "label", "x", "y", "is_padding", "group"]))
        ['label', 'group']
    """
    return [str(c) for c in frame.columns if str(c).lower() not in _COORDINATE_COLUMNS]


def label_or_index(query: str, labels: Sequence[Any] = ()) -> int | str:
    """The neighbour search text as a label when some point has it, else as an index (all digits).

    Example:
        >>> label_or_index(" 12 "), label_or_index("great"), label_or_index("1", ["0", "1"])
        (12, 'great', '1')
    """
    text = query.strip()
    if text in {str(label) for label in labels}:
        return text
    return int(text) if text.isdigit() else text


def default_embedding(table: pd.DataFrame) -> int:
    """Row of an :func:`inspector.embedding_layers` table to open first: the largest vocabulary.

    Example:
        >>> import pandas as pd
        >>> default_embedding(pd.DataFrame({"layer": ["a", "b"], "vocabulary_size": [7, 80]}))
        1
    """
    if table.empty:
        return 0
    return int(np.argmax(table["vocabulary_size"].to_numpy()))
