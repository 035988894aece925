"""What the Streamlit app shows that needs computing, kept out of ``app/``.

The app is a thin skin (widgets, calls, display); everything here is plain
library code, testable without Streamlit: opening a file with the static
fallback, the model's facts and warnings, filtering the summary, weight
statistics and histograms, random inputs that match the model's inputs, reading
an uploaded data file, and the figures of an activation array.  Nothing here
imports Streamlit; Keras, plotly and pandas are imported inside the functions.

Example:
    >>> filter_terms("  Dense  ")
    'dense'
    >>> trust_allowed({"KERAS_INSPECTOR_ALLOW_TRUST": "1"}), trust_allowed({})
    (True, False)
    >>> upload_limit_mb(500 * 2**20)
    500
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inspector.errors import (
    InputDataError,
    InspectorError,
    LayerNotFoundError,
    LimitExceededError,
    UnsafeModelError,
    without_terminal_codes,
)
from inspector.graph import LayerNode, ModelGraph, NodeKind, Source, format_shape
from inspector.io.files import read_source
from inspector.limits import format_bytes, get_limits

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "TRUST_ENVIRONMENT_VARIABLE",
    "PRELOAD_ENVIRONMENT_VARIABLE",
    "OpenedModel",
    "trust_allowed",
    "preload_path",
    "upload_limit_mb",
    "graphviz_available",
    "file_digest",
    "read_model_bytes",
    "open_model",
    "message_markdown",
    "model_facts",
    "io_specs_frame",
    "model_warnings",
    "nonfinite_weights",
    "data_warnings",
    "filter_terms",
    "filter_summary",
    "node_choices",
    "node_facts",
    "max_nesting_depth",
    "default_expand_depth",
    "find_layer",
    "weight_frame",
    "weight_values",
    "histogram_figure",
    "heatmap_figure",
    "feature_map_figure",
    "activation_frame",
    "is_image_activation",
    "npy_bytes",
    "activation_outputs",
    "mode_difference",
    "first_rows",
    "problem_layers",
    "projection_colour_columns",
    "label_or_index",
    "sample_embedding_metadata",
    "default_embedding",
    "random_inputs",
    "read_data_upload",
]

TRUST_ENVIRONMENT_VARIABLE = "KERAS_INSPECTOR_ALLOW_TRUST"
PRELOAD_ENVIRONMENT_VARIABLE = "KERAS_INSPECTOR_PRELOAD"


# --------------------------------------------------------------------------- settings
def trust_allowed(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the server operator allows trusting uploads (``KERAS_INSPECTOR_ALLOW_TRUST=1``; off by default).

    Example:
        >>> trust_allowed({"KERAS_INSPECTOR_ALLOW_TRUST": "0"})
        False
    """
    environ = os.environ if environ is None else environ
    return environ.get(TRUST_ENVIRONMENT_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def preload_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """The model file the app opens first (``KERAS_INSPECTOR_PRELOAD``, set by ``keras-inspector app MODEL``).

    Example:
        >>> preload_path({}) is None
        True
        >>> preload_path({"KERAS_INSPECTOR_PRELOAD": "m.keras"}).name
        'm.keras'
    """
    environ = os.environ if environ is None else environ
    value = environ.get(PRELOAD_ENVIRONMENT_VARIABLE, "").strip()
    return Path(value).expanduser() if value else None


def upload_limit_mb(max_upload_bytes: int | None = None) -> int:
    """The upload limit in MB as Streamlit's ``server.maxUploadSize`` counts it (MiB, rounded down).

    Example:
        >>> upload_limit_mb(2**20 + 5)
        1
    """
    limit = get_limits().max_upload_bytes if max_upload_bytes is None else max_upload_bytes
    return max(1, int(limit) // 2**20)


def graphviz_available() -> bool:
    """Whether the Graphviz ``dot`` program is installed (SVG and PNG downloads need it).

    Example:
        >>> isinstance(graphviz_available(), bool)
        True
    """
    return shutil.which("dot") is not None


# --------------------------------------------------------------------------- opening
@dataclass(frozen=True)
class OpenedModel:
    """A model file as the app holds it: the graph always, the Keras model when it could be loaded.

    ``model`` is ``None`` when loading needed code from an untrusted file or
    failed in Keras; then ``graph`` is the static parse (``graph.source`` is
    ``Source.STATIC``) and ``static_reason`` is the error that explains why.
    """

    name: str
    sha256: str
    format: str
    trusted: bool
    graph: ModelGraph
    model: Any = field(default=None, compare=False, repr=False)
    static_reason: str = ""
    needs_trust: bool = False  # the static view is because the file needs code (trusting would load it)

    @property
    def can_run(self) -> bool:
        """Whether activations and embeddings can be computed (a Keras model is loaded)."""
        return self.model is not None


def file_digest(data: bytes) -> str:
    """The SHA-256 of a file's bytes: the cache key of a loaded model.

    Example:
        >>> file_digest(b"")[:12]
        'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()


def read_model_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a model file on disk, refusing a missing file, a directory or one over ``max_upload_bytes``.

    Example:
        >>> read_model_bytes("no/such/model.keras")
        Traceback (most recent call last):
        ...
        inspector.errors.ModelFormatError: No model file at this path.
          Received: no/such/model.keras
          Fix: Check the path; Keras models are saved as .keras (or legacy .h5) files.
    """
    return read_source(Path(path))[1]


def open_model(data: bytes, *, name: str = "", trust: bool = False) -> OpenedModel:
    """Open a model file's bytes: load it with Keras, or fall back to the static view of its config.

    A file that is not a model at all raises its :class:`~inspector.errors.InspectorError`;
    one that needs code (untrusted) or that Keras cannot rebuild opens with
    ``model=None`` and the static graph, whose first warning says why.

    Example:
        >>> open_model(b"PK\\x05\\x06" + bytes(18), name="empty.keras")
        Traceback (most recent call last):
        ...
        inspector.errors.ModelFormatError: The zip archive has no config.json, so it is not a .keras model (a .keras file holds config.json, metadata.json and model.weights.h5).
          Received: 'empty.keras', 22 bytes containing []
          Fix: Save the whole model with model.save('model.keras'); model.save_weights() files hold no architecture.
    """
    from inspector.io.files import read_model_file
    from inspector.model.loading import load_or_view

    buffer = io.BytesIO(data)
    buffer.name = name  # so every error message names the file
    model_file = read_model_file(buffer)
    model, graph, why = load_or_view(model_file, trust=trust)
    return OpenedModel(name or model_file.name, model_file.sha256, model_file.format, trust, graph, model,
                       str(why) if why else "", needs_trust=isinstance(why, UnsafeModelError) and not trust)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$])")


