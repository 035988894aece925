"""Loading real model files: formats, sources, trust, legacy files, and the graph walk."""

from __future__ import annotations

import io
import shutil

import keras
import numpy as np
import pytest
import zoo

import inspector
from inspector import NodeKind, Source
from inspector.model.loading import load_info
from inspector.model.static import static_graph


def _save(model: keras.Model, path) -> str:
    model.save(path)
    return str(path)


@pytest.mark.parametrize("name", zoo.SAFE)
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_round_trip_keeps_params_and_graph(name, suffix, tmp_path):
    model = zoo.ZOO[name]()
    if name == "masking" and suffix == ".h5":
        pytest.skip("Keras 3 cannot read its own .h5 of a mask_zero Embedding (tested separately)")
    path = _save(model, tmp_path / f"{name}{suffix}")
    loaded = inspector.load_model(path)
    assert loaded.count_params() == model.count_params()
    graph = inspector.build_graph(path)
    assert graph.source == Source.KERAS
    assert graph.total_params == model.count_params()
    assert sum(n.params for n in graph.nodes) == model.count_params()
    walked = inspector.build_graph(model)
    assert [n.id for n, _ in graph.walk()] == [n.id for n, _ in walked.walk()]


@pytest.mark.parametrize("name", zoo.SAFE)
def test_static_parse_agrees_with_keras_walk(name, tmp_path):
    path = _save(zoo.ZOO[name](), tmp_path / f"{name}.keras")
    walked, parsed = inspector.build_graph(path), static_graph(path)
    assert [(n.id, n.params, n.trainable_params) for n, _ in parsed.walk()] == [
        (n.id, n.params, n.trainable_params) for n, _ in walked.walk()]
    key = lambda e: (e.src, e.dst, e.src_index, e.dst_index)  # noqa: E731
    assert sorted(map(key, parsed.expanded().edges)) == sorted(map(key, walked.expanded().edges))
    assert parsed.inputs == walked.inputs and parsed.outputs == walked.outputs


def test_sources_bytes_and_file_objects_and_content_detection(tmp_path):
    model = zoo.sequential_mlp()
    path = _save(model, tmp_path / "m.keras")
    data = open(path, "rb").read()
    assert inspector.load_model(data).count_params() == model.count_params()
    upload = io.BytesIO(data)
    upload.name = "upload.keras"
    assert inspector.load_model(upload).count_params() == model.count_params()
    renamed = tmp_path / "misnamed.h5"  # a .keras archive under the wrong name still opens
    shutil.copy(path, renamed)
    assert inspector.load_model(renamed).count_params() == model.count_params()
    assert load_info(inspector.load_model(renamed)).format == "keras"


def test_shared_layer_is_two_nodes_counted_once(tmp_path):
    graph = inspector.build_graph(zoo.shared_layer())
    first, second = graph.node("shared_dense"), graph.node("shared_dense@1")
    assert (first.call_index, second.call_index) == (0, 1)
    assert second.shared_with == "shared_dense"
    assert first.params == first.layer_params == 25 and second.params == 0 and second.layer_params == 25
    assert graph.predecessors("merge") == ["shared_dense", "shared_dense@1"]


def test_nested_three_levels_expand_and_sum():
    model = zoo.nested_3_levels()
    graph = inspector.build_graph(model)
    middle = graph.node("level2")
    assert middle.kind == NodeKind.MODEL and "level2" in graph.nested
    deepest = graph.nested["level2"].nested["level2/level3"]
    assert [n.id for n in deepest.nodes][-2:] == ["level2/level3/deep_dense", "level2/level3/deep_bn"]
    assert middle.params == sum(n.params for n in graph.nested["level2"].nodes)
    assert graph.node("level2/level3/deep_bn").non_trainable_params == 8
    flat = graph.expanded()
    ids = {n.id for n in flat.nodes}
    assert all(e.src in ids and e.dst in ids for e in flat.edges)
    assert {"level2", "level2/level3"} <= set(flat.clusters)
    assert inspector.build_graph(model, expand_nested=False).nested == {}


def test_multi_input_output_dict_order():
    graph = inspector.build_graph(zoo.multi_in_out_dict())
    assert graph.inputs == ("image", "meta")
    assert graph.outputs == ("label", "score")
    assert graph.node("join").input_shapes == ((None, 72), (None, 3))


