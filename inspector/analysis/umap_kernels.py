"""Numba kernels of :mod:`inspector.analysis.umap` (private).

Imported only through :func:`inspector.analysis.umap.kernels`, which first points
numba's on-disk cache at a per-user directory; every kernel is compiled with
``cache=True`` so a new process loads machine code instead of compiling it.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["smallest_per_row", "sgd_epoch", "hash_key"]

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)


@numba.njit(cache=True, inline="always")
def _mix(x: np.uint64) -> np.uint64:
    """splitmix64's finaliser: a counter-based random number, the same on any thread."""
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


@numba.njit(cache=True)
def hash_key(seed: int, epoch: int) -> np.uint64:
    """The random stream of one epoch of one seeded run."""
    return _mix(_mix(np.uint64(seed) * _GOLDEN + np.uint64(1)) + np.uint64(epoch) * _GOLDEN)


@numba.njit(cache=True, nogil=True, fastmath=True)
def smallest_per_row(gram: np.ndarray, base_sq: np.ndarray, k: int, self_offset: int, out: np.ndarray) -> None:
    """Column indices of the k smallest ``base_sq[j] - 2 * gram[r, j]`` of each row, ascending.

    Row r's own point is column ``self_offset + r`` and is left out (``self_offset
    < 0``: nothing left out).  Ties keep the lower column, so the result is
    deterministic; rows with fewer than k other columns end in -1.
    """
    m, c = gram.shape
    best_d = np.empty(k, dtype=np.float32)
    best_i = np.empty(k, dtype=np.int64)
    for r in range(m):
        for t in range(k):
            best_d[t] = np.inf
            best_i[t] = -1
        worst = np.float32(np.inf)
        own = self_offset + r if self_offset >= 0 else -1
        for j in range(c):
            v = base_sq[j] - 2.0 * gram[r, j]
            if v < worst or best_i[k - 1] < 0:
                if j == own:
                    continue
                p = k - 1
                while p > 0 and (best_i[p - 1] < 0 or best_d[p - 1] > v):
                    best_d[p] = best_d[p - 1]
                    best_i[p] = best_i[p - 1]
                    p -= 1
                best_d[p] = v
                best_i[p] = j
                worst = best_d[k - 1]
        for t in range(k):
            out[r, t] = best_i[t]


@numba.njit(cache=True, fastmath=True, nogil=True)
def _sgd_points(
    embedding: np.ndarray,
    snapshot: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    epochs_per_sample: np.ndarray,
    next_sample: np.ndarray,
    epochs_per_negative: np.ndarray,
    next_negative: np.ndarray,
    epoch: int,
    a: float,
    b: float,
    gamma: float,
    alpha: float,
    key: np.uint64,
    start: int,
    stop: int,
) -> None:
    """The SGD updates of points ``start..stop-1`` for one epoch (see :func:`sgd_epoch`)."""
    n = embedding.shape[0]
    dim = embedding.shape[1]
    n64 = np.uint64(n)
    a32 = np.float32(a)
    b32 = np.float32(b)
    attract = np.float32(-2.0 * a * b)
    repel = np.float32(2.0 * gamma * b)
    # doubled: edge j->i would also have pulled i (umap-learn moves both ends of each edge)
    attract_step = np.float32(2.0 * alpha)
    repel_step = np.float32(alpha)
    clip_hi = np.float32(4.0)
    clip_lo = np.float32(-4.0)
    one = np.float32(1.0)
    zero = np.float32(0.0)
    softening = np.float32(0.001)
    s32 = np.uint64(32)
    for i in range(start, stop):
        for e in range(indptr[i], indptr[i + 1]):
            if next_sample[e] > epoch:
                continue
            j = indices[e]
            d2 = zero
            for t in range(dim):
                diff = embedding[i, t] - snapshot[j, t]
                d2 += diff * diff
            if d2 > zero:
                pb = d2**b32
                coeff = attract * (pb / d2) / (a32 * pb + one)
                for t in range(dim):
                    g = min(max(coeff * (embedding[i, t] - snapshot[j, t]), clip_lo), clip_hi)
                    embedding[i, t] += attract_step * g
            next_sample[e] += epochs_per_sample[e]

            n_negative = int((epoch - next_negative[e]) / epochs_per_negative[e])
            base = key + np.uint64(e) * np.uint64(64)
            for p in range(n_negative):
                # top 32 random bits scaled to [0, n): no division (Lemire's multiply-shift)
                k = np.int64(((_mix(base + np.uint64(p)) >> s32) * n64) >> s32)
                if k == i:
                    continue
                d2 = zero
                for t in range(dim):
                    diff = embedding[i, t] - snapshot[k, t]
                    d2 += diff * diff
                if d2 > zero:
                    coeff = repel / ((softening + d2) * (a32 * d2**b32 + one))
                    for t in range(dim):
                        g = min(max(coeff * (embedding[i, t] - snapshot[k, t]), clip_lo), clip_hi)
                        embedding[i, t] += repel_step * g
            next_negative[e] += n_negative * epochs_per_negative[e]


@numba.njit(cache=True, nogil=True)
def sgd_epoch(
    embedding: np.ndarray,
    snapshot: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    epochs_per_sample: np.ndarray,
    next_sample: np.ndarray,
    epochs_per_negative: np.ndarray,
    next_negative: np.ndarray,
    epoch: int,
    a: float,
    b: float,
    gamma: float,
    alpha: float,
    key: np.uint64,
    start: int,
    stop: int,
) -> None:
    """One epoch of UMAP's layout SGD for points ``start..stop-1``; releases the GIL.

    Point i moves only itself and reads the others from ``snapshot`` (the
    layout at the start of the epoch); negative samples come from a hash of
    (key, edge, sample number).  So blocks of points can run on any number of
    threads at once and the result is the same as one pass over all points.
    Threads are Python's (see ``optimize_layout``), not numba's ``parallel=True``,
    whose compilation alone costs a first run more than a second.  Arithmetic is
    float32: a quarter faster than float64, and the layout is float32 anyway.
    """
    _sgd_points(embedding, snapshot, indptr, indices, epochs_per_sample, next_sample, epochs_per_negative,
                next_negative, epoch, a, b, gamma, alpha, key, start, stop)
