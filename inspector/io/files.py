"""Reading model files at the edge: format detection, size limits, config and weight shapes.

Nothing here imports Keras or runs code from the file.  A :class:`ModelFile` is
the validated content of a ``.keras`` zip or a legacy ``.h5``: its raw bytes,
its architecture config (JSON, parsed with a depth limit) and the shape of every
stored weight, read from HDF5 metadata without loading the arrays.

Example:
    >>> import io, json, zipfile
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": []}}))
    >>> read_model_file(buf.getvalue()).format
    'keras'
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import io
import json
import math
import os
import re
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from inspector.errors import (
    InspectorError,
    LimitExceededError,
    ModelFormatError,
    ModelLoadError,
    SavedModelError,
    WeightsOnlyError,
)
from inspector.limits import Limits, format_bytes, get_limits

__all__ = ["ALL_WEIGHTS", "ModelSource", "ModelFile", "ModelFileReading", "StoredWeight", "read_model_file",
           "start_reading", "read_source", "vet_arrays", "iter_layer_configs", "nesting_depth"]

ModelSource = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes]

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ALL_WEIGHTS = "*"  # key of ModelFile.weights listing every stored array, whoever owns it
# Keras's other weights format inside a .keras: Keras 3 writes it as pickled object arrays it cannot read back
# with pickles off, and reads any numeric arrays in it through .tolist() (tens of bytes per number): never read
NPZ_WEIGHTS = "model.weights.npz"


@dataclass(frozen=True)
class StoredWeight:
    """The shape of one weight array as stored in the file (its data is not read)."""

    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class ModelFile:
    """A validated model file: format, architecture config and stored weight shapes.

    ``weights`` maps a layer's path (``"dense"``, ``"generator/dense_2"``) to its
    stored weights; for legacy ``.h5`` files the weights of a nested model's layers
    are listed under the nested model's own name as well (Keras 2 stored them there).
    """

    name: str
    format: str  # "keras" or "h5"
    data: bytes = field(repr=False)
    config: dict[str, Any] = field(repr=False)
    weights: dict[str, tuple[StoredWeight, ...]] = field(repr=False)
    keras_version: str | None = None
    sha256: str = ""
    outside_data: tuple[str, ...] = ()  # HDF5 links and datasets whose data lives in other files on this machine
    weights_format: str = "h5"  # how the weights are stored: "h5", "npz" (never read) or "" (none)
    arrays_vetted: bool = True  # every stored array was read once in the HDF5 child (see vet_arrays)

    @property
    def suffix(self) -> str:
        """File suffix Keras needs to pick its loader."""
        return ".keras" if self.format == "keras" else ".h5"


@dataclass(frozen=True)
class ModelFileReading:
    """A model file whose config is read and checked while the HDF5 child still walks its stored weights.

    ``file`` has everything but ``weights`` and ``outside_data`` (empty until :meth:`result`), so a
    caller can work on the config meanwhile; :func:`~inspector.model.static.static_graph` builds the
    graph's structure then.  From :func:`start_reading`.
    """

    file: ModelFile
    _shapes: Future | None = field(default=None, repr=False)

    def done(self) -> bool:
        """Whether the stored weights' walk has ended (:meth:`result` returns without waiting)."""
        return self._shapes is None or self._shapes.done()

    def result(self) -> ModelFile:
        """The whole :class:`ModelFile`, once the HDF5 child has answered (its error, if the weights are bad)."""
        if self._shapes is None:
            return self.file
        weights, outside = self._shapes.result()
        return replace(self.file, weights=weights, outside_data=outside)


def read_model_file(source: ModelSource, *, limits: Limits | None = None, vet_arrays: bool = True) -> ModelFile:
    """Read and validate a model file from a path, bytes or a binary file-like object.

    The format comes from the content, not the name.  The HDF5 part is read in a child
    process, bounded by ``max_parse_seconds``: the config, every stored weight's shape and the
    links to data outside the file.  With ``vet_arrays=True`` (the default) the child also reads
    every array once, so the reads Keras makes later are known to finish; ``vet_arrays=False``
    skips that (the fast path of the static view: on a large model it is most of the time) and
    leaves ``arrays_vetted`` false — :func:`~inspector.model.loading.load_model` then vets the
    arrays itself (:func:`vet_arrays`) before Keras reads the file.  Every problem raises a
    :class:`~inspector.errors.ModelFormatError` (or a subclass) or a
    :class:`~inspector.errors.LimitExceededError`.

    Example:
        >>> read_model_file(b"")
        Traceback (most recent call last):
        ...
        inspector.errors.ModelFormatError: The model file is empty (0 bytes).
          Received: 0 bytes
          Fix: Upload the .keras or .h5 file written by model.save(...); the upload may have been cut off.
    """
    return start_reading(source, limits=limits, vet_arrays=vet_arrays).result()


