"""Files written before Keras 3 compute what they computed then: hard_sigmoid, GRU without reset_after."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from zoo import keras2_h5_with_layer

import inspector
from inspector.model.legacy import normalize_config
from inspector.model.old_semantics import HARD_SIGMOID_KERAS2

UNITS, STEPS, FEATURES = 4, 6, 3


def hard_sigmoid_keras2(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def hard_sigmoid_keras3(x):
    return np.clip(x + 3.0, 0.0, 6.0) / 6.0


def lstm_reference(x, kernel, recurrent, bias, gate):
    """Keras's LSTM recurrence: gates in the order input, forget, cell, output."""
    h = np.zeros((x.shape[0], UNITS))
    c = np.zeros((x.shape[0], UNITS))
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = np.split(z, 4, axis=1)
        c = gate(f) * c + gate(i) * np.tanh(g)
        h = gate(o) * np.tanh(c)
    return h


def gru_reference(x, kernel, recurrent, bias, gate, reset_after):
    """Keras's GRU recurrence: gates in the order update, reset, candidate."""
    h = np.zeros((x.shape[0], UNITS))
    input_bias, recurrent_bias = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
    for t in range(x.shape[1]):
        xz, xr, xh = np.split(x[:, t] @ kernel + input_bias, 3, axis=1)
        uz, ur, uh = np.split(recurrent, 3, axis=1)
        bz, br, bh = np.split(recurrent_bias, 3)
        z = gate(xz + h @ uz + bz)
        r = gate(xr + h @ ur + br)
        candidate = np.tanh(xh + r * (h @ uh + bh)) if reset_after else np.tanh(xh + (r * h) @ uh)
        h = z * h + (1 - z) * candidate
    return h


def _keras2_file(path, layer, *, drop_keys=()) -> tuple[str, list[np.ndarray]]:
    """Save a one-RNN Keras 3 model as .h5 with large random weights, then mark the file as written by Keras 2.4."""
    import keras

    model = keras.Sequential([keras.Input((STEPS, FEATURES)), layer])
    rng = np.random.default_rng(1)
    weights = [rng.normal(0, 1.5, w.shape).astype("float32") for w in model.get_weights()]
    model.set_weights(weights)
    model.save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["keras_version"] = "2.4.0"
        config = json.loads(f.attrs["model_config"])
        for key in drop_keys:
            del config["config"]["layers"][-1]["config"][key]  # Keras <= 2.1.4 did not write it
        f.attrs["model_config"] = json.dumps(config)
    return str(path), weights


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(2).normal(0, 2, (5, STEPS, FEATURES)).astype("float32")


def test_keras2_lstm_uses_the_old_hard_sigmoid(tmp_path, X):
    import keras

    path, (kernel, recurrent, bias) = _keras2_file(tmp_path / "lstm.h5", keras.layers.LSTM(
        UNITS, recurrent_activation="hard_sigmoid", name="lstm"))
    model = inspector.load_model(path)
    got = inspector.inspect_layer(model, "lstm", X)
    np.testing.assert_allclose(got, lstm_reference(X, kernel, recurrent, bias, hard_sigmoid_keras2), atol=1e-5)
    # the test can fail: Keras 3's hard_sigmoid gives clearly different numbers on these weights
    assert np.abs(got - lstm_reference(X, kernel, recurrent, bias, hard_sigmoid_keras3)).max() > 0.05
    assert any("hard_sigmoid" in note for note in inspector.model.loading.load_info(model).notes)


def test_keras2_bidirectional_lstm_loads_and_uses_the_old_hard_sigmoid(tmp_path, X):
    """tf.keras 2 wrote a wrapped layer without a module; Keras 3 builds it with its new deserializer."""
    import keras

    path = tmp_path / "bi.h5"
    layer = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, recurrent_activation="hard_sigmoid", name="lstm"),
                                       name="bi")
    path, weights = _keras2_file(path, layer)
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        wrapped = config["config"]["layers"][-1]["config"]
        for key in ("layer", "backward_layer"):
            wrapped.get(key, {}).pop("module", None)  # as tf.keras 2 wrote it
            wrapped.get(key, {}).pop("registered_name", None)
        f.attrs["model_config"] = json.dumps(config)
    model = inspector.load_model(path)
    got = inspector.inspect_layer(model, "bi", X)
    forward = lstm_reference(X, *weights[:3], hard_sigmoid_keras2)
    backward = lstm_reference(X[:, ::-1], *weights[3:], hard_sigmoid_keras2)
    np.testing.assert_allclose(got, np.concatenate([forward, backward], axis=-1), atol=1e-5)
    assert inspector.static_graph(path).node("bi").output_shapes == ((None, 2 * UNITS),)


