"""What a node looks like, whatever the output format: its family, colours and label text.

Every renderer (DOT, the built-in SVG of the HTML page, plotly) asks this module
for the same facts so the views agree: :func:`family` puts a layer into one of
the :data:`FAMILIES` (colour by family), :func:`label_lines` gives the lines of a
node's label, already abbreviated so that no label can grow past Graphviz's
16,384-character limit (a ``Concatenate`` of 1,600 inputs lists two shapes and a
count, not 1,600 shapes).  Text here is plain; each renderer escapes it for its
own format.

Example:
    >>> from inspector.graph import LayerNode
    >>> node = LayerNode(id="conv", name="conv", class_name="Conv2D", activation="relu",
    ...                  input_shapes=((None, 28, 28, 1),), output_shapes=((None, 26, 26, 32),),
    ...                  params=320, trainable_params=320, layer_params=320)
    >>> family(node), FAMILIES[family(node)].fill
    ('conv', '#dbeafe')
    >>> [line.text for line in label_lines(node)]
    ['conv', 'Conv2D · relu', '(None, 28, 28, 1) → (None, 26, 26, 32)', '320 params']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inspector.graph import LayerNode, NodeKind, Shape, format_shape
from inspector.graph import format_shapes as graph_format_shapes

__all__ = [
    "Family",
    "FAMILIES",
    "family",
    "LabelLine",
    "LabelOptions",
    "label_lines",
    "detail_lines",
    "abbreviate",
    "format_shapes",
    "format_count",
    "MAX_TEXT",
    "MAX_NAME",
]

MAX_TEXT = 160  # characters of any one label line; keeps every label far below Graphviz's 16,384
MAX_NAME = 72  # characters of a layer name in a label (the full name is in the details)


@dataclass(frozen=True)
class Family:
    """A family of layers and its colours (fill, border, text)."""

    name: str
    fill: str
    border: str
    title: str


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("input", "#e5e7eb", "#4b5563", "Input / output"),
        Family("conv", "#dbeafe", "#2563eb", "Convolution"),
        Family("dense", "#fde68a", "#b45309", "Dense"),
        Family("norm", "#e9d5ff", "#7e22ce", "Normalization"),
        Family("embedding", "#fbcfe8", "#be185d", "Embedding"),
        Family("merge", "#bbf7d0", "#15803d", "Merge"),
        Family("recurrent", "#fed7aa", "#c2410c", "Recurrent"),
        Family("attention", "#fecaca", "#b91c1c", "Attention"),
        Family("pooling", "#cffafe", "#0e7490", "Pooling"),
        Family("reshape", "#f5f5f4", "#78716c", "Reshape"),
        Family("regularization", "#f1f5f9", "#64748b", "Dropout / regularization"),
        Family("activation", "#fef9c3", "#a16207", "Activation"),
        Family("model", "#ccfbf1", "#0f766e", "Nested model"),
        Family("group", "#fff7ed", "#9a3412", "Folded group"),
        Family("other", "#ffffff", "#374151", "Other"),
    )
}

_MERGE = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot"}
_RESHAPE = {"Reshape", "Flatten", "Permute", "RepeatVector", "Resizing", "CenterCrop", "Squeeze",
            "ExpandDims", "Identity"}
_RESHAPE_PREFIXES = ("Cropping", "ZeroPadding", "UpSampling")
_REGULARIZATION = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                   "GaussianDropout", "AlphaDropout", "ActivityRegularization", "Masking"}
_ACTIVATION = {"Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "ThresholdedReLU"}
_RECURRENT = {"LSTM", "GRU", "SimpleRNN", "RNN", "Bidirectional", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D",
              "LSTMCell", "GRUCell", "SimpleRNNCell", "StackedRNNCells"}
_DENSE = {"Dense", "EinsumDense", "QDense", "Linear"}


def family(node: LayerNode) -> str:
    """The family of a node, a key of :data:`FAMILIES`, from its kind and class name.

    Example:
        >>> from inspector.graph import LayerNode
        >>> family(LayerNode(id="a", name="a", class_name="MultiHeadAttention"))
        'attention'
    """
    if node.kind == NodeKind.GROUP:
        return "group"
    if node.kind == NodeKind.INPUT or node.class_name == "InputLayer":
        return "input"
    if node.kind in (NodeKind.MODEL, NodeKind.SUBCLASSED):
        return "model"
    return class_family(node.class_name)


def class_family(class_name: str) -> str:
    """The family of a layer class name (see :func:`family`)."""
    c = class_name
    if c in _RECURRENT or c.endswith(("RNN", "LSTM", "GRU")):
        return "recurrent"
    if "Attention" in c:
        return "attention"
    if "Conv" in c:
        return "conv"
    if "Normalization" in c or c.endswith("Norm"):
        return "norm"
    if "Pooling" in c:
        return "pooling"
    if "Embedding" in c:
        return "embedding"
    if c in _DENSE:
        return "dense"
    if c in _MERGE:
        return "merge"
    if c in _RESHAPE or c.startswith(_RESHAPE_PREFIXES):
        return "reshape"
    if c in _REGULARIZATION or "Dropout" in c:
        return "regularization"
    if c in _ACTIVATION:
        return "activation"
    return "other"


def abbreviate(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` on one line, cut in the middle with an ellipsis when longer than ``limit``.

    Example:
        >>> abbreviate("a" * 10, 5)
        'aa…aa'
    """
    text = " ".join(str(text).split())  # newlines and tabs would break labels
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2 + (limit - 1) % 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


