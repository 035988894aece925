"""The static view: a :class:`~inspector.graph.ModelGraph` parsed from a file, running no code.

Used when a model cannot (or must not) be deserialized: Lambda layers, custom
classes, version skew, an untrusted upload.  The architecture comes from the
file's config (``config.json`` in a ``.keras`` zip, the ``model_config``
attribute of a legacy ``.h5``), parameter counts from the stored weight shapes,
and shapes from the config wherever it records them (``batch_shape``,
``batch_input_shape``, Keras 3's recorded call arguments, ``build_config``).
Layers that need code to be understood are marked ``opaque``.

Config dialects understood: Keras 3 (``inbound_nodes`` as ``{"args", "kwargs"}``
with ``__keras_tensor__`` entries), tf.keras 2 and standalone Keras 2.0/1.x
(``inbound_nodes`` as lists of ``[layer, node_index, tensor_index, kwargs]``;
Sequential configs as a bare list; ``batch_input_shape`` on the first layer).

Example:
    >>> cfg = {"class_name": "Sequential", "config": {"name": "s", "layers": [
    ...     {"class_name": "Dense", "config": {"name": "d", "units": 2, "batch_input_shape": [None, 3]}}]}}
    >>> g = graph_from_config(cfg, {})
    >>> [n.id for n in g.nodes], g.nodes[0].output_shapes
    (['d_input', 'd'], ((None, 3),))
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from inspector.errors import LimitExceededError, ModelFormatError
from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind, Shape, Source, WeightInfo
from inspector.io.files import (
    ALL_WEIGHTS,
    ModelFile,
    ModelFileReading,
    ModelSource,
    StoredWeight,
    _layer_name,
    _model_layers,
    start_reading,
)
from inspector.limits import Limits, get_limits
from inspector.model.build_cost import expanded_calls, value_cost
from inspector.model.scan import config_objects, reference_reason
from inspector.model.weight_shapes import predict_weights

__all__ = ["static_graph", "graph_from_config", "MODEL_CLASSES"]

MODEL_CLASSES = frozenset({"Sequential", "Functional", "Model"})
# Keras 1 called BatchNormalization's statistics running_mean and running_std (which held the variance)
_NON_TRAINABLE = re.compile(r"(moving_mean|moving_variance|running_mean|running_std|(^|/)count(:0)?$"
                            r"|(^|/)(mean|variance)(:0)?$)")
# Keras 3 stores variables by index; these layers keep their statistics as their last ones (BatchNormalization's
# gamma and beta come first only when scale and center are on)
_TRAILING_STATISTICS = {"BatchNormalization": 2, "Normalization": 3}


def static_graph(source: ModelSource | ModelFile | ModelFileReading, *, limits: Limits | None = None,
                 code: Mapping[str, str] | None = None,
                 predicted: Callable[[ModelGraph], object] | None = None) -> ModelGraph:
    """Parse a model file into a graph without building the model or running any of its code.

    The one static view, used by every entry point (``build_graph``'s fallback, the app, the CLI):
    the config as Keras would read it (legacy dialects normalised), stored weight shapes for the
    parameter counts, and every shape Keras's own arithmetic can infer.  ``code`` (layer path ->
    reason, from the trust scan) marks more layers opaque.  It is the fast way to a drawing: no
    Keras import, and the weight arrays are not read (only their shapes), so it returns in a
    fraction of :func:`~inspector.build_graph`'s time on a file.  Given a path, bytes or a
    :class:`~inspector.io.files.ModelFileReading`, the graph is built from the config while the HDF5
    child still walks the stored weights, which are added when it answers.

    ``predicted`` is called meanwhile (only while the walk goes on) with the graph whose weights are
    predicted from the layers' configs and input shapes (:mod:`inspector.model.weight_shapes`), when
    every layer's can be: a front end can begin laying that graph out, and keep the layout if the
    graph returned (built from the stored weights, as always) draws the same.

    Example:
        >>> import inspector
        >>> g = inspector.static_graph("sample_models/lambda_merge/model.keras")
        >>> [n.id for n in g.opaque_nodes], g.node("l1_norm").output_shapes
        (['abs', 'abs@1'], ((None, 1),))
    """
    from inspector.model.legacy import normalize_config

    # shapes only: the arrays are not read (only Keras needs them vetted, see read_model_file)
    reading = source if isinstance(source, (ModelFile, ModelFileReading)) else start_reading(
        source, limits=limits, vet_arrays=False)
    model_file = reading.file if isinstance(reading, ModelFileReading) else reading
    try:
        config = normalize_config(model_file.config, keras_version=model_file.keras_version)[0]
    except (TypeError, AttributeError, KeyError, ValueError, IndexError, RecursionError):
        config = model_file.config  # graph_from_config has its own, stricter, error for this
    if isinstance(reading, ModelFile):
        graph, ctx = _built(config, model_file.weights, code or {})
        warnings: list[str] = []
        graph = _whole(_shaped(graph, config, limits, warnings, ctx.calls), ctx)
        return _noted(replace(graph, warnings=graph.warnings + tuple(warnings)), model_file)
    graph, ctx = _built(config, {}, code or {})  # while the child walks the weights
    graph = _shaped(graph, config, limits, ctx.warnings, ctx.calls)
    if predicted is not None and not reading.done():
        guess = predict_weights(graph)
        if guess is not None:
            predicted(_whole(_with_weights(graph, guess, ctx.whole), ctx))
    model_file = reading.result()
    return _noted(_whole(_with_weights(graph, model_file.weights, ctx.whole), ctx), model_file)


def _shaped(graph: ModelGraph, config: dict, limits: Limits | None, warnings: list[str],
            calls: Mapping[str, dict]) -> ModelGraph:
    """The graph with the shapes Keras's arithmetic infers, unless the arrays and strings its config holds pass
    ``max_weight_bytes``: inferring creates each layer from its config (a lookup layer allocates its vocabulary)."""
    from inspector.model.shape_inference import infer_shapes

    budget = (limits or get_limits()).max_weight_bytes
    try:
        cost = value_cost(config)
        why = f"its config holds values taking {cost.total:,} bytes ({cost.largest[0]})" if cost.total > budget else ""
    except ModelFormatError as e:
        why = e.what
    if why:
        warnings.append(f"Shapes were not inferred: {why}; only the shapes the config records are shown.")
        return graph
    return infer_shapes(graph, calls=calls)


def _noted(graph: ModelGraph, model_file: ModelFile) -> ModelGraph:
    """The graph with what reading the file found among its warnings (a SavedModel's optimizer state, a model without
    wiring), and the stored weight values its layers were not given: a count is never quietly short."""
    stored = sum(math.prod(w.shape) for w in model_file.weights.get(ALL_WEIGHTS, ()))
    unplaced = () if stored <= graph.total_params else (
        f"The file stores {stored:,} weight values, of which the graph's layers hold {graph.total_params:,}: "
        f"{stored - graph.total_params:,} are stored under names no layer of the config has, and are not counted.",)
    notes = model_file.notes + unplaced
    return replace(graph, warnings=tuple(dict.fromkeys(graph.warnings + notes))) if notes else graph


def _opaque_reason(layer_config: dict, *, with_layers: bool = False) -> str:
    """Why a layer needs code, judged by the names in its config; a nested model's own layers are judged apart
    (they are nodes of their own) unless ``with_layers``."""
    return next((why for where, item in config_objects(layer_config) if with_layers or not where
                 for why in (reference_reason(item),) if why), "")


# --------------------------------------------------------------------------- build
@dataclass
class _Context:
    weights: Mapping[str, tuple[StoredWeight, ...]]
    code: Mapping[str, str]
    warnings: list[str] = field(default_factory=list)
    whole: set[str] = field(default_factory=set)  # ids of the nodes standing for a whole model's weights
    fold_calls: bool = False  # later calls of a nested model are one node each, not its whole graph again
    calls: dict[str, dict] = field(default_factory=dict)  # node id -> its Keras 3 call, for shape inference


def _weight_fields(cls: str, stored: Iterable[StoredWeight], *, trainable: bool, counted: bool,
                   sub: ModelGraph | None = None) -> dict[str, Any]:
    """A node's weights and parameter counts from its stored weights: the one rule for both ways of building.

    A call after the first (``counted`` false) reaches no new weights; a nested model's row is the sum of
    its children's rows.
    """
    stored = tuple(stored)
    trailing = _TRAILING_STATISTICS.get(cls, 0)
    indices = [int(leaf) for w in stored for leaf in (w.name.rsplit("/", 1)[-1],) if leaf.isdigit()]
    statistics = max(indices) + 1 - trailing if trailing and indices else None
    weights = tuple(WeightInfo(w.name, tuple(w.shape), w.dtype, trainable and _trainable_weight(w.name, statistics))
                    for w in stored)
    trainable_params = sum(w.size for w in weights if w.trainable) if counted else 0
    non_trainable_params = sum(w.size for w in weights if not w.trainable) if counted else 0
    if sub is not None and counted:
        trainable_params, non_trainable_params = sub.trainable_params, sub.non_trainable_params
    return {"weights": weights, "params": trainable_params + non_trainable_params,
            "trainable_params": trainable_params, "non_trainable_params": non_trainable_params,
            "layer_params": sum(w.size for w in weights)}


def graph_from_config(config: dict, weights: dict[str, tuple[StoredWeight, ...]], *,
                      code: Mapping[str, str] | None = None) -> ModelGraph:
    """Build a graph from a model config dict and stored weight shapes keyed by layer path.

    The config comes from an untrusted file: anything it holds that this parser
    cannot make sense of is a :class:`~inspector.errors.ModelFormatError`.  Layers
    whose own names show they need code are marked opaque; ``code`` (layer path ->
    reason, from :func:`inspector.model.scan.code_references`) marks the ones found by
    resolving names as well.
    """
    return _whole(*_built(config, weights, code or {}))


def _built(config: dict, weights: Mapping[str, tuple[StoredWeight, ...]],
           code: Mapping[str, str]) -> tuple[ModelGraph, _Context]:
    """The graph of every level, without the top level's totals (:func:`_whole`), and what building it found."""
    ctx = _Context(weights, code)
    most = get_limits().max_graph_nodes
    calls = expanded_calls(config, stop_after=most)
    if calls > most:  # nested models calling the level below several times multiply: count before expanding
        folded = expanded_calls(config, stop_after=most, fold=True)
        if folded > most:  # too many layers even when each nested model is drawn once
            raise LimitExceededError(
                f"The model's config holds more than {most:,} layer calls (max_graph_nodes), even with each nested "
                "model's later calls folded: too many to show.", received=f"a config of {folded:,} or more layer calls",
                fix="If the model is genuine, raise max_graph_nodes with inspector.set_limits (CLI and app: the "
                    "environment variable KERAS_INSPECTOR_MAX_GRAPH_NODES).")
        ctx.fold_calls = True
        ctx.warnings.append(
            f"Nested models are called so often that the expanded graph would have more than {most:,} layer calls "
            "(max_graph_nodes): each call of a nested model after its first is drawn as one node, tied to the first.")
    try:
        return _model_graph(config, ctx, prefix="", path_prefix="", parent=None, depth=0, shared_prefix=None,
                            trainable=True), ctx
    except (TypeError, AttributeError, KeyError, ValueError, IndexError, RecursionError) as e:
        raise ModelFormatError(
            "The model's architecture config is malformed: it does not describe layers the way Keras writes them.",
            received=f"{type(e).__name__}: {str(e)[:200]}",
            fix="The file is corrupted or was not written by Keras; re-save the model with model.save(...).") from e