def test_subclassed_model_is_one_marked_node():
    model = zoo.subclassed()
    graph = inspector.build_graph(model)
    assert len(graph.nodes) == 1 and graph.nodes[0].kind == NodeKind.SUBCLASSED
    assert graph.total_params == model.count_params() == graph.nodes[0].params
    assert "subclassed" in graph.warnings[0]


def test_frozen_layer_params_are_non_trainable():
    graph = inspector.build_graph(zoo.frozen_layers())
    frozen = graph.node("frozen_dense")
    assert not frozen.trainable and frozen.non_trainable_params == 24 and frozen.trainable_params == 0


def test_lambda_refused_untrusted_but_graph_still_shown(tmp_path):
    path = _save(zoo.lambda_abs(), tmp_path / "lambda.keras")
    with pytest.raises(inspector.UnsafeModelError) as info:
        inspector.load_model(path)
    assert "abs" in str(info.value) and "trust" in str(info.value)
    graph = inspector.build_graph(path)
    assert graph.source == Source.STATIC
    assert [n.id for n in graph.opaque_nodes] == ["abs"]
    assert "Static view" in graph.warnings[0]
    trusted = inspector.load_model(path, trust=True)
    np.testing.assert_allclose(trusted.predict(np.array([[-1.0, 2.0, -3.0]]), verbose=0), [[1.0, 2.0, 3.0]])


def test_keras_own_mask_zero_h5_gets_a_real_explanation(tmp_path):
    path = _save(zoo.masking(), tmp_path / "masking.h5")
    with pytest.raises(inspector.ModelLoadError) as info:
        inspector.load_model(path)
    text = str(info.value)
    assert "mask_zero" in text and ".keras" in text
    graph = inspector.build_graph(path)
    assert graph.source == Source.STATIC and graph.total_params == 85


def test_weights_only_file_is_explained(tmp_path):
    model = zoo.sequential_mlp()
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    with pytest.raises(inspector.WeightsOnlyError, match="only weights"):
        inspector.load_model(path)


# ---------------------------------------------------------------- real files from public repositories
REAL_PARAMS = {
    "fml_keras_3layer_batch_norm.h5": 4921,
    "fml_keras_jetTagger_Conv2D_small.h5": 891,
    "alxshev_imdb_model.h5": 160305,
    "fc_fer2013_big_XCEPTION.54-0.66.hdf5": 208871,
    "fc_gender_mini_XCEPTION.21-0.95.hdf5": 52658,
    "fc_tiny_XCEPTION_KDEF.hdf5": 18314,
    "AamanInamdar263_model.h5": 2945,
    "AamanInamdar263_my_model.keras": 2945,
    "Anand-Ambastha_my_model.keras": 662,
    "Anand-Ambastha_my_model_good.h5": 662,
    "lyhue1991_boston_housing_model.h5": 151,
}


@pytest.mark.parametrize("name", sorted(REAL_PARAMS))
def test_real_models_load_and_static_view_agrees(real_models, name):
    model = inspector.load_model(real_models / name)
    assert model.count_params() == REAL_PARAMS[name]
    graph = inspector.build_graph(model)
    assert graph.total_params == REAL_PARAMS[name]
    parsed = static_graph(real_models / name)
    assert parsed.total_params == REAL_PARAMS[name]
    assert parsed.trainable_params == graph.trainable_params


def test_real_boston_batch_input_shape_is_not_doubled(real_models):
    model = inspector.load_model(real_models / "lyhue1991_boston_housing_model.h5")
    assert tuple(model.inputs[0].shape) == (None, 13)
    assert model.predict(np.zeros((2, 13), "float32"), verbose=0).shape == (2, 1)
    assert any("batch_input_shape" in note for note in load_info(model).notes)


def test_real_teachable_machine_loads_with_the_stored_parameter_counts(real_models):
    graph = inspector.build_graph(real_models / "2nithing_keras_model.h5")  # loads since issue 15 (tests/test_legacy.py)
    assert graph.source != Source.STATIC
    mobilenet = graph.node("sequential_1/model1")
    assert mobilenet.params == 410208  # MobileNetV2 alpha=0.35, as the stored weight shapes say
    assert graph.total_params == 410208 + 128300


def test_real_weights_only_file(real_models):
    with pytest.raises(inspector.WeightsOnlyError):
        inspector.build_graph(real_models / "fml_proxy_jet_classifier.h5")
