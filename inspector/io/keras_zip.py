"""The ``.keras`` zip: members read within the zip-bomb limit, names outside the archive refused, weights by layer.

:func:`_read_keras_zip` returns the config at once and the HDF5 child's walk of ``model.weights.h5`` as a
future (:func:`_keras_weight_shapes`, which names Keras 3's weight groups after the layers they belong to).

Example:
    >>> import inspector
    >>> data = inspector.get_sample("otto_mlp").path.read_bytes()
    >>> config, shapes, version, weights_format = _read_keras_zip(data, "test", Limits())
    >>> config["class_name"], weights_format, shapes.result()[0]["hidden"][0].shape
    ('Sequential', 'h5', (93, 100))
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import replace
from typing import IO, Any

from inspector.errors import InspectorError, LimitExceededError, ModelFormatError
from inspector.io.config_json import _layer_name, _model_layers, _parse_json
from inspector.io.hdf5 import _datasets_by_group, _HDF5Index, _vet_hdf5
from inspector.io.hdf5_child import _call_on_copy, _call_on_file, _in_thread, _open_hdf5, _scratch_file
from inspector.io.model_file import ALL_WEIGHTS, StoredWeight, WeightsWalk
from inspector.limits import Limits, format_bytes

__all__ = ["NPZ_WEIGHTS", "WINDOWS_NOTE", "portable_weights"]

# Keras's other weights format inside a .keras: Keras 3 writes it as pickled object arrays it cannot read back
# with pickles off, and reads any numeric arrays in it through .tolist() (tens of bytes per number): never read
NPZ_WEIGHTS = "model.weights.npz"
_TRAINING_STATE = {"optimizer", "metrics"}  # top-level groups of model.weights.h5 that are not the model's
WINDOWS_NOTE = ("The weights are stored under Windows group names (layers\\conv1d), as tf.keras 2.13-2.15 wrote them "
                "on Windows (neither tf.keras nor Keras 3 reads them); they are read as layers/conv1d.")


def _read_keras_zip(data: bytes, received: str, limits: Limits,
                    vet: bool = True) -> tuple[dict, Future | None, str | None, str]:
    """The config, the HDF5 child's walk of the weights (a future of weights and outside data), version, format."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
        raise ModelFormatError(
            "The .keras file is damaged: its zip archive cannot be read (often a truncated upload or download).",
            received=f"{received}: {e}",
            fix="Copy or download the file again, or re-save it with model.save('model.keras').") from e
    declared = sum(m.file_size for m in members)
    if declared > limits.max_uncompressed_bytes:
        raise LimitExceededError(
            f"The .keras archive would unpack to {format_bytes(declared)}, over the limit of "
            f"{format_bytes(limits.max_uncompressed_bytes)} (max_uncompressed_bytes).",
            received=received, fix="If the file is genuine, raise max_uncompressed_bytes with inspector.set_limits.")
    names = {m.filename for m in members}
    escaping = sorted(n for n in names if _escapes_archive(n))
    if escaping:
        raise ModelFormatError(
            "The .keras archive names files outside itself (an absolute path or '..'), a trick to overwrite files "
            "when an archive is unpacked; Keras never writes such names.",
            received=f"{received} containing {escaping[:3]}",
            fix="Do not open this file; if you made it, re-save the model with model.save('model.keras').")
    if "config.json" not in names:
        raise ModelFormatError(
            "The zip archive has no config.json, so it is not a .keras model (a .keras file holds config.json, "
            "metadata.json and model.weights.h5).",
            received=f"{received} containing {sorted(names)[:8]}",
            fix="Save the whole model with model.save('model.keras'); model.save_weights() files hold no architecture.")
    budget = [limits.max_uncompressed_bytes]
    text = _read_member(archive, "config.json", budget, received, limits)
    metadata: Any = {}
    if "metadata.json" in names:
        try:
            metadata = json.loads(_read_member(archive, "metadata.json", budget, received, limits))
        except (ValueError, RecursionError):
            metadata = {}
    shapes: Future | None = None
    if "model.weights.h5" in names:  # Keras reads this one when both are present
        # the HDF5 child walks the weights while this process parses the config and, through start_reading, builds
        # the graph (the 1,600-column model: 0.6 s and 0.5 s, side by side instead of one after the other).  Its
        # copy is written here: a thread copying a megabyte at a time waited for Python's lock at every one while
        # this thread parsed (the walk began 0.4 s later)
        copy = _scratch_file(_member_writer(archive, "model.weights.h5", budget[0], received, limits), received)
        shapes = _in_thread(_call_on_copy, _keras_weight_shapes, copy, (text, received, limits, vet), received, limits)
    config = _parse_json(text, "config.json", received, limits)
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    weights_format = "h5" if "model.weights.h5" in names else "npz" if NPZ_WEIGHTS in names else ""
    return config, shapes, version if isinstance(version, str) else None, weights_format