def start_reading(source: ModelSource, *, limits: Limits | None = None, vet_arrays: bool = True,
                  sha256: str | None = None) -> ModelFileReading:
    """:func:`read_model_file` that returns once the config is read and checked, the weights' walk still going.

    A ``.keras`` file's stored weights are walked in the HDF5 child while this process parses the
    config; this returns then, so that the caller can build on the config while the child finishes
    (the 1,600-column model: 0.5 s of building overlapped).  A legacy ``.h5`` keeps its config in the HDF5
    data, so it is read whole first.  The same errors as :func:`read_model_file`: the config's at
    once, the weights' from :meth:`ModelFileReading.result`.  ``sha256``: the bytes' digest, when the
    caller has computed it already (the app keys its cache by it), so it is not computed twice.

    Example:
        >>> import inspector
        >>> reading = start_reading(inspector.get_sample("otto_mlp").path, vet_arrays=False)
        >>> reading.file.config["class_name"], reading.file.weights
        ('Sequential', {})
        >>> reading.result().weights["hidden"][0].shape
        (93, 100)
    """
    limits = limits or get_limits()
    name, data = read_source(source, limits)
    received = f"{name!r}, {format_bytes(len(data))}" if name else format_bytes(len(data))
    if not data:
        raise ModelFormatError(
            "The model file is empty (0 bytes).", received=received or "0 bytes",
            fix="Upload the .keras or .h5 file written by model.save(...); the upload may have been cut off.")
    digest = sha256 or hashlib.sha256(data).hexdigest()
    shapes: Future | None = None
    weights: dict[str, tuple[StoredWeight, ...]] = {}
    outside: tuple[str, ...] = ()
    if data.startswith((_ZIP_MAGIC, _EMPTY_ZIP_MAGIC)):
        config, shapes, version, weights_format = _read_keras_zip(data, received, limits, vet_arrays)
        fmt = "keras"
    elif _hdf5_offset(data) is not None:
        config, weights, version, outside = _read_hdf5(data, received, limits, vet_arrays)
        fmt = weights_format = "h5"
    else:
        raise ModelFormatError(
            "This is not a Keras model file: it is neither a .keras archive (zip) nor a legacy HDF5 (.h5) file.",
            received=f"{received}, starting with {_describe_start(data)}",
            fix="Save the model with model.save('model.keras') (or 'model.h5') and upload that file.")
    _check_config(config, received, limits)
    return ModelFileReading(ModelFile(name=name, format=fmt, data=data, config=config, weights=weights,
                                      keras_version=version, sha256=digest, outside_data=outside,
                                      weights_format=weights_format, arrays_vetted=vet_arrays or weights_format != "h5"),
                            shapes)


def vet_arrays(model_file: ModelFile, *, limits: Limits | None = None) -> ModelFile:
    """Read every stored weight array of a file once, in the HDF5 child, bounded by ``max_parse_seconds``.

    The second half of :func:`read_model_file` when it was called with ``vet_arrays=False``:
    a crafted file can make the HDF5 library loop forever on an array's data, which no
    in-process timeout can stop, so the arrays are read in the child before Keras reads
    them in ours.  Links and arrays whose data lives in other files are never read (they are
    listed in ``outside_data`` by the first read).  Returns the file with ``arrays_vetted`` set.

    Example:
        >>> import inspector
        >>> fast = read_model_file(inspector.get_sample("otto_mlp").path, vet_arrays=False)
        >>> fast.arrays_vetted, vet_arrays(fast).arrays_vetted
        (False, True)
    """
    if model_file.arrays_vetted:
        return model_file
    limits = limits or get_limits()
    received = f"{model_file.name!r}, {format_bytes(len(model_file.data))}" if model_file.name else format_bytes(
        len(model_file.data))
    content: bytes | Callable[[IO[bytes]], object] = model_file.data
    if model_file.format == "keras":
        content = _member_writer(zipfile.ZipFile(io.BytesIO(model_file.data)), "model.weights.h5",
                                 limits.max_uncompressed_bytes, received, limits)
    _call_on_file(_vet_blob, content, (received, limits), received, limits)
    return replace(model_file, arrays_vetted=True)


