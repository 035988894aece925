"""Filling in the shapes a static graph lacks, with Keras's own shape arithmetic and no model built.

Old configs (Keras 1/2) record only the input shapes.  For every layer that is a
built-in Keras class (never an opaque one: those were refused by the safety
scan), the layer object is created from its config — which allocates no weights
— and asked for ``compute_output_shape`` of its known input shapes.  Layers that
cannot answer (old argument names, opaque code, unknown inputs) keep unknown
shapes, and so does everything downstream of them.

Example:
    >>> from inspector.model.static import graph_from_config
    >>> cfg = {"class_name": "Sequential", "config": {"name": "s", "layers": [
    ...     {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 3]}},
    ...     {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
    >>> infer_shapes(graph_from_config(cfg, {})).node("d").output_shapes
    ((None, 2),)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind, Shape
from inspector.model.keras_internals import quiet_warnings
from inspector.model.output_shapes import output_shapes
from inspector.model.tf_ops import OP_LAYER_CLASSES

__all__ = ["infer_shapes"]


def infer_shapes(graph: ModelGraph, input_shapes: dict[str, Shape | None] | None = None, *,
                 calls: Mapping[str, dict] | None = None) -> ModelGraph:
    """A copy of a static graph with every output shape Keras can compute filled in.

    ``calls`` (node id -> the call's Keras 3 ``{"args", "kwargs"}``) places each input where the call passed it,
    for a layer whose output depends on more than its inputs' shapes: tf.keras 2's TensorFlow-op layers, called
    with their constant arguments (:mod:`inspector.model.tf_ops`).
    """
    calls = calls or {}
    known: dict[str, tuple[Shape | None, ...]] = {}
    nodes: list[LayerNode] = []
    nested = dict(graph.nested)
    incoming: dict[str, list[Edge]] = {}
    for e in graph.edges:
        incoming.setdefault(e.dst, []).append(e)
    for node in graph.nodes:
        edges = sorted(incoming.get(node.id, []), key=lambda e: e.dst_index)
        inputs = tuple(_pick(known.get(e.src), e.src_index) or e.shape for e in edges) or node.input_shapes
        outputs = node.output_shapes
        if node.kind == NodeKind.INPUT and input_shapes and not _complete(outputs):
            outputs = (input_shapes.get(node.id),)
        elif node.id in nested:
            sub = nested[node.id]
            seeds = {i: s for i, s in zip(sub.inputs, inputs, strict=False)}
            sub = nested[node.id] = infer_shapes(sub, seeds, calls=calls)
            outputs = tuple(_output_of(sub, o) for o in sub.outputs)
        elif node.kind == NodeKind.LAYER and not node.opaque and _complete(inputs) and (
                not _complete(outputs) or _returns_states(node, outputs)):
            outputs = _compute(node, inputs, calls.get(node.id)) or outputs
        known[node.id] = outputs
        nodes.append(replace(node, input_shapes=inputs if _complete(inputs) else node.input_shapes,
                             output_shapes=outputs))
    edges = tuple(e if e.shape is not None else replace(e, shape=_pick(known.get(e.src), e.src_index))
                  for e in graph.edges)
    return replace(graph, nodes=tuple(nodes), edges=edges, nested=nested)


def _returns_states(node: LayerNode, outputs: tuple[Shape | None, ...]) -> bool:
    """A recurrent layer returning its states, of which the config recorded only the outputs its consumers took."""
    return bool(node.config.get("return_state")) and len(outputs) == 1


def _compute(node: LayerNode, inputs: tuple[Shape | None, ...], call: dict | None = None
             ) -> tuple[Shape | None, ...] | None:
    known = output_shapes(node.class_name, node.config, inputs)
    if known is not None:  # Keras's arithmetic for the common layers, without importing Keras and TensorFlow
        return known
    import keras

    from inspector.model import old_semantics

    ours = old_semantics.custom_objects()
    try:
        # our stand-ins for what Keras 3 changed answer like Keras's own objects: a layer class by name, and a
        # function put in place of its name (as Keras's legacy loader does; activations.get reads no scope)
        with quiet_warnings(), keras.saving.custom_object_scope(ours):
            layer = keras.saving.deserialize_keras_object(
                {"module": "keras.layers", "class_name": node.class_name,
                 # a copy: from_config may take parts out of the config it is given (StackedRNNCells pops its
                 # cells), and the node's config is the caller's, loaded by Keras afterwards
                 "config": _with_objects(copy.deepcopy(node.config), ours)},
                safe_mode=True)
            result = _output_shape(layer, inputs, call)
    except Exception:  # noqa: BLE001 - a layer that cannot say its shape keeps it unknown
        return None
    return _as_shapes(result)


def _output_shape(layer: Any, inputs: tuple[Shape | None, ...], call: dict | None) -> Any:
    """``compute_output_shape`` of a layer's inputs, each where its ``call`` passed it; an op layer is called
    symbolically with its call's arguments.  Without the call, a recurrent layer's inputs after the first are its
    initial states (Keras 3's ``initial_state``, which the normalised Keras 2 calls pass them as)."""
    import inspect

    if type(layer).__name__ in OP_LAYER_CLASSES and isinstance(call, dict):
        args, kwargs = _placed(call, inputs, symbolic=True)
        return _spec_shapes(layer.compute_output_spec(*args, **kwargs))
    if isinstance(call, dict) and call.get("kwargs") and len(inputs) > 1:
        # tensors passed by keyword (MultiHeadAttention's value, an RNN's initial_state): Keras names their shapes
        # <keyword>_shape in compute_output_shape
        args, kwargs = _placed(call, inputs, symbolic=False)
        parameters = inspect.signature(layer.compute_output_shape).parameters
        shapes = {f"{key}_shape": value for key, value in kwargs.items() if f"{key}_shape" in parameters}
        if len(args) == 1 and len(shapes) == sum(1 for v in kwargs.values() if _has_shape(v)):
            return layer.compute_output_shape(args[0], **shapes)
    if len(inputs) > 1 and "initial_state_shape" in inspect.signature(layer.compute_output_shape).parameters:
        return layer.compute_output_shape(inputs[0], initial_state_shape=list(inputs[1:]))
    return layer.compute_output_shape(inputs[0] if len(inputs) == 1 else list(inputs))


def _placed(call: dict, inputs: tuple[Shape | None, ...], *, symbolic: bool) -> tuple[list, dict]:
    """A call's arguments with each tensor its input's shape (``symbolic``: a symbolic tensor of that shape), in
    the order the graph's edges number them (the positional arguments, then the keyword ones by name)."""
    import keras

    shapes = iter(inputs)

    def place(value: Any) -> Any:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            shape = next(shapes)
            return keras.KerasTensor(shape) if symbolic else shape
        if isinstance(value, list):
            return [place(v) for v in value]
        if isinstance(value, dict):
            return {k: place(v) for k, v in value.items()}
        return value

    args = place(call.get("args", []))
    kwargs = call.get("kwargs", {})
    return args, {key: place(kwargs[key]) for key in sorted(kwargs)}


def _has_shape(value: Any) -> bool:
    """Whether a placed argument holds a tensor's shape (a tuple, or a list of them)."""
    return isinstance(value, tuple) or (isinstance(value, list) and bool(value) and all(
        isinstance(v, tuple) for v in value))


def _spec_shapes(result: Any) -> Any:
    """The shapes of a symbolic result (one tensor or a list of them)."""
    if isinstance(result, (list, tuple)):
        return [tuple(r.shape) for r in result]
    return tuple(result.shape)


def _with_objects(config: Any, objects: dict[str, Any]) -> Any:
    """A layer config whose values naming one of ``objects`` are that object, as Keras's legacy loader does.

    Only the layer's own values: a wrapped layer names our functions as serialized functions, which the
    custom-object scope resolves.
    """
    if not isinstance(config, dict):
        return config
    return {k: objects[v] if k != "name" and isinstance(v, str) and v in objects else v for k, v in config.items()}


def _as_shapes(result: Any) -> tuple[Shape | None, ...] | None:
    if isinstance(result, (tuple, list)) and all(d is None or isinstance(d, int) for d in result):
        return (tuple(result),)
    if isinstance(result, (tuple, list)) and all(isinstance(r, (tuple, list)) for r in result):
        return tuple(tuple(r) for r in result)
    return None


def _pick(shapes: tuple[Shape | None, ...] | None, index: int) -> Shape | None:
    return shapes[index] if shapes and index < len(shapes) else None


def _output_of(graph: ModelGraph, node_id: str) -> Shape | None:
    return next((n.output_shapes[0] for n in graph.nodes if n.id == node_id and n.output_shapes), None)


def _complete(shapes: tuple[Shape | None, ...]) -> bool:
    return bool(shapes) and all(s is not None for s in shapes)
