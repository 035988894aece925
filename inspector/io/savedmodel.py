"""TensorFlow SavedModel directories written by tf.keras 2 (``model.save("dir")``), read without TensorFlow.

A SavedModel holds TensorFlow graphs (``saved_model.pb``: never read, let alone run), ``keras_metadata.pb``
(a ``SavedMetadata`` protobuf: per Keras object its path such as ``root.layer_with_weights-0``, and its JSON
metadata; the root's holds the model config, as an ``.h5`` holds ``model_config``), and a checkpoint
(``variables/``: :mod:`inspector.io.tf_checkpoint`).  :func:`convert_savedmodel` turns the three files
into the legacy ``.h5`` tf.keras 2 itself would have written for the model: the config (tuples and
``TensorShape`` items as lists), and per top-level layer its variables in the order tf.keras 2 writes them
(trainable first, by the layer's lists in the checkpoint's object graph).  From there the file is an
``.h5``: the same trust scan, legacy normalisation, static view and Keras loading.

A subclassed model has no config to rebuild it from: its top-level layers (nested Functional models keep
their own config) become a model without wiring, and a note says why.  Optimizer and metric variables are
never parameters; variables no layer owns are counted in a note, never dropped silently.

Example:
    >>> folder = savedmodel_members({"keras_metadata.pb": b""}, "test")
    Traceback (most recent call last):
    ...
    inspector.errors.SavedModelError: The SavedModel's checkpoint is missing: variables/variables.index is not there.
      Received: test
      Fix: Copy the whole SavedModel directory (with its variables/ folder), or re-save the model with model.save('model.keras').
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inspector.errors import LimitExceededError, ModelFormatError, SavedModelError
from inspector.io.config_json import _parse_json, iter_layer_configs
from inspector.io.keras_zip import _read_member
from inspector.io.protobuf_wire import WireError, fields
from inspector.io.tf_checkpoint import (
    OBJECT_GRAPH_KEY,
    CheckpointEntry,
    CheckpointError,
    TrackedObject,
    read_index,
    read_object_graph,
    read_tensor,
)
from inspector.limits import Limits, format_bytes

__all__ = ["ConvertedSavedModel", "METADATA", "convert_savedmodel", "read_savedmodel_directory",
           "read_savedmodel_zip", "savedmodel_members", "is_savedmodel_zip"]

METADATA = "keras_metadata.pb"
_INDEX = "variables/variables.index"
_SHARD = re.compile(r"variables/variables\.data-(\d{5})-of-(\d{5})$")
_MODEL_CLASSES = {"Sequential", "Functional", "Model"}
# the object graph's bookkeeping children: lists of the same variables, saved functions, Keras's own API
_NOT_OWNED = {"variables", "trainable_variables", "non_trainable_variables", "regularization_losses", "keras_api",
              "layers", "metrics", "layer_regularization_losses", "layer_metrics"}
_MODEL_IDENTIFIERS = {"_tf_keras_network", "_tf_keras_model", "_tf_keras_sequential"}
_LAYER_IDENTIFIERS = {"_tf_keras_layer", "_tf_keras_input_layer", "_tf_keras_rnn_layer", *_MODEL_IDENTIFIERS}


@dataclass(frozen=True)
class ConvertedSavedModel:
    """A SavedModel as the legacy ``.h5`` bytes tf.keras 2 would write for it, and what the conversion noted."""

    h5: bytes
    notes: tuple[str, ...]


def read_savedmodel_directory(path: Path, limits: Limits) -> dict[str, bytes]:
    """The files of a SavedModel directory the conversion reads (nothing else: ``saved_model.pb`` is never read).

    Links are not followed; the files together must fit in ``max_upload_bytes``.  A directory without
    ``keras_metadata.pb`` (a SavedModel written by TensorFlow, not Keras) is a :class:`SavedModelError`.
    """
    received = str(path)
    if not (path / METADATA).is_file():
        _raise_without_metadata(received, [p.name for p in sorted(path.iterdir())[:8]])
    wanted = [METADATA, _INDEX]
    variables = path / "variables"
    if variables.is_dir() and not variables.is_symlink():
        wanted += [f"variables/{p.name}" for p in sorted(variables.iterdir()) if _SHARD.match(f"variables/{p.name}")]
    members: dict[str, bytes] = {}
    total = 0
    for name in wanted:
        file = path / name
        if file.is_symlink() or not file.is_file():
            continue  # a link is never followed; a missing file is named by savedmodel_members
        total += file.stat().st_size
        if total > limits.max_upload_bytes:
            raise LimitExceededError(
                f"The SavedModel's files are larger than the limit of {format_bytes(limits.max_upload_bytes)} "
                "(max_upload_bytes).", received=f"{received}: {format_bytes(total)} by {name}",
                fix="Raise the limit with inspector.set_limits(max_upload_bytes=...) or the environment variable "
                    "KERAS_INSPECTOR_MAX_UPLOAD_BYTES.")
        try:
            members[name] = file.read_bytes()
        except OSError as e:
            raise ModelFormatError("A file of the SavedModel could not be read.", received=f"{file}: {e}",
                                   fix="Check the files' permissions.") from e
    return members


def is_savedmodel_zip(names: Iterable[str]) -> bool:
    """Whether a zip's member names are a SavedModel directory's (and not a ``.keras`` archive's).

    Example:
        >>> is_savedmodel_zip(["model/saved_model.pb", "model/variables/variables.index"])
        True
    """
    names = list(names)
    return "config.json" not in names and any(n.rsplit("/", 1)[-1] in (METADATA, "saved_model.pb") for n in names)


def read_savedmodel_zip(archive: zipfile.ZipFile, received: str, limits: Limits) -> dict[str, bytes]:
    """The files a conversion reads from a zip of a SavedModel directory (at its top or in one folder), inflated
    within ``max_uncompressed_bytes``; by their path relative to the SavedModel."""
    names = [m.filename for m in archive.infolist()]
    markers = sorted((n for n in names if n.rsplit("/", 1)[-1] in (METADATA, "saved_model.pb")),
                     key=lambda n: (n.count("/"), n))
    folder = markers[0].rpartition("/")[0] if markers else ""
    prefix = folder + "/" if folder else ""
    relative = {n[len(prefix):]: n for n in names if n.startswith(prefix)}
    wanted = [n for n in relative if n in (METADATA, _INDEX) or _SHARD.fullmatch(n)]
    if METADATA not in relative:
        _raise_without_metadata(received, sorted(relative)[:8])
    budget = [limits.max_uncompressed_bytes]
    return {name: _read_member(archive, relative[name], budget, received, limits) for name in sorted(wanted)}


def savedmodel_members(members: dict[str, bytes], received: str) -> dict[str, bytes]:
    """Check that the files a conversion needs are there: ``keras_metadata.pb`` and the checkpoint's index (the
    data shards the index names are checked when it is read)."""
    if METADATA not in members:
        _raise_without_metadata(received, sorted(members)[:8])
    if _INDEX not in members:
        raise SavedModelError(
            f"The SavedModel's checkpoint is missing: {_INDEX} is not there.", received=received,
            fix="Copy the whole SavedModel directory (with its variables/ folder), or re-save the model with "
                "model.save('model.keras').")
    return members


def convert_savedmodel(members: dict[str, bytes], received: str, limits: Limits) -> ConvertedSavedModel:
    """The legacy ``.h5`` for a SavedModel's ``keras_metadata.pb`` and checkpoint (``members`` by relative path)."""
    try:
        return _convert(members, received, limits)
    except (IndexError, KeyError, TypeError, OverflowError, struct.error) as e:  # a crafted file's inconsistency
        raise SavedModelError("The SavedModel's files contradict each other (an object, variable or offset they "
                              "name is not there).", received=f"{received}: {type(e).__name__}: {str(e)[:200]}",
                              fix="Copy the SavedModel directory again, or re-save the model with "
                                  "model.save('model.keras').") from e