def message_markdown(text: str) -> str:
    r"""An error message as Streamlit markdown: its lines kept, terminal colour codes and markup disarmed.

    Keras messages carry ANSI colour codes, and ``$``, ``*`` or ``_`` in a layer name would otherwise turn
    into maths or emphasis.

    Example:
        >>> message_markdown("Bad layer 'a_b'.\n  Fix: pay $5").splitlines()
        ["Bad layer 'a\\_b'.  ", '  Fix: pay \\$5']
        >>> message_markdown("\x1b[1mred\x1b[0m")
        'red'
    """
    plain = without_terminal_codes(str(text))
    return "  \n".join(_MARKDOWN_SPECIAL.sub(r"\\\1", line) for line in plain.splitlines())


# --------------------------------------------------------------------------- facts
def model_facts(graph: ModelGraph) -> dict[str, str]:
    """The few facts the sidebar shows, as display text.

    Example:
        >>> g = ModelGraph("m", "Functional", (LayerNode("x", "x", "InputLayer", NodeKind.INPUT,
        ...     output_shapes=((None, 3),)),), (), ("x",), ("x",), total_params=1234)
        >>> model_facts(g)["Parameters"], model_facts(g)["Inputs"]
        ('1,234', 'x (None, 3)')
    """
    def endpoints(ids: Sequence[str]) -> str:
        return ", ".join(f"{i} {_shapes_text(_node(graph, i).output_shapes)}" if _node(graph, i) else i
                         for i in ids)

    facts = {
        "Name": graph.name,
        "Class": graph.class_name,
        "Parameters": f"{graph.total_params:,}",
        "Trainable": f"{graph.trainable_params:,}",
        "Layers": f"{graph.layer_count:,}",
        "Inputs": endpoints(graph.inputs),
        "Outputs": endpoints(graph.outputs),
        "View": "static (no code run)" if graph.source == Source.STATIC else "loaded with Keras",
    }
    if graph.total_bytes:
        facts["Weights"] = format_bytes(graph.total_bytes)
    return facts