# ------------------------------------------------------------------ reading bytes
def read_source(source: ModelSource, limits: Limits | None = None) -> tuple[str, bytes]:
    """The name and bytes of a model source, refusing a missing path, a directory or a file over the limit.

    Example:
        >>> read_source(b"abc")
        ('', b'abc')
        >>> read_source("no/such/model.keras")
        Traceback (most recent call last):
        ...
        inspector.errors.ModelFormatError: No model file at this path.
          Received: no/such/model.keras
          Fix: Check the path; Keras models are saved as .keras (or legacy .h5) files.
    """
    limits = limits or get_limits()
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        _check_upload_size(len(data), "", limits)
        return "", data
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            _raise_for_directory(path)
        if not path.exists():
            raise ModelFormatError(
                "No model file at this path.", received=str(path),
                fix="Check the path; Keras models are saved as .keras (or legacy .h5) files.")
        _check_upload_size(path.stat().st_size, path.name, limits)
        try:
            return path.name, path.read_bytes()
        except OSError as e:
            raise ModelFormatError("The model file could not be read.", received=f"{path}: {e}",
                                   fix="Check the file's permissions and that it is a regular file.") from e
    read = getattr(source, "read", None)
    if read is None:
        raise ModelFormatError(
            "Cannot read a model from this kind of object.", received=type(source).__name__,
            fix="Pass a path, the file's bytes, or a binary file object (such as Streamlit's UploadedFile).")
    name = Path(str(getattr(source, "name", "") or "")).name
    size = getattr(source, "size", None)
    if isinstance(size, int):
        _check_upload_size(size, name, limits)
    if hasattr(source, "seek"):
        try:
            source.seek(0)
        except (OSError, ValueError):
            pass
    data = read(limits.max_upload_bytes + 1)
    if isinstance(data, str):
        raise ModelFormatError("The file object is in text mode.", received=name or type(source).__name__,
                               fix="Open the file in binary mode: open(path, 'rb').")
    _check_upload_size(len(data), name, limits)
    return name, bytes(data)


def _check_upload_size(size: int, name: str, limits: Limits) -> None:
    if size > limits.max_upload_bytes:
        raise LimitExceededError(
            f"The model file is larger than the limit of {format_bytes(limits.max_upload_bytes)} (max_upload_bytes).",
            received=f"{name or 'file'} of {format_bytes(size)}",
            fix="Raise the limit with inspector.set_limits(max_upload_bytes=...) or the environment variable "
                "KERAS_INSPECTOR_MAX_UPLOAD_BYTES (and server.maxUploadSize for the app).")


def _raise_for_directory(path: Path) -> None:
    if (path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists():
        raise SavedModelError(
            "This is a TensorFlow SavedModel directory, which Keras 3 cannot load as a model.",
            received=str(path),
            fix="Re-save it as .keras from the code that built it, or wrap it for inference with "
                "keras.layers.TFSMLayer(path, call_endpoint='serving_default') (no graph or layers to inspect).")
    raise ModelFormatError("This path is a directory, not a model file.", received=str(path),
                           fix="Pass the .keras or .h5 file itself.")


def _hdf5_offset(data: bytes) -> int | None:
    # HDF5 allows a user block: the signature may sit at 0, 512, 1024, 2048, ...
    offset = 0
    while offset + 8 <= len(data) and offset <= 1 << 20:
        if data[offset:offset + 8] == _HDF5_MAGIC:
            return offset
        offset = 512 if offset == 0 else offset * 2
    return None


def _describe_start(data: bytes) -> str:
    head = data[:16]
    try:
        text = head.decode("utf-8")
        if text.isprintable() or text.strip().isprintable():
            return f"text {text[:16]!r}"
    except UnicodeDecodeError:
        pass
    return f"bytes {head.hex(' ')}"


# ------------------------------------------------------------------ .keras zip
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


def _parse_json(text: bytes | str, what: str, received: str, limits: Limits) -> dict:
    """Parse a config exactly as Keras will (``json.loads``), refusing what Keras would read differently.

    Keras parses ``config.json`` bytes with ``json.loads``, which also accepts UTF-16/32 and a BOM;
    we refuse anything but UTF-8 so the text we check is the text Keras reads.  Numbers are checked as
    they are parsed (``NaN``, ``Infinity``, ``1e999`` and integers beyond 64 bits are refused), and the
    depth is measured on the parsed object, so no encoding trick can hide it.
    """
    if len(text) > limits.max_config_bytes:
        raise LimitExceededError(
            f"The model's {what} is {format_bytes(len(text))}, over the limit of "
            f"{format_bytes(limits.max_config_bytes)} (max_config_bytes).", received=received,
            fix="Raise max_config_bytes with inspector.set_limits if the file is genuine.")
    if isinstance(text, bytes) and text and json.detect_encoding(text) != "utf-8":
        raise ModelFormatError(
            f"The model's {what} is not UTF-8 text (it looks like {json.detect_encoding(text)}); Keras writes "
            "UTF-8 only.", received=received, fix="Do not open this file; re-save the model with model.save(...).")
    try:
        config = json.loads(text, parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_no_constant)
    except _BadNumber as e:
        raise ModelFormatError(
            f"The model's {what} holds the number {e.args[0][:40]}, which no Keras model has: numbers must be "
            "finite and fit in 64 bits.", received=received,
            fix="Do not open this file; re-save the model with model.save(...).") from None
    except RecursionError:
        raise _too_deep(what, f"more than {limits.max_config_depth}", received, limits) from None
    except ValueError as e:
        raise ModelFormatError(f"The model's {what} is not valid JSON.", received=f"{received}: {str(e)[:200]}",
                               fix="The file is corrupted; re-save the model with model.save(...).") from e
    depth = nesting_depth(config, stop_after=limits.max_config_depth)
    if depth > limits.max_config_depth:
        raise _too_deep(what, str(depth), received, limits)
    if not isinstance(config, dict):
        raise ModelFormatError(f"The model's {what} is not a Keras model config (expected a JSON object).",
                               received=f"{received}: a JSON {type(config).__name__}",
                               fix="Re-save the model with model.save(...).")
    return config


class _BadNumber(ValueError):
    """A number in a config that no model can hold (raised while parsing)."""


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _BadNumber(text)
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) >= 2**63:
        raise _BadNumber(text)
    return value


