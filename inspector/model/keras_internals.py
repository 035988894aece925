"""The one module that reads Keras internals: walk a loaded ``keras.Model`` into a ModelGraph.

Keras 3 keeps a functional model's graph as ``Node`` objects (one per layer
call) grouped by depth in ``model._nodes_by_depth``; each node knows its
``operation`` (the layer), the ``KerasTensor`` objects it consumed and produced,
and each tensor its producer through ``_keras_history``.  A ``Sequential``
model, once built, carries an equivalent functional model in ``_functional``.
Everything here is read-only: the model is never called.

A Keras upgrade that moves these internals breaks this file and nothing else.

Example:
    >>> import keras
    >>> m = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(2, name="d")])
    >>> [n.id for n in walk_model(m).nodes]
    ['x', 'd']
"""

from __future__ import annotations

import contextlib
import functools
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind, Shape, Source, WeightInfo

__all__ = ["quiet_warnings", "walk_model", "functional_nodes", "is_functional", "graph_owner", "takes_training", "standardize_inputs",
           "copy_keras_mask", "sub_layers", "resolve_serialized", "legacy_function_names", "why_not_a_model_part"]


def is_functional(model: Any) -> bool:
    """Whether a model has a graph of layer calls (Functional, or a built Sequential)."""
    return _graph_owner(model) is not None


def graph_owner(model: Any) -> Any:
    """The functional model holding a model's graph (a built Sequential's inner ``_functional``), else the model."""
    owner = _graph_owner(model)
    return owner if owner is not None else model


def takes_training(op: Any) -> bool:
    """Whether a layer's call takes ``training`` (as ``Functional.call`` decides when it passes it on)."""
    return "training" in getattr(op, "_call_context_args", ())


def standardize_inputs(owner: Any, inputs: Any) -> list[Any]:
    """A functional model's inputs flattened, dtypes converted and ranks fixed, as its own call does."""
    return owner._standardize_inputs(inputs)


def set_keras_mask(tensor: Any, mask: Any) -> None:
    """Attach a Keras mask to a tensor, as a masking layer's call does (``keras.backend`` does not export it)."""
    from keras.src.backend.common.masking import set_keras_mask as set_mask

    set_mask(tensor, mask)


def copy_keras_mask(new: Any, old: Any) -> Any:
    """``new`` carrying ``old``'s Keras mask (a tensor attribute an arithmetic result does not inherit)."""
    from keras.src.backend.common.masking import get_keras_mask, set_keras_mask

    mask = get_keras_mask(old)
    if mask is not None:
        set_keras_mask(new, mask)
    return new


def sub_layers(layer: Any) -> list[Any]:
    """Every layer a layer holds, at any depth (Keras has no public accessor; ``Layer.weights`` uses this one)."""
    flatten = getattr(layer, "_flatten_layers", None)
    return list(flatten(include_self=False, recursive=True)) if flatten is not None else []


def _graph_owner(model: Any) -> Any:
    inner = getattr(model, "_functional", None)
    if inner is not None and hasattr(inner, "_nodes_by_depth"):
        return inner
    if hasattr(model, "_nodes_by_depth") and hasattr(model, "_operations"):
        return model
    return None


def functional_nodes(model: Any) -> list[tuple[Any, int]]:
    """The calls of a functional model in topological order, as ``(keras Node, call_index)``.

    Order: by depth from the inputs, then by the model's layer order, then by
    call; the call index counts only this model's calls of the layer.
    """
    owner = _graph_owner(model)
    if owner is None:
        return []
    order = {id(op): i for i, op in enumerate(owner._operations)}
    depth_of = {id(n): depth for depth, level in owner._nodes_by_depth.items() for n in level}
    nodes = [n for depth in sorted(owner._nodes_by_depth, reverse=True) for n in owner._nodes_by_depth[depth]]
    member = set(depth_of)
    nodes.sort(key=lambda n: (-depth_of[id(n)], order.get(id(n.operation), len(order)),
                              n.operation._inbound_nodes.index(n)))
    out = []
    for n in nodes:
        own_calls = [c for c in n.operation._inbound_nodes if id(c) in member]
        out.append((n, own_calls.index(n)))
    return out


