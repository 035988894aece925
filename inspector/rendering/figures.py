"""Plotly figures and tables of arrays: weight histograms, activation heatmaps and feature maps.

Plotly and pandas are imported inside the functions.

Example:
    >>> import numpy as np
    >>> is_image_activation(np.zeros((2, 8, 8, 3))), is_image_activation(np.zeros((2, 10)))
    (True, False)
"""


from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np

from inspector.errors import (
    InputDataError,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["histogram_figure", "heatmap_figure", "is_image_activation", "feature_map_figure", "activation_frame", "npy_bytes"]


def histogram_figure(values: Any, *, title: str = "", bins: int = 60) -> Any:
    """A plotly bar chart of the histogram of the finite values (binned here, so any size draws fast).

    Example:
        >>> fig = histogram_figure(np.array([0.0, 1.0, 1.0, np.nan]), bins=2)
        >>> [int(v) for v in fig.data[0].y]
        [1, 2]
    """
    import plotly.graph_objects as go

    flat = np.asarray(values).reshape(-1)
    if flat.dtype.kind == "b":
        flat = flat.astype(np.int8)
    flat = flat[np.isfinite(flat)] if flat.dtype.kind in "fc" else flat
    counts, edges = np.histogram(flat.astype(np.float64), bins=bins) if flat.size else (np.zeros(0, int),
                                                                                          np.zeros(1))
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(go.Bar(x=centres, y=counts, width=np.diff(edges), marker_color="#2563eb",
                           hovertemplate="%{x:.4g}: %{y}<extra></extra>"))
    fig.update_layout(title=title or None, bargap=0, height=260, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis_title="value", yaxis_title="count")
    return fig


def _as_2d(values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        return array.reshape(-1, 1)
    return array.reshape(array.shape[0], -1)


def heatmap_figure(values: Any, *, max_rows: int = 200, max_columns: int = 512, title: str = "") -> Any:
    """A heatmap of activations: one row per sample, one column per unit (trailing axes flattened).

    Example:
        >>> heatmap_figure(np.zeros((3, 2, 2))).data[0].z.shape
        (3, 4)
    """
    import plotly.graph_objects as go

    grid = _as_2d(values)[:max_rows, :max_columns]
    fig = go.Figure(go.Heatmap(z=grid.astype(np.float64) if grid.dtype.kind in "biuf" else grid,
                               colorscale="RdBu_r", zmid=0 if grid.dtype.kind in "if" else None))
    fig.update_layout(title=title or None, height=360, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      xaxis_title="unit (trailing axes flattened)", yaxis_title="sample")
    return fig


def is_image_activation(values: Any) -> bool:
    """Whether an activation looks like feature maps: 4-D ``(samples, height, width, channels)``.

    Example:
        >>> is_image_activation(np.zeros((2, 8, 8, 3))), is_image_activation(np.zeros((2, 8)))
        (True, False)
    """
    return np.ndim(values) == 4 and np.shape(values)[1] > 1 and np.shape(values)[2] > 1


def feature_map_figure(values: Any, *, sample: int = 0, max_maps: int = 16, columns: int = 4) -> Any:
    """A grid of the first ``max_maps`` channels of one sample of a 4-D activation.

    Raises:
        InputDataError: the array is not 4-D or ``sample`` is out of range.

    Example:
        >>> fig = feature_map_figure(np.zeros((1, 5, 5, 3)))
        >>> len(fig.data)
        3
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    array = np.asarray(values)
    if array.ndim != 4:
        raise InputDataError("Feature maps need a 4-D activation (samples, height, width, channels).",
                             received=f"an array of shape {array.shape}", fix="Pick a convolutional layer.")
    if not 0 <= sample < array.shape[0]:
        raise InputDataError(f"Sample {sample} is out of range.", received=f"{array.shape[0]} samples",
                             fix=f"Pick a sample between 0 and {array.shape[0] - 1}.")
    maps = min(max_maps, array.shape[3])
    rows = -(-maps // columns)
    fig = make_subplots(rows=rows, cols=min(columns, maps), subplot_titles=[f"channel {c}" for c in range(maps)],
                        horizontal_spacing=0.02, vertical_spacing=0.06)
    for c in range(maps):
        fig.add_trace(go.Heatmap(z=array[sample, :, :, c].astype(np.float64), colorscale="Viridis",
                                 showscale=False), row=c // columns + 1, col=c % columns + 1)
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    fig.update_layout(height=max(220, 180 * rows), margin=dict(l=10, r=10, t=30, b=10))
    return fig


def activation_frame(values: Any, *, max_rows: int = 100, max_columns: int = 64) -> pd.DataFrame:
    """The first rows and units of an activation as a table (trailing axes flattened).

    Example:
        >>> activation_frame(np.arange(6).reshape(2, 3)).columns.tolist()
        ['unit 0', 'unit 1', 'unit 2']
    """
    import pandas as pd

    grid = _as_2d(values)[:max_rows, :max_columns]
    return pd.DataFrame(grid, columns=[f"unit {i}" for i in range(grid.shape[1])])


def npy_bytes(values: Any) -> bytes:
    """An array as the bytes of a ``.npy`` file (for a download button).

    Example:
        >>> npy_bytes(np.zeros(2))[:6]
        b'\\x93NUMPY'
    """
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(values), allow_pickle=False)
    return buffer.getvalue()
