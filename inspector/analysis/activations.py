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

Compiled or eager, training mode without side effects
    The pass is traced once into a ``tf.function`` when it pays (``compiled=None``
    decides; ``True``/``False`` to choose), and training mode runs inside a Keras
    ``StatelessScope``, so the model never changes: see :mod:`inspector.analysis.forward`.
    The model's layers are found by :mod:`inspector.analysis.layer_calls`, statistics
    reduced by :mod:`inspector.analysis.reductions`, limits checked by
    :mod:`inspector.analysis.requests`.

Bounded
    Before running, the size of one batch of the requested activations is
    computed from the output shapes; a batch above ``get_limits().max_batch_bytes``
    is refused (with the size it would need and a batch size that fits), and
    ``batch_size=None`` picks the largest batch up to 32 that fits, or, for
    :func:`inspect_layers` on an in-memory ``X`` whose every layer output fits
    the limit at once, all of ``X`` in one pass, as ``model(X)`` runs.  In-memory
    results (:func:`inspect_layer`, :func:`inspect_layers`) are limited to
    ``max_samples`` samples and, in total, to ``max_result_bytes``;
    :func:`activation_stats` and :func:`compare_modes` stream any number of
    samples and reduce each batch inside the forward pass, so only per-channel
    numbers ever leave it.

Any dataset, here or on a Ray cluster
    :func:`sample_activations` keeps a uniform sample of the outputs of a stream of
    any length (:mod:`inspector.analysis.reservoir`).  With ``engine="ray"``,
    :func:`activation_stats` and :func:`sample_activations` run on a Ray cluster's
    workers and merge what each block gives (:mod:`inspector.analysis.distributed`).

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

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from inspector.analysis import distributed
from inspector.analysis.distributed import Engine, _engine
from inspector.analysis.forward import Mode, _mode
from inspector.analysis.layer_calls import _catalog, _resolve
from inspector.analysis.requests import _Request, stats_frame
from inspector.analysis.reservoir import _Reservoir
from inspector.errors import InputDataError
from inspector.io.inputs import warn_nonfinite
from inspector.progress import ProgressCallback

