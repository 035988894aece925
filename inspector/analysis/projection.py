"""The embedding projector: UMAP or PCA of Embedding weights and of any layer's activations.

What is projected
    :func:`project_embedding` projects the rows of an ``Embedding`` layer's
    table (one point per vocabulary index); :func:`project_activations` runs
    data through the model and projects a layer's outputs, flattened per
    sample (one point per sample); :func:`project_matrix` projects any 2-D
    array.  All three return a :class:`Projection`.

Labels
    A point's ``label`` comes, in this order of preference, from the
    ``labels=`` argument (a list, ``{index: label}``, or the samples'
    ``{layer name: [label per index]}``), from a ``label`` column of the
    ``metadata=`` table (a CSV path or DataFrame, one row per point, any
    columns, all kept in the frame), from the vocabulary of the model's own
    ``StringLookup`` / ``IntegerLookup`` / ``TextVectorization`` layer feeding
    that Embedding, and otherwise the index itself.  Activations are labelled
    by ``labels=`` or, without them, by the model's predicted class.
    ``embedding_layers(model)["label_source"]`` says which applies.

Sampling
    Up to ``max_points`` (default ``get_limits().max_points``) every point is
    projected.  Beyond that a seeded uniform sample is, and the result says so:
    ``Projection.sampled``, ``Projection.n_total`` and ``params["sampled"]``.

UMAP
    The UMAP here is :mod:`inspector.analysis.umap`, a compact implementation of the
    same algorithm as umap-learn, built for this use: about a quarter of the
    time of ``umap.UMAP().fit_transform`` on 100,000 points with the same
    trustworthiness (0.998x), parallel *and* reproducible for a given ``seed``,
    and no numba compilation after the first run on a machine (see
    ``docs/performance.md``).  Call :func:`warm_up` when an app starts so the
    first projection does not wait for compiled code to load.
    ``method="umap-learn"`` uses umap-learn (the optional extra) for what ours
    does not do: supervised UMAP (``y=``) and placing new points into an
    existing map (``onto=``); see :mod:`inspector.analysis.umap_learn`.

Example:
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(50, 8))
    >>> p = project_matrix(X, method="pca", n_components=2)
    >>> list(p.frame.columns[:4]), p.sampled
    (['index', 'label', 'x', 'y'], False)
    >>> p.neighbours(0, k=3)["index"].tolist() == p.neighbours("0", k=3)["index"].tolist()
    True
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from inspector.analysis import umap_learn
from inspector.analysis.distributed import Engine, _engine
from inspector.analysis.embedding_tables import (
    _LOOKUP_CLASSES,
    _embedding_entries,
    _embedding_matrix,
    _layer_labels,
    _pick,
    _vocabulary,
    embedding_layers,
)
from inspector.analysis.projection_inputs import (
    _labels,
    _matrix,
    _max_points,
    _metadata,
    _method,
    _metric,
    _n_components,
    _reporter,
    _seed,
    _text,
)
from inspector.analysis.projection_result import Method, Metric, Projection
from inspector.errors import InputDataError
from inspector.progress import ProgressCallback

__all__ = [
    "Method",
    "Metric",
    "Projection",
    "embedding_layers",
    "project_embedding",
    "project_activations",
    "project_matrix",
    "warm_up",
]


_UMAP_MIN_POINTS = 4


# =============================================================================== matrices
def project_matrix(
    matrix: Any,
    *,
    method: Method | str = Method.UMAP,
    n_components: int = 2,
    metric: Metric | str = Metric.COSINE,
    seed: int | None = 0,
    max_points: int | None = None,
    labels: Any = None,
    metadata: Any = None,
    progress: ProgressCallback | None = None,
    index: Any = None,
    padding_index: int | None = None,
    source: str = "",
    label_source: str | None = None,
    y: Any = None,
    onto: Projection | None = None,
) -> Projection:
    """Project the rows of a 2-D array with UMAP or PCA.

    ``labels``: one per row (list, array, Series) or ``{row: label}``.
    ``metadata``: a DataFrame or CSV path with one row per row of ``matrix``;
    its columns join the frame (a ``label`` column, or a single column, supplies
    labels when ``labels`` is not given).  ``index`` renames the rows (default
    0..n-1); the row whose index is ``padding_index`` is flagged ``is_padding``;
    ``source`` (what the points are) and ``label_source`` (where the labels came
    from) are recorded for display.
    ``seed=None`` draws a seed and records it in ``params`` so the run can be
    repeated.  ``progress(fraction, message)`` is called as work proceeds.
    ``y`` (one target per row, ``method="umap-learn"``) makes the UMAP supervised;
    ``onto`` (an earlier umap-learn projection) places the rows into that map
    instead of making a new one: method, metric and axes are the map's.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(1).normal(size=(30, 4))
        >>> p = project_matrix(X, method="pca", labels=[f"w{i}" for i in range(30)])
        >>> p.frame["label"].iloc[2], p.params["method"]
        ('w2', 'pca')

    Raises:
        InputDataError: not a 2-D numeric array, empty, NaN/Inf values, too few
            rows, unknown method/metric, ``n_components`` not 2 or 3, labels or
            metadata of the wrong length; ``y`` or ``onto`` without umap-learn.
        MissingDependencyError: ``method="umap-learn"`` (or ``onto``) without umap-learn installed.
    """
    started = time.perf_counter()
    method_, metric_, n_components = _umap_learn_options(method, metric, n_components, y, onto)
    limit = _max_points(max_points)
    seed = _seed(seed)
    X = _matrix(matrix)
    n = len(X)
    target = None if y is None else umap_learn.targets(y, n)
    if onto is not None and X.shape[1] != onto.vectors.shape[1]:
        raise InputDataError("The points to place have another width than the map's.",
                             received=f"{X.shape[1]:,} columns; the map of {onto.source or 'its points'} has "
                                      f"{onto.vectors.shape[1]:,}",
                             fix="Place vectors of the same layer (or table) the map was made from.")
    if method_ in (Method.UMAP, Method.UMAP_LEARN) and onto is None and n < _UMAP_MIN_POINTS:
        raise InputDataError(f"UMAP needs at least {_UMAP_MIN_POINTS} points.", received=f"{n} row(s)",
                             fix="Use method='pca', or project more points.")
    index_ = np.arange(n) if index is None else np.asarray(index)
    if len(index_) != n:  # pragma: no cover - internal callers pass matching indices
        raise InputDataError("index must give one value per row.", received=f"{len(index_)} values for {n} rows")
    table = _metadata(metadata, n)
    label_list, given_source = _labels(labels, n, index_)
    if label_list is None and table is not None:
        label_list = _table_labels(table)
        given_source = "metadata table"
    if label_list is None:
        label_list = [str(i) for i in index_]
        given_source = "index"
    label_source = label_source if label_source and labels is not None else given_source
    report = _reporter(progress)
    report(0.0, f"Projecting {n:,} points with {method_.value.upper()}")

    keep = np.arange(n)
    sampled = n > limit
    if sampled:
        keep = np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    vectors = X[keep]
    params: dict[str, Any] = {"method": method_.value, "n_components": n_components, "metric": metric_.value,
                              "seed": seed, "max_points": limit, "sampled": sampled, "n_points": len(keep),
                              "n_total": n, "label_source": label_source}
    if sampled:
        params["sampling"] = (f"uniform random sample of {limit:,} of {n:,} points without replacement, "
                              f"numpy default_rng({seed})")
    reducer = None
    if onto is not None:
        coords = umap_learn.transform(onto.reducer, vectors)
        reducer = onto.reducer
        params.update({"placed_onto": onto.source or "an earlier map", "map_seed": onto.params.get("seed")})
    elif method_ is Method.UMAP_LEARN:
        coords, used, reducer = umap_learn.fit(vectors, n_components=n_components, metric=metric_.value, seed=seed,
                                               target=None if target is None else (target[0][keep], target[1]))
        params.update(used)
    elif method_ is Method.PCA:
        coords, ratios = _pca(vectors, n_components)
        params["explained_variance_ratio"] = ratios
        params["centered"] = True
    else:
        from inspector.analysis import umap as _umap

        coords, used = _umap.fit(vectors, n_components=n_components, metric=metric_.value, seed=seed,
                                 progress=lambda f, m: report(0.02 + 0.96 * f, m))
        params.update(used)
    report(0.99, "Assembling the result")
    frame = pd.DataFrame({"index": index_[keep], "label": np.asarray(label_list, dtype=object)[keep]})
    for axis, name in enumerate("xyz"[:n_components]):
        frame[name] = coords[:, axis].astype(np.float32)
    frame["is_padding"] = (frame["index"] == padding_index) if padding_index is not None else False
    if table is not None:
        for column in table.columns:
            name = str(column)
            while name in frame.columns:
                name = f"meta_{name}"
            frame[name] = table[column].to_numpy()[keep]
    seconds = time.perf_counter() - started
    params["seconds"] = round(seconds, 4)
    report(1.0, "Done")
    return Projection(frame=frame, method=method_, metric=metric_, n_components=n_components, params=params,
                      seconds=seconds, sampled=sampled, n_total=n, source=source, vectors=vectors, reducer=reducer)


def _umap_learn_options(method: Method | str, metric: Metric | str, n_components: Any, y: Any,
                        onto: Projection | None) -> tuple[Method, Metric, int]:
    """Method, metric and axes, checked; with ``y`` or ``onto``, umap-learn is required (and imported) now."""
    if onto is not None:
        if not isinstance(onto, Projection) or onto.reducer is None:
            raise InputDataError("onto= must be a projection made with method='umap-learn': only its map takes "
                                 "new points.", received=repr(onto)[:120],
                                 fix="Make the map with method='umap-learn' (same layer or table), then pass it.")
        if y is not None:
            raise InputDataError("y= fits a new map; onto= places points into an existing one: not both.",
                                 received="y and onto", fix="Drop y= to place points, or onto= to fit a map.")
        umap_learn.require()
        return onto.method, onto.metric, onto.n_components
    method_, metric_, axes = _method(method), _metric(metric), _n_components(n_components)
    if y is not None and method_ is not Method.UMAP_LEARN:
        raise InputDataError("Supervised projection (y=) needs method='umap-learn'.", received=f"method={method_.value!r}",
                             fix=f"Pass method='umap-learn' ({umap_learn.INSTALL}), or drop y= (labels= only colours "
                                 "the points).")
    if method_ is Method.UMAP_LEARN:
        umap_learn.require()
    return method_, metric_, axes



def _table_labels(table: pd.DataFrame) -> list[str] | None:
    """Labels from a metadata table: its ``label`` column, or its only column."""
    column = "label" if "label" in table.columns else (table.columns[0] if table.shape[1] == 1 else None)
    return None if column is None else [_text(v) for v in table[column]]


def _pca(X: np.ndarray, n_components: int) -> tuple[np.ndarray, list[float]]:
    """Exact PCA by SVD of the centred matrix (randomised beyond 2,048 columns); signs fixed."""
    from inspector.analysis import umap as _umap

    coords = _umap.pca(X, n_components).astype(np.float64)
    if coords.shape[1] < n_components:  # fewer columns (or rows) than requested axes
        coords = np.hstack([coords, np.zeros((len(coords), n_components - coords.shape[1]))])
    total = float(((X - X.mean(axis=0, dtype=np.float64)) ** 2).sum())
    ratios = [float((coords[:, i] ** 2).sum() / total) if total > 0 else 0.0 for i in range(n_components)]
    return coords, [round(r, 6) for r in ratios]


def project_embedding(
    model: Any,
    layer: Any,
    *,
    method: Method | str = Method.UMAP,
    n_components: int = 2,
    metric: Metric | str = Metric.COSINE,
    max_points: int | None = None,
    seed: int | None = 0,
    metadata: Any = None,
    labels: Any = None,
    progress: ProgressCallback | None = None,
    y: Any = None,
    onto: Projection | None = None,
) -> Projection:
    """Project an Embedding layer's table: one point per vocabulary index.

    ``layer`` is the layer's path (``"generator/embedding"``), name, position in
    :func:`embedding_layers`, or the layer object.  Labels: see the module
    docstring; the index-0 row of a ``mask_zero=True`` Embedding is flagged
    ``is_padding``.  ``y`` and ``onto`` (umap-learn): see :func:`project_matrix`.

    Example:
        >>> import keras
        >>> lookup = keras.layers.StringLookup(vocabulary=["cat", "dog", "fish"])
        >>> words = keras.Input((1,), dtype="string")
        >>> m = keras.Model(words, keras.layers.Embedding(4, 8, name="emb")(lookup(words)))
        >>> project_embedding(m, "emb", method="pca").frame["label"].tolist()
        ['[UNK]', 'cat', 'dog', 'fish']

    Raises:
        LayerNotFoundError: no such Embedding (the message lists them).
        InputDataError: the layer is not an Embedding, or bad options/labels/metadata.
    """
    entries = _embedding_entries(model)
    entry = _pick(model, entries, layer)
    table = _embedding_matrix(entry)
    n = len(table)
    metadata_table = _metadata(metadata, n)
    chosen, per_layer = _layer_labels(entry, labels)
    label_source = "sample metadata" if per_layer else "given labels"
    label_list = None
    if chosen is not None:
        try:
            label_list, _ = _labels(chosen, n, np.arange(n))
        except InputDataError as e:
            raise InputDataError(f"The labels for {entry.path!r} do not match its {n:,}-row vocabulary.",
                                 received=e.received, fix="Pass one label per vocabulary index, or {index: label}.") from e
    elif metadata_table is not None and _table_labels(metadata_table) is not None:
        label_list, label_source = _table_labels(metadata_table), "metadata table"
    elif entry.lookup is not None:
        vocabulary = _vocabulary(entry.lookup)
        if vocabulary:  # the table may have more rows than the vocabulary: those keep their index
            label_list = vocabulary[:n] + [str(i) for i in range(len(vocabulary), n)]
            label_source = _LOOKUP_CLASSES.get(type(entry.lookup).__name__, "vocabulary")
    projection = project_matrix(
        table, method=method, n_components=n_components, metric=metric, seed=seed, max_points=max_points,
        labels=label_list, metadata=metadata_table, progress=progress, label_source=label_source,
        padding_index=0 if entry.layer.mask_zero else None, y=y, onto=onto,
        source=f"Embedding {entry.path} ({n:,} x {table.shape[1]})")
    projection.params.update({"layer": entry.path, "vocabulary_size": n, "dimension": int(table.shape[1]),
                              "mask_zero": bool(entry.layer.mask_zero)})
    if entry.lookup_path:
        projection.params["lookup"] = entry.lookup_path
    return projection


# =============================================================================== activations
def project_activations(
    model: Any,
    layer: Any,
    X: Any,
    *,
    labels: Any = None,
    method: Method | str = Method.UMAP,
    n_components: int = 2,
    metric: Metric | str = Metric.COSINE,
    max_points: int | None = None,
    seed: int | None = 0,
    metadata: Any = None,
    batch_size: int | None = None,
    training: bool = False,
    progress: ProgressCallback | None = None,
    y: Any = None,
    onto: Projection | None = None,
    engine: Engine | str = Engine.LOCAL,
    address: str | None = None,
    workers: int | None = None,
) -> Projection:
    """Project a layer's outputs for the samples of ``X``: one point per sample.

    The outputs are flattened per sample (a layer with several outputs has them
    concatenated).  Points are labelled by ``labels`` (one per sample; one-hot
    rows are turned into class numbers) or else by the model's predicted class
    (argmax of the first output; a single sigmoid unit is thresholded at 0.5);
    with given labels the predicted class is kept as a ``predicted`` column.  ``layer`` is
    anything :func:`inspector.inspect_layer` accepts.  Beyond ``max_points``
    samples, a seeded sample of X is run and projected (stated in the result).
    With umap-learn (``method="umap-learn"``): ``y`` (one target per sample)
    makes the map supervised, and ``onto=`` a map made from other samples (the
    training set) places these samples into it; see :func:`project_matrix`.
    ``engine="ray"`` (``address``, ``workers``: see :func:`inspector.activation_stats`)
    runs ``X`` of any size — a ``ray.data.Dataset`` or a path ray.data reads — on a
    Ray cluster and projects a uniform sample of ``max_points`` of its samples
    (:func:`inspector.sample_activations`), labelled by the predicted class.

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="h"),
        ...                       keras.layers.Dense(3, activation="softmax")])
        >>> p = project_activations(m, "h", np.random.rand(200, 4), method="pca")
        >>> p.params["label_source"], len(p.frame)
        ('predicted class', 200)
    """
    from inspector.analysis.activations import inspect_layers, sample_activations
    from inspector.model.loading import build_graph

    started = time.perf_counter()
    limit = _max_points(max_points)
    seed_ = _seed(seed)
    _umap_learn_options(method, metric, n_components, y, onto)  # fail fast, before the forward pass
    report = _reporter(progress)
    on_ray = _engine(engine) is Engine.RAY
    if on_ray and not (labels is None and metadata is None and y is None):
        raise InputDataError("engine='ray' projects a sample of the data labelled by the predicted class; "
                             "per-sample labels, metadata or targets cannot follow its rows.",
                             received="labels, metadata or y with engine='ray'",
                             fix="Leave them out, or project a sample kept in memory with engine='local'.")
    n = None if on_ray else _sample_count(X)
    if y is not None and n is not None:
        umap_learn.targets(y, n)
    keep = None
    if n is not None and n > limit:
        keep = np.sort(np.random.default_rng(seed_).choice(n, size=limit, replace=False))
        X = _take(X, keep)
        y = None if y is None else np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)[keep]
    if labels is not None and n is not None and not isinstance(labels, Mapping):
        label_array = np.asarray(labels.to_numpy() if hasattr(labels, "to_numpy") else labels, dtype=object)
        if label_array.ndim == 0 or len(label_array) != n:
            raise InputDataError(f"There must be one label per sample: {n:,} expected.",
                                 received=f"labels of shape {label_array.shape}",
                                 fix="Pass one label per sample of X, or None for the predicted class.")
        labels = label_array[keep] if keep is not None else label_array
    table = _metadata(metadata, n) if metadata is not None and n is not None else None
    if table is not None and keep is not None:
        table = table.iloc[keep].reset_index(drop=True)

    graph = build_graph(model)
    outputs = list(graph.outputs)
    wanted = [layer, *[o for o in outputs if o != layer]]
    report(0.0, "Running the model")

    def batches(fraction: float | None, message: str) -> None:
        if fraction is not None:
            report(0.4 * fraction, f"Running the model: {message}")

    if on_ray:  # a uniform sample of every block, merged on the driver
        sample = sample_activations(model, wanted, X, n=limit, seed=seed_, batch_size=batch_size, training=training,
                                    progress=batches, engine=Engine.RAY, address=address, workers=workers)
        values, n = sample.values, sample.seen
        keep = sample.positions if n > limit else None
    else:
        values = inspect_layers(model, wanted, X, training=training, batch_size=batch_size, progress=batches)
    layer_id = _requested_id(values, layer, outputs, model, X, training, batch_size)
    activations = values[layer_id]
    parts = activations if isinstance(activations, list) else [activations]
    matrix = np.concatenate([np.asarray(p).reshape(len(p), -1) for p in parts], axis=1)
    if metadata is not None and table is None:  # X was a stream or a file: its length is known only now
        table = _metadata(metadata, len(matrix))
    predicted = _predicted_class(values.get(outputs[0]) if outputs else None, graph, outputs)
    extra = table
    if labels is not None and predicted is not None:  # keep the prediction next to the given label
        extra = pd.concat([pd.DataFrame({"predicted": predicted}),
                           *([table.reset_index(drop=True)] if table is not None else [])], axis=1)
    chosen = labels if labels is not None else predicted
    projection = project_matrix(
        matrix, method=method, n_components=n_components, metric=metric, seed=seed_, max_points=limit,
        labels=chosen, metadata=extra, index=keep, progress=lambda f, m: report(0.4 + 0.6 * f, m), y=y, onto=onto,
        label_source="given labels" if labels is not None else "predicted class",
        source=f"activations of {layer_id} ({len(matrix):,} samples x {matrix.shape[1]:,})")
    frame = projection.frame
    params = dict(projection.params)
    params.update({"layer": layer_id, "training": bool(training), "flattened_width": int(matrix.shape[1])})
    sampled = keep is not None or (on_ray and n is not None and n > limit)
    if sampled:
        params.update({"sampled": True, "n_total": n, "sampling": (
            f"uniform random sample of {limit:,} of {n:,} samples without replacement, " + (
                f"a reservoir per block of the Ray dataset merged on the driver, seed {seed_}" if on_ray else
                f"numpy default_rng({seed_}), drawn before running the model"))})
    seconds = time.perf_counter() - started
    params["seconds"] = round(seconds, 4)
    return Projection(frame=frame, method=projection.method, metric=projection.metric,
                      n_components=projection.n_components, params=params, seconds=seconds,
                      sampled=sampled or projection.sampled, n_total=n if n is not None else projection.n_total,
                      source=projection.source, vectors=projection.vectors, reducer=projection.reducer)


def _requested_id(values: dict[str, Any], layer: Any, outputs: list[str], model: Any, X: Any, training: bool,
                  batch_size: int | None) -> str:
    """Which key of ``inspect_layers``' result is the requested layer (the others are model outputs)."""
    extra = [k for k in values if k not in outputs]
    if len(extra) == 1:
        return extra[0]
    if isinstance(layer, str) and layer in values:
        return layer
    if len(values) == 1:
        return next(iter(values))
    # the layer is one of several model outputs, named indirectly: ask for it alone
    from inspector.analysis.activations import inspect_layers

    alone = inspect_layers(model, [layer], _take(X, np.arange(1)) if _sample_count(X) else X,
                           training=training, batch_size=batch_size, progress=False)
    return next(iter(alone))


