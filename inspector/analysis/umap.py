"""A compact UMAP for the embedding projector (private; use :mod:`inspector.analysis.projection`).

The algorithm is UMAP (McInnes, Healy & Melville, 2018, arXiv:1802.03426): a
k-nearest-neighbour graph turned into a fuzzy simplicial set, then laid out by
stochastic gradient descent with negative sampling.  The defaults follow
umap-learn (``n_neighbors=15``, ``min_dist=0.1``, ``spread=1``, 5 negative
samples, learning rate 1 decaying linearly).  What differs, and why:

* **Nearest neighbours** come from an inverted-file search done with BLAS: a few
  k-means iterations cut the points into cells of ~200, and each cell is
  searched, by exact matrix products, against the cells nearest to it.  The
  candidates are then ranked by their exact distance.  No JIT is needed, the
  result does not depend on thread timing, and on a 2-core machine it is several
  times faster than building an NN-descent index from scratch.
* **Initialisation** is PCA (umap-learn's ``init="pca"``), not the spectral
  layout, which costs seconds on 100,000 points and needs special handling
  when the graph falls apart into components.
* **The layout** is optimised in parallel *and* reproducibly: within an epoch
  every point moves only itself and reads the other points' positions from a
  snapshot taken at the start of the epoch, and negative samples come from a
  counter-based hash of (seed, epoch, edge, sample).  umap-learn instead has
  to fall back to one thread when ``random_state`` is set.  Blocks of points
  run on Python threads through a numba kernel that releases the GIL.  Since the graph is
  symmetric, an edge i–j is stored both ways; moving only the head of each,
  with the attraction doubled, matches umap-learn's ``move_other`` updates in
  expectation.
* **Epochs** shrink with size (200 up to 10,000 points, 80 from 100,000; see
  ``default_epochs``) because from a PCA start neighbourhoods settle early.
* Every numba function is compiled with ``cache=True``, and
  :func:`configure_numba_cache` points numba's cache at a per-user directory,
  so only the very first projection on a machine pays for compilation.

Example:
    >>> import numpy as np
    >>> a, b = find_ab_params(1.0, 0.1)
    >>> round(a, 3), round(b, 3)
    (1.577, 0.895)
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__: list[str] = []

Progress = Callable[[float, str], None]

_CELL_SIZE = 200  # points per inverted-file cell
_PROBES = 12  # cells searched for each cell's points
_EXACT_MAX_POINTS = 8_000  # up to here the neighbour search is brute force
_PARALLEL_MIN_POINTS = 10_000  # below this an SGD epoch runs on one thread (see layout_chunks)
_QUERY_BLOCK = 256  # queries per distance block in the neighbour search
_SEARCH_DIMS = 64  # wider data is searched in this many PCA dimensions
_EXACT_RERANK_MAX_DIM = 1024  # candidates re-ranked in the original space up to this width


# ---------------------------------------------------------------- numba setup
def cache_dir() -> Path:
    """Where compiled numba code is kept between processes."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "keras-inspector" / "numba"


