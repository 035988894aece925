"""Compute cost per layer call: multiply-accumulates (MACs) and activation size, per sample.

Everything here reads a :class:`~inspector.graph.ModelGraph` (class name, config
and shapes of each node), never a Keras model, so a static graph parsed from a
file is costed the same way as a walked one.  A count is ``None`` whenever the
facts it needs are missing (a shape with an unknown dimension, a layer class
this module has no rule for, a Lambda): never a guess.

What one MAC is
    One multiplication together with the addition that accumulates it.  Additions
    alone, comparisons and the non-linear functions of activations count zero;
    bias additions count zero.  Counts are per sample: the batch axis (the first)
    is left out of every shape.  The published figures (VGG16 15.47 G, ResNet50
    3.86 G, MobileNetV2 300 M at 224×224) count only the products of convolutions
    and fully connected layers; the element-wise products counted here on top
    (batch normalisation above all) add 0.0 %, 0.3 % and 2.2 % to them.

The rules (``k`` = product of the kernel size, ``C_in``/``C_out`` channels,
``S_out`` = product of the output's spatial size, ``T`` = time steps)
    - Dense (any input rank): product of the input shape × ``units``.
      EinsumDense: the product of the sizes of every index of its equation (the
      batch axis left out).
    - Conv1D/2D/3D: ``S_out × C_out × k × C_in / groups``; strides, padding and
      dilation enter through the output shape.
    - DepthwiseConv1D/2D: ``S_out × C_out × k`` (``C_out = C_in × depth_multiplier``).
    - SeparableConv1D/2D: the depthwise part plus the 1×1 pointwise part,
      ``S_out × C_in × depth_multiplier × (k + filters)``.
    - Conv1D/2D/3DTranspose: every input position scatters the whole kernel,
      ``S_in × C_in × k × C_out / groups`` (positions later cropped still count).
    - Pooling: max pooling 0; average pooling one MAC per output value (the window
      sum scaled by 1/size); the same for the global poolings.
    - BatchNormalization: one MAC per output value (at inference the moving
      statistics fold into one scale and shift per channel).
      LayerNormalization and GroupNormalization: two per value (the square for the
      variance and the normalising product), three with ``scale=True`` (gamma).
      Rescaling, Normalization (preprocessing), ConvNeXt's LayerScale and
      Inception-ResNet's CustomScaleLayer: one per value.
    - Merges: Add, Subtract, Maximum, Minimum, Concatenate 0; Multiply
      ``(inputs − 1)`` per output value; Average one per output value (1/n);
      Dot and ``keras.ops.matmul``: output values × the contracted length.
    - ``keras.ops`` nodes that only compare, cast, slice or move values: 0.
    - Embedding and every reshaping layer (Flatten, Reshape, Permute, padding,
      cropping, repeat, nearest up-sampling, dropout and noise): 0.
    - Activations (Activation, ReLU, LeakyReLU, PReLU, ELU, Softmax): 0, also
      when fused into a Dense or Conv.
    - Rules apply to Keras's own classes only: a custom class (a module outside
      ``keras``) has no count, whatever its name.
    - MultiHeadAttention with ``h`` heads, key size ``d_k``, value size ``d_v``,
      query/value lengths ``T_q``/``T_v`` and feature sizes ``F_q``/``F_k``/``F_v``,
      output size ``F_o``: projections ``T_q·F_q·h·d_k + T_v·F_k·h·d_k + T_v·F_v·h·d_v``,
      the 1/√d_k scaling of the query ``T_q·h·d_k``, scores ``h·T_q·T_v·d_k``,
      weighted sum ``h·T_q·T_v·d_v``, output projection ``T_q·h·d_v·F_o``; a gate
      (``use_gate``) adds ``T_q·F_q·h·d_v + T_q·h·d_v``.  Softmax counts 0 and a
      sliding window does not reduce the count (the scores are computed in full).
    - Attention (dot scores): ``T_q·T_v·(d + d_v)``, plus ``T_q·T_v`` with ``use_scale``.
    - Recurrent layers, per time step × ``T`` (``u`` units, ``d`` input features):
      SimpleRNN ``u(d + u)``; GRU ``3u(d + u) + 3u`` (the three gate products:
      reset, update and its complement; ``reset_after`` moves the reset product
      after the recurrent matmul, same count); LSTM ``4u(d + u) + 3u``
      (forget·c, input·g, output·tanh c).  Bidirectional: both directions, plus
      one per output value for ``merge_mode`` "mul" or "ave".
      TimeDistributed: the inner layer's count on one step × ``T``.
      ConvLSTM1D/2D/3D (``f`` filters): ``T × (S_out·4f·k·(C_in + f) + 3·S_out·f)``,
      an input and a recurrent convolution per gate.
    - A nested model: the sum of its children (``None`` if any child is unknown).
      Each call of a shared layer or model counts again: nodes are calls.

Activation size
    ``output_bytes`` is the size of the node's output tensors for one sample:
    the product of each output shape without its batch axis × the item size of
    its dtype.  ``total_output_bytes`` adds the outputs of every layer call (input
    nodes and nested-model nodes are left out: their tensors are counted where
    they are made).

Example:
    >>> from inspector.graph import Edge, LayerNode, ModelGraph, NodeKind
    >>> g = ModelGraph("m", "Functional",
    ...     (LayerNode("x", "x", "InputLayer", NodeKind.INPUT, output_shapes=((None, 3),), dtype="float32"),
    ...      LayerNode("d", "d", "Dense", input_shapes=((None, 3),), output_shapes=((None, 2),), dtype="float32")),
    ...     (Edge("x", "d"),), ("x",), ("d",))
    >>> layer_costs(g)["d"]
    LayerCost(macs=6, output_bytes=8, note='')
    >>> total_macs(g), format_macs(15_470_000_000)
    (6, '15.47 G')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from math import prod
from typing import Any

from inspector.graph import _ITEMSIZE, LayerNode, ModelGraph, NodeKind, Shape

__all__ = ["LayerCost", "layer_costs", "total_macs", "total_output_bytes", "format_macs"]


@dataclass(frozen=True)
class LayerCost:
    """The cost of one node for one sample; ``None`` where it cannot be known, with ``note`` saying why."""

    macs: int | None
    output_bytes: int | None
    note: str = ""


class _Unknown(Exception):
    """A count cannot be made; the message says why (it becomes ``LayerCost.note``)."""


def layer_costs(graph: ModelGraph) -> dict[str, LayerCost]:
    """The cost of every node at every depth, keyed by node id, in ``graph.walk()`` order.

    Example:
        >>> import inspector
        >>> graph = inspector.build_graph(inspector.get_sample("otto_mlp").path)
        >>> costs = layer_costs(graph)
        >>> costs["hidden"].macs == 93 * graph.node("hidden").config["units"]
        True
        >>> costs["softmax"].macs, sum(costs[n.id].macs for n in graph.nodes) == total_macs(graph)
        (0, True)
    """
    costs: dict[str, LayerCost] = {}
    _cost_graph(graph, costs)  # children are costed before their model node, so reorder parents first
    return {node.id: costs[node.id] for node, _ in graph.walk()}


def total_macs(graph: ModelGraph) -> int | None:
    """MACs of one forward pass of one sample; ``None`` if any layer's count is unknown.

    Example:
        >>> from inspector.graph import ModelGraph
        >>> total_macs(ModelGraph("empty", "Functional", (), (), (), ()))
        0
    """
    costs = layer_costs(graph)
    return _sum(costs[n.id].macs for n in graph.nodes)


def total_output_bytes(graph: ModelGraph) -> int | None:
    """Bytes of every layer output for one sample; ``None`` if any is unknown.

    Example:
        >>> from inspector.graph import ModelGraph
        >>> total_output_bytes(ModelGraph("empty", "Functional", (), (), (), ()))
        0
    """
    costs = layer_costs(graph)
    return _sum(costs[n.id].output_bytes for n, owner in graph.walk() if _makes_its_outputs(n, owner))


def format_macs(macs: float | None) -> str:
    """A MAC count with a decimal prefix (G = 10⁹), as the published figures are given.

    Example:
        >>> format_macs(300_774_272), format_macs(950), format_macs(None)
        ('300.77 M', '950', 'unknown')
    """
    if macs is None:
        return "unknown"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(macs) >= factor:
            return f"{macs / factor:.2f} {prefix}"
    return f"{macs:.0f}"


# ----------------------------------------------------------------------------------------------- walking
def _cost_graph(graph: ModelGraph, costs: dict[str, LayerCost]) -> None:
    dtypes = {(e.src, e.src_index): e.dtype for e in graph.edges if e.dtype}
    for node in graph.nodes:
        sub = graph.nested.get(node.id)
        output_bytes = _output_bytes(node, dtypes)
        if sub is not None:
            _cost_graph(sub, costs)
            macs = _sum(costs[n.id].macs for n in sub.nodes)
            unknown = [n.id for n in sub.nodes if costs[n.id].macs is None]
            note = f"no count for {unknown[0]}: {costs[unknown[0]].note}" if unknown else ""
        else:
            try:
                macs, note = _node_macs(node), ""
            except _Unknown as e:
                macs, note = None, str(e)
            except (TypeError, ValueError, IndexError, ZeroDivisionError, AttributeError):
                # a static graph carries whatever config the file holds (kernel_size "x", groups 0): no count
                macs, note = None, f"the config of {node.class_name} is not understood"
            if macs is not None and macs < 0:
                macs, note = None, f"the config of {node.class_name} gives a negative count"
        costs[node.id] = LayerCost(macs, output_bytes, note)


def _makes_its_outputs(node: LayerNode, owner: ModelGraph) -> bool:
    """False for inputs and for nested models whose children are walked (their tensors are the children's)."""
    return node.kind is not NodeKind.INPUT and node.id not in owner.nested


def _sum(values: Any) -> int | None:
    total = 0
    for v in values:
        if v is None:
            return None
        total += v
    return total


def _output_bytes(node: LayerNode, dtypes: dict[tuple[str, int], str]) -> int | None:
    if not node.output_shapes:
        return None
    total = 0
    for i, shape in enumerate(node.output_shapes):
        itemsize = _itemsize(dtypes.get((node.id, i)) or node.dtype)
        size = _per_sample(shape)
        if itemsize is None or size is None:
            return None
        total += size * itemsize
    return total


def _itemsize(dtype: str | None) -> int | None:
    # graph._ITEMSIZE lists the sizes that are not 4; an unknown name is no size rather than a guessed 4
    if dtype is None:
        return None
    if dtype in ("float32", "int32", "uint32"):
        return 4
    return _ITEMSIZE.get(dtype)


def _per_sample(shape: Shape | None) -> int | None:
    """Number of values of one sample of a tensor of ``shape`` (batch axis dropped)."""
    if shape is None or len(shape) < 1 or any(not isinstance(d, int) or d < 0 for d in shape[1:]):
        return None
    return prod(int(d) for d in shape[1:])  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ shape helpers
def _input(node: LayerNode, i: int = 0) -> Shape:
    if len(node.input_shapes) <= i or node.input_shapes[i] is None:
        raise _Unknown("input shape unknown")
    shape = node.input_shapes[i]
    if any(d is None for d in shape[1:]):
        raise _Unknown(f"input shape {_text(shape)} has an unknown dimension")
    return shape  # type: ignore[return-value]


def _output(node: LayerNode, i: int = 0) -> Shape:
    if len(node.output_shapes) <= i or node.output_shapes[i] is None:
        raise _Unknown("output shape unknown")
    shape = node.output_shapes[i]
    if any(d is None for d in shape[1:]):
        raise _Unknown(f"output shape {_text(shape)} has an unknown dimension")
    return shape  # type: ignore[return-value]


def _text(shape: Shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _values(shape: Shape) -> int:
    return prod(int(d) for d in shape[1:])  # type: ignore[arg-type]


def _channels_last(node: LayerNode) -> bool:
    return node.config.get("data_format", "channels_last") != "channels_first"


def _split(node: LayerNode, shape: Shape) -> tuple[int, int]:
    """(product of the spatial axes, channels) of a conv-like tensor."""
    dims = [int(d) for d in shape[1:]]  # type: ignore[arg-type]
    if _channels_last(node):
        return prod(dims[:-1]), dims[-1]
    return prod(dims[1:]), dims[0]


def _kernel(node: LayerNode) -> int:
    size = node.config.get("kernel_size")
    if isinstance(size, int):
        size = [size]
    if not size:
        raise _Unknown("kernel_size missing from the config")
    return prod(int(k) for k in size)


def _int(node: LayerNode, key: str, default: int | None = None) -> int:
    value = node.config.get(key, default)
    if value is None:
        raise _Unknown(f"{key} missing from the config")
    return int(value)


# ------------------------------------------------------------------------------------------------ rules
def _zero(node: LayerNode) -> int:
    return 0


def _per_output_value(times: int) -> Callable[[LayerNode], int]:
    return lambda node: times * _values(_output(node))


def _dense(node: LayerNode) -> int:
    units = node.config.get("units")
    return _values(_input(node)) * int(units if units is not None else _output(node)[-1])  # type: ignore[arg-type]


def _conv(node: LayerNode) -> int:
    spatial, c_out = _split(node, _output(node))
    _, c_in = _split(node, _input(node))
    return spatial * c_out * _kernel(node) * c_in // _int(node, "groups", 1)


def _depthwise(node: LayerNode) -> int:
    spatial, c_out = _split(node, _output(node))
    return spatial * c_out * _kernel(node)


def _separable(node: LayerNode) -> int:
    spatial, c_out = _split(node, _output(node))
    _, c_in = _split(node, _input(node))
    middle = c_in * _int(node, "depth_multiplier", 1)
    return spatial * middle * (_kernel(node) + c_out)


def _transpose(node: LayerNode) -> int:
    spatial_in, c_in = _split(node, _input(node))
    _, c_out = _split(node, _output(node))
    return spatial_in * c_in * _kernel(node) * c_out // _int(node, "groups", 1)


def _normalization(node: LayerNode) -> int:
    per_value = 3 if node.config.get("scale", True) else 2
    return per_value * _values(_output(node))


def _multiply(node: LayerNode) -> int:
    return (len(node.input_shapes) - 1) * _values(_output(node))


def _dot(node: LayerNode) -> int:
    if node.config.get("normalize"):
        raise _Unknown("Dot with normalize=True has no rule")
    axes = node.config.get("axes", -1)
    axis = int(axes[0] if isinstance(axes, (list, tuple)) else axes)
    first = _input(node)
    return _values(_output(node)) * int(first[axis])  # type: ignore[arg-type]


def _matmul(node: LayerNode) -> int:
    first = _input(node)
    if len(first) < 3:  # a rank-1 operand per sample: a (batch, n) @ (n, m) product has no sample axis to keep
        raise _Unknown(f"matmul of a {_text(first)} tensor has no per-sample rule")
    return _values(_output(node)) * int(first[-1])  # type: ignore[arg-type]


def _attention(node: LayerNode) -> int:
    axes = node.config.get("attention_axes")
    query = _input(node)
    value = _input(node, 1) if len(node.input_shapes) > 1 else query
    if axes is not None and sorted(int(a) % len(query) for a in axes) != list(range(1, len(query) - 1)):
        raise _Unknown(f"attention_axes={axes} has no rule")
    heads, d_k = _int(node, "num_heads"), _int(node, "key_dim")
    d_v = int(node.config.get("value_dim") or d_k)
    key = _input(node, 2) if len(node.input_shapes) > 2 else value
    t_q, t_v = prod(query[1:-1]), prod(value[1:-1])  # type: ignore[arg-type]
    f_q, f_k, f_v = int(query[-1]), int(key[-1]), int(value[-1])  # type: ignore[arg-type]
    f_o = _values(_output(node)) // t_q
    macs = (t_q * f_q * heads * d_k + t_v * f_k * heads * d_k + t_v * f_v * heads * d_v  # projections
            + t_q * heads * d_k  # 1/sqrt(d_k) scaling of the query
            + heads * t_q * t_v * (d_k + d_v)  # scores and weighted sum
            + t_q * heads * d_v * f_o)  # output projection
    if node.config.get("use_gate"):
        macs += t_q * f_q * heads * d_v + t_q * heads * d_v
    return macs


_GATES = {"SimpleRNN": (1, 0), "GRU": (3, 3), "LSTM": (4, 3)}  # (matmuls, elementwise products per unit)


def _recurrent(node: LayerNode) -> int:
    shape = _input(node)
    if len(shape) != 3:
        raise _Unknown(f"a recurrent layer expects (batch, time, features), got {_text(shape)}")
    steps, features = int(shape[1]), int(shape[2])  # type: ignore[arg-type]
    matmuls, products = _GATES[node.class_name]
    units = _int(node, "units")
    return steps * (matmuls * units * (features + units) + products * units)


def _conv_lstm(node: LayerNode) -> int:
    shape, out = _input(node), _output(node)
    steps = int(shape[1])  # type: ignore[arg-type]
    per_step = shape[:1] + shape[2:]
    if node.config.get("return_sequences"):
        out = out[:1] + out[2:]
    _, c_in = _split(node, per_step)
    positions, units = _split(node, out)
    k = _kernel(node)
    # four gates, each an input conv and a 'same' recurrent conv at every output position, then 3 products
    return steps * (positions * 4 * units * k * (c_in + units) + 3 * positions * units)


def _dot_attention(node: LayerNode) -> int:
    if node.config.get("score_mode", "dot") != "dot":
        raise _Unknown(f"Attention with score_mode={node.config.get('score_mode')!r} has no rule")
    query = _input(node)
    value = _input(node, 1) if len(node.input_shapes) > 1 else query
    t_q, t_v = prod(query[1:-1]), prod(value[1:-1])  # type: ignore[arg-type]
    d, d_v = int(query[-1]), int(value[-1])  # type: ignore[arg-type]
    scale = t_q * t_v if node.config.get("use_scale") else 0
    return t_q * t_v * (d + d_v) + scale


def _einsum_dense(node: LayerNode) -> int:
    equation = str(node.config.get("equation", "")).replace(" ", "")
    try:
        operands, result = equation.split("->")
        letters, kernel = operands.split(",")
    except ValueError:
        raise _Unknown(f"EinsumDense equation {equation!r} has no rule") from None
    inputs, outputs = _einsum_axes(equation, letters, _input(node)), _einsum_axes(equation, result, _output(node))
    sizes = {letter: dim for letter, dim in inputs + outputs if letter != "."}
    if any(letter not in sizes for letter in kernel.replace("...", "")):
        raise _Unknown(f"EinsumDense equation {equation!r}: a kernel axis is in neither the input nor the output")
    # one product per combination of every index (the output's and the contracted ones); the axes under an
    # ellipsis are the input's own, like a batch of positions
    return prod(dim for letter, dim in inputs if letter == ".") * prod(sizes.values())


def _einsum_axes(equation: str, spec: str, shape: Shape) -> list[tuple[str, int]]:
    """(letter, size) of every axis but the batch; ``"."`` for an axis under the ellipsis."""
    head, _, tail = spec.partition("...")
    axes = list(head) + ["."] * (len(shape) - len(head) - len(tail)) + list(tail)
    if len(axes) != len(shape):
        raise _Unknown(f"EinsumDense equation {equation!r} does not fit the shape {_text(shape)}")
    return [(letter, int(dim)) for letter, dim in zip(axes[1:], shape[1:], strict=True)]  # type: ignore[arg-type]


def _inner(node: LayerNode, key: str) -> LayerNode:
    """The layer a wrapper holds, as a node with the wrapper's shapes."""
    inner = node.config.get(key)
    if not isinstance(inner, dict) or not isinstance(inner.get("config"), dict):
        raise _Unknown(f"the wrapped layer ({key}) is missing from the config")
    return replace(node, class_name=str(inner.get("class_name", "")), config=inner["config"])


def _bidirectional(node: LayerNode) -> int:
    forward = _inner(node, "layer")
    backward = _inner(node, "backward_layer") if node.config.get("backward_layer") else forward
    macs = _node_macs(forward) + _node_macs(backward)
    if node.config.get("merge_mode") in ("mul", "ave"):
        macs += _values(_output(node))
    return macs


def _time_distributed(node: LayerNode) -> int:
    shape, out = _input(node), _output(node)
    inner = _inner(node, "layer")
    step = replace(inner, input_shapes=(shape[:1] + shape[2:],), output_shapes=(out[:1] + out[2:],))
    return int(shape[1]) * _node_macs(step)  # type: ignore[arg-type]


def _up_sampling(node: LayerNode) -> int:
    if node.config.get("interpolation", "nearest") != "nearest":
        raise _Unknown(f"UpSampling with {node.config.get('interpolation')} interpolation has no rule")
    return 0


_ZERO = (
    "InputLayer", "Flatten", "Reshape", "Permute", "RepeatVector", "Concatenate", "Add", "Subtract", "Maximum",
    "Minimum", "Embedding", "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
    "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Masking", "Identity", "ZeroPadding1D",
    "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "MaxPooling1D", "MaxPooling2D",
    "MaxPooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "Activation", "ReLU",
    "LeakyReLU", "PReLU", "ELU", "Softmax",
    # keras.ops called in a functional graph (a mask made from the inputs, a slice, a cast)
    "Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual", "LogicalAnd", "LogicalOr", "LogicalNot",
    "Cast", "GetItem", "Transpose", "ExpandDims", "Squeeze", "Stack",
)
_ONE_PER_VALUE = (
    "AveragePooling1D", "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "BatchNormalization", "Average", "Rescaling", "Normalization",
    "LayerScale",  # keras.applications.convnext: x × a learned per-channel gamma
    "CustomScaleLayer",  # keras.applications.inception_resnet_v2: x + residual × scale
)

_RULES: dict[str, Callable[[LayerNode], int]] = {
    **dict.fromkeys(_ZERO, _zero),
    **dict.fromkeys(_ONE_PER_VALUE, _per_output_value(1)),
    "Dense": _dense,
    **dict.fromkeys(("Conv1D", "Conv2D", "Conv3D"), _conv),
    **dict.fromkeys(("DepthwiseConv1D", "DepthwiseConv2D"), _depthwise),
    **dict.fromkeys(("SeparableConv1D", "SeparableConv2D"), _separable),
    **dict.fromkeys(("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"), _transpose),
    **dict.fromkeys(("LayerNormalization", "GroupNormalization"), _normalization),
    "Multiply": _multiply,
    "Dot": _dot,
    "Matmul": _matmul,
    "MultiHeadAttention": _attention,
    "Attention": _dot_attention,
    "EinsumDense": _einsum_dense,
    **dict.fromkeys(("ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"), _conv_lstm),
    **dict.fromkeys(_GATES, _recurrent),
    "Bidirectional": _bidirectional,
    "TimeDistributed": _time_distributed,
    **dict.fromkeys(("UpSampling1D", "UpSampling2D", "UpSampling3D"), _up_sampling),
}


def _node_macs(node: LayerNode) -> int:
    if node.opaque:
        raise _Unknown(node.opaque_reason or "an opaque layer: its computation is not known without running it")
    if node.kind is NodeKind.INPUT:
        return 0
    if node.module and node.module != "keras" and not node.module.startswith("keras."):
        # a user's class that happens to be called "Attention" or "Dense" is not Keras's: no rule applies
        raise _Unknown(f"{node.class_name} is a custom class (from {node.module}): no counting rule")
    rule = _RULES.get(node.class_name)
    if rule is None:
        raise _Unknown(f"no counting rule for {node.class_name}")
    return rule(node)