def _escapes_archive(member: str) -> bool:
    """Whether a zip member name points outside the folder it would be unpacked into.

    Example:
        >>> [_escapes_archive(n) for n in ("assets/vocab.txt", "assets/../../x", "/etc/x", "C:/x")]
        [False, True, True, True]
    """
    parts = member.replace("\\", "/").split("/")
    return member.startswith(("/", "\\")) or ".." in parts or bool(re.match(r"^[A-Za-z]:", member))


def _read_member(archive: zipfile.ZipFile, member: str, budget: list[int], received: str, limits: Limits) -> bytes:
    """Read one member, counting *actual* inflated bytes so a lying header cannot bomb us."""
    return b"".join(_member_chunks(archive, member, budget, received, limits))


def _member_writer(archive: zipfile.ZipFile, member: str, budget: int, received: str,
                   limits: Limits) -> Callable[[IO[bytes]], object]:
    """Writes one member, inflated within ``budget`` bytes, to a file: the HDF5 child's copy, never held whole."""
    def write(out: IO[bytes]) -> None:
        for chunk in _member_chunks(archive, member, [budget], received, limits):
            out.write(chunk)
    return write


def _member_chunks(archive: zipfile.ZipFile, member: str, budget: list[int], received: str,
                   limits: Limits) -> Iterator[bytes]:
    """One member's inflated bytes, a megabyte at a time, taken from ``budget`` (refused once it is spent)."""
    try:
        with archive.open(member) as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                budget[0] -= len(chunk)
                if budget[0] < 0:
                    raise LimitExceededError(
                        f"The .keras archive inflates beyond the limit of "
                        f"{format_bytes(limits.max_uncompressed_bytes)} (max_uncompressed_bytes): a zip bomb or "
                        "a corrupted size header.",
                        received=f"{received}, member {member}",
                        fix="Do not open this file; if it is genuine, raise max_uncompressed_bytes.")
                yield chunk
    except InspectorError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as e:
        raise ModelFormatError(
            f"The .keras file is damaged: {member} cannot be decompressed.", received=f"{received}: {e}",
            fix="Copy or download the file again, or re-save it with model.save('model.keras').") from e


def _keras_weight_shapes(path: str, text: bytes, received: str, limits: Limits, vet: bool = True) -> WeightsWalk:
    """Map layer paths to stored weight shapes in a Keras 3 ``model.weights.h5``; list its outside data; notes, and
    whether the groups have Windows names (:func:`_portable`).

    Groups are named by class (``dense_1``); newer Keras versions store the layer's
    real name in the ``vars`` group's ``name`` attribute, older ones are matched by
    the order of layers of each class in the config.  The config's ``text`` is parsed here, in
    the child, while the parent checks it: only layer names and classes are read from it, and a
    text the parent then refuses never gets further than this child.
    """
    try:
        config = json.loads(text)
    except (ValueError, RecursionError):
        config = {}
    config = config if isinstance(config, dict) else {}
    out: dict[str, list[StoredWeight]] = {}
    try:
        with _open_hdf5(path) as f:
            index = _HDF5Index.of(f)  # one walk of the file, not one per layer group (NASNet: 0.6 s)
            outside = _vet_hdf5(f, limits, read=vet, index=index)
            index, original = _portable(f, index)
            under = _datasets_by_group(index.datasets)
            _collect_keras_group(f, index, "", _model_layers(config), "", out, under, original)
            # the optimizer's and the metrics' state are stored beside the layers: never parameters
            out[ALL_WEIGHTS] = [w for w in under.get("", []) if w.name.split("/")[0] not in _TRAINING_STATE]
    except Exception as e:  # noqa: BLE001 - HDF5 is parsed by a C library; any failure means a bad file
        raise ModelFormatError("The weights inside the .keras file (model.weights.h5) cannot be read.",
                               received=f"{received}: {e}",
                               fix="The file is corrupted; re-save the model with model.save('model.keras').") from e
    notes = (WINDOWS_NOTE,) if original else ()
    return WeightsWalk({k: tuple(v) for k, v in out.items()}, outside, notes, bool(original))


def portable_weights(data: bytes, received: str, limits: Limits) -> bytes:
    """A ``.keras`` file's bytes with its Windows weight group names (:func:`_portable`) as Keras 3 reads them.

    The weights are copied under their portable names in the HDF5 child (bounded by ``max_parse_seconds``, like
    every HDF5 read); the other members are kept as they are.
    """
    archive = zipfile.ZipFile(io.BytesIO(data))
    weights = _call_on_file(_portable_copy, _member_writer(archive, "model.weights.h5", limits.max_uncompressed_bytes,
                                                           received, limits), (received,), received, limits)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as rewritten:
        for item in archive.infolist():
            rewritten.writestr(item, weights if item.filename == "model.weights.h5" else archive.read(item.filename))
    return out.getvalue()