def walk_model(model: Any, *, expand_nested: bool = True) -> ModelGraph:
    """Walk a loaded ``keras.Model`` into a :class:`ModelGraph` with every shape filled in."""
    seen: set[int] = set()
    graph = _walk(model, prefix="", path_prefix="", parent=None, depth=0, seen=seen, shared_prefix=None,
                  expand_nested=expand_nested)
    weights = _unique_weights(model)
    trainable = sum(_size(v) for v in weights if v.trainable)
    non_trainable = sum(_size(v) for v in weights if not v.trainable)
    total_bytes = sum(_size(v) * _itemsize(v) for v in weights)
    return replace(graph, total_params=trainable + non_trainable, trainable_params=trainable,
                   non_trainable_params=non_trainable, total_bytes=total_bytes)


def _walk(model: Any, *, prefix: str, path_prefix: str, parent: str | None, depth: int, seen: set[int],
          shared_prefix: str | None, expand_nested: bool) -> ModelGraph:
    name = str(getattr(model, "name", type(model).__name__))
    cls = type(model).__name__
    if _graph_owner(model) is None:
        return _unwired(model, prefix, path_prefix, parent, depth, seen, shared_prefix, expand_nested, name, cls)
    nodes: list[LayerNode] = []
    edges: list[Edge] = []
    nested: dict[str, ModelGraph] = {}
    produced: dict[int, tuple[str, int]] = {}  # id(KerasTensor) -> (node id, output index)
    for knode, call in functional_nodes(model):
        op = knode.operation
        op_name = str(op.name)
        node_id = f"{prefix}{op_name}" + (f"@{call}" if call else "")
        first = f"{prefix}{op_name}"
        shared_with = (shared_prefix + op_name + (f"@{call}" if call else "")) if shared_prefix else (
            first if call else None)
        inputs = [] if knode.is_input else list(knode.input_tensors)
        for position, tensor in enumerate(inputs):
            src = produced.get(id(tensor))
            if src is not None:
                edges.append(Edge(src[0], node_id, shape=_shape(tensor), dtype=_dtype(tensor),
                                  src_index=src[1], dst_index=position))
        for i, tensor in enumerate(knode.outputs):
            produced[id(tensor)] = (node_id, i)
        sub = None
        if _is_model(op) and expand_nested:
            sub = _walk(op, prefix=node_id + "/", path_prefix=path_prefix + op_name + "/", parent=node_id,
                        depth=depth + 1, seen=seen,
                        shared_prefix=(shared_with + "/") if shared_with else None, expand_nested=True)
            nested[node_id] = sub
        nodes.append(_node(op, node_id, call, shared_with, path_prefix, parent, depth, seen, sub,
                           input_shapes=tuple(_shape(t) for t in inputs),
                           output_shapes=tuple(_shape(t) for t in knode.outputs),
                           dtype=_dtype(knode.outputs[0]) if knode.outputs else None,
                           is_input=bool(knode.is_input)))
    owner = _graph_owner(model)
    model_inputs = tuple(produced[id(t)][0] for t in owner.inputs if id(t) in produced)
    model_outputs = tuple(produced[id(t)][0] for t in owner.outputs if id(t) in produced)
    return ModelGraph(name=name, class_name=cls, nodes=tuple(nodes), edges=tuple(edges), inputs=model_inputs,
                      outputs=model_outputs, nested=nested,
                      total_params=sum(n.params for n in nodes),
                      trainable_params=sum(n.trainable_params for n in nodes),
                      non_trainable_params=sum(n.non_trainable_params for n in nodes), source=Source.KERAS)


def _unwired(model: Any, prefix: str, path_prefix: str, parent: str | None, depth: int, seen: set[int],
             shared_prefix: str | None, expand_nested: bool, name: str, cls: str) -> ModelGraph:
    """A model without a functional graph: an unbuilt Sequential (a chain) or a subclassed model (one node)."""
    layers = list(getattr(model, "layers", []))
    if cls == "Sequential" and layers:
        nodes, edges = [], []
        for layer in layers:
            node_id = prefix + str(layer.name)
            sub = None
            if _is_model(layer) and expand_nested:
                sub = _walk(layer, prefix=node_id + "/", path_prefix=path_prefix + layer.name + "/",
                            parent=node_id, depth=depth + 1, seen=seen, shared_prefix=shared_prefix,
                            expand_nested=True)
            nodes.append(_node(layer, node_id, 0, None, path_prefix, parent, depth, seen, sub, (), (), None, False))
            if len(nodes) > 1:
                edges.append(Edge(nodes[-2].id, node_id))
        ids = tuple(n.id for n in nodes)
        return ModelGraph(name, cls, tuple(nodes), tuple(edges), ids[:1], ids[-1:],
                          total_params=sum(n.params for n in nodes),
                          trainable_params=sum(n.trainable_params for n in nodes),
                          non_trainable_params=sum(n.non_trainable_params for n in nodes),
                          warnings=("The Sequential model is not built, so shapes are unknown.",))
    node_id = prefix + name
    node = _node(model, node_id, 0, None, path_prefix, parent, depth, seen, None, (), (), None, False)
    node = replace(node, kind=NodeKind.SUBCLASSED, path=path_prefix + name)
    return ModelGraph(name, cls, (node,), (), (node_id,), (node_id,), total_params=node.params,
                      trainable_params=node.trainable_params, non_trainable_params=node.non_trainable_params,
                      warnings=(f"{cls} is a subclassed model with no functional graph: it is shown as one node "
                                "holding all its weights.",))


