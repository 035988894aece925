"""tf.keras 2 conformance: our numbers on every corpus file equal tf.keras 2's own (``conformance_corpus.py``).

For each model of the corpus in each format (``.h5``, SavedModel directory, tf.keras 2 ``.keras``), three
separate checks against what tf.keras 2 (the ``tf_keras`` package) computed when it wrote the file:

- the static view (``static_graph``: no Keras build, no code run): parameters, total and per layer, and every
  layer call's output shapes;
- the loaded graph (``load_model`` untrusted, then ``build_graph``): the same facts, from the model Keras 3 built;
- ``inspect_layers``: every layer call's outputs on the fixed input, nested models' inner layers included.

CI runs the representative slice (the first case of each layer family, every format); the whole matrix runs
with ``KERAS_INSPECTOR_CONFORMANCE=all`` or when the ``-m`` expression names ``slow``
(``pytest -m slow tests/test_conformance.py``).  The corpus is generated once per session, by tf_keras in a
subprocess, into a temporary folder, or into ``KERAS_INSPECTOR_CONFORMANCE_DIR`` when set (kept between sessions,
rewritten when the generator or TensorFlow changes).  docs/conformance.md has the latest results.

A failure whose cause is known is ``xfail(strict=True)`` with the cause (``KNOWN``): strict, so a fix shows up as
an unexpected pass, and the mark must then go.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from conformance_corpus import CASES, FORMATS, slice_cases, source_digest

import inspector

# the first test waits for the corpus to be written (minutes on a busy machine): more than the suite's 900 s
pytestmark = [pytest.mark.conformance, pytest.mark.timeout(2400)]

CHECKS = ("static", "loaded", "outputs")
SLICE = {c.name for c in slice_cases()}
CACHE_VARIABLE = "KERAS_INSPECTOR_CONFORMANCE_DIR"
# the whole matrix: asked for by name, or by a mark expression that selects the slow tests ("not slow" does not)
FULL = ("os.environ.get('KERAS_INSPECTOR_CONFORMANCE') == 'all' or "
        "'slow' in config.getoption('markexpr').replace('not slow', '')")

# Known causes: each names where the bug lies (docs/conformance.md has the table), with the checks it fails as
# (check, case, format); "*" is every check or format.
KNOWN: dict[tuple[str, str, str], str] = {
    # Keras 3's Bidirectional.compute_output_shape doubles the forward layer's features: a backward layer of
    # another size (2 + 3 here) gets (None, 5, 4), so the next layer is built for 4 features and the load is
    # refused (ModelLoadError: weights do not match); our static view has its own rule and is right
    ("loaded", "bidirectional_unequal", "*"): "Keras 3's Bidirectional assumes the backward layer's size",
    ("outputs", "bidirectional_unequal", "*"): "Keras 3's Bidirectional assumes the backward layer's size",
    # tf.keras 2 keeps a SavedModel's lookup vocabulary in the TensorFlow graph (saved_model.pb), never read here:
    # the layer's table is empty (a warning on the graph says so) and inspect_layers raises InputDataError
    ("outputs", "lookups", "savedmodel"): "a SavedModel's IntegerLookup vocabulary is in the graph, not read",
}


def _known(check: str, case: str, fmt: str) -> str | None:
    for key in ((check, case, fmt), ("*", case, fmt), (check, case, "*"), ("*", case, "*")):
        if key in KNOWN:
            return KNOWN[key]
    return None


def _cases(check: str) -> list:
    params = []
    for case in CASES:
        for fmt in FORMATS:
            marks = [] if case.name in SLICE else [
                pytest.mark.slow, pytest.mark.skipif(f"not ({FULL})", reason="beyond the CI slice: run the whole "
                                                     "matrix with KERAS_INSPECTOR_CONFORMANCE=all or -m slow")]
            reason = _known(check, case.name, fmt)
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            params.append(pytest.param(case.name, fmt, id=f"{case.name}-{fmt}", marks=marks))
    return params


# ----------------------------------------------------------------------------- the corpus
@pytest.fixture(scope="session")
def conformance_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus for this session's cases, written by tf_keras in a subprocess (or reused from the cache dir)."""
    if importlib.util.find_spec("tf_keras") is None:
        pytest.skip("tf_keras is not installed (pip install -e '.[test]'): it writes the corpus and its references")
    full = eval(FULL, {"os": os, "config": request.config})  # noqa: S307 - our own constant, as skipif reads it
    names = sorted(c.name for c in CASES) if full else sorted(SLICE)
    cached = os.environ.get(CACHE_VARIABLE)
    folder = Path(cached) if cached else tmp_path_factory.mktemp("conformance")
    if not _written(folder, names):
        generator = Path(__file__).with_name("conformance_corpus.py")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        proc = subprocess.run([sys.executable, str(generator), str(folder), *names], capture_output=True,
                              text=True, timeout=1800, env=env)
        if proc.returncode:
            pytest.fail(f"the corpus generator failed (code {proc.returncode}):\n{proc.stderr[-3000:]}")
    return folder


