"""Per-layer wall time: which layer calls a forward pass spends its time in.

How it works
    :func:`profile_layers` runs the model through the same functional-graph walk
    as :mod:`inspector.analysis.activations` (the same call events, in the same
    order, as ``model(X)``), eagerly, with a timer around every layer call: the
    clock (:func:`time.perf_counter`) starts before the call's arguments are
    gathered and stops once its outputs are *materialised* — a JAX array is
    waited for with ``block_until_ready``, any other tensor on an accelerator is
    waited for by reading one of its values back (eager TensorFlow and torch on
    the CPU compute before returning, so nothing is waited for there) — so
    asynchronous dispatch cannot move one layer's time into the next.  A nested model is
    walked into: its inner layers get their own rows, and its own row is the
    whole call, children included.

    One untimed warm-up pass comes first (the first eager call of a layer pays
    for kernel selection and tracing caches); then each of ``repeats`` passes is
    timed, each pass timing every layer at once, and a layer's ``seconds`` is the
    median over the passes.  The whole of ``X`` is one batch.

Compared with a plain forward pass
    The plain ``model(X)`` (same inputs, same mode, eager, materialised, median
    of as many passes) is timed too and kept in ``df.attrs["forward_seconds"]``;
    ``df.attrs["total_seconds"]`` is the sum of the top-level rows and
    ``df.attrs["overhead"]`` their ratio minus one.  The rows leave out what
    ``model(X)`` does around the layer calls (input standardisation, the
    functional model's bookkeeping), and they add a wait for every layer's
    result on an accelerator (no overlap of asynchronous work).  Measured with
    TensorFlow on 2 CPU cores, batch of 8 at 224×224: MobileNetV2 rows 442 ms
    against 471 ms plain (-6 %), ResNet50 1,468 against 1,478 ms (-1 %); on a
    3-layer MLP the fixed cost of a plain call dominates (2.0 against 4.2 ms).
    A large positive overhead means asynchronous work was serialised by the
    measurement.

Training mode
    ``training=True`` runs Dropout and batch-statistics BatchNormalization as in
    training, inside a Keras ``StatelessScope``, so no variable of the model
    changes (as everywhere in :mod:`inspector.analysis.activations`).

Example:
    >>> import inspector
    >>> sample = inspector.get_sample("otto_mlp")
    >>> model = inspector.load_model(sample.path)
    >>> df = profile_layers(model, sample.load_inputs(), repeats=2)
    >>> list(df.columns)
    ['id', 'name', 'class_name', 'depth', 'seconds', 'share']
    >>> round(float(df.loc[df.depth == 0, "share"].sum()), 6), df.attrs["repeats"]
    (1.0, 2)
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from inspector.analysis.forward import Mode, _execute, _make_plan, _mode, _state_variables
from inspector.analysis.layer_calls import _catalog
from inspector.analysis.requests import _output_bytes
from inspector.errors import InputDataError, LimitExceededError
from inspector.io.inputs import expected_text, input_specs, is_stream, prepare_arrays
from inspector.limits import format_bytes, get_limits

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["profile_layers", "PROFILE_COLUMNS"]

PROFILE_COLUMNS = ("id", "name", "class_name", "depth", "seconds", "share")


def profile_layers(model: Any, X: Any, *, training: bool | Mode = False, repeats: int = 3) -> pd.DataFrame:
    """Wall time of every layer call, from one instrumented forward pass per repeat.

    Returns one row per layer call at every nesting level (input layers left
    out), in graph order: ``id`` (the node id of :class:`~inspector.graph.ModelGraph`
    and :func:`~inspector.summary_frame`), ``name``, ``class_name``, ``depth``,
    ``seconds`` (median over ``repeats`` passes, for the whole of ``X``) and
    ``share`` of the total (the top-level rows' shares add up to 1; a nested
    model's row includes its children).  ``df.attrs``: ``total_seconds``,
    ``forward_seconds`` (a plain ``model(X)``), ``overhead``, ``repeats``,
    ``samples``, ``mode`` and ``backend``.  How the time is measured: see the
    module docstring.  Pass the frame to ``render(graph, color_by="seconds",
    values=df)`` to colour the graph by time.

    Raises:
        InputDataError: ``X`` does not match the model inputs, is a stream, or ``repeats`` < 1.
        LimitExceededError: the activations of one pass over ``X`` exceed ``max_batch_bytes``.
        LayerNotFoundError: a subclassed model (no graph of layer calls to time).
    """
    import keras
    import pandas as pd

    if isinstance(repeats, (bool, np.bool_)) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise InputDataError("repeats must be a whole number ≥ 1.", received=f"repeats={repeats!r}",
                             fix="Pass e.g. repeats=3 (the median of the passes is reported).")
    mode = _mode(training)
    catalog = _catalog(model)
    entries = [e for e in catalog.walk() if not e.is_input]
    specs = input_specs(model)
    if is_stream(X):
        raise InputDataError("profile_layers times one batch held in memory, not a stream of batches.",
                             received=f"a {type(X).__name__}",
                             fix="Pass one batch as arrays, e.g. the first batch of the dataset.")
    arrays = prepare_arrays(X, specs)
    samples = len(arrays[0]) if arrays else 0
    if samples == 0:
        raise InputDataError("The data holds no samples.", received="0 samples",
                             fix=f"Pass at least one sample for {expected_text(specs)}.")
    _check_memory(entries, samples)

    tensors = [a if a.dtype.kind in "USO" else keras.ops.convert_to_tensor(a) for a in arrays]
    plan = _make_plan(catalog, {e.id for e in entries}, need_outputs=True)
    is_training = mode is Mode.TRAINING
    state = _state_variables(model) if is_training else []

    try:  # a dict-input model is called with its dict, as a user would
        structure = model.input
    except AttributeError:  # a loaded Sequential that was never called: one input
        structure = None

    def instrumented() -> dict[str, float]:
        timer = _Timer()
        with _scope(state, is_training):
            _execute(plan, tensors, is_training, {}, lambda outs: None, timer)
        return timer.seconds

    def plain() -> float:
        inputs = keras.tree.pack_sequence_as(structure, tensors) if structure is not None else tensors[0]
        start = time.perf_counter()
        with _scope(state, is_training):
            _materialise(keras.tree.flatten(model(inputs, training=is_training)))
        return time.perf_counter() - start

    instrumented()  # warm-up: first eager calls fill kernel and tracing caches
    plain()
    passes = []
    forward = []
    for _ in range(int(repeats)):
        passes.append(instrumented())
        forward.append(plain())
    seconds = {e.id: statistics.median(p.get(e.id, 0.0) for p in passes) for e in entries}
    total = sum(seconds[e.id] for e in entries if e.depth == 0)
    frame = pd.DataFrame(
        [{"id": e.id, "name": e.name, "class_name": e.class_name, "depth": e.depth, "seconds": seconds[e.id],
          "share": seconds[e.id] / total if total > 0 else 0.0} for e in entries],
        columns=list(PROFILE_COLUMNS))
    forward_seconds = statistics.median(forward)
    frame.attrs.update(total_seconds=total, forward_seconds=forward_seconds,
                       overhead=total / forward_seconds - 1.0 if forward_seconds > 0 else 0.0,
                       repeats=int(repeats), samples=samples, mode=mode.value, backend=keras.backend.backend())
    return frame


class _Timer:
    """Receives ``start``/``stop`` around each layer call of the walk (nested calls nest)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._started: dict[str, float] = {}

    def start(self, node_id: str) -> None:
        self._started[node_id] = time.perf_counter()

    def stop(self, node_id: str, outputs: list[Any] | None) -> None:
        _materialise(outputs or [])
        self.seconds[node_id] = time.perf_counter() - self._started.pop(node_id)


def _materialise(outputs: list[Any]) -> None:
    """Wait until each output exists (asynchronous backends return before computing), without copying it."""
    from keras import ops

    for t in outputs:
        if t is None or isinstance(t, np.ndarray):
            continue
        wait = getattr(t, "block_until_ready", None)  # JAX dispatches asynchronously, even on the CPU
        if wait is not None:
            wait()
        elif "CPU" not in str(getattr(t, "device", "")).upper():  # eager TF/torch on the CPU are synchronous
            # one value read back waits for the whole tensor; reading all of it would time a copy
            ops.convert_to_numpy(ops.reshape(t, (-1,))[:1])


def _scope(state: list[Any], training: bool) -> Any:
    """A StatelessScope in training mode (updates captured, never written to the model), else nothing."""
    import contextlib

    if not training:
        return contextlib.nullcontext()
    from keras import StatelessScope

    return StatelessScope(state_mapping=[(v, v.value) for v in state])


def _check_memory(entries: list[Any], samples: int) -> None:
    # the eager walk keeps every activation of the pass alive until it ends
    per_sample = sum(_output_bytes(shape, dtype) for e in entries if e.sub is None for shape, dtype in e.outputs)
    limit = get_limits().max_batch_bytes
    if per_sample * samples > limit:
        fits = max(1, limit // max(per_sample, 1))
        raise LimitExceededError(
            f"One profiled pass over {samples} samples keeps {format_bytes(per_sample * samples)} of activations "
            f"({format_bytes(per_sample)} per sample), above the limit max_batch_bytes = {format_bytes(limit)}.",
            received=f"{samples} samples",
            fix=f"Profile at most {fits} samples, or raise the limit with inspector.set_limits(max_batch_bytes=...).")