def format_shapes(shapes: Sequence[Shape | None], limit: int = MAX_TEXT) -> str:
    """:func:`inspector.graph.format_shapes` capped at ``limit`` characters, ``?`` when unknown.

    Example:
        >>> format_shapes([(None, 4)] * 1600)
        '1600 × (None, 4)'
    """
    return abbreviate(graph_format_shapes(shapes, empty="?"), limit)


def format_count(n: int) -> str:
    """A parameter count with thousands separators.

    Example:
        >>> format_count(1234567)
        '1,234,567'
    """
    return f"{n:,}"


@dataclass(frozen=True)
class LabelOptions:
    """Which facts a node label shows."""

    show_shapes: bool = True
    show_params: bool = True
    show_dtypes: bool = False


@dataclass(frozen=True)
class LabelLine:
    """One line of a label and how to draw it: ``style`` is "title", "class", "text" or "badge"."""

    text: str
    style: str = "text"


def label_lines(node: LayerNode, options: LabelOptions = LabelOptions(), *,
                collapsed_layers: int = 0) -> list[LabelLine]:
    """The lines of a node's label, plain text, each at most :data:`MAX_TEXT` characters.

    ``collapsed_layers`` is the number of layers hidden inside a nested model
    that is drawn collapsed.
    """
    lines = [LabelLine(abbreviate(node.name, MAX_NAME), "title")]
    repeats = node.config.get("repeats", len(node.members))
    cls = node.class_name
    if node.kind == NodeKind.GROUP:
        cls = f"×{repeats} {cls}"
    if node.activation and node.activation != "linear":
        cls = f"{cls} · {node.activation}"
    lines.append(LabelLine(abbreviate(cls), "class"))
    if options.show_shapes:
        shape_text = _shape_text(node)
        if shape_text:
            lines.append(LabelLine(shape_text))
    if options.show_dtypes and node.dtype:
        lines.append(LabelLine(abbreviate(f"dtype {node.dtype}")))
    if options.show_params:
        params = _params_text(node)
        if params:
            lines.append(LabelLine(params))
    lines.extend(LabelLine(b, "badge") for b in badges(node, collapsed_layers=collapsed_layers))
    return lines