def configure_numba_cache() -> None:
    """Send numba's on-disk cache to a per-user directory unless the user chose one.

    Must run before the ``@njit(cache=True)`` functions are defined, i.e. before
    :mod:`inspector.analysis.umap_kernels` is imported.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    path = cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:  # read-only home: numba falls back to __pycache__ or no cache
        return
    os.environ["NUMBA_CACHE_DIR"] = str(path)
    if "numba" in sys.modules:  # numba read its config already: tell it too
        from numba.core import config

        config.CACHE_DIR = str(path)


def kernels() -> Any:
    """The compiled numba kernels (imported on first use)."""
    configure_numba_cache()
    from inspector.analysis import umap_kernels as _umap_kernels

    return _umap_kernels


# ------------------------------------------------------------------- curve fit
_AB_CACHE: dict[tuple[float, float], tuple[float, float]] = {(1.0, 0.1): (1.576943460405378, 0.8950608781227859)}


def find_ab_params(spread: float, min_dist: float) -> tuple[float, float]:
    """The ``a``, ``b`` of the low-dimensional similarity ``1 / (1 + a d^(2b))`` for a min_dist."""
    key = (float(spread), float(min_dist))
    if key not in _AB_CACHE:
        from scipy.optimize import curve_fit

        x = np.linspace(0, spread * 3, 300)
        y = np.where(x < min_dist, 1.0, np.exp(-(x - min_dist) / spread))
        (a, b), _ = curve_fit(lambda x, a, b: 1.0 / (1.0 + a * x ** (2 * b)), x, y)
        _AB_CACHE[key] = (float(a), float(b))
    return _AB_CACHE[key]


def default_epochs(n: int) -> int:
    """SGD epochs for ``n`` points: 200 up to 10,000, then fewer, down to 80 from 100,000.

    From a PCA start the layout's neighbourhoods settle early: on 100,000 points
    trustworthiness is 0.991 after 60 epochs and 0.992 after 80 or 200 (umap-learn's
    default for large data), while each epoch costs as much as every other.

    Example:
        >>> default_epochs(5_000), default_epochs(20_000), default_epochs(100_000)
        (200, 164, 80)
    """
    if n <= 10_000:
        return 200
    return max(80, int(round(200 - 120 * math.log10(n / 10_000))))


# -------------------------------------------------------------------- geometry
def metric_space(X: np.ndarray, metric: str) -> np.ndarray:
    """Rows as compared by the metric: unit-normalised for cosine (zero rows stay zero)."""
    X = np.asarray(X, dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X = X / np.where(norms > 0, norms, 1.0)
    return np.ascontiguousarray(X, dtype=np.float32)


def pair_distances(M: np.ndarray, rows: np.ndarray, cols: np.ndarray, metric: str) -> np.ndarray:
    """Exact distance between ``M[rows[i, j]]`` and ``M[cols[i, j]]`` (M from :func:`metric_space`)."""
    out = np.empty(cols.shape, dtype=np.float32)
    step = max(1, 2**24 // max(1, cols.shape[1] * M.shape[1]))
    for s in range(0, len(cols), step):
        a = M[rows[s : s + step]][:, None, :] if rows.ndim == 1 else M[rows[s : s + step]]
        b = M[cols[s : s + step]]
        if metric == "cosine":
            out[s : s + step] = 1.0 - np.einsum("ijd,ijd->ij", np.broadcast_to(a, b.shape), b)
        else:
            diff = a - b
            out[s : s + step] = np.sqrt(np.einsum("ijd,ijd->ij", diff, diff))
    if metric == "cosine":
        np.maximum(out, 0.0, out=out)
    return out


def pca(X: np.ndarray, n_components: int, seed: int = 0) -> np.ndarray:
    """Scores of the first ``n_components`` principal components (float32, signs fixed).

    Exact (eigendecomposition of the covariance) for up to 2,048 columns, randomised
    (Halko et al. 2011, 4 power iterations) beyond.  Signs are fixed so that the
    largest-magnitude loading of each component is positive, making the output
    deterministic.
    """
    Xc = np.asarray(X, dtype=np.float64 if X.shape[1] <= 2048 else np.float32)
    mean = Xc.mean(axis=0)
    Xc = Xc - mean
    k = min(n_components, X.shape[1], X.shape[0])
    if X.shape[1] <= 2048:
        cov = Xc.T @ Xc
        values, vectors = np.linalg.eigh(cov)
        basis = vectors[:, ::-1][:, :k]
    else:
        rng = np.random.default_rng(seed)
        Q = Xc.T @ (Xc @ rng.standard_normal((X.shape[1], k + 10)).astype(np.float32))
        for _ in range(4):
            Q, _ = np.linalg.qr(Q)
            Q = Xc.T @ (Xc @ Q)
        Q, _ = np.linalg.qr(Q)
        small = Xc @ Q
        _, _, vt = np.linalg.svd(small, full_matrices=False)
        basis = Q @ vt.T[:, :k]
    flip = np.sign(basis[np.argmax(np.abs(basis), axis=0), np.arange(basis.shape[1])])
    basis = basis * np.where(flip == 0, 1, flip)
    return np.ascontiguousarray(Xc @ basis, dtype=np.float32)


# ----------------------------------------------------------- nearest neighbours
def _brute_knn(queries: np.ndarray, base: np.ndarray, k: int, exclude: np.ndarray | None) -> np.ndarray:
    """Indices (into base) of the k nearest base rows of each query, squared euclidean."""
    base_sq = np.einsum("ij,ij->i", base, base)
    out = np.empty((len(queries), k), dtype=np.int64)
    step = max(1, 2**22 // max(1, len(base)))
    for s in range(0, len(queries), step):
        q = queries[s : s + step]
        d = base_sq[None, :] - 2.0 * (q @ base.T)
        if exclude is not None:
            d[np.arange(len(q)), exclude[s : s + step]] = np.inf
        if d.shape[1] > k:
            out[s : s + step] = np.argpartition(d, k - 1, axis=1)[:, :k]
        else:
            out[s : s + step] = np.argsort(d, axis=1)[:, :k]
    return out


def _kmeans(S: np.ndarray, n_cells: int, rng: np.random.Generator, iterations: int = 5) -> np.ndarray:
    sample = S[np.sort(rng.choice(len(S), size=min(len(S), n_cells * 30), replace=False))]
    centroids = sample[np.sort(rng.choice(len(sample), size=n_cells, replace=False))].copy()
    for _ in range(iterations):
        labels = _nearest_centroid(sample, centroids)
        order = np.argsort(labels, kind="stable")
        counts = np.bincount(labels, minlength=n_cells)
        filled = counts > 0
        starts = np.searchsorted(labels[order], np.flatnonzero(filled))
        sums = np.add.reduceat(sample[order].astype(np.float64), starts, axis=0)
        centroids[filled] = (sums / counts[filled, None]).astype(np.float32)
    return centroids


def _nearest_centroid(S: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    c_sq = np.einsum("ij,ij->i", centroids, centroids)
    out = np.empty(len(S), dtype=np.int64)
    step = 16384
    for s in range(0, len(S), step):
        out[s : s + step] = np.argmin(c_sq[None, :] - 2.0 * (S[s : s + step] @ centroids.T), axis=1)
    return out


def layout_chunks(n: int) -> int:
    """Parallel blocks for an SGD epoch over n points: 1 (serial) while an epoch is too small to share."""
    threads = worker_count()
    if threads == 1 or n < _PARALLEL_MIN_POINTS:
        return 1
    return threads * 4  # several blocks per thread even out the work


def worker_count() -> int:
    """Threads used for the neighbour search and the layout."""
    return max(1, min(os.cpu_count() or 1, 8))


def nearest_neighbours(
    S: np.ndarray, k: int, *, seed: int = 0, probes: int = _PROBES, progress: Progress | None = None
) -> np.ndarray:
    """Approximate k nearest neighbours of every row of S (squared euclidean), self excluded.

    Returns an ``(n, k)`` int64 array of indices, not sorted by distance.  The
    same input and seed give the same output whatever the thread count.
    """
    from threadpoolctl import threadpool_limits

    n = len(S)
    k = min(k, n - 1)
    if n <= _EXACT_MAX_POINTS:  # small: exact
        return _brute_knn(S, S, k, np.arange(n))
    kern = kernels()
    rng = np.random.default_rng(seed)
    n_cells = max(2, n // _CELL_SIZE)
    centroids = _kmeans(S, n_cells, rng)
    cell = _nearest_centroid(S, centroids)
    order = np.argsort(cell, kind="stable")
    starts = np.searchsorted(cell[order], np.arange(n_cells + 1))
    probe_cells = _brute_knn(centroids, centroids, min(probes, n_cells), None)
    sq = np.einsum("ij,ij->i", S, S)
    out = np.empty((n, k), dtype=np.int64)
    done = [0]

    def search(c: int) -> None:
        members = order[starts[c] : starts[c + 1]]
        if len(members) == 0:
            return
        # own cell first, so a point's own column is its row number
        cells = [c, *[p for p in probe_cells[c] if p != c]][: len(probe_cells[c])]
        candidates = np.concatenate([order[starts[p] : starts[p + 1]] for p in cells])
        if len(candidates) <= k:  # a sparse corner of the data: search everything
            out[members] = _brute_knn(S[members], S, k, members)
            return
        base = S[candidates]
        base_sq = sq[candidates]
        # blocks of queries bound the distance matrix even when one cell is huge (many duplicates)
        for s in range(0, len(members), _QUERY_BLOCK):
            block = members[s : s + _QUERY_BLOCK]
            local = np.empty((len(block), k), dtype=np.int64)
            kern.smallest_per_row(S[block] @ base.T, base_sq, k, s, local)
            out[block] = candidates[local]
        done[0] += 1
        if progress is not None and done[0] % max(1, n_cells // 20) == 0:
            progress(done[0] / n_cells, "Finding nearest neighbours")

    # one BLAS thread per worker: many small products in parallel beat one threaded product at a time
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(worker_count()) as pool:
        list(pool.map(search, range(n_cells)))
    return out


# ------------------------------------------------------------------ fuzzy graph
def fuzzy_graph(indices: np.ndarray, distances: np.ndarray, n_neighbors: int) -> Graph:
    """UMAP's fuzzy simplicial set: a symmetric :class:`Graph` of membership strengths.

    ``indices``/``distances`` are each point's neighbours (self excluded), sorted
    by distance.  Follows umap-learn's ``smooth_knn_dist`` (local connectivity 1,
    bandwidth 1) and fuzzy union, vectorised over all points at once.
    """
    n, k = distances.shape
    d = distances.astype(np.float64)
    nonzero = d > 0
    first = np.argmax(nonzero, axis=1)
    rho = np.where(nonzero.any(axis=1), d[np.arange(n), first], 0.0)
    target = np.log2(n_neighbors)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    mid = np.ones(n)
    shifted = d - rho[:, None]
    active = np.ones(n, dtype=bool)
    for _ in range(64):
        rows = np.flatnonzero(active)
        if len(rows) == 0:
            break
        s = shifted[rows]
        psum = np.where(s > 0, np.exp(-np.maximum(s, 0) / mid[rows, None]), 1.0).sum(axis=1)
        converged = np.abs(psum - target) < 1e-5
        over = psum > target
        hi[rows[over]] = mid[rows[over]]
        lo[rows[~over]] = mid[rows[~over]]
        unbounded = np.isinf(hi[rows])
        new_mid = np.where(unbounded, mid[rows] * 2, (lo[rows] + hi[rows]) / 2)
        keep = ~converged
        mid[rows[keep]] = new_mid[keep]
        active[rows[converged]] = False
    mean_all = d.mean()
    floor = 1e-3 * np.where(rho > 0, d.mean(axis=1), mean_all)
    sigma = np.maximum(mid, floor)
    strength = np.where(shifted <= 0, 1.0, np.exp(-np.maximum(shifted, 0) / sigma[:, None]))
    return Graph.symmetric_union(np.repeat(np.arange(n), k), indices.ravel(), strength.ravel().astype(np.float32), n)


@dataclass(frozen=True)
class Graph:
    """A sparse symmetric weighted graph in CSR form (rows sorted, columns sorted within a row).

    Plain NumPy rather than scipy.sparse: importing scipy.sparse costs a fresh
    process 0.4 s, a twentieth of the first projection's budget.
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n: int

    @property
    def nnz(self) -> int:
        return len(self.data)

    def toarray(self) -> np.ndarray:
        dense = np.zeros((self.n, self.n), dtype=self.data.dtype)
        dense[np.repeat(np.arange(self.n), np.diff(self.indptr)), self.indices] = self.data
        return dense

    def pruned(self, threshold: float) -> Graph:
        """The graph without edges lighter than ``threshold``."""
        keep = self.data >= threshold
        rows = np.repeat(np.arange(self.n), np.diff(self.indptr))[keep]
        return Graph(np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=self.n))]).astype(np.int64),
                     self.indices[keep], self.data[keep], self.n)

    @staticmethod
    def symmetric_union(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n: int) -> Graph:
        """Fuzzy union ``w(i,j) = p + q - p*q`` of directed edges (i,j,p) and (j,i,q); each pair once per row.

        Example:
            >>> g = Graph.symmetric_union(np.array([0, 1]), np.array([1, 0]), np.array([0.5, 0.5]), 2)
            >>> g.toarray().tolist()
            [[0.0, 0.75], [0.75, 0.0]]
        """
        keys = np.concatenate([rows * n + cols, cols * n + rows]).astype(np.int64)
        values = np.concatenate([weights, weights]).astype(np.float64)
        order = np.argsort(keys, kind="stable")
        keys, values = keys[order], values[order]
        first = np.concatenate([[True], keys[1:] != keys[:-1]])
        starts = np.flatnonzero(first)
        unique = keys[starts]
        # a pair seen from both sides has two entries (p, then q); alone, one
        counts = np.diff(np.append(starts, len(keys)))
        p = values[starts]
        q = np.where(counts > 1, values[np.minimum(starts + 1, len(values) - 1)], 0.0)
        merged = p + q - p * q
        nonzero = merged > 0
        unique, merged = unique[nonzero], merged[nonzero]
        out_rows = unique // n
        indptr = np.concatenate([[0], np.cumsum(np.bincount(out_rows, minlength=n))]).astype(np.int64)
        return Graph(indptr, (unique % n).astype(np.int64), merged.astype(np.float32), n)


