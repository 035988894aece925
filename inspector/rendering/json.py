"""JSON output: the whole :class:`ModelGraph` as a node-link document (schema version 1).

:func:`to_json` returns plain ``dict``/``list``/``str``/``int``/``float``/``bool``/``None``
values, ready for ``json.dumps``; :func:`from_json` reads it back into an equal
``ModelGraph``.  Nothing is folded or dropped: every fact of every node at every
nesting level is there.  Same graph → same document, key order included, so
``json.dumps(to_json(g), indent=1)`` is byte-identical between runs.

Schema (``schema_version`` 1; the full description is in ``docs/json-schema.md``)::

    {
      "schema": "keras-inspector/model-graph",
      "schema_version": 1,
      "directed": true, "multigraph": true,
      "graph": {"name", "class_name", "source": "keras"|"static", "inputs": [id], "outputs": [id],
                "total_params", "trainable_params", "non_trainable_params", "total_bytes",
                "layer_count", "warnings": [str]},
      "nodes": [{"id", "name", "class_name", "kind", "family", "input_shapes", "output_shapes", "dtype",
                 "params", "trainable_params", "non_trainable_params", "layer_params", "bytes",
                 "activation", "trainable", "call_index", "shared_with", "path", "parent", "depth",
                 "module", "opaque", "opaque_reason", "members": [id],
                 "weights": [{"name", "shape", "dtype", "trainable"}], "config": {...}}],
      "edges": [{"source", "target", "shape", "dtype", "src_index", "dst_index"}],
      "nested": {model node id: {"graph", "nodes", "edges", "nested", "clusters"}},
      "clusters": {model node id: node}
    }

A shape is a list of integers and ``null`` (unknown batch size), or ``null`` when
unknown.  ``family`` and ``bytes`` are derived and ignored by :func:`from_json`.

Example:
    >>> from inspector.graph import LayerNode, ModelGraph
    >>> g = ModelGraph("m", "Functional", (LayerNode(id="a", name="a", class_name="Dense"),), (), ("a",), ("a",))
    >>> doc = to_json(g)
    >>> doc["schema_version"], doc["nodes"][0]["family"], from_json(doc) == g
    (1, 'dense', True)
"""

from __future__ import annotations

import math
from typing import Any

from inspector.errors import InputDataError
from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind, Shape, Source, WeightInfo
from inspector.rendering.style import family

__all__ = ["SCHEMA", "SCHEMA_VERSION", "to_json", "from_json"]

SCHEMA = "keras-inspector/model-graph"
SCHEMA_VERSION = 1


def to_json(graph: ModelGraph) -> dict[str, Any]:
    """The graph as a JSON-ready node-link ``dict`` (see the module docstring for the schema).

    Example:
        >>> import json
        >>> from inspector.graph import ModelGraph
        >>> json.dumps(to_json(ModelGraph("m", "Functional", (), (), (), ())))[:61]
        '{"schema": "keras-inspector/model-graph", "schema_version": 1'
    """
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "directed": True, "multigraph": True,
            **_graph_body(graph)}


def _graph_body(graph: ModelGraph) -> dict[str, Any]:
    return {
        "graph": {
            "name": graph.name,
            "class_name": graph.class_name,
            "source": graph.source.value,
            "inputs": list(graph.inputs),
            "outputs": list(graph.outputs),
            "total_params": graph.total_params,
            "trainable_params": graph.trainable_params,
            "non_trainable_params": graph.non_trainable_params,
            "total_bytes": graph.total_bytes,
            "layer_count": graph.layer_count,
            "warnings": list(graph.warnings),
        },
        "nodes": [_node(n) for n in graph.nodes],
        "edges": [_edge(e) for e in graph.edges],
        "nested": {k: _graph_body(v) for k, v in graph.nested.items()},
        "clusters": {k: _node(v) for k, v in graph.clusters.items()},
    }


def _shape(shape: Shape | None) -> list[int | None] | None:
    return None if shape is None else [None if d is None else int(d) for d in shape]


