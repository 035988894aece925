"""Validate user data at the edge, once, before it reaches a model.

Everything a user may pass as ``X`` is turned here into a list of NumPy arrays,
one per model input in ``model.inputs`` order, with the model's dtypes — or
refused with an :class:`~inspector.errors.InputDataError` that names every
expected input with its shape and dtype and says what was received.  Code
downstream (:mod:`inspector.analysis.activations`) trusts what comes out.

Accepted data
    A NumPy array (single-input models), a list/tuple in ``model.inputs``
    order, a dict keyed by input name, a pandas DataFrame (columns named like
    the inputs, or all columns as the one input of a single-input model), a path
    to a ``.npy``/``.npz``/``.csv`` file; and, streamed batch by batch without
    ever being materialised, a ``tf.data.Dataset``, a ``keras.utils.PyDataset``
    or any iterable of batches (``x`` or ``(x, y[, sample_weight])``).

Files
    ``.npy``/``.npz`` are read with ``allow_pickle=False`` (a pickle never runs),
    after the size declared in each array's header has been checked against
    ``get_limits().max_data_bytes``; ``.csv`` files are size-checked on disk.

Non-finite values
    NaN and Inf are legitimate things to look at, so they are not refused;
    they are *reported*: :func:`nonfinite_messages` describes them and the
    activation functions emit a :class:`NonFiniteInputWarning` with that text.

Example:
    >>> import numpy as np
    >>> spec = InputSpec("features", (None, 3), "float32")
    >>> [a.dtype.name for a in prepare_arrays(np.ones((2, 3)), (spec,))]
    ['float32']
    >>> prepare_arrays(np.ones((2, 4)), (spec,))
    Traceback (most recent call last):
    ...
    inspector.errors.InputDataError: Input 'features' has shape (2, 4), but the model expects (None, 3).
      Received: an array of shape (2, 4) and dtype float64
      Fix: Pass data matching the model's 1 input: 'features' shape (None, 3) dtype float32.
"""

from __future__ import annotations

import os
import sys
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inspector.errors import InputDataError, LimitExceededError
from inspector.graph import Shape, format_shape
from inspector.limits import format_bytes, get_limits

__all__ = [
    "InputSpec",
    "NonFiniteInputWarning",
    "BatchStream",
    "input_specs",
    "expected_text",
    "describe_data",
    "load_data_file",
    "prepare_arrays",
    "nonfinite_messages",
    "warn_nonfinite",
    "is_stream",
    "batch_stream",
]

DATA_SUFFIXES = (".npy", ".npz", ".csv")


class NonFiniteInputWarning(UserWarning):
    """The data holds NaN or Inf values (reported, not refused)."""


@dataclass(frozen=True)
class InputSpec:
    """One model input: its name, shape (batch dimension first, ``None`` when free) and dtype."""

    name: str
    shape: Shape
    dtype: str

    def describe(self) -> str:
        """The input as one line of an error message.

        Example:
            >>> InputSpec("image", (None, 28, 28, 1), "float32").describe()
            "'image' shape (None, 28, 28, 1) dtype float32"
        """
        return f"{self.name!r} shape {format_shape(self.shape)} dtype {self.dtype}"


def input_specs(model: Any) -> tuple[InputSpec, ...]:
    """The inputs of a built Keras model, in ``model.inputs`` order.

    Raises:
        InputDataError: the model has no known inputs (an unbuilt Sequential or
            a subclassed model never called).
    """
    try:
        tensors = list(model.inputs)
    except (AttributeError, ValueError) as e:
        tensors = []
        error: Exception | None = e
    else:
        error = None
    if not tensors:
        raise InputDataError(
            f"Model {getattr(model, 'name', '?')!r} has no known inputs, so data cannot be checked against it.",
            received=f"a {type(model).__name__} that is not built" + (f" ({error})" if error else ""),
            fix="Build the model first: give it a keras.Input(...) or call model.build(input_shape).",
        )
    specs = []
    for i, t in enumerate(tensors):
        name = str(getattr(t, "name", None) or f"input_{i}")
        shape = tuple(None if d is None else int(d) for d in t.shape)
        specs.append(InputSpec(name, shape, _dtype_name(t.dtype)))
    return tuple(specs)


