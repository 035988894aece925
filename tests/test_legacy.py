"""Files in the style of standalone Keras 1.x / 2.0 (2017): the static view shows them, no TensorFlow needed."""

from __future__ import annotations

import json
import zipfile

import h5py
import numpy as np
import pytest
from keras1_files import keras1_file
from zoo import keras2_h5_with_layer

import inspector
from inspector import Source
from inspector.io.files import iter_layer_configs, read_model_file
from inspector.model.legacy import normalize_config
from inspector.model.shape_inference import infer_shapes
from inspector.model.static import graph_from_config, static_graph


def _keras1_file(path, config: dict, weights: dict[str, dict[str, tuple[int, ...]]]) -> str:
    """A Keras 1.2 file whose weights are zeros of the given shapes."""
    return keras1_file(path, config, {layer: {w: np.zeros(shape) for w, shape in arrays.items()}
                                      for layer, arrays in weights.items()})


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


def test_normalize_tf2_augmentation_lookup_and_several_axes():
    """tf.keras 2's rng_type and Discretization's trainable are dropped; a LayerNormalization over two axes is read
    by Keras 3's new deserializer, since its legacy loader keeps a one-entry axis list only (conformance corpus)."""
    fixed, notes = normalize_config({"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"name": "x", "batch_input_shape": [None, 4, 6, 5]}},
        {"class_name": "RandomFlip", "config": {"name": "flip", "rng_type": "stateful", "mode": "horizontal"}},
        {"class_name": "Discretization", "config": {"name": "buckets", "trainable": True, "bin_boundaries": [0.0]}},
        {"class_name": "LayerNormalization", "config": {"name": "ln", "axis": [1, 2]}},
        {"class_name": "LayerNormalization", "config": {"name": "ln_last", "axis": [3]}}]}})
    flip, buckets, ln, ln_last = fixed["config"]["layers"][1:]
    assert "rng_type" not in flip["config"] and "trainable" not in buckets["config"]
    assert ln["module"] == "keras.layers" and ln["config"]["axis"] == [1, 2]
    assert "module" not in ln_last  # Keras 3's legacy loader reads a one-entry list as its integer
    assert len(notes) == 3


def test_static_view_infers_shapes_keras_2_did_not_record(real_models):
    """The Teachable Machine file (tf.keras 2.4, MobileNetV2 nested twice): its static view gets every shape, computed by Keras's shape arithmetic without building it."""
    model_file = read_model_file(real_models / "2nithing_keras_model.h5")
    graph = infer_shapes(graph_from_config(normalize_config(model_file.config)[0], model_file.weights))
    assert graph.source == Source.STATIC
    unknown = [n.id for n, _ in graph.walk() if not n.output_shapes or None in n.output_shapes]
    assert unknown == []
    assert graph.node("sequential_1/model1").output_shapes == ((None, 7, 7, 1280),)
    assert graph.nodes[-1].output_shapes == ((None, 2),)


def test_teachable_machine_file_loads_untrusted_and_computes_mobilenet_features(real_models):
    """tf.keras 2 wrote the nested MobileNetV2's single output as a one-element list; unwrapped, Keras 3 loads the
    file, and the features equal an independently built MobileNetV2(alpha=0.35) holding the file's own weights."""
    import keras

    path = real_models / "2nithing_keras_model.h5"
    model = inspector.load_model(path)  # untrusted
    assert any("Unwrapped the one-element output_layers of nested model 'model1'" in note
               for note in inspector.model.loading.load_info(model).notes)
    reference = keras.applications.MobileNetV2(input_shape=(224, 224, 3), alpha=0.35, weights=None,
                                               include_top=False)
    with h5py.File(path, "r") as f:
        stored = f["model_weights/sequential_1"]
        copied = 0
        for layer in reference.layers:
            if layer.weights:
                # tf.keras 2 named a depthwise kernel "depthwise_kernel"; Keras 3 names it "kernel"
                names = [w.name if f"{layer.name}/{w.name}:0" in stored else f"depthwise_{w.name}"
                         for w in layer.weights]
                layer.set_weights([stored[f"{layer.name}/{name}:0"][()] for name in names])
                copied += len(layer.weights)
        head = f["model_weights/sequential_3"]
        w1, b1 = head["dense_Dense1/kernel:0"][()], head["dense_Dense1/bias:0"][()]
        w2 = head["dense_Dense2/kernel:0"][()]
    assert copied == len(model.weights) - 3 == 260  # every stored array but the head's three
    X = np.random.default_rng(0).uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    features = inspector.inspect_layer(model, "sequential_1/model1", X)
    expected = np.asarray(reference.predict(X, verbose=0))
    assert features.shape == (2, 7, 7, 1280)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)
    # the head, in NumPy: global average pooling, Dense(100, relu), Dense(2, softmax, no bias)
    hidden = np.maximum(expected.mean(axis=(1, 2)) @ w1 + b1, 0)
    logits = hidden @ w2
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(X, verbose=0), probabilities, rtol=1e-4, atol=1e-5)


