"""Reading model files at the edge: the one entry point, the source's bytes, and the format from its content.

Nothing here imports Keras or runs code from the file.  A :class:`ModelFile` is
the validated content of a ``.keras`` zip or a legacy ``.h5``: its raw bytes,
its architecture config (JSON, parsed with a depth limit) and the shape of every
stored weight, read from HDF5 metadata without loading the arrays.  Each format has
its reader (``keras_zip``, ``hdf5``, the HDF5 child in ``hdf5_child``, the config in
``config_json``); :func:`read_model_file` and :func:`start_reading` pick one.

Example:
    >>> import io, json, zipfile
    >>> buf = io.BytesIO()
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": []}}))
    >>> read_model_file(buf.getvalue()).format
    'keras'
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import IO

from inspector.errors import LimitExceededError, ModelFormatError
from inspector.io.config_json import _check_config, iter_layer_configs, nesting_depth
from inspector.io.config_json import _layer_name as _layer_name  # imported from here by model/
from inspector.io.config_json import _model_layers as _model_layers
from inspector.io.hdf5 import _read_hdf5, _vet_blob
from inspector.io.hdf5_child import _call_on_file
from inspector.io.keras_zip import NPZ_WEIGHTS as NPZ_WEIGHTS
from inspector.io.keras_zip import _member_writer, _read_keras_zip
from inspector.io.keras_zip import portable_weights as portable_weights  # imported from here by model/
from inspector.io.model_file import ALL_WEIGHTS, ModelFile, ModelFileReading, ModelSource, StoredWeight
from inspector.io.savedmodel import (
    METADATA,
    ConvertedSavedModel,
    convert_savedmodel,
    is_savedmodel_zip,
    read_savedmodel_directory,
    read_savedmodel_zip,
)
from inspector.limits import Limits, format_bytes, get_limits

__all__ = ["ALL_WEIGHTS", "ModelSource", "ModelFile", "ModelFileReading", "StoredWeight", "read_model_file",
           "start_reading", "read_source", "vet_arrays", "iter_layer_configs", "nesting_depth"]

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


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
    notes: tuple[str, ...] = ()
    converted = _savedmodel_as_h5(data, received, limits)
    if converted is not None:  # read from here on as the .h5 tf.keras 2 would have written
        data, notes = converted.h5, converted.notes
        config, weights, version, outside = _read_hdf5(data, received, limits, vet_arrays)
        fmt = weights_format = "h5"
    elif data.startswith((_ZIP_MAGIC, _EMPTY_ZIP_MAGIC)):
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
                                      weights_format=weights_format, arrays_vetted=vet_arrays or weights_format != "h5",
                                      notes=notes, converted_from="SavedModel" if converted else ""),
                            shapes)


def _savedmodel_as_h5(data: bytes, received: str, limits: Limits) -> ConvertedSavedModel | None:
    """A zip of a SavedModel directory (what :func:`read_source` makes of a directory, or an upload) as the
    legacy ``.h5`` tf.keras 2 would write; ``None`` for anything else."""
    if not data.startswith(_ZIP_MAGIC):
        return None
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = [m.filename for m in archive.infolist()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        return None  # the .keras reader names what is wrong with the archive
    if not is_savedmodel_zip(names):
        return None
    return convert_savedmodel(read_savedmodel_zip(archive, received, limits), received, limits)


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
            return path.name, _directory(path, limits)
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


def _directory(path: Path, limits: Limits) -> bytes:
    """A SavedModel directory's files that are read, as the bytes of a zip (read as an upload of one would be)."""
    if not any((path / n).exists() for n in (METADATA, "saved_model.pb", "saved_model.pbtxt")):
        raise ModelFormatError("This path is a directory, not a model file (nor a TensorFlow SavedModel directory).",
                               received=str(path),
                               fix="Pass the .keras or .h5 file itself, or a SavedModel directory written by "
                                   "tf.keras 2's model.save('folder').")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, content in read_savedmodel_directory(path, limits).items():
            archive.writestr(name, content)
    return buffer.getvalue()


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
