"""What building a model from its config will cost, known before anything is built.

A file of a few kilobytes can make Keras allocate gigabytes or trace for minutes, through sizes no
stored weight shows: an ``InputLayer``'s ``batch_shape`` or a ``build_config`` input shape feeding a
``Dense``, a ``kernel_size``, a serialized NumPy value (``__numpy__``) whose dtype is a sub-array type,
a vocabulary (a list of words in the config, or an asset file inside the ``.keras``) that Keras turns
into one fixed-width string array, nested models calling the level below several times.  So the cost
is computed from the config alone, and refused past the limits (:mod:`inspector.limits`):

* **memory** (:func:`build_cost`): every weight of every layer at the shapes Keras will build it with
  (:func:`~inspector.model.weight_shapes.layer_weights`: the call's input shape and the
  ``build_config``'s, the larger), every serialized array (elements × the dtype's item size), every
  list of strings in the config and every asset file (``lines × (4 × longest line + 160)`` bytes: a
  Python string per line, and a NumPy ``U`` array as wide as the longest line).  The total must stay
  within ``max_weight_bytes``.  A layer whose weights cannot be predicted (a class not known here, an
  unknown dimension) is listed in ``unknown``: :func:`~inspector.model.loading.load_model` then builds
  the file first in a child process bounded in memory and time, never trusting it;
* **expansion** (:func:`expanded_calls`): the layer calls a graph holds once every call of a nested
  model is expanded (a model calling the level below ``k`` times, ``L`` levels deep: ``k**L``).  Past
  ``max_graph_nodes`` Keras is not asked to trace it, and the static view folds the later calls of
  nested models (:mod:`inspector.model.static`).

Example:
    >>> cfg = {"class_name": "Sequential", "config": {"layers": [
    ...     {"class_name": "InputLayer", "config": {"name": "x", "batch_shape": [None, 2**20]}},
    ...     {"class_name": "Dense", "config": {"name": "d", "units": 1024}}]}}
    >>> cost = build_cost(cfg)
    >>> cost.total, cost.largest[0], cost.unknown
    (4294971392, 'layer d: weights kernel (1048576, 1024), bias (1024,)', ())
    >>> expanded_calls(cfg)
    2
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from inspector.errors import ModelFormatError
from inspector.graph import ModelGraph, NodeKind, Shape
from inspector.io.files import _layer_name, _model_layers

__all__ = ["BuildCost", "build_cost", "value_cost", "expanded_calls", "asset_costs", "STRING_LINE_BYTES"]

STRING_LINE_BYTES = 160  # per word of a vocabulary: a Python string, its list slot, a TensorFlow string and table entry
_ARRAY_MARKERS = frozenset({"__numpy__", "__tensor__"})
_MODEL_CLASSES = frozenset({"Sequential", "Functional", "Model"})
# preprocessing layers without weights: what they hold (a vocabulary, bin boundaries) is costed with the config's
# values and the assets
_COSTED_BY_VALUES = frozenset({"StringLookup", "IntegerLookup", "TextVectorization", "Hashing", "HashedCrossing",
                               "CategoryEncoding", "Discretization"})
_WIDE = {"float64": 8, "int64": 8, "uint64": 8, "complex64": 8, "complex128": 16}


@dataclass(frozen=True)
class BuildCost:
    """Bytes a model's build will allocate, predicted from its config.

    ``items`` holds ``(bytes, what)`` for each part, largest first; ``unknown`` the paths of the layers whose
    weights cannot be predicted (their cost is not in ``total``).
    """

    total: int
    items: tuple[tuple[int, str], ...] = ()
    unknown: tuple[str, ...] = ()

    @property
    def largest(self) -> tuple[str, ...]:
        """The three largest parts, described."""
        return tuple(what for _, what in self.items[:3])


def build_cost(config: dict, graph: ModelGraph | None = None, assets: Mapping[str, tuple[int, int]] | None = None,
               *, budget: int | None = None) -> BuildCost:
    """The memory building ``config`` will take: its layers' weights, serialized arrays, strings and ``assets``.

    ``graph``: the config's static graph with inferred shapes (built here when not given), for the shapes each
    layer is called with.  ``assets``: ``{member: (lines, longest line)}`` from :func:`asset_costs`.  The arrays,
    strings and assets are counted first: when they alone pass ``budget``, the layers are not looked at (inferring
    shapes creates layers from their configs, and a lookup layer's vocabulary list is allocated then).

    Example:
        >>> build_cost({"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", "config": {
        ...     "name": "d", "bias_initializer": {"class_name": "Constant", "config": {"value": {
        ...     "class_name": "__numpy__", "config": {"value": [1.0, 2.0], "dtype": "(1000,)f8"}}}}}}]}}).items
        ((16000, 'a serialized array of 2 values of (1000,)f8 (8,000 bytes each) in layer d'),)

    Raises:
        ModelFormatError: a serialized array whose dtype Keras never writes (not a name, or with fields).
    """
    items = [*value_cost(config).items, *((lines * (4 * longest + STRING_LINE_BYTES), f"the asset {member} ({lines:,} "
                                            "lines)") for member, (lines, longest) in (assets or {}).items())]
    if budget is not None and sum(b for b, _ in items) > budget:
        return _cost(items, [])
    if graph is None:
        from inspector.model.shape_inference import infer_shapes
        from inspector.model.static import graph_from_config

        graph = infer_shapes(graph_from_config(config, {}))
    unknown: list[str] = []
    built = _build_shapes(config)
    for node, owner in graph.walk():
        if node.kind == NodeKind.INPUT or node.id in owner.nested or node.shared_with:
            continue
        weights = _layer_cost(node.class_name, node.config, node.dtype, (node.input_shapes, built.get(node.path)))
        if weights is None:
            unknown.append(node.path)
        elif weights[0]:
            items.append((weights[0], f"layer {node.path}: weights {weights[1]}"))
    return _cost(items, unknown)


def _cost(items: list[tuple[int, str]], unknown: list[str]) -> BuildCost:
    items.sort(key=lambda item: -item[0])
    return BuildCost(sum(b for b, _ in items), tuple(items), tuple(unknown))


def value_cost(config: dict) -> BuildCost:
    """The memory of the values a config holds that Keras turns into arrays: serialized arrays, lists of strings.

    Example:
        >>> value_cost({"config": {"vocabulary": ["", "", "x" * 1000]}}).total
        12480

    Raises:
        ModelFormatError: a serialized array whose dtype Keras never writes (not a name, or with fields).
    """
    return _cost(list(_value_costs(config)), [])


def expanded_calls(config: Any, *, stop_after: int | None = None, fold: bool = False) -> int:
    """The layer calls of a model config once every call of every nested model is expanded.

    ``stop_after``: return as soon as the count passes it (a config can multiply to astronomical counts).
    ``fold``: only the first call of a nested model is expanded, later ones are one node each (the static
    view past ``max_graph_nodes``): the count is then the config's own size.

    Example:
        >>> inner = {"class_name": "Functional", "config": {"name": "inner", "layers": [
        ...     {"class_name": "Dense", "config": {"name": "d"}, "inbound_nodes": [{"args": []}]}]},
        ...     "inbound_nodes": [{"args": []}, {"args": []}, {"args": []}]}
        >>> cfg = {"class_name": "Functional", "config": {"layers": [inner]}}
        >>> expanded_calls(cfg), expanded_calls(cfg, fold=True)
        (6, 4)
    """
    sizes: dict[int, int] = {}

    def size(model: Any) -> int:
        if id(model) not in sizes:
            total = 0
            for layer in _model_layers(model):
                calls = layer.get("inbound_nodes")
                count = len(calls) if isinstance(calls, list) and calls else 1
                if not _is_model(layer):
                    total += count
                else:
                    total += count + size(layer) * (1 if fold else count)
                if stop_after is not None and total > stop_after:
                    break
            sizes[id(model)] = total
        return sizes[id(model)]

    return size(config)


def asset_costs(data: bytes, budget: int) -> dict[str, tuple[int, int]]:
    """``{member: (lines, longest line in bytes)}`` of every asset file in a ``.keras`` archive's bytes.

    Keras reads a lookup layer's vocabulary file whole and splits it into lines; the lines are counted here,
    inflating at most ``budget`` bytes in all (past it, the counts so far stand for the rest: they are over the
    limit already).

    Example:
        >>> import io
        >>> out = io.BytesIO()
        >>> with zipfile.ZipFile(out, "w") as z:
        ...     z.writestr("config.json", "{}")
        ...     z.writestr("assets/lookup/vocabulary.txt", "a\\nbb\\nccc")
        >>> asset_costs(out.getvalue(), 2**20)
        {'assets/lookup/vocabulary.txt': (3, 3)}
    """
    out: dict[str, tuple[int, int]] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # BytesIO shares the bytes until written to
            for member in archive.namelist():
                if not member.startswith("assets/") or member.endswith("/"):
                    continue
                lines, longest, budget = _count_lines(archive, member, budget)
                out[member] = (lines, longest)
                if budget <= 0:
                    break
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError):
        return out  # the archive's reader reports its damage with a typed error of its own
    return out


# --------------------------------------------------------------------------- parts
def _layer_cost(cls: str, config: dict, dtype: str | None,
                shapes: tuple[tuple[Shape | None, ...], Shape | None]) -> tuple[int, str] | None:
    """Bytes and description of the weights a layer builds: the larger of its call's and its build_config's."""
    from inspector.model.weight_shapes import layer_weights

    if cls in _COSTED_BY_VALUES:
        return 0, ""
    call_shapes, build_shape = shapes
    candidates = [layer_weights(cls, config, call_shapes)]
    if build_shape is not None:
        candidates.append(layer_weights(cls, config, (build_shape,)))
    known = [c for c in candidates if c is not None]
    if not known:
        return None
    width = 2 if dtype in ("float16", "bfloat16") else 8 if dtype == "float64" else 4
    weights = max(known, key=lambda ws: sum(_count(shape) for _, shape in ws))
    described = ", ".join(f"{name} {shape}" for name, shape in weights)
    # Normalization counts the samples it adapted to in an int64, whatever the layer's dtype
    counters = 8 if cls == "Normalization" else width
    return sum(_count(shape) * (counters if name == "count" else width) for name, shape in weights), described


def _build_shapes(config: dict) -> dict[str, Shape]:
    """The input shape each layer's ``build_config`` declares (Keras builds the layer with it), by layer path."""
    from inspector.model.static import _shape

    out: dict[str, Shape] = {}
    stack: list[tuple[Any, str]] = [(config, "")]
    while stack:
        model, prefix = stack.pop()
        for layer in _model_layers(model):
            path = prefix + _layer_name(layer)
            build = layer.get("build_config")
            shape = _shape(build.get("input_shape")) if isinstance(build, dict) else None
            if shape is not None:
                out[path] = shape
            if _is_model(layer):
                stack.append((layer, path + "/"))
    return out