__all__ = ["Mode", "Engine", "ActivationSample", "inspect_layer", "inspect_layers", "compare_modes",
           "activation_stats", "sample_activations"]


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
                     compiled: bool | None = None, engine: Engine | str = Engine.LOCAL, address: str | None = None,
                     workers: int | None = None, cpus_per_worker: float = 1.0, trust: bool = False) -> Any:
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

    ``model`` is a keras.Model or a model file (path or bytes, opened with
    :func:`~inspector.load_model` and ``trust``).  ``engine="ray"`` computes on a
    Ray cluster (``address``, ``RAY_ADDRESS``, or a local one; ``workers`` actors
    of ``cpus_per_worker`` CPUs): ``X`` may then also be a ``ray.data.Dataset`` or a path ray.data
    reads, and the result is the same as ``engine="local"``'s up to float rounding
    (:mod:`inspector.analysis.distributed`, docs/distributed.md).

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu", name="h")])
        >>> activation_stats(m, "all", np.random.rand(1000, 4), batch_size=100).columns[:4].tolist()
        ['layer', 'output', 'class_name', 'shape']
    """
    mode = _mode(training)
    if _engine(engine) is Engine.RAY:
        merged = distributed.run(model, layers, X, kind="stats", mode=mode, per_channel=per_channel,
                                 batch_size=batch_size, trust=trust, address=address, workers=workers,
                                 cpus_per_worker=cpus_per_worker, progress=progress)
        warn_nonfinite(merged.warnings)
        assert merged.layout is not None
        return stats_frame(merged.layout, merged.totals, per_channel=per_channel, samples=merged.samples, mode=mode,
                           input_warnings=merged.warnings)
    run = _Request(_opened(model, trust), layers, X, mode=mode, kind="stats", batch_size=batch_size,
                   progress=progress, compiled=compiled, keep_in_memory=False, per_channel=per_channel)
    return run.stats()


@dataclass(frozen=True)
class ActivationSample:
    """A uniform random sample of the samples' layer outputs (:func:`sample_activations`).

    ``values`` maps each requested node id to its sampled outputs (one row per
    sampled sample, the same samples for every layer; a list for a layer with
    several outputs), read-only.  ``positions`` holds each row's index in the data
    (``None`` when not known: a Ray dataset read from files), ``seen`` how many
    samples the sample was drawn from.
    """

    values: dict[str, Any]
    positions: np.ndarray | None
    seen: int


def sample_activations(model: Any, layers: Any, X: Any, *, n: int = 100_000, seed: int = 0,
                       batch_size: int | None = None, training: bool | Mode = False,
                       progress: ProgressCallback | bool | None = None, compiled: bool | None = None,
                       engine: Engine | str = Engine.LOCAL, address: str | None = None, workers: int | None = None,
                       cpus_per_worker: float = 1.0, trust: bool = False) -> ActivationSample:
    """Layer outputs of ``n`` samples drawn uniformly, without replacement, from data of any size.

    The data is streamed once; only the sample is kept (``n`` rows of the
    requested outputs, checked against ``max_result_bytes``), so a projection
    (:func:`~inspector.project_activations` on ``values``) can be drawn from a
    dataset of any size.  With ``engine="ray"`` every block of the data is sampled
    where it is read and the samples are merged, weighted by the rows each saw;
    ``model``, ``X`` and the Ray options are those of :func:`activation_stats`.

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="h")])
        >>> s = sample_activations(m, "h", np.random.rand(1000, 4), n=50)
        >>> s.values["h"].shape, s.seen, len(set(s.positions))
        ((50, 3), 1000, 50)
    """
    count = _sample_size(n)
    mode = _mode(training)
    if _engine(engine) is Engine.RAY:
        merged = distributed.run(model, layers, X, kind="sample", mode=mode, batch_size=batch_size, n=count,
                                 seed=seed, trust=trust, address=address, workers=workers,
                                 cpus_per_worker=cpus_per_worker, progress=progress)
        warn_nonfinite(merged.warnings)
        assert merged.layout is not None and merged.sample is not None
        return _sample_result(merged.layout, merged.sample)
    run = _Request(_opened(model, trust), layers, X, mode=mode, kind="values", batch_size=batch_size,
                   progress=progress, compiled=compiled, keep_in_memory=False)
    reservoir = _Reservoir(count, np.random.default_rng(seed))
    run.sample(reservoir)
    if reservoir.seen == 0:
        raise InputDataError("The data holds no samples.", received="0 samples", fix="Pass at least one sample.")
    return _sample_result(run.layout(), reservoir)


def _sample_result(layout: list[tuple[str, str, list[str]]], reservoir: _Reservoir) -> ActivationSample:
    positions, *columns = reservoir.columns
    values: dict[str, Any] = {}
    for layer_id, _, shapes in layout:
        outputs, columns = columns[:len(shapes)], columns[len(shapes):]
        for a in outputs:
            a.flags.writeable = False
        values[layer_id] = outputs[0] if len(outputs) == 1 else list(outputs)
    known = bool(len(positions)) and bool(np.all(positions >= 0))
    return ActivationSample(values, positions if known else None, reservoir.seen)


def _sample_size(n: Any) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputDataError("n must be a positive integer.", received=f"n={n!r}",
                             fix="Pass the number of samples to keep, e.g. n=10_000.")
    return int(n)


def _opened(model: Any, trust: bool) -> Any:
    """A keras.Model as it is; a model file (path, bytes, file object) opened under the safety rules."""
    if isinstance(model, (str, os.PathLike, bytes, bytearray, memoryview)) or hasattr(model, "read"):
        from inspector.model.loading import load_model

        return load_model(bytes(model) if isinstance(model, (bytearray, memoryview)) else model, trust=trust)
    return model
