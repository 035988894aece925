"""Hostile and broken model files: no code runs, every error is typed and clear, the graph survives."""

from __future__ import annotations

import json
import sys

import pytest
from hostile_corpus import CASE_NAMES, MARKER_NAME, SECRET_TEXT, CreatesMarker, terabyte_npy_header

import inspector


def test_corpus_has_every_case(corpus):
    assert sorted(corpus[1]) == sorted(CASE_NAMES)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_load_model_refuses_with_typed_clear_error_and_runs_nothing(corpus, name):
    folder, cases = corpus
    case = cases[name]
    with pytest.raises(inspector.InspectorError) as info:
        inspector.load_model(case.path)
    error = info.value
    assert type(error).__name__ in case.error.split("|"), str(error)
    assert case.phrase.lower() in str(error).lower()
    assert error.what and error.received and error.fix
    assert SECRET_TEXT[:24] not in str(error)
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
        assert SECRET_TEXT[:24] not in json.dumps(inspector.to_json(graph))
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
    graph = inspector.build_graph(cases["vocabulary read from a local path"].path)
    assert [n.name for n in graph.opaque_nodes] == ["lookup"] and "vocabulary" in graph.opaque_nodes[0].opaque_reason


def test_keras_gadgets_leave_safe_mode_on(corpus):
    """Refused before Keras sees them, the gadgets cannot switch Keras's safe mode off for later loads."""
    _, cases = corpus
    with pytest.raises(inspector.UnsafeModelError):
        inspector.load_model(cases["enable_unsafe_deserialization gadget"].path)
    with pytest.raises(inspector.UnsafeModelError):  # a Lambda still needs trust afterwards
        inspector.load_model(cases["lambda bytecode (.keras)"].path)
    from keras.src.saving import serialization_lib

    assert serialization_lib.in_safe_mode() is not False


def test_trusted_outside_data_is_still_refused_by_keras(corpus):
    """Trust runs a file's code; a current Keras still refuses HDF5 data from other files, with a typed error."""
    _, cases = corpus
    for name in ("hdf5 dataset stored in a local file", "hdf5 external link to a local file"):
        with pytest.raises(inspector.ModelLoadError) as info:
            inspector.load_model(cases[name].path, trust=True)
        assert SECRET_TEXT[:24] not in str(info.value)


def test_trusting_the_lambda_file_does_run_it(corpus):
    """The control: the marker machinery works, so its absence above means something."""
    folder, cases = corpus
    import numpy as np

    model = inspector.load_model(cases["lambda bytecode (.keras)"].path, trust=True)
    model.predict(np.zeros((1, 3), "float32"), verbose=0)
    assert (folder / MARKER_NAME).exists()
    (folder / MARKER_NAME).unlink()