def expected_text(specs: Sequence[InputSpec]) -> str:
    """What the model expects, naming every input with its shape and dtype.

    Example:
        >>> expected_text([InputSpec("a", (None, 2), "float32"), InputSpec("b", (None, 1), "int32")])
        "the model's 2 inputs: 'a' shape (None, 2) dtype float32; 'b' shape (None, 1) dtype int32"
    """
    plural = "input" if len(specs) == 1 else "inputs"
    return f"the model's {len(specs)} {plural}: " + "; ".join(s.describe() for s in specs)


def _fix(specs: Sequence[InputSpec]) -> str:
    return f"Pass data matching {expected_text(specs)}."


def describe_data(data: Any) -> str:
    """A short description of what the user passed, for the ``received`` part of an error.

    Example:
        >>> describe_data({"a": np.zeros((2, 3)), "b": [1, 2]})
        "a dict with keys ['a', 'b']: 'a' array (2, 3) float64; 'b' list of 2"
    """
    if isinstance(data, np.ndarray):
        return f"an array of shape {tuple(data.shape)} and dtype {data.dtype}"
    if _is_dataframe(data):
        return f"a DataFrame of {len(data)} rows with columns {[str(c) for c in data.columns]}"
    if isinstance(data, Mapping):
        parts = "; ".join(f"{str(k)!r} {_short(v)}" for k, v in data.items())
        return f"a dict with keys {[str(k) for k in data]}: {parts}"
    if isinstance(data, (list, tuple)):
        kind = type(data).__name__
        return f"a {kind} of {len(data)} items: " + "; ".join(_short(v) for v in data[:8]) + (
            "; ..." if len(data) > 8 else "")
    if isinstance(data, (str, os.PathLike)):
        return f"the path {str(data)!r}"
    return _short(data)


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array {tuple(value.shape)} {value.dtype}"
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        return f"{type(value).__name__} {tuple(shape)} {_dtype_name(value.dtype)}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__} of {len(value)}"
    return type(value).__name__


