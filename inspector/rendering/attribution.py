"""Drawings of attribution maps: a heat map over the input image, or bars over features and tokens.

These take plain arrays (one sample's map from :mod:`inspector.analysis.attribution`,
and the sample itself), never a model.  :func:`attribution_figure` is the plotly
figure the app shows; :func:`overlay_rgb` blends a heat map onto an image as
pixels and :func:`png_bytes` writes them (``keras-inspector explain -o cam.png``).
A map with channels (``saliency`` of an RGB image) is reduced to one value per
pixel by :func:`pixel_map`: the largest magnitude over the channels, or their
sum for signed attributions (integrated gradients).

Example:
    >>> import numpy as np
    >>> heat = np.array([[0.0, 1.0], [0.5, 0.0]])
    >>> overlay_rgb(np.zeros((2, 2, 3)), heat, opacity=1.0)[0, 1].tolist()  # the hottest colour
    [189, 0, 38]
    >>> pixel_map(np.array([[[1.0, -3.0]]])).tolist(), pixel_map(np.array([[[1.0, -3.0]]]), signed=True).tolist()
    ([[3.0]], [[-2.0]])
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from inspector.errors import InputDataError

__all__ = ["attribution_figure", "attribution_png", "overlay_rgb", "pixel_map", "png_bytes", "is_image",
           "drawn_over_image"]

# pale yellow to dark red, as the graph's colour scale (rendering/colour.py)
_RAMP = np.array([[255, 255, 204], [255, 237, 160], [254, 217, 118], [254, 178, 76], [253, 141, 60],
                  [252, 78, 42], [227, 26, 28], [189, 0, 38]], dtype=np.float64)


def is_image(sample: Any) -> bool:
    """Whether one sample is an image: (height, width) or (height, width, 1 or 3 channels), both sides > 1.

    Example:
        >>> is_image(np.zeros((8, 8, 3))), is_image(np.zeros((20,))), is_image(np.zeros((6, 4)))
        (True, False, True)
    """
    shape = np.shape(sample)
    return (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4))) and shape[0] > 1 and shape[1] > 1


def pixel_map(values: Any, *, signed: bool = False) -> np.ndarray:
    """One value per pixel (or per position): channels reduced by largest magnitude, or summed when ``signed``."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 3:
        return array.sum(axis=-1) if signed else np.abs(array).max(axis=-1)
    return array


def _unit(values: np.ndarray) -> np.ndarray:
    """Scaled to [0, 1] (a constant map is all 0)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return np.zeros(values.shape)
    low, high = float(finite.min()), float(finite.max())
    return np.clip((np.nan_to_num(values, nan=low) - low) / (high - low), 0, 1) if high > low else \
        np.zeros(values.shape)


def overlay_rgb(image: Any, heat: Any, *, opacity: float = 0.5) -> np.ndarray:
    """``heat`` (H, W; scaled to [0, 1] here) coloured and blended onto ``image`` (H, W[, C]) as uint8 RGB pixels.

    Raises:
        InputDataError: the map and the image differ in height and width.
    """
    picture = np.asarray(image, dtype=np.float64)
    if picture.ndim == 3 and picture.shape[2] == 1:
        picture = picture[..., 0]
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=2)
    picture = _unit(picture[..., :3])
    heat = _unit(np.asarray(heat, dtype=np.float64))
    if heat.shape != picture.shape[:2]:
        raise InputDataError("The heat map and the image differ in size.",
                             received=f"map {heat.shape}, image {picture.shape[:2]}",
                             fix="Upsample the map onto the input first (grad_cam's heatmap is).")
    position = heat * (len(_RAMP) - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, len(_RAMP) - 1)
    fraction = (position - low)[..., None]
    colours = (_RAMP[low] * (1 - fraction) + _RAMP[high] * fraction) / 255.0
    blended = picture * (1 - opacity * heat[..., None]) + colours * opacity * heat[..., None]
    return np.round(np.clip(blended, 0, 1) * 255).astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """uint8 RGB pixels as the bytes of a PNG file (Pillow comes with Streamlit).

    Example:
        >>> png_bytes(np.zeros((2, 2, 3), np.uint8))[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
    """
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(rgb, dtype=np.uint8), "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def drawn_over_image(values: Any, image: Any) -> bool:
    """Whether one sample's map can be drawn over the sample: the sample is an image of the map's size.

    Example:
        >>> drawn_over_image(np.zeros((8, 8, 3)), np.zeros((8, 8, 3))), drawn_over_image(np.zeros(5), np.zeros(5))
        (True, False)
    """
    return is_image(image) and pixel_map(values).shape == np.shape(image)[:2]


def attribution_png(values: Any, image: Any, *, signed: bool = False) -> bytes:
    """One sample's map over its image as PNG bytes (a signed map by magnitude).

    Raises:
        InputDataError: the sample is not an image of the map's size.
    """
    if not drawn_over_image(values, image):
        raise InputDataError("A PNG shows the map over an image, and this input is not one.",
                             received=f"a sample of shape {np.shape(image)}, a map of shape {np.shape(values)}",
                             fix="Save the map as .html (bars per feature) or .npy (the arrays) instead.")
    return png_bytes(overlay_rgb(image, np.abs(pixel_map(values, signed=signed))))


def attribution_figure(values: Any, *, image: Any = None, signed: bool = False, labels: Any = None,
                       title: str = "", opacity: float = 0.5) -> Any:
    """A plotly figure of one sample's attribution: over ``image`` when it is one, else bars per feature/position.

    Example:
        >>> fig = attribution_figure(np.random.default_rng(0).random((8, 8)), image=np.zeros((8, 8, 3)))
        >>> [trace.type for trace in fig.data]
        ['image']
        >>> attribution_figure(np.array([0.5, -1.0]), labels=["a", "b"], signed=True).data[0].x
        ('a', 'b')
    """
    import plotly.graph_objects as go

    array = np.asarray(values)
    layout: dict[str, Any] = dict(title=title or None, margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    if image is not None and drawn_over_image(array, image):
        heat = np.abs(pixel_map(array, signed=signed))
        fig = go.Figure(go.Image(z=overlay_rgb(image, heat, opacity=opacity)))
        fig.update_layout(height=420, **layout)
        fig.update_xaxes(showticklabels=False)
        fig.update_yaxes(showticklabels=False)
        return fig
    if array.ndim == 2 and is_image(array):
        fig = go.Figure(go.Heatmap(z=array.astype(np.float64), colorscale="RdBu_r" if signed else "YlOrRd",
                                   zmid=0 if signed else None))
        fig.update_yaxes(autorange="reversed")
        fig.update_layout(height=420, **layout)
        return fig
    flat = array.reshape(-1).astype(np.float64)
    names = [str(v) for v in labels] if labels is not None else [str(i) for i in range(len(flat))]
    colours = ["#b91c1c" if v >= 0 else "#1d4ed8" for v in flat] if signed else "#b91c1c"
    fig = go.Figure(go.Bar(x=names[:len(flat)], y=flat, marker_color=colours,
                           hovertemplate="%{x}: %{y:.4g}<extra></extra>"))
    fig.update_layout(height=320, xaxis_title="feature / position", yaxis_title="attribution", **layout)
    return fig
