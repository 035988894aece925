"""Benchmark: drawing big Keras graphs to SVG, Keras Inspector vs ``keras.utils.plot_model``, in one run.

For every ``keras.applications`` architecture (built with ``weights=None``, so
nothing is downloaded) and for the 1,600-column entity-embedding model (1,600 ×
``Input(shape=(1,), dtype="int32") → Embedding(n, 4) → Flatten``, Concatenate,
Dense(relu), Dropout, Dense(1, sigmoid)), this script

* times ``keras.utils.plot_model(model, show_shapes=True, to_file="….svg")``
  (what a user would use instead; its crash or error is caught and printed), and
* times ours: ``inspector.rendering(inspector.build_graph(model), "svg")`` — the graph
  walk *and* the render, every layer drawn (``collapse_blocks=False``; repeated
  parallel branches are folded, as by default),

and prints one table: model, layers, nodes drawn by ours, ours s, plot_model s
(or its error), ratio ours / plot_model.  Model building is not timed.  Each
tool runs up to ``--repeat`` times per model and its fastest wall time is kept
(the machine may be shared; both tools are measured the same way).

Usage::

    python bench/render.py                      # all 40 applications + the entity model
    python bench/render.py --models ResNet50,EfficientNetB0,entity
    python bench/render.py --plot-model-timeout 300 --out /tmp/bench-svgs

``plot_model`` needs ``pydot`` (``pip install pydot``); without it the column
shows its ImportError.  A ``dot`` process started by ``plot_model`` that runs
longer than ``--plot-model-timeout`` seconds is killed (by its process id) and
reported as a timeout.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ENTITY = "entity_1600"

APPLICATIONS = [
    "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge",
    "DenseNet121", "DenseNet169", "DenseNet201",
    "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5",
    "EfficientNetB6", "EfficientNetB7",
    "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3", "EfficientNetV2L",
    "EfficientNetV2M", "EfficientNetV2S",
    "InceptionResNetV2", "InceptionV3",
    "MobileNet", "MobileNetV2", "MobileNetV3Large", "MobileNetV3Small",
    "NASNetLarge", "NASNetMobile",
    "ResNet101", "ResNet101V2", "ResNet152", "ResNet152V2", "ResNet50", "ResNet50V2",
    "VGG16", "VGG19", "Xception",
]


def entity_model(columns: int = 1600, vocabulary: tuple[int, int] = (10, 50)):
    """The entity-embedding model of tabular deep learning recipes: one embedded input per column.

    Column ``i`` has ``vocabulary[0] + i % vocabulary[1]`` categories; ``(580, 400)`` makes the
    36 MB file of issue 14 (bench/app_open.py).
    """
    import keras

    inputs, flats = [], []
    for i in range(columns):
        x = keras.Input(shape=(1,), dtype="int32", name=f"col_{i}")
        e = keras.layers.Embedding(vocabulary[0] + i % vocabulary[1], 4, name=f"emb_{i}")(x)
        flats.append(keras.layers.Flatten(name=f"flat_{i}")(e))
        inputs.append(x)
    x = keras.layers.Concatenate(name="concat")(flats)
    x = keras.layers.Dense(128, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(0.3, name="dropout")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="output")(x)
    return keras.Model(inputs, out, name=ENTITY)


def build(name: str):
    import keras

    if name in (ENTITY, "entity"):
        return entity_model()
    return getattr(keras.applications, name)(weights=None)


class DotWatchdog:
    """Kill `dot` processes started by this process that outlive a deadline (plot_model has no timeout)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False
        self._timer: threading.Timer | None = None

    def __enter__(self) -> DotWatchdog:
        self._timer = threading.Timer(self.seconds, self._kill)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _kill(self) -> None:
        me = os.getpid()
        for pid in _children(me):
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
                if comm == "dot":
                    os.kill(pid, 9)
                    self.fired = True
            except (OSError, ValueError):
                pass


