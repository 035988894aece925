"""A loaded model's layers and data as the pages use them: weights and their statistics, NaN/Inf warnings,
random inputs that match the model's inputs, uploaded data, and activation outputs.

Example:
    >>> import inspector
    >>> model = inspector.load_model("sample_models/otto_mlp/model.keras")
    >>> graph = inspector.build_graph(model)
    >>> weight_frame(graph, "hidden", model)[["name", "shape"]].values.tolist()
    [['kernel', '(93, 100)'], ['bias', '(100,)']]
"""


from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inspector.errors import (
    InputDataError,
    InspectorError,
    LayerNotFoundError,
    LimitExceededError,
)
from inspector.graph import ModelGraph, NodeKind, format_shape
from inspector.limits import format_bytes, get_limits

if TYPE_CHECKING:
    import pandas as pd

from inspector.model.opening import OpenedModel

__all__ = ["find_layer", "weight_frame", "weight_values", "activation_outputs", "mode_difference", "first_rows", "data_warnings", "sample_embedding_metadata", "random_inputs", "read_data_upload", "model_warnings", "nonfinite_weights"]


def find_layer(model: Any, graph: ModelGraph, node_id: str) -> Any:
    """The Keras layer behind a node id (``dense``, ``dense@1``, ``generator/dense_2``).

    Raises:
        LayerNotFoundError: no node or layer with that id.
    """
    node = graph.find_node(node_id)
    if node is None:
        raise LayerNotFoundError(f"There is no layer {node_id!r} in model {graph.name!r}.", received=repr(node_id),
                                 fix="Pick a layer from the list (ids look like 'dense', 'dense@1', "
                                     "'generator/dense_2').")
    layer = model
    for part in (node.path or node.name).split("/"):
        try:
            layer = layer.get_layer(part)
        except (ValueError, AttributeError) as e:
            raise LayerNotFoundError(f"Layer {node.path!r} of node {node_id!r} is not in the loaded model.",
                                     received=repr(node_id),
                                     fix="Reload the model; the graph and the model are out of step.") from e
    return layer


def weight_frame(graph: ModelGraph, node_id: str, model: Any = None) -> pd.DataFrame:
    """One row per weight of a node: name, shape, dtype, trainable, size, and value statistics.

    Without a loaded ``model`` (static view) only the stored shapes are known and
    the statistic columns are empty.
    """
    import pandas as pd

    columns = ["name", "shape", "dtype", "trainable", "size", "mean", "std", "min", "max", "nan", "inf"]
    node = graph.find_node(node_id)
    if node is None:
        raise LayerNotFoundError(f"There is no layer {node_id!r} in model {graph.name!r}.", received=repr(node_id),
                                 fix="Pick a layer from the list.")
    rows = []
    if model is None or node.kind == NodeKind.MODEL:
        for w in node.weights:
            rows.append({"name": w.name, "shape": format_shape(w.shape), "dtype": w.dtype, "trainable": w.trainable,
                         "size": w.size})
        return pd.DataFrame(rows, columns=columns)
    layer = find_layer(model, graph, node_id)
    for variable in layer.weights:
        values = np.asarray(variable.numpy())
        row = {"name": _weight_name(variable), "shape": format_shape(tuple(values.shape)),
               "dtype": str(values.dtype), "trainable": bool(getattr(variable, "trainable", True)),
               "size": int(values.size)}
        row.update(_stats(values))
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def weight_values(model: Any, graph: ModelGraph, node_id: str, weight_name: str) -> np.ndarray:
    """The values of one weight of a node, as a NumPy array.

    Raises:
        LayerNotFoundError: no such node or weight.
    """
    layer = find_layer(model, graph, node_id)
    for variable in layer.weights:
        if _weight_name(variable) == weight_name:
            return np.asarray(variable.numpy())
    names = [_weight_name(v) for v in layer.weights]
    raise LayerNotFoundError(f"Layer {node_id!r} has no weight {weight_name!r}.", received=repr(weight_name),
                             fix=f"Use one of {names}.")


def _stats(values: np.ndarray) -> dict[str, float | int]:
    flat = values.reshape(-1)
    out: dict[str, float | int] = {"nan": 0, "inf": 0}
    if flat.dtype.kind in "fc":
        finite_mask = np.isfinite(flat)
        out["nan"] = int(np.isnan(flat).sum())
        out["inf"] = int(np.isinf(flat).sum())
        flat = flat[finite_mask]
    if flat.dtype.kind in "biuf" and flat.size:
        flat = flat.astype(np.float64)
        out.update(mean=float(flat.mean()), std=float(flat.std()), min=float(flat.min()), max=float(flat.max()))
    return out