def _node(n: LayerNode) -> dict[str, Any]:
    return {
        "id": n.id,
        "name": n.name,
        "class_name": n.class_name,
        "kind": n.kind.value,
        "family": family(n),
        "input_shapes": [_shape(s) for s in n.input_shapes],
        "output_shapes": [_shape(s) for s in n.output_shapes],
        "dtype": n.dtype,
        "params": n.params,
        "trainable_params": n.trainable_params,
        "non_trainable_params": n.non_trainable_params,
        "layer_params": n.layer_params,
        "bytes": n.bytes,
        "activation": n.activation,
        "trainable": n.trainable,
        "call_index": n.call_index,
        "shared_with": n.shared_with,
        "path": n.path,
        "parent": n.parent,
        "depth": n.depth,
        "module": n.module,
        "opaque": n.opaque,
        "opaque_reason": n.opaque_reason,
        "members": list(n.members),
        "weights": [{"name": w.name, "shape": _shape(w.shape), "dtype": w.dtype, "trainable": w.trainable}
                    for w in n.weights],
        "config": _plain(n.config),
    }


def _edge(e: Edge) -> dict[str, Any]:
    return {"source": e.src, "target": e.dst, "shape": _shape(e.shape), "dtype": e.dtype,
            "src_index": e.src_index, "dst_index": e.dst_index}


def _plain(value: Any) -> Any:
    """Any config value as strict JSON (no NaN/Infinity, string keys, lists for tuples)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return str(value)


# ------------------------------------------------------------------- read
def from_json(document: dict[str, Any]) -> ModelGraph:
    """Read a document made by :func:`to_json` back into a :class:`ModelGraph`.

    Raises:
        InputDataError: not a keras-inspector graph document, or a newer schema version.
    """
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise InputDataError("Not a Keras Inspector graph document.",
                             received=f"{type(document).__name__} with schema "
                                      f"{document.get('schema') if isinstance(document, dict) else None!r}",
                             fix="Pass the dict made by inspector.to_json().")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise InputDataError("Unsupported graph document schema version.",
                             received=repr(document.get("schema_version")),
                             fix=f"This version of Keras Inspector reads schema_version {SCHEMA_VERSION}.")
    try:
        return _read_graph(document)
    except (KeyError, TypeError, ValueError) as e:
        raise InputDataError("The graph document is malformed.", received=f"{type(e).__name__}: {e}",
                             fix="Pass the dict made by inspector.to_json(), unmodified.") from e


def _read_shape(shape: list[int | None] | None) -> Shape | None:
    return None if shape is None else tuple(shape)


def _read_node(d: dict[str, Any]) -> LayerNode:
    return LayerNode(
        id=d["id"], name=d["name"], class_name=d["class_name"], kind=NodeKind(d["kind"]),
        input_shapes=tuple(_read_shape(s) for s in d["input_shapes"]),
        output_shapes=tuple(_read_shape(s) for s in d["output_shapes"]), dtype=d["dtype"],
        params=d["params"], trainable_params=d["trainable_params"],
        non_trainable_params=d["non_trainable_params"], layer_params=d["layer_params"], config=d["config"],
        activation=d["activation"], trainable=d["trainable"], call_index=d["call_index"],
        shared_with=d["shared_with"], path=d["path"], parent=d["parent"], depth=d["depth"], module=d["module"],
        weights=tuple(WeightInfo(w["name"], tuple(w["shape"]), w["dtype"], w["trainable"]) for w in d["weights"]),
        opaque=d["opaque"], opaque_reason=d["opaque_reason"], members=tuple(d["members"]))


def _read_graph(d: dict[str, Any]) -> ModelGraph:
    info = d["graph"]
    return ModelGraph(
        name=info["name"], class_name=info["class_name"], nodes=tuple(_read_node(n) for n in d["nodes"]),
        edges=tuple(Edge(e["source"], e["target"], shape=_read_shape(e["shape"]), dtype=e["dtype"],
                         src_index=e["src_index"], dst_index=e["dst_index"]) for e in d["edges"]),
        inputs=tuple(info["inputs"]), outputs=tuple(info["outputs"]),
        nested={k: _read_graph(v) for k, v in d["nested"].items()},
        clusters={k: _read_node(v) for k, v in d["clusters"].items()},
        total_params=info["total_params"], trainable_params=info["trainable_params"],
        non_trainable_params=info["non_trainable_params"], total_bytes=info["total_bytes"],
        source=Source(info["source"]), warnings=tuple(info["warnings"]))
