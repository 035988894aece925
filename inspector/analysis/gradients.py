"""Gradients of a score with respect to the inputs and to any layer call's output, and their health per layer.

What is differentiated
    A *target* gives one score per sample from the model's outputs: an output
    unit or class index (``target=3``: the last axis of the output, summed over
    any other axes), any callable on the outputs (``target=lambda y: y[:, 3] -
    y[:, 5]``, written with ``keras.ops``), or a loss against labels
    (``target="loss", labels=y, loss="sparse_categorical_crossentropy"``).  The
    gradient returned is that of the *sum* of the scores over a batch, which is
    each sample's own gradient whenever samples do not interact (they do in
    training mode through BatchNormalization's batch statistics).

How it works
    The same forward walk as :mod:`inspector.analysis.activations`
    (:mod:`inspector.analysis.forward`: the model's own call events, nested models
    walked into, one gradient per call of a shared layer, training mode inside a
    ``StatelessScope`` so the model never changes), run under the backend's own
    autodiff: a ``tf.GradientTape`` on TensorFlow (the recorded outputs are the
    tape's sources), ``jax.grad`` on JAX (a zero is added to each recorded output
    through the walk's ``tap`` and differentiated against).  One forward and one
    backward pass per batch, eager, as a plain ``GradientTape`` script runs.
    Batches are bounded like :func:`~inspector.inspect_layers`: a sample's inputs,
    their gradients and the requested gradients (and outputs, when kept) count
    against ``max_batch_bytes``; results kept in memory against
    ``max_result_bytes``.  :func:`gradient_stats` reduces each batch to a few
    numbers per layer, so it streams any number of samples.

What cannot be differentiated
    An integer input (token ids into an ``Embedding``) has no gradient: its
    entry in :attr:`LayerGradients.inputs` is ``None``, and the attribution maps
    (:mod:`inspector.analysis.attribution`) attribute to the embedding's output
    instead, and say so.  A float input or layer with no differentiable path to
    the score (a layer the score does not depend on, or an ``argmax``/rounding
    in between on TensorFlow) gets a zero gradient and is named in
    :attr:`LayerGradients.disconnected`; JAX gives zeros there without telling.

Example:
    >>> import keras, numpy as np
    >>> x = keras.Input((3,), name="x")
    >>> m = keras.Model(x, keras.layers.Dense(2, name="d", use_bias=False, kernel_initializer="ones")(x))
    >>> g = layer_gradients(m, np.ones((4, 3)), target=1, layers=["d"])
    >>> g.inputs["x"][0].tolist(), g.layers["d"][0].tolist(), g.score.tolist()
    ([1.0, 1.0, 1.0], [0.0, 1.0], [3.0, 3.0, 3.0, 3.0])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from inspector.analysis.forward import Mode, _make_plan, _mode, _state_variables
from inspector.analysis.layer_calls import _dtype_name
from inspector.analysis.requests import _concatenate, _output_bytes, _Request, _to_numpy
from inspector.errors import InputDataError
from inspector.graph import format_shape
from inspector.progress import ProgressCallback

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["LayerGradients", "layer_gradients", "gradient_stats", "GRADIENT_COLUMNS"]

GRADIENT_COLUMNS = ("layer", "output", "class_name", "shape", "count", "grad_norm", "grad_norm_max",
                    "mean_abs", "zero_fraction", "nan_count", "inf_count")


@dataclass(frozen=True)
class LayerGradients:
    """The gradients of one target, for every sample.

    ``inputs`` maps each model input's name to the gradient with respect to it
    (``None`` for an integer input); ``layers`` maps each requested node id to the
    gradient with respect to its output (a list for a layer with several outputs,
    ``None`` for a non-float output); ``outputs`` holds the layer outputs
    themselves when asked for (``keep_outputs=True``).  All arrays have one row
    per sample and are read-only.
    """

    score: np.ndarray
    inputs: dict[str, np.ndarray | None]
    layers: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    target: str = ""
    mode: str = Mode.INFERENCE.value
    disconnected: tuple[str, ...] = ()


def layer_gradients(model: Any, X: Any, *, target: Any, layers: Any = (), output: int | str = 0, labels: Any = None,
                    loss: Any = None, training: bool | Mode = False, batch_size: int | None = None,
                    keep_outputs: bool = False, inputs: bool = True,
                    progress: ProgressCallback | bool | None = None) -> LayerGradients:
    """Gradients of a score per sample with respect to the inputs and to the outputs of chosen layer calls.

    ``target`` is an output unit/class index, a callable on the model's outputs
    giving one score per sample, or ``"loss"`` with ``labels`` and ``loss`` (a
    Keras loss name or function).  ``output`` picks the model output an index
    refers to.  ``layers`` names layer calls as in :func:`~inspector.inspect_layers`
    (``"all"`` for every call).  The model never changes, in training mode too.
    ``inputs=False`` leaves the inputs' gradients out (``LayerGradients.inputs`` is
    empty), so the backward pass stops at the earliest requested layer.

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="h"),
        ...                       keras.layers.Dense(2, name="out")])
        >>> g = layer_gradients(m, np.ones((5, 2)), target=0, layers="all")
        >>> sorted(g.layers), g.inputs[m.inputs[0].name].shape
        (['h', 'out'], (5, 2))

    Raises:
        InputDataError: ``X`` does not match the inputs, or the target is not one score per sample.
        LayerNotFoundError: no such layer.
        LimitExceededError: the gradients do not fit the limits.
    """
    request = _GradientRequest(model, layers, X, target=target, output=output, labels=labels, loss=loss,
                               mode=_mode(training), batch_size=batch_size, progress=progress,
                               keep_outputs=keep_outputs, reduce=False, inputs=inputs)
    return request.gradients()


def gradient_stats(model: Any, X: Any, *, target: Any, layers: Any = "all", output: int | str = 0,
                   labels: Any = None, loss: Any = None, training: bool | Mode = False,
                   batch_size: int | None = None, progress: ProgressCallback | bool | None = None) -> pd.DataFrame:
    """Gradient health per layer output (and per model input): vanishing, exploding, dead or non-finite gradients.

    One row per layer output, in graph order, after one row per model input:
    ``count`` (gradient values seen), ``grad_norm`` (the mean over samples of each
    sample's L2 norm of the gradient), ``grad_norm_max`` (the largest sample's),
    ``mean_abs``, ``zero_fraction`` (values exactly zero: dead ReLUs, clipped
    units), ``nan_count`` and ``inf_count``.  Streams any number of samples.  The
    frame's ``layer`` column holds node ids, so it colours a graph:
    ``render(graph, color_by="grad_norm", values=frame)``.

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu", name="h"),
        ...                       keras.layers.Dense(1, name="out")])
        >>> frame = gradient_stats(m, np.random.default_rng(0).normal(size=(64, 4)), target=0)
        >>> frame["layer"].tolist()[1:], bool(frame["grad_norm"].gt(0).all())
        (['h', 'out'], True)
    """
    request = _GradientRequest(model, layers, X, target=target, output=output, labels=labels, loss=loss,
                               mode=_mode(training), batch_size=batch_size, progress=progress, keep_outputs=False,
                               reduce=True)
    return request.health()


# =============================================================================== targets
@dataclass(frozen=True)
class _Target:
    """One score per sample from the model's flat outputs (and the batch's labels)."""

    text: str
    score: Callable[[list[Any], Any], Any]
    needs_labels: bool = False


def _target(model: Any, target: Any, output: int | str, loss: Any) -> _Target:
    from keras import ops

    from inspector.model.keras_internals import graph_owner

    # the output layers' names, as model.fit keys them (a Sequential's are its inner Functional's)
    names = [str(n) for n in getattr(graph_owner(model), "output_names", None) or []]
    if len(names) != len(model.outputs):
        names = [str(getattr(t, "name", f"output_{i}")) for i, t in enumerate(model.outputs)]
    if isinstance(output, str):
        if output not in names:
            raise InputDataError(f"The model has no output named {output!r}.", received=f"output={output!r}",
                                 fix=f"Use one of {names}, or an index 0..{len(names) - 1}.")
        index = names.index(output)
    elif isinstance(output, (int, np.integer)) and not isinstance(output, bool) and -len(names) <= output < len(names):
        index = int(output) % len(names)
    else:
        raise InputDataError("output must name one of the model's outputs.", received=f"output={output!r}",
                             fix=f"Use an index 0..{len(names) - 1} or one of {names}.")
    shape = tuple(model.outputs[index].shape)

    if isinstance(target, str) and target == "loss":
        function = _loss_function(model, loss)

        def loss_score(outputs: list[Any], labels: Any) -> Any:
            values = function(ops.cast(labels, outputs[index].dtype) if _is_float(labels) else labels,
                              outputs[index])
            return _per_sample(values)

        return _Target(f"loss ({getattr(function, '__name__', 'loss')}) on output {names[index]!r}", loss_score,
                       needs_labels=True)
    if callable(target):
        def called(outputs: list[Any], labels: Any) -> Any:
            return target(outputs[0] if len(outputs) == 1 else list(outputs))

        return _Target(f"{getattr(target, '__name__', type(target).__name__)}(outputs)", called)
    if isinstance(target, (int, np.integer)) and not isinstance(target, (bool, np.bool_)):
        units = shape[-1] if len(shape) > 1 else 1
        if units is not None and not -units <= int(target) < units:
            raise InputDataError(
                f"Target {int(target)} is out of range for output {names[index]!r} of shape {format_shape(shape)}.",
                received=f"target={int(target)}",
                fix=f"Pick a unit/class index 0..{units - 1} of the last axis, or pass a callable on the outputs.")
        unit = int(target)

        def unit_score(outputs: list[Any], labels: Any) -> Any:
            y = outputs[index]
            return _per_sample(y[..., unit] if len(y.shape) > 1 else y)

        return _Target(f"unit {unit} of output {names[index]!r}", unit_score)
    raise InputDataError("target must be an output unit/class index, a callable on the outputs, or \"loss\".",
                         received=f"target={target!r}"[:120],
                         fix="Pass e.g. target=3 (class 3), target=lambda y: y[:, 3], or target=\"loss\" "
                             "with labels=... and loss=\"sparse_categorical_crossentropy\".")


def _loss_function(model: Any, loss: Any) -> Callable[..., Any]:
    import keras

    if loss is None:
        loss = getattr(model, "loss", None)
    if loss is None:
        raise InputDataError("target=\"loss\" needs a loss, and the model has none compiled in.",
                             received="loss=None",
                             fix="Pass loss=\"sparse_categorical_crossentropy\" (or another Keras loss name or "
                                 "function of (y_true, y_pred)).")
    try:
        return loss if callable(loss) else keras.losses.get(loss)
    except ValueError as e:
        raise InputDataError(f"Unknown loss {loss!r}.", received=f"loss={loss!r}",
                             fix="Use a Keras loss name such as \"categorical_crossentropy\", or a function "
                                 "of (y_true, y_pred).") from e


def _per_sample(values: Any) -> Any:
    """Scores summed over every axis but the batch's."""
    from keras import ops

    return ops.sum(ops.reshape(values, (ops.shape(values)[0], -1)), axis=1) if len(values.shape) > 1 else values


