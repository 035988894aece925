"""The forward walk: one pass per batch through a model's own graph, keeping the outputs of chosen calls.

How it works
    The pass walks the model's functional graph itself — the same call events,
    in the same order, as ``model(x)`` (:mod:`inspector.analysis.layer_calls`) —
    and keeps the outputs of the requested nodes.  :func:`_make_plan` keeps only
    the calls needed for them, and walks *into* a nested model when one of its
    inner calls is requested.  :func:`_execute` runs a plan on backend tensors;
    a ``transform`` reduces a requested output as soon as it exists
    (:mod:`inspector.analysis.reductions`), a ``timer`` times each call
    (:mod:`inspector.analysis.profile`).

Compiled or eager
    With the TensorFlow backend the pass can be traced once into a
    ``tf.function`` (one trace for every batch size) and reused.  By default
    (``compiled=None``) a request is traced on its first call when the trace
    pays at once: it passes through at least ``_COMPILE_MIN_CALLS`` layer calls
    (tracing then costs about what one eager pass does, and every later call is
    a compiled one: MobileNetV2's 155 calls, docs/performance.md "Repeated
    calls"), or it has many batches, or it is a stream.  A smaller request runs
    eagerly every time, so no call of a request is slower than its first (a trace
    on the second call cost twice the eager first).  Pass ``compiled=True/False``
    to choose.
    Both give the same numbers up to float rounding, except that TensorFlow's
    fused compiled kernels (e.g. conv + relu) may turn a NaN into 0 where the
    eager pass keeps it, as ``model.predict`` and ``model(x)`` also differ.

Training mode without side effects
    ``training=True`` (or ``Mode.TRAINING``) runs Dropout, batch-statistics
    BatchNormalization and the like as in training, inside a Keras
    ``StatelessScope``: every variable update (BatchNorm moving statistics,
    dropout seed state) is captured by the scope and never written to the
    model.  The captured seed state (:func:`_state_variables`) is threaded from
    batch to batch so each batch draws fresh dropout masks, and every call starts
    from the model's own seed state, so the same call gives the same result.

Example:
    >>> import keras, numpy as np
    >>> from inspector.analysis.layer_calls import _catalog
    >>> x = keras.Input((2,), name="x")
    >>> m = keras.Model(x, keras.layers.Dense(1, name="b")(keras.layers.Dense(3, name="a")(x)))
    >>> plan = _make_plan(_catalog(m), {"a"}, need_outputs=False)
    >>> [step.entry.id for step in plan.steps]  # "b" is not needed for "a"
    ['x', 'a']
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from inspector.analysis.layer_calls import _Catalog, _dtype_name, _Entry
from inspector.analysis.reductions import _batch_stats, _mode_difference, _numeric
from inspector.errors import InputDataError
from inspector.io.inputs import InputSpec

_COMPILE_MIN_BATCHES = 8  # below this (and _COMPILE_MIN_CALLS) a request runs eagerly: a trace would not pay
_COMPILE_MIN_CALLS = 64  # from this many layer calls a trace costs about one eager pass: traced on the first call
_CACHE_SIZE = 8


class Mode(str, Enum):
    """How layers such as Dropout and BatchNormalization behave during extraction."""

    INFERENCE = "inference"
    TRAINING = "training"

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
             transform: Callable[[list[Any]], Any] | None = None, timer: Any = None,
             tap: Callable[[str, list[Any]], list[Any]] | None = None) -> list[Any] | None:
    """Run the plan on backend tensors, storing requested outputs in ``record``; the graph outputs if needed.

    ``transform`` reduces a requested node's outputs as soon as they exist, so an eager pass does not keep
    every activation alive until the end.  ``timer`` (see :mod:`inspector.analysis.profile`) is told
    ``start(node_id)`` before each call and ``stop(node_id, outputs)`` after it.  ``tap(node_id, outputs)``
    replaces a requested node's outputs before the rest of the pass uses them (see
    :mod:`inspector.analysis.gradients`: the point a backend's autodiff differentiates against).
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
                outs = _execute_nested(step.sub, args, kwargs, training, record, transform, timer, tap)
            else:
                op = node.operation
                if takes_training(op):
                    kwargs["training"] = training
                outs = tree.flatten(op(*args, **kwargs))
            if timer is not None:
                timer.stop(step.entry.id, outs)
        if step.record and tap is not None:
            outs = tap(step.entry.id, list(outs or []))
        if step.record:
            record[step.entry.id] = transform(list(outs or [])) if transform else list(outs or [])
        if outs is not None:
            for t, v in zip(node.outputs, outs, strict=True):
                values[id(t)] = v
    if not plan.need_outputs:
        return None
    return [values[id(t)] for t in plan.catalog.owner.outputs]


def _execute_nested(plan: _Plan, args: tuple, kwargs: dict, training: bool, record: dict[str, Any],
                    transform: Callable[[list[Any]], Any] | None, timer: Any = None,
                    tap: Callable[[str, list[Any]], list[Any]] | None = None) -> list[Any] | None:
    from keras import tree

    from inspector.model.keras_internals import set_keras_mask, standardize_inputs

    owner = plan.catalog.owner
    inputs = args[0] if args else kwargs.get("inputs")
    flat = standardize_inputs(owner, inputs)
    mask = kwargs.get("mask")
    if mask is not None:
        for x, m in zip(flat, tree.flatten(mask), strict=False):
            if m is not None:
                set_keras_mask(x, m)
    return _execute(plan, flat, training, record, transform, timer, tap)

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
        if compiled is None:
            compiled = (runner.traced or n_batches is None or n_batches >= _COMPILE_MIN_BATCHES
                        or len(runner.plan.steps) >= _COMPILE_MIN_CALLS)
        runner.compiled = bool(compiled) and keras.backend.backend() == "tensorflow"
    return runner
