"""tf.keras 2's TensorFlow-op layers, computed with Keras ops for an allow-list of pure operations.

When a tf.keras 2 Functional model applied a raw TensorFlow function to a symbolic tensor
(``x + 1``, ``tf.reshape(x, ...)``, ``x[:, 2:]``, ``tf.concat([a, b], -1)``), tf.keras 2 wrapped the call
in a ``TFOpLambda`` layer (``SlicingOpLambda`` for indexing) and saved it by the function's public
name (``"math.add"``, ``"reshape"``, ``"__operators__.getitem"``) with the call's arguments in the
inbound node.  Keras 3 has no such layer.  Such a layer is not code: the file names an operation by a
string.  For the names in :data:`OPERATIONS` — pure tensor functions, each written here with Keras
ops — :func:`convert_op_layers` rewrites the layer into our :class:`TFOpLambda` (the same class name,
so the graph reads the same) and its node into Keras 3's format; a name outside the list, or an
argument that is not plain data (a serialized object Keras would rebuild by calling code), leaves the
layer as it was, and the trust scan refuses it with the operation named (:func:`op_layer_reason`).

tf.keras 2 wrote an op layer's node as the structure of the function's first argument, each tensor a
``[layer, node, tensor, kwargs]`` leaf and each constant ``["_CONSTANT_VALUE", -1, value, kwargs]``,
every leaf carrying the same keyword arguments (the function's other parameters, by their TensorFlow
names); a single tensor is the bare leaf, without the list around it that other layers' nodes have.

Example:
    >>> layers = [{"class_name": "InputLayer", "name": "x", "config": {"name": "x"}, "inbound_nodes": []},
    ...           {"class_name": "TFOpLambda", "name": "tf.reshape", "module": "keras.layers",
    ...            "config": {"name": "tf.reshape", "function": "reshape"},
    ...            "inbound_nodes": [["x", 0, 0, {"shape": [-1, 24], "name": None}]]}]
    >>> convert_op_layers(layers, [])
    >>> layers[1]["config"]["arguments"], layers[1]["inbound_nodes"][0]["kwargs"], "module" in layers[1]
    ({'shape': [-1, 24]}, {}, False)
    >>> op_layer_reason(layers[1])
    ''
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from inspector.model.legacy_nodes import keras_tensor, tensor_marker

__all__ = ["OPERATIONS", "OP_LAYER_CLASSES", "convert_op_layers", "op_layer_reason", "op_layer_classes"]

OP_LAYER_CLASSES = frozenset({"TFOpLambda", "SlicingOpLambda"})
# the TensorFlow functions rebuilt with Keras ops, by the name tf.keras 2 saved (tf.<name>); each is a pure
# function of its tensors and plain arguments (numbers, shapes, axes, dtypes, slices)
OPERATIONS = frozenset({
    "math.add", "__operators__.add", "math.add_n", "math.subtract", "math.multiply", "math.truediv",
    "math.divide", "math.maximum", "math.minimum", "math.pow", "math.squared_difference",
    "math.negative", "math.abs", "math.exp", "math.log", "math.sqrt", "math.rsqrt", "math.square",
    "math.reciprocal", "math.sigmoid", "math.tanh", "math.softplus", "math.l2_normalize",
    "math.greater", "math.greater_equal", "math.less", "math.less_equal", "math.equal", "math.not_equal",
    "math.reduce_sum", "math.reduce_mean", "math.reduce_max", "math.reduce_min", "math.reduce_prod",
    "math.reduce_std", "math.reduce_variance", "math.argmax",
    "nn.relu", "nn.relu6", "nn.elu", "nn.selu", "nn.softmax", "nn.log_softmax", "nn.silu", "nn.gelu",
    "nn.leaky_relu",
    "reshape", "expand_dims", "squeeze", "compat.v1.squeeze", "transpose", "compat.v1.transpose", "concat",
    "stack", "split", "tile", "cast", "clip_by_value", "where", "linalg.matmul", "__operators__.getitem",
})
# tf.tile is the one operation that grows a tensor by a factor its arguments name: it is converted only with
# constant multiples whose product is at most this (a file must not make a forward pass allocate without bound)
MAX_TILE_FACTOR = 1024
_CONSTANT = "_CONSTANT_VALUE"  # tf.keras 2's marker of a constant where the first argument holds tensors
_ELLIPSIS = "..."  # ``x[..., 0]``'s Ellipsis in a converted slice_spec


def convert_op_layers(layers: list, notes: list[str]) -> None:
    """Rewrite, in one model level's layer configs, each op layer of an allowed operation for Keras 3.

    The layer loses its module (so Keras finds our class among the custom objects) and the TensorFlow
    op name argument (``name=``, which named a graph node, not data); its constant arguments go to its
    config (``arguments``, shown with the layer) and its tensors stay in its node, in Keras 3's
    ``{"args": [first argument], "kwargs": {...}}`` form with each tensor marked.
    """
    mark = tensor_marker(layers)
    for layer in layers:
        if not isinstance(layer, dict) or layer.get("class_name") not in OP_LAYER_CLASSES:
            continue
        cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
        nodes = layer.get("inbound_nodes")
        if cfg.get("function") not in OPERATIONS or not isinstance(nodes, list):
            continue
        converted = [_node(node, mark) for node in nodes]
        if not converted or any(c is None or c[1] != converted[0][1] for c in converted):  # type: ignore[index]
            continue  # not as tf.keras 2 writes it: left for the scan to refuse, with the operation named
        if cfg["function"] == "tile" and _tile_factor(converted[0][1]) is None:  # type: ignore[index]
            continue
        layer.pop("module", None)
        layer.pop("registered_name", None)
        layer["inbound_nodes"] = [c[0] for c in converted]  # type: ignore[index]
        cfg["arguments"] = converted[0][1]  # type: ignore[index]
        notes.append(f"{layer['class_name']} {layer.get('name')!r} (tf.{cfg['function']}) is computed with Keras ops "
                     "(the same function; Keras 3 has no TensorFlow-op layer).")


def op_layer_reason(layer: dict) -> str:
    """Why an op layer's config would need trust ('' for one :func:`convert_op_layers` rewrote).

    Example:
        >>> print(op_layer_reason({"class_name": "TFOpLambda", "module": "keras.layers",
        ...                        "config": {"name": "svd", "function": "linalg.svd"}}))
        a tf.keras 2 TensorFlow-op layer calling tf.linalg.svd, which is not one of the pure operations computed with Keras ops (see docs/legacy.md), so it runs only in trusted mode
    """
    cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    function = cfg.get("function")
    nodes = layer.get("inbound_nodes")
    if function in OPERATIONS and "module" not in layer and "registered_name" not in layer \
            and isinstance(nodes, list) and all(isinstance(n, dict) and _is_data(n) for n in nodes) \
            and _is_data(cfg.get("arguments", {})) and not any(_is_tensor(v) for v in _flat(cfg.get("arguments"))):
        return ""
    if function == "tile":
        return (f"a tf.keras 2 TensorFlow-op layer calling tf.tile with multiples that are not constant whole "
                f"numbers multiplying the tensor's size by at most {MAX_TILE_FACTOR} (a file must not make the "
                "forward pass allocate without bound), which runs only in trusted mode")
    if function in OPERATIONS:
        return (f"a tf.keras 2 TensorFlow-op layer calling tf.{function} with arguments that are not plain data "
                "(numbers, shapes, slices, tensors), which runs only in trusted mode")
    return (f"a tf.keras 2 TensorFlow-op layer calling tf.{str(function)[:80]}, which is not one of the pure "
            "operations computed with Keras ops (see docs/legacy.md), so it runs only in trusted mode")


def _node(node: Any, mark: Callable[[Any], Any]) -> tuple[dict, dict] | None:
    """One tf.keras 2 op-layer node as Keras 3's node (its tensors) and the op's constant arguments.

    ``None`` when the node is not one tf.keras 2 writes, an argument mixes tensors and constants (Keras 3
    takes tensors only as whole arguments), or a constant is not plain data.
    """
    leaves = _leaves(node)
    if not leaves:
        return None
    kwargs = leaves[0][3]
    if any(leaf[3] != kwargs for leaf in leaves) or not isinstance(kwargs, dict):
        return None

    def first(value: Any) -> Any:
        if _is_leaf(value):
            return value[2] if value[0] == _CONSTANT else keras_tensor(value[:3])
        return [first(v) for v in value]

    values = {k: mark(_without_ellipsis(v)) for k, v in kwargs.items() if k != "name"}
    values["inputs"] = first(node)
    tensors, constants = {}, {}
    for key, value in values.items():
        kinds = {_is_tensor(leaf) for leaf in _flat(value)}
        if kinds == {True}:
            tensors[key] = value
        elif True in kinds or not _is_data(value):
            return None
        else:
            constants[key] = value
    first_argument = tensors.pop("inputs", None)
    return {"args": [first_argument] if first_argument is not None else [], "kwargs": tensors}, constants


def _tile_factor(constants: dict) -> int | None:
    """The factor by which a tf.tile with these constant arguments grows a tensor; ``None`` past the bound.

    Example:
        >>> _tile_factor({"multiples": [1, 2, 3]}), _tile_factor({"multiples": [1, 10**6]}), _tile_factor({})
        (6, None, None)
    """
    multiples = constants.get("multiples")
    if not isinstance(multiples, list) or not all(type(m) is int and m >= 0 for m in multiples):
        return None  # absent (a tensor: known only when the model runs) or not whole numbers
    factor = 1
    for m in multiples:
        factor *= m
        if factor > MAX_TILE_FACTOR:
            return None
    return factor


def _flat(value: Any) -> list:
    if isinstance(value, list):
        return [leaf for v in value for leaf in _flat(v)]
    if isinstance(value, dict) and not _is_tensor(value):
        return [leaf for v in value.values() for leaf in _flat(v)]
    return [value]


def _is_tensor(value: Any) -> bool:
    return isinstance(value, dict) and value.get("class_name") == "__keras_tensor__"


def _leaves(node: Any) -> list[list] | None:
    if _is_leaf(node):
        return [node]
    if isinstance(node, list) and node:
        found = [_leaves(item) for item in node]
        return None if any(f is None for f in found) else [leaf for f in found for leaf in f]  # type: ignore[union-attr]
    return None


def _is_leaf(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 4 and isinstance(value[0], str) and isinstance(value[1], int)
            and isinstance(value[3], dict))


def _without_ellipsis(value: Any) -> Any:
    """tf.keras 2's ``{"class_name": "__ellipsis__"}`` (in a slice_spec) as ours: Keras 3 cannot deserialize it."""
    if value == {"class_name": "__ellipsis__"}:
        return _ELLIPSIS
    if isinstance(value, list):
        return [_without_ellipsis(v) for v in value]
    return value