def _node(op: Any, node_id: str, call: int, shared_with: str | None, path_prefix: str, parent: str | None,
          depth: int, seen: set[int], sub: ModelGraph | None, input_shapes: tuple, output_shapes: tuple,
          dtype: str | None, is_input: bool) -> LayerNode:
    weights = list(getattr(op, "weights", []) or [])
    infos = tuple(WeightInfo(str(getattr(v, "path", v.name)), tuple(int(d) for d in v.shape), str(v.dtype),
                             bool(v.trainable)) for v in weights)
    if sub is not None and not shared_with:
        # the children were walked first and counted the weights; the model's row is their sum
        trainable, non_trainable = sub.trainable_params, sub.non_trainable_params
    else:
        fresh = [v for v in weights if id(v) not in seen]
        trainable = sum(_size(v) for v in fresh if v.trainable)
        non_trainable = sum(_size(v) for v in fresh if not v.trainable)
    seen.update(id(v) for v in weights)
    config = _config(op)
    activation = config.get("activation")
    kind = NodeKind.INPUT if is_input else NodeKind.MODEL if _is_model(op) else NodeKind.LAYER
    if kind == NodeKind.MODEL:
        config = {k: v for k, v in config.items() if k != "layers"}
    return LayerNode(
        id=node_id, name=str(op.name), class_name=type(op).__name__, kind=kind, input_shapes=input_shapes,
        output_shapes=output_shapes, dtype=dtype, params=trainable + non_trainable, trainable_params=trainable,
        non_trainable_params=non_trainable, layer_params=sum(_size(v) for v in weights), config=config,
        activation=activation if isinstance(activation, str) else None,
        trainable=bool(getattr(op, "trainable", True)), call_index=call, shared_with=shared_with,
        path=path_prefix + str(op.name), parent=parent, depth=depth, module=type(op).__module__, weights=infos)


def _config(op: Any) -> dict[str, Any]:
    try:
        config = op.get_config()
    except Exception:  # noqa: BLE001 - some layers cannot describe themselves; the graph still stands
        return {"name": getattr(op, "name", "")}
    return _plain(config) if isinstance(config, dict) else {}


