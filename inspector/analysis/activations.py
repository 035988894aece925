"""Intermediate outputs: any layer call's output, in inference or training mode, batched and bounded.

How it works
    Every function here makes **one forward pass per batch**, however many
    layers are asked for.  The pass walks the model's functional graph itself —
    the same call events, in the same order, as ``model(x)`` — and keeps the
    outputs of the requested nodes.  Only the nodes needed for the requested
    outputs run (``inspect_layer(model, 3, X)`` runs three layers), and a nested
    model is walked *into* when one of its inner layers is requested, so
    ``"generator/dense_2"`` costs no extra pass.  Node ids are those of
    :class:`~inspector.graph.ModelGraph` (``dense``, ``dense@1`` for the second
    call of a shared layer, ``generator/dense_2`` inside a nested model); the
    call order and call indices come from :mod:`inspector.model.keras_internals`.

Compiled or eager
    With the TensorFlow backend the pass can be traced once into a
    ``tf.function`` (one trace for every batch size) and reused; tracing costs
    seconds on a large model, so by default (``compiled=None``) the first call
    of a given request runs eagerly and a repeated request — or one with many
    batches, or a stream — is compiled.  Pass ``compiled=True/False`` to choose.
    Both give the same numbers up to float rounding, except that TensorFlow's
    fused compiled kernels (e.g. conv + relu) may turn a NaN into 0 where the
    eager pass keeps it, as ``model.predict`` and ``model(x)`` also differ.

Training mode without side effects
    ``training=True`` (or ``Mode.TRAINING``) runs Dropout, batch-statistics
    BatchNormalization and the like as in training, inside a Keras
    ``StatelessScope``: every variable update (BatchNorm moving statistics,
    dropout seed state) is captured by the scope and never written to the
    model.  The captured seed state is threaded from batch to batch so each
    batch draws fresh dropout masks, and every call starts from the model's own
    seed state, so the same call gives the same result.

Bounded
    Before running, the size of one batch of the requested activations is
    computed from the output shapes; a batch above ``get_limits().max_batch_bytes``
    is refused (with the size it would need and a batch size that fits), and
    ``batch_size=None`` picks the largest batch up to 32 that fits.  In-memory
    results (:func:`inspect_layer`, :func:`inspect_layers`) are limited to
    ``max_samples`` samples and, in total, to ``max_result_bytes``;
    :func:`activation_stats` and :func:`compare_modes` stream any number of
    samples and reduce each batch inside the forward pass, so only per-channel
    numbers ever leave it.

Results
    Arrays are returned read-only (single-batch results are zero-copy views of
    the backend's buffers); ``.copy()`` one before changing it.

Example:
    >>> import inspector
    >>> inspector.Mode("training") is inspector.Mode.TRAINING
    True
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d1"),
    ...                           keras.layers.Dropout(0.5, name="drop"), keras.layers.Dense(1, name="d2")])
    >>> inspect_layer(model, 0, np.ones((8, 4))).shape
    (8, 3)
    >>> sorted(inspect_layers(model, "all", np.ones((8, 4)), training=True))
    ['d1', 'd2', 'drop']
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from inspector.errors import InputDataError, InspectorError, LayerNotFoundError, LimitExceededError
from inspector.graph import Shape, format_shape
from inspector.io.inputs import (
    BatchStream,
    InputSpec,
    batch_stream,
    expected_text,
    input_specs,
    warn_nonfinite,
)
from inspector.limits import format_bytes, get_limits
from inspector.progress import ProgressCallback, report_batch

__all__ = ["Mode", "inspect_layer", "inspect_layers", "compare_modes", "activation_stats"]

DEFAULT_BATCH_SIZE = 32
_COMPILE_MIN_BATCHES = 8  # below this a first request runs eagerly: tracing would cost more than it saves
_CACHE_SIZE = 8


class Mode(str, Enum):
    """How layers such as Dropout and BatchNormalization behave during extraction."""

    INFERENCE = "inference"
    TRAINING = "training"


# =============================================================================== public functions
def inspect_layer(model: Any, layer: Any, X: Any, *, training: bool | Mode = False, batch_size: int | None = None,
                  call_index: int = 0, compiled: bool | None = None) -> Any:
    """The output of one layer call for every sample of ``X``.

    ``layer`` is an index into ``model.layers`` (``inspect_layer(model, 3, X)``,
    like ``model.layers[3].output``), a layer name, a nested path
    (``"generator/dense_2"``), a graph node id (``"dense@1"``), a
    :class:`~inspector.graph.LayerNode` or the layer object; for a layer called
    more than once, ``call_index`` picks the call.  Returns an array with one row
    per sample, or a list of arrays for a layer with several outputs.

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="h")])
        >>> inspect_layer(m, "h", np.zeros((5, 2))).shape
        (5, 3)

    Raises:
        LayerNotFoundError: no such layer (the message lists valid choices).
        InputDataError: ``X`` does not match the model inputs.
        LimitExceededError: too many samples, or a batch too large for ``max_batch_bytes``.
    """
    catalog = _catalog(model)
    node_id = _resolve(model, catalog, layer, call_index)
    return inspect_layers(model, [node_id], X, training=training, batch_size=batch_size, progress=False,
                          compiled=compiled)[node_id]


def inspect_layers(model: Any, layers: Any, X: Any, *, training: bool | Mode = False,
                   batch_size: int | None = None, progress: ProgressCallback | bool | None = None,
                   compiled: bool | None = None) -> dict[str, Any]:
    """Outputs of several layer calls (or ``"all"``) from one forward pass per batch.

    Returns ``{node_id: array}`` in graph order (a list of arrays for layers
    with several outputs).  ``"all"`` means every call of every layer at every
    nesting level, nested-model nodes included, input layers excluded.
    ``progress`` is a :data:`~inspector.progress.ProgressCallback` ``(fraction, message)``
    called after each batch, ``False`` for none, or ``None`` for a tqdm bar when stderr is a terminal.

    Example:
        >>> import keras, numpy as np
        >>> a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
        >>> d = keras.layers.Dense(2, name="d")
        >>> m = keras.Model({"a": a, "b": b}, keras.layers.Add(name="s")([d(a), d(b)]))
        >>> X = {"a": np.ones((4, 3)), "b": np.zeros((4, 3))}
        >>> {k: v.shape for k, v in inspect_layers(m, ["d", "d@1", "s"], X).items()}
        {'d': (4, 2), 'd@1': (4, 2), 's': (4, 2)}
    """
    run = _Request(model, layers, X, mode=_mode(training), kind="values", batch_size=batch_size,
                   progress=progress, compiled=compiled, keep_in_memory=True)
    return run.values()


def compare_modes(model: Any, layers: Any, X: Any, *, batch_size: int | None = None,
                  progress: ProgressCallback | bool | None = None, compiled: bool | None = None) -> Any:
    """How much each layer's output changes between training and inference mode, on the same input.

    Returns a pandas DataFrame, one row per layer output: ``layer``, ``output``,
    ``class_name``, ``mean_abs_diff``, ``max_abs_diff``, ``mean_abs_inference``
    (the scale of the inference output) and ``relative_diff`` (the ratio of the
    two).  Streams any number of samples; the model is not changed.

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5, name="drop")])
        >>> compare_modes(m, "all", np.ones((64, 4)))["mean_abs_diff"].item() > 0
        True
    """
    run = _Request(model, layers, X, mode=Mode.TRAINING, kind="compare", batch_size=batch_size, progress=progress,
                   compiled=compiled, keep_in_memory=False)
    return run.comparison()


def activation_stats(model: Any, layers: Any, X: Any, *, batch_size: int | None = None, per_channel: bool = False,
                     training: bool | Mode = False, progress: ProgressCallback | bool | None = None,
                     compiled: bool | None = None) -> Any:
    """Streaming statistics of layer outputs over any number of samples, in bounded memory.

    Returns a pandas DataFrame with one row per layer output (and per channel —
    the last axis — when ``per_channel``): ``count`` (values seen, NaN/Inf
    included), ``mean``/``std``/``min``/``max`` of the finite values (``std``
    with ddof=0), ``zero_fraction`` (values exactly zero), ``dead_fraction``
    (units — positions of a sample's output — that are zero for *every* sample),
    ``nan_count`` and ``inf_count``.  Each batch is reduced inside the forward
    pass (per-sample partial sums, totals in float64 — taken by NumPy on a backend
    without float64, JAX without x64; a batch whose values hold NaN/Inf is
    recomputed exactly in float64) and batches are merged with Chan's
    parallel algorithm, so the result does not depend on the batch size beyond
    rounding.  ``df.attrs`` holds ``samples``, ``mode``, ``input_warnings``
    (NaN/Inf found in ``X``) and ``skipped_non_numeric`` (string outputs).

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu", name="h")])
        >>> activation_stats(m, "all", np.random.rand(1000, 4), batch_size=100).columns[:4].tolist()
        ['layer', 'output', 'class_name', 'shape']
    """
    run = _Request(model, layers, X, mode=_mode(training), kind="stats", batch_size=batch_size, progress=progress,
                   compiled=compiled, keep_in_memory=False, per_channel=per_channel)
    return run.stats()


def _mode(training: bool | Mode) -> Mode:
    if isinstance(training, Mode):
        return training
    if isinstance(training, str):
        try:
            return Mode(training)
        except ValueError:
            pass
    elif isinstance(training, (bool, np.bool_)):
        return Mode.TRAINING if training else Mode.INFERENCE
    raise InputDataError("training must be True, False or an inspector.Mode.", received=f"training={training!r}",
                         fix="Pass training=True (or Mode.TRAINING) for training-mode outputs, else leave it out.")


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


# =============================================================================== the forward pass
@dataclass(eq=False)
class _Step:
    entry: _Entry
    record: bool
    sub: _Plan | None  # walk into the nested model instead of calling it


@dataclass(eq=False)
class _Plan:
    catalog: _Catalog
    steps: list[_Step]
    need_outputs: bool


def _make_plan(catalog: _Catalog, wanted: set[str], need_outputs: bool) -> _Plan:
    """The calls needed for ``wanted`` (and the graph outputs if ``need_outputs``), in order."""
    needed = {id(t) for t in catalog.owner.outputs} if need_outputs else set()
    steps: list[_Step] = []
    for e in reversed(catalog.entries):
        record = e.id in wanted
        inside = e.sub is not None and any(w.startswith(e.id + "/") for w in wanted)
        used = any(id(t) in needed for t in e.node.outputs)
        if not (record or inside or used):
            continue
        sub = _make_plan(e.sub, wanted, need_outputs=record or used) if inside and e.sub else None
        steps.append(_Step(e, record, sub))
        if not e.is_input:
            needed.update(id(t) for t in e.node.input_tensors)
    steps.reverse()
    return _Plan(catalog, steps, need_outputs)


def _execute(plan: _Plan, flat_inputs: list[Any], training: bool, record: dict[str, Any],
             transform: Callable[[list[Any]], Any] | None = None, timer: Any = None) -> list[Any] | None:
    """Run the plan on backend tensors, storing requested outputs in ``record``; the graph outputs if needed.

    ``transform`` reduces a requested node's outputs as soon as they exist, so an eager pass does not keep
    every activation alive until the end.  ``timer`` (see :mod:`inspector.analysis.profile`) is told
    ``start(node_id)`` before each call and ``stop(node_id, outputs)`` after it.
    """
    from keras import tree

    from inspector.model.keras_internals import takes_training

    values = {id(t): v for t, v in zip(plan.catalog.owner.inputs, flat_inputs, strict=True)}
    for step in plan.steps:
        node = step.entry.node
        if node.is_input:
            outs: list[Any] | None = [values[id(t)] for t in node.outputs]
        else:
            if timer is not None:
                timer.start(step.entry.id)
            args, kwargs = node.arguments.fill_in(values)
            if step.sub is not None:
                outs = _execute_nested(step.sub, args, kwargs, training, record, transform, timer)
            else:
                op = node.operation
                if takes_training(op):
                    kwargs["training"] = training
                outs = tree.flatten(op(*args, **kwargs))
            if timer is not None:
                timer.stop(step.entry.id, outs)
        if step.record:
            record[step.entry.id] = transform(list(outs or [])) if transform else list(outs or [])
        if outs is not None:
            for t, v in zip(node.outputs, outs, strict=True):
                values[id(t)] = v
    if not plan.need_outputs:
        return None
    return [values[id(t)] for t in plan.catalog.owner.outputs]


def _execute_nested(plan: _Plan, args: tuple, kwargs: dict, training: bool, record: dict[str, Any],
                    transform: Callable[[list[Any]], Any] | None, timer: Any = None) -> list[Any] | None:
    from keras import backend, tree

    from inspector.model.keras_internals import standardize_inputs

    owner = plan.catalog.owner
    inputs = args[0] if args else kwargs.get("inputs")
    flat = standardize_inputs(owner, inputs)
    mask = kwargs.get("mask")
    if mask is not None:
        for x, m in zip(flat, tree.flatten(mask), strict=False):
            if m is not None:
                backend.set_keras_mask(x, m)
    return _execute(plan, flat, training, record, transform, timer)


# ------------------------------------------------------------------------------- reductions
def _batch_stats(t: Any, per_channel: bool) -> tuple[Any, ...]:
    """Statistics of one batch of one output, computed inside the pass with few passes over the data.

    Sums are taken per sample in the activation's precision (float32), then across the batch in float64;
    the squared deviations are taken from the float32-rounded mean and corrected exactly
    (``sum((x - m')**2) = sum((x - m)**2) + n (m - m')**2``).  Returns ``(count, mean, m2, min, max, zeros,
    alive, finite)`` per channel; ``alive`` is per unit (nonzero in some sample), and ``finite`` is false
    where a NaN/Inf (or a float32 overflow) reached the sums — such batches are recomputed exactly, in
    float64, from the values (:func:`_exact_batch_stats`).
    """
    from keras import ops

    shape = tuple(t.shape)
    x = t if _dtype_name(t.dtype) in ("float32", "float64") else ops.cast(t, "float32")
    channels = shape[-1] if per_channel and len(shape) >= 2 and shape[-1] is not None else 1
    units = shape[1:]
    if all(d is not None for d in units):
        rows = ops.reshape(x, (-1, int(np.prod(units, dtype=np.int64)) // channels, channels))
    else:
        rows = ops.reshape(x, (ops.shape(x)[0], -1, channels))
    dims = ops.shape(rows)
    if not _backend_has_float64():
        return _batch_partials(rows, dims)
    count = ops.cast(dims[0], "float64") * ops.cast(dims[1], "float64")

    def across_batch(per_sample: Any) -> Any:  # (batch, channels) partial sums -> float64 totals
        return ops.sum(ops.cast(per_sample, "float64"), axis=0)

    total = across_batch(ops.sum(rows, axis=1))
    mean = total / ops.maximum(count, 1.0)
    rounded = ops.cast(mean, x.dtype)
    shift = mean - ops.cast(rounded, "float64")
    m2 = across_batch(ops.sum(_squared_difference(rows, rounded), axis=1)) - count * shift * shift
    # per unit over the batch: gives min/max and "alive" (nonzero in some sample) from two reductions
    unit_max, unit_min = ops.max(rows, axis=0), ops.min(rows, axis=0)
    low, high = ops.cast(ops.min(unit_min, axis=0), "float64"), ops.cast(ops.max(unit_max, axis=0), "float64")
    alive = ops.logical_or(ops.greater(unit_max, 0), ops.less(unit_min, 0))
    nonzero = across_batch(ops.sum(ops.square(ops.sign(rows)), axis=1))  # float arithmetic beats bool ops here
    finite = ops.logical_and(ops.isfinite(total), ops.isfinite(m2))
    return count, mean, m2, low, high, count - nonzero, alive, finite


def _backend_has_float64() -> bool:
    """Whether the Keras backend computes in float64 (JAX truncates it to float32 unless x64 is enabled)."""
    import keras

    if keras.backend.backend() != "jax":
        return True
    # Keras's JAX backend has imported jax; looked up rather than imported, as jax is no dependency of ours
    return bool(sys.modules["jax"].config.jax_enable_x64)


def _batch_partials(rows: Any, dims: Any) -> tuple[Any, ...]:
    """:func:`_batch_stats` for a backend without float64: per-sample float32 sums, totalled by NumPy.

    The same sums as the float64 path before its cast (so the same numbers up to rounding), but the
    reduction across the batch, the mean and the shift correction happen in :func:`_float64_totals`.
    The squared deviations are taken from the float32 mean of the batch, any point being exact after
    the correction.
    """
    from keras import ops

    per_sample = ops.sum(rows, axis=1)  # (batch, channels)
    point = ops.sum(per_sample, axis=0) / ops.cast(ops.maximum(dims[0] * dims[1], 1), rows.dtype)
    squares = ops.sum(_squared_difference(rows, point), axis=1)
    unit_max, unit_min = ops.max(rows, axis=0), ops.min(rows, axis=0)
    alive = ops.logical_or(ops.greater(unit_max, 0), ops.less(unit_min, 0))
    nonzero = ops.sum(ops.square(ops.sign(rows)), axis=1)
    return (dims, per_sample, point, squares, ops.min(unit_min, axis=0), ops.max(unit_max, axis=0), nonzero,
            alive)


def _float64_totals(parts: list[np.ndarray]) -> list[np.ndarray]:
    """The ``(count, mean, m2, min, max, zeros, alive, finite)`` of :func:`_batch_stats` from the
    per-sample partials of :func:`_batch_partials`, in float64."""
    dims, per_sample, point, squares, low, high, nonzero, alive = parts
    count = np.float64(dims[0]) * np.float64(dims[1])
    total = per_sample.astype(np.float64).sum(axis=0)
    mean = total / max(count, 1.0)
    shift = mean - point.astype(np.float64)
    m2 = squares.astype(np.float64).sum(axis=0) - count * shift * shift
    zeros = count - nonzero.astype(np.float64).sum(axis=0)
    finite = np.isfinite(total) & np.isfinite(m2)
    return [count, mean, m2, low.astype(np.float64), high.astype(np.float64), zeros, alive, finite]


def _numpy_stats(parts: tuple[Any, ...]) -> list[np.ndarray]:
    """One output's :func:`_batch_stats` as NumPy arrays, totalled in float64 here if the backend could not."""
    numbers = [_to_numpy(p) for p in parts]
    return numbers if not numbers or _backend_has_float64() else _float64_totals(numbers)


def _squared_difference(a: Any, b: Any) -> Any:
    import keras

    if keras.backend.backend() == "tensorflow":  # one fused pass instead of two
        import tensorflow as tf

        return tf.math.squared_difference(a, b)
    return keras.ops.square(a - b)


def _exact_batch_stats(a: np.ndarray, per_channel: bool) -> tuple[np.ndarray, ...]:
    """The same statistics in float64 from the values, NaN/Inf excluded from mean/std/min/max and counted.

    Returns ``(n_finite, mean, m2, min, max, zeros, nans, infs, alive)`` per channel.
    """
    channels = a.shape[-1] if per_channel and a.ndim >= 2 else 1
    rows = a.reshape(len(a), -1, channels).astype(np.float64)
    finite = np.isfinite(rows)
    n_finite = finite.sum(axis=(0, 1)).astype(np.float64)
    clean = np.where(finite, rows, 0.0)
    mean = clean.sum(axis=(0, 1)) / np.maximum(n_finite, 1.0)
    deviation = np.where(finite, rows - mean, 0.0)
    m2 = (deviation * deviation).sum(axis=(0, 1))
    low = np.where(finite, rows, np.inf).min(axis=(0, 1))
    high = np.where(finite, rows, -np.inf).max(axis=(0, 1))
    zeros = (rows == 0).sum(axis=(0, 1)).astype(np.float64)
    nans = np.isnan(rows).sum(axis=(0, 1)).astype(np.float64)
    infs = np.isinf(rows).sum(axis=(0, 1)).astype(np.float64)
    return n_finite, mean, m2, low, high, zeros, nans, infs, (rows != 0).any(axis=0)


def _mode_difference(inference: Any, training: Any) -> tuple[Any, ...]:
    from keras import ops

    if not _backend_has_float64():  # per-sample float32 sums; comparison() totals them in float64
        a, b = (ops.cast(ops.reshape(v, (ops.shape(v)[0], -1)), "float32") for v in (inference, training))
        diff = ops.abs(b - a)
        return ops.sum(diff, axis=1), ops.max(diff), ops.sum(ops.abs(a), axis=1), ops.size(diff)
    a = ops.cast(inference, "float64")
    diff = ops.abs(ops.cast(training, "float64") - a)
    return ops.sum(diff), ops.max(diff), ops.sum(ops.abs(a)), ops.cast(ops.size(diff), "float64")


def _numeric(dtype: str) -> bool:
    try:
        return np.dtype(dtype).kind in "biuf"
    except TypeError:
        return dtype in ("bfloat16", "float8_e4m3fn", "float8_e5m2")


# ------------------------------------------------------------------------------- runners
class _Runner:
    """One request (which nodes, which reduction, which mode) as a callable on a batch, compiled or eager."""

    def __init__(self, model: Any, plan: _Plan, ids: list[str], kind: str, mode: Mode, per_channel: bool,
                 specs: tuple[InputSpec, ...], compiled: bool) -> None:
        self.model_ref = weakref.ref(model)
        self.ids = ids
        self.kind = kind
        self.training = mode is Mode.TRAINING
        self.per_channel = per_channel
        self.specs = specs
        # every update the pass makes is captured by a StatelessScope and never reaches the model; training
        # mode threads the captured seed state from batch to batch
        self.state_vars = _state_variables(model) if self.training else []
        self.plan = plan
        self.compiled = compiled
        self.traced = False
        self.trace_failed = False
        self.calls = 0
        self._function: Any = None

    def initial_state(self) -> list[Any]:
        from keras import ops

        return [ops.convert_to_tensor(v.value) for v in self.state_vars]

    def _core(self, flat_inputs: list[Any], state: list[Any]) -> tuple[Any, list[Any]]:
        from keras import StatelessScope

        with StatelessScope(state_mapping=list(zip(self.state_vars, state, strict=True))) as scope:
            if self.kind == "compare":
                reference = {}
                _execute(self.plan, flat_inputs, False, reference)
            record = {}
            reduce = (lambda outs: [_batch_stats(t, self.per_channel) if _numeric(_dtype_name(t.dtype)) else ()
                                    for t in outs]) if self.kind == "stats" else None
            _execute(self.plan, flat_inputs, self.training, record, reduce)
            new_state = [scope.get_current_value(v) for v in self.state_vars]
        new_state = [s if n is None else n for n, s in zip(new_state, state, strict=True)]
        if self.kind in ("values", "stats"):
            result: Any = [record[i] for i in self.ids]
        else:
            result = [[_mode_difference(a, b) if _numeric(_dtype_name(a.dtype)) else ()
                       for a, b in zip(reference[i], record[i], strict=True)] for i in self.ids]
        return result, new_state

    def __call__(self, batch: list[np.ndarray], state: list[Any]) -> tuple[Any, list[Any]]:
        if self.compiled and not self.trace_failed:
            if self._function is None:
                self._function = self._trace()
            try:
                result = self._function(batch, state)
            except Exception:  # noqa: BLE001 - see below
                if self.traced:
                    raise
                # the pass could not be traced (a layer doing Python-side work on tensor values):
                # run it eagerly from now on; a genuine data error is raised again by the eager pass
                self.trace_failed = True
                self._function = None
            else:
                self.traced = True
                return result
        from keras import ops

        tensors = [a if a.dtype.kind in "USO" else ops.convert_to_tensor(a) for a in batch]
        return self._core(tensors, state)

    def _trace(self) -> Any:
        import tensorflow as tf

        # one trace for every batch size: the batch dimension stays free
        signature = [[tf.TensorSpec(s.shape, tf.string if s.dtype == "string" else s.dtype) for s in self.specs],
                     [tf.TensorSpec(tuple(v.shape), v.dtype) for v in self.state_vars]]
        # autograph off, as Keras' own predict step does (keras/src/backend/tensorflow/trainer.py)
        return tf.function(self._core, input_signature=signature, autograph=False)


def _state_variables(model: Any) -> list[Any]:
    """The random-seed state of the model's layers: threaded from batch to batch so every batch draws fresh
    dropout masks.  Other state (BatchNorm moving statistics) is deliberately *not* threaded: every batch
    sees the model's own values, exactly as a call of the model would."""
    seen: set[int] = set()
    out = []
    for v in model.non_trainable_variables:
        if id(v) not in seen and str(getattr(v, "name", "")).endswith("seed_generator_state"):
            seen.add(id(v))
            out.append(v)
    return out


_RUNNERS: OrderedDict[tuple, _Runner] = OrderedDict()  # bounded: each entry keeps its model alive
_RUNNER_LOCK = threading.Lock()


def _runner(model: Any, catalog: _Catalog, ids: list[str], kind: str, mode: Mode, per_channel: bool,
            specs: tuple[InputSpec, ...], compiled: bool | None, n_batches: int | None) -> _Runner:
    """The runner of this request, compiled or not (see "Compiled or eager" in the module docstring)."""
    import keras

    key = (id(model), id(catalog.owner), tuple(ids), kind, mode, per_channel, specs)
    with _RUNNER_LOCK:
        runner = _RUNNERS.get(key)
        if runner is not None and (runner.model_ref() is not model or runner.plan.catalog.owner is not catalog.owner):
            runner = None  # the id now belongs to another model, or a Sequential was rebuilt (add/pop)
        if runner is None:
            plan = _make_plan(catalog, set(ids), need_outputs=False)
            runner = _Runner(model, plan, ids, kind, mode, per_channel, specs, compiled=False)
        _RUNNERS[key] = runner
        _RUNNERS.move_to_end(key)
        while len(_RUNNERS) > _CACHE_SIZE:
            _RUNNERS.popitem(last=False)
        runner.calls += 1
        if compiled is None:
            compiled = runner.traced or runner.calls >= 2 or n_batches is None or n_batches >= _COMPILE_MIN_BATCHES
        runner.compiled = bool(compiled) and keras.backend.backend() == "tensorflow"
    return runner


# =============================================================================== one request, end to end
class _Request:
    """Resolve layers, validate data, check limits, then run every batch through one runner."""

    def __init__(self, model: Any, layers: Any, X: Any, *, mode: Mode, kind: str, batch_size: int | None,
                 progress: ProgressCallback | bool | None, compiled: bool | None, keep_in_memory: bool,
                 per_channel: bool = False) -> None:
        self.model = model
        self.catalog = _catalog(model)
        self.ids = _resolve_many(model, self.catalog, layers)
        by_id = {e.id: e for e in self.catalog.walk()}
        self.entries = [by_id[i] for i in self.ids]
        self.specs = input_specs(model)
        self.kind = kind
        self.mode = mode
        self.per_channel = per_channel
        self.progress = progress
        self.limits = get_limits()
        self.per_sample = sum(_output_bytes(shape, dtype) for e in self.entries for shape, dtype in e.outputs)
        if kind == "compare":
            self.per_sample *= 2
        self.keep_in_memory = keep_in_memory
        self.stream: BatchStream = batch_stream(X, self.specs, batch_size=_positive(batch_size))
        self.batch_size = self._batch_size(batch_size)
        self.stream.set_batch_size(self.batch_size)
        if self.stream.n_samples is not None:
            self._check_total(self.stream.n_samples)
            warn_nonfinite(self.stream.warnings, stacklevel=4)
        self.runner = _runner(model, self.catalog, self.ids, kind, mode, per_channel, self.specs, compiled,
                              self.stream.n_batches)

    # ------------------------------------------------------------------ limits
    def _batch_size(self, requested: int | None) -> int:
        limit = self.limits.max_batch_bytes
        if self.per_sample <= 0:
            return int(requested or DEFAULT_BATCH_SIZE)
        fits = limit // self.per_sample
        if fits < 1:
            raise LimitExceededError(
                f"One sample's activations for the requested layers need {format_bytes(self.per_sample)}, above "
                f"the limit max_batch_bytes = {format_bytes(limit)}.",
                received=f"{len(self.ids)} layer(s): {_short_list(self.ids)}",
                fix="Ask for fewer or smaller layers, or raise the limit with inspector.set_limits(max_batch_bytes=...).")
        if requested is None:
            return int(min(DEFAULT_BATCH_SIZE, fits))
        n = self.stream.n_samples if self.stream.in_memory else None
        if requested > fits and (n is None or n > fits):
            raise LimitExceededError(
                f"A batch of {requested} samples would need {format_bytes(requested * self.per_sample)} of "
                f"activations ({format_bytes(self.per_sample)} per sample), above the limit max_batch_bytes = "
                f"{format_bytes(limit)}.",
                received=f"batch_size={requested} for {len(self.ids)} layer(s): {_short_list(self.ids)}",
                fix=f"Use batch_size={int(fits)} or less, ask for fewer layers, or raise the limit with "
                    "inspector.set_limits(max_batch_bytes=...).")
        return int(requested)

    def _check_total(self, n: int) -> None:
        if not self.keep_in_memory:
            return
        if n > self.limits.max_samples:
            raise LimitExceededError(
                f"{n} samples is above the limit max_samples = {self.limits.max_samples} for results kept in memory.",
                received=f"{n} samples",
                fix="Pass fewer samples, use activation_stats (which streams any number), or raise the limit "
                    "with inspector.set_limits(max_samples=...).")
        total = n * self.per_sample
        if total > self.limits.max_result_bytes:
            raise LimitExceededError(
                f"Keeping the requested activations of {n} samples in memory would need {format_bytes(total)}, "
                f"above the limit max_result_bytes = {format_bytes(self.limits.max_result_bytes)}.",
                received=f"{n} samples x {format_bytes(self.per_sample)} per sample for {len(self.ids)} layer(s)",
                fix=f"Pass at most {max(1, self.limits.max_result_bytes // max(self.per_sample, 1))} samples, ask for "
                    "fewer layers, use activation_stats (streamed), or raise the limit with "
                    "inspector.set_limits(max_result_bytes=...).")

    # ------------------------------------------------------------------ the loop
    def _batches(self) -> Iterator[Any]:
        """Reduced results of each batch, in order, with progress reported and errors explained.

        Sets ``self.batch`` and ``self.batch_state`` (the inputs and the state the batch started from) so a
        batch can be run again (see :meth:`stats`).
        """
        total = self.stream.n_batches
        report = _progress_reporter(self.progress, total)
        state = self.runner.initial_state()
        done = 0
        try:
            iterator = iter(self.stream)
            for batch in iterator:
                self.batch, self.batch_state = batch, state
                try:
                    result, state = self.runner(batch, state)
                except InspectorError:
                    raise
                except Exception as e:
                    if not _is_data_error(e):
                        raise
                    raise InputDataError(
                        f"The model failed on this data: {type(e).__name__}: {_first_line(e)}",
                        received="a batch of " + ", ".join(f"{s.name!r} {tuple(a.shape)} {a.dtype}"
                                                           for s, a in zip(self.specs, batch, strict=True)),
                        fix=f"Pass data matching {expected_text(self.specs)}.") from e
                yield result
                done += 1
                if report is not None:
                    report_batch(report, done, total)
        finally:
            if report is not None and hasattr(report, "close"):
                report.close()
        if self.stream.n_samples is not None and not self.stream.in_memory:
            warn_nonfinite(self.stream.warnings, stacklevel=5)

    def _check_measured(self, per_sample: int) -> None:
        """Outputs with free (None) dimensions were counted as size 1; check again with the real size."""
        if per_sample <= self.per_sample:
            return
        self.per_sample = per_sample
        if self.batch_size * per_sample > self.limits.max_batch_bytes:
            fits = max(1, self.limits.max_batch_bytes // per_sample)
            raise LimitExceededError(
                f"A batch of {self.batch_size} samples needs {format_bytes(self.batch_size * per_sample)} of "
                f"activations ({format_bytes(per_sample)} per sample, measured on the first batch), above the "
                f"limit max_batch_bytes = {format_bytes(self.limits.max_batch_bytes)}.",
                received=f"batch_size={self.batch_size} for {len(self.ids)} layer(s): {_short_list(self.ids)}",
                fix=f"Use batch_size={fits} or less, ask for fewer layers, or raise the limit with "
                    "inspector.set_limits(max_batch_bytes=...).")
        if self.stream.n_samples is not None and self.stream.in_memory:
            self._check_total(self.stream.n_samples)

    def _streamed_sample(self, n: int) -> None:
        if self.stream.in_memory or not self.keep_in_memory:
            return
        self._check_total(n)

    # ------------------------------------------------------------------ results
    def values(self) -> dict[str, Any]:
        n = self.stream.n_samples
        parts: list[list[list[np.ndarray]]] = []
        out: list[list[np.ndarray]] | None = None
        filled = 0
        for result in self._batches():
            arrays = [[_to_numpy(t) for t in outputs] for outputs in result]
            rows = len(arrays[0][0]) if arrays and arrays[0] else 0
            if filled == 0 and rows:
                self._check_measured(sum(a.nbytes for outputs in arrays for a in outputs) // rows)
            if n is not None and self.stream.in_memory and n > rows and out is None:
                out = [[np.empty((n, *a.shape[1:]), a.dtype) for a in outputs] for outputs in arrays]
            if out is not None:
                for node_id, dest, outputs in zip(self.ids, out, arrays, strict=True):
                    for d, a in zip(dest, outputs, strict=True):
                        if d.shape[1:] != a.shape[1:]:
                            raise InputDataError(
                                f"The output of {node_id!r} changes shape between batches ({d.shape[1:]} vs "
                                f"{a.shape[1:]}), so batches cannot be stacked.",
                                received=f"batch_size={self.batch_size}",
                                fix="Pad the inputs to one length, or use a batch_size covering all samples.")
                        d[filled:filled + len(a)] = a
            else:
                parts.append(arrays)
                self._streamed_sample(sum(len(p[0][0]) for p in parts if p and p[0]))
            filled += rows
        if out is None:
            if not parts:
                raise InputDataError("The data holds no samples.", received="0 samples",
                                     fix=f"Pass at least one sample for {expected_text(self.specs)}.")
            out = parts[0] if len(parts) == 1 else [
                [_concatenate(node_id, [p[i][k] for p in parts]) for k in range(len(parts[0][i]))]
                for i, node_id in enumerate(self.ids)]
        result: dict[str, Any] = {}
        for node_id, outputs in zip(self.ids, out, strict=True):
            for a in outputs:
                a.flags.writeable = False
            result[node_id] = outputs[0] if len(outputs) == 1 else list(outputs)
        return result

    def stats(self) -> Any:
        import pandas as pd

        totals: list[list[_Running | None]] | None = None
        for result in self._batches():
            if totals is None:
                totals = [[_Running() if parts else None for parts in outputs] for outputs in result]
            numbers = [[_numpy_stats(parts) for parts in outputs] for outputs in result]
            exact = self._exact_where_nonfinite(numbers)
            for i, (acc_row, outputs) in enumerate(zip(totals, numbers, strict=True)):
                for k, (acc, parts) in enumerate(zip(acc_row, outputs, strict=True)):
                    if acc is None:
                        continue
                    if (i, k) in exact:
                        acc.add(*exact[i, k])
                    else:
                        count, mean, m2, low, high, zeros, alive, _ = parts
                        nothing = np.zeros_like(mean)
                        acc.add(np.broadcast_to(count, mean.shape), mean, m2, low, high, zeros, nothing, nothing,
                                alive)
        rows = []
        for entry, accs in zip(self.entries, totals or [[None] * len(e.outputs) for e in self.entries], strict=True):
            for k, acc in enumerate(accs):
                if acc is None:
                    continue
                base = {"layer": entry.id, "output": k, "class_name": entry.class_name,
                        "shape": format_shape(entry.outputs[k][0] if k < len(entry.outputs) else None)}
                for channel, numbers in enumerate(acc.rows()):
                    rows.append({**base, **({"channel": channel} if self.per_channel else {}), **numbers})
        columns = ["layer", "output", "class_name", "shape", *(["channel"] if self.per_channel else []), "count",
                   "mean", "std", "min", "max", "zero_fraction", "dead_fraction", "nan_count", "inf_count"]
        frame = pd.DataFrame(rows, columns=columns)
        frame.attrs["input_warnings"] = list(self.stream.warnings)
        frame.attrs["samples"] = self.stream.n_samples
        frame.attrs["mode"] = self.mode.value
        frame.attrs["skipped_non_numeric"] = [e.id for e, accs in zip(self.entries, totals or [], strict=False)
                                              if any(a is None for a in accs)]
        return frame

    def _exact_where_nonfinite(self, numbers: list[list[list[np.ndarray]]]) -> dict[tuple[int, int], tuple]:
        """Exact float64 statistics for the outputs whose batch held NaN/Inf (the lean sums cannot tell)."""
        bad = [(i, k) for i, outputs in enumerate(numbers) for k, parts in enumerate(outputs)
               if parts and not np.all(parts[-1])]
        if not bad:
            return {}
        ids = sorted({self.ids[i] for i, _ in bad}, key=self.ids.index)
        runner = _runner(self.model, self.catalog, ids, "values", self.mode, False, self.specs,
                         self.runner.compiled, None)  # compiled alike: fused kernels treat NaN alike
        values, _ = runner(self.batch, self.batch_state)  # same inputs, same starting seed state
        by_id = dict(zip(ids, values, strict=True))
        return {(i, k): _exact_batch_stats(_to_numpy(by_id[self.ids[i]][k]), self.per_channel) for i, k in bad}

    def comparison(self) -> Any:
        import pandas as pd

        sums: list[list[np.ndarray | None]] | None = None
        for result in self._batches():
            numbers = [[np.array([float(np.sum(_to_numpy(p), dtype=np.float64)) for p in parts]) if parts else None
                        for parts in outputs]
                       for outputs in result]
            if sums is None:
                sums = numbers
                continue
            for row_sum, row in zip(sums, numbers, strict=True):
                for k, values in enumerate(row):
                    if values is not None and row_sum[k] is not None:
                        total = row_sum[k]
                        row_sum[k] = np.array([total[0] + values[0], max(total[1], values[1]),
                                               total[2] + values[2], total[3] + values[3]])
        rows = []
        for entry, per_output in zip(self.entries, sums or [], strict=True):
            for k, values in enumerate(per_output):
                if values is None:
                    continue
                diff_sum, diff_max, scale_sum, count = values
                mean_diff = diff_sum / count if count else np.nan
                scale = scale_sum / count if count else np.nan
                rows.append({"layer": entry.id, "output": k, "class_name": entry.class_name,
                             "mean_abs_diff": mean_diff, "max_abs_diff": diff_max, "mean_abs_inference": scale,
                             "relative_diff": mean_diff / scale if scale else (0.0 if mean_diff == 0 else np.inf)})
        frame = pd.DataFrame(rows, columns=["layer", "output", "class_name", "mean_abs_diff", "max_abs_diff",
                                            "mean_abs_inference", "relative_diff"])
        frame.attrs["input_warnings"] = list(self.stream.warnings)
        frame.attrs["samples"] = self.stream.n_samples
        return frame


class _Running:
    """Running statistics of one output, merged batch by batch with Chan et al.'s parallel algorithm."""

    def __init__(self) -> None:
        self.n: np.ndarray | None = None

    def add(self, n_b: Any, mean_b: Any, m2_b: Any, low: Any, high: Any, zeros: Any, nans: Any, infs: Any,
            alive: Any) -> None:
        n_b, mean_b, m2_b, low, high, zeros, nans, infs = (np.array(v, dtype=np.float64, ndmin=1) for v in (
            n_b, mean_b, m2_b, low, high, zeros, nans, infs))
        alive = np.asarray(alive, dtype=bool)
        if self.n is None:
            self.n, self.mean, self.m2 = n_b, mean_b, m2_b
            self.low, self.high, self.zeros, self.nans, self.infs, self.alive = low, high, zeros, nans, infs, alive
            return
        n = self.n + n_b
        delta = mean_b - self.mean
        safe = np.where(n > 0, n, 1.0)
        self.mean = self.mean + delta * n_b / safe
        self.m2 = self.m2 + m2_b + delta * delta * self.n * n_b / safe
        self.n = n
        self.low, self.high = np.minimum(self.low, low), np.maximum(self.high, high)
        self.zeros, self.nans, self.infs = self.zeros + zeros, self.nans + nans, self.infs + infs
        if self.alive.shape == alive.shape:
            self.alive = self.alive | alive
        else:  # the output's shape varies between batches (variable-length data): units are not comparable
            self.alive = np.zeros((0,), bool)

    def rows(self) -> list[dict[str, float]]:
        """One dict of statistics per channel."""
        assert self.n is not None
        channels = len(self.n)
        if self.alive.size and self.alive.size % channels == 0:
            dead = 1.0 - self.alive.reshape(-1, channels).mean(axis=0)
        else:
            dead = np.full(channels, np.nan)
        count = self.n + self.nans + self.infs
        out = []
        for c in range(channels):
            has = self.n[c] > 0
            out.append({
                "count": int(count[c]),
                "mean": float(self.mean[c]) if has else np.nan,
                "std": float(np.sqrt(max(self.m2[c], 0.0) / self.n[c])) if has else np.nan,
                "min": float(self.low[c]) if has else np.nan,
                "max": float(self.high[c]) if has else np.nan,
                "zero_fraction": float(self.zeros[c] / count[c]) if count[c] else np.nan,
                "dead_fraction": float(dead[c]),
                "nan_count": int(self.nans[c]),
                "inf_count": int(self.infs[c]),
            })
        return out


# =============================================================================== small helpers
def _positive(batch_size: Any) -> int:
    if batch_size is None:
        return DEFAULT_BATCH_SIZE
    if isinstance(batch_size, (bool, np.bool_)) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InputDataError("batch_size must be a positive integer.", received=f"batch_size={batch_size!r}",
                             fix="Pass e.g. batch_size=32, or leave it out to choose one automatically.")
    return int(batch_size)


def _output_bytes(shape: Shape, dtype: str) -> int:
    n = 1
    for d in shape[1:]:
        n *= int(d) if d is not None else 1
    try:
        itemsize = np.dtype(dtype).itemsize
    except TypeError:
        itemsize = 8
    return n * itemsize


def _to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, np.ndarray):
        return t
    try:
        return np.asarray(t)  # zero-copy for TensorFlow eager tensors
    except (TypeError, ValueError):
        from keras import ops

        return ops.convert_to_numpy(t)


def _concatenate(node_id: str, arrays: list[np.ndarray]) -> np.ndarray:
    try:
        return np.concatenate(arrays)
    except ValueError as e:
        raise InputDataError(f"The output of {node_id!r} changes shape between batches, so batches cannot be "
                             "stacked.", received=f"batch shapes {[a.shape for a in arrays[:4]]}",
                             fix="Pad the inputs to one length, or stream them through activation_stats.") from e


def _dtype_name(dtype: Any) -> str:
    name = getattr(dtype, "name", None)
    return str(name if isinstance(name, str) else dtype)


def _short_list(ids: list[str], n: int = 5) -> str:
    return ", ".join(ids[:n]) + (f", ... ({len(ids)} in all)" if len(ids) > n else "")


def _first_line(e: Exception) -> str:
    """The informative part of a backend error: Keras wraps the real message in a few lines of its own."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m|\{\{function_node [^}]*\}\}\s*", "", str(e))  # colours, TF node names
    text = text.split("Arguments received")[0]
    return " ".join(line.strip() for line in text.splitlines() if line.strip())[:400]


def _is_data_error(e: Exception) -> bool:
    """Errors Keras/TensorFlow raise for data the model cannot take (not bugs of ours)."""
    return isinstance(e, (ValueError, TypeError)) or type(e).__module__.startswith("tensorflow")


class _TqdmReporter:
    def __init__(self, total: int | None) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="batch", desc="activations", leave=False)

    def __call__(self, fraction: float | None, message: str) -> None:
        self.bar.update(1)  # called once per batch

    def close(self) -> None:
        self.bar.close()


def _progress_reporter(progress: ProgressCallback | bool | None, total: int | None) -> Any:
    if progress is False:
        return None
    if callable(progress):
        return progress
    if progress is None and (total is None or total > 1) and sys.stderr is not None and sys.stderr.isatty():
        return _TqdmReporter(total)
    return None