def badges(node: LayerNode, *, collapsed_layers: int = 0) -> list[str]:
    """Short markers: frozen, shared, opaque, collapsed model, folded group."""
    out = []
    if not node.trainable:
        out.append("FROZEN")
    if node.shared_with:
        out.append(abbreviate(f"shared with {node.shared_with}", MAX_TEXT))
    if node.opaque:
        out.append(abbreviate("opaque: " + (node.opaque_reason or "needs code to understand"), MAX_TEXT))
    if node.kind == NodeKind.SUBCLASSED:
        out.append("subclassed: no graph")
    if collapsed_layers:
        out.append(f"▸ {collapsed_layers} layers inside")
    if node.kind == NodeKind.GROUP and node.config.get("block_layers"):
        out.append(abbreviate(f"{node.config['block_layers']} layers per block: {node.config.get('classes', '')}",
                              MAX_TEXT))
    return out


def _shape_text(node: LayerNode) -> str:
    if node.kind == NodeKind.INPUT or not node.input_shapes:
        return format_shapes(node.output_shapes) if node.output_shapes else ""
    half = (MAX_TEXT - 3) // 2
    return f"{format_shapes(node.input_shapes, half)} → {format_shapes(node.output_shapes, half)}"


def _params_text(node: LayerNode) -> str:
    if node.params == 0 and node.layer_params == 0:
        return ""
    if node.params == 0 and node.layer_params:
        return f"{format_count(node.layer_params)} params (counted at first call)"
    text = f"{format_count(node.params)} params"
    if node.non_trainable_params:
        text += f" ({format_count(node.trainable_params)} trainable, " \
                f"{format_count(node.non_trainable_params)} non-trainable)"
    return text


def detail_lines(node: LayerNode, *, collapsed_layers: int = 0) -> list[tuple[str, str]]:
    """Every fact worth showing on hover, as ``(field, value)`` pairs of plain text.

    Example:
        >>> from inspector.graph import LayerNode
        >>> detail_lines(LayerNode(id="d", name="d", class_name="Dense"))[:2]
        [('id', 'd'), ('class', 'Dense')]
    """
    rows = [("id", node.id), ("class", node.class_name), ("kind", node.kind.value)]
    if node.path and node.path != node.id:
        rows.append(("path", node.path))
    if node.module:
        rows.append(("module", node.module))
    if node.activation:
        rows.append(("activation", node.activation))
    if node.input_shapes:
        rows.append(("input", format_shapes(node.input_shapes, 400)))
    if node.output_shapes:
        rows.append(("output", format_shapes(node.output_shapes, 400)))
    if node.dtype:
        rows.append(("dtype", node.dtype))
    rows.append(("params", format_count(node.params)))
    rows.append(("trainable", format_count(node.trainable_params)))
    rows.append(("non-trainable", format_count(node.non_trainable_params)))
    if node.layer_params != node.params:
        rows.append(("layer params", format_count(node.layer_params)))
    if not node.trainable:
        rows.append(("frozen", "yes (trainable=False)"))
    if node.shared_with:
        rows.append(("shared with", node.shared_with))
    if node.call_index:
        rows.append(("call", str(node.call_index)))
    if node.opaque:
        rows.append(("opaque", node.opaque_reason or "yes"))
    if collapsed_layers:
        rows.append(("collapsed", f"{collapsed_layers} layers inside"))
    if node.members:
        shown = list(node.members)
        if len(shown) > 4:
            shown = [*shown[:3], f"… {len(shown) - 4} more", shown[-1]]
        rows.append(("members", f"{len(node.members)}: " + ", ".join(shown)))
    for w in node.weights[:12]:
        rows.append(("weight", f"{w.name} {format_shape(w.shape)} {w.dtype}"
                     + ("" if w.trainable else " (non-trainable)")))
    if len(node.weights) > 12:
        rows.append(("weight", f"… {len(node.weights) - 12} more"))
    return [(k, abbreviate(v, 400)) for k, v in rows]
