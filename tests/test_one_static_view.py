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


def _everything(graph: inspector.ModelGraph) -> list:
    """All a graph holds, nested levels included (``==`` on a ModelGraph leaves its nested graphs out)."""
    return [graph.total_params, graph.trainable_params, graph.non_trainable_params, graph.total_bytes, graph.warnings,
            graph, *((node, sub, sub.total_params, sub.trainable_params, sub.non_trainable_params)
                     for node, sub in graph.walk())]


def _zoo_files(folder: Path) -> list[Path]:
    import keras
    import zoo

    outer = zoo.nested_siblings()
    inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.BatchNormalization()],
                             name="frozen_inner")
    inner.trainable = False
    x = keras.Input((3,), name="x")
    shared_twice = keras.Model(x, keras.layers.Add()([inner(x), inner(x)]), name="shared_frozen")
    paths = []
    for model in (outer, shared_twice, zoo.frozen_layers(), zoo.shared_layer(), zoo.subclassed()):
        paths.append(folder / f"{model.name}.keras")
        model.save(paths[-1])
    zoo.frozen_layers().save(folder / "frozen.h5")
    return [*paths, folder / "frozen.h5"]


def test_the_graph_built_while_the_weights_are_walked_is_the_one_built_after(tmp_path: Path) -> None:
    """static_graph(path) builds from the config while the HDF5 child walks the weights, then adds them: the
    same graph, to the last weight and total, as building it in one pass from the whole file."""
    from inspector.io.files import read_model_file

    checked = 0
    for path in [*SAMPLE_FILES, *_zoo_files(tmp_path)]:
        try:
            one_pass = inspector.static_graph(read_model_file(path, vet_arrays=False))
        except WeightsOnlyError:
            continue
        assert _everything(inspector.static_graph(path)) == _everything(one_pass), path
        checked += one_pass.total_params > 0
    assert checked >= len(SAMPLE_FILES)  # weights were there to add, in every file but those without any