# ------------------------------------------------------------------ the same files through the CLI
def _cli(*args: str, cwd=None):
    import subprocess

    return subprocess.run([sys.executable, "-m", "inspector", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_cli_summary_and_graph_of_every_case(corpus, name, tmp_path, capsys):
    """In this process (the corpus limits apply): a static view, or exit 3 with the typed message — no traceback."""
    from inspector.cli import main
    from inspector.rendering import from_json

    folder, cases = corpus
    case = cases[name]
    code = main(["summary", str(case.path), "--format", "csv"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and SECRET_TEXT[:24] not in out + err
    if case.static_ok:
        assert code == 0 and out.count("\n") >= 2, err
        assert main(["graph", str(case.path), "-o", str(tmp_path / "g.json")]) == 0
        assert from_json(json.loads((tmp_path / "g.json").read_text())).nodes
    else:
        assert code == 3 and case.phrase.lower() in err.lower(), err
    assert not (folder / MARKER_NAME).exists()
    assert "evil_layers_module" not in sys.modules


def test_cli_shows_hostile_models_statically_and_refuses_to_run_them(corpus, tmp_path):
    import numpy as np

    folder, cases = corpus
    lambda_file = str(cases["lambda bytecode (.keras)"].path)
    summary = _cli("summary", lambda_file, "--format", "csv")
    assert summary.returncode == 0, summary.stderr
    assert "evil" in summary.stdout and "Traceback" not in summary.stderr
    graph = _cli("graph", str(cases["layer naming os.system"].path), "-o", str(tmp_path / "g.json"))
    assert graph.returncode == 0, graph.stderr
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((2, 3), "float32"))
    run = _cli("activations", lambda_file, "--layer", "evil", "--input", str(data), "-o", str(tmp_path / "a.npy"))
    assert run.returncode == 3 and "trust" in run.stderr.lower() and "Traceback" not in run.stderr
    huge = _cli("summary", str(cases["absurd Dense units"].path))  # refused by a limit: shown from its config
    assert huge.returncode == 0 and "max_declared_dim" in huge.stderr and "dense" in huge.stdout
    assert not (folder / MARKER_NAME).exists()


# ------------------------------------------------------------------ hostile data files
def test_pickled_npy_and_npz_are_refused_and_never_run(tmp_path):
    import numpy as np

    from inspector.io.inputs import load_data_file

    marker = tmp_path / MARKER_NAME
    payload = np.array([CreatesMarker(marker)], dtype=object)
    np.save(tmp_path / "evil.npy", payload, allow_pickle=True)
    np.savez(tmp_path / "evil.npz", x=payload)
    for name in ("evil.npy", "evil.npz"):
        with pytest.raises(inspector.InputDataError):
            load_data_file(tmp_path / name)
    assert not marker.exists()


def test_npy_header_claiming_terabytes_is_refused_before_reading(tmp_path):

    path = tmp_path / "huge.npy"
    path.write_bytes(terabyte_npy_header())
    from inspector.io.inputs import load_data_file

    with pytest.raises(inspector.LimitExceededError, match="max_data_bytes"):
        load_data_file(path)


@pytest.mark.parametrize("damaged", [[1], {"a": 1}, None, 3])
def test_scanner_survives_damaged_class_names(damaged):
    """Found by the fuzz test: a class_name that is a list or dict must not crash the scan."""
    from inspector.model.scan import code_references

    layers = [{"class_name": damaged, "module": "keras.layers", "config": {"vocabulary": "/etc/passwd"}, "name": "l"},
              {"class_name": damaged, "module": "os", "config": {}, "name": "m"}]
    found = code_references({"class_name": "Functional", "config": {"layers": layers}})
    assert [path for path, _ in found] == ["m"]


@pytest.mark.parametrize(("reference", "needs_trust"), [
    ({"module": "keras.layers", "class_name": "Dense"}, False),
    ({"module": "keras.src.models.functional", "class_name": "Functional"}, False),
    ({"module": "keras", "class_name": "DTypePolicy"}, False),
    ({"module": "keras.initializers", "class_name": "GlorotUniform"}, False),
    ({"module": "keras.activations", "class_name": "function", "config": "relu"}, False),
    ({"module": "keras.utils", "class_name": "get_file"}, True),
    ({"module": "keras.src.utils.file_utils", "class_name": "get_file"}, True),
    ({"module": "keras.config", "class_name": "enable_unsafe_deserialization"}, True),
    ({"module": "keras.models", "class_name": "function", "config": "load_model"}, True),
    ({"module": "keras", "class_name": "function", "config": "Input"}, True),
    ({"module": "builtins", "class_name": "function", "config": "gelu"}, True),
    ({"class_name": "function", "config": "relu"}, True),
    ({"module": "kerasx.layers", "class_name": "Dense"}, True),
])
def test_configs_may_name_keras_model_parts_only(reference, needs_trust):
    from inspector.model.scan import code_references

    layer = {"class_name": "Dense", "name": "d", "config": {"name": "d", "kernel_initializer": reference}}
    assert bool(code_references({"class_name": "Sequential", "config": {"layers": [layer]}})) == needs_trust