def _convert(members: dict[str, bytes], received: str, limits: Limits) -> ConvertedSavedModel:
    savedmodel_members(members, received)
    nodes = _metadata_nodes(members[METADATA], received, limits)
    root = nodes.get("root")
    if root is None:
        raise SavedModelError("The SavedModel's keras_metadata.pb has no root object.", received=received,
                              fix="Re-save the model with model.save('model.keras') from the code that built it.")
    try:
        index = read_index(members[_INDEX])
        shards = _shards(members, index, received)
        entry = index.get(OBJECT_GRAPH_KEY)
        graph = read_object_graph(entry, shards[entry.shard]) if entry is not None else []
    except CheckpointError as e:
        raise SavedModelError("The SavedModel's checkpoint (variables/) is malformed.", received=f"{received}: {e}",
                              fix="Copy the SavedModel directory again, or re-save the model with "
                                  "model.save('model.keras').") from e
    if not graph:
        raise SavedModelError("The SavedModel's checkpoint has no object graph, so its variables cannot be placed.",
                              received=received, fix="Re-save the model with model.save('model.keras').")
    config, layers, notes = _model_config(root, nodes, graph)
    models = {node_id for path, metadata in nodes.items() if metadata.get("__identifier__") in _MODEL_IDENTIFIERS
              for node_id in (_follow(graph, path),) if node_id is not None}
    layer_names = {node_id: str(metadata["name"]) for path, metadata in nodes.items()
                   if path != "root" and isinstance(metadata.get("name"), str)
                   for node_id in (_follow(graph, path),) if node_id is not None}
    owned: set[int] = set()
    stored: list[tuple[str, list[tuple[str, CheckpointEntry]]]] = []
    for local_name in layers:
        node_id = dict(graph[0].children).get(local_name)
        if node_id is None or node_id >= len(graph):
            continue
        name = layer_names.get(node_id, local_name)
        variables = _layer_variables(graph, node_id, layer_names, models)
        owned.update(variables)
        weights = []
        for variable_id, weight_name in variables.items():
            key = dict(graph[variable_id].variables).get("VARIABLE_VALUE")
            if key in index:
                weights.append((weight_name, index[key]))
        stored.append((name, weights))
    notes += _unplaced(graph, index, owned, nodes)
    notes += _vocabulary_notes(config)
    version = root.get("keras_version")
    try:
        h5 = _legacy_h5(config, stored, shards, version if isinstance(version, str) else None)
    except CheckpointError as e:
        raise SavedModelError("The SavedModel's checkpoint (variables/) is malformed.", received=f"{received}: {e}",
                              fix="Copy the SavedModel directory again.") from e
    return ConvertedSavedModel(h5, tuple(notes))


