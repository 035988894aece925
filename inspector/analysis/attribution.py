"""Attribution maps: which inputs made the score — saliency (with SmoothGrad), Grad-CAM, integrated gradients.

Each function takes a model, samples and a ``target`` (an output unit/class
index, or a callable on the model's outputs giving one score per sample; see
:mod:`inspector.analysis.gradients`) and returns a frozen result holding plain
NumPy arrays, one row per sample; :mod:`inspector.rendering.attribution` draws them.

* :func:`saliency` — ``|∂score/∂input|`` (Simonyan et al. 2014); with
  ``smoothgrad=N``, the mean of that map over ``N`` noisy copies of each sample
  (Smilkov et al. 2017).
* :func:`grad_cam` — the feature maps ``A`` of a convolutional layer weighted by
  their spatially averaged gradients, ``ReLU(Σ_k mean(∂score/∂A_k) A_k)``
  (Selvaraju et al. 2017), on the last layer with a feature-map output (rank 4,
  height and width > 1) unless told, upsampled bilinearly onto the input.
* :func:`integrated_gradients` — ``(x - x') · ∫ ∂score/∂x(x' + α(x - x')) dα``
  (Sundararajan et al. 2017), the trapezoidal rule over ``steps`` intervals, with
  the completeness check: the attributions of a sample sum to
  ``score(x) - score(x')``; each sample's relative error is reported, and
  ``complete`` says whether all are within ``tolerance``.

Integer inputs (token ids into an ``Embedding``) have no gradient: saliency and
integrated gradients then attribute to the output of the first ``Embedding``
call fed by that input, one number per position (the L2 norm over the embedding
axis for saliency; the sum for integrated gradients, interpolating embeddings from
zero), and ``attributed_to`` says so.  A score that does not depend on the input
through differentiable layers is refused with :class:`~inspector.errors.InputDataError`,
never drawn as an all-zero map.

Example:
    >>> import keras, numpy as np
    >>> x = keras.Input((3,), name="x")
    >>> m = keras.Model(x, keras.layers.Dense(1, name="d", kernel_initializer="ones")(x))
    >>> ig = integrated_gradients(m, np.array([[1.0, 2.0, 3.0]]), target=0, steps=8)
    >>> ig.attributions.round(3).tolist(), ig.complete
    ([[1.0, 2.0, 3.0]], True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from inspector.analysis.forward import Mode, _mode
from inspector.analysis.gradients import LayerGradients, layer_gradients
from inspector.analysis.layer_calls import _Catalog, _catalog, _resolve
from inspector.errors import InputDataError, LayerNotFoundError
from inspector.io.inputs import input_specs, prepare_arrays

__all__ = ["Saliency", "GradCam", "IntegratedGradients", "saliency", "grad_cam", "integrated_gradients",
           "feature_map_layer", "select_sample"]


@dataclass(frozen=True)
class Saliency:
    """``map``: one attribution per input value (or per position of an embedded sequence), one row per sample."""

    map: np.ndarray
    score: np.ndarray
    input: str
    attributed_to: str
    target: str
    smoothgrad: int = 0


@dataclass(frozen=True)
class GradCam:
    """``cam``: the class-activation map at the layer's resolution; ``heatmap``: it upsampled onto the input and
    scaled to [0, 1] per sample (``None`` when the input is not an image)."""

    cam: np.ndarray
    heatmap: np.ndarray | None
    layer: str
    score: np.ndarray
    target: str


@dataclass(frozen=True)
class IntegratedGradients:
    """``attributions`` per input value (or per embedded position); the completeness check per sample:
    ``attributions.sum() == score - baseline_score`` within ``tolerance`` (relative)."""

    attributions: np.ndarray
    score: np.ndarray
    baseline_score: np.ndarray
    # |sum - (score - baseline_score)| / max(|score - baseline_score|, 1e-6 max(|score|, |baseline_score|), 1e-12):
    # a change below float32 rounding of the scores is measured against that rounding
    completeness_error: np.ndarray
    tolerance: float
    steps: int
    input: str
    attributed_to: str
    target: str

    @property
    def complete(self) -> bool:
        """Whether every sample passes the completeness check."""
        return bool(np.all(self.completeness_error <= self.tolerance))


# =============================================================================== saliency
def saliency(model: Any, X: Any, *, target: Any, input: int | str = 0, smoothgrad: int = 0, noise: float = 0.15,
             seed: int = 0, output: int | str = 0, training: bool | Mode = False,
             batch_size: int | None = None) -> Saliency:
    """``|∂score/∂input|`` per input value; ``smoothgrad=N`` averages it over N noisy copies of each sample.

    The noise is Gaussian with a standard deviation of ``noise`` times each sample's
    value range (seeded: the same call gives the same map).

    Example:
        >>> import keras, numpy as np
        >>> x = keras.Input((2,), name="x")
        >>> m = keras.Model(x, keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant([[2.0], [-3.0]]))(x))
        >>> saliency(m, np.zeros((1, 2)), target=0).map.tolist()
        [[2.0, 3.0]]
    """
    arrays, index, name = _chosen_input(model, X, input)
    embedding = _embedding_for(model, arrays[index], index, name)
    count = _positive_int(smoothgrad, "smoothgrad") if smoothgrad else 1
    if smoothgrad and embedding is not None:
        raise InputDataError("SmoothGrad adds noise to the input values, and token ids cannot take noise.",
                             received=f"smoothgrad={smoothgrad} for input {name!r} of dtype {arrays[index].dtype}",
                             fix="Leave smoothgrad out: the saliency of the embedding's output is computed instead.")
    batch = arrays
    if smoothgrad:  # count noisy copies of each sample, next to each other
        x = arrays[index]
        rows = x.reshape(len(x), -1)
        sigma = np.repeat((rows.max(axis=1) - rows.min(axis=1)) * float(noise), count)
        batch = [np.repeat(a, count, axis=0) for a in arrays]
        noisy = np.random.default_rng(seed).normal(size=batch[index].shape) * sigma.reshape(-1, *[1] * (x.ndim - 1))
        batch[index] = (batch[index] + noisy).astype(x.dtype)
    gradients = layer_gradients(model, batch, target=target, layers=[embedding] if embedding else [], output=output,
                                training=training, batch_size=batch_size, inputs=embedding is None)
    grad, attributed_to = _attributed(gradients, name, embedding)
    values = np.abs(grad.astype(np.float64))
    if embedding is not None:
        values = np.sqrt(np.sum(values * values, axis=-1))
    values = values.reshape(len(arrays[index]), count, *values.shape[1:]).mean(axis=1)
    score = gradients.score.reshape(-1, count).mean(axis=1)
    return Saliency(_frozen(values), _frozen(score), name, attributed_to, gradients.target, count if smoothgrad else 0)


# =============================================================================== Grad-CAM
def grad_cam(model: Any, X: Any, *, target: Any, layer: Any = None, output: int | str = 0,
             training: bool | Mode = False, batch_size: int | None = None) -> GradCam:
    """Grad-CAM of ``target`` on a convolutional layer (the last feature map of the model unless ``layer``).

    Example:
        >>> import keras, numpy as np
        >>> x = keras.Input((8, 8, 1), name="image")
        >>> h = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="conv")(x)
        >>> m = keras.Model(x, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h)))
        >>> cam = grad_cam(m, np.random.default_rng(0).random((2, 8, 8, 1)), target=1)
        >>> cam.layer, cam.cam.shape, cam.heatmap.shape
        ('conv', (2, 8, 8), (2, 8, 8))
    """
    catalog = _catalog(model)
    node_id = feature_map_layer(model, catalog) if layer is None else _resolve(model, catalog, layer)
    entry = next(e for e in catalog.walk() if e.id == node_id)
    if len(entry.outputs) != 1 or len(entry.outputs[0][0]) != 4:
        raise LayerNotFoundError(
            f"Grad-CAM needs a layer whose output is a feature map (samples, height, width, channels); "
            f"{node_id!r} outputs {[s for s, _ in entry.outputs]}.",
            received=f"layer={node_id!r}", fix="Pick a convolutional layer, or leave layer out to use the last one.")
    gradients = layer_gradients(model, X, target=target, layers=[node_id], output=output, training=training,
                                batch_size=batch_size, keep_outputs=True, inputs=False)
    if node_id in gradients.disconnected:
        raise _not_differentiable(gradients, f"layer {node_id!r}")
    maps = gradients.outputs[node_id].astype(np.float64)
    weights = gradients.layers[node_id].astype(np.float64).mean(axis=(1, 2))
    cam = np.maximum(np.einsum("nhwc,nc->nhw", maps, weights), 0.0)
    shape = input_specs(model)[0].shape
    heatmap = None
    if len(shape) == 4 and shape[1] and shape[2]:
        size = (int(shape[1]), int(shape[2]))
        heatmap = np.stack([_bilinear(c, size) for c in cam]) if len(cam) else np.zeros((0, *size))
        peak = heatmap.reshape(len(heatmap), -1).max(axis=1, initial=0.0)
        heatmap = heatmap / np.where(peak > 0, peak, 1.0).reshape(-1, 1, 1)
    return GradCam(_frozen(cam), None if heatmap is None else _frozen(heatmap), node_id,
                   _frozen(gradients.score.astype(np.float64)), gradients.target)


def feature_map_layer(model: Any, catalog: _Catalog | None = None) -> str:
    """The node id of the last layer call whose output is a feature map (rank 4, height and width > 1).

    Example:
        >>> import keras
        >>> x = keras.Input((8, 8, 3))
        >>> h = keras.layers.Conv2D(4, 3, name="c1")(x)
        >>> h = keras.layers.Conv2D(4, 3, name="c2")(h)
        >>> m = keras.Model(x, keras.layers.Conv2D(4, 4, name="c3")(h))  # 1x1: no spatial map
        >>> feature_map_layer(m)
        'c2'
    """
    catalog = catalog or _catalog(model)
    found = [e.id for e in catalog.walk() if not e.is_input and len(e.outputs) == 1
             and len(e.outputs[0][0]) == 4 and all(d is None or d > 1 for d in e.outputs[0][0][1:3])]
    if not found:
        raise LayerNotFoundError(
            f"Model {getattr(model, 'name', '?')!r} has no layer with a feature-map output (samples, height, "
            "width, channels) larger than 1x1, so Grad-CAM has nothing to weigh.",
            received=f"{len(list(catalog.walk()))} layer calls, none with a rank-4 output",
            fix="Use saliency or integrated_gradients for this model.")
    return found[-1]


def _bilinear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize with half-pixel centres (as ``tf.image.resize`` and ``jax.image.resize`` do)."""
    def axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        position = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        low = np.floor(position).astype(int)
        high = np.minimum(low + 1, n_in - 1)
        return low, high, position - low

    r0, r1, fr = axis(image.shape[0], size[0])
    c0, c1, fc = axis(image.shape[1], size[1])
    top = image[r0][:, c0] * (1 - fc) + image[r0][:, c1] * fc
    bottom = image[r1][:, c0] * (1 - fc) + image[r1][:, c1] * fc
    return top * (1 - fr)[:, None] + bottom * fr[:, None]