def activation_outputs(value: Any) -> list[np.ndarray]:
    """A layer's activation as a list of arrays, one per output (most layers have one).

    Example:
        >>> [a.shape for a in activation_outputs([np.zeros(2), np.zeros((2, 3))])]
        [(2,), (2, 3)]
    """
    if isinstance(value, (list, tuple)):
        return [np.asarray(v) for v in value]
    return [np.asarray(value)]


def mode_difference(training: Any, inference: Any) -> np.ndarray:
    """Training-mode minus inference-mode output of the same layer on the same input.

    Raises:
        InputDataError: the two outputs have different shapes.

    Example:
        >>> mode_difference(np.array([2.0, 0.0]), np.array([1.0, 1.0])).tolist()
        [1.0, -1.0]
    """
    a, b = np.asarray(training), np.asarray(inference)
    if a.shape != b.shape:
        raise InputDataError("The training and inference outputs have different shapes.",
                             received=f"{a.shape} and {b.shape}", fix="Compare outputs of the same layer and input.")
    return a.astype(np.float64) - b.astype(np.float64)


def first_rows(data: Any, rows: int) -> Any:
    """The first ``rows`` samples of an array, a dict of arrays or a DataFrame (other data unchanged).

    Example:
        >>> first_rows({"a": np.arange(5), "b": np.arange(5)}, 2)["b"].tolist()
        [0, 1]
    """
    if isinstance(data, Mapping):
        return {k: first_rows(v, rows) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(first_rows(v, rows) for v in data)
    if hasattr(data, "iloc"):
        return data.iloc[:rows]
    if isinstance(data, np.ndarray):
        return data[:rows]
    return data


def data_warnings(model: Any, data: Any) -> list[str]:
    """Check ``data`` against the model's inputs before running it; one warning per input holding NaN or Inf.

    Raises the same :class:`~inspector.errors.InputDataError` as running the model would
    (wrong shape, dtype, missing input or column), before any work is done.

    Example:
        >>> import keras
        >>> x = keras.Input((2,), name="x")
        >>> data_warnings(keras.Model(x, x), np.array([[1.0, np.nan]]))
        ["Input 'x' holds 1 NaN and 0 Inf value(s) in 1 of 1 samples (first: sample 0)."]
    """
    from inspector.io.inputs import input_specs, nonfinite_messages, prepare_arrays

    specs = input_specs(model)
    return nonfinite_messages(prepare_arrays(data, specs), specs)


def sample_embedding_metadata(groups: Sequence[Any] | None) -> pd.DataFrame | None:
    """A sample's hidden group per vocabulary index as a metadata table to colour the projection by.

    Example:
        >>> sample_embedding_metadata(["a", "b"])["group"].tolist()
        ['a', 'b']
    """
    if groups is None:
        return None
    import pandas as pd

    return pd.DataFrame({"group": [str(g) for g in groups]})


def random_inputs(model: Any, graph: ModelGraph, *, samples: int = 64, seed: int = 0,
                  free_size: int = 16) -> dict[str, np.ndarray]:
    """Random data matching the model's inputs, keyed by input name.

    Floats are standard normal; integers feeding an ``Embedding`` stay below its
    ``input_dim`` (other integers are 0/1); free dimensions other than the batch
    get ``free_size``.
    """
    from inspector.io.inputs import input_specs

    rng = np.random.default_rng(seed)
    out = {}
    vocab = _embedding_vocabularies(graph)
    for spec in input_specs(model):
        shape = (samples, *(free_size if d is None else d for d in spec.shape[1:]))
        dtype = np.dtype(spec.dtype) if spec.dtype not in ("string",) else np.dtype(object)
        if dtype.kind in "iu":
            high = vocab.get(spec.name, 2)
            out[spec.name] = rng.integers(0, high, size=shape).astype(dtype)
        elif dtype.kind == "b":
            out[spec.name] = rng.integers(0, 2, size=shape).astype(bool)
        elif dtype.kind in "fc":
            out[spec.name] = rng.standard_normal(shape).astype(dtype)
        else:
            raise InputDataError(f"Random data cannot be made for input {spec.name!r} of dtype {spec.dtype}.",
                                 received=spec.describe(), fix="Upload a data file instead.")
    return out


def _embedding_vocabularies(graph: ModelGraph) -> dict[str, int]:
    """Input id -> smallest ``input_dim`` of the Embedding layers it feeds (through nested inputs)."""
    flat = graph.expanded()
    by_id = {n.id: n for n in flat.nodes}
    out: dict[str, int] = {}
    for input_id in flat.inputs:
        frontier, seen = [input_id], set()
        while frontier:
            current = frontier.pop()
            if current in seen:
                continue
            seen.add(current)
            for nxt in flat.successors(current):
                node = by_id.get(nxt)
                if node is None:
                    continue
                if node.class_name == "Embedding" and isinstance(node.config.get("input_dim"), int):
                    out[input_id] = min(out.get(input_id, node.config["input_dim"]), node.config["input_dim"])
                elif node.kind == NodeKind.INPUT:
                    frontier.append(nxt)
    return out


def read_data_upload(name: str, data: bytes) -> Any:
    """Read an uploaded ``.npy``/``.npz``/``.csv`` file's bytes with :func:`inspector.io.inputs.load_data_file`.

    Returns an array, a dict of arrays or a DataFrame; never unpickles.

    Example:
        >>> from inspector.rendering.figures import npy_bytes
        >>> read_data_upload("x.npy", npy_bytes(np.arange(3))).tolist()
        [0, 1, 2]
    """
    from inspector.io.inputs import DATA_SUFFIXES, load_data_file

    suffix = Path(name).suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise InputDataError(f"Unsupported data file type {suffix or '(no suffix)'!r}.", received=repr(name),
                             fix="Upload a .npy, .npz or .csv file.")
    limit = get_limits().max_data_bytes
    if len(data) > limit:
        raise LimitExceededError(f"The data file is {format_bytes(len(data))}, above the limit max_data_bytes = "
                                 f"{format_bytes(limit)}.", received=repr(name),
                                 fix="Upload fewer rows, or raise the limit with KERAS_INSPECTOR_MAX_DATA_BYTES.")
    with tempfile.TemporaryDirectory(prefix="keras-inspector-data-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            return load_data_file(path)
        except InspectorError as e:  # name the file the user uploaded, not our temporary copy
            def named(text: str) -> str:
                return text.replace(str(path), name).replace(path.name, name)

            raise type(e)(named(e.what), received=named(e.received), fix=named(e.fix)) from None


def _is_model(layer: Any) -> bool:
    return hasattr(layer, "layers") and hasattr(layer, "get_layer")


def _layers_with_paths(model: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for layer in getattr(model, "layers", []):
        path = prefix + layer.name
        out.append((path, layer))
        if _is_model(layer):
            out.extend(_layers_with_paths(layer, path + "/"))
    return out


def _weight_name(variable: Any) -> str:
    return str(getattr(variable, "name", None) or getattr(variable, "path", "weight")).split("/")[-1].split(":")[0]


def model_warnings(opened: OpenedModel) -> list[str]:
    """Everything the user should know before trusting what the pages show.

    The graph's own warnings (static view, legacy rewrites), opaque layers and
    weights holding NaN or Inf.
    """
    warnings = list(opened.graph.warnings)
    opaque = opened.graph.opaque_nodes
    if opaque:
        listed = "; ".join(f"{n.id} ({n.class_name}: {n.opaque_reason or 'needs code'})" for n in opaque[:8])
        more = f" and {len(opaque) - 8} more" if len(opaque) > 8 else ""
        warnings.append(f"{len(opaque)} layer(s) cannot be understood without running code: {listed}{more}.")
    if opened.model is not None:
        for layer_path, weight_name, nans, infs in nonfinite_weights(opened.model):
            warnings.append(f"Weight {weight_name!r} of layer {layer_path!r} holds {nans:,} NaN and {infs:,} Inf "
                            "values.")
    return warnings


def nonfinite_weights(model: Any) -> list[tuple[str, str, int, int]]:
    """``(layer path, weight name, NaN count, Inf count)`` for every weight of ``model`` that is not all finite."""
    found = []
    for layer_path, layer in _layers_with_paths(model):
        for variable in layer.weights if not _is_model(layer) else ():
            values = np.asarray(variable.numpy())
            if values.dtype.kind not in "fc" or np.isfinite(values).all():
                continue
            found.append((layer_path, _weight_name(variable), int(np.isnan(values).sum()),
                          int(np.isinf(values).sum())))
    return found
