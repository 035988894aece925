"""Weights predicted from the config, and the layout begun with them while the stored weights are read.

The predictions are checked against the weights Keras itself builds for each layer (never against our own
static view), and the layout begun early is checked to be the one the Graph page then draws.
"""

from __future__ import annotations

import shutil
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

import keras
import pytest

import inspector
from inspector.io.files import ModelFileReading, StoredWeight, read_model_file
from inspector.model import static
from inspector.model.weight_shapes import layer_weights, predict_weights
from inspector.rendering import viewer
from inspector.rendering.dot import view_to_dot

L = keras.layers
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


def _every_rule() -> keras.Model:
    """One model with a layer of each class the prediction knows, in the configurations that change the weights."""
    tokens = keras.Input((20,), dtype="int32", name="tokens")
    x = L.Embedding(100, 8)(tokens)
    x = L.Bidirectional(L.LSTM(6, return_sequences=True))(x)
    x = L.GRU(5, return_sequences=True)(x)
    x = L.GRU(5, reset_after=False, return_sequences=True, use_bias=True)(x)
    x = L.SimpleRNN(3, return_sequences=True, use_bias=False)(x)
    x = L.TimeDistributed(L.Dense(4))(x)
    x = L.Conv1D(6, 3, groups=2)(x)
    x = L.SeparableConv1D(4, 3, depth_multiplier=2)(x)
    x = L.DepthwiseConv1D(3, use_bias=False)(x)
    x = L.LayerNormalization(center=False)(x)
    x = L.PReLU(shared_axes=[1])(x)
    x = L.GroupNormalization(groups=2)(x)
    x = L.Conv1DTranspose(4, 3, use_bias=False)(x)
    x = L.BatchNormalization(scale=False)(x)
    x = L.BatchNormalization(center=False, scale=False)(x)
    text = L.GlobalAveragePooling1D()(x)
    image = keras.Input((12, 12, 3), name="image")
    y = L.Normalization()(image)
    y = L.Normalization(mean=[0.5, 0.5, 0.5], variance=[1.0, 1.0, 1.0])(y)
    y = L.ZeroPadding2D(1)(y)
    y = L.Conv2D(8, 3, strides=2, data_format="channels_last")(y)
    y = L.SeparableConv2D(8, 3, padding="same")(y)
    y = L.DepthwiseConv2D(3, depth_multiplier=2)(y)
    y = L.Cropping2D(1)(y)
    y = L.Conv2DTranspose(4, 2, strides=2)(y)
    y = L.BatchNormalization(axis=1)(y)
    y = L.LayerNormalization(axis=[1, 2, 3], scale=False)(y)
    y = L.RMSNormalization(axis=[1, 2])(y)
    y = L.AveragePooling2D(2)(y)
    y = L.GlobalMaxPooling2D()(y)
    volume = keras.Input((6, 6, 6, 2), name="volume")
    z = L.Conv3D(3, 2)(volume)
    z = L.Conv3DTranspose(2, 2, use_bias=False)(z)
    z = L.GlobalAveragePooling3D()(z)
    out = L.Dense(2, activation="softmax")(L.Concatenate()([text, y, z]))
    return keras.Model([tokens, image, volume], out, name="every_rule")


def _keras_weights(model: keras.Model) -> dict[str, tuple[list[tuple[int, ...]], int, int]]:
    """Keras's own view of each layer: its weights' shapes, trainable and non-trainable counts."""
    def count(weights) -> int:
        return sum(int(w.numpy().size) for w in weights)

    return {layer.name: (sorted(tuple(w.shape) for w in layer.weights), count(layer.trainable_weights),
                         count(layer.non_trainable_weights)) for layer in model.layers if layer.weights}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, dict]]:
    folder = tmp_path_factory.mktemp("predicted")
    out = []
    for model in (_every_rule(), keras.applications.EfficientNetB0(weights=None),
                  keras.applications.MobileNetV2(weights=None, alpha=0.35)):
        path = folder / f"{model.name}.keras"
        model.save(path)
        out.append((path, _keras_weights(model)))
    return out