def _raise_without_metadata(received: str, names: Iterable[str]) -> None:
    raise SavedModelError(
        "This TensorFlow SavedModel has no keras_metadata.pb, so it holds TensorFlow graphs only (it was not written "
        "by Keras's model.save, or the file was not copied): there are no Keras layers to inspect.",
        received=f"{received} containing {list(names)}",
        fix="Copy keras_metadata.pb with the SavedModel, re-save the model as .keras from the code that built it, or "
            "wrap it for inference with keras.layers.TFSMLayer(path, call_endpoint='serving_default').")


def _metadata_nodes(data: bytes, received: str, limits: Limits) -> dict[str, dict]:
    """``SavedMetadata`` {repeated SavedObject nodes = 1}, SavedObject {node_id = 2, node_path = 3,
    identifier = 4, metadata = 5 (JSON)}: the Keras objects' metadata by path, with their identifier."""
    found: dict[str, dict] = {}
    try:
        for number, node in fields(data):
            if number != 1 or not isinstance(node, bytes):
                continue
            parts = dict(fields(node))
            path, identifier, text = parts.get(3, b""), parts.get(4, b""), parts.get(5, b"")
            if not isinstance(path, bytes) or not isinstance(identifier, bytes) or not isinstance(text, bytes):
                continue
            metadata = _parse_json(text, f"{METADATA} entry {path[:60]!r}", received, limits) if text else {}
            found[path.decode("utf-8", "replace")] = {**_plain(metadata), "__identifier__": identifier.decode(
                "utf-8", "replace")}
    except WireError as e:
        raise SavedModelError(f"The SavedModel's {METADATA} is malformed: {e}.", received=received,
                              fix="Copy the SavedModel directory again, or re-save it with model.save(...).") from e
    return found


