"""Load failures name their real cause, read from the whole chain of Keras's exceptions."""

from __future__ import annotations

import base64
import json
import zipfile

import h5py
import pytest
from zoo import keras2_h5_with_layer

import inspector


def test_qkeras_class_is_named_with_its_package(tmp_path):
    path = keras2_h5_with_layer(tmp_path / "q.h5", {"class_name": "QDense", "config": {
        "name": "qd", "units": 2, "kernel_quantizer": "quantized_bits(4,0,1)" * 400}})  # a long config, as in QKeras
    with pytest.raises(inspector.ModelLoadError) as info:
        inspector.load_model(path, trust=True)
    assert "'QDense' from the QKeras package" in info.value.what
    assert "pip install qkeras" in info.value.fix and "trust=True" in info.value.fix


def test_qkeras_class_in_a_keras_file_is_named_untrusted_and_trusted(tmp_path):
    """A .keras file naming qkeras: untrusted, the scan names the module; trusted, the cause is the missing package.

    The layer's config is long (as QKeras's quantizer configs are), so Keras's own message puts the class name
    thousands of characters in, past the excerpt shown under "Received".
    """
    import keras

    path = tmp_path / "q.keras"
    keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")]).save(path)
    with zipfile.ZipFile(path) as z:
        files = {name: z.read(name) for name in z.namelist()}
    config = json.loads(files["config.json"])
    config["config"]["layers"].append({"module": "qkeras.qlayers", "class_name": "QDense", "registered_name": "QDense",
                                       "config": {"name": "qd", "units": 2, "notes": "x" * 16000}})
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, payload in files.items():
            z.writestr(name, payload)
    with pytest.raises(inspector.UnsafeModelError, match="qkeras"):
        inspector.load_model(path)
    with pytest.raises(inspector.ModelLoadError) as info:
        inspector.load_model(path, trust=True)
    assert "'QDense' from the QKeras package" in info.value.what
    assert "pip install qkeras" in info.value.fix


def test_lambda_bytecode_from_another_python_in_a_tf_keras2_h5_is_named(tmp_path):
    """tf.keras 2 stored a Lambda's function as [base64 marshal bytes, defaults, closure] in the .h5 config."""
    path = keras2_h5_with_layer(tmp_path / "lam.h5", {"class_name": "Lambda", "config": {
        "name": "double", "trainable": True, "dtype": "float32", "function_type": "lambda",
        "function": [base64.b64encode(b"\xff\x00\x00\x00").decode(), None, None], "module": "__main__",
        "output_shape": None, "output_shape_type": "raw", "output_shape_module": None, "arguments": {}}},
        input_shape=(2,), units=2)
    with pytest.raises(inspector.UnsafeModelError):  # untrusted: refused before any bytecode is read
        inspector.load_model(path)
    with pytest.raises(inspector.ModelLoadError) as info:
        inspector.load_model(path, trust=True)
    assert "bytecode written by a different Python version" in info.value.what


def test_a_keras_class_keras_cannot_locate_is_not_blamed_on_a_package(tmp_path):
    """A Keras 3 file whose wrapped layer lost its module: Keras cannot locate 'Dense', and no package is missing."""
    import keras

    path = tmp_path / "td.h5"
    keras.Sequential([keras.Input((3, 4)), keras.layers.TimeDistributed(keras.layers.Dense(2), name="td")]).save(path)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"][-1]["config"]["layer"].pop("module")
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(inspector.ModelLoadError) as info:
        inspector.load_model(path)
    assert "its own class 'Dense'" in info.value.what and "No package is missing" in info.value.what
    assert "pip install" not in info.value.fix


def test_lambda_bytecode_from_another_python_is_named(tmp_path):
    import keras

    path = tmp_path / "lam.keras"
    keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2, name="double")]).save(path)
    with zipfile.ZipFile(path) as z:
        files = {name: z.read(name) for name in z.namelist()}
    config = json.loads(files["config.json"])
    function = config["config"]["layers"][-1]["config"]["function"]["config"]
    # marshal data with a type code this Python does not know, as bytecode from another version can have
    function["code"] = base64.b64encode(b"\xff\x00\x00\x00").decode()
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, payload in files.items():
            z.writestr(name, payload)
    with pytest.raises(inspector.ModelLoadError) as info:
        inspector.load_model(path, trust=True)
    assert "bytecode written by a different Python version" in info.value.what