def _children(parent: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == parent:
                out.append(int(entry.name))
    return out


def time_plot_model(model, path: Path, timeout: float) -> tuple[float | None, str]:
    import keras

    start = time.perf_counter()
    try:
        with DotWatchdog(timeout) as watchdog:
            keras.utils.plot_model(model, to_file=str(path), show_shapes=True)
    except BaseException as e:  # noqa: BLE001 - we report whatever plot_model does
        if isinstance(e, KeyboardInterrupt):
            raise
        elapsed = time.perf_counter() - start
        if watchdog.fired:
            return None, f"timeout > {timeout:.0f} s"
        # with IPython installed, plot_model writes the SVG and *then* fails to wrap it in
        # IPython.display.Image ("Cannot embed the 'svg' image format"): the drawing itself succeeded
        if not (isinstance(e, ValueError) and "Cannot embed" in str(e) and _valid_svg(path)):
            return None, f"{_explain(e)} ({elapsed:.1f} s)"
    elapsed = time.perf_counter() - start
    if watchdog.fired:
        return None, f"timeout > {timeout:.0f} s"
    if not _valid_svg(path):
        return None, f"no valid SVG written ({elapsed:.1f} s)"
    return elapsed, ""


def _valid_svg(path: Path) -> bool:
    try:
        return path.stat().st_size > 0 and ET.parse(path).getroot().tag.endswith("svg")
    except (OSError, ET.ParseError):
        return False


def time_ours(model, path: Path) -> tuple[float | None, str, int]:
    from inspector import InspectorError
    from inspector.model.loading import build_graph
    from inspector.rendering import render
    from inspector.rendering.view import prepare

    start = time.perf_counter()
    try:
        graph = build_graph(model)
        svg = render(graph, "svg", collapse_blocks=False)
    except InspectorError as e:
        return None, _one_line(f"{type(e).__name__}: {e.what} {e.received}"), 0
    elapsed = time.perf_counter() - start
    path.write_bytes(svg)
    ET.fromstring(svg)  # must be well-formed
    drawn = len(prepare(graph, collapse_blocks=False).graph.nodes)
    return elapsed, "", drawn


def best_of(repeat: int, run, budget: float = 20.0):
    """The fastest of up to ``repeat`` runs (the machine may be shared); stop early on failure or
    once ``budget`` seconds are spent.  Both tools are measured the same way."""
    best = None
    spent = 0.0
    for _ in range(max(1, repeat)):
        result = run()
        if result[0] is None:
            return result
        spent += result[0]
        if best is None or result[0] < best[0]:
            best = result
        if spent > budget:
            break
    return best


def _explain(error: BaseException) -> str:
    """plot_model's failure in a few words: pydot only says "dot returned code N"; the cause is in stderr."""
    text = str(error)
    code = re.search(r"returned code: (-?\d+)", text)
    if "trapezoid" in text or "Trapezoid" in text:
        return "dot crashed: assertion in the ortho edge router (trapezoid.c)"
    if "16384" in text:
        return "dot error: an HTML label longer than 16,384 characters"
    if code and code.group(1) == "-6":
        return "dot crashed (SIGABRT: a Graphviz assertion)"
    if code:
        return f"dot failed with exit code {code.group(1)}"
    return _one_line(f"{type(error).__name__}: {text}")


def _one_line(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="", help="comma-separated subset, e.g. ResNet50,entity")
    parser.add_argument("--plot-model-timeout", type=float, default=600.0,
                        help="seconds before a plot_model `dot` process is killed (default 600)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per tool and model, the fastest is kept (default 3; fewer past 20 s)")
    parser.add_argument("--out", default="", help="folder to keep the SVG files (default: a temporary one)")
    args = parser.parse_args(argv)
    names = [m.strip() for m in args.models.split(",") if m.strip()] or [*APPLICATIONS, ENTITY]
    names = [ENTITY if n == "entity" else n for n in names]
    unknown = [n for n in names if n not in APPLICATIONS and n != ENTITY]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {APPLICATIONS + [ENTITY]}")

    import keras

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-render-"))
    out.mkdir(parents=True, exist_ok=True)
    # warm up both paths (imports, first subprocess) on a tiny model so the first row is fair
    tiny = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    time_plot_model(tiny, out / "warmup_plot_model.svg", args.plot_model_timeout)
    time_ours(tiny, out / "warmup_ours.svg")

    header = f"| {'model':<18} | {'layers':>6} | {'drawn':>5} | {'ours s':>7} | {'plot_model s':<44} | {'ratio':>5} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|", flush=True)
    rows = []
    for name in names:
        keras.backend.clear_session()
        gc.collect()
        model = build(name)
        layers = len(model.layers)
        ours, ours_error, drawn = best_of(args.repeat, partial(time_ours, model, out / f"{name}_ours.svg"))
        theirs, theirs_error = best_of(args.repeat, partial(time_plot_model, model,
                                                            out / f"{name}_plot_model.svg", args.plot_model_timeout))
        ratio = ours / theirs if ours is not None and theirs is not None else None
        rows.append((name, layers, ours, theirs, ratio))
        print(f"| {name:<18} | {layers:>6} | {drawn:>5} | "
              f"{(f'{ours:.2f}' if ours is not None else 'FAILED ' + ours_error):>7} | "
              f"{(f'{theirs:.2f}' if theirs is not None else theirs_error):<44} | "
              f"{(f'{ratio:.2f}' if ratio is not None else '—'):>5} |", flush=True)
        del model

    rendered = sum(1 for r in rows if r[2] is not None)
    both = [r[4] for r in rows if r[4] is not None]
    theirs_ok = sum(1 for r in rows if r[3] is not None)
    print()
    print(f"ours rendered {rendered}/{len(rows)}; plot_model rendered {theirs_ok}/{len(rows)}")
    if both:
        print(f"median ratio ours/plot_model over the {len(both)} models both render: {statistics.median(both):.2f}")
    entity = [r for r in rows if r[0] == ENTITY]
    if entity and entity[0][2] is not None:
        print(f"{ENTITY}: ours {entity[0][2]:.2f} s (target ≤ 10 s)")
    print(f"SVG files in {out}")
    return 0 if rendered == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