def test_predicted_weights_are_the_ones_keras_builds(saved) -> None:
    for path, expected in saved:
        graph = inspector.static_graph(path)
        predicted = predict_weights(graph)
        assert predicted is not None, path.name
        assert {name: sorted(w.shape for w in weights) for name, weights in predicted.items() if weights} == {
            name: shapes for name, (shapes, _, _) in expected.items()}, path.name
        # with the static view's reading of which weights train, the counts are Keras's too
        with_predicted = static._with_weights(graph, predicted, set())
        assert {n.name: (sorted(w.shape for w in n.weights), n.trainable_params, n.non_trainable_params)
                for n in with_predicted.nodes if n.weights} == expected, path.name


def test_the_stored_weights_of_batch_normalization_without_gamma_or_beta_are_read_as_keras_counts_them(
        saved) -> None:
    """Keras 3 stores variables by index: without gamma (scale=False) the moving statistics are 1 and 2, not 2
    and 3."""
    path, expected = saved[0]
    graph = inspector.static_graph(path)
    for node in graph.nodes:
        if node.class_name == "BatchNormalization":
            assert (node.trainable_params, node.non_trainable_params) == expected[node.name][1:], node.name
    assert graph.total_params == sum(t + n for _, t, n in expected.values())


@pytest.mark.parametrize(("cls", "config", "shape"), [
    ("MyCustomLayer", {"units": 3}, (None, 4)),  # a class this module does not know
    ("Dense", {"units": 3}, (None, None)),  # the input dimension the kernel needs is unknown
    ("Dense", {"units": 3, "lora_rank": 2}, (None, 4)),  # LoRA adds weights of its own
    ("Dense", {"units": 3, "dtype": {"class_name": "QuantizedDTypePolicy", "config": {"name": "int8_from_float32"}}},
     (None, 4)),
    ("Conv2D", {"filters": 4, "kernel_size": "x"}, (None, 8, 8, 3)),  # a config Keras would refuse
    ("Conv2D", {"filters": 4, "kernel_size": 3, "groups": 2}, (None, 8, 8, 3)),
    ("BatchNormalization", {"axis": 7}, (None, 4)),
    ("Bidirectional", {"layer": {"class_name": "MyCell", "config": {}}}, (None, 5, 4)),
])
def test_what_cannot_be_predicted_is_none(cls: str, config: dict, shape: tuple) -> None:
    assert layer_weights(cls, config, (shape,)) is None


def test_one_unpredictable_layer_makes_the_whole_prediction_none(saved) -> None:
    graph = inspector.static_graph(saved[0][0])
    custom = replace(graph.nodes[-1], class_name="MyCustomLayer")
    assert predict_weights(replace(graph, nodes=(*graph.nodes[:-1], custom))) is None
    assert predict_weights(inspector.static_graph(inspector.get_sample("nested_gan").path)) is not None


def _pending(path: Path) -> tuple[ModelFileReading, list[inspector.ModelGraph], Callable[[inspector.ModelGraph], None]]:
    """A reading of ``path`` whose weights' walk has not ended, and a ``predicted`` callback that keeps the graph
    it is given (in the list), then ends the walk."""
    whole = read_model_file(path, vet_arrays=False)
    walk: Future = Future()
    seen: list[inspector.ModelGraph] = []

    def predicted(graph: inspector.ModelGraph) -> None:
        assert not walk.done(), "called while the walk goes on"
        seen.append(graph)
        walk.set_result((whole.weights, whole.outside_data))

    return ModelFileReading(replace(whole, weights={}, outside_data=()), walk), seen, predicted


def _dot(graph: inspector.ModelGraph) -> str:
    view, drawing = viewer._prepared(graph)
    return view_to_dot(view, tooltips=False, **drawing)


def test_static_graph_hands_over_the_predicted_graph_while_the_weights_are_walked(saved) -> None:
    for path, _ in saved:
        reading, seen, predicted = _pending(path)
        graph = static.static_graph(reading, predicted=predicted)
        assert len(seen) == 1 and seen[0].total_params == graph.total_params
        assert _dot(seen[0]) == _dot(graph), f"{path.name}: the early drawing is the one drawn"
    finished: list[inspector.ModelGraph] = []
    static.static_graph(ModelFileReading(read_model_file(saved[0][0], vet_arrays=False)), predicted=finished.append)
    assert not finished, "not called once the stored weights are there"