def io_specs_frame(graph: ModelGraph, roles: Sequence[str] = ("input", "output")) -> pd.DataFrame:
    """One row per model input and output (``roles``): role, node id, shape, dtype.

    Example:
        >>> g = ModelGraph("m", "Functional", (LayerNode("x", "x", "InputLayer", NodeKind.INPUT,
        ...     output_shapes=((None, 3),), dtype="float32"),), (), ("x",), ("x",))
        >>> io_specs_frame(g).values.tolist()
        [['input', 'x', '(None, 3)', 'float32'], ['output', 'x', '(None, 3)', 'float32']]
    """
    import pandas as pd

    rows = []
    for role, ids in (("input", graph.inputs), ("output", graph.outputs)):
        if role not in roles:
            continue
        for node_id in ids:
            node = _node(graph, node_id)
            rows.append({"role": role, "name": node_id,
                         "shape": _shapes_text(node.output_shapes) if node else "?",
                         "dtype": (node.dtype or "") if node else ""})
    return pd.DataFrame(rows, columns=["role", "name", "shape", "dtype"])


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


# --------------------------------------------------------------------------- summary and nodes
def filter_terms(query: str) -> str:
    """The search box's text as the filter compares it (trimmed, lower case)."""
    return (query or "").strip().lower()


def filter_summary(frame: pd.DataFrame, query: str) -> pd.DataFrame:
    """Rows of a summary frame whose id, name or class contains ``query`` (case-insensitive).

    Example:
        >>> import pandas as pd
        >>> df = pd.DataFrame({"id": ["a", "b"], "name": ["a", "b"], "class_name": ["Dense", "Conv2D"]})
        >>> filter_summary(df, "conv")["id"].tolist(), len(filter_summary(df, ""))
        (['b'], 2)
    """
    terms = filter_terms(query)
    if not terms:
        return frame
    hit = np.zeros(len(frame), dtype=bool)
    for column in ("id", "name", "class_name"):
        if column in frame:
            hit |= frame[column].astype(str).str.lower().str.contains(terms, regex=False).to_numpy()
    return frame[hit]


def node_choices(graph: ModelGraph, query: str = "") -> list[str]:
    """Ids of every node at every depth (inputs excluded), filtered by the search text.

    Example:
        >>> g = ModelGraph("m", "Functional", (LayerNode("x", "x", "InputLayer", NodeKind.INPUT),
        ...     LayerNode("d", "d", "Dense")), (), ("x",), ("d",))
        >>> node_choices(g), node_choices(g, "conv")
        (['d'], [])
    """
    terms = filter_terms(query)
    return [n.id for n, _ in graph.walk() if n.kind != NodeKind.INPUT
            and (not terms or terms in n.id.lower() or terms in n.class_name.lower())]


def node_facts(graph: ModelGraph, node_id: str) -> dict[str, str]:
    """A node's facts as display text for the Layer page (empty entries left out).

    Example:
        >>> g = ModelGraph("m", "Functional", (LayerNode("x", "x", "InputLayer", NodeKind.INPUT,
        ...     output_shapes=((None, 3),)), LayerNode("d", "d", "Dense", input_shapes=((None, 3),),
        ...     output_shapes=((None, 1),), params=4, layer_params=4)), (), ("x",), ("d",))
        >>> facts = node_facts(g, "d")
        >>> facts["Input shape"], facts["Output shape"], facts["Parameters"]
        ('(None, 3)', '(None, 1)', '4')
    """
    node = _node(graph, node_id)
    if node is None:
        raise LayerNotFoundError(f"There is no layer {node_id!r} in model {graph.name!r}.", received=repr(node_id),
                                 fix="Pick a layer from the list.")
    owner = next((g for n, g in graph.walk() if n.id == node_id), graph)
    facts = {
        "Id": node.id,
        "Path": node.path if node.path and node.path != node.id else "",
        "Class": node.class_name + (f" ({node.module})" if node.module and not node.module.startswith("keras")
                                    else ""),
        "Kind": node.kind.value,
        "Input shape": _shapes_text(node.input_shapes) if node.input_shapes else "",
        "Output shape": _shapes_text(node.output_shapes) if node.output_shapes else "",
        "Parameters": f"{node.params:,}",
        "Layer parameters": f"{node.layer_params:,}" if node.layer_params != node.params else "",
        "Trainable": "yes" if node.trainable else "no",
        "Dtype": node.dtype or "",
        "Activation": node.activation or "",
        "Inside": node.parent or "",
        "Shared with": f"{node.shared_with} (call {node.call_index})" if node.shared_with else "",
        "Inputs from": ", ".join(owner.predecessors(node_id)),
        "Outputs to": ", ".join(owner.successors(node_id)),
        "Opaque": node.opaque_reason or ("yes" if node.opaque else ""),
    }
    return {k: v for k, v in facts.items() if v}


