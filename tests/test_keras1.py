"""Keras 1 files (written here with h5py the way Keras 1.2 saved them) load into Keras 3 and compute Keras 1's numbers.

Every expected value is an independent NumPy implementation of the Keras 1 formula; the weights are random and
large enough that a wrong gate order, a missing kernel flip or Keras 3's hard_sigmoid would change the result.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from keras1_files import keras1_file

import inspector
from inspector.model.keras1 import convert_config, merge_runs_code

RNG = np.random.default_rng(7)


def _normal(*shape, scale=1.0):
    return RNG.normal(0, scale, shape).astype("float32")


def hard_sigmoid(x):  # Keras 1's
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _load_with_static_shapes(path):
    """Load a Keras 1 file, and check its static view first: every shape known, and equal to the loaded model's.

    The static view applies the Keras 1 renames before Keras's shape arithmetic and takes the input shape the
    file records (a Sequential's batch_input_shape), so nothing the file records enough to know is left unknown.
    """
    static = inspector.static_graph(path)
    model = inspector.load_model(path)
    loaded = inspector.build_graph(model)
    unknown = [n.id for n in static.nodes if not n.output_shapes or any(s is None for s in n.output_shapes)]
    assert not unknown, f"static output shapes unknown for {unknown}"
    assert {n.id: (n.class_name, n.output_shapes, n.params, n.trainable_params) for n in static.nodes} == \
        {n.id: (n.class_name, n.output_shapes, n.params, n.trainable_params) for n in loaded.nodes}
    return model


def _rnn_config(cls, name, units, extra=None):
    return {"class_name": cls, "config": {
        "name": name, "trainable": True, "return_sequences": False, "go_backwards": False, "stateful": False,
        "unroll": False, "consume_less": "cpu", "input_dim": None, "input_length": None, "output_dim": units,
        "init": "glorot_uniform", "inner_init": "orthogonal", "activation": "tanh", "inner_activation": "hard_sigmoid",
        "W_regularizer": None, "U_regularizer": None, "b_regularizer": None, "dropout_W": 0.0, "dropout_U": 0.0,
        **(extra or {})}}


def test_keras1_embedding_gru_dense(tmp_path):
    vocab, dim, units, steps = 20, 5, 4, 7
    config = {"class_name": "Sequential", "config": [
        {"class_name": "Embedding", "config": {
            "name": "embedding_1", "trainable": True, "batch_input_shape": [None, steps], "input_dtype": "int32",
            "input_dim": vocab, "output_dim": dim, "init": "uniform", "input_length": steps, "W_regularizer": None,
            "activity_regularizer": None, "W_constraint": None, "mask_zero": False, "dropout": 0.0}},
        _rnn_config("GRU", "gru_1", units),
        {"class_name": "Dense", "config": {
            "name": "dense_1", "trainable": True, "output_dim": 1, "init": "glorot_uniform", "activation": "sigmoid",
            "W_regularizer": None, "b_regularizer": None, "activity_regularizer": None, "W_constraint": None,
            "b_constraint": None, "bias": True, "input_dim": None}}]}
    embedding = _normal(vocab, dim)
    gates = {f"{kind}_{g}": _normal(*shape, scale=1.5) for g in "zrh"
             for kind, shape in (("W", (dim, units)), ("U", (units, units)), ("b", (units,)))}
    dense_w, dense_b = _normal(units, 1), _normal(1)
    path = keras1_file(tmp_path / "gru.h5", config, {
        "embedding_1": {"W": embedding}, "gru_1": gates, "dense_1": {"W": dense_w, "b": dense_b}})

    model = _load_with_static_shapes(path)
    X = RNG.integers(0, vocab, (6, steps)).astype("int32")

    # Keras 1.2 GRU (consume_less="cpu"): z, r from x W + h U + b; candidate from (r * h) U_h
    h = np.zeros((len(X), units))
    for t in range(steps):
        x = embedding[X[:, t]]
        z = hard_sigmoid(x @ gates["W_z"] + gates["b_z"] + h @ gates["U_z"])
        r = hard_sigmoid(x @ gates["W_r"] + gates["b_r"] + h @ gates["U_r"])
        candidate = np.tanh(x @ gates["W_h"] + gates["b_h"] + (r * h) @ gates["U_h"])
        h = z * h + (1 - z) * candidate
    np.testing.assert_allclose(inspector.inspect_layer(model, "embedding_1", X), embedding[X], atol=1e-6)
    np.testing.assert_allclose(inspector.inspect_layer(model, "gru_1", X), h, atol=1e-5)
    np.testing.assert_allclose(model.predict(X, verbose=0), sigmoid(h @ dense_w + dense_b), atol=1e-5)


def test_keras1_lstm_per_gate_weights(tmp_path):
    features, units, steps = 3, 4, 5
    config = {"class_name": "Sequential", "config": [
        _rnn_config("LSTM", "lstm_1", units, {"batch_input_shape": [None, steps, features], "input_dtype": "float32",
                                              "forget_bias_init": "one"})]}
    # stored in Keras 1's trainable_weights order: gates i, c, f, o
    gates = {f"{kind}_{g}": _normal(*shape, scale=1.5) for g in "icfo"
             for kind, shape in (("W", (features, units)), ("U", (units, units)), ("b", (units,)))}
    path = keras1_file(tmp_path / "lstm.h5", config, {"lstm_1": gates})
    model = _load_with_static_shapes(path)
    X = _normal(6, steps, features, scale=2.0)

    h, c = np.zeros((len(X), units)), np.zeros((len(X), units))
    for t in range(steps):
        x = X[:, t]
        i = hard_sigmoid(x @ gates["W_i"] + gates["b_i"] + h @ gates["U_i"])
        f = hard_sigmoid(x @ gates["W_f"] + gates["b_f"] + h @ gates["U_f"])
        c = f * c + i * np.tanh(x @ gates["W_c"] + gates["b_c"] + h @ gates["U_c"])
        o = hard_sigmoid(x @ gates["W_o"] + gates["b_o"] + h @ gates["U_o"])
        h = o * np.tanh(c)
    np.testing.assert_allclose(inspector.inspect_layer(model, "lstm_1", X), h, atol=1e-5)


def _conv2d_theano(x_nchw, kernel_oirc, bias):
    """Theano's conv2d (what Keras 1 ran with the Theano backend): a true convolution, the kernel flipped, 'valid'."""
    n, _, height, width = x_nchw.shape
    filters, _, rows, cols = kernel_oirc.shape
    flipped = kernel_oirc[:, :, ::-1, ::-1]
    out = np.zeros((n, filters, height - rows + 1, width - cols + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            patch = x_nchw[:, :, i:i + rows, j:j + cols]
            out[:, :, i, j] = np.einsum("bcrs,fcrs->bf", patch, flipped)
    return out + bias[None, :, None, None]


def _conv_config(dim_ordering, shape):
    return {"class_name": "Sequential", "config": [{"class_name": "Convolution2D", "config": {
        "name": "convolution2d_1", "trainable": True, "batch_input_shape": [None, *shape], "input_dtype": "float32",
        "nb_filter": 4, "nb_row": 3, "nb_col": 2, "init": "glorot_uniform", "activation": "linear",
        "border_mode": "valid", "subsample": [1, 1], "dim_ordering": dim_ordering, "W_regularizer": None,
        "b_regularizer": None, "activity_regularizer": None, "W_constraint": None, "b_constraint": None,
        "bias": True}}]}


@pytest.mark.channels_first  # run with oneDNN off too: TensorFlow's own CPU Conv2D refuses NCHW
def test_keras1_theano_ordered_conv2d_is_transposed_and_flipped(tmp_path):
    kernel, bias = _normal(4, 2, 3, 2), _normal(4)  # Theano order: (filters, channels, rows, cols)
    path = keras1_file(tmp_path / "conv_th.h5", _conv_config("th", [2, 7, 6]),
                        {"convolution2d_1": {"W": kernel, "b": bias}})
    model = _load_with_static_shapes(path)
    X = _normal(3, 2, 7, 6)
    expected = _conv2d_theano(X, kernel, bias)
    np.testing.assert_allclose(inspector.inspect_layer(model, "convolution2d_1", X), expected, atol=1e-4)
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, atol=1e-4)


def test_keras1_tensorflow_conv2d_is_a_cross_correlation(tmp_path):
    kernel, bias = _normal(3, 2, 2, 4), _normal(4)  # TensorFlow order: (rows, cols, channels, filters)
    path = keras1_file(tmp_path / "conv_tf.h5", _conv_config("tf", [6, 5, 2]),
                        {"convolution2d_1": {"W": kernel, "b": bias}}, backend="tensorflow")
    model = _load_with_static_shapes(path)
    X = _normal(3, 6, 5, 2)
    # TensorFlow's conv2d does not flip: the same as Theano's on the flipped kernel, in channels-first terms
    expected = _conv2d_theano(X.transpose(0, 3, 1, 2), kernel[::-1, ::-1].transpose(3, 2, 0, 1), bias)
    np.testing.assert_allclose(inspector.inspect_layer(model, "convolution2d_1", X),
                               expected.transpose(0, 2, 3, 1), atol=1e-4)


def test_keras1_conv_without_backend_is_refused_clearly(tmp_path):
    path = keras1_file(tmp_path / "conv.h5", _conv_config("tf", [6, 5, 2]),
                        {"convolution2d_1": {"W": _normal(3, 2, 2, 4), "b": _normal(4)}}, backend="")
    with pytest.raises(inspector.ModelLoadError, match="backend"):
        inspector.load_model(path)


def _merge_model(mode: str, extra: dict) -> dict:
    def dense(name):
        return {"class_name": "Dense", "name": name, "inbound_nodes": [[["input_1", 0, 0]]], "config": {
            "name": name, "trainable": True, "output_dim": 3, "init": "glorot_uniform", "activation": "linear",
            "W_regularizer": None, "b_regularizer": None, "activity_regularizer": None, "W_constraint": None,
            "b_constraint": None, "bias": True, "input_dim": 4}}
    merge = {"name": "merge_1", "mode": mode, "mode_type": "raw", "concat_axis": -1, "dot_axes": -1,
             "output_shape": None, "output_shape_type": "raw", "output_mask": None, "output_mask_type": "raw",
             "arguments": {}, **extra}
    return {"class_name": "Model", "config": {"name": "model_1", "layers": [
        {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 4], "input_dtype": "float32", "sparse": False, "name": "input_1"}},
        dense("dense_a"), dense("dense_b"),
        {"class_name": "Merge", "name": "merge_1", "inbound_nodes": [[["dense_a", 0, 0], ["dense_b", 0, 0]]],
         "config": merge}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["merge_1", 0, 0]]}}