@pytest.mark.parametrize("reset_after", [True, False])
def test_keras2_gru_uses_the_old_hard_sigmoid(tmp_path, X, reset_after):
    import keras

    layer = keras.layers.GRU(UNITS, recurrent_activation="hard_sigmoid", reset_after=reset_after, name="gru")
    # a GRU without reset_after in its config is one from Keras <= 2.1.4, which computed reset_after=False
    path, (kernel, recurrent, bias) = _keras2_file(tmp_path / "gru.h5", layer,
                                                   drop_keys=() if reset_after else ("reset_after",))
    model = inspector.load_model(path)
    got = inspector.inspect_layer(model, "gru", X)
    expected = gru_reference(X, kernel, recurrent, bias, hard_sigmoid_keras2, reset_after)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(got - gru_reference(X, kernel, recurrent, bias, hard_sigmoid_keras3, reset_after)).max() > 0.05


def test_keras3_files_keep_keras3_hard_sigmoid(tmp_path, X):
    import keras

    path = tmp_path / "k3.h5"
    model = keras.Sequential([keras.Input((STEPS, FEATURES)), keras.layers.LSTM(
        UNITS, recurrent_activation="hard_sigmoid", name="lstm")])
    model.save(path)
    loaded = inspector.load_model(path)
    assert loaded.get_layer("lstm").get_config()["recurrent_activation"] == "hard_sigmoid"
    np.testing.assert_allclose(inspector.inspect_layer(loaded, "lstm", X), model.predict(X, verbose=0), atol=1e-6)


def test_normalisation_renames_hard_sigmoid_everywhere_only_before_keras3():
    config = {"class_name": "Functional", "config": {"name": "m", "layers": [
        {"class_name": "Bidirectional", "config": {"name": "bi", "layer": {"class_name": "LSTM", "config": {
            "name": "lstm", "units": 2, "recurrent_activation": "hard_sigmoid"}}}},
        {"class_name": "Activation", "config": {"name": "act", "activation": "hard_sigmoid"}},
        {"class_name": "GRU", "config": {"name": "gru", "units": 2, "activation": "tanh"}}]}}
    fixed, notes = normalize_config(config, keras_version="2.2.4")
    layers = fixed["config"]["layers"]
    # inside a wrapper, a serialized function: Keras 3 builds wrapped layers with its new deserializer
    assert layers[0]["config"]["layer"]["config"]["recurrent_activation"]["config"] == HARD_SIGMOID_KERAS2
    assert layers[1]["config"]["activation"] == HARD_SIGMOID_KERAS2
    assert layers[2]["config"]["reset_after"] is False
    assert layers[0]["config"]["layer"]["module"] == "keras.layers"  # Keras 3's wrappers need one to find LSTM
    assert len(notes) == 4
    assert normalize_config(config, keras_version="3.1.0") == (config, [])


def test_keras2_thresholded_relu_becomes_relu_with_threshold(tmp_path):
    path = keras2_h5_with_layer(tmp_path / "thr.h5", {"class_name": "ThresholdedReLU", "config": {
        "name": "thr", "trainable": True, "dtype": "float32", "theta": 0.7}}, input_shape=(5,), units=5,
        keras_version="2.2.4")
    model = inspector.load_model(path)
    X = np.random.default_rng(3).normal(0, 1, (8, 5)).astype("float32")
    dense = inspector.inspect_layer(model, "d", X)
    np.testing.assert_allclose(inspector.inspect_layer(model, "thr", X), dense * (dense > 0.7), atol=1e-6)