def _is_float(t: Any) -> bool:
    try:
        return np.dtype(_dtype_name(t.dtype)).kind == "f"
    except TypeError:
        return _dtype_name(t.dtype) == "bfloat16"


# =============================================================================== one request
class _GradientRequest(_Request):
    """Batching, limits, errors and progress of :class:`~inspector.analysis.requests._Request`, with a runner
    that differentiates."""

    def __init__(self, model: Any, layers: Any, X: Any, *, target: Any, output: int | str, labels: Any, loss: Any,
                 mode: Mode, batch_size: int | None, progress: ProgressCallback | bool | None, keep_outputs: bool,
                 reduce: bool, inputs: bool = True) -> None:
        self.keep_outputs = keep_outputs
        self.with_inputs = inputs
        self.reduce = reduce
        self.tap: Callable[[str, list[Any]], list[Any]] | None = None
        self.target = _target(model, target, output, loss)
        self.labels = None if labels is None else np.asarray(labels)
        if self.target.needs_labels and self.labels is None:
            raise InputDataError("target=\"loss\" needs the labels of the samples.", received="labels=None",
                                 fix="Pass labels=y with one label (row) per sample of X.")
        super().__init__(model, layers, X, mode=mode, kind="gradients", batch_size=batch_size, progress=progress,
                         compiled=False, keep_in_memory=not reduce)
        n = self.stream.n_samples
        if self.labels is not None and n is not None and len(self.labels) != n:
            raise InputDataError("The labels and the samples differ in number.",
                                 received=f"{len(self.labels)} labels for {n} samples",
                                 fix="Pass one label (row) per sample of X.")

    def _layer_ids(self, layers: Any) -> list[str]:
        if layers is None or (isinstance(layers, (list, tuple)) and not layers):
            return []
        return super()._layer_ids(layers)

    def _per_sample_bytes(self) -> int:
        outputs = sum(_output_bytes(shape, dtype) for e in self.entries for shape, dtype in e.outputs)
        inputs = sum(_output_bytes(s.shape, s.dtype) for s in self.specs)
        return inputs * (2 if self.with_inputs else 1) + outputs * (2 if self.keep_outputs else 1)

    def _make_runner(self, compiled: bool | None) -> Any:
        return _GradientRunner(self)

    # ------------------------------------------------------------------ results
    def gradients(self) -> LayerGradients:
        parts = list(self._batches())
        if not parts:
            raise InputDataError("The data holds no samples.", received="0 samples", fix="Pass at least one sample.")
        score = np.concatenate([p[0] for p in parts])
        inputs = {spec.name: None if parts[0][1][i] is None else
                  _concatenate(spec.name, [p[1][i] for p in parts]) for i, spec in enumerate(self.specs)
                  if self.with_inputs}
        layers: dict[str, Any] = {}
        outputs: dict[str, Any] = {}
        for j, node_id in enumerate(self.ids):
            grads = [None if parts[0][2][j][k] is None else _concatenate(node_id, [p[2][j][k] for p in parts])
                     for k in range(len(parts[0][2][j]))]
            layers[node_id] = grads[0] if len(grads) == 1 else grads
            if self.keep_outputs:
                kept = [_concatenate(node_id, [p[3][j][k] for p in parts]) for k in range(len(parts[0][3][j]))]
                outputs[node_id] = kept[0] if len(kept) == 1 else kept
        for value in (score, *inputs.values(), *layers.values(), *outputs.values()):
            for a in value if isinstance(value, list) else [value]:
                if a is not None:
                    a.flags.writeable = False
        return LayerGradients(score, inputs, layers, outputs, self.target.text, self.mode.value,
                              tuple(sorted(self.runner.disconnected, key=self._order)))

    def _order(self, name: str) -> tuple[int, int]:
        names = [s.name for s in self.specs]
        return (0, names.index(name)) if name in names else (1, self.ids.index(name))

    def health(self) -> pd.DataFrame:
        import pandas as pd

        totals: list[_Health] | None = None
        for result in self._batches():
            parts = list(result[1]) + [g for grads in result[2] for g in grads]
            if totals is None:
                totals = [_Health() for _ in parts]
            for acc, numbers in zip(totals, parts, strict=True):
                if numbers is not None:
                    acc.add(numbers)
        rows = []
        names = [(s.name, 0, "InputLayer", format_shape(s.shape)) for s in self.specs]
        names += [(e.id, k, e.class_name, format_shape(shape)) for e in self.entries
                  for k, (shape, _) in enumerate(e.outputs)]
        for (name, k, class_name, shape), acc in zip(names, totals or [], strict=True):
            if acc.count:
                rows.append({"layer": name, "output": k, "class_name": class_name, "shape": shape, **acc.row()})
        frame = pd.DataFrame(rows, columns=list(GRADIENT_COLUMNS))
        frame.attrs.update(samples=self.stream.n_samples, batch_size=self.batch_size, mode=self.mode.value,
                           target=self.target.text,
                           disconnected=sorted(self.runner.disconnected, key=self._order),
                           input_warnings=list(self.stream.warnings))
        return frame


