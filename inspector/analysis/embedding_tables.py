"""The Embedding layers of a Keras model: where each one is (nested models and custom layers included), the
lookup layer feeding it (``StringLookup``, ``IntegerLookup``, ``TextVectorization``) and so its vocabulary, its
table as a matrix, and which labels its rows get.  :func:`embedding_layers` lists them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from inspector.analysis.projection_inputs import _text
from inspector.errors import InputDataError, LayerNotFoundError

__all__ = ["embedding_layers"]

_LOOKUP_CLASSES = {
    "StringLookup": "StringLookup vocabulary",
    "IntegerLookup": "IntegerLookup vocabulary",
    "TextVectorization": "TextVectorization vocabulary",
}
# layers between a lookup and its Embedding that pass integer indices through unchanged
_PASS_THROUGH = {"Reshape", "Flatten", "Identity", "Permute", "InputLayer"}


@dataclass(frozen=True, eq=False)
class _EmbeddingEntry:
    path: str  # e.g. "generator/embedding"; the graph node id of its first call when it has one
    layer: Any  # the keras Embedding
    lookup: Any = None  # the StringLookup / IntegerLookup / TextVectorization feeding it, if any
    lookup_path: str = ""

    @property
    def name(self) -> str:
        return str(self.layer.name)


def _embedding_entries(model: Any) -> list[_EmbeddingEntry]:
    """Every Embedding of the model (nested models and custom layers included), with its lookup layer."""
    import keras

    if not isinstance(model, keras.Model):
        raise InputDataError("Embedding layers are read from a loaded keras.Model.",
                             received=f"a {type(model).__name__}",
                             fix="Load the model first: model = inspector.load_model('model.keras').")
    from inspector.model.loading import build_graph

    graph = build_graph(model)
    flat = graph.expanded()
    by_id = {n.id: n for n in flat.nodes}
    entries: list[_EmbeddingEntry] = []
    seen: set[int] = set()
    for node, _ in graph.walk():
        if node.call_index or node.shared_with:
            continue
        layer = _layer_at(model, node.path or node.name)
        if layer is None or id(layer) in seen:
            continue
        if isinstance(layer, keras.layers.Embedding):
            seen.add(id(layer))
            lookup, lookup_path = _feeding_lookup(model, flat, by_id, node.id)
            entries.append(_EmbeddingEntry(node.id if "@" not in node.id else node.path, layer, lookup, lookup_path))
        elif not isinstance(layer, keras.Model) or node.kind.value == "subclassed":
            prefix = "" if layer is model else (node.path or node.name) + "/"
            for inner_path, inner in _inner_embeddings(layer, prefix):
                if id(inner) not in seen:
                    seen.add(id(inner))
                    entries.append(_EmbeddingEntry(inner_path, inner))
    return entries


def _layer_at(model: Any, path: str) -> Any:
    """The layer object at a slash path of layer names (public ``get_layer`` at each level)."""
    current = model
    for part in path.split("/"):
        try:
            current = current.get_layer(part)
        except (ValueError, AttributeError):
            return current if part == getattr(current, "name", None) else None
    return current


def _inner_embeddings(layer: Any, prefix: str) -> list[tuple[str, Any]]:
    """Embeddings held inside a custom layer or a subclassed model (no functional graph to walk)."""
    import keras

    from inspector.model.keras_internals import sub_layers

    return [(f"{prefix}{inner.name}", inner) for inner in sub_layers(layer)
            if isinstance(inner, keras.layers.Embedding)]


def _feeding_lookup(model: Any, flat: Any, by_id: dict[str, Any], node_id: str) -> tuple[Any, str]:
    """The lookup layer whose integer output reaches this Embedding, through pass-through layers only."""
    current = node_id
    for _ in range(16):
        predecessors = flat.predecessors(current)
        if len(predecessors) != 1:
            return None, ""
        node = by_id.get(predecessors[0])
        if node is None:
            return None, ""
        if node.class_name in _LOOKUP_CLASSES:
            return _layer_at(model, node.path or node.name), node.id
        if node.class_name not in _PASS_THROUGH:
            return None, ""
        current = node.id
    return None, ""


def _vocabulary(lookup: Any) -> list[str] | None:
    try:
        vocabulary = lookup.get_vocabulary()
    except Exception:  # noqa: BLE001 - an unadapted lookup layer has none; labels fall back to indices
        return None
    if not vocabulary:
        return None
    return [_text(v) for v in vocabulary]


def _layer_labels(entry: _EmbeddingEntry, labels: Any) -> Any:
    """This layer's labels when ``labels`` is the samples' ``{layer name: [label per index]}`` mapping."""
    if isinstance(labels, Mapping) and labels and all(isinstance(k, str) for k in labels) and all(
            isinstance(v, (list, tuple, np.ndarray)) for v in labels.values()):
        for key in (entry.path, entry.name):
            if key in labels:
                return labels[key], True
        return None, True
    return labels, False


def _label_source(entry: _EmbeddingEntry, labels: Any) -> str:
    chosen, per_layer = _layer_labels(entry, labels)
    if chosen is not None:
        return "sample metadata" if per_layer else "given labels"
    if entry.lookup is not None and _vocabulary(entry.lookup):
        return _LOOKUP_CLASSES.get(type(entry.lookup).__name__, "vocabulary")
    return "index"


def embedding_layers(model: Any, *, labels: Any = None) -> pd.DataFrame:
    """Every Embedding layer of a keras.Model, nested models and custom layers included.

    Columns: ``layer`` (path, e.g. ``generator/embedding``; the graph node id),
    ``vocabulary_size``, ``dimension``, ``mask_zero``, ``label_source``
    (``StringLookup vocabulary``, ``IntegerLookup vocabulary``,
    ``TextVectorization vocabulary``, ``sample metadata`` when ``labels`` — the
    samples' ``{layer name: [label per index]}`` — covers it, ``index``) and
    ``lookup`` (the lookup layer feeding it, if any).

    Example:
        >>> import keras
        >>> ids = keras.Input((4,), dtype="int32")
        >>> m = keras.Model(ids, keras.layers.Embedding(100, 8, name="words")(ids))
        >>> embedding_layers(m)[["layer", "vocabulary_size", "dimension"]].values.tolist()
        [['words', 100, 8]]
    """
    rows = [{"layer": e.path, "vocabulary_size": int(e.layer.input_dim), "dimension": int(e.layer.output_dim),
             "mask_zero": bool(e.layer.mask_zero), "label_source": _label_source(e, labels),
             "lookup": e.lookup_path} for e in _embedding_entries(model)]
    columns = ["layer", "vocabulary_size", "dimension", "mask_zero", "label_source", "lookup"]
    return pd.DataFrame(rows, columns=columns)


def _pick(model: Any, entries: list[_EmbeddingEntry], layer: Any) -> _EmbeddingEntry:
    paths = [e.path for e in entries]
    if not entries:
        raise LayerNotFoundError(f"Model {getattr(model, 'name', '?')!r} has no Embedding layer.",
                                 received=f"layer={layer!r}",
                                 fix="Project a layer's activations instead: project_activations(model, layer, X).")
    choices = f"Use one of {paths} or a position 0..{len(entries) - 1} in embedding_layers(model)."
    if isinstance(layer, (bool, np.bool_)):
        raise LayerNotFoundError("An Embedding is picked by path, name or position, not a bool.",
                                 received=repr(layer), fix=choices)
    if isinstance(layer, (int, np.integer)):
        if -len(entries) <= int(layer) < len(entries):
            return entries[int(layer)]
        raise LayerNotFoundError(f"There is no Embedding number {int(layer)}: the model has {len(entries)}.",
                                 received=f"layer={int(layer)}", fix=choices)
    node_id = getattr(layer, "id", None)
    if isinstance(node_id, str) and hasattr(layer, "kind"):  # a graph.LayerNode
        layer = node_id
    if isinstance(layer, str):
        clean = "/".join(part.split("@")[0] for part in layer.split("/"))
        for e in entries:
            if layer == e.path or clean == e.path:
                return e
        named = [e for e in entries if e.name == layer]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise LayerNotFoundError(f"Several Embedding layers are named {layer!r}.", received=repr(layer),
                                     fix=f"Give the full path: one of {[e.path for e in named]}.")
        target = _layer_at(model, clean)
        if target is not None and target is not model:
            raise InputDataError(f"Layer {layer!r} is a {type(target).__name__}, not an Embedding.",
                                 received=repr(layer),
                                 fix=f"{choices} For any other layer use project_activations(model, layer, X).")
        raise LayerNotFoundError(f"No Embedding layer {layer!r} in model {getattr(model, 'name', '?')!r}.",
                                 received=repr(layer), fix=choices)
    for e in entries:
        if e.layer is layer:
            return e
    if hasattr(layer, "name") and hasattr(layer, "weights"):
        raise InputDataError(f"Layer {layer.name!r} ({type(layer).__name__}) is not an Embedding of this model.",
                             received=repr(layer)[:80], fix=choices)
    raise LayerNotFoundError("An Embedding is picked by path, name or position.",
                             received=f"a {type(layer).__name__}", fix=choices)


def _embedding_matrix(entry: _EmbeddingEntry) -> np.ndarray:
    layer = entry.layer
    if not layer.built:
        raise InputDataError(f"Embedding {entry.path!r} is not built, so it has no weights yet.",
                             received="an unbuilt layer", fix="Build or call the model once, or load a saved one.")
    import keras

    table = keras.ops.convert_to_numpy(layer.embeddings)
    scale = getattr(layer, "embeddings_scale", None)
    if getattr(layer, "quantization_mode", None) in ("int8", "int4") and scale is not None:
        # quantized tables store integers and a per-row scale; Keras divides on lookup
        scale = keras.ops.convert_to_numpy(scale).astype(np.float32).reshape(-1, 1)
        table = table.astype(np.float32) / np.where(scale == 0, 1, scale)
    return np.asarray(table, dtype=np.float32)