def _no_constant(text: str) -> float:
    raise _BadNumber(text)


def _too_deep(what: str, depth: str, received: str, limits: Limits) -> LimitExceededError:
    return LimitExceededError(
        f"The model's {what} is nested {depth} levels deep, over the limit of {limits.max_config_depth} "
        "(max_config_depth).", received=received, fix="Real Keras configs are far shallower; do not open this file.")


def nesting_depth(obj: Any, *, stop_after: int | None = None) -> int:
    """How deeply lists and dicts nest in a parsed JSON value (iterative; stops early past ``stop_after``).

    Example:
        >>> nesting_depth({"a": [1, {"b": "[[["}]})
        3
    """
    best = 0
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        best = max(best, depth)
        if stop_after is not None and best > stop_after:
            return best
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return best


def _open_hdf5(path: str) -> Any:
    """The child's temporary copy (:func:`_call_on_file`) opened read-only, and its name removed at once.

    The open file stays readable; with its name gone, nothing is left behind when the server
    is stopped in the middle of a long read (a vetting read of a large model's arrays).
    """
    import h5py

    f = h5py.File(path, "r")
    with contextlib.suppress(OSError):  # Windows keeps the name of an open file: the caller removes it after
        os.unlink(path)
    return f


def _call_on_file(function: Callable[..., Any], content: bytes | Callable[[IO[bytes]], object], args: tuple,
                  received: str, limits: Limits) -> Any:
    """``function(path, *args)`` in an HDF5 child, ``content`` (bytes, or what writes them) in a private temporary file.

    The child opens the file by path: sent through the pipe, the bytes were pickled and copied
    twice (NASNetMobile's 23 MB: 80 ms), and HDF5 reading a Python file object calls back into
    Python for each of its many small reads (the 1,600-column model's walk: about 1 s, against
    0.6 s from a file).  The file is removed when the call returns.
    """
    path = _scratch_file((lambda out: out.write(content)) if isinstance(content, bytes) else content, received)
    return _call_on_copy(function, path, args, received, limits)


def _call_on_copy(function: Callable[..., Any], path: str, args: tuple, received: str, limits: Limits) -> Any:
    """``function(path, *args)`` in an HDF5 child, ``path`` a private copy (:func:`_scratch_file`) removed after."""
    try:
        return _HDF5_CHILDREN.call(function, (path, *args), received, limits)
    finally:  # already gone once the child opened it; not when it failed (or hung) before that
        _remove_copy(path)


# this process's copies not removed yet: removed when it exits (a server stopped while a background load's copy
# waited for the child, or was being written, left 23-34 MB files in /dev/shm)
_LIVE_COPIES: set[str] = set()


@atexit.register
def _remove_live_copies() -> None:
    for path in list(_LIVE_COPIES):
        _remove_copy(path)


def _remove_copy(path: str) -> None:
    _LIVE_COPIES.discard(path)
    with contextlib.suppress(OSError):
        os.unlink(path)


def _scratch_file(write: Callable[[IO[bytes]], object], received: str) -> str:
    """A new file readable by this user only, filled by ``write``: in memory where Linux offers it (``/dev/shm``),
    else in the temporary folder (also when ``/dev/shm`` is full: a container's holds 64 MB)."""
    import tempfile

    folders = [d for d in ("/dev/shm",) if os.path.isdir(d) and os.access(d, os.W_OK)]
    _remove_stale_copies(tuple(folders) + (tempfile.gettempdir(),))
    for folder in [*folders, None]:
        fd, path = tempfile.mkstemp(prefix="keras-inspector-", suffix=".h5", dir=folder)
        _LIVE_COPIES.add(path)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            return path
        except BaseException as e:
            _remove_copy(path)
            if not isinstance(e, OSError):
                raise  # a refusal of the bytes being written (a zip bomb), not of the folder
            if folder is None:
                raise ModelLoadError(
                    "The model's HDF5 data could not be written to a temporary file for the HDF5 reader.",
                    received=f"{received}: {e}",
                    fix=f"Free space in {tempfile.gettempdir()} (or point TMPDIR at a folder with room).") from e
    raise AssertionError("unreachable: the temporary folder returns or raises")


_STALE_SECONDS = 3600  # a copy this old outlived its call: no read lasts more than max_parse_seconds


@functools.cache
def _remove_stale_copies(folders: tuple[str, ...]) -> None:
    """Once per process: remove this user's copies left by a process killed before the child opened them."""
    import glob
    import time

    for path in (p for folder in folders for p in glob.glob(os.path.join(folder, "keras-inspector-*.h5"))):
        with contextlib.suppress(OSError):
            info = os.stat(path)
            mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()  # Windows: a temporary folder per user
            if mine and time.time() - info.st_mtime > _STALE_SECONDS:
                os.unlink(path)