# =============================================================================== integrated gradients
def integrated_gradients(model: Any, X: Any, *, target: Any, baseline: Any = 0.0, steps: int = 50,
                         tolerance: float = 0.05, input: int | str = 0, output: int | str = 0,
                         training: bool | Mode = False, batch_size: int | None = None) -> IntegratedGradients:
    """Integrated gradients from ``baseline`` (a number, or an array shaped like one sample or like ``X``).

    ``steps`` intervals of the trapezoidal rule (``steps + 1`` passes over ``X``);
    raise it when :attr:`IntegratedGradients.complete` is false.

    Example:
        >>> import keras, numpy as np
        >>> x = keras.Input((2,), name="x")
        >>> m = keras.Model(x, keras.layers.Dense(1, activation="tanh", kernel_initializer="ones")(x))
        >>> ig = integrated_gradients(m, np.array([[0.5, 1.0]]), target=0)
        >>> ig.complete, round(float(ig.attributions.sum()), 3) == round(float(ig.score[0] - ig.baseline_score[0]), 3)
        (True, True)
    """
    steps = _positive_int(steps, "steps")
    arrays, index, name = _chosen_input(model, X, input)
    embedding = _embedding_for(model, arrays[index], index, name)
    x = arrays[index]
    alphas = np.linspace(0.0, 1.0, steps + 1)
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] /= 2
    start = _baseline(baseline, x) if embedding is None else None
    total: np.ndarray | None = None
    scores = []
    embedded: np.ndarray | None = None
    for alpha, weight in zip(alphas, weights, strict=True):
        if start is not None:
            point = list(arrays)
            point[index] = (start + alpha * (x - start)).astype(x.dtype)
            g = layer_gradients(model, point, target=target, output=output, training=training, batch_size=batch_size)
        else:
            g = _scaled_embedding_gradients(model, arrays, str(embedding), float(alpha), target, output, training,
                                            batch_size)
            embedded = g.outputs[embedding] if alpha == 1.0 else embedded
        grad, attributed_to = _attributed(g, name, embedding)
        part = grad.astype(np.float64) * weight
        total = part if total is None else total + part
        scores.append(g.score.astype(np.float64))
    assert total is not None
    if start is not None:
        attributions = (x.astype(np.float64) - start) * total
    else:  # from the zero embedding
        attributions = np.sum(np.asarray(embedded, np.float64) * total, axis=-1)
    score, baseline_score = scores[-1], scores[0]
    change = score - baseline_score
    sums = attributions.reshape(len(attributions), -1).sum(axis=1)
    rounding = 1e-6 * np.maximum(np.abs(score), np.abs(baseline_score))
    error = np.abs(sums - change) / np.maximum(np.maximum(np.abs(change), rounding), 1e-12)
    return IntegratedGradients(_frozen(attributions), _frozen(score), _frozen(baseline_score), _frozen(error),
                               float(tolerance), steps, name, attributed_to, g.target)