def _names(item: dict, classes: frozenset[str]) -> bool:
    """Whether a config dict names one of ``classes`` (a file may put a dict or list where the name goes)."""
    name = item.get("class_name")
    return isinstance(name, str) and name in classes


def _value_costs(config: dict) -> Iterator[tuple[int, str]]:
    """Serialized arrays (``__numpy__``, ``__tensor__``) and lists of strings anywhere in the config."""
    stack: list[tuple[Any, str]] = [(config, "the model")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, dict):
            if _names(item, _ARRAY_MARKERS) and isinstance(item.get("config"), dict):
                yield _array_cost(item["config"], where)
                continue
            if isinstance(item.get("config"), dict) and isinstance(item["config"].get("name"), str):
                where = f"layer {_layer_name(item)}"  # a layer (or model) config: the parts below are its
            stack.extend((value, where) for value in item.values() if isinstance(value, (dict, list)))
        elif isinstance(item, list):
            if len(item) > 1 and all(isinstance(v, str) for v in item):
                longest = max(len(v) for v in item)
                yield len(item) * (4 * longest + STRING_LINE_BYTES), f"a list of {len(item):,} strings in {where}"
            else:
                stack.extend((value, where) for value in item if isinstance(value, (dict, list)))


def _array_cost(config: dict, where: str) -> tuple[int, str]:
    import numpy as np

    dtype = config.get("dtype", "float32")
    try:
        parsed = np.dtype(dtype) if isinstance(dtype, str) else None
    except (TypeError, ValueError, SyntaxError):
        parsed = None
    if parsed is None and isinstance(dtype, str) and dtype.isidentifier():
        width = _WIDE.get(dtype, 4)  # a Keras dtype NumPy lacks (bfloat16, a TensorFlow name)
    elif parsed is None or parsed.names is not None or (parsed.subdtype is None and parsed.hasobject):
        raise ModelFormatError(
            f"A serialized array in {where} has the dtype {str(dtype)[:80]!r}, which Keras never writes (a dtype "
            "name such as 'float32' is expected).", received=f"dtype {str(dtype)[:80]!r}",
            fix="Do not open this file; re-save the model with model.save(...).")
    else:
        width = parsed.itemsize
    count = _elements(config.get("value"))
    return count * width, f"a serialized array of {count:,} values of {dtype} ({width:,} bytes each) in {where}"


def _elements(value: Any) -> int:
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        else:
            count += 1
    return count


def _count_lines(archive: zipfile.ZipFile, member: str, budget: int) -> tuple[int, int, int]:
    lines, longest, current = 1, 0, 0
    with archive.open(member) as f:
        while budget > 0:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            budget -= len(chunk)
            parts = chunk.split(b"\n")
            current += len(parts[0])
            for part in parts[1:]:
                longest, current = max(longest, current), len(part)
                lines += 1
    return lines, max(longest, current), budget


def _is_model(layer: dict) -> bool:
    return _names(layer, _MODEL_CLASSES) and bool(_model_layers(layer))


def _count(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