def _in_thread(function: Callable[..., Any], *args: Any) -> Future:
    """``function(*args)`` in a thread of its own; its result (or exception) in the returned future."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(function(*args))
        except BaseException as e:  # noqa: BLE001 - handed to whoever waits for the result
            future.set_exception(e)

    threading.Thread(target=run, name="hdf5-call", daemon=True).start()
    return future


def _keras_weight_shapes(path: str, text: bytes, received: str, limits: Limits,
                         vet: bool = True) -> tuple[dict[str, tuple[StoredWeight, ...]], tuple[str, ...]]:
    """Map layer paths to stored weight shapes in a Keras 3 ``model.weights.h5``, and list its outside data.

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
            under = _datasets_by_group(index.datasets)
            _collect_keras_group(f, index, "", _model_layers(config), "", out, under)
            out[ALL_WEIGHTS] = under.get("", [])
    except Exception as e:  # noqa: BLE001 - HDF5 is parsed by a C library; any failure means a bad file
        raise ModelFormatError("The weights inside the .keras file (model.weights.h5) cannot be read.",
                               received=f"{received}: {e}",
                               fix="The file is corrupted; re-save the model with model.save('model.keras').") from e
    return {k: tuple(v) for k, v in out.items()}, outside


def _collect_keras_group(f: Any, index: _HDF5Index, group: str, layers: list[dict], prefix: str,
                         out: dict[str, list[StoredWeight]], under: dict[str, list[StoredWeight]]) -> None:
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
            raw = f[f"{child}/vars"].attrs.get("name")
            name = raw.decode() if isinstance(raw, bytes) else raw
        name = str(name) if name else fallback.get(key, key)
        path = prefix + name
        out[path] = under[child]
        layer = by_name.get(name)
        if layer is not None and _model_layers(layer.get("config")):
            _collect_keras_group(f, index, child, _model_layers(layer.get("config")), path + "/", out, under)


def _fallback_group_names(layers: list[dict]) -> dict[str, str]:
    """Keras 3 names weight groups snake_case(class) + counter, in layer order."""
    counts: dict[str, int] = {}
    names = {}
    for lc in layers:
        base = re.sub(r"(?<!^)(?=[A-Z])", "_", str(lc.get("class_name", ""))).lower()
        n = counts.get(base, 0)
        counts[base] = n + 1
        names[base if n == 0 else f"{base}_{n}"] = _layer_name(lc)
    return names


def _own(group: Any, path: str) -> Any:
    """``group[path]`` if every step is a hard link inside this file, else ``None`` (links are never followed)."""
    import h5py

    for part in (p for p in path.split("/") if p):
        if not isinstance(group, h5py.Group) or not isinstance(group.get(part, getlink=True), h5py.HardLink):
            return None
        group = group[part]
    return group


@dataclass(frozen=True)
class _HDF5Index:
    """What one walk of an HDF5 file finds, through hard links only, with h5py's low-level API.

    h5py's ``visititems`` builds a Python object for every item, which took 1 s on NASNetMobile's
    1,126 arrays; the low-level visits below take a tenth of that.  ``datasets`` are named by the
    path ``visititems`` would give (each object once); ``hard`` holds every link path whose every
    step is a hard link (what :func:`_own` accepts); ``outside`` describes the links and arrays
    whose data lives in other files.
    """

    datasets: tuple[StoredWeight, ...]
    outside: tuple[str, ...]
    outside_names: frozenset[str]
    hard: frozenset[str]
    children: dict[str, tuple[str, ...]]
    kinds: dict[str, int]  # the object type of each path visited (h5o.TYPE_GROUP, h5o.TYPE_DATASET)

    @classmethod
    def of(cls, f: Any) -> _HDF5Index:
        from h5py import h5d, h5g, h5l, h5o

        links: list[tuple[str, int, Any]] = []
        f.id.links.visit(lambda name, info: links.append((name.decode("utf-8", "replace"), info.type, info.u)),
                         info=True)
        hard = frozenset(name for name, kind, _ in links if kind == h5l.TYPE_HARD)
        children: dict[str, list[str]] = {}
        for name in hard:
            parent, _, leaf = name.rpartition("/")
            children.setdefault(parent, []).append(leaf)
        # a path with links below it is a group; only the leaves are opened to learn what they are (an object
        # visit read every object's header: 0.2 s of 0.3 s on the 1,600-column model's 11,214 objects)
        kinds: dict[str, int] = {}
        outside: list[str] = []
        datasets: list[StoredWeight] = []
        outside_names: set[str] = set()
        seen: set[Any] = set()  # each object once, by the first path to it (as h5py's visititems names it)
        dtype_names: dict[Any, str] = {}
        for name, kind, address in links:
            if kind == h5l.TYPE_EXTERNAL:
                target = f.id.links.get_val(name.encode())
                outside.append(f"{name} links to {_attr_text(target[0])}")
                continue
            if kind != h5l.TYPE_HARD or address in seen:
                continue
            seen.add(address)
            if name in children:
                kinds[name] = h5o.TYPE_GROUP
                continue
            item = h5o.open(f.id, name.encode())
            kinds[name] = (h5o.TYPE_GROUP if isinstance(item, h5g.GroupID) else
                           h5o.TYPE_DATASET if isinstance(item, h5d.DatasetID) else h5o.TYPE_NAMED_DATATYPE)
            if not isinstance(item, h5d.DatasetID):
                continue
            plist = item.get_create_plist()
            if plist.get_external_count():
                outside.append(f"{name} keeps its data in {_attr_text(plist.get_external(0)[0])}")
                outside_names.add(name)
            elif plist.get_layout() == h5d.VIRTUAL:
                outside.append(f"{name} maps data from {_attr_text(plist.get_virtual_filename(0))}")
                outside_names.add(name)
            dtype = item.dtype
            if dtype not in dtype_names:  # naming a dtype takes numpy 20 µs: NASNetMobile's 1,126 arrays share 2
                dtype_names[dtype] = str(dtype)
            datasets.append(StoredWeight(name, tuple(int(d) for d in item.shape), dtype_names[dtype]))
        return cls(tuple(datasets), tuple(outside), frozenset(outside_names), hard,
                   {k: tuple(v) for k, v in children.items()}, kinds)

    def is_group(self, f: Any, path: str) -> bool:
        """Whether ``path`` is a group reached through hard links only."""
        from h5py import h5o

        if path not in self.hard:
            return False
        kind = self.kinds.get(path)
        if kind is None:  # a second hard link to an object visited under another name
            kind = h5o.get_info(f.id, path.encode()).type
        return kind == h5o.TYPE_GROUP


