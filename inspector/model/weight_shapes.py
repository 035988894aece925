"""The weights each layer of a static graph will hold, predicted from its config and input shape.

Keras creates a layer's weights in ``build`` from two things the static view has before the
file's weights are walked: the layer's config and the shape of its input.  This module makes
the same arithmetic for the layers most models are made of (dense, convolutions, normalizations,
embeddings, recurrent layers and their wrappers, and the layers without weights), so that a front
end can lay a graph out while the HDF5 child still walks the stored weights
(:func:`~inspector.model.static.static_graph`'s ``predicted``).  A prediction only ever starts
work early: the graph a caller gets is built from the stored shapes.  One layer whose weights
cannot be predicted (a class not known here, an unknown input dimension, a config Keras would
refuse) makes the whole prediction ``None``.

Example:
    >>> import inspector
    >>> graph = inspector.static_graph("sample_models/otto_mlp/model.keras")
    >>> predicted = predict_weights(graph)
    >>> [(w.name, w.shape) for w in predicted["hidden"]]
    [('kernel', (93, 100)), ('bias', (100,))]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inspector.graph import ModelGraph, NodeKind, Shape
from inspector.io.files import StoredWeight
from inspector.model.locally_connected import kernel_shape, output_size

__all__ = ["predict_weights", "layer_weights"]

_Weights = list[tuple[str, tuple[int, ...]]]


class _Unknown(Exception):
    """This layer's weights cannot be predicted."""


_WEIGHTLESS = frozenset({
    "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "ThresholdedReLU", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "Flatten", "Reshape",
    "Permute", "RepeatVector", "Cropping1D", "Cropping2D", "Cropping3D", "ZeroPadding1D", "ZeroPadding2D",
    "ZeroPadding3D", "UpSampling1D", "UpSampling2D", "UpSampling3D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D",
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "GlobalMaxPooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "Add",
    "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot", "Rescaling", "Resizing",
    "CenterCrop", "Masking", "Lambda", "Identity", "ActivityRegularization", "UnitNormalization",
})


def predict_weights(graph: ModelGraph) -> dict[str, tuple[StoredWeight, ...]] | None:
    """The weights of every layer of ``graph``, keyed by layer path as the file stores them; ``None`` when one
    layer's cannot be predicted.

    The names are Keras's (``kernel``, ``moving_mean``), which the static view reads as the stored
    ones for trainability; a layer called more than once is predicted at its first call.

    Example:
        >>> from inspector.graph import LayerNode, ModelGraph
        >>> conv = LayerNode(id="c", name="c", class_name="Conv2D", input_shapes=((None, 32, 32, 3),), path="c",
        ...                  config={"filters": 8, "kernel_size": [3, 3], "use_bias": False})
        >>> predict_weights(ModelGraph("m", "Functional", (conv,), (), ("c",), ("c",)))["c"]
        (StoredWeight(name='kernel', shape=(3, 3, 3, 8), dtype='float32'),)
    """
    out: dict[str, tuple[StoredWeight, ...]] = {}
    for node, owner in graph.walk():
        if node.kind == NodeKind.INPUT or node.id in owner.nested or node.shared_with:
            continue
        if node.kind != NodeKind.LAYER:
            return None
        weights = layer_weights(node.class_name, node.config, node.input_shapes)
        if weights is None:
            return None
        dtype = node.dtype if node.dtype in ("float16", "bfloat16", "float64") else "float32"
        out[node.path] = tuple(StoredWeight(name, shape, dtype) for name, shape in weights)
    return out


def layer_weights(class_name: str, config: dict[str, Any], input_shapes: tuple[Shape | None, ...]) -> _Weights | None:
    """``(name, shape)`` of each weight ``build`` gives a layer of this class, config and input; ``None`` if unknown.

    Example:
        >>> layer_weights("BatchNormalization", {"axis": -1}, ((None, 10, 10, 16),))
        [('gamma', (16,)), ('beta', (16,)), ('moving_mean', (16,)), ('moving_variance', (16,))]
        >>> layer_weights("MyLayer", {}, ((None, 4),)) is None
        True
    """
    if class_name in _WEIGHTLESS:
        return []
    rule = _RULES.get(class_name)
    if rule is None or not input_shapes or input_shapes[0] is None or not isinstance(config, dict):
        return None
    try:
        return rule(config, tuple(input_shapes[0]))
    except (_Unknown, TypeError, ValueError, KeyError, IndexError):
        return None