def _written(folder: Path, names: list[str]) -> bool:
    """Whether ``folder`` already holds these cases, written by this generator on this TensorFlow."""
    manifest = folder / "manifest.json"
    if not manifest.exists():
        return False
    import tensorflow as tf

    written = json.loads(manifest.read_text())
    return (written.get("generator") == source_digest() and written.get("tensorflow") == tf.__version__
            and set(names) <= set(written.get("cases", ())))


@cache
def _reference(folder: Path, case: str) -> tuple[dict, dict[str, np.ndarray]]:
    with np.load(folder / f"{case}.npz") as arrays:
        return json.loads((folder / f"{case}.json").read_text()), dict(arrays)


@cache
def _loaded(path: Path):
    return inspector.load_model(path)  # untrusted, as a user's file is opened


def _path(folder: Path, case: str, fmt: str) -> Path:
    return folder / _reference(folder, case)[0]["formats"][fmt]


# ----------------------------------------------------------------------------- the checks
def _mismatches(graph: inspector.ModelGraph, reference: dict) -> list[str]:
    """Every way ``graph`` differs from tf.keras 2's parameter counts and output shapes."""
    found = []
    if (graph.total_params, graph.trainable_params) != (reference["total_params"], reference["trainable_params"]):
        found.append(f"total params {graph.total_params:,} ({graph.trainable_params:,} trainable), tf.keras 2 "
                     f"{reference['total_params']:,} ({reference['trainable_params']:,})")
    for node_id, layer in reference["layers"].items():
        node = graph.find_node(node_id)
        if node is None:
            found.append(f"{node_id}: no such node (ids: {[n.id for n, _ in graph.walk()][:40]})")
            continue
        if node.layer_params != layer["params"]:
            found.append(f"{node_id}: {node.layer_params:,} params, tf.keras 2 {layer['params']:,}")
        shapes = [None if s is None else list(s) for s in node.output_shapes]
        if shapes != layer["output_shapes"]:
            found.append(f"{node_id}: output shapes {shapes}, tf.keras 2 {layer['output_shapes']}")
    return found


@pytest.mark.parametrize(("case", "fmt"), _cases("static"))
def test_static_view_equals_tf_keras(conformance_dir, case, fmt):
    reference, _ = _reference(conformance_dir, case)
    graph = inspector.static_graph(_path(conformance_dir, case, fmt))
    assert graph.source is inspector.Source.STATIC
    assert not _mismatches(graph, reference), (_mismatches(graph, reference), graph.warnings)


@pytest.mark.parametrize(("case", "fmt"), _cases("loaded"))
def test_loaded_graph_equals_tf_keras(conformance_dir, case, fmt):
    reference, _ = _reference(conformance_dir, case)
    graph = inspector.build_graph(_loaded(_path(conformance_dir, case, fmt)))
    assert graph.source is inspector.Source.KERAS
    assert not _mismatches(graph, reference), (_mismatches(graph, reference), graph.warnings)


@pytest.mark.parametrize(("case", "fmt"), _cases("outputs"))
def test_layer_outputs_equal_tf_keras(conformance_dir, case, fmt):
    """Every layer call's outputs, to 1e-5 relative; the absolute part scales with the output's magnitude, so a
    value that cancels to near zero is held to the precision its terms allow, whatever the CPU (oneDNN or not)."""
    reference, arrays = _reference(conformance_dir, case)
    model = _loaded(_path(conformance_dir, case, fmt))
    inputs = [arrays[f"input::{i}"] for i in range(len(reference["inputs"]))]
    wanted = [node_id for node_id, layer in reference["layers"].items() if layer["class_name"] != "InputLayer"]
    ours = inspector.inspect_layers(model, wanted, inputs if len(inputs) > 1 else inputs[0], progress=False)
    for node_id in wanted:
        got = ours[node_id] if isinstance(ours[node_id], list) else [ours[node_id]]
        expected = [arrays[f"{node_id}::{i}"] for i in range(len(reference["layers"][node_id]["output_shapes"]))]
        assert len(got) == len(expected), f"{node_id}: {len(got)} outputs, tf.keras 2 {len(expected)}"
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            scale = float(np.max(np.abs(b))) if b.size else 0.0
            np.testing.assert_allclose(np.asarray(a), b, rtol=1e-5, atol=1e-5 * max(scale, 1e-3),
                                       err_msg=f"{case} ({fmt}): {node_id} output {i}")