def max_nesting_depth(graph: ModelGraph) -> int:
    """How many levels of nested models the graph has (0: none).

    Example:
        >>> max_nesting_depth(ModelGraph("m", "Functional", (), (), (), ()))
        0
    """
    return max((n.depth + (1 if n.kind == NodeKind.MODEL else 0) for n, _ in graph.walk()), default=0)


def default_expand_depth(graph: ModelGraph) -> int:
    """Expand every nested model unless the flat graph would exceed ``max_layout_nodes``, then none.

    Example:
        >>> default_expand_depth(ModelGraph("m", "Functional", (), (), (), ()))
        0
    """
    depth = max_nesting_depth(graph)
    if depth and len(graph.expanded().nodes) > get_limits().max_layout_nodes:
        return 0
    return depth


# --------------------------------------------------------------------------- layers and weights
def find_layer(model: Any, graph: ModelGraph, node_id: str) -> Any:
    """The Keras layer behind a node id (``dense``, ``dense@1``, ``generator/dense_2``).

    Raises:
        LayerNotFoundError: no node or layer with that id.
    """
    node = _node(graph, node_id)
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
    node = _node(graph, node_id)
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


# --------------------------------------------------------------------------- figures
def histogram_figure(values: Any, *, title: str = "", bins: int = 60) -> Any:
    """A plotly bar chart of the histogram of the finite values (binned here, so any size draws fast).

    Example:
        >>> fig = histogram_figure(np.array([0.0, 1.0, 1.0, np.nan]), bins=2)
        >>> [int(v) for v in fig.data[0].y]
        [1, 2]
    """
    import plotly.graph_objects as go

    flat = np.asarray(values).reshape(-1)
    if flat.dtype.kind == "b":
        flat = flat.astype(np.int8)
    flat = flat[np.isfinite(flat)] if flat.dtype.kind in "fc" else flat
    counts, edges = np.histogram(flat.astype(np.float64), bins=bins) if flat.size else (np.zeros(0, int),
                                                                                          np.zeros(1))
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Bar(x=centres, y=counts, width=np.diff(edges), marker_color="#2563eb",
                           hovertemplate="%{x:.4g}: %{y}<extra></extra>"))
    fig.update_layout(title=title or None, bargap=0, height=260, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis_title="value", yaxis_title="count")
    return fig