def _plain(value: Any) -> Any:
    """Configs may hold tuples, numpy scalars or objects; keep them JSON-friendly and picklable."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    return repr(value)


def _is_model(op: Any) -> bool:
    import keras

    return isinstance(op, keras.Model)


def _unique_weights(model: Any) -> list[Any]:
    out, ids = [], set()
    for v in getattr(model, "weights", []):
        if id(v) not in ids:
            ids.add(id(v))
            out.append(v)
    return out


def _shape(tensor: Any) -> Shape | None:
    shape = getattr(tensor, "shape", None)
    if shape is None:
        return None
    return tuple(None if d is None else int(d) for d in shape)


def _dtype(tensor: Any) -> str | None:
    dtype = getattr(tensor, "dtype", None)
    return None if dtype is None else str(getattr(dtype, "name", dtype))


def _size(variable: Any) -> int:
    n = 1
    for d in variable.shape:
        n *= int(d)
    return n


def _itemsize(variable: Any) -> int:
    import numpy as np

    try:
        return np.dtype(str(variable.dtype)).itemsize
    except TypeError:
        return 4


# --------------------------------------------------------------------------- names a config may hold
# Everything below answers one question for the trust scan (inspector.model.scan): which Python object would Keras
# reach for this serialized object, and may a file name it?  It reads Keras's own registries the way
# ``keras.src.saving.serialization_lib`` does, and never imports a module a file names.

# classes whose instances a model config is made of; anything else (functions from keras.applications or
# keras.utils, callbacks, ...) is code that Keras would call while building the model
_PART_BASES = (
    ("keras.src.layers", "Layer"), ("keras.src.ops.operation", "Operation"),
    ("keras.src.initializers", "Initializer"), ("keras.src.regularizers", "Regularizer"),
    ("keras.src.constraints", "Constraint"), ("keras.src.dtype_policies.dtype_policy", "DTypePolicy"),
    ("keras.src.dtype_policies.dtype_policy_map", "DTypePolicyMap"),
    ("keras.src.optimizers.base_optimizer", "BaseOptimizer"), ("keras.src.optimizers.multi_optimizer", "OptimizerMap"),
    ("keras.src.optimizers.schedules.learning_rate_schedule", "LearningRateSchedule"),
    ("keras.src.losses.loss", "Loss"), ("keras.src.metrics.metric", "Metric"),
    ("keras.src.random.seed_generator", "SeedGenerator"), ("keras.src.quantizers", "Quantizer"),
    ("keras.src.quantizers", "QuantizationConfig"), ("keras.src.layers.input_spec", "InputSpec"))
# modules whose registry of plain functions a config may name (activations, losses, metrics)
_FUNCTION_REGISTRIES = ("keras.src.activations", "keras.src.losses", "keras.src.metrics")
# registries Keras looks a bare class name up in (legacy .h5 configs, and objects written without a module)
_NAME_REGISTRIES = ("keras.src.activations", "keras.src.initializers", "keras.src.regularizers",
                    "keras.src.constraints", "keras.src.losses", "keras.src.metrics", "keras.src.optimizers",
                    "keras.src.dtype_policies")
# parameter names through which an operation receives a function to call (Switch's branches, WhileLoop's body)
_CALLABLE_PARAMETER = re.compile(r"^(f|fn|fun|func|function|body|cond|branches|callback)$|_(fn|fns|fun|func)$")


def resolve_serialized(class_name: str, module: str | None, registered_name: str | None,
                       inner: Any) -> tuple[list[Any], str]:
    """The objects Keras could resolve one serialized object to, and a module it would have to import ('' if none).

    Mirrors ``serialization_lib._retrieve_class_or_fn`` (Keras 3) and the legacy ``.h5`` lookup by bare name in
    ``keras.src.layers``; a module that is not imported yet is reported, never imported.

    Example:
        >>> import keras
        >>> resolve_serialized("Dense", "keras.layers", None, {})[0][0].__name__
        'Dense'
        >>> [f.__name__ for f in resolve_serialized("get_file", "keras.utils", None, {})[0]]
        ['get_file']
    """
    import keras  # noqa: F401 - the registries below are filled when Keras is imported
    from keras.src import api_export
    from keras.src.saving import object_registration

    is_function = class_name == "function"
    name = inner if is_function else class_name
    if not isinstance(name, str):
        return [], ""
    found: list[Any] = []
    registered = object_registration.get_registered_object(name if is_function else (registered_name or class_name))
    if registered is not None:
        found.append(registered)
    if module == "keras" or (module or "").startswith("keras."):
        symbol = api_export.get_symbol_from_name(f"{module}.{name}")
        if symbol is not None:
            found.append(symbol)
    if is_function and module == "builtins":
        for namespace in ("activations", "constraints", "initializers", "losses", "metrics", "optimizers",
                          "regularizers"):
            symbol = api_export.get_symbol_from_name(f"keras.{namespace}.{name}")
            if symbol is not None:
                found.append(symbol)
    if module and module.split(".", 1)[0] in {"keras", "keras_hub", "keras_cv", "keras_nlp"} and not found:
        loaded = sys.modules.get(module)
        if loaded is None:
            return found, module
        target = vars(loaded).get(name)
        if target is not None:
            found.append(target)
    if not module:  # a bare name: the legacy .h5 lookups, and whatever any registry holds under it
        from keras.src import layers, models

        registries = [vars(layers), {"Functional": models.Functional, "Model": models.Model,
                                     "Sequential": models.Sequential}]
        registries += [getattr(sys.modules[m], "ALL_OBJECTS_DICT", {}) for m in _NAME_REGISTRIES if m in sys.modules]
        found += [r[name] for r in registries if name in r]
    return found, ""


@functools.cache
def legacy_function_names() -> dict[str, Any]:
    """The plain functions a legacy ``.h5`` layer config may turn a string into (``keras.layers.add`` ...).

    Keras's legacy loader replaces any string in a layer config that names a function of
    ``keras.src.layers`` by that function.

    Example:
        >>> sorted(legacy_function_names())[:3]
        ['Input', 'add', 'average']
    """
    import inspect

    from keras.src import layers

    return {k: v for k, v in vars(layers).items() if inspect.isfunction(v)}


def why_not_a_model_part(obj: Any) -> str:
    """Why Keras must not reach ``obj`` while building an untrusted model ('' when it is a model part).

    A model part is a layer, operation, initializer, regularizer, constraint, dtype policy, optimizer,
    learning-rate schedule, loss, metric, seed generator, quantizer or input spec *class* — except layers that
    wrap code and operations that call functions they are given — or a plain function registered as
    an activation, loss or metric.

    Example:
        >>> import keras
        >>> why_not_a_model_part(keras.layers.Dense), why_not_a_model_part(keras.activations.relu)
        ('', '')
        >>> why_not_a_model_part(keras.utils.plot_model)
        'keras.utils.plot_model is a function, not a model part'
    """
    import inspect

    if isinstance(obj, type):
        bases = tuple(getattr(sys.modules.get(m), n) for m, n in _PART_BASES
                      if hasattr(sys.modules.get(m), n))
        label = _public_name(obj)
        if not issubclass(obj, bases):
            return f"{label} is not a model part (layer, operation, initializer, ...)"
        from keras.src.layers import Layer

        if issubclass(obj, Layer):
            code = next((c.__name__ for c in obj.__mro__ if (c.__module__, c.__name__) in _CODE_LAYERS), None)
            return f"{label} is a {code} layer, which carries or calls code from the file" if code else ""
        from keras.src.ops.operation import Operation

        # an operation is called with its node's arguments, which a file can make functions; other classes
        # (a loss wrapper's fn) receive only what their config deserializes to, which is judged on its own
        takes = sorted(p for method in (obj.__init__, obj.call) for p in _parameters(method)
                       if _CALLABLE_PARAMETER.search(p)) if issubclass(obj, Operation) else []
        return f"{label} is an operation that calls the functions it is given ({', '.join(takes)})" if takes else ""
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        if str(getattr(obj, "__module__", "")).startswith("inspector."):
            return ""  # our own stand-ins, registered for legacy loads
        for registry in _FUNCTION_REGISTRIES:
            if any(obj is v for v in getattr(sys.modules.get(registry), "ALL_OBJECTS_DICT", {}).values()):
                return ""
        return f"{_public_name(obj)} is a function, not a model part"
    return f"{_public_name(obj)} is a {type(obj).__name__}, not a model part"


# by module as well as name: the JAX backend's own Layer base class is also called JaxLayer
_CODE_LAYERS = frozenset({
    ("keras.src.layers.core.lambda_layer", "Lambda"), ("keras.src.export.tfsm_layer", "TFSMLayer"),
    ("keras.src.utils.torch_utils", "TorchModuleWrapper"), ("keras.src.utils.jax_layer", "JaxLayer"),
    ("keras.src.utils.jax_layer", "FlaxLayer")})


def _parameters(method: Any) -> list[str]:
    import inspect

    try:
        return list(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return []


def _public_name(obj: Any) -> str:
    from keras.src import api_export

    return api_export.get_name_from_symbol(obj) or f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__name__', obj)}"


_QUIET = threading.Lock()
_quiet_depth = 0
_saved_filters: list[Any] = []


@contextlib.contextmanager
def quiet_warnings() -> Iterator[None]:
    """Ignore Python warnings while Keras rebuilds a model (its deprecation chatter about old configs is noise).

    ``warnings.catch_warnings`` is not safe across threads: two background loads that overlap
    restore each other's filters in the wrong order, which can leave warnings off for good.
    Here the first caller to enter saves the filters and the last to leave restores them.

    Example:
        >>> import warnings
        >>> before = list(warnings.filters)
        >>> with quiet_warnings():
        ...     warnings.warn("not shown")
        >>> warnings.filters == before
        True
    """
    global _quiet_depth
    with _QUIET:
        if _quiet_depth == 0:
            _saved_filters[:] = warnings.filters
            warnings.simplefilter("ignore")
        _quiet_depth += 1
    try:
        yield
    finally:
        with _QUIET:
            _quiet_depth -= 1
            if _quiet_depth == 0:
                warnings.filters[:] = _saved_filters
                warnings._filters_mutated()  # type: ignore[attr-defined]  # as catch_warnings does on exit