def test_a_wrong_prediction_never_reaches_the_graph_returned(saved, monkeypatch: pytest.MonkeyPatch) -> None:
    path = saved[0][0]
    wrong = {name: (StoredWeight("kernel", (1,), "float32"),) for name in predict_weights(inspector.static_graph(path))}
    monkeypatch.setattr(static, "predict_weights", lambda graph: wrong)
    reading, seen, predicted = _pending(path)
    graph = static.static_graph(reading, predicted=predicted)
    assert seen and seen[0].total_params != graph.total_params
    assert graph == inspector.static_graph(read_model_file(path, vet_arrays=False))
    assert [n.params for n in graph.nodes] == [n.params for n in inspector.static_graph(path).nodes]


@pytest.fixture
def dot_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The DOT texts `dot` lays out from here on (the layouts kept from other tests forgotten)."""
    runs: list[str] = []
    real = viewer.run_dot

    def counted(source: str, format: str = "svg", **kwargs) -> bytes:
        runs.append(source)
        return real(source, format, **kwargs)

    monkeypatch.setattr(viewer, "run_dot", counted)
    monkeypatch.setattr(viewer, "_LAID_OUT", OrderedDict())
    return runs


@needs_dot
def test_a_layout_begun_early_is_the_one_the_payload_takes(dot_runs: list[str], monkeypatch) -> None:
    graph = inspector.static_graph(inspector.get_sample("tanh_hinge").path)
    assert viewer.start_layout(graph, rankdir="LR")
    payload = viewer.viewer_payload(graph, rankdir="LR")
    assert len(dot_runs) == 1 and payload["svg"].startswith("<svg")
    assert viewer.viewer_payload(graph, rankdir="TB")["svg"] and len(dot_runs) == 2, "another drawing, laid out"
    assert not viewer.start_layout(graph, engine="browser") and len(dot_runs) == 2

    def broken(source: str, format: str = "svg", **kwargs) -> bytes:
        dot_runs.append(source)
        raise inspector.MissingDependencyError("dot failed", received="test", fix="none")

    monkeypatch.setattr(viewer, "run_dot", broken)
    viewer.start_layout(graph, show_dtypes=True)
    assert isinstance(next(reversed(viewer._LAID_OUT.values())).exception(), inspector.MissingDependencyError)
    monkeypatch.setattr(viewer, "run_dot", lambda source, format="svg", **kwargs: (dot_runs.append(source),
                                                                                   b'<svg id="again"/>')[1])
    assert 'id="again"' in viewer.viewer_payload(graph, show_dtypes=True)["svg"], "a failed layout is tried again"
    assert len(dot_runs) == 4
    for i in range(viewer._KEPT_LAYOUTS + 2):
        viewer.viewer_payload(replace(graph, name=f"drawing_{i}"))
    assert len(viewer._LAID_OUT) == viewer._KEPT_LAYOUTS


@needs_dot
def test_the_app_lays_out_a_new_upload_while_its_weights_are_read(dot_runs: list[str], monkeypatch, tmp_path) -> None:
    """The upload's graph, with weights predicted from its config, goes to `dot` while the HDF5 child walks the
    stored ones; the Graph page then draws the same DOT, so `dot` runs once for it."""
    from test_app import assert_clean, new_app, upload
    from test_app import viewer as app_viewer

    model = keras.Sequential([keras.Input((6,)), L.Dense(5), L.BatchNormalization(), L.Dense(2)], name="early_bird")
    model.save(tmp_path / "early.keras")
    from inspector.app import common

    at = new_app(page=None)  # the Graph page of the default sample
    monkeypatch.setattr(ModelFileReading, "done", lambda self: False)  # the walk outlasts the build, as on a large file
    early: list[str] = []
    monkeypatch.setattr(common, "start_layout", lambda graph, **options: early.append(graph.name)
                        or viewer.start_layout(graph, **options))
    dot_runs.clear()
    at = upload(at, "early.keras", (tmp_path / "early.keras").read_bytes())
    assert_clean(at)
    assert at.title[0].value == r"Graph · early\_bird"  # the name shown as text (settings.literal)
    assert app_viewer(at)[1]["payload"]["svg"].startswith("<svg")
    assert early == ["early_bird"], "begun with the predicted graph"
    assert len([source for source in dot_runs if "early_bird" in source]) == 1, "and the page drew that layout"
