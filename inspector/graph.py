"""The data model: a Keras model as plain, frozen, picklable facts.

This module is the design document of Keras Inspector.  Everything downstream
of loading (summary, renderers, the app) sees only these dataclasses, never a
Keras object, so it can be tested without TensorFlow and cached by Streamlit.

Nodes are layer *calls*
    A :class:`LayerNode` is one call of a layer, not the layer itself (Keras
    does the same: ``keras/src/ops/node.py``).  A layer shared by two branches
    is two nodes; the second has ``call_index == 1`` and ``shared_with`` naming
    the first.  A layer's weights are counted once, on the first call that
    reaches them, so the ``params`` of the top-level nodes add up to exactly
    ``model.count_params()``; ``layer_params`` keeps the layer's own count for
    display.

Node ids
    Stable and readable: the layer name, ``name@k`` for its k-th call (k ≥ 1),
    and ``outer/inner`` for a layer inside a nested model (``generator/dense_2``,
    ``encoder@1/dense`` for the second call of a shared sub-model).  The same
    model gives the same ids in the same order every time; nodes are listed in
    topological order.

Edges
    An :class:`Edge` goes from output ``src_index`` of node ``src`` to input
    position ``dst_index`` of node ``dst`` and carries the tensor's shape.

Nested models
    A model used as a layer is one node of kind :attr:`NodeKind.MODEL` whose
    sub-graph is ``graph.nested[node.id]`` — itself a :class:`ModelGraph`, to
    any depth.  :meth:`ModelGraph.expanded` flattens sub-graphs into one graph
    (edges into the model node are rewired to the sub-graph's inputs, edges out
    of it to its outputs) and records each expanded model in ``clusters`` so a
    renderer can draw a box around its children.

Opaque nodes
    When the graph comes from the static parse of a file (no code run) a layer
    that cannot be understood without running code (``Lambda``, a custom class)
    is ``opaque=True`` with ``opaque_reason`` saying why.  A subclassed model with
    no functional graph is one node of kind :attr:`NodeKind.SUBCLASSED`.

Example:
    >>> g = ModelGraph(name="m", class_name="Functional",
    ...     nodes=(LayerNode(id="x", name="x", class_name="InputLayer", kind=NodeKind.INPUT,
    ...                      output_shapes=((None, 3),)),
    ...            LayerNode(id="d", name="d", class_name="Dense", params=4, trainable_params=4,
    ...                      layer_params=4, input_shapes=((None, 3),), output_shapes=((None, 1),))),
    ...     edges=(Edge("x", "d", shape=(None, 3)),), inputs=("x",), outputs=("d",),
    ...     total_params=4, trainable_params=4)
    >>> [n.id for n in g.nodes], g.predecessors("d")
    (['x', 'd'], ['x'])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import cached_property
from typing import Any

__all__ = ["Shape", "NodeKind", "Source", "WeightInfo", "LayerNode", "Edge", "ModelGraph", "node_id", "format_shape",
           "format_shapes"]

Shape = tuple[int | None, ...]


class NodeKind(str, Enum):
    """What a node stands for."""

    INPUT = "input"
    LAYER = "layer"
    MODEL = "model"  # a nested model called as a layer; see ModelGraph.nested
    SUBCLASSED = "subclassed"  # a model with no functional graph, shown as one node
    GROUP = "group"  # a fold of repeated parallel branches, made by a renderer


class Source(str, Enum):
    """Where the facts of a graph came from."""

    KERAS = "keras"  # walked from a loaded keras.Model: every shape known
    STATIC = "static"  # parsed from the file's config without running any code


@dataclass(frozen=True)
class WeightInfo:
    """One weight variable of a layer."""

    name: str
    shape: Shape
    dtype: str
    trainable: bool

    @property
    def size(self) -> int:
        """Number of scalars in the variable."""
        n = 1
        for d in self.shape:
            n *= int(d or 0)
        return n


@dataclass(frozen=True)
class LayerNode:
    """One call of one layer (or of a nested model) in the graph."""

    id: str
    name: str
    class_name: str
    kind: NodeKind = NodeKind.LAYER
    input_shapes: tuple[Shape | None, ...] = ()
    output_shapes: tuple[Shape | None, ...] = ()
    dtype: str | None = None
    params: int = 0  # weights first reached by this call (sums to the model total)
    trainable_params: int = 0
    non_trainable_params: int = 0
    layer_params: int = 0  # the layer's own weight count, whatever call this is
    config: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    activation: str | None = None
    trainable: bool = True
    call_index: int = 0
    shared_with: str | None = None  # id of the first call of the same layer
    path: str = ""  # slash-joined layer names from the top model, e.g. "generator/dense_2"
    parent: str | None = None  # id of the enclosing nested-model node
    depth: int = 0  # nesting level: 0 for the top model's own layers
    module: str | None = None
    weights: tuple[WeightInfo, ...] = ()
    opaque: bool = False
    opaque_reason: str = ""
    members: tuple[str, ...] = ()  # GROUP nodes: ids of the folded nodes

    @property
    def bytes(self) -> int:
        """Memory held by the weights first reached by this call (approximate for static graphs)."""
        if self.call_index or self.shared_with:
            return 0
        return sum(w.size * _itemsize(w.dtype) for w in self.weights)


@dataclass(frozen=True)
class Edge:
    """A tensor flowing from output ``src_index`` of ``src`` to input ``dst_index`` of ``dst``."""

    src: str
    dst: str
    shape: Shape | None = None
    dtype: str | None = None
    src_index: int = 0
    dst_index: int = 0


@dataclass(frozen=True)
class ModelGraph:
    """A whole model: its nodes in topological order, edges, and nested sub-graphs."""

    name: str
    class_name: str
    nodes: tuple[LayerNode, ...]
    edges: tuple[Edge, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    nested: dict[str, ModelGraph] = field(default_factory=dict, compare=False, hash=False)
    clusters: dict[str, LayerNode] = field(default_factory=dict, compare=False, hash=False)
    total_params: int = 0
    trainable_params: int = 0
    non_trainable_params: int = 0
    total_bytes: int = 0
    source: Source = Source.KERAS
    warnings: tuple[str, ...] = ()

    def __repr__(self) -> str:
        """A one-line repr (the generated one would print every node and edge of a 1,600-layer model).

        Example:
            >>> ModelGraph("mlp", "Sequential", (), (), (), (), total_params=1234)
            <ModelGraph 'mlp' (Sequential): 0 layers, 1,234 params>
        """
        name = self.name if len(self.name) <= 80 else self.name[:79] + "…"
        static = ", static view" if self.source is Source.STATIC else ""
        return (f"<ModelGraph {name!r} ({self.class_name[:40]}): {self.layer_count:,} layers, "
                f"{self.total_params:,} params{static}>")

    def _repr_html_(self) -> str:
        """The drawing, for Jupyter: inline SVG, offline (see :func:`inspector.rendering.notebook.graph_html`).

        Example:
            >>> g = ModelGraph("m", "Functional", (LayerNode(id="a", name="a", class_name="Dense"),), (),
            ...                ("a",), ("a",))
            >>> "<svg" in g._repr_html_()
            True
        """
        # the one upward import of the core: drawing lives in render/, imported only when a notebook asks
        from inspector.rendering.notebook import graph_html

        return graph_html(self)

    # ----------------------------------------------------------------- lookup
    def node(self, node_id: str) -> LayerNode:
        """The node with this id, searching nested sub-graphs too.

        Raises:
            KeyError: no such node.
        """
        return self._nodes_by_id[node_id]

    @cached_property
    def _nodes_by_id(self) -> dict[str, LayerNode]:
        # built on the first lookup: a walk per lookup made the sidebar's facts of a 4,804-layer model take 0.25 s
        found: dict[str, LayerNode] = {}
        for n, _ in self.walk():
            found.setdefault(n.id, n)  # the first at any depth, as a walk would find it
        return found

    def find_node(self, node_id: str) -> LayerNode | None:
        """The node with this id at any nesting level, or ``None``."""
        try:
            return self.node(node_id)
        except KeyError:
            return None

    def walk(self) -> Iterator[tuple[LayerNode, ModelGraph]]:
        """Every node at every nesting level, parents before their children, with its graph."""
        for n in self.nodes:
            yield n, self
            if n.id in self.nested:
                yield from self.nested[n.id].walk()

    def predecessors(self, node_id: str) -> list[str]:
        """Ids of the nodes feeding ``node_id``, in input order."""
        return [e.src for e in sorted(self.edges, key=lambda e: e.dst_index) if e.dst == node_id]

    def successors(self, node_id: str) -> list[str]:
        """Ids of the nodes reading an output of ``node_id``."""
        return [e.dst for e in self.edges if e.src == node_id]

    @property
    def opaque_nodes(self) -> list[LayerNode]:
        """Nodes (at any depth) that could not be understood without running code."""
        return [n for n, _ in self.walk() if n.opaque]

    @property
    def layer_count(self) -> int:
        """Number of nodes at every depth, nested-model nodes included."""
        return sum(1 for _ in self.walk())

    # -------------------------------------------------------------- transform
    def expanded(self, depth: int | None = None) -> ModelGraph:
        """A flat graph with nested models expanded ``depth`` levels deep (``None``: all).

        Expanded model nodes are replaced by their children, which keep ``parent``
        pointing at the model node; the model node itself moves to ``clusters``.

        Example:
            >>> g = ModelGraph("m", "Functional", (), (), (), ())
            >>> g.expanded().nodes
            ()
        """
        if depth is not None and depth <= 0 or not self.nested:
            return replace(self, nested={} if depth is not None and depth <= 0 else self.nested)
        nodes: list[LayerNode] = []
        edges: list[Edge] = list(self.edges)
        clusters = dict(self.clusters)
        for n in self.nodes:
            sub = self.nested.get(n.id)
            if sub is None:
                nodes.append(n)
                continue
            flat = sub.expanded(None if depth is None else depth - 1)
            nodes.extend(flat.nodes)
            clusters[n.id] = n
            clusters.update(flat.clusters)
            rewired = []
            for e in edges:
                if e.dst == n.id and e.dst_index < len(flat.inputs):
                    e = replace(e, dst=flat.inputs[e.dst_index], dst_index=0)
                if e.src == n.id and e.src_index < len(flat.outputs):
                    out = flat.outputs[e.src_index]
                    e = replace(e, src=out, src_index=_output_position(flat, out, e.src_index))
                rewired.append(e)
            edges = rewired + list(flat.edges)
        ids = {n.id for n in nodes}
        inputs = tuple(_endpoint(self, i, ids, first=True) for i in self.inputs)
        outputs = tuple(_endpoint(self, o, ids, first=False) for o in self.outputs)
        return replace(self, nodes=tuple(nodes), edges=tuple(edges), inputs=inputs, outputs=outputs,
                       nested={}, clusters=clusters)


def _output_position(graph: ModelGraph, node_id: str, model_output: int) -> int:
    """Which output of ``node_id`` is the model's output number ``model_output``."""
    return graph.outputs[:model_output].count(node_id)