class _Health:
    """Per-sample norms and counts of one gradient, added batch by batch (totals in float64)."""

    def __init__(self) -> None:
        self.count = self.samples = self.zeros = self.nans = self.infs = 0
        self.norm_sum = self.abs_sum = 0.0
        self.norm_max = 0.0

    def add(self, parts: list[np.ndarray]) -> None:
        """``parts`` from :func:`_health_parts`: per-sample sums of squares and of magnitudes, then counts."""
        squares, magnitudes, size, zeros, nans, infs = parts
        norms = np.sqrt(squares.astype(np.float64))
        self.count += int(size)
        self.samples += len(norms)
        self.zeros += int(zeros)
        self.nans += int(nans)
        self.infs += int(infs)
        self.norm_sum += float(norms.sum())
        self.norm_max = max(self.norm_max, float(norms.max(initial=0.0)))
        self.abs_sum += float(magnitudes.astype(np.float64).sum())

    def row(self) -> dict[str, float]:
        finite = self.count - self.nans - self.infs
        return {"count": self.count, "grad_norm": self.norm_sum / max(self.samples, 1),
                "grad_norm_max": self.norm_max, "mean_abs": self.abs_sum / finite if finite else np.nan,
                "zero_fraction": self.zeros / self.count, "nan_count": self.nans, "inf_count": self.infs}