# --------------------------------------------------------------------------- rules
def _dim(shape: tuple[int | None, ...], axis: int) -> int:
    size = shape[axis]
    if size is None or size <= 0:
        raise _Unknown(f"dimension {axis} of {shape} is unknown")
    return int(size)


def _positive(config: dict[str, Any], key: str, default: Any = None) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _Unknown(f"{key} is {value!r}")
    return value


def _sizes(value: Any, rank: int) -> tuple[int, ...]:
    sizes = tuple(value) if isinstance(value, (list, tuple)) else (value,) * rank
    if len(sizes) != rank or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in sizes):
        raise _Unknown(f"kernel_size {value!r}")
    return sizes


def _channels(config: dict[str, Any], shape: tuple[int | None, ...]) -> int:
    return _dim(shape, 1 if config.get("data_format") == "channels_first" else -1)


def _bias(config: dict[str, Any], size: int) -> _Weights:
    return [("bias", (size,))] if config.get("use_bias", True) else []


def _no_extras(config: dict[str, Any]) -> None:
    # LoRA and quantization add weights of their own
    policy = config.get("dtype")
    if config.get("lora_rank") or (isinstance(policy, dict) and "Quantized" in str(policy.get("class_name"))):
        raise _Unknown("LoRA or quantized weights")