def test_subclassed_model_with_empty_config_says_its_code_is_needed(tmp_path):
    import keras

    class MyModel(keras.Model):  # the code the user has and the file does not
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = MyModel()
    model(keras.ops.zeros((1, 3)))
    model.save(tmp_path / "saved.keras")
    with zipfile.ZipFile(tmp_path / "saved.keras") as z:
        weights = z.read("model.weights.h5")
    path = tmp_path / "sub.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.3.3"}))
        z.writestr("config.json", json.dumps({"module": None, "class_name": "MyModel", "config": {},
                                              "registered_name": "MyModel"}))
        z.writestr("model.weights.h5", weights)
    with pytest.raises(inspector.ModelLoadError) as info:
        inspector.load_model(path, trust=True)
    assert "subclassed keras.Model ('MyModel') saved with an empty config" in info.value.what


def _l1_dist_class():
    """A user's own layer, called with a tensor by keyword (as Siamese-network code does: L1Dist()(a, other=b))."""
    import keras

    class L1Dist(keras.layers.Layer):
        def call(self, anchor, other=None):
            return keras.ops.abs(anchor - other)

    return L1Dist


def _l1_dist_file(path):
    import keras

    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    out = _l1_dist_class()(name="l1")(a, other=b)
    keras.Model([a, b], out).save(path)
    return path


def test_custom_objects_load_a_user_class_called_with_a_keyword_tensor(tmp_path):
    import numpy as np

    path = _l1_dist_file(tmp_path / "siamese.keras")
    model = inspector.load_model(path, trust=True, custom_objects={"L1Dist": _l1_dist_class()})
    a, b = np.arange(6, dtype="float32").reshape(2, 3), np.ones((2, 3), "float32") * 2
    np.testing.assert_allclose(inspector.inspect_layer(model, "l1", [a, b]), np.abs(a - b))
    graph = inspector.build_graph(path, trust=True, custom_objects={"L1Dist": _l1_dist_class()})
    assert graph.source == inspector.Source.KERAS


def test_custom_objects_need_trust(tmp_path):
    path = _l1_dist_file(tmp_path / "siamese.keras")
    with pytest.raises(inspector.UnsafeModelError, match="trust=True"):
        inspector.load_model(path, custom_objects={"L1Dist": _l1_dist_class()})
    with pytest.raises(inspector.ModelLoadError, match="'L1Dist'"):  # trusted, but the class is not given
        inspector.load_model(path, trust=True)


def test_tf_keras2_keyword_tensor_reaches_the_user_class(tmp_path):
    """tf.keras 2 stored L1Dist()(a, other=b) as [["a", 0, 0, {"other": ["b", 0, 0]}]]: the class gets a tensor."""
    import numpy as np

    path = _l1_dist_file(tmp_path / "siamese.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["keras_version"] = "2.4.0"
        config = json.loads(f.attrs["model_config"])
        dtype = "float32"
        config["config"]["layers"] = [
            {"class_name": "InputLayer", "name": "a", "inbound_nodes": [],
             "config": {"batch_input_shape": [None, 3], "dtype": dtype, "sparse": False, "name": "a"}},
            {"class_name": "InputLayer", "name": "b", "inbound_nodes": [],
             "config": {"batch_input_shape": [None, 3], "dtype": dtype, "sparse": False, "name": "b"}},
            {"class_name": "L1Dist", "name": "l1", "config": {"name": "l1", "trainable": True, "dtype": dtype},
             "inbound_nodes": [[["a", 0, 0, {"other": ["b", 0, 0]}]]]}]
        config["config"]["input_layers"] = [["a", 0, 0], ["b", 0, 0]]
        config["config"]["output_layers"] = [["l1", 0, 0]]
        f.attrs["model_config"] = json.dumps(config)
    model = inspector.load_model(path, trust=True, custom_objects={"L1Dist": _l1_dist_class()})
    a, b = np.arange(6, dtype="float32").reshape(2, 3), np.full((2, 3), 2.0, "float32")
    np.testing.assert_allclose(model.predict([a, b], verbose=0), np.abs(a - b))
    assert any("passed by keyword (other)" in note for note in inspector.model.loading.load_info(model).notes)


def test_a_layer_keras3_removed_is_named_as_such_not_as_a_package(tmp_path):
    """CuDNNGRU was a tf.keras 2 layer; Keras 3 removed it (LocallyConnected2D, found so by the conformance corpus,
    now loads: tests/test_locally_connected.py)."""
    path = keras2_h5_with_layer(tmp_path / "gru.h5", {"class_name": "CuDNNGRU", "config": {"name": "gru", "units": 2}},
                                input_shape=(3, 2), units=1)
    with pytest.raises(inspector.ModelLoadError) as info:
        inspector.load_model(path)
    assert "'CuDNNGRU', a layer of Keras 2 that Keras 3 removed" in info.value.what
    assert "package" not in info.value.fix and "tf_keras" in info.value.fix