def _portable_copy(path: str, received: str) -> bytes:
    """In the child: the weights file at ``path`` with every group under its portable name (datasets and attributes
    copied; links never followed)."""
    import h5py

    try:
        with _open_hdf5(path) as f:
            index, original = _portable(f, _HDF5Index.of(f))
            buffer = io.BytesIO()
            with h5py.File(buffer, "w") as out:
                for name in sorted(index.hard, key=lambda n: n.count("/")):
                    source = original.get(name)
                    item = f[source] if source is not None else None
                    if isinstance(item, h5py.Dataset):
                        out.create_dataset(name, data=item[()])
                    else:
                        out.require_group(name)
                    for key, value in (item.attrs.items() if item is not None else ()):
                        out[name].attrs[key] = value
            return buffer.getvalue()
    except Exception as e:  # noqa: BLE001 - HDF5 is parsed by a C library; any failure means a bad file
        raise ModelFormatError("The weights inside the .keras file (model.weights.h5) cannot be read.",
                               received=f"{received}: {e}",
                               fix="The file is corrupted; re-save the model with model.save('model.keras').") from e


def _portable(f: Any, index: _HDF5Index) -> tuple[_HDF5Index, dict[str, str]]:
    """The index with tf.keras 2.13–2.15's Windows group names split into the groups they stand for.

    Those versions joined a weight's path with ``os.path.join``: on Windows a file holds one group named
    ``layers\\conv1d`` (or ``_layer_checkpoint_dependencies\\conv1d``) where every other file holds ``conv1d``
    inside ``layers`` — neither tf.keras nor Keras 3 finds its weights.  Returns the index as the file would be
    with ``/`` and ``layers``, and each renamed path's name in the file (for reading its attributes).
    """
    from h5py import h5o

    def fixed(path: str) -> str:
        parts = path.replace("\\", "/").split("/")
        return "/".join("layers" if p == "_layer_checkpoint_dependencies" else p for p in parts)

    if not any("\\" in p or "_layer_checkpoint_dependencies" in p for p in index.hard):
        return index, {}
    original = {fixed(p): p for p in index.hard}
    kinds = {fixed(p): index.kinds[p] if p in index.kinds else h5o.get_info(f.id, p.encode()).type
             for p in index.hard}
    hard = set(original)
    for path in list(hard):  # the groups the joined names imply
        parts = path.split("/")
        for i in range(1, len(parts)):
            implied = "/".join(parts[:i])
            hard.add(implied)
            kinds.setdefault(implied, h5o.TYPE_GROUP)
    children: dict[str, list[str]] = {}
    for path in hard:
        parent, _, leaf = path.rpartition("/")
        children.setdefault(parent, []).append(leaf)
    datasets = tuple(replace(d, name=fixed(d.name)) for d in index.datasets)
    return replace(index, datasets=datasets, hard=frozenset(hard), kinds=kinds,
                   children={k: tuple(v) for k, v in children.items()}), original


def _collect_keras_group(f: Any, index: _HDF5Index, group: str, layers: list[dict], prefix: str,
                         out: dict[str, list[StoredWeight]], under: dict[str, list[StoredWeight]],
                         original: dict[str, str]) -> None:
    sub = f"{group}/layers".lstrip("/")
    if not index.is_group(f, sub):
        return
    fallback = _fallback_group_names(layers)
    by_name: dict[str, dict] = {}
    for lc in layers:
        by_name.setdefault(_layer_name(lc), lc)  # the first of a name, as a scan of the list would find
    for key in sorted(index.children.get(sub, ())):
        child = f"{sub}/{key}"
        if not index.is_group(f, child) or not under.get(child):
            continue  # nothing stored to name (an Input, a Flatten): the lookups default to no weights
        name = None
        if index.is_group(f, f"{child}/vars"):
            raw = f[original.get(f"{child}/vars", f"{child}/vars")].attrs.get("name")
            name = raw.decode() if isinstance(raw, bytes) else raw
        name = str(name) if name else fallback.get(key, key)
        path = prefix + name
        out[path] = under[child]
        layer = by_name.get(name)
        if layer is not None and _model_layers(layer.get("config")):
            _collect_keras_group(f, index, child, _model_layers(layer.get("config")), path + "/", out, under, original)


def _fallback_group_names(layers: list[dict]) -> dict[str, str]:
    """Keras (3, and tf.keras 2.13+) names weight groups snake_case(class) + counter, in layer order."""
    counts: dict[str, int] = {}
    names = {}
    for lc in layers:
        base = _snake_case(str(lc.get("class_name", "")))
        n = counts.get(base, 0)
        counts[base] = n + 1
        names[base if n == 0 else f"{base}_{n}"] = _layer_name(lc)
    return names


def _snake_case(class_name: str) -> str:
    """Keras's ``to_snake_case``, which names a layer's weight group after its class.

    Example:
        >>> [_snake_case(c) for c in ("Conv1D", "LSTM", "PReLU", "BatchNormalization", "SimpleRNN")]
        ['conv1d', 'lstm', 'p_re_lu', 'batch_normalization', 'simple_rnn']
    """
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