def _datasets_by_group(datasets: Iterable[StoredWeight]) -> dict[str, list[StoredWeight]]:
    """Every group's datasets at any depth, named relative to it, keyed by the group's path ("" for the root).

    The same lists as a ``visititems`` walk from each group would give, from one walk of the file.
    """
    found: dict[str, list[StoredWeight]] = {}
    for dataset in datasets:
        parts = dataset.name.split("/")
        for i in range(len(parts)):
            found.setdefault("/".join(parts[:i]), []).append(StoredWeight("/".join(parts[i:]), dataset.shape,
                                                                          dataset.dtype))
    return found


# ------------------------------------------------------------------ HDF5 in a child process
class _HDF5Child:
    """A long-lived child interpreter that does all our HDF5 parsing, replaced whenever it hangs or dies.

    A crafted file can make the HDF5 C library loop forever (the fuzz test found such files), and
    no in-process timeout can interrupt C code.  The child also reads every array once
    (:func:`_vet_hdf5`), so the reads Keras later makes in our process have already been seen
    to finish.  A child serves one call at a time (its lock is held for that call only);
    :class:`_HDF5Children` hands each call an idle child, so one session's long read does not
    hold up another's.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: Any = None
        self._connection: Any = None

    def call(self, function: Any, args: tuple, received: str, limits: Limits) -> Any:
        with self._lock:
            return self._call(function, args, received, limits)

    def _call(self, function: Any, args: tuple, received: str, limits: Limits) -> Any:
        """``call`` with ``self._lock`` already held by the caller."""
        if self._process is None or self._process.poll() is not None:
            self._stop()
            self._start()
        try:
            self._connection.send((function, args))
            if not self._connection.poll(limits.max_parse_seconds):
                self._stop()
                raise LimitExceededError(
                    f"Reading the HDF5 data took longer than {limits.max_parse_seconds} s (max_parse_seconds): "
                    "the file is crafted or corrupted so that the HDF5 library never finishes.",
                    received=received, fix="Do not open this file; re-save the model with model.save(...).")
            ok, payload = self._connection.recv()
        except (EOFError, OSError):
            self._stop()
            raise ModelFormatError(
                "The file's HDF5 data crashed the HDF5 reader.", received=received,
                fix="The file is corrupted; copy it again or re-save the model with model.save(...).") from None
        if not ok:
            raise payload
        return payload

    def _start(self) -> None:
        # A fresh interpreter, not multiprocessing's spawn: spawn re-runs the parent's __main__, which
        # under Streamlit is the app script.  (fork would copy TensorFlow's threads.)
        import subprocess
        import sys
        from multiprocessing.connection import Pipe

        self._connection, theirs = Pipe()
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from inspector.io.files import _hdf5_child; _hdf5_child(int(sys.argv[1]))",
             str(theirs.fileno())], pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env)
        theirs.close()

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(5)
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None


class _HDF5Children:
    """Up to ``most`` HDF5 children: each call gets an idle one (started on demand), or waits for a busy one.

    Started lazily and kept: the app's sessions open files at the same time, and a vetting
    read of a large model's arrays takes seconds.  The first child is the one an idle process uses.
    """

    def __init__(self, first: _HDF5Child, most: int = 4) -> None:
        self._children = [first]
        self._most = most
        self._guard = threading.Lock()
        self._turn = 0

    def call(self, function: Any, args: tuple, received: str, limits: Limits) -> Any:
        with self._guard:
            child = next((c for c in self._children if c._lock.acquire(blocking=False)), None)
            if child is None and len(self._children) < self._most:
                child = _HDF5Child()
                child._lock.acquire()
                self._children.append(child)
            if child is None:
                self._turn = (self._turn + 1) % len(self._children)
                busy = self._children[self._turn]
        if child is None:
            return busy.call(function, args, received, limits)
        try:
            return child._call(function, args, received, limits)
        finally:
            child._lock.release()


_HDF5 = _HDF5Child()
_HDF5_CHILDREN = _HDF5Children(_HDF5)


def _hdf5_child(fd: int) -> None:
    """The child's loop: run each ``(function, args)`` received, send back ``(ok, result or InspectorError)``."""
    from multiprocessing.connection import Connection

    connection = Connection(fd)
    while True:
        try:
            function, args = connection.recv()
        except (EOFError, OSError):
            return
        try:
            result = (True, function(*args))
        except InspectorError as e:
            result = (False, e)
        connection.send(result)


