"""The output shape of a layer call, computed from the layer's config and input shapes without importing Keras.

The static view fills in the shapes a config does not record (a Sequential model records its input
only; a functional one, each call's inputs but not the model's outputs).  Keras answers with
``compute_output_shape`` on a layer built from its config, but importing Keras imports TensorFlow,
which takes seconds: most of ``keras-inspector summary``'s time on a small model.  This module makes
Keras's arithmetic for the layers most models are made of (dense, convolutions and their transposes,
pooling, padding, cropping, upsampling, reshaping, merging, embeddings, recurrent layers and their
wrappers, and the layers that keep their input's shape), so
:func:`~inspector.model.shape_inference.infer_shapes` asks Keras only about the others.

Its contract: a layer (or a config, or an input) it does not know exactly gives ``None``, never a guess;
the tests compare every rule with Keras's own ``compute_output_shape`` over a grid of configs and with
the shapes of the loaded sample and real models.

Example:
    >>> output_shapes("Conv2D", {"filters": 8, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"},
    ...               ((None, 32, 32, 3),))
    ((None, 16, 16, 8),)
    >>> output_shapes("MyLayer", {}, ((None, 3),)) is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from inspector.graph import Shape

__all__ = ["output_shapes"]

_Dims = tuple[int | None, ...]


class _Unknown(Exception):
    """This call's output shape is not computed here."""


def output_shapes(class_name: str, config: dict[str, Any], inputs: tuple[Shape | None, ...]
                  ) -> tuple[Shape, ...] | None:
    """The shapes a call of a built-in Keras layer returns; ``None`` when this module does not know them exactly.

    Example:
        >>> output_shapes("LSTM", {"units": 4, "return_sequences": True}, ((None, 7, 3),))
        ((None, 7, 4),)
        >>> output_shapes("Concatenate", {"axis": -1}, ((None, 2), (None, 3)))
        ((None, 5),)
    """
    rule = _RULES.get(class_name)
    if rule is None or not isinstance(config, dict) or not inputs or any(s is None for s in inputs):
        return None
    shapes = tuple(tuple(s) for s in inputs if s is not None)
    if not all(all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in s)
               for s in shapes):
        return None
    try:
        return rule(config, shapes)
    except (_Unknown, TypeError, ValueError, KeyError, IndexError, ZeroDivisionError):
        return None


# --------------------------------------------------------------------------- helpers
def _one(inputs: tuple[_Dims, ...]) -> _Dims:
    if len(inputs) != 1:
        raise _Unknown("the rule takes one input")
    return inputs[0]


def _int(value: Any, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _Unknown(f"{value!r} is not a whole number ≥ {minimum}")
    return value


def _tuple(value: Any, rank: int, *, minimum: int = 1) -> tuple[int, ...]:
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,) * rank
    if len(values) != rank:
        raise _Unknown(f"{value!r} does not have {rank} values")
    return tuple(_int(v, minimum=minimum) for v in values)


def _channels_first(config: dict[str, Any]) -> bool:
    data_format = config.get("data_format") or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise _Unknown(f"data_format {data_format!r}")
    return data_format == "channels_first"


def _spatial(config: dict[str, Any], shape: _Dims, rank: int) -> tuple[_Dims, Callable[[_Dims, int | None], _Dims]]:
    """The spatial dimensions of ``shape`` and a function putting new ones (and a channel count) back."""
    if len(shape) != rank + 2:
        raise _Unknown(f"a {rank}-D layer takes {rank + 2} dimensions")
    first = _channels_first(config)
    spatial = shape[2:] if first else shape[1:-1]
    channels = shape[1] if first else shape[-1]

    def rebuilt(new: _Dims, new_channels: int | None = channels) -> _Dims:
        return (shape[0], new_channels, *new) if first else (shape[0], *new, new_channels)

    return spatial, rebuilt


def _padding(config: dict[str, Any], allowed: tuple[str, ...]) -> str:
    padding = str(config.get("padding", "valid")).lower()
    if padding not in allowed:
        raise _Unknown(f"padding {padding!r}")
    return padding


def _windowed(size: int | None, window: int, stride: int, padding: str) -> int | None:
    """``compute_conv_output_shape`` / ``compute_pooling_output_shape`` for one dimension."""
    if size is None:
        return None
    out = (size - window) // stride + 1 if padding == "valid" else (size - 1) // stride + 1
    if out <= 0:
        raise _Unknown("the window is larger than the input")
    return out


