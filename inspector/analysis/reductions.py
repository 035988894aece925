"""Reductions of one batch of one layer output, computed inside the forward pass, and their merge across batches.

:func:`_batch_stats` turns a batch of activations into per-channel partial statistics (count, mean, squared
deviations, min, max, zeros, alive units, finite) without leaving the backend; :class:`_Running` merges them
batch by batch with Chan et al.'s parallel algorithm, so only per-channel numbers ever leave the pass and the
result does not depend on the batch size beyond rounding.  :func:`_mode_difference` is the reduction of
``compare_modes`` (training vs inference output of the same batch).

Example:
    >>> import numpy as np
    >>> running = _Running()
    >>> for batch in (np.arange(4.0), np.arange(4.0, 10.0)):
    ...     running.add(*_exact_batch_stats(batch.reshape(-1, 1), False))
    >>> row = running.rows()[0]
    >>> row["mean"], round(row["std"], 6) == round(float(np.arange(10.0).std()), 6)
    (4.5, True)
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from inspector.analysis.layer_calls import _dtype_name


def _batch_stats(t: Any, per_channel: bool) -> tuple[Any, ...]:
    """Statistics of one batch of one output, computed inside the pass with few passes over the data.

    Sums are taken per sample in the activation's precision (float32), then across the batch in float64;
    the squared deviations are taken from the float32-rounded mean and corrected exactly
    (``sum((x - m')**2) = sum((x - m)**2) + n (m - m')**2``).  Returns ``(count, mean, m2, min, max, zeros,
    alive, finite)`` per channel; ``alive`` is per unit (nonzero in some sample), and ``finite`` is false
    where a NaN/Inf (or a float32 overflow) reached the sums — such batches are recomputed exactly, in
    float64, from the values (:func:`_exact_batch_stats`).
    """
    from keras import ops

    shape = tuple(t.shape)
    x = t if _dtype_name(t.dtype) in ("float32", "float64") else ops.cast(t, "float32")
    channels = shape[-1] if per_channel and len(shape) >= 2 and shape[-1] is not None else 1
    units = shape[1:]
    if all(d is not None for d in units):
        rows = ops.reshape(x, (-1, int(np.prod(units, dtype=np.int64)) // channels, channels))
    else:
        rows = ops.reshape(x, (ops.shape(x)[0], -1, channels))
    dims = ops.shape(rows)
    if not _backend_has_float64():
        return _batch_partials(rows, dims)
    count = ops.cast(dims[0], "float64") * ops.cast(dims[1], "float64")

    def across_batch(per_sample: Any) -> Any:  # (batch, channels) partial sums -> float64 totals
        return ops.sum(ops.cast(per_sample, "float64"), axis=0)

    total = across_batch(ops.sum(rows, axis=1))
    mean = total / ops.maximum(count, 1.0)
    rounded = ops.cast(mean, x.dtype)
    shift = mean - ops.cast(rounded, "float64")
    m2 = across_batch(ops.sum(_squared_difference(rows, rounded), axis=1)) - count * shift * shift
    # per unit over the batch: gives min/max and "alive" (nonzero in some sample) from two reductions
    unit_max, unit_min = ops.max(rows, axis=0), ops.min(rows, axis=0)
    low, high = ops.cast(ops.min(unit_min, axis=0), "float64"), ops.cast(ops.max(unit_max, axis=0), "float64")
    alive = ops.logical_or(ops.greater(unit_max, 0), ops.less(unit_min, 0))
    nonzero = across_batch(ops.sum(ops.square(ops.sign(rows)), axis=1))  # float arithmetic beats bool ops here
    finite = ops.logical_and(ops.isfinite(total), ops.isfinite(m2))
    return count, mean, m2, low, high, count - nonzero, alive, finite


def _backend_has_float64() -> bool:
    """Whether the Keras backend computes in float64 (JAX truncates it to float32 unless x64 is enabled)."""
    import keras

    if keras.backend.backend() != "jax":
        return True
    # Keras's JAX backend has imported jax; looked up rather than imported, as jax is no dependency of ours
    return bool(sys.modules["jax"].config.jax_enable_x64)


def _batch_partials(rows: Any, dims: Any) -> tuple[Any, ...]:
    """:func:`_batch_stats` for a backend without float64: per-sample float32 sums, totalled by NumPy.

    The same sums as the float64 path before its cast (so the same numbers up to rounding), but the
    reduction across the batch, the mean and the shift correction happen in :func:`_float64_totals`.
    The squared deviations are taken from the float32 mean of the batch, any point being exact after
    the correction.
    """
    from keras import ops

    per_sample = ops.sum(rows, axis=1)  # (batch, channels)
    point = ops.sum(per_sample, axis=0) / ops.cast(ops.maximum(dims[0] * dims[1], 1), rows.dtype)
    squares = ops.sum(_squared_difference(rows, point), axis=1)
    unit_max, unit_min = ops.max(rows, axis=0), ops.min(rows, axis=0)
    alive = ops.logical_or(ops.greater(unit_max, 0), ops.less(unit_min, 0))
    nonzero = ops.sum(ops.square(ops.sign(rows)), axis=1)
    return (dims, per_sample, point, squares, ops.min(unit_min, axis=0), ops.max(unit_max, axis=0), nonzero,
            alive)


def _float64_totals(parts: list[np.ndarray]) -> list[np.ndarray]:
    """The ``(count, mean, m2, min, max, zeros, alive, finite)`` of :func:`_batch_stats` from the
    per-sample partials of :func:`_batch_partials`, in float64."""
    dims, per_sample, point, squares, low, high, nonzero, alive = parts
    count = np.float64(dims[0]) * np.float64(dims[1])
    total = per_sample.astype(np.float64).sum(axis=0)
    mean = total / max(count, 1.0)
    shift = mean - point.astype(np.float64)
    m2 = squares.astype(np.float64).sum(axis=0) - count * shift * shift
    zeros = count - nonzero.astype(np.float64).sum(axis=0)
    finite = np.isfinite(total) & np.isfinite(m2)
    return [count, mean, m2, low.astype(np.float64), high.astype(np.float64), zeros, alive, finite]


def _numpy_stats(parts: tuple[Any, ...]) -> list[np.ndarray]:
    """One output's :func:`_batch_stats` as NumPy arrays, totalled in float64 here if the backend could not."""
    numbers = [_to_numpy(p) for p in parts]
    return numbers if not numbers or _backend_has_float64() else _float64_totals(numbers)


def _squared_difference(a: Any, b: Any) -> Any:
    import keras

    if keras.backend.backend() == "tensorflow":  # one fused pass instead of two
        import tensorflow as tf

        return tf.math.squared_difference(a, b)
    return keras.ops.square(a - b)


def _exact_batch_stats(a: np.ndarray, per_channel: bool) -> tuple[np.ndarray, ...]:
    """The same statistics in float64 from the values, NaN/Inf excluded from mean/std/min/max and counted.

    Returns ``(n_finite, mean, m2, min, max, zeros, nans, infs, alive)`` per channel.
    """
    channels = a.shape[-1] if per_channel and a.ndim >= 2 else 1
    rows = a.reshape(len(a), -1, channels).astype(np.float64)
    finite = np.isfinite(rows)
    n_finite = finite.sum(axis=(0, 1)).astype(np.float64)
    clean = np.where(finite, rows, 0.0)
    mean = clean.sum(axis=(0, 1)) / np.maximum(n_finite, 1.0)
    deviation = np.where(finite, rows - mean, 0.0)
    m2 = (deviation * deviation).sum(axis=(0, 1))
    low = np.where(finite, rows, np.inf).min(axis=(0, 1))
    high = np.where(finite, rows, -np.inf).max(axis=(0, 1))
    zeros = (rows == 0).sum(axis=(0, 1)).astype(np.float64)
    nans = np.isnan(rows).sum(axis=(0, 1)).astype(np.float64)
    infs = np.isinf(rows).sum(axis=(0, 1)).astype(np.float64)
    return n_finite, mean, m2, low, high, zeros, nans, infs, (rows != 0).any(axis=0)


def _mode_difference(inference: Any, training: Any) -> tuple[Any, ...]:
    from keras import ops

    if not _backend_has_float64():  # per-sample float32 sums; comparison() totals them in float64
        a, b = (ops.cast(ops.reshape(v, (ops.shape(v)[0], -1)), "float32") for v in (inference, training))
        diff = ops.abs(b - a)
        return ops.sum(diff, axis=1), ops.max(diff), ops.sum(ops.abs(a), axis=1), ops.size(diff)
    a = ops.cast(inference, "float64")
    diff = ops.abs(ops.cast(training, "float64") - a)
    return ops.sum(diff), ops.max(diff), ops.sum(ops.abs(a)), ops.cast(ops.size(diff), "float64")


def _numeric(dtype: str) -> bool:
    try:
        return np.dtype(dtype).kind in "biuf"
    except TypeError:
        return dtype in ("bfloat16", "float8_e4m3fn", "float8_e5m2")


class _Running:
    """Running statistics of one output, merged batch by batch with Chan et al.'s parallel algorithm."""

    def __init__(self) -> None:
        self.n: np.ndarray | None = None

    def add(self, n_b: Any, mean_b: Any, m2_b: Any, low: Any, high: Any, zeros: Any, nans: Any, infs: Any,
            alive: Any) -> None:
        n_b, mean_b, m2_b, low, high, zeros, nans, infs = (np.array(v, dtype=np.float64, ndmin=1) for v in (
            n_b, mean_b, m2_b, low, high, zeros, nans, infs))
        alive = np.asarray(alive, dtype=bool)
        if self.n is None:
            self.n, self.mean, self.m2 = n_b, mean_b, m2_b
            self.low, self.high, self.zeros, self.nans, self.infs, self.alive = low, high, zeros, nans, infs, alive
            return
        n = self.n + n_b
        delta = mean_b - self.mean
        safe = np.where(n > 0, n, 1.0)
        self.mean = self.mean + delta * n_b / safe
        self.m2 = self.m2 + m2_b + delta * delta * self.n * n_b / safe
        self.n = n
        self.low, self.high = np.minimum(self.low, low), np.maximum(self.high, high)
        self.zeros, self.nans, self.infs = self.zeros + zeros, self.nans + nans, self.infs + infs
        if self.alive.shape == alive.shape:
            self.alive = self.alive | alive
        else:  # the output's shape varies between batches (variable-length data): units are not comparable
            self.alive = np.zeros((0,), bool)

    def merge(self, other: _Running) -> None:
        """Add another output's running statistics (a block of a dataset, computed elsewhere)."""
        if other.n is not None:
            self.add(other.n, other.mean, other.m2, other.low, other.high, other.zeros, other.nans, other.infs,
                     other.alive)

    def rows(self) -> list[dict[str, float]]:
        """One dict of statistics per channel."""
        assert self.n is not None
        channels = len(self.n)
        if self.alive.size and self.alive.size % channels == 0:
            dead = 1.0 - self.alive.reshape(-1, channels).mean(axis=0)
        else:
            dead = np.full(channels, np.nan)
        count = self.n + self.nans + self.infs
        out = []
        for c in range(channels):
            has = self.n[c] > 0
            out.append({
                "count": int(count[c]),
                "mean": float(self.mean[c]) if has else np.nan,
                "std": float(np.sqrt(max(self.m2[c], 0.0) / self.n[c])) if has else np.nan,
                "min": float(self.low[c]) if has else np.nan,
                "max": float(self.high[c]) if has else np.nan,
                "zero_fraction": float(self.zeros[c] / count[c]) if count[c] else np.nan,
                "dead_fraction": float(dead[c]),
                "nan_count": int(self.nans[c]),
                "inf_count": int(self.infs[c]),
            })
        return out

def _to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, np.ndarray):
        return t
    try:
        return np.asarray(t)  # zero-copy for TensorFlow eager tensors
    except (TypeError, ValueError):
        from keras import ops

        return ops.convert_to_numpy(t)