def _vet_blob(path: str, received: str, limits: Limits) -> None:
    """In the child: open an HDF5 file and read each of its arrays once (:func:`vet_arrays`)."""
    try:
        with _open_hdf5(path) as f:
            _vet_hdf5(f, limits)
    except Exception as e:  # noqa: BLE001 - HDF5 is parsed by a C library; any failure means a bad file
        raise ModelFormatError("The model's weight arrays cannot be read.", received=f"{received}: {e}",
                               fix="The file is corrupted; re-save the model with model.save(...).") from e


def _vet_hdf5(f: Any, limits: Limits, *, read: bool = True, index: _HDF5Index | None = None) -> tuple[str, ...]:
    """List the links and arrays of ``f`` whose data lives in other files; read every other array once.

    Outside data is what Keras would read from this machine when loading the weights —
    a way to leak files through weights, or to hang on a device file — so it is listed
    (and refused before Keras) but never read here.  The arrays inside the file are read
    when their declared total is within ``max_weight_bytes``, so the reads Keras later
    makes of the same bytes have already been seen to finish.
    """
    index = index or _HDF5Index.of(f)
    inside = [d for d in index.datasets if d.name not in index.outside_names]
    if read:
        arrays = [f[d.name] for d in inside]
        if sum(int(a.size) * a.dtype.itemsize for a in arrays) <= limits.max_weight_bytes:
            for array in arrays:
                array[()]
    return index.outside


# ------------------------------------------------------------------ legacy HDF5
def _read_hdf5(data: bytes, received: str, limits: Limits,
               vet: bool = True) -> tuple[dict, dict, str | None, tuple[str, ...]]:
    """Parse a legacy .h5 in the HDF5 child process."""
    return _call_on_file(_read_hdf5_inline, data, (received, limits, vet), received, limits)


def _read_hdf5_inline(path: str, received: str, limits: Limits,
                      vet: bool = True) -> tuple[dict, dict, str | None, tuple[str, ...]]:
    try:
        f = _open_hdf5(path)
    except Exception as e:  # noqa: BLE001 - HDF5 is parsed by a C library; any failure means a bad file
        raise ModelFormatError(
            "The HDF5 (.h5) file is damaged and cannot be opened (often a truncated upload or download).",
            received=f"{received}: {e}", fix="Copy or download the file again, or re-save it with model.save(...).") from e
    with f:
        try:
            raw = f.attrs.get("model_config")
            version = _attr_text(f.attrs.get("keras_version"))
            if raw is None:
                if "layer_names" in f.attrs or "model_weights" in f or "layers" in f or "vars" in f:
                    raise WeightsOnlyError(
                        "This file holds only weights (written by model.save_weights), not a model: it has no "
                        "architecture (model_config) to show.",
                        received=f"{received}, HDF5 with groups {sorted(f.keys())[:6]}",
                        fix="Upload the file written by model.save('model.keras'), or rebuild the model in code "
                            "and call model.load_weights(this_file).")
                raise ModelFormatError(
                    "This HDF5 file is not a Keras model: it has no model_config attribute.",
                    received=f"{received}, HDF5 with groups {sorted(f.keys())[:6]}",
                    fix="Upload a file written by Keras model.save(...).")
            try:  # as Keras reads it: bytes are decoded as UTF-8, then parsed as text
                text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
            except UnicodeDecodeError as e:
                raise ModelFormatError("The file's model_config is not UTF-8 text; Keras writes UTF-8 only.",
                                       received=f"{received}: {e}",
                                       fix="Do not open this file; re-save the model with model.save(...).") from e
            config = _parse_json(text, "model_config", received, limits)
            weights: dict[str, tuple[StoredWeight, ...]] = {}
            index = _HDF5Index.of(f)
            outside = _vet_hdf5(f, limits, read=vet, index=index)
            group = _own(f, "model_weights")
            _collect_h5_weights(f if group is None else group, config, weights)
            weights[ALL_WEIGHTS] = tuple(_datasets_by_group(index.datasets).get(
                "" if group is None else "model_weights", []))
        except InspectorError:
            raise
        except Exception as e:  # noqa: BLE001 - HDF5 is parsed by a C library; any failure means a bad file
            raise ModelFormatError("The HDF5 (.h5) file is damaged: its contents cannot be read.",
                                   received=f"{received}: {e}",
                                   fix="Copy or download the file again, or re-save it with model.save(...).") from e
    return config, weights, version, outside


