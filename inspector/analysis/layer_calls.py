"""The call events of a model, at every nesting level, and the lookup from what a user names to one of them.

A :class:`_Catalog` lists a Functional model's call events in graph order (input layers included), each with
its node id as :class:`~inspector.graph.ModelGraph` spells it (``dense``, ``dense@1`` for a shared layer's second
call, ``generator/dense_2`` inside a nested model) and, for a nested functional model, the catalog of its own
graph.  :func:`_resolve` turns an index into ``model.layers``, a name, a nested path, a node id, a
:class:`~inspector.graph.LayerNode` or a layer object into a node id, with a message listing the choices
when it cannot.  Every walk of :mod:`inspector.analysis` (activations, profile, gradients) starts here.

Example:
    >>> import keras
    >>> d = keras.layers.Dense(2, name="d")
    >>> x = keras.Input((2,))
    >>> m = keras.Model(x, d(d(x)))
    >>> [e.id for e in _catalog(m).walk()][1:]
    ['d', 'd@1']
    >>> _resolve(m, _catalog(m), "d", call_index=1)
    'd@1'
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspector.errors import InputDataError, LayerNotFoundError
from inspector.graph import Shape
from inspector.model.channels_first import compute_channels_last


# =============================================================================== the graph catalog
# Public attributes of Keras's graph used here: a Node's ``operation``, ``outputs``, ``input_tensors``,
# ``is_input`` and ``arguments.fill_in``; a Functional's ``inputs`` and ``outputs``.  Anything private
# (the graph's owner, input standardising, which layers take ``training``) comes from keras_internals.
@dataclass(eq=False)
class _Entry:
    """One call event of the model, at any nesting level."""

    id: str
    name: str
    class_name: str
    node: Any  # keras Node
    layer: Any
    call_index: int
    depth: int
    outputs: tuple[tuple[Shape, str], ...]
    sub: _Catalog | None = None  # the nested model's own graph

    @property
    def is_input(self) -> bool:
        return bool(self.node.is_input)


@dataclass(eq=False)
class _Catalog:
    owner: Any  # the Functional whose graph this is
    entries: list[_Entry]

    def walk(self) -> Iterator[_Entry]:
        for e in self.entries:
            yield e
            if e.sub is not None:
                yield from e.sub.walk()


def _catalog(model: Any) -> _Catalog:
    """All call events of ``model``, nested ones included (cheap: built per request, never cached, so the
    model is not kept alive by this module beyond the bounded runner cache)."""
    _check_model(model)
    compute_channels_last(model)  # a model built in code: channels-first convolutions right on any CPU
    return _build_catalog(model, "", 0)


def _check_model(model: Any) -> None:
    from inspector.model.keras_internals import is_functional

    if is_functional(model):
        return
    kind = type(model).__name__
    if not hasattr(model, "layers"):
        raise InputDataError("This is not a Keras model.", received=f"a {kind}",
                             fix="Pass a keras.Model, e.g. from inspector.load_model(path).")
    if kind == "Sequential":
        raise LayerNotFoundError(
            f"Sequential model {model.name!r} is not built, so it has no layer graph to read outputs from.",
            received=f"an unbuilt Sequential with {len(model.layers)} layers",
            fix="Start it with keras.Input(shape) or call model.build((None, ...)) before inspecting.")
    raise LayerNotFoundError(
        f"{kind} {getattr(model, 'name', '')!r} is a subclassed model with no functional graph, so the outputs "
        "of its inner layers cannot be reached without changing its code.",
        received=f"a {kind}", fix="Rebuild it with the functional API (keras.Model(inputs, outputs)), or call "
                                  "model(X) for its final output.")


def _owner(model: Any) -> Any:
    from inspector.model.keras_internals import graph_owner

    return graph_owner(model)


def _build_catalog(model: Any, prefix: str, depth: int) -> _Catalog:
    import keras

    from inspector.model.keras_internals import functional_nodes, is_functional

    entries = []
    for node, call in functional_nodes(model):
        op = node.operation
        node_id = f"{prefix}{op.name}" + (f"@{call}" if call else "")
        outputs = tuple((tuple(None if d is None else int(d) for d in t.shape), _dtype_name(t.dtype))
                        for t in node.outputs)
        sub = None
        if not node.is_input and isinstance(op, keras.Model) and is_functional(op):
            sub = _build_catalog(op, node_id + "/", depth + 1)
        entries.append(_Entry(node_id, str(op.name), type(op).__name__, node, op, call, depth, outputs, sub))
    return _Catalog(_owner(model), entries)


# ------------------------------------------------------------------------------- layer lookup
def _resolve(model: Any, catalog: _Catalog, layer: Any, call_index: int = 0) -> str:
    """The node id meant by an index, name, path, node id, LayerNode or layer object."""
    entries = list(catalog.walk())
    by_id = {e.id: e for e in entries}
    top = catalog.entries

    def call_of(candidates: list[_Entry], what: str) -> str:
        if not candidates:
            raise _not_found(model, entries, what, "it is not called in the model's graph")
        if not 0 <= call_index < len(candidates):
            raise _not_found(model, entries, f"{what} with call_index={call_index}",
                             f"it has {len(candidates)} call(s): {[c.id for c in candidates]}")
        return candidates[call_index].id

    node_id = getattr(layer, "id", None)
    if isinstance(node_id, str) and hasattr(layer, "kind"):  # a graph.LayerNode
        if node_id in by_id:
            return node_id
        raise _not_found(model, entries, f"node {node_id!r}", "the node is not part of this model")
    if isinstance(layer, (bool, np.bool_)):
        raise _not_found(model, entries, repr(layer), "a bool is not a layer index")
    if isinstance(layer, (int, np.integer)):
        layers = list(model.layers)
        if not -len(layers) <= int(layer) < len(layers):
            raise _not_found(model, entries, f"model.layers[{int(layer)}]",
                             f"the model has {len(layers)} layers (indices 0..{len(layers) - 1})")
        target = layers[int(layer)]
        return call_of([e for e in top if e.layer is target], f"model.layers[{int(layer)}] ({target.name!r})")
    if isinstance(layer, str):
        if layer in by_id and call_index == 0:
            return layer
        by_path = sorted((e for e in entries if _path(e.id) == layer), key=_call_order)
        if by_path:  # a layer name or nested path: call_index picks the call
            return call_of(by_path, f"layer {layer!r}")
        if layer in by_id:
            raise _not_found(model, entries, f"{layer!r} with call_index={call_index}",
                             "a node id already names one call; leave call_index out")
        by_name = sorted((e for e in entries if e.name == layer), key=_call_order)
        distinct = sorted({_path(e.id) for e in by_name})
        if len(distinct) == 1:  # a name used only inside one nested model
            return call_of(by_name, f"layer {layer!r}")
        if len(distinct) > 1:
            raise _not_found(model, entries, f"layer {layer!r}",
                             f"that name is used in several places: {distinct}; give the full path")
        raise _not_found(model, entries, f"layer {layer!r}", "no layer call has that name, path or node id")
    if isinstance(layer, _keras_layer_class()):
        return call_of([e for e in entries if e.layer is layer], f"layer object {layer.name!r}")
    raise _not_found(model, entries, repr(layer)[:80],
                     f"a {type(layer).__name__} is not a layer index, name, path, node id or LayerNode")


def _keras_layer_class() -> type:
    import keras

    return keras.layers.Layer


def _path(node_id: str) -> str:
    """A node id without its call suffixes: ``encoder@1/dense`` → ``encoder/dense``."""
    return "/".join(part.split("@")[0] for part in node_id.split("/"))


def _call_order(entry: _Entry) -> tuple[int, ...]:
    return tuple(int(part.split("@")[1]) if "@" in part else 0 for part in entry.id.split("/"))


def _not_found(model: Any, entries: list[_Entry], what: str, why: str) -> LayerNotFoundError:
    choices = [e.id for e in entries if not e.is_input]
    shown = ", ".join(repr(c) for c in choices[:12]) + (f", ... ({len(choices)} in all)" if len(choices) > 12 else "")
    return LayerNotFoundError(
        f"No {what} in model {getattr(model, 'name', '?')!r}: {why}.",
        received=what,
        fix=f"Use an index into model.layers (0..{len(model.layers) - 1}), or one of these node ids: {shown}.")


def _resolve_many(model: Any, catalog: _Catalog, layers: Any) -> list[str]:
    if isinstance(layers, str) and layers == "all":
        return [e.id for e in catalog.walk() if not e.is_input]
    if isinstance(layers, (str, int, np.integer)) or hasattr(layers, "kind") or not isinstance(layers, Iterable):
        layers = [layers]
    ids: list[str] = []
    for layer in layers:
        node_id = _resolve(model, catalog, layer)
        if node_id not in ids:
            ids.append(node_id)
    if not ids:
        raise _not_found(model, list(catalog.walk()), "layers (an empty list)", "no layer was asked for")
    order = {e.id: i for i, e in enumerate(catalog.walk())}
    return sorted(ids, key=order.__getitem__)


def _dtype_name(dtype: Any) -> str:
    name = getattr(dtype, "name", None)
    return str(name if isinstance(name, str) else dtype)