# --------------------------------------------------------------------------- rules
def _same(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
    return (_one(inputs),)


def _dense(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
    shape = _one(inputs)
    if len(shape) < 2:
        raise _Unknown("Dense takes at least 2 dimensions")
    return ((*shape[:-1], _int(config.get("units"))),)


def _conv(rank: int, *, kind: str = "conv") -> Callable[[dict[str, Any], tuple[_Dims, ...]], tuple[_Dims, ...]]:
    def rule(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
        spatial, rebuilt = _spatial(config, _one(inputs), rank)
        kernel = _tuple(config.get("kernel_size"), rank)
        strides = _tuple(config.get("strides", 1), rank)
        dilation = _tuple(config.get("dilation_rate", 1), rank)
        if kind == "transpose":
            padding = _padding(config, ("valid", "same"))
            extra = config.get("output_padding")
            extras = (None,) * rank if extra is None else _tuple(extra, rank, minimum=0)
            new = tuple(_transposed(n, k, padding, p, s, d)
                        for n, k, p, s, d in zip(spatial, kernel, extras, strides, dilation, strict=True))
        else:
            padding = _padding(config, ("valid", "same", "causal") if rank == 1 and kind != "local" else
                               ("valid", "same"))
            if any(s > 1 for s in strides) and any(d > 1 for d in dilation):
                raise _Unknown("strides and dilation together")
            new = tuple(_windowed(n, d * (k - 1) + 1, s, padding)
                        for n, k, s, d in zip(spatial, kernel, strides, dilation, strict=True))
        if kind == "depthwise":
            channels = _one(inputs)[1 if _channels_first(config) else -1]
            channels = None if channels is None else channels * _int(config.get("depth_multiplier", 1))
        else:
            channels = _int(config.get("filters"))
        return (rebuilt(new, channels),)

    return rule


def _transposed(size: int | None, kernel: int, padding: str, output_padding: int | None, stride: int,
                dilation: int) -> int | None:
    """Keras 3's ``_get_output_shape_given_tf_padding`` for one dimension."""
    if size is None:
        return None
    kernel = (kernel - 1) * dilation + 1
    if padding == "valid":
        extra = max(kernel, stride) - kernel if output_padding is None else output_padding
        return (size - 1) * stride + kernel + extra
    return size * stride if output_padding is None else (size - 1) * stride + kernel % 2 + output_padding


def _pooling(rank: int) -> Callable[[dict[str, Any], tuple[_Dims, ...]], tuple[_Dims, ...]]:
    def rule(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
        spatial, rebuilt = _spatial(config, _one(inputs), rank)
        pool = _tuple(config.get("pool_size", 2), rank)
        strides = pool if config.get("strides") is None else _tuple(config.get("strides"), rank)
        padding = _padding(config, ("valid", "same"))
        return (rebuilt(tuple(_windowed(n, p, s, padding) for n, p, s in zip(spatial, pool, strides, strict=True))),)

    return rule


def _global_pooling(rank: int) -> Callable[[dict[str, Any], tuple[_Dims, ...]], tuple[_Dims, ...]]:
    def rule(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
        spatial, rebuilt = _spatial(config, _one(inputs), rank)
        if config.get("keepdims", False):
            return (rebuilt((1,) * rank),)
        shape = rebuilt(spatial)
        return ((shape[0], shape[1] if _channels_first(config) else shape[-1]),)

    return rule


def _resized(rank: int, how: str) -> Callable[[dict[str, Any], tuple[_Dims, ...]], tuple[_Dims, ...]]:
    """ZeroPadding, Cropping and UpSampling: each spatial dimension grown, cut or multiplied."""
    def rule(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
        shape = _one(inputs)
        if rank == 1:  # these 1-D layers have no data_format: (batch, steps, channels)
            if len(shape) != 3:
                raise _Unknown("a 1-D layer takes 3 dimensions")
            spatial, rebuild = shape[1:2], (lambda new: (shape[0], *new, shape[2]))
        else:
            spatial, rebuilt = _spatial(config, shape, rank)
            rebuild = rebuilt  # type: ignore[assignment]
        if how == "upsample":
            factors = _tuple(config["size"], rank)
            return (rebuild(tuple(None if n is None else n * f for n, f in zip(spatial, factors, strict=True))),)
        amounts = _pairs(config["padding" if how == "pad" else "cropping"], rank)
        sign = 1 if how == "pad" else -1
        new = tuple(None if n is None else n + sign * (a + b) for n, (a, b) in zip(spatial, amounts, strict=True))
        if any(n is not None and n <= 0 for n in new):
            raise _Unknown("cropped to nothing")
        return (rebuild(new),)

    return rule


def _pairs(value: Any, rank: int) -> tuple[tuple[int, int], ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        return ((_int(value, minimum=0),) * 2,) * rank
    values = tuple(value)
    if rank == 1 and len(values) == 2 and all(isinstance(v, int) for v in values):
        return ((_int(values[0], minimum=0), _int(values[1], minimum=0)),)
    if len(values) != rank:
        raise _Unknown(f"{value!r}")
    pairs = []
    for v in values:
        pair = _tuple(v, 2, minimum=0)
        pairs.append((pair[0], pair[1]))
    return tuple(pairs)


def _flatten(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
    shape = _one(inputs)
    rest = shape[1:]
    return ((shape[0], math.prod(rest) if all(d is not None for d in rest) else None),)  # type: ignore[arg-type]


def _reshape(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
    shape = _one(inputs)
    target = tuple(config.get("target_shape"))
    if not all(isinstance(d, int) and not isinstance(d, bool) and (d > 0 or d == -1) for d in target):
        raise _Unknown(f"target_shape {target!r}")
    if target.count(-1) > 1:
        raise _Unknown("more than one -1")
    if -1 not in target:
        return ((shape[0], *target),)
    rest = shape[1:]
    if any(d is None for d in rest):
        return ((shape[0], *(None if d == -1 else d for d in target)),)
    known = math.prod(d for d in target if d != -1)
    total = math.prod(rest)  # type: ignore[arg-type]
    if known == 0 or total % known:
        raise _Unknown("the sizes do not divide")
    return ((shape[0], *(total // known if d == -1 else d for d in target)),)


def _permute(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
    shape = _one(inputs)
    dims = tuple(config.get("dims"))
    if sorted(dims) != list(range(1, len(shape))):
        raise _Unknown(f"dims {dims!r}")
    return ((shape[0], *(shape[d] for d in dims)),)


def _repeat_vector(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
    shape = _one(inputs)
    if len(shape) != 2:
        raise _Unknown("RepeatVector takes 2 dimensions")
    return ((shape[0], _int(config.get("n")), shape[1]),)


def _elementwise(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
    # Keras broadcasts shapes of different ranks or sizes; the same shapes (the common case) are all it takes here
    if len(inputs) < 2 or len(set(inputs)) != 1:
        raise _Unknown("inputs of different shapes")
    return (inputs[0],)


def _concatenate(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
    rank = len(inputs[0])
    if len(inputs) < 2 or any(len(s) != rank for s in inputs):
        raise _Unknown("inputs of different ranks")
    axis = config.get("axis", -1)
    axis = _int(axis + rank if isinstance(axis, int) and axis < 0 else axis, minimum=1)
    if axis >= rank:
        raise _Unknown(f"axis {axis}")
    if any(s[:axis] + s[axis + 1:] != inputs[0][:axis] + inputs[0][axis + 1:] for s in inputs):
        raise _Unknown("sizes differ off the axis")  # Keras refuses some of these when it builds the layer
    column = [s[axis] for s in inputs]
    size = None if None in column else sum(column)  # type: ignore[arg-type]
    return ((*inputs[0][:axis], size, *inputs[0][axis + 1:]),)


def _embedding(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
    return ((*_one(inputs), _int(config.get("output_dim"))),)


def _recurrent(states: int) -> Callable[[dict[str, Any], tuple[_Dims, ...]], tuple[_Dims, ...]]:
    """SimpleRNN and GRU keep one state, LSTM two; a layer returning them returns its output, then the states."""
    def rule(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
        shape = inputs[0]  # the others are initial states
        if len(shape) != 3 or config.get("time_major"):
            raise _Unknown("not (batch, steps, features)")
        units = _int(config.get("units"))
        output = (shape[0], shape[1], units) if config.get("return_sequences") else (shape[0], units)
        return (output, *((shape[0], units),) * (states if config.get("return_state") else 0))

    return rule


def _bidirectional(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
    shape = _one(inputs)
    inner = config.get("layer")
    recurrent = ("LSTM", "GRU", "SimpleRNN")
    if not isinstance(inner, dict) or inner.get("class_name") not in recurrent:
        raise _Unknown("not a built-in recurrent layer")
    # Keras 3 writes the backward copy out; tf.keras 2 a backward layer only when given one, of any recurrent
    # class and size (Keras 3's own Bidirectional.compute_output_shape assumes the forward layer's)
    backward_config = config.get("backward_layer") or inner
    if not isinstance(backward_config, dict) or backward_config.get("class_name") not in recurrent:
        raise _Unknown("a backward layer that is not a built-in recurrent layer")
    if inner.get("config", {}).get("return_state") or backward_config.get("config", {}).get("return_state"):
        raise _Unknown("states returned")
    (forward,) = _RULES[inner["class_name"]](inner.get("config"), (shape,))
    (backward,) = _RULES[backward_config["class_name"]](backward_config.get("config"), (shape,))
    if forward[:-1] != backward[:-1]:
        raise _Unknown("the directions return different steps")
    mode = config.get("merge_mode", "concat")
    if mode == "concat":
        return ((*forward[:-1], forward[-1] + backward[-1]),)  # type: ignore[operator]
    if mode is None:  # both directions' sequences, forward first
        return (forward, backward)
    if mode in ("sum", "mul", "ave") and forward == backward:
        return (forward,)
    raise _Unknown(f"merge_mode {mode!r}")


def _time_distributed(config: dict[str, Any], inputs: tuple[_Dims, ...]) -> tuple[_Dims, ...]:
    shape = _one(inputs)
    inner = config.get("layer")
    if len(shape) < 3 or not isinstance(inner, dict) or not isinstance(inner.get("class_name"), str):
        raise _Unknown("not a layer over (batch, steps, ...)")
    result = output_shapes(inner["class_name"], inner.get("config"), ((shape[0], *shape[2:]),))
    if result is None or len(result) != 1:
        raise _Unknown("the inner layer's shape")
    return ((result[0][0], shape[1], *result[0][1:]),)


_SAME_SHAPE = (
    "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax", "ThresholdedReLU", "Dropout", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "BatchNormalization",
    "LayerNormalization", "GroupNormalization", "UnitNormalization", "Masking", "Rescaling", "Identity",
    "ActivityRegularization",
)
_RULES: dict[str, Callable[[dict[str, Any], tuple[_Dims, ...]], tuple[_Dims, ...]]] = {
    **dict.fromkeys(_SAME_SHAPE, _same),
    "Dense": _dense,
    "Conv1D": _conv(1), "Conv2D": _conv(2), "Conv3D": _conv(3),
    "Conv1DTranspose": _conv(1, kind="transpose"), "Conv2DTranspose": _conv(2, kind="transpose"),
    "Conv3DTranspose": _conv(3, kind="transpose"),
    "DepthwiseConv1D": _conv(1, kind="depthwise"), "DepthwiseConv2D": _conv(2, kind="depthwise"),
    "SeparableConv1D": _conv(1, kind="separable"), "SeparableConv2D": _conv(2, kind="separable"),
    "LocallyConnected1D": _conv(1, kind="local"), "LocallyConnected2D": _conv(2, kind="local"),  # tf.keras 2's
    "MaxPooling1D": _pooling(1), "MaxPooling2D": _pooling(2), "MaxPooling3D": _pooling(3),
    "AveragePooling1D": _pooling(1), "AveragePooling2D": _pooling(2), "AveragePooling3D": _pooling(3),
    "GlobalMaxPooling1D": _global_pooling(1), "GlobalMaxPooling2D": _global_pooling(2),
    "GlobalMaxPooling3D": _global_pooling(3), "GlobalAveragePooling1D": _global_pooling(1),
    "GlobalAveragePooling2D": _global_pooling(2), "GlobalAveragePooling3D": _global_pooling(3),
    "ZeroPadding1D": _resized(1, "pad"), "ZeroPadding2D": _resized(2, "pad"), "ZeroPadding3D": _resized(3, "pad"),
    "Cropping1D": _resized(1, "crop"), "Cropping2D": _resized(2, "crop"), "Cropping3D": _resized(3, "crop"),
    "UpSampling1D": _resized(1, "upsample"), "UpSampling2D": _resized(2, "upsample"),
    "UpSampling3D": _resized(3, "upsample"),
    "Flatten": _flatten, "Reshape": _reshape, "Permute": _permute, "RepeatVector": _repeat_vector,
    "Add": _elementwise, "Subtract": _elementwise, "Multiply": _elementwise, "Average": _elementwise,
    "Maximum": _elementwise, "Minimum": _elementwise, "Concatenate": _concatenate,
    "Embedding": _embedding,
    "SimpleRNN": _recurrent(1), "LSTM": _recurrent(2), "GRU": _recurrent(1),
    "Bidirectional": _bidirectional, "TimeDistributed": _time_distributed,
}
