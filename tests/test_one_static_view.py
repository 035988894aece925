"""Every entry point shows the same graph of a file: static_graph, build_graph, the app's opening, the CLI's JSON.

The restructure (issue 13) left one static view; before it, the app skipped the legacy rewrite and the
shape inference that build_graph applied (the lambda_merge sample's ``l1_norm`` had no shape in the app).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REAL_MODELS

import inspector
from inspector.cli import main
from inspector.errors import WeightsOnlyError
from inspector.model.opening import open_model

SAMPLE_FILES = sorted(p for s in inspector.list_samples() for p in s.path.parent.glob("model.*"))
REAL_FILES = sorted(REAL_MODELS.glob("*.*5")) + sorted(REAL_MODELS.glob("*.keras")) if REAL_MODELS.is_dir() else []


def _shapes(graph: inspector.ModelGraph) -> dict[str, tuple]:
    return {n.id: (n.output_shapes, n.params) for n, _ in graph.walk()}


def _check(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        static = inspector.static_graph(path)
    except WeightsOnlyError:
        return  # no architecture to show anywhere
    built = inspector.build_graph(path)
    opened = open_model(path.read_bytes(), name=path.name).graph
    assert _shapes(opened) == _shapes(built)
    assert main(["graph", str(path), "--no-fold", "-o", str(tmp_path / "g.json")]) == 0
    capsys.readouterr()
    from inspector.rendering import from_json

    assert _shapes(from_json(json.loads((tmp_path / "g.json").read_text()))) == _shapes(built)
    if built.source == inspector.Source.STATIC:
        assert _shapes(static) == _shapes(built)
    else:  # loaded: wherever the config alone knows a shape, Keras agrees
        loaded = _shapes(built)
        for node_id, (shapes, params) in _shapes(static).items():
            assert node_id in loaded and loaded[node_id][1] == params, node_id
            if shapes and all(s is not None for s in shapes):
                assert loaded[node_id][0] == shapes, node_id


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_samples_look_the_same_from_every_entry_point(path: Path, tmp_path: Path, capsys) -> None:
    _check(path, tmp_path, capsys)


@pytest.mark.skipif(not REAL_FILES, reason=f"real models folder absent: {REAL_MODELS} (shared material)")
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_real_models_look_the_same_from_every_entry_point(path: Path, tmp_path: Path, capsys) -> None:
    _check(path, tmp_path, capsys)


def test_lambda_merge_shape_is_known_everywhere() -> None:
    path = inspector.get_sample("lambda_merge").path
    for graph in (inspector.static_graph(path), inspector.build_graph(path), open_model(path.read_bytes()).graph):
        assert graph.node("l1_norm").output_shapes == ((None, 1),)