def _is_data(value: Any) -> bool:
    """Plain data: numbers, strings, lists, slices as tf.keras 2 wrote them, and tensors as marked."""
    if isinstance(value, dict):
        if "class_name" in value:
            return value["class_name"] == "__keras_tensor__"  # the one serialized object an op may receive
        return all(isinstance(k, str) and _is_data(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_data(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


# --------------------------------------------------------------------------- computing them
@functools.cache
def op_layer_classes() -> dict[str, type]:
    """Our ``TFOpLambda`` and ``SlicingOpLambda`` Keras layers, by class name (made on first use: defining a
    layer imports Keras).

    Example:
        >>> import numpy as np
        >>> layer = op_layer_classes()["TFOpLambda"](function="math.add", arguments={"y": 2.0})
        >>> np.asarray(layer(np.ones((1, 2), "float32"))).tolist()
        [[3.0, 3.0]]
    """
    import keras

    class TFOpLambda(keras.layers.Layer):
        """A tf.keras 2 TensorFlow-op layer: one allowed operation (:data:`OPERATIONS`), computed with Keras ops."""

        def __init__(self, function: str, arguments: dict[str, Any] | None = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if function not in OPERATIONS:
                raise ValueError(f"tf.{function} is not one of the operations computed with Keras ops")
            self.function, self.arguments = function, dict(arguments or {})

        def call(self, inputs: Any = None, **tensors: Any) -> Any:
            # the op's arguments: its constants from the config, its tensors from the call (the first one positional)
            values = {**self.arguments, **tensors}
            first = values.pop("inputs") if inputs is None else inputs
            return _implementations()[self.function](first, **values)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "function": self.function, "arguments": self.arguments}

    class SlicingOpLambda(TFOpLambda):
        """A tf.keras 2 indexing layer (``x[:, 2:10]``), computed with Keras's own indexing."""

    return {"TFOpLambda": TFOpLambda, "SlicingOpLambda": SlicingOpLambda}


@functools.cache
def _implementations() -> dict[str, Callable[..., Any]]:
    """Each allowed operation with TensorFlow's parameter names, in Keras ops."""
    from keras import ops

    def binary(op: Callable) -> Callable:
        return lambda x, y: op(x, y)

    def unary(op: Callable) -> Callable:
        return lambda x: op(x)

    def reduction(op: Callable) -> Callable:
        return lambda input_tensor, axis=None, keepdims=False: op(input_tensor, axis=_axis(axis),
                                                                 keepdims=bool(keepdims))

    def l2_normalize(x: Any, axis: Any = None, epsilon: float = 1e-12, dim: Any = None) -> Any:
        axis = _axis(axis if axis is not None else dim)
        return ops.multiply(x, ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), epsilon)))

    def matmul(a: Any, b: Any, transpose_a: bool = False, transpose_b: bool = False, adjoint_a: bool = False,
               adjoint_b: bool = False, a_is_sparse: bool = False, b_is_sparse: bool = False,
               output_type: Any = None) -> Any:
        if transpose_a or adjoint_a:  # real tensors: the adjoint is the transpose
            a = ops.swapaxes(a, -1, -2)
        if transpose_b or adjoint_b:
            b = ops.swapaxes(b, -1, -2)
        product = ops.matmul(a, b)
        return product if output_type is None else ops.cast(product, output_type)

    def split(value: Any, num_or_size_splits: Any, axis: int = 0, num: Any = None) -> Any:
        if isinstance(num_or_size_splits, int):
            return ops.split(value, num_or_size_splits, axis=axis)
        ends = [sum(num_or_size_splits[:i + 1]) for i in range(len(num_or_size_splits) - 1)]
        return ops.split(value, ends, axis=axis)

    def squeeze(input: Any, axis: Any = None, squeeze_dims: Any = None) -> Any:  # noqa: A002 - TensorFlow's name
        return ops.squeeze(input, axis=_axis(axis if axis is not None else squeeze_dims))

    def transpose(a: Any, perm: Any = None, conjugate: bool = False) -> Any:
        return ops.transpose(a, axes=perm)

    def argmax(input: Any, axis: Any = None, output_type: str = "int64") -> Any:  # noqa: A002 - TensorFlow's name
        return ops.cast(ops.argmax(input, axis=0 if axis is None else axis), output_type)

    def getitem(tensor: Any, slice_spec: Any, var: Any = None) -> Any:
        return tensor[_key(slice_spec)]

    return {
        "math.add": binary(ops.add), "__operators__.add": binary(ops.add),
        "math.add_n": lambda inputs: functools.reduce(ops.add, inputs),
        "math.subtract": binary(ops.subtract), "math.multiply": binary(ops.multiply),
        "math.truediv": binary(ops.true_divide), "math.divide": binary(ops.divide),
        "math.maximum": binary(ops.maximum), "math.minimum": binary(ops.minimum), "math.pow": binary(ops.power),
        "math.squared_difference": lambda x, y: ops.square(ops.subtract(x, y)),
        "math.negative": unary(ops.negative), "math.abs": unary(ops.abs), "math.exp": unary(ops.exp),
        "math.log": unary(ops.log), "math.sqrt": unary(ops.sqrt), "math.rsqrt": unary(ops.rsqrt),
        "math.square": unary(ops.square), "math.reciprocal": unary(ops.reciprocal),
        "math.sigmoid": unary(ops.sigmoid), "math.tanh": unary(ops.tanh), "math.softplus": unary(ops.softplus),
        "math.l2_normalize": l2_normalize,
        "math.greater": binary(ops.greater), "math.greater_equal": binary(ops.greater_equal),
        "math.less": binary(ops.less), "math.less_equal": binary(ops.less_equal),
        "math.equal": binary(ops.equal), "math.not_equal": binary(ops.not_equal),
        "math.reduce_sum": reduction(ops.sum), "math.reduce_mean": reduction(ops.mean),
        "math.reduce_max": reduction(ops.max), "math.reduce_min": reduction(ops.min),
        "math.reduce_prod": reduction(ops.prod), "math.reduce_std": reduction(ops.std),
        "math.reduce_variance": reduction(ops.var), "math.argmax": argmax,
        "nn.relu": lambda features: ops.relu(features), "nn.relu6": lambda features: ops.relu6(features),
        "nn.elu": lambda features: ops.elu(features), "nn.selu": lambda features: ops.selu(features),
        "nn.softmax": lambda logits, axis=None: ops.softmax(logits, axis=-1 if axis is None else axis),
        "nn.log_softmax": lambda logits, axis=None: ops.log_softmax(logits, axis=-1 if axis is None else axis),
        "nn.silu": lambda features, beta=1.0: ops.multiply(features, ops.sigmoid(ops.multiply(features, beta))),
        "nn.gelu": lambda features, approximate=False: ops.gelu(features, approximate=bool(approximate)),
        "nn.leaky_relu": lambda features, alpha=0.2: ops.leaky_relu(features, negative_slope=alpha),
        "reshape": lambda tensor, shape: ops.reshape(tensor, tuple(shape)),
        "expand_dims": lambda input, axis: ops.expand_dims(input, axis),  # noqa: A006 - TensorFlow's name
        "squeeze": squeeze, "compat.v1.squeeze": squeeze,
        "transpose": transpose, "compat.v1.transpose": transpose,
        "concat": lambda values, axis: ops.concatenate(list(values), axis=axis),
        "stack": lambda values, axis=0: ops.stack(list(values), axis=axis),
        "split": split,
        "tile": lambda input, multiples: ops.tile(input, tuple(multiples)),  # noqa: A006 - TensorFlow's name
        "cast": lambda x, dtype: ops.cast(x, dtype),
        "clip_by_value": lambda t, clip_value_min, clip_value_max: ops.clip(t, clip_value_min, clip_value_max),
        "where": lambda condition, x=None, y=None: ops.where(condition, x, y),
        "linalg.matmul": matmul,
        "__operators__.getitem": getitem,
    }


def _axis(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, list) else axis


def _key(spec: Any) -> Any:
    """A converted ``slice_spec`` as a Python index: ``{"start", "stop", "step"}`` dicts are slices."""
    if spec == _ELLIPSIS:
        return Ellipsis
    if isinstance(spec, dict):
        return slice(spec.get("start"), spec.get("stop"), spec.get("step"))
    if isinstance(spec, list):
        return tuple(_key(s) for s in spec)
    return spec
