"""The arguments of the projection functions, checked once on the way in (every refusal an ``InputDataError``
saying what was expected): method, metric, axes, seed, point limit, the matrix, labels, a metadata table, the
progress callback."""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from inspector.analysis.projection_result import Method, Metric
from inspector.errors import InputDataError
from inspector.limits import get_limits
from inspector.progress import ProgressCallback

_E = TypeVar("_E", bound=Enum)


def _method(method: Method | str) -> Method:
    return _choice(Method, method, "projection method")


def _metric(metric: Metric | str) -> Metric:
    return _choice(Metric, metric, "metric")


def _choice(kind: type[_E], value: Any, what: str) -> _E:
    """An enum member from itself or its (case-insensitive) value; anything else is an InputDataError."""
    try:
        return kind(value.lower() if isinstance(value, str) else value)
    except ValueError:
        raise InputDataError(f"Unknown {what} {value!r}.", received=repr(value),
                             fix=f"Use one of {[m.value for m in kind]}.") from None


def _n_components(n_components: Any) -> int:
    if isinstance(n_components, (bool, np.bool_)) or n_components not in (2, 3):
        raise InputDataError("n_components must be 2 or 3.", received=f"n_components={n_components!r}",
                             fix="Pass n_components=2 for a flat plot or 3 for a 3-D one.")
    return int(n_components)


def _max_points(max_points: Any) -> int:
    if max_points is None:
        return get_limits().max_points
    if isinstance(max_points, (bool, np.bool_)) or not isinstance(max_points, (int, np.integer)) or max_points < 1:
        raise InputDataError("max_points must be a positive whole number (or None for the limit).",
                             received=f"max_points={max_points!r}",
                             fix=f"Leave it out to use get_limits().max_points ({get_limits().max_points:,}).")
    return int(max_points)


def _seed(seed: Any) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy % 2**32)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise InputDataError("seed must be a whole number from 0 to 2**63 - 1, or None.",
                             received=f"seed={seed!r}", fix="Pass e.g. seed=0.")
    return int(seed)


def _matrix(matrix: Any) -> np.ndarray:
    try:
        X = np.asarray(matrix)
    except (TypeError, ValueError) as e:
        raise InputDataError("The points must be a 2-D numeric array.", received=f"a {type(matrix).__name__}",
                             fix="Pass a NumPy array of shape (points, features).") from e
    if X.dtype.kind not in "biuf":
        raise InputDataError("The points must be numbers.", received=f"an array of dtype {X.dtype}",
                             fix="Pass a numeric array of shape (points, features).")
    if X.ndim != 2:
        raise InputDataError("The points must be a 2-D array: one row per point.",
                             received=f"an array of shape {X.shape}",
                             fix="Reshape it to (points, features), e.g. X.reshape(len(X), -1).")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputDataError("There is nothing to project: the array is empty.", received=f"shape {X.shape}",
                             fix="Pass at least a few rows with at least one column.")
    X = X.astype(np.float32) if X.dtype != np.float32 else X
    finite = np.isfinite(X)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite.all(axis=1))
        nan = int(np.isnan(X).sum())
        raise InputDataError(
            f"The points contain {nan:,} NaN and {int((~finite).sum()) - nan:,} infinite value(s), "
            f"in {len(bad_rows):,} row(s).",
            received=f"shape {X.shape}; first bad rows {bad_rows[:5].tolist()}",
            fix="Remove or fill those rows first (a diverged layer gives NaN: check it with activation_stats).")
    return np.ascontiguousarray(X)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)
    return text if text else "(empty)"


def _labels(labels: Any, n: int, index: np.ndarray) -> tuple[list[str] | None, str]:
    """Per-row labels from a sequence or an ``{index: label}`` mapping."""
    if labels is None:
        return None, "index"
    if isinstance(labels, Mapping):
        out = [str(i) for i in index]
        position = {int(i): r for r, i in enumerate(index)}
        for key, value in labels.items():
            try:
                row = position.get(int(key))
            except (TypeError, ValueError):
                raise InputDataError("A labels mapping must be keyed by index.", received=f"key {key!r}",
                                     fix="Pass {index: label}, or a list with one label per point.") from None
            if row is not None:
                out[row] = _text(value)
        return out, "given labels"
    if isinstance(labels, (str, bytes)):
        raise InputDataError("labels must give one label per point, not one string.", received=repr(labels)[:60],
                             fix="Pass a list of labels, or None.")
    array = np.asarray(labels.to_numpy() if hasattr(labels, "to_numpy") else labels, dtype=object)
    if array.ndim == 2 and array.shape[1] > 1 and len(array) == n:  # one-hot or probabilities
        try:
            array = np.argmax(array.astype(np.float64), axis=1).astype(object)
        except (TypeError, ValueError):
            raise InputDataError("Two-dimensional labels must be one-hot or class scores.",
                                 received=f"labels of shape {array.shape}", fix="Pass one label per point.") from None
    elif array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or len(array) != n:
        raise InputDataError(f"There must be one label per point: {n:,} expected.",
                             received=f"{len(array) if array.ndim else 0:,} labels (shape {array.shape})",
                             fix="Pass a list with exactly one label per point, or None.")
    return [_text(v) for v in array], "given labels"


def _metadata(metadata: Any, n: int) -> pd.DataFrame | None:
    if metadata is None:
        return None
    if isinstance(metadata, (str, os.PathLike)):
        path = Path(metadata)
        if not path.is_file():
            raise InputDataError(f"The metadata file {str(path)!r} does not exist.", received=str(path),
                                 fix="Pass the path of a CSV file with one row per point, or a DataFrame.")
        limit = get_limits().max_data_bytes
        if path.stat().st_size > limit:
            raise InputDataError(f"The metadata file is larger than the {limit:,}-byte limit (max_data_bytes).",
                                 received=f"{path.stat().st_size:,} bytes", fix="Pass a smaller file.")
        try:
            table = pd.read_csv(path, sep=None, engine="python") if path.suffix.lower() in (".tsv", ".txt") \
                else pd.read_csv(path)
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as e:
            raise InputDataError(f"The metadata file {path.name!r} is not readable CSV.",
                                 received=str(e).splitlines()[0][:200],
                                 fix="Save it as comma-separated text with a header row.") from e
    elif isinstance(metadata, pd.DataFrame):
        table = metadata.reset_index(drop=True)
    elif isinstance(metadata, pd.Series):
        table = metadata.reset_index(drop=True).to_frame(name=str(metadata.name or "label"))
    else:
        raise InputDataError("metadata must be a DataFrame or the path of a CSV file.",
                             received=f"a {type(metadata).__name__}", fix="Pass pandas.read_csv(...) or the path.")
    if len(table) != n:
        raise InputDataError(f"The metadata has {len(table):,} rows, but there are {n:,} points.",
                             received=f"{len(table):,} rows x {table.shape[1]} columns {list(table.columns)[:8]}",
                             fix="Give exactly one row per point (per vocabulary index for an Embedding), "
                                 "in index order, with a header row.")
    return table


def _reporter(progress: ProgressCallback | None) -> ProgressCallback:
    if progress is None:
        return lambda fraction, message: None
    if not callable(progress):
        raise InputDataError("progress must be a function (fraction, message).", received=repr(progress)[:60],
                             fix="Pass e.g. lambda f, m: print(f, m), or None.")
    return progress
