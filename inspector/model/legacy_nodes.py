"""Keras 1/2 layer calls (``inbound_nodes``) in the form Keras 3 reads them: pure dict rewriting, no Keras import.

Keras 1 and 2 wrote a call as ``[[layer, node_index, tensor_index, kwargs], ...]``, one entry per input tensor;
Keras 3 reads that legacy form, but not what three habits of Keras 2 meant by it: tensors passed by keyword
(:func:`keyword_tensors`), recurrent layers given their initial states as extra inputs (:func:`initial_states`),
and nested models numbering their calls from 1 (:func:`renumber_nested_calls`).  The rewritten calls use Keras
3's own form, ``{"args": [...], "kwargs": {...}}`` with each tensor a :func:`keras_tensor`.  Called by
:func:`inspector.model.legacy.normalize_config` for each model level.

Example:
    >>> layers = [{"class_name": "InputLayer", "name": "x", "inbound_nodes": []},
    ...           {"class_name": "InputLayer", "name": "h", "inbound_nodes": []},
    ...           {"class_name": "GRU", "name": "gru", "config": {"name": "gru"},
    ...            "inbound_nodes": [[["x", 0, 0, {}], ["h", 0, 0, {}]]]}]
    >>> initial_states(layers, [])
    >>> [t["config"]["keras_history"] for t in layers[2]["inbound_nodes"][0]["kwargs"]["initial_state"]]
    [['h', 0, 0]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["MODEL_CLASSES", "initial_states", "is_legacy_node", "keras_tensor", "keyword_tensors",
           "renumber_nested_calls", "tensor_marker"]

MODEL_CLASSES = ("Sequential", "Functional", "Model")


def keyword_tensors(layers: list, notes: list[str]) -> None:
    """Rewrite tf.keras 2 nodes that pass tensors by keyword into Keras 3's node format.

    tf.keras 2 wrote ``layer(a, other=b)`` as ``[["a", 0, 0, {"other": ["b", 0, 0]}]]`` and turned the inner
    ``[name, node, tensor]`` back into a tensor when loading; Keras 3 reads that list as a plain value, so the
    layer would receive ``["b", 0, 0]``.  Its own format marks each tensor, which it then resolves.
    """
    mark = tensor_marker(layers)
    for layer in layers:
        nodes = layer.get("inbound_nodes") if isinstance(layer, dict) else None
        if not isinstance(nodes, list):
            continue
        for i, node in enumerate(nodes):
            if not is_legacy_node(node):
                continue
            kwargs = node[0][3]
            if not isinstance(kwargs, dict) or mark(kwargs) == kwargs:
                continue  # no tensor passed by keyword: Keras 3 reads the legacy node as it is
            args = [keras_tensor(e[:3]) for e in node]
            nodes[i] = {"args": [args[0] if len(args) == 1 else args], "kwargs": mark(kwargs)}
            notes.append(f"Layer {layer.get('name')!r}: tensors passed by keyword ({', '.join(sorted(kwargs))}) "
                         "rewritten from tf.keras 2's node format to Keras 3's.")


# layers whose call took its initial states as extra inputs in Keras 2 (``[inputs, *initial_state]``)
_RNN_CLASSES = frozenset({"LSTM", "GRU", "SimpleRNN", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
                          "Bidirectional"})


def initial_states(layers: list, notes: list[str]) -> None:
    """Rewrite Keras 2 recurrent calls with ``initial_state`` into Keras 3's ``initial_state`` keyword.

    Keras 2 (and tf.keras 2) called ``LSTM(...)(x, initial_state=[h, c])`` as the layer on ``[x, h, c]`` and
    wrote one node of three tensors; its RNN split the list again.  Keras 3's RNN takes one input
    ("expects 1 input(s), but it received 3"): the states go to ``initial_state``.  A layer with
    ``num_constants`` (constants after the states) has no Keras 3 form and is left for Keras to refuse.  A
    tf.keras 2 ``.keras`` file's ``build_config`` recorded the shapes of all the tensors; Keras 3 builds on the
    sequence's.
    """
    for layer in layers:
        if not isinstance(layer, dict) or layer.get("class_name") not in _RNN_CLASSES:
            continue
        cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
        nodes = layer.get("inbound_nodes")
        if cfg.get("num_constants") or not isinstance(nodes, list):
            continue
        for i, node in enumerate(nodes):
            if not is_legacy_node(node) or len(node) < 2:
                continue
            kwargs = node[0][3] if isinstance(node[0][3], dict) else {}
            if kwargs.get("constants") is not None:
                continue
            # tf.keras 2's Bidirectional also wrote its empty arguments, which Keras 3's does not take
            kwargs = {k: v for k, v in kwargs.items() if k not in ("initial_state", "constants")}
            nodes[i] = {"args": [keras_tensor(node[0][:3])],
                        "kwargs": {**kwargs, "initial_state": [keras_tensor(e[:3]) for e in node[1:]]}}
            notes.append(f"{layer.get('class_name')} {layer.get('name')!r}: its {len(node) - 1} initial states, "
                         "stored by Keras 2 as extra inputs, are passed as initial_state (Keras 3's form).")
            built = layer.get("build_config")
            shapes = built.get("input_shape") if isinstance(built, dict) else None
            if i == 0 and isinstance(shapes, list) and shapes and isinstance(shapes[0], list):
                built["input_shape"] = shapes[0]  # the sequence's: Keras 3 builds an RNN on it alone


def is_legacy_node(node: Any) -> bool:
    """A Keras 1/2 node: ``[[layer, node_index, tensor_index, kwargs], ...]``."""
    return isinstance(node, list) and bool(node) and all(isinstance(e, list) and len(e) == 4 for e in node)


def tensor_marker(layers: list) -> Callable[[Any], Any]:
    """A function marking every ``[name, node, tensor]`` reference to one of ``layers`` as a Keras 3 tensor."""
    names = {layer.get("name", (layer.get("config") or {}).get("name")) for layer in layers if isinstance(layer, dict)}

    def mark(value: Any) -> Any:
        if _is_reference(value, names):
            return keras_tensor(value)
        if isinstance(value, list):
            return [mark(v) for v in value]
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        return value

    return mark


def _is_reference(value: Any, names: set) -> bool:
    return (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and value[0] in names
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:]))


def keras_tensor(reference: list) -> dict:
    # the shape and dtype are placeholders: Keras 3 replaces the tensor by the one keras_history names
    return {"class_name": "__keras_tensor__", "config": {"shape": [], "dtype": "float32",
                                                         "keras_history": list(reference)}}


def renumber_nested_calls(inner: dict, layers: list, notes: list[str]) -> None:
    """Number a nested model's calls from 0, as Keras 3 does, where Keras 1/2 numbered them from 1.

    Keras 1/2 models began with a node of their own (linking their inputs to their outputs), so the outer
    config called a nested model's first call node 1; Keras 3's first call is node 0 ("Invalid Functional
    model configuration ... failed to be resolved" for a model called twice).  Known by the references
    alone: a model with N calls referred to as 1..N.  Keras 3 reads ``output_layers`` the old way for a
    nested Functional model (it subtracts the 1 itself) and the new way for a Sequential one.
    """
    calls = {layer.get("name"): (layer.get("class_name"), len(layer["inbound_nodes"])) for layer in layers
             if isinstance(layer, dict) and layer.get("class_name") in MODEL_CLASSES
             and isinstance(layer.get("inbound_nodes"), list) and all(is_legacy_node(n) for n in layer["inbound_nodes"])}
    references = [entry for layer in layers if isinstance(layer, dict) and isinstance(layer.get("inbound_nodes"), list)
                  for node in layer["inbound_nodes"] if is_legacy_node(node) for entry in node]
    outputs = [ref for ref in _references(inner.get("output_layers")) if ref[0] in calls]
    for name, (cls, count) in calls.items():
        used = [e[1] for e in references if e[0] == name] + [ref[1] for ref in outputs if ref[0] == name]
        if not count or not used or min(used) < 1 or max(used) != count:
            continue
        for entry in references:
            if entry[0] == name:
                entry[1] -= 1
        for ref in outputs:
            if ref[0] == name and cls == "Sequential":
                ref[1] -= 1
        notes.append(f"Nested model {name!r}: its {count} call(s), numbered from 1 by Keras 1/2, renumbered from 0 "
                     "as Keras 3 numbers them.")


def _references(spec: Any) -> list[list]:
    """The ``[name, node, tensor]`` lists of a model's ``input_layers``/``output_layers`` (mutable, in place)."""
    if isinstance(spec, list) and len(spec) == 3 and isinstance(spec[0], str) and isinstance(spec[1], int):
        return [spec]
    if isinstance(spec, list):
        return [ref for item in spec for ref in _references(item)]
    if isinstance(spec, dict):
        return [ref for item in spec.values() for ref in _references(item)]
    return []