def _plain(value: Any) -> Any:
    """tf.keras 2's metadata with tuples and ``TensorShape`` (``{"class_name": "__tuple__", "items": [...]}``)
    as the lists an ``.h5`` config holds.

    Example:
        >>> _plain({"shape": {"class_name": "TensorShape", "items": [None, {"class_name": "__tuple__", "items": [3]}]}})
        {'shape': [None, [3]]}
    """
    if isinstance(value, dict):
        if value.get("class_name") in ("__tuple__", "TensorShape") and set(value) == {"class_name", "items"}:
            return _plain(value["items"])
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _model_config(root: dict, nodes: dict[str, dict], graph: list[TrackedObject]) -> tuple[dict, list[str], list[str]]:
    """The model config, the local names of the top-level layers (in ``model.layers`` order), and notes."""
    config = root.get("model_config")
    if isinstance(config, dict) and config.get("class_name") in _MODEL_CLASSES:
        numbered = sorted((int(name.split("-")[1]), name) for name, _ in graph[0].children
                          if re.fullmatch(r"layer-\d+", name))
        return config, [name for _, name in numbered], []
    # subclassed: the root's own Keras layers, without the wiring its Python call() made
    cls = str(root.get("class_name", "Model"))
    layers, names = [], []
    for path, metadata in nodes.items():
        local = path.removeprefix("root.")
        if path == "root" or "." in local or metadata.get("__identifier__") not in _LAYER_IDENTIFIERS:
            continue
        names.append(local)
        inner = metadata.get("model_config")
        if isinstance(inner, dict) and isinstance(inner.get("config"), dict):
            layers.append({**inner, "name": metadata.get("name", local), "inbound_nodes": []})
        else:
            layers.append({"class_name": metadata.get("class_name", "Layer"), "name": metadata.get("name", local),
                           "config": metadata.get("config", {"name": metadata.get("name", local)}),
                           "inbound_nodes": []})
    note = (f"{cls} is a subclassed model: its layers are connected by Python code (its call method), which a "
            "SavedModel stores only as TensorFlow graphs that are never run here, so its top-level layers are shown "
            "without connections.")
    return {"class_name": cls, "config": {"name": str(root.get("name", cls)), "layers": layers}}, names, [note]


def _follow(graph: list[TrackedObject], path: str) -> int | None:
    """The object-graph node a metadata path (``root.layer_with_weights-0``) names."""
    node = 0
    for part in path.split(".")[1:]:
        node = dict(graph[node].children).get(part, -1) if node < len(graph) else -1
        if node < 0 or node >= len(graph):
            return None
    return node


def _layer_variables(graph: list[TrackedObject], layer: int, names: dict[int, str],
                     models: set[int]) -> dict[int, str]:
    """A layer's variables in the order tf.keras 2 writes them to an ``.h5`` (its ``trainable_variables`` list, then
    its ``non_trainable_variables``, then any other of its ``variables``; a model's ``variables`` list differs: a
    BatchNormalization's moving statistics before the next layer's kernel), each named as tf.keras 2 names it
    in an ``.h5``: by the name scopes it was created in — the layers holding it (``names``: layer names by node),
    from the innermost model (``models``) down (``bi_lstm/forward_lstm/lstm_cell/kernel:0``; a nested model's own
    name is not a scope: ``dense/kernel:0``), then its attribute name."""
    found: dict[int, str] = {}
    queue = deque([(layer, "" if layer in models else names.get(layer, "layer") + "/")])
    seen = {layer}
    while queue:  # breadth first: the shortest path names a variable, as TensorFlow names its key
        node, prefix = queue.popleft()
        for local, child in graph[node].children:
            if local in _NOT_OWNED or local.startswith("_") or child in seen or child >= len(graph):
                continue
            seen.add(child)
            if child in names:  # a layer: a scope of its own, within its parent layer's (a model's starts afresh)
                scope = "" if child in models else (prefix if node not in models else "") + names[child] + "/"
                queue.append((child, scope))
            else:
                found.setdefault(child, prefix + local)
                queue.append((child, prefix + local + "/"))
    order = list(dict.fromkeys([*_listed(graph, layer, "trainable_variables"),
                                *_listed(graph, layer, "keras_api", "non_trainable_variables"),
                                *(_listed(graph, layer, "variables") or found)]))
    return {n: found.get(n, f"{names.get(layer, 'layer')}/variable_{i}") + ":0" for i, n in enumerate(order)
            if n < len(graph) and any(a == "VARIABLE_VALUE" for a, _ in graph[n].variables)}


def _listed(graph: list[TrackedObject], node: int, *path: str) -> list[int]:
    """The nodes of the object-graph list a node's children ``path`` names (``variables``: ``0``, ``1``, ...), in
    its order; none when there is no such list."""
    for local in path:
        node = dict(graph[node].children).get(local, -1) if 0 <= node < len(graph) else -1
    if not 0 <= node < len(graph):
        return []
    numbered = sorted((int(local), child) for local, child in graph[node].children if local.isdigit())
    return [child for _, child in numbered]