def _attr_text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _collect_h5_weights(group: Any, config: dict, out: dict[str, tuple[StoredWeight, ...]]) -> None:
    import h5py

    def walk(layers: list[dict], prefix: str, stored: dict[str, list[StoredWeight]]) -> None:
        for lc in layers:
            name = _layer_name(lc)
            own = stored.get(name, [])
            out[prefix + name] = tuple(own)
            children = _model_layers(lc.get("config"))
            if children:
                # Keras 2 lists a nested model's weights under its own group, named after the
                # layer that holds them at any depth ("Conv1/kernel:0"): find the child holding it
                holders = {_layer_name(c): {p.rsplit("/", 1)[-1] for p, _ in iter_layer_configs(c["config"])} | {_layer_name(c)}
                           for c in children if isinstance(c.get("config"), (dict, list))}
                split: dict[str, list[StoredWeight]] = {}
                for w in own:
                    parts = set(w.name.split("/")[:-1])
                    owner = next((c for c, names in holders.items() if c in parts), None) or next(
                        (c for c, names in holders.items() if parts & names), None)
                    if owner is not None:
                        split.setdefault(owner, []).append(w)
                walk(children, prefix + name + "/", split)

    top: dict[str, list[StoredWeight]] = {}
    for layer_name in group.keys():
        g = _own(group, layer_name)
        if not isinstance(g, h5py.Group):
            continue
        names = [_attr_text(n) for n in g.attrs.get("weight_names", [])]
        found = []
        for n in names:
            ds = _own(g, n) if n else None
            if isinstance(ds, h5py.Dataset):
                found.append(StoredWeight(n, tuple(int(d) for d in ds.shape), str(ds.dtype)))
        top[layer_name] = found
    walk(_model_layers(config), "", top)


# ------------------------------------------------------------------ config helpers
def _check_config(config: dict, received: str, limits: Limits) -> None:
    if not isinstance(config.get("class_name"), str) or "config" not in config:
        raise ModelFormatError(
            "The model config has the wrong shape: expected an object with 'class_name' and 'config'.",
            received=f"{received}: keys {sorted(config)[:8]}", fix="Re-save the model with model.save(...).")
    layers = config.get("config")
    if isinstance(layers, dict):
        layers = layers.get("layers")
    if layers is None and config["class_name"] not in ("Sequential", "Functional", "Model"):
        return  # a subclassed model: no layer list to check
    if not isinstance(layers, list) or not all(isinstance(lc, dict) for lc in layers):
        raise ModelFormatError(
            "The model config has the wrong shape: its 'layers' entry is not a list of layer configs.",
            received=f"{received}: layers is {type(layers).__name__}", fix="Re-save the model with model.save(...).")


def _model_layers(config: Any) -> list[dict]:
    """The layer configs of a model config (Sequential list form, dict form, Functional)."""
    if isinstance(config, dict) and "class_name" in config and "config" in config:
        config = config["config"]  # what Keras builds; a "layers" key beside "config" is never read
    if isinstance(config, list):
        return [lc for lc in config if isinstance(lc, dict)]
    if isinstance(config, dict) and isinstance(config.get("layers"), list):
        return [lc for lc in config["layers"] if isinstance(lc, dict)]
    return []


def _layer_name(layer_config: dict) -> str:
    name = layer_config.get("name")
    if not isinstance(name, str):
        inner = layer_config.get("config")
        name = inner.get("name") if isinstance(inner, dict) else None
    return str(name) if name is not None else str(layer_config.get("class_name", "layer"))


def iter_layer_configs(config: dict) -> Iterable[tuple[str, dict]]:
    """Every layer config in a model config, nested models included, with its path.

    Example:
        >>> cfg = {"class_name": "Sequential", "config": {"layers": [
        ...     {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
        >>> [p for p, _ in iter_layer_configs(cfg)]
        ['d']
    """
    def walk(layers: list[dict], prefix: str) -> Iterable[tuple[str, dict]]:
        for lc in layers:
            path = prefix + _layer_name(lc)
            yield path, lc
            yield from walk(_model_layers(lc.get("config")), path + "/")

    yield from walk(_model_layers(config), "")