def _whole(graph: ModelGraph, ctx: _Context) -> ModelGraph:
    """The top level's totals, source and warnings."""
    trainable = sum(n.trainable_params for n in graph.nodes)
    non_trainable = sum(n.non_trainable_params for n in graph.nodes)
    total_bytes = sum(n.bytes for n, _ in graph.walk() if n.depth == 0)
    return replace(graph, total_params=trainable + non_trainable, trainable_params=trainable,
                   non_trainable_params=non_trainable, total_bytes=total_bytes, source=Source.STATIC,
                   warnings=tuple(dict.fromkeys(ctx.warnings)))


def _with_weights(graph: ModelGraph, weights: Mapping[str, tuple[StoredWeight, ...]], whole: set[str]) -> ModelGraph:
    """A graph built without weights (``_Context.weights`` empty), given the stored ones: what one pass builds.

    Lets the graph be built from the config while the HDF5 child still walks the weights (:func:`static_graph`).
    """
    nested = {node_id: _with_weights(sub, weights, whole) for node_id, sub in graph.nested.items()}
    nodes = tuple(n if n.kind == NodeKind.INPUT else replace(n, **_weight_fields(
        n.class_name, weights.get(ALL_WEIGHTS if n.id in whole else n.path, ()), trainable=n.trainable,
        counted=n.shared_with is None or n.id in whole, sub=nested.get(n.id))) for n in graph.nodes)
    return replace(graph, nodes=nodes, nested=nested, total_params=sum(n.params for n in nodes),
                   trainable_params=sum(n.trainable_params for n in nodes),
                   non_trainable_params=sum(n.non_trainable_params for n in nodes))