def _baseline(baseline: Any, x: np.ndarray) -> np.ndarray:
    start = np.asarray(baseline, dtype=np.float64)
    try:
        return np.broadcast_to(start, x.shape).astype(np.float64)
    except ValueError as e:
        raise InputDataError("The baseline does not fit the input.",
                             received=f"a baseline of shape {start.shape} for samples of shape {x.shape[1:]}",
                             fix="Pass a number, one sample's array, or an array shaped like X.") from e


def _scaled_embedding_gradients(model: Any, arrays: list[np.ndarray], embedding: str, alpha: float, target: Any,
                                output: int | str, training: bool | Mode, batch_size: int | None) -> LayerGradients:
    """Gradients at the embedding output scaled by ``alpha`` (the straight path from the zero embedding)."""
    from inspector.analysis.gradients import _GradientRequest
    from inspector.model.keras_internals import copy_keras_mask

    request = _GradientRequest(model, [embedding], arrays, target=target, output=output, labels=None, loss=None,
                               mode=_mode(training), batch_size=batch_size, progress=False, keep_outputs=True,
                               reduce=False)
    request.tap = lambda node_id, outs: [copy_keras_mask(o * alpha, o) for o in outs] if node_id == embedding \
        else outs
    return request.gradients()


# =============================================================================== shared
def select_sample(model: Any, X: Any, index: int) -> tuple[list[np.ndarray], int]:
    """Sample ``index`` of ``X`` as a batch of one per model input, and how many samples ``X`` holds.

    Example:
        >>> import keras
        >>> m = keras.Sequential([keras.Input((2,), name="x"), keras.layers.Dense(1)])
        >>> arrays, count = select_sample(m, np.arange(6.0).reshape(3, 2), 2)
        >>> arrays[0].tolist(), count
        ([[4.0, 5.0]], 3)

    Raises:
        InputDataError: ``X`` does not match the inputs, or ``index`` is out of range.
    """
    arrays = prepare_arrays(X, input_specs(model))
    count = len(arrays[0]) if arrays else 0
    if not 0 <= index < count:
        raise InputDataError(f"Sample {index} is out of range.", received=f"{count} samples",
                             fix=f"Pick a sample between 0 and {count - 1}." if count else "Pass some samples.")
    return [a[index:index + 1] for a in arrays], count