def _unplaced(graph: list[TrackedObject], index: dict[str, CheckpointEntry], owned: set[int],
              nodes: dict[str, dict]) -> list[str]:
    """Notes on the checkpoint's values that are not the layers' weights: training state, and anything unowned."""
    training: set[int] = set()
    roots = [child for name, child in graph[0].children if name in ("optimizer", "keras_api")]
    roots += [n for path, m in nodes.items() if m.get("__identifier__") == "_tf_keras_metric"
              for n in (_follow(graph, path),) if n is not None]
    while roots:
        node = roots.pop()
        if node in training or node >= len(graph):
            continue
        training.add(node)
        roots.extend(child for _, child in graph[node].children)
    for obj in graph:
        training |= obj.slot_variable_ids
    values = {"training": 0, "random": 0, "unplaced": 0}
    for node_id, obj in enumerate(graph):
        key = dict(obj.variables).get("VARIABLE_VALUE")
        if key is None or key not in index or node_id in owned:
            continue
        size = _count(index[key].shape)
        # a random layer's (RandomFlip, Dropout with a generator) seed state: layer-0/_random_generator/...
        kind = "random" if "/_random_generator/" in key else \
            "training" if node_id in training or "/.OPTIMIZER_SLOT/" in key else "unplaced"
        values[kind] += size
    notes = []
    if values["random"]:
        notes.append(f"The SavedModel also stores {values['random']:,} values of its random layers' generator state; "
                     "they are not parameters and are not counted.")
    if values["training"]:
        notes.append(f"The SavedModel also stores {values['training']:,} values of its optimizer's and metrics' "
                     "state; they are not parameters and are not counted.")
    if values["unplaced"]:
        notes.append(f"The SavedModel stores {values['unplaced']:,} values that no layer of the model owns; they are "
                     "not counted in the parameters.")
    return notes


_LOOKUP_LAYERS = frozenset({"IntegerLookup", "StringLookup", "TextVectorization"})


def _vocabulary_notes(config: dict) -> list[str]:
    """A note per lookup layer, nested models' included, whose vocabulary the SavedModel keeps out of our reach.

    tf.keras 2 writes such a layer's config with ``vocabulary: None`` in a SavedModel: the table's contents are
    constants of the TensorFlow graph (``saved_model.pb``), which is never run or read here, not checkpoint
    values.  Keras 3 then builds the layer with an empty table, and it fails on its first input.
    """
    notes = []
    for _, layer in iter_layer_configs(config):
        cfg = layer.get("config")
        if layer.get("class_name") in _LOOKUP_LAYERS and isinstance(cfg, dict) and cfg.get("vocabulary") is None \
                and (cfg.get("vocabulary_size") or cfg.get("has_input_vocabulary")):
            notes.append(f"{layer['class_name']} {cfg.get('name')!r}: its vocabulary ({cfg.get('vocabulary_size')} "
                         "entries) is stored in the SavedModel's TensorFlow graph, which is never read here: the "
                         "layer is shown, but computes nothing (its table is empty). Open the model's .h5 or .keras "
                         "file, whose config holds the vocabulary, to compute it.")
    return notes


def _count(shape: tuple[int, ...]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def _shards(members: dict[str, bytes], index: dict[str, CheckpointEntry], received: str) -> dict[int, bytes]:
    shards: dict[int, bytes] = {}
    for name, data in members.items():
        match = _SHARD.fullmatch(name)
        if match:
            shards[int(match.group(1))] = data
    needed = sorted({e.shard for e in index.values()})
    missing = [s for s in needed if s not in shards]
    if missing:
        raise SavedModelError(
            f"The SavedModel's checkpoint is incomplete: the data file{'s' if len(missing) > 1 else ''} "
            f"variables.data-{missing[0]:05d}-of-... {'are' if len(missing) > 1 else 'is'} missing.",
            received=f"{received} containing {sorted(members)[:8]}",
            fix="Copy the whole SavedModel directory, with every file of its variables/ folder.")
    return shards


def _legacy_h5(config: dict, layers: list[tuple[str, list[tuple[str, CheckpointEntry]]]], shards: dict[int, bytes],
               version: str | None) -> bytes:
    """The ``.h5`` tf.keras 2's ``model.save("model.h5")`` writes: ``model_config``, and per layer its weights."""
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["keras_version"] = version or "2"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [name.encode() for name, _ in layers]
        group.attrs["backend"] = "tensorflow"
        group.attrs["keras_version"] = version or "2"
        for name, weights in layers:
            layer = group.create_group(name)
            layer.attrs["weight_names"] = [w.encode() for w, _ in weights]
            for weight_name, entry in weights:
                layer.create_dataset(weight_name, data=read_tensor(entry, shards[entry.shard]), track_times=False)
    return buffer.getvalue()
