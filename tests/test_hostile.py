"""Hostile and broken model files: no code runs, every error is typed and clear, the graph survives."""

from __future__ import annotations

import sys

import pytest
from hostile_corpus import MARKER_NAME, build_corpus

import inspector


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    previous = inspector.set_limits(max_uncompressed_bytes=16 * 2**20)
    sys.path.insert(0, str(folder))  # the evil module is importable: proving it is never imported
    try:
        yield folder, build_corpus(folder)
    finally:
        sys.path.remove(str(folder))
        inspector.set_limits(**vars(previous))


CASE_NAMES = [
    "lambda bytecode (.keras)", "lambda bytecode (.h5)", "layer naming os.system", "initializer naming builtins.exec",
    "custom class from a module", "model class naming os.system", "absurd Dense units", "weights do not match",
    "deeply nested json", "empty", "truncated zip", "random bytes", "text renamed .h5", "zip without config.json",
    "invalid json", "config of the wrong shape", "hdf5 without model_config", "weights-only .weights.h5",
    "SavedModel directory", "zip bomb",
]


def test_corpus_has_every_case(corpus):
    assert sorted(corpus[1]) == sorted(CASE_NAMES)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_load_model_refuses_with_typed_clear_error_and_runs_nothing(corpus, name):
    folder, cases = corpus
    case = cases[name]
    with pytest.raises(inspector.InspectorError) as info:
        inspector.load_model(case.path)
    error = info.value
    assert type(error).__name__ == case.error, str(error)
    assert case.phrase.lower() in str(error).lower()
    assert error.what and error.received and error.fix
    assert not (folder / MARKER_NAME).exists(), "code from the file ran"
    assert "evil_layers_module" not in sys.modules


@pytest.mark.parametrize("name", CASE_NAMES)
def test_build_graph_shows_static_view_or_typed_error(corpus, name):
    folder, cases = corpus
    case = cases[name]
    if case.static_ok:
        graph = inspector.build_graph(case.path)
        assert graph.source == inspector.Source.STATIC and graph.nodes
        assert graph.warnings and "Static view" in graph.warnings[0]
    else:
        with pytest.raises(inspector.InspectorError):
            inspector.build_graph(case.path)
    assert not (folder / MARKER_NAME).exists()


def test_unsafe_layers_are_marked_opaque(corpus):
    _, cases = corpus
    graph = inspector.build_graph(cases["lambda bytecode (.keras)"].path)
    assert [n.name for n in graph.opaque_nodes] == ["evil"]
    assert "trusted" in graph.opaque_nodes[0].opaque_reason
    graph = inspector.build_graph(cases["initializer naming builtins.exec"].path)
    assert [n.name for n in graph.opaque_nodes] == ["dense"]


def test_trusting_the_lambda_file_does_run_it(corpus):
    """The control: the marker machinery works, so its absence above means something."""
    folder, cases = corpus
    import numpy as np

    model = inspector.load_model(cases["lambda bytecode (.keras)"].path, trust=True)
    model.predict(np.zeros((1, 3), "float32"), verbose=0)
    assert (folder / MARKER_NAME).exists()
    (folder / MARKER_NAME).unlink()