def _dense(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
    _no_extras(config)
    units = _positive(config, "units")
    return [("kernel", (_dim(shape, -1), units)), *_bias(config, units)]


def _conv(rank: int, *, transpose: bool = False) -> Callable[[dict[str, Any], tuple[int | None, ...]], _Weights]:
    def rule(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
        _no_extras(config)
        filters, channels = _positive(config, "filters"), _channels(config, shape)
        kernel = _sizes(config.get("kernel_size"), rank)
        if transpose:
            return [("kernel", (*kernel, filters, channels)), *_bias(config, filters)]
        groups = _positive(config, "groups", 1)
        if channels % groups or filters % groups:
            raise _Unknown("groups do not divide the channels")
        return [("kernel", (*kernel, channels // groups, filters)), *_bias(config, filters)]
    return rule


def _locally_connected(rank: int) -> Callable[[dict[str, Any], tuple[int | None, ...]], _Weights]:
    def rule(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
        first = config.get("data_format") == "channels_first"
        if len(shape) != rank + 2:
            raise _Unknown(f"a {rank}-D layer takes {rank + 2} dimensions")
        sizes = tuple(_dim(shape, axis) for axis in (range(2, rank + 2) if first else range(1, rank + 1)))
        filters, channels = _positive(config, "filters"), _channels(config, shape)
        kernel, strides = _sizes(config.get("kernel_size"), rank), _sizes(config.get("strides", 1), rank)
        padding, implementation = str(config.get("padding", "valid")).lower(), config.get("implementation", 1)
        if padding not in ("valid", "same") or implementation not in (1, 2, 3) or (padding, implementation) == (
                "same", 1):
            raise _Unknown(f"padding {padding!r} with implementation {implementation!r}")
        outs = tuple(output_size(n, k, s, padding) for n, k, s in zip(sizes, kernel, strides, strict=True))
        if min(outs) <= 0:
            raise _Unknown("the window is larger than the input")
        weights = [("kernel", kernel_shape(sizes, channels, filters, kernel, strides, padding, first, implementation))]
        return weights + ([("bias", (*outs, filters))] if config.get("use_bias", True) else [])
    return rule


def _depthwise(rank: int) -> Callable[[dict[str, Any], tuple[int | None, ...]], _Weights]:
    def rule(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
        channels, multiplier = _channels(config, shape), _positive(config, "depth_multiplier", 1)
        kernel = _sizes(config.get("kernel_size"), rank)
        return [("depthwise_kernel", (*kernel, channels, multiplier)), *_bias(config, channels * multiplier)]
    return rule


def _separable(rank: int) -> Callable[[dict[str, Any], tuple[int | None, ...]], _Weights]:
    def rule(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
        channels, multiplier = _channels(config, shape), _positive(config, "depth_multiplier", 1)
        filters, kernel = _positive(config, "filters"), _sizes(config.get("kernel_size"), rank)
        return [("depthwise_kernel", (*kernel, channels, multiplier)),
                ("pointwise_kernel", (*(1,) * rank, channels * multiplier, filters)), *_bias(config, filters)]
    return rule


def _axis_sizes(config: dict[str, Any], shape: tuple[int | None, ...], default: Any = -1) -> tuple[int, ...]:
    axis = config.get("axis", default)
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    if not axes or not all(isinstance(a, int) and -len(shape) <= a < len(shape) for a in axes):
        raise _Unknown(f"axis {axis!r}")
    return tuple(_dim(shape, a) for a in sorted(a % len(shape) for a in axes))


def _batch_normalization(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
    size = _axis_sizes(config, shape)
    if len(size) != 1:
        raise _Unknown("BatchNormalization over several axes")
    scale = [("gamma", size)] if config.get("scale", True) else []
    center = [("beta", size)] if config.get("center", True) else []
    return [*scale, *center, ("moving_mean", size), ("moving_variance", size)]


def _layer_normalization(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
    size, rms = _axis_sizes(config, shape), bool(config.get("rms_scaling", False))
    scale = [("gamma", size)] if config.get("scale", True) or rms else []
    center = [("beta", size)] if config.get("center", True) and not rms else []
    return [*scale, *center]


def _rms_normalization(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
    return [("scale", _axis_sizes(config, shape))]


def _group_normalization(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
    size = _axis_sizes(config, shape)
    return [*([("gamma", size)] if config.get("scale", True) else []),
            *([("beta", size)] if config.get("center", True) else [])]


def _normalization(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
    if config.get("mean") is not None or config.get("variance") is not None:
        return []  # given in the config: constants, not weights
    if config.get("invert"):
        raise _Unknown("an inverted Normalization")
    size = _axis_sizes(config, shape)
    return [("mean", size), ("variance", size), ("count", ())]


def _embedding(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
    _no_extras(config)
    return [("embeddings", (_positive(config, "input_dim"), _positive(config, "output_dim")))]


def _prelu(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
    alpha = [_dim(shape, i) for i in range(1, len(shape))]
    shared = config.get("shared_axes") or []
    for axis in shared if isinstance(shared, list) else [shared]:
        if not isinstance(axis, int) or not 1 <= axis < len(shape):
            raise _Unknown(f"shared_axes {shared!r}")
        alpha[axis - 1] = 1
    return [("alpha", tuple(alpha))]


def _recurrent(gates: int) -> Callable[[dict[str, Any], tuple[int | None, ...]], _Weights]:
    def rule(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
        units, inputs = _positive(config, "units"), _dim(shape, -1)
        bias: _Weights = []
        if config.get("use_bias", True):
            bias = [("bias", (2, gates * units) if gates == 3 and config.get("reset_after", True) else
                     (gates * units,))]
        return [("kernel", (inputs, gates * units)), ("recurrent_kernel", (units, gates * units)), *bias]
    return rule


def _inner(config: dict[str, Any], key: str, shape: tuple[int | None, ...]) -> _Weights:
    layer = config.get(key)
    if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
        raise _Unknown(f"no {key} config")
    weights = layer_weights(str(layer.get("class_name")), layer["config"], (shape,))
    if weights is None:
        raise _Unknown(f"the wrapped {layer.get('class_name')}")
    return weights


def _bidirectional(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
    forward = _inner(config, "layer", shape)
    backward = _inner(config, "backward_layer", shape) if config.get("backward_layer") else forward
    return [*forward, *backward]


def _time_distributed(config: dict[str, Any], shape: tuple[int | None, ...]) -> _Weights:
    if len(shape) < 3:
        raise _Unknown("TimeDistributed over fewer than 3 dimensions")
    return _inner(config, "layer", (shape[0], *shape[2:]))


_RULES: dict[str, Callable[[dict[str, Any], tuple[int | None, ...]], _Weights]] = {
    "Dense": _dense,
    "Conv1D": _conv(1), "Conv2D": _conv(2), "Conv3D": _conv(3),
    "Conv1DTranspose": _conv(1, transpose=True), "Conv2DTranspose": _conv(2, transpose=True),
    "Conv3DTranspose": _conv(3, transpose=True),
    "DepthwiseConv1D": _depthwise(1), "DepthwiseConv2D": _depthwise(2),
    "SeparableConv1D": _separable(1), "SeparableConv2D": _separable(2),
    "LocallyConnected1D": _locally_connected(1), "LocallyConnected2D": _locally_connected(2),  # tf.keras 2's
    "BatchNormalization": _batch_normalization, "LayerNormalization": _layer_normalization,
    "GroupNormalization": _group_normalization, "RMSNormalization": _rms_normalization,
    "Normalization": _normalization,
    "Embedding": _embedding, "PReLU": _prelu,
    "SimpleRNN": _recurrent(1), "LSTM": _recurrent(4), "GRU": _recurrent(3),
    "Bidirectional": _bidirectional, "TimeDistributed": _time_distributed,
}