# --------------------------------------------------------------------------- files
def load_data_file(path: str | os.PathLike[str]) -> np.ndarray | dict[str, np.ndarray] | Any:
    """Read a ``.npy`` (array), ``.npz`` (dict of arrays) or ``.csv`` (DataFrame) file safely.

    Pickles are never loaded (``allow_pickle=False``), and every array's size as
    declared in its header is checked against ``get_limits().max_data_bytes``
    before any data is read.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "x.npy"
        >>> np.save(path, np.arange(3.0))
        >>> load_data_file(path)
        array([0., 1., 2.])

    Raises:
        InputDataError: missing file, unsupported suffix, pickled/object data, unreadable content.
        LimitExceededError: the declared data size is above ``max_data_bytes``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise InputDataError(f"Unsupported data file type {suffix or '(no suffix)'!r}.",
                             received=f"the path {str(path)!r}",
                             fix="Use a .npy, .npz or .csv file, or pass the data itself (array, dict, DataFrame).")
    if not path.is_file():
        raise InputDataError("The data file does not exist.", received=f"the path {str(path)!r}",
                             fix="Check the path; it is resolved relative to the current directory "
                                 f"({os.getcwd()}).")
    limit = get_limits().max_data_bytes
    if suffix == ".npy":
        with open(path, "rb") as f:
            shape, dtype = _read_npy_header(f, str(path))
        _check_declared(f"{path.name}", shape, dtype, limit)
        return _np_load(path)
    if suffix == ".npz":
        total = 0
        try:
            with zipfile.ZipFile(path) as archive:
                for member in archive.infolist():
                    if not member.filename.endswith(".npy"):
                        continue
                    with archive.open(member) as f:
                        shape, dtype = _read_npy_header(f, f"{path.name}:{member.filename}")
                    total += _check_declared(f"{path.name}:{member.filename}", shape, dtype, limit)
                    if total > limit:
                        raise LimitExceededError(
                            f"The arrays in {path.name} declare {format_bytes(total)} of data, above the limit "
                            f"max_data_bytes = {format_bytes(limit)}.",
                            received=f"the path {str(path)!r}",
                            fix="Use a smaller file, stream the data as batches, or raise the limit with "
                                "inspector.set_limits(max_data_bytes=...).")
        except zipfile.BadZipFile as e:
            raise InputDataError("The .npz file is not a valid zip archive.", received=f"the path {str(path)!r}",
                                 fix="Save it with numpy.savez(...) or numpy.savez_compressed(...).") from e
        loaded = _np_load(path)
        try:
            return {name: loaded[name] for name in loaded.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise _unreadable(path, e) from e
        finally:
            loaded.close()
    size = path.stat().st_size
    if size > limit:
        raise LimitExceededError(
            f"The CSV file is {format_bytes(size)}, above the limit max_data_bytes = {format_bytes(limit)}.",
            received=f"the path {str(path)!r}",
            fix="Use a smaller sample of rows, stream the data as batches, or raise the limit with "
                "inspector.set_limits(max_data_bytes=...).")
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise _unreadable(path, e) from e


def _np_load(path: Path) -> Any:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise _unreadable(path, e) from e


def _unreadable(path: Path, error: Exception) -> InputDataError:
    text = str(error)
    if "allow_pickle" in text or "pickle" in text.lower():
        return InputDataError(f"{path.name} holds pickled Python objects, which are never loaded (they can run code).",
                              received=f"the path {str(path)!r}",
                              fix="Save plain numeric or string arrays: numpy.save(path, array.astype('float32')).")
    return InputDataError(f"{path.name} could not be read: {text}", received=f"the path {str(path)!r}",
                          fix="Check that the file is complete and was written by numpy.save/savez or as CSV.")


def _read_npy_header(f: Any, label: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype declared by a .npy header, read without touching the data."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(f)
        else:  # (3, 0): utf-8 header, same content; no public reader exists
            raw = f.read(4)
            length = int.from_bytes(raw, "little")
            header = f.read(length).decode("utf8")
            shape, _, dtype = _parse_header(header)
    except (ValueError, OSError, EOFError, SyntaxError) as e:
        raise InputDataError(f"{label} is not a readable .npy array: {e}", received=f"the file {label!r}",
                             fix="Save the array with numpy.save(path, array).") from e
    if dtype.hasobject:
        raise InputDataError(f"{label} holds Python objects (pickled data), which are never loaded: "
                             "unpickling can run arbitrary code.",
                             received=f"an array of shape {tuple(shape)} and dtype {dtype}",
                             fix="Save plain numeric or string arrays: numpy.save(path, array.astype('float32')).")
    return tuple(int(d) for d in shape), dtype


def _parse_header(header: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    import ast

    d = ast.literal_eval(header)  # literals only: safe, as numpy itself does
    if not isinstance(d, dict) or not {"descr", "fortran_order", "shape"} <= set(d):
        raise ValueError(f"bad header {header!r}")
    return tuple(d["shape"]), bool(d["fortran_order"]), np.dtype(np.lib.format.descr_to_dtype(d["descr"]))


def _check_declared(label: str, shape: tuple[int, ...], dtype: np.dtype, limit: int) -> int:
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    size = n * dtype.itemsize
    if size > limit:
        raise LimitExceededError(
            f"{label} declares an array of {format_bytes(size)}, above the limit max_data_bytes = "
            f"{format_bytes(limit)}.",
            received=f"an array header declaring shape {shape} and dtype {dtype}",
            fix="Use a smaller file, stream the data as batches, or raise the limit with "
                "inspector.set_limits(max_data_bytes=...).")
    return size


# ----------------------------------------------------------------- in-memory data
def prepare_arrays(data: Any, specs: Sequence[InputSpec], *, where: str = "") -> list[np.ndarray]:
    """Check ``data`` against the model inputs and return one array per input, in order.

    ``where`` (e.g. ``"batch 3"``) is added to messages about streamed data.
    Arrays are converted to the model's dtypes; a missing trailing axis of size
    1 is added (a DataFrame column for an input of shape ``(None, 1)``).

    Example:
        >>> specs = (InputSpec("a", (None, 1), "float32"), InputSpec("b", (None, 2), "float32"))
        >>> [x.shape for x in prepare_arrays({"b": np.ones((4, 2)), "a": np.ones(4)}, specs)]
        [(4, 1), (4, 2)]

    Raises:
        InputDataError: wrong count, names, shapes, dtypes, sample counts, or an unreadable file.
    """
    specs = tuple(specs)
    if isinstance(data, (str, os.PathLike)):
        data = load_data_file(data)
    prefix = f"{where}: " if where else ""
    received = describe_data(data)
    raw = _split_inputs(data, specs, prefix, received)
    arrays = [_convert(value, spec, prefix, received, specs) for value, spec in zip(raw, specs, strict=True)]
    counts = {spec.name: len(a) for spec, a in zip(specs, arrays, strict=True)}
    if len(set(counts.values())) > 1:
        raise InputDataError(f"{prefix}The inputs have different numbers of samples: {counts}.",
                             received=received, fix=f"Give every input the same number of rows. {_fix(specs)}")
    return arrays


def _split_inputs(data: Any, specs: tuple[InputSpec, ...], prefix: str, received: str) -> list[Any]:
    """One raw value per input, matched by name or position."""
    names = [s.name for s in specs]
    if _is_dataframe(data):
        columns = [str(c) for c in data.columns]
        if all(n in columns for n in names):
            return [_column_for(data, spec, prefix, received, specs) for spec in specs]
        if len(specs) == 1:
            return [data.to_numpy()]  # every column is a feature of the one input
        missing = [n for n in names if n not in columns]
        raise InputDataError(
            f"{prefix}The table has no column for input(s) {missing}; expected columns {names} "
            "(one per model input, named like the input).",
            received=received, fix=_fix(specs))
    if isinstance(data, Mapping):
        keys = [str(k) for k in data]
        missing = [n for n in names if n not in keys]
        if missing:
            if len(specs) == 1 and keys == ["arr_0"]:
                return list(data.values())  # np.savez(path, array): the single input, under numpy's default name
            raise InputDataError(f"{prefix}No data for input(s) {missing}.", received=received,
                                 fix=f"Key the dict by input name. {_fix(specs)}")
        by_name = {str(k): v for k, v in data.items()}
        return [by_name[n] for n in names]
    if isinstance(data, (list, tuple)):
        if len(specs) == 1:
            if len(data) == 1 and _array_like(data[0]):
                return [data[0]]
            return [data]  # nested Python lists of numbers: the one input's rows
        if len(data) != len(specs):
            raise InputDataError(f"{prefix}Got {len(data)} arrays for a model with {len(specs)} inputs.",
                                 received=received, fix=f"Pass one array per input, in model.inputs order. {_fix(specs)}")
        return list(data)
    if len(specs) != 1:
        raise InputDataError(f"{prefix}The model has {len(specs)} inputs but a single array was given.",
                             received=received,
                             fix=f"Pass a list in model.inputs order or a dict keyed by input name. {_fix(specs)}")
    return [data]


def _column_for(frame: Any, spec: InputSpec, prefix: str, received: str, specs: tuple[InputSpec, ...]) -> Any:
    if len(spec.shape) == 1 or (len(spec.shape) == 2 and spec.shape[1] in (1, None)):
        return frame[spec.name].to_numpy()
    raise InputDataError(
        f"{prefix}Input {spec.name!r} has shape {format_shape(spec.shape)}; one table column cannot fill it.",
        received=received, fix=f"Pass a dict of arrays instead of a DataFrame. {_fix(specs)}")


def _array_like(value: Any) -> bool:
    return isinstance(value, np.ndarray) or (hasattr(value, "shape") and hasattr(value, "dtype"))


def _convert(value: Any, spec: InputSpec, prefix: str, received: str, specs: tuple[InputSpec, ...]) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise InputDataError(f"{prefix}Input {spec.name!r} could not be made into an array: {e}",
                             received=received, fix=_fix(specs)) from e
    if array.ndim == 0:
        raise InputDataError(f"{prefix}Input {spec.name!r} is a scalar; a batch of samples is needed.",
                             received=received, fix=_fix(specs))
    rank = len(spec.shape)
    if array.ndim == rank - 1 and spec.shape[-1] == 1:
        array = array[..., None]
    elif array.ndim == rank + 1 and array.shape[-1] == 1 and rank >= 1:
        array = array[..., 0]
    if array.ndim != rank or any(d is not None and d != a for d, a in zip(spec.shape[1:], array.shape[1:], strict=True)):
        raise InputDataError(
            f"{prefix}Input {spec.name!r} has shape {tuple(np.shape(value))}, but the model expects "
            f"{format_shape(spec.shape)}.",
            received=received, fix=_fix(specs))
    return _cast(array, spec, prefix, received, specs)


def _cast(array: np.ndarray, spec: InputSpec, prefix: str, received: str, specs: tuple[InputSpec, ...]) -> np.ndarray:
    want = spec.dtype
    kind = array.dtype.kind
    bad = InputDataError(
        f"{prefix}Input {spec.name!r} has dtype {array.dtype}, which cannot be used as {want}.",
        received=received, fix=_fix(specs))
    if want == "string":
        if kind in "USO":
            return array.astype(object) if kind == "O" else array
        raise bad
    try:
        target = np.dtype(want)
    except TypeError:  # a backend-only dtype: leave the conversion to Keras
        return array
    if array.dtype == target:
        return array
    if kind in "USO":
        try:
            return array.astype(target)
        except (ValueError, TypeError) as e:
            raise bad from e
    if kind == "c" or target.kind == "b" and kind not in "biu":
        raise bad
    if target.kind in "iu" and kind == "f":
        finite = array[np.isfinite(array)]
        if finite.size != array.size or not np.array_equal(finite, np.round(finite)):
            raise InputDataError(
                f"{prefix}Input {spec.name!r} expects integers ({want}) but holds non-integer or non-finite "
                "floating-point values.",
                received=received, fix=f"Encode the column as integer ids first. {_fix(specs)}")
    return array.astype(target)


def nonfinite_messages(arrays: Sequence[np.ndarray], specs: Sequence[InputSpec], *, where: str = "") -> list[str]:
    """One message per input holding NaN or Inf values (empty when all values are finite).

    Example:
        >>> nonfinite_messages([np.array([[1.0, np.nan], [np.inf, 2.0]])], [InputSpec("x", (None, 2), "float32")])
        ["Input 'x' holds 1 NaN and 1 Inf value(s) in 2 of 2 samples (first: sample 0)."]
    """
    out = []
    for array, spec in zip(arrays, specs, strict=True):
        counts = _nonfinite_counts(array)
        if counts is None:
            continue
        nan, inf, rows, first = counts
        out.append(f"{where + ': ' if where else ''}Input {spec.name!r} holds {nan} NaN and {inf} Inf value(s) "
                   f"in {rows} of {len(array)} samples (first: sample {first}).")
    return out


def _nonfinite_counts(array: np.ndarray) -> tuple[int, int, int, int] | None:
    if array.dtype.kind not in "fc" or array.size == 0:
        return None
    finite = np.isfinite(array)
    if finite.all():
        return None
    nan = int(np.isnan(array).sum())
    bad_rows = ~finite.reshape(len(array), -1).all(axis=1)
    return nan, int((~finite).sum()) - nan, int(bad_rows.sum()), int(np.argmax(bad_rows))


# ------------------------------------------------------------------------- streams
def is_stream(data: Any) -> bool:
    """Whether ``data`` is a source of batches (dataset, PyDataset, iterator) rather than in-memory data.

    Example:
        >>> is_stream(np.zeros(3)), is_stream([np.zeros(3)]), is_stream(iter([np.zeros(3)]))
        (False, False, True)
    """
    if isinstance(data, (np.ndarray, Mapping, list, tuple, str, bytes, os.PathLike)) or _is_dataframe(data):
        return False
    if _is_tensor(data):
        return False
    return isinstance(data, Iterable) or _is_pydataset(data)


def _is_dataframe(data: Any) -> bool:
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(data, pandas.DataFrame)


def _is_tensor(data: Any) -> bool:
    return hasattr(data, "shape") and hasattr(data, "dtype") and not hasattr(data, "element_spec")


def _is_pydataset(data: Any) -> bool:
    keras = sys.modules.get("keras")
    base = getattr(getattr(keras, "utils", None), "PyDataset", None) if keras else None
    return base is not None and isinstance(data, base)


def _is_tf_dataset(data: Any) -> bool:
    return hasattr(data, "element_spec") and hasattr(data, "cardinality") and type(data).__module__.startswith(
        "tensorflow")


class BatchStream:
    """Validated batches of model inputs: iterate to get lists of arrays (one per input).

    In-memory data is sliced (views, no copies); streamed data is pulled one
    batch at a time, validated, and split when a batch is larger than
    ``batch_size``.  ``n_samples``/``n_batches`` are known for in-memory data and
    for sources with a length, else ``None``.  ``warnings`` collects the
    non-finite-value reports (complete once iteration has finished).

    Example:
        >>> stream = batch_stream(np.zeros((5, 2)), [InputSpec("x", (None, 2), "float32")], batch_size=2)
        >>> stream.n_batches, [b[0].shape[0] for b in stream]
        (3, [2, 2, 1])
    """

    def __init__(self, specs: Sequence[InputSpec], batch_size: int, *, arrays: list[np.ndarray] | None = None,
                 source: Any = None, n_batches: int | None = None) -> None:
        self.specs = tuple(specs)
        self.batch_size = int(batch_size)
        self._arrays = arrays
        self._source = source
        self.warnings: list[str] = []
        if arrays is not None:
            self.n_samples: int | None = len(arrays[0])
            self.n_batches: int | None = -(-self.n_samples // self.batch_size)
            self.warnings = nonfinite_messages(arrays, self.specs)
        else:
            self.n_samples = None
            self.n_batches = n_batches

    def set_batch_size(self, batch_size: int) -> None:
        """Serve batches of at most ``batch_size`` samples from now on."""
        self.batch_size = int(batch_size)
        if self.n_samples is not None and self._arrays is not None:
            self.n_batches = -(-self.n_samples // self.batch_size)

    @property
    def in_memory(self) -> bool:
        """Whether the whole data is already in memory (sliced, not streamed)."""
        return self._arrays is not None

    def first_sample(self) -> list[np.ndarray] | None:
        """The first sample of in-memory data (``None`` for streams, which must not be consumed twice)."""
        return None if self._arrays is None else [a[:1] for a in self._arrays]

    def __iter__(self) -> Iterator[list[np.ndarray]]:
        if self._arrays is not None:
            for start in range(0, self.n_samples or 0, self.batch_size):
                yield [a[start:start + self.batch_size] for a in self._arrays]
            return
        nan = {s.name: [0, 0, 0] for s in self.specs}  # NaN, Inf, samples
        seen = 0
        try:
            for i, raw in enumerate(_raw_batches(self._source)):
                arrays = prepare_arrays(_strip_targets(_to_numpy(raw), self.specs), self.specs,
                                        where=f"batch {i}")
                for array, spec in zip(arrays, self.specs, strict=True):
                    counts = _nonfinite_counts(array)
                    if counts is not None:
                        nan[spec.name][0] += counts[0]
                        nan[spec.name][1] += counts[1]
                        nan[spec.name][2] += counts[2]
                n = len(arrays[0])
                for start in range(0, n, self.batch_size):
                    yield [a[start:start + self.batch_size] for a in arrays]
                seen += n
        finally:
            self.n_samples = seen
            self.warnings = [f"Input {name!r} holds {c[0]} NaN and {c[1]} Inf value(s) in {c[2]} of {seen} "
                             "streamed samples." for name, c in nan.items() if c[0] or c[1]]


def batch_stream(data: Any, specs: Sequence[InputSpec], *, batch_size: int) -> BatchStream:
    """Validate ``data`` (in memory or streamed) and serve it in batches of at most ``batch_size``.

    In-memory data is validated completely here; streamed data batch by batch
    as it is read.

    Example:
        >>> s = batch_stream({"x": np.ones((3, 2))}, [InputSpec("x", (None, 2), "float32")], batch_size=8)
        >>> s.n_samples, s.in_memory
        (3, True)
    """
    if batch_size < 1:
        raise InputDataError("batch_size must be a positive integer.", received=f"batch_size={batch_size!r}",
                             fix="Pass batch_size=32 or leave it out to choose one automatically.")
    if not is_stream(data):
        return BatchStream(specs, batch_size, arrays=prepare_arrays(data, specs))
    n_batches = None
    if _is_tf_dataset(data):
        cardinality = int(data.cardinality())
        n_batches = cardinality if cardinality >= 0 else None
    else:
        try:
            n_batches = len(data)
        except TypeError:
            n_batches = None
    return BatchStream(specs, batch_size, source=data, n_batches=n_batches)


def _raw_batches(source: Any) -> Iterator[Any]:
    if _is_pydataset(source):
        count = getattr(source, "num_batches", None)
        i = 0
        while count is None or i < count:
            try:
                batch = source[i]
            except IndexError:  # an unknown-length PyDataset ends by raising IndexError
                return
            yield batch
            i += 1
        return
    if _is_tf_dataset(source):
        yield from source.as_numpy_iterator()
        return
    yield from source


def _to_numpy(batch: Any) -> Any:
    """Backend tensors (tf, torch, jax) in a batch structure become NumPy arrays."""
    if isinstance(batch, np.ndarray) or batch is None:
        return batch
    if isinstance(batch, Mapping):
        return {k: _to_numpy(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_numpy(v) for v in batch) if type(batch) in (list, tuple) else batch
    if _is_dataframe(batch):
        return batch
    if _is_tensor(batch):
        return np.asarray(batch)
    return batch


def _strip_targets(batch: Any, specs: tuple[InputSpec, ...]) -> Any:
    """A batch as Keras' fit() takes it: ``x`` or ``(x, y)`` or ``(x, y, sample_weight)`` → ``x``."""
    if type(batch) is tuple and len(batch) in (2, 3):
        if len(specs) == 1 or isinstance(batch[0], (list, tuple, Mapping)) or _is_dataframe(batch[0]):
            return batch[0]
    return batch


def _dtype_name(dtype: Any) -> str:
    name = getattr(dtype, "name", None)
    return str(name if isinstance(name, str) else dtype)


def warn_nonfinite(messages: Iterable[str], *, stacklevel: int = 3) -> None:
    """Emit each message as a :class:`NonFiniteInputWarning` (``stacklevel`` points at the user's call)."""
    for message in messages:
        warnings.warn(message, NonFiniteInputWarning, stacklevel=stacklevel)
