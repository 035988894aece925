"""Files in the style of standalone Keras 1.x / 2.0 (2017): the static view shows them, no TensorFlow needed."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import inspector
from inspector import Source
from inspector.model.legacy import normalize_config
from inspector.model.static import static_graph


def _keras1_file(path, config: dict, weights: dict[str, dict[str, tuple[int, ...]]]) -> str:
    """Write an .h5 the way Keras 1.2 did: byte-string attributes, weights under model_weights/<layer>."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"1.2.2"
        f.attrs["backend"] = b"theano"
        f.attrs["model_config"] = json.dumps(config).encode()
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([name.encode() for name in weights])
        for layer, arrays in weights.items():
            g = group.create_group(layer)
            g.attrs["weight_names"] = np.array([f"{layer}_{w}".encode() for w in arrays])
            for w, shape in arrays.items():
                g.create_dataset(f"{layer}_{w}", data=np.zeros(shape, "float32"))
    return str(path)


KERAS1_SEQUENTIAL = {"class_name": "Sequential", "config": [
    {"class_name": "Embedding", "config": {"name": "embedding_1", "input_dim": 50, "output_dim": 8,
                                           "input_length": 10, "batch_input_shape": [None, 10],
                                           "input_dtype": "int32", "dropout": 0.0}},
    {"class_name": "Convolution1D", "config": {"name": "convolution1d_1", "nb_filter": 4, "filter_length": 3,
                                               "activation": "relu", "border_mode": "valid"}},
    {"class_name": "GlobalMaxPooling1D", "config": {"name": "globalmaxpooling1d_1"}},
    {"class_name": "Dense", "config": {"name": "dense_1", "output_dim": 1, "activation": "sigmoid"}},
]}

KERAS1_MERGE = {"class_name": "Model", "config": {
    "name": "model_1",
    "layers": [
        {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 3, 32, 32], "name": "input_1", "input_dtype": "float32"}},
        {"class_name": "Convolution2D", "name": "conv_a", "inbound_nodes": [[["input_1", 0, 0]]],
         "config": {"name": "conv_a", "nb_filter": 2, "nb_row": 3, "nb_col": 3, "dim_ordering": "th"}},
        {"class_name": "Convolution2D", "name": "conv_b", "inbound_nodes": [[["input_1", 0, 0]]],
         "config": {"name": "conv_b", "nb_filter": 2, "nb_row": 1, "nb_col": 1, "dim_ordering": "th"}},
        {"class_name": "Merge", "name": "merge_1", "inbound_nodes": [[["conv_a", 0, 0], ["conv_b", 0, 0]]],
         "config": {"name": "merge_1", "mode": "concat", "concat_axis": 1}},
    ],
    "input_layers": [["input_1", 0, 0]],
    "output_layers": [["merge_1", 0, 0]],
}}


def test_keras1_sequential_static_view(tmp_path):
    path = _keras1_file(tmp_path / "imdb_cnn.h5", KERAS1_SEQUENTIAL, {
        "embedding_1": {"W": (50, 8)}, "convolution1d_1": {"W": (3, 1, 8, 4), "b": (4,)},
        "globalmaxpooling1d_1": {}, "dense_1": {"W": (4, 1), "b": (1,)}})
    graph = static_graph(path)
    assert [n.id for n in graph.nodes] == ["embedding_1_input", "embedding_1", "convolution1d_1",
                                           "globalmaxpooling1d_1", "dense_1"]
    assert graph.nodes[0].output_shapes == ((None, 10),)
    assert graph.total_params == 400 + 96 + 4 + 4 + 1
    assert graph.node("convolution1d_1").activation == "relu"


def test_keras1_merge_functional_static_view(tmp_path):
    path = _keras1_file(tmp_path / "merge.h5", KERAS1_MERGE, {
        "input_1": {}, "conv_a": {"W": (2, 3, 3, 3), "b": (2,)}, "conv_b": {"W": (2, 3, 1, 1), "b": (2,)},
        "merge_1": {}})
    graph = inspector.build_graph(path)  # Keras 3 cannot rebuild Keras 1 layers: falls back to static
    assert graph.source == Source.STATIC
    assert graph.predecessors("merge_1") == ["conv_a", "conv_b"]
    assert graph.total_params == 56 + 8
    assert graph.nodes[0].output_shapes == ((None, 3, 32, 32),)
    assert "Static view" in graph.warnings[0]


def test_keras1_model_load_is_a_clear_error(tmp_path):
    path = _keras1_file(tmp_path / "merge.h5", KERAS1_MERGE, {"conv_a": {"W": (2, 3, 3, 3), "b": (2,)}})
    with pytest.raises(inspector.ModelLoadError) as info:
        inspector.load_model(path)
    assert "1.2.2" in str(info.value) and "static view" in str(info.value).lower()


def test_normalize_bare_list_sequential_and_tf2_arguments():
    fixed, notes = normalize_config({"class_name": "Sequential", "config": [
        {"class_name": "DepthwiseConv2D", "config": {"name": "dw", "groups": 1, "batch_input_shape": [None, 8, 8, 3]}},
        {"class_name": "LSTM", "config": {"name": "lstm", "time_major": False}}]})
    layers = fixed["config"]["layers"]
    assert [lc["class_name"] for lc in layers] == ["InputLayer", "DepthwiseConv2D", "LSTM"]
    assert layers[0]["config"]["batch_shape"] == [None, 8, 8, 3]
    assert "groups" not in layers[1]["config"] and "time_major" not in layers[2]["config"]
    assert len(notes) == 4


def test_static_view_infers_shapes_keras_2_did_not_record(real_models):
    """The Teachable Machine file (tf.keras 2.4, MobileNetV2 nested twice) does not load in Keras 3;
    its static view still gets every shape, computed by Keras's shape arithmetic without building it."""
    graph = inspector.build_graph(real_models / "2nithing_keras_model.h5")
    assert graph.source == Source.STATIC
    unknown = [n.id for n, _ in graph.walk() if not n.output_shapes or None in n.output_shapes]
    assert unknown == []
    assert graph.node("sequential_1/model1").output_shapes == ((None, 7, 7, 1280),)
    assert graph.nodes[-1].output_shapes == ((None, 2),)