def _predicted_class(output: Any, graph: Any, outputs: list[str]) -> list[str] | None:
    if output is None or isinstance(output, list):
        return None
    array = np.asarray(output)
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        return None
    if array.shape[1] > 1:
        return [str(int(c)) for c in np.argmax(array, axis=1)]
    node = graph.node(outputs[0])
    if node.activation == "sigmoid" or node.config.get("activation") == "sigmoid":
        return [str(int(v)) for v in (array[:, 0] > 0.5)]
    return None


def _sample_count(X: Any) -> int | None:
    """Rows in X when it is an array, a DataFrame, or a list/dict of arrays; None for streams and paths."""
    if isinstance(X, (str, os.PathLike)):
        return None
    if isinstance(X, Mapping):
        lengths = {len(v) for v in X.values() if hasattr(v, "__len__") and hasattr(v, "shape")}
        return lengths.pop() if len(lengths) == 1 else None
    if isinstance(X, (list, tuple)):
        if X and all(hasattr(v, "shape") and getattr(v, "ndim", 0) >= 1 for v in X):
            lengths = {len(v) for v in X}
            return lengths.pop() if len(lengths) == 1 else None
        return None
    if isinstance(X, pd.DataFrame) or (hasattr(X, "shape") and getattr(X, "ndim", 0) >= 1):
        return len(X)
    return None


def _take(X: Any, rows: np.ndarray) -> Any:
    if isinstance(X, Mapping):
        return {k: _take(v, rows) for k, v in X.items()}
    if isinstance(X, (list, tuple)):
        return type(X)(_take(v, rows) for v in X)
    if isinstance(X, pd.DataFrame):
        return X.iloc[rows].reset_index(drop=True)
    return np.asarray(X)[rows]


# =============================================================================== warm-up
def warm_up() -> float:
    """Load (first time on a machine: compile) the UMAP kernels; returns the seconds taken.

    Call it once when an app starts, e.g. in a background thread, so the first
    projection does not wait.  Compiled code is cached on disk in
    ``~/.cache/keras-inspector/numba`` (or ``$NUMBA_CACHE_DIR``).

    Example:
        >>> warm_up() >= 0
        True
    """
    from inspector.analysis import umap as _umap

    started = time.perf_counter()
    _umap.warm_up()
    return time.perf_counter() - started
