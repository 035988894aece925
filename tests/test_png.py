"""PNG drawings, checked on the picture: no line of a label touches the next, no edge runs through a title.

``dot`` writes the PNG and its own JSON description of the same layout in one run (``-Tpng -Tjson``), and
the PNG is byte-identical to what :func:`inspector.render` returns. The JSON places every box and text line;
the pixels say where cairo really put the ink. Two checks:

- inside every layer's box, a blank row of pixels separates each text line from the next: the underscores
  of a bold layer name once reached into the italic class line under it;
- no edge of the drawing passes through a nested model's title (an edge coming into a nested model from
  above once crossed its title text).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import inspector
from inspector.rendering.dot import to_dot

PIL = pytest.importorskip("PIL.Image")
pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")

_PAD = 4.0  # points: Graphviz's default margin around the drawing
_DPI = 96.0  # Graphviz's default PNG resolution
_INK = 110  # luminance under which a pixel is text (labels are black or dark blue on pale fills)


def laid_out(graph: inspector.ModelGraph, tmp_path: Path, **options: object) -> tuple[np.ndarray, dict]:
    """The PNG (as a grey-level array) and dot's JSON of the same layout."""
    source = to_dot(graph, for_file="png", **options)
    png, layout = tmp_path / "drawing.png", tmp_path / "drawing.json"
    subprocess.run(["dot", "-Tpng", "-o", str(png), "-Tjson", "-o", str(layout)], input=source.encode(),
                   check=True, timeout=300, capture_output=True)
    assert png.read_bytes() == inspector.render(graph, "png", **options)  # the same picture render() gives
    grey = np.asarray(PIL.open(io.BytesIO(png.read_bytes())).convert("L"), dtype=np.int16)
    return grey, json.loads(layout.read_text())


def _pixels(document: dict, x: float, y: float) -> tuple[int, int]:
    """Pixel column and row of a point of dot's coordinates (points, y upwards)."""
    top = float(document["bb"].split(",")[3])
    scale = _DPI / 72
    return round((x + _PAD) * scale), round((top - y + _PAD) * scale)


def _box(item: dict) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of a node in points."""
    x, y = (float(v) for v in item["pos"].split(","))
    half_width, half_height = float(item["width"]) * 36, float(item["height"]) * 36
    return x - half_width, y - half_height, x + half_width, y + half_height


def text_lines(item: dict) -> list[dict]:
    return [op for op in item.get("_ldraw_", []) if op["op"] == "T" and op["text"].strip()]


def touching_lines(grey: np.ndarray, document: dict, item: dict) -> list[tuple[str, str]]:
    """Pairs of consecutive text lines of a node with no blank pixel row between their baselines.

    Rows are read across the node's widest text line (inside the box's margins, two pixels in from the
    rounded corners); a pixel darker than ``_INK`` is ink. A gap anywhere between two baselines means the
    upper line's descenders and underscores stay clear of the lower line's capitals.
    """
    lines = sorted(text_lines(item), key=lambda op: -op["pt"][1])
    left = min(op["pt"][0] for op in lines)
    right = max(op["pt"][0] + op["width"] for op in lines)
    column0, _ = _pixels(document, left, 0)
    column1, _ = _pixels(document, right, 0)
    touching = []
    for upper, lower in zip(lines, lines[1:], strict=False):
        row0, row1 = _pixels(document, 0, upper["pt"][1])[1], _pixels(document, 0, lower["pt"][1])[1]
        inked = (grey[row0 + 1:row1, column0 + 2:column1 - 2] < _INK).any(axis=1)
        if inked.all():
            touching.append((upper["text"], lower["text"]))
    return touching


def title_boxes(document: dict) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Nested models' titles: title boxes of a file's drawing, and any cluster label (the viewer's way)."""
    boxes = [(item["id"], _box(item)) for item in document["objects"] if item.get("id", "").endswith("_title")]
    for item in document["objects"]:
        if "bb" in item and text_lines(item):
            for op in text_lines(item):
                x, y = op["pt"]
                boxes.append((item["name"], (x, y - 3, x + op["width"], y + 10)))
    return boxes


def edge_points(edge: dict, steps: int = 24) -> np.ndarray:
    """Points along an edge's drawn spline (cubic Bézier pieces)."""
    points = []
    for op in edge.get("_draw_", []):
        if op["op"] != "b":
            continue
        control = np.array(op["points"])
        for i in range(0, len(control) - 3, 3):
            p0, p1, p2, p3 = control[i:i + 4]
            t = np.linspace(0, 1, steps)[:, None]
            points.append((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3)
    return np.concatenate(points) if points else np.zeros((0, 2))


def check_drawing(graph: inspector.ModelGraph, tmp_path: Path, **options: object) -> int:
    """Both checks on one drawing; returns how many layer boxes were looked at."""
    grey, document = laid_out(graph, tmp_path, **options)
    layers = [item for item in document["objects"] if "pos" in item and not item.get("id", "").endswith("_title")
              and len(text_lines(item)) >= 2]
    touching = {item.get("tooltip", item["name"]): pairs for item in layers
                if (pairs := touching_lines(grey, document, item))}
    assert not touching, f"label lines that touch: {touching}"
    crossings = []
    for edge in document.get("edges", []):
        if edge.get("style") == "invis":
            continue
        points = edge_points(edge)
        for name, (left, bottom, right, top) in title_boxes(document):
            inside = ((points[:, 0] > left) & (points[:, 0] < right) & (points[:, 1] > bottom) & (points[:, 1] < top))
            if inside.any():
                crossings.append((name, edge["tail"], edge["head"]))
    assert not crossings, f"edges through titles (title, edge tail, head): {crossings}"
    return len(layers)


@pytest.mark.parametrize("slug", [s.slug for s in inspector.list_samples()])
def test_sample_drawings(slug: str, tmp_path: Path) -> None:
    assert check_drawing(inspector.static_graph(inspector.get_sample(slug).path), tmp_path) >= 3


def test_a_nested_model_with_edges_into_it_from_above(tmp_path: Path) -> None:
    graph = inspector.static_graph(inspector.get_sample("nested_gan").path)
    grey, document = laid_out(graph, tmp_path)
    assert len([box for box in title_boxes(document)]) == 3  # generator, discriminator, critic_head
    assert check_drawing(graph, tmp_path, expand_depth=None) >= 12


def test_mobilenet_v2(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    graph = inspector.build_graph(keras.applications.MobileNetV2(weights=None))
    assert check_drawing(graph, tmp_path, collapse_blocks=False) > 100


def test_the_checks_see_both_flaws_in_the_viewer_drawing(tmp_path: Path) -> None:
    """The viewer's DOT (cluster labels, no gap under names) laid out as PNG shows both flaws."""
    graph = inspector.static_graph(inspector.get_sample("nested_gan").path)
    png, layout = tmp_path / "viewer.png", tmp_path / "viewer.json"
    subprocess.run(["dot", "-Tpng", "-o", str(png), "-Tjson", "-o", str(layout)], check=True, timeout=300,
                   input=to_dot(graph).encode(), capture_output=True)
    grey = np.asarray(PIL.open(png).convert("L"), dtype=np.int16)
    document = json.loads(layout.read_text())
    touching = [item["name"] for item in document["objects"] if "pos" in item and len(text_lines(item)) >= 2
                and touching_lines(grey, document, item)]
    assert touching  # g_dense_1, d_leaky_relu, …: the underscore reaches the class line
    crossed = [name for name, (left, bottom, right, top) in title_boxes(document)
               for edge in document["edges"] for x, y in edge_points(edge)
               if left < x < right and bottom < y < top]
    assert crossed