def _model_graph(config: dict, ctx: _Context, *, prefix: str, path_prefix: str, parent: str | None, depth: int,
                 shared_prefix: str | None, trainable: bool) -> ModelGraph:
    cls = str(config.get("class_name", "Model"))
    inner = config.get("config")
    name = str(inner.get("name", cls)) if isinstance(inner, dict) else cls
    layers = _model_layers(config)
    builder = _Builder(ctx, prefix, path_prefix, parent, depth, shared_prefix, trainable)
    if cls not in MODEL_CLASSES and not layers:
        return builder.opaque_model(config, name, cls)
    if cls == "Sequential" or not any("inbound_nodes" in lc for lc in layers):
        builder.sequential(layers, config)
    else:
        builder.functional(layers, inner if isinstance(inner, dict) else {})
    return builder.finish(name, cls)


class _Builder:
    """Turns one model level's layer configs into nodes and edges."""

    def __init__(self, ctx: _Context, prefix: str, path_prefix: str, parent: str | None, depth: int,
                 shared_prefix: str | None, trainable: bool) -> None:
        self.ctx, self.prefix, self.path_prefix = ctx, prefix, path_prefix
        self.parent, self.depth, self.shared_prefix, self.trainable = parent, depth, shared_prefix, trainable
        self.nodes: list[LayerNode] = []
        self.edges: list[Edge] = []
        self.nested: dict[str, ModelGraph] = {}
        self.inputs: list[str] = []
        self.outputs: list[str] = []

    # ---------------------------------------------------------------- topologies
    def sequential(self, layers: list[dict], config: dict) -> None:
        previous: str | None = None
        previous_shape: Shape | None = None
        for i, lc in enumerate(layers):
            inner = lc.get("config") if isinstance(lc.get("config"), dict) else {}
            if i == 0 and lc.get("class_name") != "InputLayer":
                shape = _declared_input_shape(inner) or _shape(_dig(config, "config", "build_input_shape"))
                if shape is not None:
                    input_id = self.prefix + _layer_name(lc) + "_input"
                    self.nodes.append(self._input_node(input_id, _layer_name(lc) + "_input", shape,
                                                       _dtype_name(inner.get("dtype"))))
                    self.inputs.append(input_id)
                    previous, previous_shape = input_id, shape
            node_id = self._add_call(lc, 0, [previous_shape] if previous else [])
            if lc.get("class_name") == "InputLayer":
                self.inputs.append(node_id)
            elif previous is not None:
                shape = previous_shape or _pick(_built_input_shapes(lc), 0)  # an unknown layer's, from the next one
                self.edges.append(Edge(previous, node_id, shape=shape, dst_index=0))
            elif not self.inputs:
                self.inputs.append(node_id)
            previous = node_id
            node = self.nodes[-1]
            previous_shape = node.output_shapes[0] if node.output_shapes else None
        if previous is not None:
            self.outputs.append(previous)

    def functional(self, layers: list[dict], inner: dict) -> None:
        calls: list[tuple[dict, int, list[tuple[str, int, int, Shape | None]]]] = []
        for lc in layers:
            inbound = lc.get("inbound_nodes") or []
            if lc.get("class_name") == "InputLayer" or not inbound:
                calls.append((lc, 0, []))
                continue
            for k, call in enumerate(inbound):
                calls.append((lc, k, list(_call_references(call))))
        # topological order, stable with respect to the config's own order
        ids = [self._id(_layer_name(lc), k) for lc, k, _ in calls]
        known = set(ids)
        placed: set[str] = set()
        remaining = list(range(len(calls)))
        while remaining:
            progressed = False
            for idx in list(remaining):
                refs = calls[idx][2]
                if all(self._id(r[0], r[1]) in placed or self._id(r[0], r[1]) not in known for r in refs):
                    self._place(calls[idx])
                    placed.add(ids[idx])
                    remaining.remove(idx)
                    progressed = True
            if not progressed:  # a cycle cannot come from Keras; place the rest as they are
                self.ctx.warnings.append("The config's layer connections form a cycle; order kept as stored.")
                for idx in remaining:
                    self._place(calls[idx])
                break
        for ref in _endpoints(inner.get("input_layers")):
            self.inputs.append(self._id(ref[0], ref[1]))
        # Keras numbers a nested Functional model's calls from 1 in output_layers (as if it had a node of its own
        # first) and subtracts the 1 when it reads them; its other references, and a Sequential's, count from 0
        functional = {_layer_name(lc) for lc in layers if lc.get("class_name") in ("Functional", "Model")
                      and _model_layers(lc.get("config") if isinstance(lc.get("config"), dict) else {})}
        for ref in _endpoints(inner.get("output_layers")):
            self.outputs.append(self._id(ref[0], max(ref[1] - (ref[0] in functional), 0)))
        if not self.inputs:
            self.inputs = [n.id for n in self.nodes if n.kind == NodeKind.INPUT]

    def _place(self, call: tuple[dict, int, list[tuple[str, int, int, Shape | None]]]) -> None:
        lc, k, refs = call
        node_id = self._add_call(lc, k, [r[3] for r in refs])
        built = _built_input_shapes(lc) if k == 0 else []  # recorded for its first call: another may differ
        for position, (src, src_call, tensor, shape) in enumerate(refs):
            self.edges.append(Edge(self._id(src, src_call), node_id, shape=shape or _pick(built, position),
                                   src_index=tensor, dst_index=position))

    # ---------------------------------------------------------------- nodes
    def _id(self, name: str, call: int) -> str:
        return f"{self.prefix}{name}" + (f"@{call}" if call else "")

    def _input_node(self, node_id: str, name: str, shape: Shape | None, dtype: str | None) -> LayerNode:
        return LayerNode(id=node_id, name=name, class_name="InputLayer", kind=NodeKind.INPUT,
                         output_shapes=(shape,), dtype=dtype or "float32", path=self.path_prefix + name,
                         parent=self.parent, depth=self.depth, module="keras.layers",
                         shared_with=(self.shared_prefix + name) if self.shared_prefix else None)

    def _add_call(self, lc: dict, call: int, input_shapes: list[Shape | None]) -> str:
        name = _layer_name(lc)
        cls = str(lc.get("class_name", "Layer"))
        inner = lc.get("config") if isinstance(lc.get("config"), dict) else {}
        node_id = self._id(name, call)
        path = self.path_prefix + name
        if cls == "InputLayer":
            shape = _declared_input_shape(inner)
            self.nodes.append(self._input_node(node_id, name, shape, _dtype_name(inner.get("dtype"))))
            return node_id
        if not any(input_shapes) and not call:  # none known from the inputs: the shapes Keras built the layer with
            input_shapes = _built_input_shapes(lc) or input_shapes
        nodes = lc.get("inbound_nodes")
        if isinstance(nodes, list) and call < len(nodes) and isinstance(nodes[call], dict):
            self.ctx.calls[node_id] = nodes[call]
        first_call_id = self._id(name, 0)
        shared_with = (self.shared_prefix + name) if self.shared_prefix else (first_call_id if call else None)
        trainable = bool(inner.get("trainable", True)) and self.trainable
        is_model = cls in MODEL_CLASSES and bool(_model_layers(inner))
        reason = _opaque_reason(lc) or _code_reason(self.ctx.code, path, inside=not is_model)
        sub = None
        if is_model and call and self.ctx.fold_calls:
            first = self.nested.get(first_call_id)
            output_shapes = tuple(_output_shape_of(first, o) for o in first.outputs) if first else ()
            inner = {k: v for k, v in inner.items() if k != "layers"}
        elif is_model:
            sub = _model_graph(lc, self.ctx, prefix=node_id + "/", path_prefix=path + "/", parent=node_id,
                               depth=self.depth + 1,
                               shared_prefix=(shared_with + "/") if shared_with else None, trainable=trainable)
            self.nested[node_id] = sub
            output_shapes = tuple(_output_shape_of(sub, o) for o in sub.outputs)
            inner = {k: v for k, v in inner.items() if k != "layers"}
        else:
            output_shapes = ()
        dtype = _dtype_name(inner.get("dtype"))
        graph_of_model = sub if sub is not None else (self.nested.get(first_call_id) if is_model and call else None)
        if dtype is None and graph_of_model is not None and graph_of_model.outputs:
            # a model's config names no dtype: its row's is its first output's, as the loaded model's walk says
            dtype = next((n.dtype for n in graph_of_model.nodes if n.id == graph_of_model.outputs[0]), None)
        kind = NodeKind.MODEL if is_model else NodeKind.LAYER
        if cls not in MODEL_CLASSES and not _model_layers(inner) and "layers" in inner:
            kind = NodeKind.SUBCLASSED
        activation = inner.get("activation")
        self.nodes.append(LayerNode(
            id=node_id, name=name, class_name=cls, kind=kind, input_shapes=tuple(input_shapes),
            output_shapes=output_shapes, dtype=dtype,
            **_weight_fields(cls, self.ctx.weights.get(path, ()), trainable=trainable, counted=shared_with is None,
                             sub=sub),
            config=inner, activation=activation if isinstance(activation, str) else None, trainable=trainable,
            call_index=call, shared_with=shared_with, path=path, parent=self.parent, depth=self.depth,
            module=lc.get("module") if isinstance(lc.get("module"), str) else None,
            opaque=bool(reason), opaque_reason=reason))
        return node_id

    def opaque_model(self, config: dict, name: str, cls: str) -> ModelGraph:
        """A subclassed (or unknown) model class: one node holding every stored weight."""
        reason = _opaque_reason(config, with_layers=True) or (
            f"{cls} is a subclassed model: its code is not in the file, only its weights")
        node = LayerNode(id=self.prefix + name, name=name, class_name=cls, kind=NodeKind.SUBCLASSED,
                         path=self.path_prefix + name, parent=self.parent, depth=self.depth,
                         module=config.get("module") if isinstance(config.get("module"), str) else None,
                         opaque=True, opaque_reason=reason,
                         **_weight_fields(cls, self.ctx.weights.get(ALL_WEIGHTS, ()), trainable=True, counted=True))
        self.ctx.whole.add(node.id)
        self.ctx.warnings.append(f"{cls} has no layer graph in the file: it is shown as one opaque node.")
        return ModelGraph(name=name, class_name=cls, nodes=(node,), edges=(), inputs=(node.id,),
                          outputs=(node.id,), total_params=node.params, trainable_params=node.trainable_params,
                          non_trainable_params=node.non_trainable_params, source=Source.STATIC)

    def finish(self, name: str, cls: str) -> ModelGraph:
        nodes = _fill_output_shapes(self.nodes, self.edges)
        return ModelGraph(name=name, class_name=cls, nodes=tuple(nodes), edges=tuple(self.edges),
                          inputs=tuple(self.inputs), outputs=tuple(self.outputs), nested=self.nested,
                          total_params=sum(n.params for n in nodes),
                          trainable_params=sum(n.trainable_params for n in nodes),
                          non_trainable_params=sum(n.non_trainable_params for n in nodes), source=Source.STATIC)