# -------------------------------------------------------------------- layout
def _initial_layout(S: np.ndarray, n_components: int, rng: np.random.Generator) -> np.ndarray:
    """PCA coordinates scaled to [0, 10] per axis, with a whisker of noise to split duplicates."""
    init = pca(S, n_components).astype(np.float64)
    if init.shape[1] < n_components:  # fewer input columns than output axes
        init = np.hstack([init, rng.normal(scale=1e-4, size=(len(init), n_components - init.shape[1]))])
    scale = np.abs(init).max()
    init = init * (10.0 / scale if scale > 0 else 1.0) + rng.normal(scale=1e-4, size=init.shape)
    span = init.max(axis=0) - init.min(axis=0)
    init = 10.0 * (init - init.min(axis=0)) / np.where(span > 0, span, 1.0)
    return np.ascontiguousarray(init, dtype=np.float32)


def optimize_layout(
    graph: Graph,
    init: np.ndarray,
    n_epochs: int,
    *,
    seed: int,
    min_dist: float = 0.1,
    spread: float = 1.0,
    negative_sample_rate: float = 5.0,
    parallel: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Lay the fuzzy graph out by SGD from ``init`` (modified copy returned).

    ``parallel``: blocks of points run in parallel (1: serial; None: by size).
    The result does not depend on it.
    """
    kern = kernels()
    a, b = find_ab_params(spread, min_dist)
    graph = graph.pruned(graph.data.max() / float(n_epochs))  # edges sampled less than once: dropped
    weights = graph.data.astype(np.float64)
    epochs_per_sample = weights.max() / weights
    epochs_per_negative = epochs_per_sample / negative_sample_rate
    next_sample = epochs_per_sample.copy()
    next_negative = epochs_per_negative.copy()
    indptr = graph.indptr.astype(np.int64)
    indices = graph.indices.astype(np.int64)
    embedding = init.copy()
    snapshot = embedding.copy()
    report = max(1, n_epochs // 20)
    chunks = layout_chunks(len(embedding)) if parallel is None else max(1, int(parallel))
    bounds = np.linspace(0, len(embedding), chunks + 1).astype(np.int64)
    blocks = [(int(bounds[c]), int(bounds[c + 1])) for c in range(chunks) if bounds[c + 1] > bounds[c]]
    pool = ThreadPoolExecutor(min(worker_count(), len(blocks))) if len(blocks) > 1 else None
    try:
        for epoch in range(n_epochs):
            snapshot[...] = embedding
            alpha = 1.0 - epoch / float(n_epochs)
            args = (embedding, snapshot, indptr, indices, epochs_per_sample, next_sample, epochs_per_negative,
                    next_negative, epoch, a, b, 1.0, alpha, np.uint64(kern.hash_key(seed, epoch)))
            if pool is None:
                for start, stop in blocks:
                    kern.sgd_epoch(*args, start, stop)
            else:  # the kernel releases the GIL: blocks run truly in parallel
                list(pool.map(lambda block, args=args: kern.sgd_epoch(*args, *block), blocks))
            if progress is not None and (epoch + 1) % report == 0:
                progress((epoch + 1) / n_epochs, f"Optimising layout: epoch {epoch + 1} of {n_epochs}")
    finally:
        if pool is not None:
            pool.shutdown()
    return embedding


def _stage(progress: Progress | None, start: float, end: float) -> Progress | None:
    """A progress callback mapping [0, 1] of a stage onto [start, end] of the whole run."""
    if progress is None:
        return None
    return lambda f, msg: progress(start + (end - start) * min(max(f, 0.0), 1.0), msg)


def neighbours_with_distances(
    M: np.ndarray, search: np.ndarray, k: int, metric: str, *, seed: int = 0, progress: Progress | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k nearest neighbours (self excluded) and their distances, nearest first.

    ``M`` is the data in metric space (:func:`metric_space`), ``search`` the
    space the search runs in (``M`` itself or its PCA).  Candidates found in a
    PCA are re-ranked by their exact distance in ``M`` when it is not too wide.
    """
    n, width = M.shape
    widen = search is not M and width <= _EXACT_RERANK_MAX_DIM
    candidates = nearest_neighbours(search, min(n - 1, 2 * k if widen else k), seed=seed, progress=progress)
    exact_space = search is M or widen
    distances = pair_distances(M if exact_space else search, np.arange(n), candidates,
                               metric if exact_space else "euclidean")
    order = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(candidates, order, axis=1), np.take_along_axis(distances, order, axis=1)


def exact_neighbours(X: np.ndarray, k: int, metric: str = "euclidean") -> tuple[np.ndarray, np.ndarray]:
    """Brute-force k nearest neighbours of every row (self excluded) with distances, nearest first."""
    M = metric_space(X, metric)
    return neighbours_with_distances(M, M, k, metric)


def fit(
    X: np.ndarray,
    *,
    n_components: int = 2,
    metric: str = "euclidean",
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    n_epochs: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """UMAP coordinates of the rows of X, and the parameters actually used.

    Example:
        >>> X = np.random.default_rng(0).normal(size=(60, 5)).astype(np.float32)
        >>> Y, used = fit(X, n_epochs=20)
    """
    n, width = X.shape
    M = metric_space(X, metric)
    search = M
    if width > _SEARCH_DIMS:
        search = pca(M, _SEARCH_DIMS, seed=seed)
    k = min(n_neighbors, n) - 1
    stage = _stage(progress, 0.0, 0.35)
    if stage:
        stage(0.0, "Finding nearest neighbours")
    indices, distances = neighbours_with_distances(M, search, k, metric, seed=seed, progress=stage)
    if progress:
        progress(0.35, "Building the neighbour graph")
    graph = fuzzy_graph(indices, distances, n_neighbors)
    epochs = n_epochs or default_epochs(n)
    rng = np.random.default_rng(seed)
    init = _initial_layout(search, n_components, rng)
    embedding = optimize_layout(graph, init, epochs, seed=seed, min_dist=min_dist, progress=_stage(progress, 0.4, 1.0))
    used = {"n_neighbors": n_neighbors, "min_dist": min_dist, "n_epochs": epochs, "init": "pca",
            "search_dims": search.shape[1], "neighbour_search": "exact" if n <= _EXACT_MAX_POINTS else "inverted file"}
    return embedding, used


def warm_up() -> None:
    """Load (or, the first time on a machine, compile) every numba kernel."""
    X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    kern = kernels()
    out = np.empty((4, 3), dtype=np.int64)
    kern.smallest_per_row(X[:4] @ X.T, np.einsum("ij,ij->i", X, X), 3, 0, out)
    indices, distances = exact_neighbours(X, 5)
    graph = fuzzy_graph(indices, distances, 6)
    init = _initial_layout(X, 2, np.random.default_rng(0))
    optimize_layout(graph, init, 2, seed=0, parallel=2)
