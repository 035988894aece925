"""The result of a projection: :class:`Projection` (coordinates, labels, the original vectors) and how it
is read (nearest neighbours), drawn (a plotly figure) and written (CSV, TensorBoard's projector files).

:mod:`inspector.analysis.projection` makes them; this module only holds and shows them.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inspector.errors import InputDataError

__all__ = ["Method", "Metric", "Projection"]

_MAX_CATEGORIES = 30  # colour categories shown before the rest are grouped as "(other)"


class Method(str, Enum):
    """How points are projected."""

    UMAP = "umap"  # Uniform Manifold Approximation and Projection: keeps neighbourhoods
    UMAP_LEARN = "umap-learn"  # the same with umap-learn (the optional extra): supervised (y=), new points (onto=)
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
        reducer: the fitted ``umap.UMAP`` of a umap-learn projection, which places new points
            into this map (``onto=`` of the projection functions); ``None`` otherwise.
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
    reducer: Any = field(default=None, repr=False)

    def __repr__(self) -> str:
        """One short line (under 300 characters, however long the source's description).

        Example:
            >>> import dataclasses
            >>> from inspector.analysis.projection import project_matrix
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
            >>> from inspector.analysis.projection import project_matrix
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
            >>> from inspector.analysis.projection import project_matrix
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
            >>> from inspector.analysis.projection import project_matrix
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
            >>> from inspector.analysis.projection import project_matrix
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
            >>> from inspector.analysis.projection import project_matrix
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
            >>> from inspector.analysis.projection import project_matrix
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