def _chosen_input(model: Any, X: Any, input: int | str) -> tuple[list[np.ndarray], int, str]:
    specs = input_specs(model)
    arrays = prepare_arrays(X, specs)
    names = [s.name for s in specs]
    if isinstance(input, str) and input in names:
        return arrays, names.index(input), input
    if isinstance(input, (int, np.integer)) and not isinstance(input, bool) and -len(names) <= input < len(names):
        return arrays, int(input) % len(names), names[int(input)]
    raise InputDataError("input must name one of the model's inputs.", received=f"input={input!r}",
                         fix=f"Use an index 0..{len(names) - 1} or one of {names}.")


def _embedding_for(model: Any, x: np.ndarray, index: int, name: str) -> str | None:
    """The first Embedding call fed by an integer input (``None`` for a float input)."""
    if x.dtype.kind == "f":
        return None
    catalog = _catalog(model)
    reached = {id(catalog.owner.inputs[index])}
    for e in catalog.entries:
        if e.is_input:
            continue
        if any(id(t) in reached for t in e.node.input_tensors):
            if e.class_name == "Embedding":
                return e.id
            reached.update(id(t) for t in e.node.outputs)
    raise InputDataError(
        f"Input {name!r} holds integers ({x.dtype}), which have no gradient, and no Embedding layer reads it.",
        received=f"input {name!r} of dtype {x.dtype}",
        fix="Attribute to a layer output with layer_gradients(..., layers=[...]) instead, or pass float inputs.")


def _attributed(gradients: LayerGradients, name: str, embedding: str | None) -> tuple[np.ndarray, str]:
    if embedding is not None:
        if embedding in gradients.disconnected:
            raise _not_differentiable(gradients, f"the output of {embedding!r}")
        return np.asarray(gradients.layers[embedding]), f"the output of Embedding {embedding!r} (input {name!r} " \
                                                        "holds integers, which have no gradient)"
    grad = gradients.inputs[name]
    if grad is None or name in gradients.disconnected:
        raise _not_differentiable(gradients, f"input {name!r}")
    return grad, f"input {name!r}"


def _not_differentiable(gradients: LayerGradients, what: str) -> InputDataError:
    return InputDataError(
        f"The score ({gradients.target}) has no gradient with respect to {what}: it does not depend on it through "
        "differentiable layers (an argmax, rounding or integer cast in between, or another output's branch).",
        received=f"target {gradients.target}", fix="Pick another target or output, or attribute to a layer after "
                                                   "the non-differentiable step with layer_gradients(layers=[...]).")


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputDataError(f"{name} must be a positive integer.", received=f"{name}={value!r}",
                             fix=f"Pass e.g. {name}=20.")
    return int(value)


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    a.flags.writeable = False
    return a
