"""Mask flow: which layers make a padding mask, pass it on, use it, or lose it.

Keras attaches a boolean *mask* to a tensor (``Embedding(mask_zero=True)`` marks
the padding index ``0``, ``Masking`` marks all-``mask_value`` timesteps) and
hands it to the layers downstream.  Whether it arrives where it is needed — an
``LSTM``, an attention layer, a ``GlobalAveragePooling1D`` — is invisible in
``model.summary()``.  :func:`mask_flow` works it out from the graph alone (layer
classes and configs, no Keras call), so it works on the static view of a file
that cannot be loaded too.  The rules follow Keras 3 (``Layer.supports_masking``,
``compute_mask`` and the ``mask`` argument of ``call``) and are documented in
``docs/masks.md``; the tests check them against the masks Keras itself attaches.

Each node gets a role (:class:`MaskRole`):

* ``produces`` — ``Embedding`` with ``mask_zero=True``, ``Masking``;
* ``propagates`` — a masked input, and the layer passes the mask on without using
  it (``Dense``, ``Dropout``, activations, normalisations; merge layers when every
  input is masked, ``Concatenate`` when any is);
* ``consumes`` — the layer reads the mask (RNNs, attention, ``GlobalAveragePooling1D``,
  ``BatchNormalization``, ``Softmax``, ``TimeDistributed``); its output may still
  carry it (an RNN with ``return_sequences=True``);
* ``drops`` — a masked input, and the output has no mask: the layer does not
  support masking (``Flatten``, convolutions, pooling, ``Reshape``, ``Lambda``,
  custom layers) or discards it (``Dot``; ``Add``/``Average``/… when only some
  inputs are masked);
* ``""`` — no mask reaches the layer.

Example:
    >>> from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind
    >>> g = ModelGraph("m", "Functional",
    ...     (LayerNode("ids", "ids", "InputLayer", NodeKind.INPUT),
    ...      LayerNode("emb", "emb", "Embedding", config={"mask_zero": True}),
    ...      LayerNode("lstm", "lstm", "LSTM", config={"return_sequences": False}),
    ...      LayerNode("out", "out", "Dense")),
    ...     (Edge("ids", "emb"), Edge("emb", "lstm"), Edge("lstm", "out")), ("ids",), ("out",))
    >>> flow = mask_flow(g)
    >>> [flow.role(n) for n in ("ids", "emb", "lstm", "out")]
    ['', 'produces', 'consumes', '']
    >>> flow.carries(g.edges[1]), flow.carries(g.edges[2])
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind

__all__ = ["MaskRole", "MaskFlow", "mask_flow", "PRODUCERS", "CONSUMERS", "PROPAGATORS", "MERGES_ALL",
           "MERGES_ANY"]


class MaskRole(str, Enum):
    """What a node does with a mask (``NONE`` when no mask reaches it)."""

    PRODUCES = "produces"
    PROPAGATES = "propagates"
    CONSUMES = "consumes"
    DROPS = "drops"
    NONE = ""


# Keras 3 layer classes, by what their compute_mask / call(mask=...) / supports_masking do.
PRODUCERS = frozenset({"Embedding", "Masking"})
_RNNS = frozenset({"LSTM", "GRU", "SimpleRNN", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Bidirectional"})
_ATTENTION = frozenset({"Attention", "AdditiveAttention", "MultiHeadAttention"})
# read the mask in call(); the output keeps the first input's mask unless said otherwise below
CONSUMERS = _RNNS | _ATTENTION | frozenset({"GlobalAveragePooling1D", "GlobalAvgPool1D", "BatchNormalization",
                                            "Softmax", "TimeDistributed"})
# supports_masking and the default compute_mask: the first input's mask goes through unchanged
PROPAGATORS = frozenset({
    "Dense", "Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise", "SpatialDropout1D", "SpatialDropout2D",
    "SpatialDropout3D", "ActivityRegularization", "Activation", "ELU", "LeakyReLU", "PReLU", "ReLU", "Identity",
    "LayerNormalization", "GroupNormalization", "UnitNormalization", "Normalization", "Rescaling",
})
MERGES_ALL = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})  # mask only if all inputs
MERGES_ANY = frozenset({"Concatenate"})  # mask when any input has one
# anything else drops the mask, Dot included (it supports masking, but its compute_mask returns None)


@dataclass(frozen=True)
class MaskFlow:
    """Where masks go in one graph: a role per node and the node outputs that carry a mask."""

    roles: dict[str, MaskRole]
    masked: frozenset[tuple[str, int]]  # (node id, output index) whose tensor carries a mask

    def role(self, node_id: str) -> str:
        """The role of a node as text (``""`` when no mask reaches it or the id is unknown)."""
        return self.roles.get(node_id, MaskRole.NONE).value

    def carries(self, edge: Edge) -> bool:
        """Whether the tensor on ``edge`` carries a mask."""
        return (edge.src, edge.src_index) in self.masked


def mask_flow(graph: ModelGraph) -> MaskFlow:
    """The mask role of every node (at every nesting depth) and the outputs that carry a mask.

    Works on any :class:`~inspector.graph.ModelGraph` — walked from a loaded model
    or parsed statically.  Nested models are followed through (their inputs take
    the mask of what feeds them); a nested model's own node gets ``produces``
    when a layer inside makes a mask, else the role its outputs and inputs imply.
    A layer class Keras does not ship (custom, ``Lambda``) is taken to follow
    Keras 3's default, no masking support.  Calls of ``keras.ops`` functions are
    not layers and never carry a mask (Keras's merge layers use them to compute
    masks); they get ``""``.

    Example:
        >>> import inspector
        >>> flow = mask_flow(inspector.build_graph(inspector.get_sample("otto_mlp").path))
        >>> sorted(set(flow.roles.values())) == [MaskRole.NONE]
        True
    """
    flat = graph.expanded()
    masked: set[tuple[str, int]] = set()
    roles: dict[str, MaskRole] = {}
    incoming: dict[str, list[Edge]] = {}
    for e in flat.edges:
        incoming.setdefault(e.dst, []).append(e)
    for node in flat.nodes:
        by_position: dict[int, bool] = {}  # one pass over the edges: a Concatenate of 1,600 inputs has 1,600 of them
        for e in incoming.get(node.id, ()):
            by_position[e.dst_index] = by_position.get(e.dst_index, False) or (e.src, e.src_index) in masked
        inputs = [by_position[p] for p in sorted(by_position)]
        role, outputs = _rule(node, inputs)
        roles[node.id] = role
        masked.update((node.id, i) for i in outputs)
    for cid in flat.clusters:
        roles[cid] = _model_role(graph, flat, cid, roles, masked)
    for cid in flat.clusters:  # a collapsed drawing shows the model node: its outputs carry what its outputs do
        sub = _subgraph(graph, cid)
        if sub is not None:
            for i, out in enumerate(sub.outputs):
                if (_flat_output(sub, out, flat), 0) in masked:
                    masked.add((cid, i))
    return MaskFlow(roles=roles, masked=frozenset(masked))


def _rule(node: LayerNode, inputs: list[bool]) -> tuple[MaskRole, tuple[int, ...]]:
    """``(role, indices of masked outputs)`` of one node, given which inputs carry a mask."""
    cls, cfg = node.class_name, node.config if isinstance(node.config, dict) else {}
    any_masked = any(inputs)
    if node.kind == NodeKind.INPUT:  # a nested model's input: passes on what feeds it
        return MaskRole.NONE, (0,) if any_masked else ()
    if _is_operation(node):
        return MaskRole.NONE, ()
    if cls == "Masking" or (cls == "Embedding" and cfg.get("mask_zero")):
        return MaskRole.PRODUCES, (0,)
    if not any_masked:
        return MaskRole.NONE, ()
    first = (0,) if inputs and inputs[0] else ()
    if cls in _RNNS:
        inner = cfg.get("layer") if cls == "Bidirectional" else {"config": cfg}
        inner = inner.get("config") if isinstance(inner, dict) else None  # a hostile config may hold anything
        if not (isinstance(inner, dict) and inner.get("return_sequences")):
            return MaskRole.CONSUMES, ()
        if cls == "Bidirectional" and cfg.get("merge_mode", "concat") is None:
            return MaskRole.CONSUMES, (0, 1)
        return MaskRole.CONSUMES, (0,)
    if cls in ("GlobalAveragePooling1D", "GlobalAvgPool1D"):
        return MaskRole.CONSUMES, ()
    if cls in CONSUMERS:
        return MaskRole.CONSUMES, first
    if cls in MERGES_ALL:
        return (MaskRole.PROPAGATES, (0,)) if all(inputs) else (MaskRole.DROPS, ())
    if cls in MERGES_ANY:
        return MaskRole.PROPAGATES, (0,)
    if cls in PROPAGATORS:
        return (MaskRole.PROPAGATES, first) if first else (MaskRole.NONE, ())
    return MaskRole.DROPS, ()


def _is_operation(node: LayerNode) -> bool:
    """A call of a ``keras.ops`` function (``NotEqual``, ``ExpandDims``…), not a layer."""
    return bool(node.module) and ".ops." in f".{node.module}."


def _subgraph(graph: ModelGraph, node_id: str) -> ModelGraph | None:
    for n, owner in graph.walk():
        if n.id == node_id:
            return owner.nested.get(node_id)
    return None


def _flat_output(sub: ModelGraph, node_id: str, flat: ModelGraph) -> str:
    """Follow a nested model's output down to the flat node that makes it."""
    ids = {n.id for n in flat.nodes}
    while node_id not in ids and node_id in sub.nested:
        sub = sub.nested[node_id]
        node_id = sub.outputs[0]
    return node_id


def _model_role(graph: ModelGraph, flat: ModelGraph, cid: str, roles: dict[str, MaskRole],
                masked: set[tuple[str, int]]) -> MaskRole:
    sub = _subgraph(graph, cid)
    if sub is None:
        return MaskRole.NONE
    inner = {n.id for n, _ in sub.walk()}
    inner_roles = {roles.get(i, MaskRole.NONE) for i in inner}
    if MaskRole.PRODUCES in inner_roles:
        return MaskRole.PRODUCES
    fed = any((_flat_output(sub, i, flat), 0) in masked for i in sub.inputs)
    out = any((_flat_output(sub, o, flat), 0) in masked for o in sub.outputs)
    if not fed:
        return MaskRole.NONE
    if out:
        return MaskRole.CONSUMES if MaskRole.CONSUMES in inner_roles else MaskRole.PROPAGATES
    return MaskRole.CONSUMES if MaskRole.CONSUMES in inner_roles else MaskRole.DROPS