MERGES = {
    "concat": lambda a, b: np.concatenate([a, b], axis=-1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / 2,
    "dot": lambda a, b: (a * b).sum(-1, keepdims=True),
    # Keras 1: batch_dot(a, b) / max(sqrt(batch_dot(a, a) * batch_dot(b, b)), epsilon)
    "cos": lambda a, b: (a * b).sum(-1, keepdims=True) / np.sqrt((a * a).sum(-1, keepdims=True)
                                                                 * (b * b).sum(-1, keepdims=True)),
}


@pytest.mark.parametrize("mode", list(MERGES))
def test_keras1_merge_modes(tmp_path, mode):
    wa, ba, wb, bb = _normal(4, 3), _normal(3), _normal(4, 3), _normal(3)
    path = keras1_file(tmp_path / f"merge_{mode}.h5", _merge_model(mode, {}), {
        "input_1": {}, "dense_a": {"W": wa, "b": ba}, "dense_b": {"W": wb, "b": bb}, "merge_1": {}})
    model = _load_with_static_shapes(path)
    X = _normal(5, 4)
    expected = MERGES[mode](X @ wa + ba, X @ wb + bb)
    np.testing.assert_allclose(inspector.inspect_layer(model, "merge_1", X), expected, atol=1e-5)


def test_keras1_merge_with_a_function_is_code():
    config = _merge_model("ignored", {"mode": ["4wEAAAAAAAAA", None, None], "mode_type": "lambda"})
    merge = config["config"]["layers"][-1]
    assert merge_runs_code(merge) == "a Keras 1 Merge layer whose mode is a Python function (marshalled bytecode)"
    assert merge_runs_code(_merge_model("sum", {})["config"]["layers"][-1]) is None
    fixed, notes = convert_config(config)
    assert fixed["config"]["layers"][-1]["class_name"] == "Merge"  # never converted: Keras refuses it
    assert any("not one Keras 3 has" in note for note in notes)


def test_keras1_conv1d_batchnorm_pooling(tmp_path):
    steps, channels, filters = 9, 3, 5
    config = {"class_name": "Sequential", "config": [
        {"class_name": "Convolution1D", "config": {
            "name": "convolution1d_1", "trainable": True, "batch_input_shape": [None, steps, channels],
            "input_dtype": "float32", "nb_filter": filters, "filter_length": 3, "init": "uniform",
            "activation": "relu", "border_mode": "valid", "subsample_length": 1, "W_regularizer": None,
            "b_regularizer": None, "activity_regularizer": None, "W_constraint": None, "b_constraint": None,
            "bias": True, "input_dim": channels, "input_length": steps}},
        {"class_name": "BatchNormalization", "config": {
            "name": "batchnormalization_1", "trainable": True, "epsilon": 0.001, "mode": 0, "axis": -1,
            "momentum": 0.99, "gamma_regularizer": None, "beta_regularizer": None}},
        {"class_name": "MaxPooling1D", "config": {
            "name": "maxpooling1d_1", "trainable": True, "pool_length": 2, "stride": 2, "border_mode": "valid"}},
        {"class_name": "Dropout", "config": {"name": "dropout_1", "trainable": True, "p": 0.5}}]}
    kernel, bias = _normal(3, 1, channels, filters), _normal(filters)  # Keras 1 ran Conv1D as a width-1 Conv2D
    gamma, beta, mean, variance = _normal(filters), _normal(filters), _normal(filters), RNG.uniform(0.5, 2, filters)
    path = keras1_file(tmp_path / "conv1d.h5", config, {
        "convolution1d_1": {"W": kernel, "b": bias},
        # Keras 1 called the moving variance "running_std"; it held the variance
        "batchnormalization_1": {"gamma": gamma, "beta": beta, "running_mean": mean, "running_std": variance},
        "maxpooling1d_1": {}, "dropout_1": {}})
    model = _load_with_static_shapes(path)
    X = _normal(4, steps, channels)

    flipped = kernel[::-1, 0]  # Theano convolved: the kernel flipped along time
    conv = np.stack([np.einsum("btc,tcf->bf", X[:, t:t + 3], flipped) for t in range(steps - 2)], axis=1) + bias
    conv = np.maximum(conv, 0)
    normed = (conv - mean) / np.sqrt(variance + 0.001) * gamma + beta
    pooled = np.maximum(normed[:, 0:6:2], normed[:, 1:7:2])
    np.testing.assert_allclose(model.predict(X, verbose=0), pooled, atol=1e-4)
    assert model.get_layer("dropout_1").rate == 0.5


def _batchnorm_model(mode: int, axis: int, shape: list[int]) -> dict:
    return {"class_name": "Sequential", "config": [
        {"class_name": "Dense", "config": {
            "name": "dense_1", "trainable": True, "batch_input_shape": [None, *shape], "input_dtype": "float32",
            "output_dim": shape[-1], "init": "glorot_uniform", "activation": "linear", "W_regularizer": None,
            "b_regularizer": None, "activity_regularizer": None, "W_constraint": None, "b_constraint": None,
            "bias": True, "input_dim": shape[-1]}},
        {"class_name": "BatchNormalization", "config": {
            "name": "batchnormalization_1", "trainable": True, "epsilon": 0.01, "mode": mode, "axis": axis,
            "momentum": 0.99, "gamma_regularizer": None, "beta_regularizer": None}}]}


def keras1_batchnorm(x, gamma, beta, mode, axis, epsilon):
    """Keras 1.2's BatchNormalization.call in modes 1 and 2, in NumPy."""
    if mode == 1:  # sample-wise, always over the last axis; epsilon both inside the root and added to it
        mean = x.mean(axis=-1, keepdims=True)
        std = np.sqrt(x.var(axis=-1, keepdims=True) + epsilon)
        return gamma * (x - mean) / (std + epsilon) + beta
    axis = axis % x.ndim  # mode 2: normalize_batch_in_training, the batch's mean and biased variance
    others = tuple(i for i in range(x.ndim) if i != axis)
    along = [1] * x.ndim
    along[axis] = -1
    mean, variance = x.mean(axis=others, keepdims=True), x.var(axis=others, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma.reshape(along) + beta.reshape(along)


@pytest.mark.parametrize(("mode", "axis", "shape"), [(1, -1, [6]), (2, -1, [6]), (2, -1, [3, 5]), (2, 1, [3, 5])],
                         ids=["mode1", "mode2", "mode2-3d", "mode2-axis1"])
def test_keras1_batchnorm_modes_1_and_2_compute_keras1s_formula(tmp_path, mode, axis, shape):
    features = [None, *shape][axis]  # axis counts the batch axis
    kernel, bias = _normal(shape[-1], shape[-1]), _normal(shape[-1], scale=3.0)
    gamma, beta = RNG.uniform(0.5, 2, features).astype("float32"), _normal(features)
    # stored running statistics far from the batch's: a layer that used them would be far off
    mean, variance = np.full(features, 50.0, "float32"), np.full(features, 0.01, "float32")
    path = keras1_file(tmp_path / f"bn{mode}.h5", _batchnorm_model(mode, axis, shape), {
        "dense_1": {"W": kernel, "b": bias},
        "batchnormalization_1": {"gamma": gamma, "beta": beta, "running_mean": mean, "running_std": variance}})
    model = _load_with_static_shapes(path)
    assert type(model.get_layer("batchnormalization_1")).__name__ == "BatchNormalizationKeras1"
    X = _normal(7, *shape, scale=2.0)
    expected = keras1_batchnorm(X @ kernel + bias, gamma, beta, mode, axis, 0.01)
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(inspector.inspect_layer(model, "batchnormalization_1", X), expected, rtol=1e-4,
                               atol=1e-4)
    if axis == -1:  # Keras 3's own BatchNormalization (the stored statistics) would be far off
        assert np.abs((X @ kernel + bias - 50.0) / np.sqrt(0.01 + 0.01) * gamma + beta - expected).max() > 1.0
    # the static view and the loaded model agree on the layer, its shape and its (non-)trainable counts
    static, loaded = inspector.static_graph(path), inspector.build_graph(model)
    for graph in (static, loaded):
        node = graph.node("batchnormalization_1")
        assert node.class_name == "BatchNormalizationKeras1"
        assert node.output_shapes == ((None, *shape),)
        assert (node.params, node.trainable_params) == (4 * features, 2 * features)
    assert static.total_params == loaded.total_params == model.count_params()


def test_keras1_batchnorm_mode_2_statistics_are_the_batch(tmp_path):
    """Mode 2 normalises with the batch's statistics: the same sample gives another output in another batch."""
    path = keras1_file(tmp_path / "bn2.h5", _batchnorm_model(2, -1, [4]), {
        "dense_1": {"W": np.eye(4, dtype="float32"), "b": np.zeros(4, "float32")},
        "batchnormalization_1": {"gamma": np.ones(4), "beta": np.zeros(4), "running_mean": np.zeros(4),
                                 "running_std": np.ones(4)}})
    model = _load_with_static_shapes(path)
    X = _normal(5, 4)
    alone = model.predict(X[:2], verbose=0)
    together = model.predict(X, verbose=0)
    assert np.abs(alone - together[:2]).max() > 0.01
    assert any("mode=2" in note for note in inspector.model.loading.load_info(model).notes)


def _keras1_gru_sequence(x, gates, backwards=False):
    """Keras 1.2's GRU over every step (hard_sigmoid gates, candidate from (r * h) U_h); outputs in time order."""
    steps = range(x.shape[1])[::-1] if backwards else range(x.shape[1])
    h = np.zeros((len(x), gates["U_z"].shape[0]))
    outputs = {}
    for t in steps:
        z = hard_sigmoid(x[:, t] @ gates["W_z"] + gates["b_z"] + h @ gates["U_z"])
        r = hard_sigmoid(x[:, t] @ gates["W_r"] + gates["b_r"] + h @ gates["U_r"])
        h = z * h + (1 - z) * np.tanh(x[:, t] @ gates["W_h"] + gates["b_h"] + (r * h) @ gates["U_h"])
        outputs[t] = h
    return np.stack([outputs[t] for t in range(x.shape[1])], axis=1)


def _keras1_lstm_sequence(x, gates):
    h = c = np.zeros((len(x), gates["U_i"].shape[0]))
    outputs = []
    for t in range(x.shape[1]):
        i = hard_sigmoid(x[:, t] @ gates["W_i"] + gates["b_i"] + h @ gates["U_i"])
        f = hard_sigmoid(x[:, t] @ gates["W_f"] + gates["b_f"] + h @ gates["U_f"])
        c = f * c + i * np.tanh(x[:, t] @ gates["W_c"] + gates["b_c"] + h @ gates["U_c"])
        h = hard_sigmoid(x[:, t] @ gates["W_o"] + gates["b_o"] + h @ gates["U_o"]) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1)


def _gates(order, inputs, units):
    return {f"{kind}_{g}": _normal(*shape, scale=1.5) for g in order
            for kind, shape in (("W", (inputs, units)), ("U", (units, units)), ("b", (units,)))}


_REGULARIZERS = {"W_regularizer": None, "b_regularizer": None, "activity_regularizer": None, "W_constraint": None,
                 "b_constraint": None}


def _node(cls, name, inbound, **cfg):
    return {"class_name": cls, "name": name, "inbound_nodes": [[[i, 0, 0] for i in inbound]] if inbound else [],
            "config": {"name": name, "trainable": True, **cfg}}


def test_keras1_functional_model_with_wrappers_and_merge(tmp_path):
    """Keras 1 Model: Embedding -> LSTM -> TimeDistributed(Dense), Bidirectional(GRU), Merge(concat), Flatten, Dense."""
    steps, vocab, dim = 6, 15, 5
    lstm = {**_rnn_config("LSTM", "lstm_1", 4, {"return_sequences": True}), "name": "lstm_1",
            "inbound_nodes": [[["embedding_1", 0, 0]]]}
    gru = _rnn_config("GRU", "gru_1", 3, {"return_sequences": True})
    config = {"class_name": "Model", "config": {"name": "model_1", "layers": [
        _node("InputLayer", "words", [], batch_input_shape=[None, steps], input_dtype="int32", sparse=False),
        _node("Embedding", "embedding_1", ["words"], input_dim=vocab, output_dim=dim, init="uniform",
              input_length=steps, W_regularizer=None, activity_regularizer=None, W_constraint=None, mask_zero=False,
              dropout=0.0),
        lstm,
        _node("TimeDistributed", "timedistributed_1", ["lstm_1"], layer={"class_name": "Dense", "config": {
            "name": "dense_1", "trainable": True, "output_dim": 3, "init": "glorot_uniform", "activation": "tanh",
            "bias": True, "input_dim": None, **_REGULARIZERS}}),
        _node("InputLayer", "signal", [], batch_input_shape=[None, steps, 2], input_dtype="float32", sparse=False),
        _node("Bidirectional", "bidirectional_1", ["signal"], layer=gru, merge_mode="concat"),
        _node("Merge", "merge_1", ["timedistributed_1", "bidirectional_1"], mode="concat", mode_type="raw",
              concat_axis=-1, dot_axes=-1, output_shape=None, output_shape_type="raw", output_mask=None,
              output_mask_type="raw", arguments={}),
        _node("Flatten", "flatten_1", ["merge_1"]),
        _node("Dense", "dense_2", ["flatten_1"], output_dim=2, init="glorot_uniform", activation="softmax",
              bias=True, input_dim=None, **_REGULARIZERS)],
        "input_layers": [["words", 0, 0], ["signal", 0, 0]], "output_layers": [["dense_2", 0, 0]]}}
    embedding, lstm_gates = _normal(vocab, dim), _gates("icfo", dim, 4)
    td_w, td_b = _normal(4, 3), _normal(3)
    forward, backward = _gates("zrh", 2, 3), _gates("zrh", 2, 3)
    out_w, out_b = _normal(steps * 9, 2), _normal(2)
    # Keras 1.2 named a Bidirectional's weights after its forward_ and backward_ layers, forward first
    bidirectional = {**{f"forward_gru_1_{k}": v for k, v in forward.items()},
                     **{f"backward_gru_1_{k}": v for k, v in backward.items()}}
    path = tmp_path / "functional.h5"
    keras1_file(path, config, {"words": {}, "embedding_1": {"W": embedding}, "lstm_1": lstm_gates,
                               "timedistributed_1": {"W": td_w, "b": td_b}, "signal": {}, "merge_1": {},
                               "flatten_1": {}, "dense_2": {"W": out_w, "b": out_b}})
    with h5py.File(path, "r+") as f:  # keras1_file prefixes weight names with the layer's; a Bidirectional's are not
        group = f["model_weights"].create_group("bidirectional_1")
        group.attrs["weight_names"] = np.array([name.encode() for name in bidirectional])
        for name, array in bidirectional.items():
            group.create_dataset(name, data=array)
        names = list(f["model_weights"].attrs["layer_names"])
        f["model_weights"].attrs["layer_names"] = np.array(names[:5] + [b"bidirectional_1"] + names[5:])
    model = _load_with_static_shapes(path)
    words = RNG.integers(0, vocab, (4, steps)).astype("int32")
    signal = _normal(4, steps, 2, scale=2.0)

    distributed = np.tanh(_keras1_lstm_sequence(embedding[words], lstm_gates) @ td_w + td_b)
    both = np.concatenate([_keras1_gru_sequence(signal, forward), _keras1_gru_sequence(signal, backward, True)], -1)
    logits = np.concatenate([distributed, both], axis=-1).reshape(4, -1) @ out_w + out_b
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(inspector.inspect_layer(model, "timedistributed_1", [words, signal]), distributed,
                               atol=1e-5)
    np.testing.assert_allclose(inspector.inspect_layer(model, "bidirectional_1", [words, signal]), both, atol=1e-5)
    np.testing.assert_allclose(model.predict([words, signal], verbose=0), expected, atol=1e-5)


def test_keras1_convolutional_sequential_has_every_static_shape(tmp_path):
    """Theano-ordered Conv2D, pooling, padding, upsampling with Keras 1 names: every static shape known and right."""
    def conv(name, filters, rows, cols, **extra):
        return {"class_name": "Convolution2D", "config": {
            "name": name, "trainable": True, "nb_filter": filters, "nb_row": rows, "nb_col": cols,
            "init": "glorot_uniform", "activation": "relu", "border_mode": extra.pop("border_mode", "valid"),
            "subsample": extra.pop("subsample", [1, 1]), "dim_ordering": "th", "bias": True, **_REGULARIZERS,
            **extra}}

    def layer(cls, name, **cfg):
        return {"class_name": cls, "config": {"name": name, "trainable": True, **cfg}}

    config = {"class_name": "Sequential", "config": [
        conv("convolution2d_1", 4, 3, 3, border_mode="same", batch_input_shape=[None, 3, 12, 10],
             input_dtype="float32"),
        layer("MaxPooling2D", "maxpooling2d_1", pool_size=[2, 2], strides=[2, 2], border_mode="valid",
              dim_ordering="th"),
        layer("ZeroPadding2D", "zeropadding2d_1", padding=[1, 1], dim_ordering="th"),
        conv("convolution2d_2", 6, 3, 2, subsample=[2, 2]),
        layer("UpSampling2D", "upsampling2d_1", size=[2, 2], dim_ordering="th"),
        layer("AveragePooling2D", "averagepooling2d_1", pool_size=[2, 2], strides=[1, 1], border_mode="same",
              dim_ordering="th"),
        layer("Flatten", "flatten_1"),
        layer("Dense", "dense_1", output_dim=5, init="glorot_uniform", activation="linear", bias=True,
              input_dim=None, **_REGULARIZERS),
        layer("Dropout", "dropout_1", p=0.5),
        layer("Reshape", "reshape_1", target_shape=[5, 1]),
        layer("Activation", "activation_1", activation="softmax")]}
    weights = {lc["config"]["name"]: {} for lc in config["config"]}
    weights.update({"convolution2d_1": {"W": _normal(4, 3, 3, 3), "b": _normal(4)},
                    "convolution2d_2": {"W": _normal(6, 4, 3, 2), "b": _normal(6)},
                    "dense_1": {"W": _normal(6 * 6 * 6, 5), "b": _normal(5)}})
    model = _load_with_static_shapes(keras1_file(tmp_path / "cnn.h5", config, weights))
    assert model.output_shape == (None, 5, 1)
