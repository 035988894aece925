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

import difflib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from inspector.errors import InputDataError, LayerNotFoundError
from inspector.limits import get_limits
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


_LOOKUP_CLASSES = {
    "StringLookup": "StringLookup vocabulary",
    "IntegerLookup": "IntegerLookup vocabulary",
    "TextVectorization": "TextVectorization vocabulary",
}
# layers between a lookup and its Embedding that pass integer indices through unchanged
_PASS_THROUGH = {"Reshape", "Flatten", "Identity", "Permute", "InputLayer"}
_RESERVED = ("index", "label", "x", "y", "z", "is_padding")
_MAX_CATEGORIES = 30  # colour categories shown before the rest are grouped as "(other)"
_UMAP_MIN_POINTS = 4


class Method(str, Enum):
    """How points are projected."""

    UMAP = "umap"  # Uniform Manifold Approximation and Projection: keeps neighbourhoods
    PCA = "pca"  # principal components: linear, exact, keeps the largest variances


class Metric(str, Enum):
    """How distances between the original vectors are measured (UMAP graph and neighbours)."""

    COSINE = "cosine"
    EUCLIDEAN = "euclidean"


# =============================================================================== the result
@dataclass(frozen=True, eq=False)
class Projection:
    """Projected coordinates with everything needed to read, search and redraw them.

    Attributes:
        frame: one row per projected point: ``index`` (row of the original
            matrix: vocabulary index or sample number), ``label``, ``x``, ``y``
            (and ``z`` in 3-D), ``is_padding`` (index 0 of an Embedding with
            ``mask_zero=True``), then any metadata columns.
        method, metric, n_components: how it was projected.
        params: every setting used, sampling included.
        seconds: wall time taken.
        sampled: whether only a sample of the points was projected.
        n_total: how many points there were before sampling.
        source: what was projected, in words.
        vectors: the original vectors of the projected points (same row order as
            ``frame``), used by :meth:`neighbours`.
    """

    frame: pd.DataFrame
    method: Method
    metric: Metric
    n_components: int
    params: dict[str, Any]
    seconds: float
    sampled: bool
    n_total: int
    source: str = ""
    vectors: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32), repr=False)

    def __repr__(self) -> str:
        """One short line (under 300 characters, however long the source's description).

        Example:
            >>> import dataclasses
            >>> p = project_matrix(np.eye(4), method="pca", metric="euclidean")
            >>> len(repr(dataclasses.replace(p, source="x" * 500))) < 300
            True
        """
        kept = f"{len(self.frame):,} of {self.n_total:,} points (sampled)" if self.sampled else f"{len(self.frame):,} points"
        source = self.source or "a matrix"
        source = source if len(source) <= 120 else source[:119] + "…"
        return (f"Projection({self.method.value.upper()} {self.n_components}-D of {source}: "
                f"{kept}, {self.metric.value}, {self.seconds:.2f} s)")

    def _repr_html_(self) -> str:
        """The scatter for Jupyter, with plotly.js inlined so it shows offline (about 4.5 MB per output).

        Example:
            >>> p = project_matrix(np.eye(4), method="pca", metric="euclidean")
            >>> html = p._repr_html_()
            >>> "Projection(PCA" in html, "Plotly.newPlot" in html, "<script src=" in html
            (True, True, False)
        """
        import html

        figure = self.figure().to_html(full_html=False, include_plotlyjs=True, default_height=480)
        return f"<div><code>{html.escape(repr(self))}</code>{figure}</div>"

    # ------------------------------------------------------------------ neighbours
    def neighbours(self, i_or_label: int | str, k: int = 10) -> pd.DataFrame:
        """The k points nearest to one point in the ORIGINAL space, by this projection's metric.

        ``i_or_label`` is an ``index`` value (int) or a ``label`` (str; the first
        point with that label).  The search covers the projected points (all of
        them unless :attr:`sampled`).  Returns ``rank``, ``index``, ``label``,
        ``distance`` (cosine distance ``1 - cos``, or euclidean), nearest first,
        ties broken by row order.

        Example:
            >>> import numpy as np
            >>> p = project_matrix(np.eye(4), method="pca", metric="euclidean")
            >>> p.neighbours(0, k=2)[["index", "distance"]].round(3).values.tolist()
            [[1.0, 1.414], [2.0, 1.414]]
        """
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputDataError("k must be a positive whole number.", received=f"k={k!r}", fix="Pass e.g. k=10.")
        row = self._row_of(i_or_label)
        X = np.asarray(self.vectors, dtype=np.float64)
        q = X[row]
        if self.metric is Metric.COSINE:
            norms = np.linalg.norm(X, axis=1)
            qn = norms[row]
            sims = (X @ q) / np.where((norms > 0) & (qn > 0), norms * qn, 1.0)
            distance = np.maximum(1.0 - sims, 0.0)
        else:
            distance = np.sqrt(np.maximum(((X - q) ** 2).sum(axis=1), 0.0))
        distance[row] = np.inf
        k = min(int(k), len(X) - 1)
        order = np.lexsort((np.arange(len(X)), distance))[:k]
        out = pd.DataFrame({
            "rank": np.arange(1, k + 1),
            "index": self.frame["index"].to_numpy()[order],
            "label": self.frame["label"].to_numpy()[order],
            "distance": distance[order],
        })
        out.attrs["query"] = {"index": int(self.frame["index"].iloc[row]), "label": str(self.frame["label"].iloc[row]),
                              "metric": self.metric.value}
        return out

    def _row_of(self, i_or_label: int | str) -> int:
        if isinstance(i_or_label, (bool, np.bool_)):
            raise InputDataError("A point is named by its index (int) or its label (str), not a bool.",
                                 received=repr(i_or_label), fix="Pass e.g. 0 or 'great'.")
        if isinstance(i_or_label, (int, np.integer)):
            hits = np.flatnonzero(self.frame["index"].to_numpy() == int(i_or_label))
            if len(hits):
                return int(hits[0])
            indices = self.frame["index"]
            extra = (f" The projection is a sample of {len(self.frame):,} of {self.n_total:,} points; "
                     "this one was not drawn." if self.sampled else "")
            raise InputDataError(f"No projected point has index {int(i_or_label)}.{extra}",
                                 received=f"index {int(i_or_label)}",
                                 fix=f"Pass an index between {indices.min()} and {indices.max()}"
                                     + (" that is in the sample (see frame['index'])." if self.sampled else "."))
        if isinstance(i_or_label, str):
            labels = self.frame["label"].astype(str).to_numpy()
            hits = np.flatnonzero(labels == i_or_label)
            if len(hits):
                return int(hits[0])
            close = difflib.get_close_matches(i_or_label, list(dict.fromkeys(labels))[:50_000], n=5)
            raise InputDataError(f"No projected point has the label {i_or_label!r}.", received=repr(i_or_label),
                                 fix=(f"Did you mean {', '.join(repr(c) for c in close)}?" if close else
                                      "Pass a label from frame['label'] or an index (int)."))
        raise InputDataError("A point is named by its index (int) or its label (str).",
                             received=f"a {type(i_or_label).__name__}", fix="Pass e.g. 0 or 'great'.")

    # ------------------------------------------------------------------ figure
    def figure(self, color: str | None = None, *, title: str | None = None) -> Any:
        """A plotly scatter (2-D, or ``Scatter3d`` in 3-D) with labels on hover.

        ``color`` names a frame column: numbers with many values get a colour
        scale, anything else one colour per category (the 30 most common; the
        rest are "(other)").  ``None`` colours by ``label`` when labels are
        categories (fewer distinct labels than points, at most 30), else one
        colour.  Padding rows get their own grey "x" markers.

        Example:
            >>> import numpy as np
            >>> p = project_matrix(np.random.default_rng(0).normal(size=(20, 5)), method="pca", n_components=3)
            >>> p.figure().data[0].type
            'scatter3d'
        """
        import plotly.graph_objects as go

        frame = self.frame
        if color is not None and color not in frame.columns:
            raise InputDataError(f"There is no column {color!r} to colour by.", received=repr(color),
                                 fix=f"Pass one of {[str(c) for c in frame.columns]} or None.")
        if color is None:
            distinct = frame["label"].nunique()
            color = "label" if 1 < distinct <= _MAX_CATEGORIES and distinct < len(frame) else None
        three = self.n_components == 3
        n = len(frame)
        size = 6 if n <= 1_000 else 4 if n <= 20_000 else 2.5
        hover_columns = [c for c in frame.columns if c not in ("x", "y", "z", "index", "label", "is_padding")][:6]
        hover = ("<b>%{text}</b><br>index %{customdata[0]}"
                 + "".join(f"<br>{c}: %{{customdata[{i + 1}]}}" for i, c in enumerate(hover_columns))
                 + "<extra></extra>")
        custom_all = np.column_stack([frame["index"].to_numpy(), *[frame[c].to_numpy() for c in hover_columns]])
        padding = frame["is_padding"].to_numpy(dtype=bool)
        scatter = go.Scatter3d if three else (go.Scattergl if n > 5_000 else go.Scatter)

        def trace(mask: np.ndarray, name: str | None, marker: dict[str, Any], show: bool = True) -> Any:
            part = frame[mask]
            coords = {"x": part["x"], "y": part["y"]}
            if three:
                coords["z"] = part["z"]
            return scatter(**coords, mode="markers", name=name, text=part["label"].astype(str),
                           customdata=custom_all[mask], hovertemplate=hover, marker=marker, showlegend=show)

        traces = []
        body = ~padding
        base_marker = {"size": size, "opacity": 0.8 if n > 1_000 else 0.9}
        if color is None:
            traces.append(trace(body, "points", {**base_marker, "color": "#3366cc"}, show=bool(padding.any())))
        else:
            values = frame[color]
            numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            if numeric and values.nunique() > _MAX_CATEGORIES:
                traces.append(trace(body, color, {**base_marker, "color": values[body], "colorscale": "Viridis",
                                                  "colorbar": {"title": {"text": str(color)}}}, show=False))
            else:
                text = values.astype(str).to_numpy()
                counts = pd.Series(text[body]).value_counts(sort=True)
                kept = list(counts.index[:_MAX_CATEGORIES])
                if numeric:
                    kept.sort(key=lambda v: float(v) if _is_number(v) else float("inf"))
                palette = _palette(len(kept))
                for category, colour in zip(kept, palette, strict=True):
                    traces.append(trace(body & (text == category), str(category),
                                        {**base_marker, "color": colour}))
                rest = body & ~np.isin(text, kept)
                if rest.any():
                    traces.append(trace(rest, "(other)", {**base_marker, "color": "#bbbbbb"}))
        if padding.any():
            traces.append(trace(padding, "padding (index 0, mask_zero)",
                                {"size": size + 4, "color": "#888888", "symbol": "x"}))
        axis = "UMAP" if self.method is Method.UMAP else "PC"
        ratios = self.params.get("explained_variance_ratio") or []
        names = [f"{axis} {i + 1}" + (f" ({ratios[i]:.1%})" if i < len(ratios) else "") for i in range(self.n_components)]
        heading = title if title is not None else (
            f"{self.method.value.upper()} of {self.source or 'points'}"
            + (f" — sample of {len(frame):,} / {self.n_total:,}" if self.sampled else ""))
        fig = go.Figure(traces)
        fig.update_layout(title={"text": heading}, template="plotly_white", legend={"itemsizing": "constant"},
                          margin={"l": 10, "r": 10, "t": 50, "b": 10}, height=650)
        if three:
            fig.update_layout(scene={"xaxis": {"title": {"text": names[0]}}, "yaxis": {"title": {"text": names[1]}},
                                     "zaxis": {"title": {"text": names[2]}}})
        else:
            fig.update_xaxes(title_text=names[0])
            fig.update_yaxes(title_text=names[1])
            if self.method is Method.UMAP:  # UMAP distances mean the same in x and y
                fig.update_yaxes(scaleanchor="x", scaleratio=1)
        return fig

    def to_csv(self) -> str:
        """The frame as CSV text (coordinates to 6 significant digits), for download.

        Example:
            >>> import numpy as np
            >>> project_matrix(np.eye(3), method="pca").to_csv().splitlines()[0]
            'index,label,x,y,is_padding'
        """
        return self.frame.to_csv(index=False, float_format="%.6g")

    def to_tensorboard(self, folder: str | os.PathLike[str], *, tensor_name: str | None = None) -> Path:
        """Write the points for TensorBoard's Embedding Projector; returns the folder.

        Three files: ``tensors.tsv`` (one row per point: its original vector,
        :attr:`vectors`, so TensorBoard can run its own PCA/t-SNE/UMAP),
        ``metadata.tsv`` (a header, then one row per point in the same order:
        every frame column except the coordinates) and ``projector_config.pbtxt``
        (a ``ProjectorConfig`` naming both).  Open it with
        ``tensorboard --logdir FOLDER`` → Projector.  Tabs and newlines inside
        labels become spaces (TSV has no quoting).

        Example:
            >>> import tempfile, numpy as np
            >>> p = project_matrix(np.eye(4), method="pca", labels=["a", "b", "c", "d"])
            >>> out = p.to_tensorboard(tempfile.mkdtemp())
            >>> sorted(f.name for f in out.iterdir())
            ['metadata.tsv', 'projector_config.pbtxt', 'tensors.tsv']
            >>> [line.split() for line in (out / "metadata.tsv").read_text().splitlines()[:2]]
            [['index', 'label', 'is_padding'], ['0', 'a', 'False']]
        """
        target = Path(folder)
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise InputDataError("The TensorBoard export folder cannot be created.", received=f"{target}: {e}",
                                 fix="Give a writable folder path.") from e
        vectors = self.vectors if self.vectors.size else self.frame[
            [c for c in ("x", "y", "z") if c in self.frame]].to_numpy(np.float32)
        meta = self.frame.drop(columns=[c for c in ("x", "y", "z") if c in self.frame])

        def cell(value: Any) -> str:
            return " ".join(str(value).split()) if str(value).strip() else "(empty)"

        lines = ["\t".join(cell(c) for c in meta.columns)]
        lines += ["\t".join(cell(v) for v in row) for row in meta.itertuples(index=False, name=None)]
        name = tensor_name or self.source or "points"
        config = ("embeddings {\n"
                  f"  tensor_name: {_pbtxt_string(name)}\n"
                  f"  tensor_shape: {vectors.shape[0]}\n  tensor_shape: {vectors.shape[1]}\n"
                  '  tensor_path: "tensors.tsv"\n  metadata_path: "metadata.tsv"\n}\n')
        try:
            np.savetxt(target / "tensors.tsv", vectors, delimiter="\t", fmt="%.7g")
            (target / "metadata.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
            (target / "projector_config.pbtxt").write_text(config, encoding="utf-8")
        except OSError as e:
            raise InputDataError("The TensorBoard export could not be written.", received=f"{target}: {e}",
                                 fix="Check the folder is writable and the disk not full.") from e
        return target

    def to_tensorboard_zip(self, *, tensor_name: str | None = None) -> bytes:
        """The three files of :meth:`to_tensorboard` as one zip archive (for a download).

        Example:
            >>> import io, zipfile, numpy as np
            >>> data = project_matrix(np.eye(3), method="pca").to_tensorboard_zip()
            >>> sorted(zipfile.ZipFile(io.BytesIO(data)).namelist())
            ['metadata.tsv', 'projector_config.pbtxt', 'tensors.tsv']
        """
        import io
        import tempfile
        import zipfile

        buffer = io.BytesIO()
        with tempfile.TemporaryDirectory(prefix="keras-inspector-projector-") as folder:
            written = self.to_tensorboard(folder, tensor_name=tensor_name)
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for name in ("tensors.tsv", "metadata.tsv", "projector_config.pbtxt"):
                    archive.write(written / name, name)
        return buffer.getvalue()


def _pbtxt_string(text: str) -> str:
    """A protobuf text-format string literal."""
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _palette(n: int) -> list[str]:
    base = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf", "#393b79", "#e7ba52", "#637939", "#ad494a", "#7b4173", "#3182bd", "#e6550d", "#31a354",
            "#756bb1", "#636363", "#9ecae1", "#fdae6b", "#a1d99b", "#bcbddc", "#fd8d3c", "#74c476", "#9e9ac8",
            "#6baed6", "#c49c94", "#f7b6d2"]
    return [base[i % len(base)] for i in range(n)]


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

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(1).normal(size=(30, 4))
        >>> p = project_matrix(X, method="pca", labels=[f"w{i}" for i in range(30)])
        >>> p.frame["label"].iloc[2], p.params["method"]
        ('w2', 'pca')

    Raises:
        InputDataError: not a 2-D numeric array, empty, NaN/Inf values, too few
            rows, unknown method/metric, ``n_components`` not 2 or 3, labels or
            metadata of the wrong length.
    """
    started = time.perf_counter()
    method_ = _method(method)
    metric_ = _metric(metric)
    n_components = _n_components(n_components)
    limit = _max_points(max_points)
    seed = _seed(seed)
    X = _matrix(matrix)
    n = len(X)
    if method_ is Method.UMAP and n < _UMAP_MIN_POINTS:
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
    if method_ is Method.PCA:
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
                      seconds=seconds, sampled=sampled, n_total=n, source=source, vectors=vectors)


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


# --------------------------------------------------------------------- validation
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


# =============================================================================== Embedding layers
@dataclass(frozen=True, eq=False)
class _EmbeddingEntry:
    path: str  # e.g. "generator/embedding"; the graph node id of its first call when it has one
    layer: Any  # the keras Embedding
    lookup: Any = None  # the StringLookup / IntegerLookup / TextVectorization feeding it, if any
    lookup_path: str = ""

    @property
    def name(self) -> str:
        return str(self.layer.name)


def _embedding_entries(model: Any) -> list[_EmbeddingEntry]:
    """Every Embedding of the model (nested models and custom layers included), with its lookup layer."""
    import keras

    if not isinstance(model, keras.Model):
        raise InputDataError("Embedding layers are read from a loaded keras.Model.",
                             received=f"a {type(model).__name__}",
                             fix="Load the model first: model = inspector.load_model('model.keras').")
    from inspector.model.loading import build_graph

    graph = build_graph(model)
    flat = graph.expanded()
    by_id = {n.id: n for n in flat.nodes}
    entries: list[_EmbeddingEntry] = []
    seen: set[int] = set()
    for node, _ in graph.walk():
        if node.call_index or node.shared_with:
            continue
        layer = _layer_at(model, node.path or node.name)
        if layer is None or id(layer) in seen:
            continue
        if isinstance(layer, keras.layers.Embedding):
            seen.add(id(layer))
            lookup, lookup_path = _feeding_lookup(model, flat, by_id, node.id)
            entries.append(_EmbeddingEntry(node.id if "@" not in node.id else node.path, layer, lookup, lookup_path))
        elif not isinstance(layer, keras.Model) or node.kind.value == "subclassed":
            prefix = "" if layer is model else (node.path or node.name) + "/"
            for inner_path, inner in _inner_embeddings(layer, prefix):
                if id(inner) not in seen:
                    seen.add(id(inner))
                    entries.append(_EmbeddingEntry(inner_path, inner))
    return entries


def _layer_at(model: Any, path: str) -> Any:
    """The layer object at a slash path of layer names (public ``get_layer`` at each level)."""
    current = model
    for part in path.split("/"):
        try:
            current = current.get_layer(part)
        except (ValueError, AttributeError):
            return current if part == getattr(current, "name", None) else None
    return current


def _inner_embeddings(layer: Any, prefix: str) -> list[tuple[str, Any]]:
    """Embeddings held inside a custom layer or a subclassed model (no functional graph to walk)."""
    import keras

    from inspector.model.keras_internals import sub_layers

    return [(f"{prefix}{inner.name}", inner) for inner in sub_layers(layer)
            if isinstance(inner, keras.layers.Embedding)]


def _feeding_lookup(model: Any, flat: Any, by_id: dict[str, Any], node_id: str) -> tuple[Any, str]:
    """The lookup layer whose integer output reaches this Embedding, through pass-through layers only."""
    current = node_id
    for _ in range(16):
        predecessors = flat.predecessors(current)
        if len(predecessors) != 1:
            return None, ""
        node = by_id.get(predecessors[0])
        if node is None:
            return None, ""
        if node.class_name in _LOOKUP_CLASSES:
            return _layer_at(model, node.path or node.name), node.id
        if node.class_name not in _PASS_THROUGH:
            return None, ""
        current = node.id
    return None, ""


def _vocabulary(lookup: Any) -> list[str] | None:
    try:
        vocabulary = lookup.get_vocabulary()
    except Exception:  # noqa: BLE001 - an unadapted lookup layer has none; labels fall back to indices
        return None
    if not vocabulary:
        return None
    return [_text(v) for v in vocabulary]


def _layer_labels(entry: _EmbeddingEntry, labels: Any) -> Any:
    """This layer's labels when ``labels`` is the samples' ``{layer name: [label per index]}`` mapping."""
    if isinstance(labels, Mapping) and labels and all(isinstance(k, str) for k in labels) and all(
            isinstance(v, (list, tuple, np.ndarray)) for v in labels.values()):
        for key in (entry.path, entry.name):
            if key in labels:
                return labels[key], True
        return None, True
    return labels, False


def _label_source(entry: _EmbeddingEntry, labels: Any) -> str:
    chosen, per_layer = _layer_labels(entry, labels)
    if chosen is not None:
        return "sample metadata" if per_layer else "given labels"
    if entry.lookup is not None and _vocabulary(entry.lookup):
        return _LOOKUP_CLASSES.get(type(entry.lookup).__name__, "vocabulary")
    return "index"


def embedding_layers(model: Any, *, labels: Any = None) -> pd.DataFrame:
    """Every Embedding layer of a keras.Model, nested models and custom layers included.

    Columns: ``layer`` (path, e.g. ``generator/embedding``; the graph node id),
    ``vocabulary_size``, ``dimension``, ``mask_zero``, ``label_source``
    (``StringLookup vocabulary``, ``IntegerLookup vocabulary``,
    ``TextVectorization vocabulary``, ``sample metadata`` when ``labels`` — the
    samples' ``{layer name: [label per index]}`` — covers it, ``index``) and
    ``lookup`` (the lookup layer feeding it, if any).

    Example:
        >>> import keras
        >>> ids = keras.Input((4,), dtype="int32")
        >>> m = keras.Model(ids, keras.layers.Embedding(100, 8, name="words")(ids))
        >>> embedding_layers(m)[["layer", "vocabulary_size", "dimension"]].values.tolist()
        [['words', 100, 8]]
    """
    rows = [{"layer": e.path, "vocabulary_size": int(e.layer.input_dim), "dimension": int(e.layer.output_dim),
             "mask_zero": bool(e.layer.mask_zero), "label_source": _label_source(e, labels),
             "lookup": e.lookup_path} for e in _embedding_entries(model)]
    columns = ["layer", "vocabulary_size", "dimension", "mask_zero", "label_source", "lookup"]
    return pd.DataFrame(rows, columns=columns)


def _pick(model: Any, entries: list[_EmbeddingEntry], layer: Any) -> _EmbeddingEntry:
    paths = [e.path for e in entries]
    if not entries:
        raise LayerNotFoundError(f"Model {getattr(model, 'name', '?')!r} has no Embedding layer.",
                                 received=f"layer={layer!r}",
                                 fix="Project a layer's activations instead: project_activations(model, layer, X).")
    choices = f"Use one of {paths} or a position 0..{len(entries) - 1} in embedding_layers(model)."
    if isinstance(layer, (bool, np.bool_)):
        raise LayerNotFoundError("An Embedding is picked by path, name or position, not a bool.",
                                 received=repr(layer), fix=choices)
    if isinstance(layer, (int, np.integer)):
        if -len(entries) <= int(layer) < len(entries):
            return entries[int(layer)]
        raise LayerNotFoundError(f"There is no Embedding number {int(layer)}: the model has {len(entries)}.",
                                 received=f"layer={int(layer)}", fix=choices)
    node_id = getattr(layer, "id", None)
    if isinstance(node_id, str) and hasattr(layer, "kind"):  # a graph.LayerNode
        layer = node_id
    if isinstance(layer, str):
        clean = "/".join(part.split("@")[0] for part in layer.split("/"))
        for e in entries:
            if layer == e.path or clean == e.path:
                return e
        named = [e for e in entries if e.name == layer]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise LayerNotFoundError(f"Several Embedding layers are named {layer!r}.", received=repr(layer),
                                     fix=f"Give the full path: one of {[e.path for e in named]}.")
        target = _layer_at(model, clean)
        if target is not None and target is not model:
            raise InputDataError(f"Layer {layer!r} is a {type(target).__name__}, not an Embedding.",
                                 received=repr(layer),
                                 fix=f"{choices} For any other layer use project_activations(model, layer, X).")
        raise LayerNotFoundError(f"No Embedding layer {layer!r} in model {getattr(model, 'name', '?')!r}.",
                                 received=repr(layer), fix=choices)
    for e in entries:
        if e.layer is layer:
            return e
    if hasattr(layer, "name") and hasattr(layer, "weights"):
        raise InputDataError(f"Layer {layer.name!r} ({type(layer).__name__}) is not an Embedding of this model.",
                             received=repr(layer)[:80], fix=choices)
    raise LayerNotFoundError("An Embedding is picked by path, name or position.",
                             received=f"a {type(layer).__name__}", fix=choices)


def _embedding_matrix(entry: _EmbeddingEntry) -> np.ndarray:
    layer = entry.layer
    if not layer.built:
        raise InputDataError(f"Embedding {entry.path!r} is not built, so it has no weights yet.",
                             received="an unbuilt layer", fix="Build or call the model once, or load a saved one.")
    import keras

    table = keras.ops.convert_to_numpy(layer.embeddings)
    scale = getattr(layer, "embeddings_scale", None)
    if getattr(layer, "quantization_mode", None) in ("int8", "int4") and scale is not None:
        # quantized tables store integers and a per-row scale; Keras divides on lookup
        scale = keras.ops.convert_to_numpy(scale).astype(np.float32).reshape(-1, 1)
        table = table.astype(np.float32) / np.where(scale == 0, 1, scale)
    return np.asarray(table, dtype=np.float32)


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
) -> Projection:
    """Project an Embedding layer's table: one point per vocabulary index.

    ``layer`` is the layer's path (``"generator/embedding"``), name, position in
    :func:`embedding_layers`, or the layer object.  Labels: see the module
    docstring; the index-0 row of a ``mask_zero=True`` Embedding is flagged
    ``is_padding``.

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
        padding_index=0 if entry.layer.mask_zero else None,
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
) -> Projection:
    """Project a layer's outputs for the samples of ``X``: one point per sample.

    The outputs are flattened per sample (a layer with several outputs has them
    concatenated).  Points are labelled by ``labels`` (one per sample; one-hot
    rows are turned into class numbers) or else by the model's predicted class
    (argmax of the first output; a single sigmoid unit is thresholded at 0.5);
    with given labels the predicted class is kept as a ``predicted`` column.  ``layer`` is
    anything :func:`inspector.inspect_layer` accepts.  Beyond ``max_points``
    samples, a seeded sample of X is run and projected (stated in the result).

    Example:
        >>> import keras, numpy as np
        >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="h"),
        ...                       keras.layers.Dense(3, activation="softmax")])
        >>> p = project_activations(m, "h", np.random.rand(200, 4), method="pca")
        >>> p.params["label_source"], len(p.frame)
        ('predicted class', 200)
    """
    from inspector.analysis.activations import inspect_layers
    from inspector.model.loading import build_graph

    started = time.perf_counter()
    limit = _max_points(max_points)
    seed_ = _seed(seed)
    _method(method), _metric(metric), _n_components(n_components)  # fail fast, before the forward pass
    report = _reporter(progress)
    n = _sample_count(X)
    keep = None
    if n is not None and n > limit:
        keep = np.sort(np.random.default_rng(seed_).choice(n, size=limit, replace=False))
        X = _take(X, keep)
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
        labels=chosen, metadata=extra, index=keep, progress=lambda f, m: report(0.4 + 0.6 * f, m),
        label_source="given labels" if labels is not None else "predicted class",
        source=f"activations of {layer_id} ({len(matrix):,} samples x {matrix.shape[1]:,})")
    frame = projection.frame
    params = dict(projection.params)
    params.update({"layer": layer_id, "training": bool(training), "flattened_width": int(matrix.shape[1])})
    sampled = keep is not None
    if sampled:
        params.update({"sampled": True, "n_total": n, "sampling": (
            f"uniform random sample of {limit:,} of {n:,} samples without replacement, "
            f"numpy default_rng({seed_}), drawn before running the model")})
    seconds = time.perf_counter() - started
    params["seconds"] = round(seconds, 4)
    return Projection(frame=frame, method=projection.method, metric=projection.metric,
                      n_components=projection.n_components, params=params, seconds=seconds,
                      sampled=sampled or projection.sampled, n_total=n if n is not None else projection.n_total,
                      source=projection.source, vectors=projection.vectors)


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