def _code_reason(code: Mapping[str, str], path: str, *, inside: bool) -> str:
    """The scan's reason for a layer, or for something hidden inside it (a layer's own config holds no nodes)."""
    if path in code:
        return code[path]
    return next((why for where, why in code.items() if inside and where.startswith(path + "/")), "")


def _fill_output_shapes(nodes: list[LayerNode], edges: list[Edge]) -> list[LayerNode]:
    """Output shapes of a node are the shapes its consumers recorded for its outputs."""

    seen: dict[str, dict[int, Shape | None]] = {}
    for e in edges:
        if e.shape is not None:
            seen.setdefault(e.src, {})[e.src_index] = e.shape
    out = []
    for n in nodes:
        if not n.output_shapes and n.id in seen:
            slots = seen[n.id]
            n = replace(n, output_shapes=tuple(slots.get(i) for i in range(max(slots) + 1)))
        out.append(n)
    return out


def _output_shape_of(graph: ModelGraph, node_id: str) -> Shape | None:
    for n in graph.nodes:
        if n.id == node_id and n.output_shapes:
            return n.output_shapes[0]
    return None


# --------------------------------------------------------------------------- config parsing
def _call_references(call: Any) -> Iterable[tuple[str, int, int, Shape | None]]:
    """The tensors one recorded call consumed: ``(layer, node_index, tensor_index, shape)``."""
    if isinstance(call, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        yield from _keras_tensors(call.get("args", []))
        kwargs = call.get("kwargs", {})
        if isinstance(kwargs, dict):
            for key in sorted(kwargs):  # Keras flattens kwargs by sorted key, after args
                yield from _keras_tensors(kwargs[key])
        return
    if isinstance(call, list):  # Keras 1/2: [[layer, node_index, tensor_index, kwargs], ...]
        for entry in call:
            if isinstance(entry, list) and len(entry) >= 3 and isinstance(entry[0], str):
                yield entry[0], _int(entry[1]), _int(entry[2]), None


def _keras_tensors(obj: Any) -> Iterable[tuple[str, int, int, Shape | None]]:
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            cfg = obj.get("config") if isinstance(obj.get("config"), dict) else {}
            history = cfg.get("keras_history")
            if isinstance(history, list) and len(history) >= 3 and isinstance(history[0], str):
                yield history[0], _int(history[1]), _int(history[2]), _shape(cfg.get("shape"))
            return
        for key in obj:
            yield from _keras_tensors(obj[key])
    elif isinstance(obj, list):
        for item in obj:
            yield from _keras_tensors(item)


def _endpoints(spec: Any) -> list[tuple[str, int, int]]:
    """Model input/output references: ``[name, k, t]``, a list of them, or a dict of them."""
    if isinstance(spec, dict):
        spec = list(spec.values())
    if isinstance(spec, list) and len(spec) >= 3 and isinstance(spec[0], str) and not isinstance(spec[1], list):
        spec = [spec]
    out = []
    for ref in spec if isinstance(spec, list) else []:
        if isinstance(ref, list) and len(ref) >= 3 and isinstance(ref[0], str):
            out.append((ref[0], _int(ref[1]), _int(ref[2])))
        elif isinstance(ref, list):
            out.extend(_endpoints(ref))
    return out


def _built_input_shapes(lc: dict) -> list[Shape | None]:
    """The input shapes a layer's ``build_config`` records (one per input), or ``[]``."""
    recorded = _dig(lc, "build_config", "input_shape")
    if _shape(recorded) is not None:
        return [_shape(recorded)]
    if isinstance(recorded, list) and recorded and all(isinstance(r, (list, dict)) for r in recorded):
        return [_shape(r) for r in recorded]
    return []


def _pick(shapes: list[Shape | None], index: int) -> Shape | None:
    return shapes[index] if index < len(shapes) else None


def _declared_input_shape(inner: dict) -> Shape | None:
    for key in ("batch_shape", "batch_input_shape"):
        if inner.get(key) is not None:
            return _shape(inner[key])
    if inner.get("input_shape") is not None:  # Keras 1: shape without the batch dimension
        shape = _shape(inner["input_shape"])
        return (None, *shape) if shape is not None else None
    if inner.get("input_dim") is not None and "output_dim" not in inner:  # Keras 1 Dense(input_dim=...)
        return (None, _int(inner["input_dim"]))
    return None


def _shape(value: Any) -> Shape | None:
    if isinstance(value, (list, tuple)) and all(v is None or isinstance(v, (int, float)) for v in value):
        return tuple(None if v is None else int(v) for v in value)
    if isinstance(value, dict) and "shape" in value:
        return _shape(value["shape"])
    return None


def _dtype_name(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _dtype_name(value.get("config", {}).get("name")) if isinstance(value.get("config"), dict) else None
    return None


def _trainable_weight(weight_name: str, statistics: int | None) -> bool:
    """Whether a stored weight is trainable, by its name; a Keras 3 index from ``statistics`` on is a statistic."""
    leaf = weight_name.rsplit("/", 1)[-1]
    if statistics is not None and leaf.isdigit() and int(leaf) >= statistics:
        return False
    return not _NON_TRAINABLE.search(weight_name)


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