def _endpoint(graph: ModelGraph, node_id: str, flat_ids: set[str], *, first: bool) -> str:
    """Follow a model-level input/output into expanded sub-graphs until it names a flat node."""
    while node_id not in flat_ids and node_id in graph.nested:
        sub = graph.nested[node_id]
        node_id = (sub.inputs if first else sub.outputs)[0]
        graph = sub
    return node_id


_ITEMSIZE = {"float16": 2, "bfloat16": 2, "float64": 8, "int64": 8, "uint8": 1, "int8": 1, "bool": 1,
             "int16": 2, "uint16": 2, "complex64": 8, "complex128": 16}


def _itemsize(dtype: str) -> int:
    return _ITEMSIZE.get(str(dtype), 4)


def format_shape(shape: Shape | None) -> str:
    """A shape as Keras prints it.

    Example:
        >>> format_shape((None, 28, 28, 1))
        '(None, 28, 28, 1)'
        >>> format_shape((None,))
        '(None,)'
    """
    if shape is None:
        return "?"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def node_id(prefix: str, name: str, call: int = 0) -> str:
    """The id of one call of a layer: its name, ``@call`` from the second call on, under its nested model's id.

    The one definition of node ids, shared by the static parse, the Keras walk and the activations.

    Example:
        >>> node_id("", "dense"), node_id("", "dense", 1), node_id("encoder/", "conv", 2)
        ('dense', 'dense@1', 'encoder/conv@2')
    """
    return f"{prefix}{name}" + (f"@{call}" if call else "")


def format_shapes(shapes: Sequence[Shape | None], *, empty: str = "") -> str:
    """Several shapes on one line: all of them when few, ``n × shape`` when all equal, else the first two,
    a count and the last (a Concatenate of 1,600 inputs stays readable).

    Example:
        >>> format_shapes([(None, 4)] * 1600)
        '1600 × (None, 4)'
        >>> format_shapes([(None, 1), (None, 2), (None, 3), (None, 4), (None, 5)])
        '[(None, 1), (None, 2), … 2 more …, (None, 5)]'
        >>> format_shapes([(None, 3)]), format_shapes([])
        ('(None, 3)', '')
    """
    if not shapes:
        return empty
    texts = [format_shape(s) for s in shapes]
    if len(texts) == 1:
        return texts[0]
    if len(set(texts)) == 1:
        return f"{len(texts)} × {texts[0]}"
    if len(texts) > 4:
        texts = [*texts[:2], f"… {len(texts) - 3} more …", texts[-1]]
    return "[" + ", ".join(texts) + "]"