def _health_parts(g: Any) -> list[np.ndarray]:
    """One batch of one gradient reduced to per-sample sums of squares and magnitudes, the number of values,
    and of zeros, NaN and Inf.  NumPy on the backend's buffer (zero-copy on CPU: three passes over the values
    cost a tenth of as many eager TensorFlow ops); a batch holding NaN/Inf (the sums say so) is counted exactly."""
    values = _to_numpy(g)
    rows = values.reshape(len(values), -1)
    squares, magnitudes = np.square(rows).sum(axis=1), np.abs(rows).sum(axis=1)  # pairwise sums, in float32
    if np.isfinite(squares).all() and np.isfinite(magnitudes).all():
        return [squares, magnitudes, np.asarray(rows.size), np.asarray(rows.size - np.count_nonzero(rows)),
                np.asarray(0), np.asarray(0)]
    finite = np.isfinite(rows)
    clean = np.where(finite, rows, 0).astype(np.float64)
    nans = int(np.count_nonzero(np.isnan(rows)))
    return [np.sum(clean * clean, axis=1), np.sum(np.abs(clean), axis=1), np.asarray(rows.size),
            np.asarray(np.count_nonzero(rows == 0)), np.asarray(nans), np.asarray(rows.size - finite.sum() - nans)]


# =============================================================================== the backward pass
class _GradientRunner:
    """One batch: forward walk under the backend's autodiff, the score, the gradients as NumPy arrays.

    Called like the activations runners: ``runner(batch, state) -> (result, new_state)``, where ``result`` is
    ``(score, input_gradients, layer_gradients, layer_outputs)`` with ``None`` for what has no gradient.
    """

    def __init__(self, request: _GradientRequest) -> None:
        import keras

        self.request = request
        self.model = request.model
        self.plan = _make_plan(request.catalog, set(request.ids), need_outputs=True)
        self.ids = request.ids
        self.training = request.mode is Mode.TRAINING
        self.state_vars = _state_variables(self.model) if self.training else []
        self.backend = keras.backend.backend()
        if self.backend not in ("tensorflow", "jax"):
            raise InputDataError(f"Gradients are computed with TensorFlow's or JAX's autodiff, not {self.backend}'s.",
                                 received=f"KERAS_BACKEND={self.backend}",
                                 fix="Set KERAS_BACKEND=tensorflow (or jax) before importing keras.")
        self.offset = 0
        self.disconnected: set[str] = set()

    def initial_state(self) -> list[Any]:
        from keras import ops

        return [ops.convert_to_tensor(v.value) for v in self.state_vars]

    def _walk(self, inputs: list[Any], state: list[Any], labels: Any,
              tap: Callable[[str, list[Any]], list[Any]] | None) -> tuple[Any, dict[str, Any], list[Any]]:
        from keras import StatelessScope

        from inspector.analysis.forward import _execute

        with StatelessScope(state_mapping=list(zip(self.state_vars, state, strict=True))) as scope:
            record: dict[str, Any] = {}
            outputs = _execute(self.plan, inputs, self.training, record, tap=tap)
            score = self.request.target.score(list(outputs or []), labels)
            new_state = [scope.get_current_value(v) for v in self.state_vars]
        self._check_score(score)
        return score, record, [s if n is None else n for n, s in zip(new_state, state, strict=True)]

    def _check_score(self, score: Any) -> None:
        if len(score.shape) != 1:
            raise InputDataError(f"The target must give one score per sample; it gave shape {tuple(score.shape)}.",
                                 received=self.request.target.text,
                                 fix="Reduce every axis but the first, e.g. lambda y: keras.ops.sum(y[:, 3:5], axis=1).")

    def __call__(self, batch: list[np.ndarray], state: list[Any]) -> tuple[Any, list[Any]]:
        from keras import ops

        n = len(batch[0])
        labels = None
        if self.request.labels is not None:
            labels = ops.convert_to_tensor(self.request.labels[self.offset:self.offset + n])
        self.offset += n
        tensors = [a if a.dtype.kind in "USO" else ops.convert_to_tensor(a) for a in batch]
        differentiable = [i for i, t in enumerate(tensors) if not isinstance(t, np.ndarray) and _is_float(t)
                          and self.request.with_inputs]
        gradient = self._tensorflow if self.backend == "tensorflow" else self._jax
        score, input_grads, layer_grads, outputs, new_state = gradient(tensors, differentiable, state, labels)
        # gradient_stats reduces each gradient where it is (the backend), so only a few numbers per sample
        # are copied out of it
        convert = _health_parts if self.request.reduce else _to_numpy
        result = (_to_numpy(score), [None if g is None else convert(g) for g in input_grads],
                  [[None if g is None else convert(g) for g in grads] for grads in layer_grads],
                  [[_to_numpy(o) for o in outs] for outs in outputs] if self.request.keep_outputs else None)
        return result, new_state

    def _assemble(self, tensors: list[Any], differentiable: list[int], grads: list[Any], record: dict[str, Any],
                  floats: dict[str, list[bool]]) -> tuple[list[Any], list[list[Any]]]:
        """Gradients in the order of the inputs and requested layers; a missing one is zeros, and named."""
        from keras import ops

        it = iter(grads)
        input_grads: list[Any] = [None] * len(tensors)
        for i in differentiable:
            g = next(it)
            if g is None:
                self.disconnected.add(self.request.specs[i].name)
                g = ops.zeros_like(tensors[i])
            input_grads[i] = g
        layer_grads = []
        for node_id in self.ids:
            row = []
            for o, is_float in zip(record[node_id], floats[node_id], strict=True):
                g = next(it) if is_float else None
                if is_float and g is None:
                    self.disconnected.add(node_id)
                    g = ops.zeros_like(o)
                row.append(g)
            layer_grads.append(row)
        return input_grads, layer_grads

    def _tensorflow(self, tensors: list[Any], differentiable: list[int], state: list[Any],
                    labels: Any) -> tuple[Any, ...]:
        import tensorflow as tf

        with tf.GradientTape() as tape:
            for i in differentiable:
                tape.watch(tensors[i])
            score, record, new_state = self._walk(tensors, state, labels, self.request.tap)
        floats = {node_id: [_is_float(o) for o in record[node_id]] for node_id in self.ids}
        sources = [tensors[i] for i in differentiable] + [o for node_id in self.ids
                                                          for o, f in zip(record[node_id], floats[node_id],
                                                                          strict=True) if f]
        grads = tape.gradient(score, sources, unconnected_gradients=tf.UnconnectedGradients.NONE) if sources else []
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        input_grads, layer_grads = self._assemble(tensors, differentiable, grads, record, floats)
        return score, input_grads, layer_grads, [record[i] for i in self.ids], new_state

    def _jax(self, tensors: list[Any], differentiable: list[int], state: list[Any], labels: Any) -> tuple[Any, ...]:
        import jax

        from inspector.model.keras_internals import copy_keras_mask

        floats, zeros = self._zero_outputs(tensors, state, labels)
        user_tap = self.request.tap

        def total(inputs: list[Any], added: dict[str, list[Any]]) -> tuple[Any, tuple[Any, ...]]:
            def tapped(node_id: str, outs: list[Any]) -> list[Any]:
                if user_tap is not None:
                    outs = user_tap(node_id, outs)
                return [o if z is None else copy_keras_mask(o + z, o) for o, z in zip(outs, added[node_id], strict=True)]

            full = list(tensors)
            for i, v in zip(differentiable, inputs, strict=True):
                full[i] = v
            score, record, new_state = self._walk(full, state, labels, tapped)
            return jax.numpy.sum(score), (score, record, new_state)

        (input_part, layer_part), (score, record, new_state) = jax.grad(total, argnums=(0, 1), has_aux=True)(
            [tensors[i] for i in differentiable], zeros)
        grads = list(input_part) + [g for node_id in self.ids for g, f in zip(layer_part[node_id], floats[node_id],
                                                                              strict=True) if f]
        input_grads, layer_grads = self._assemble(tensors, differentiable, grads, record, floats)
        return score, input_grads, layer_grads, [record[i] for i in self.ids], new_state

    def _zero_outputs(self, tensors: list[Any], state: list[Any],
                      labels: Any) -> tuple[dict[str, list[bool]], dict[str, list[Any]]]:
        """The zeros JAX differentiates against, one per float output of a requested layer, shaped as the
        output is for this batch (shapes from the graph; traced without computing when one is not fixed)."""
        import jax

        by_id = {e.id: e for e in self.request.entries}
        n = len(tensors[0])
        shapes: dict[str, list[tuple[tuple[int, ...], str]]] = {}
        for node_id in self.ids:
            entry = by_id[node_id]
            shapes[node_id] = [((n, *shape[1:]), dtype) for shape, dtype in entry.outputs]
        if any(d is None for outs in shapes.values() for shape, _ in outs for d in shape):
            traced = jax.eval_shape(lambda ts: self._walk(ts, state, labels, None)[1], tensors)
            shapes = {i: [(tuple(o.shape), str(o.dtype)) for o in traced[i]] for i in self.ids}
        floats = {i: [_float_name(dtype) for _, dtype in outs] for i, outs in shapes.items()}
        zeros = {i: [jax.numpy.zeros(shape, dtype) if f else None for (shape, dtype), f in
                     zip(outs, floats[i], strict=True)] for i, outs in shapes.items()}
        return floats, zeros


def _float_name(dtype: str) -> bool:
    try:
        return np.dtype(dtype).kind == "f"
    except TypeError:
        return dtype == "bfloat16"