def test_nested_model_structure_failure_is_not_blamed_on_the_weights(real_models, tmp_path):
    """Keras 3's own failure on the raw Teachable Machine file (before our unwrapping) is explained as a
    structure mismatch between a nested model and the next layer, not as mismatched weights."""
    import keras

    from inspector.model.loading import _explain_keras_failure

    path = real_models / "2nithing_keras_model.h5"
    model_file = read_model_file(path)
    # every normalisation but the unwrapping, so Keras 3 gets as far as connecting the nested model
    fixed, _ = normalize_config(model_file.config)
    inner = next(lc for _, lc in iter_layer_configs(fixed) if lc["config"].get("name") == "model1")["config"]
    inner["input_layers"], inner["output_layers"] = [inner["input_layers"]], [inner["output_layers"]]
    raw = tmp_path / "raw.h5"
    raw.write_bytes(path.read_bytes())
    with h5py.File(raw, "r+") as f:
        f.attrs["model_config"] = json.dumps(fixed)
    with pytest.raises(Exception) as keras_error:
        keras.saving.load_model(raw, compile=False)
    explained = _explain_keras_failure(keras_error.value, model_file, trust=False)
    assert "expects 1 input(s) but received 2" in explained.what
    assert "not a problem with the weights" in explained.what
    assert "weights do not match" not in str(explained)


def test_a_wrapped_layer_given_its_module_is_still_scanned(tmp_path):
    """tf.keras 2 wrappers get module keras.layers for their inner layer: a Lambda or a non-layer inside is refused."""
    for inner in ({"class_name": "Lambda", "config": {"name": "l", "function": ["4wEAAAAAAAAA", None, None],
                                                      "function_type": "lambda"}},
                  {"class_name": "Input", "config": {"shape": [4]}}):  # keras.layers.Input: a function
        path = keras2_h5_with_layer(tmp_path / f"{inner['class_name']}.h5", {"class_name": "TimeDistributed",
                                    "config": {"name": "td", "trainable": True, "layer": inner}},
                                    input_shape=(3, 4), units=2)
        with pytest.raises(inspector.UnsafeModelError):
            inspector.load_model(path)


def _as_keras_3_9_wrote(path, out) -> None:
    """Re-save a Keras 3.15 ``.keras`` file as Keras 3.0-3.9 wrote it: a nested Functional's one input and one
    output as one-element lists (as in the files Keras 3.0.5, 3.4.1 and 3.9.2 wrote in the old-Keras 3 sweep),
    and 3.9.2 as the recorded version."""
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                for layer in config["config"]["layers"]:
                    if layer["class_name"] == "Functional":
                        for key in ("input_layers", "output_layers"):
                            layer["config"][key] = [layer["config"][key]]
                data = json.dumps(config).encode()
            elif item.filename == "metadata.json":
                data = json.dumps({**json.loads(data), "keras_version": "3.9.2"}).encode()
            target.writestr(item, data)


def test_keras_3_files_keep_the_one_element_lists_of_a_nested_model(tmp_path):
    """Keras 3.15 reads a Keras 3.0-3.9 nested model's one-element input and output lists as Keras 3 meant them:
    the file loads untouched, with no tf.keras 2 note, and computes what the model it was saved from computed
    (a tf.keras 2 file's lists are still unwrapped)."""
    import keras

    inner_input = keras.Input((5,), name="enc_in")
    encoder = keras.Model(inner_input, keras.layers.Dense(3, name="enc_d")(inner_input), name="encoder")
    a, b = keras.Input((5,), name="a"), keras.Input((5,), name="b")
    joined = keras.layers.Concatenate(name="cat")([encoder(a), encoder(b), a])
    model = keras.Model([a, b], keras.layers.Dense(2, name="head")(joined), name="siamese")
    model.save(tmp_path / "new.keras")
    path = tmp_path / "keras_3_9.keras"
    _as_keras_3_9_wrote(tmp_path / "new.keras", path)

    config = read_model_file(path).config
    assert normalize_config(config, keras_version="3.9.2") == (config, [])
    assert len(normalize_config(config, keras_version="2.15.0")[1]) == 2  # tf.keras 2: unwrapped, as before
    X = [np.random.default_rng(0).normal(size=(4, 5)).astype("float32") for _ in range(2)]
    loaded = inspector.load_model(path)
    assert inspector.model.loading.load_info(loaded).notes == ()
    np.testing.assert_allclose(np.asarray(loaded(X)), np.asarray(model(X)), rtol=1e-6)
    for graph in (inspector.build_graph(loaded), static_graph(path)):
        assert [graph.node(i).output_shapes for i in ("encoder", "encoder@1", "cat")] == \
            [((None, 3),), ((None, 3),), ((None, 11),)], graph.source
        assert graph.total_params == model.count_params()