def _as_2d(values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        return array.reshape(-1, 1)
    return array.reshape(array.shape[0], -1)


def heatmap_figure(values: Any, *, max_rows: int = 200, max_columns: int = 512, title: str = "") -> Any:
    """A heatmap of activations: one row per sample, one column per unit (trailing axes flattened).

    Example:
        >>> heatmap_figure(np.zeros((3, 2, 2))).data[0].z.shape
        (3, 4)
    """
    import plotly.graph_objects as go

    grid = _as_2d(values)[:max_rows, :max_columns]
    fig = go.Figure(go.Heatmap(z=grid.astype(np.float64) if grid.dtype.kind in "biuf" else grid,
                               colorscale="RdBu_r", zmid=0 if grid.dtype.kind in "if" else None))
    fig.update_layout(title=title or None, height=360, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis_title="unit (trailing axes flattened)", yaxis_title="sample")
    return fig


def is_image_activation(values: Any) -> bool:
    """Whether an activation looks like feature maps: 4-D ``(samples, height, width, channels)``.

    Example:
        >>> is_image_activation(np.zeros((2, 8, 8, 3))), is_image_activation(np.zeros((2, 8)))
        (True, False)
    """
    return np.ndim(values) == 4 and np.shape(values)[1] > 1 and np.shape(values)[2] > 1


def feature_map_figure(values: Any, *, sample: int = 0, max_maps: int = 16, columns: int = 4) -> Any:
    """A grid of the first ``max_maps`` channels of one sample of a 4-D activation.

    Raises:
        InputDataError: the array is not 4-D or ``sample`` is out of range.

    Example:
        >>> fig = feature_map_figure(np.zeros((1, 5, 5, 3)))
        >>> len(fig.data)
        3
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    array = np.asarray(values)
    if array.ndim != 4:
        raise InputDataError("Feature maps need a 4-D activation (samples, height, width, channels).",
                             received=f"an array of shape {array.shape}", fix="Pick a convolutional layer.")
    if not 0 <= sample < array.shape[0]:
        raise InputDataError(f"Sample {sample} is out of range.", received=f"{array.shape[0]} samples",
                             fix=f"Pick a sample between 0 and {array.shape[0] - 1}.")
    maps = min(max_maps, array.shape[3])
    rows = -(-maps // columns)
    fig = make_subplots(rows=rows, cols=min(columns, maps), subplot_titles=[f"channel {c}" for c in range(maps)],
                        horizontal_spacing=0.02, vertical_spacing=0.06)
    for c in range(maps):
        fig.add_trace(go.Heatmap(z=array[sample, :, :, c].astype(np.float64), colorscale="Viridis",
                                 showscale=False), row=c // columns + 1, col=c % columns + 1)
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(height=max(220, 180 * rows), margin=dict(l=10, r=10, t=30, b=10))
    return fig


def activation_frame(values: Any, *, max_rows: int = 100, max_columns: int = 64) -> pd.DataFrame:
    """The first rows and units of an activation as a table (trailing axes flattened).

    Example:
        >>> activation_frame(np.arange(6).reshape(2, 3)).columns.tolist()
        ['unit 0', 'unit 1', 'unit 2']
    """
    import pandas as pd

    grid = _as_2d(values)[:max_rows, :max_columns]
    return pd.DataFrame(grid, columns=[f"unit {i}" for i in range(grid.shape[1])])


def npy_bytes(values: Any) -> bytes:
    """An array as the bytes of a ``.npy`` file (for a download button).

    Example:
        >>> npy_bytes(np.zeros(2))[:6]
        b'\\x93NUMPY'
    """
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(values), allow_pickle=False)
    return buffer.getvalue()


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


def problem_layers(stats: pd.DataFrame) -> list[str]:
    """Layers of an :func:`inspector.activation_stats` table with dead units, NaN or Inf.

    Example:
        >>> import pandas as pd
        >>> problem_layers(pd.DataFrame({"layer": ["a", "b"], "dead_fraction": [0.0, 0.5],
        ...                              "nan_count": [0, 0], "inf_count": [0, 0]}))
        ['b']
    """
    if stats.empty:
        return []
    bad = (stats["dead_fraction"].fillna(0) > 0) | (stats["nan_count"] > 0) | (stats["inf_count"] > 0)
    return list(dict.fromkeys(str(v) for v in stats.loc[bad, "layer"]))


_COORDINATE_COLUMNS = ("x", "y", "z", "index", "is_padding")


def projection_colour_columns(frame: pd.DataFrame) -> list[str]:
    """Columns of a projection's frame worth colouring by: everything but the coordinates and the row index.

    Example:
        >>> import pandas as pd
        >>> projection_colour_columns(pd.DataFrame(columns=["index", "label", "x", "y", "is_padding", "group"]))
        ['label', 'group']
    """
    return [str(c) for c in frame.columns if str(c).lower() not in _COORDINATE_COLUMNS]


def label_or_index(query: str, labels: Sequence[Any] = ()) -> int | str:
    """The neighbour search text as a label when some point has it, else as an index (all digits).

    Example:
        >>> label_or_index(" 12 "), label_or_index("great"), label_or_index("1", ["0", "1"])
        (12, 'great', '1')
    """
    text = query.strip()
    if text in {str(label) for label in labels}:
        return text
    return int(text) if text.isdigit() else text


def default_embedding(table: pd.DataFrame) -> int:
    """Row of an :func:`inspector.embedding_layers` table to open first: the largest vocabulary.

    Example:
        >>> import pandas as pd
        >>> default_embedding(pd.DataFrame({"layer": ["a", "b"], "vocabulary_size": [7, 80]}))
        1
    """
    if table.empty:
        return 0
    return int(np.argmax(table["vocabulary_size"].to_numpy()))


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


# --------------------------------------------------------------------------- input data
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


# --------------------------------------------------------------------------- helpers
def _node(graph: ModelGraph, node_id: str) -> LayerNode | None:
    try:
        return graph.node(node_id)
    except KeyError:
        return None


def _shapes_text(shapes: Sequence[Any]) -> str:
    if not shapes:
        return "?"
    return ", ".join(format_shape(s) for s in shapes)


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
