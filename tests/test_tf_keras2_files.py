"""tf.keras 2 and Keras 2.2 files Keras 3 misreads (issue 24, causes 4-6): each written by tf.keras 2 itself
(``tests/tf_keras_files.py``) or found in ``../shared/real_models``, checked against tf.keras 2's own numbers.

For every file: the static view's parameters equal the loaded model's and tf.keras 2's, every static shape equals
the loaded model's, the model loads untrusted, and its outputs equal tf.keras 2's on the same input.
"""

from __future__ import annotations

import json
import zipfile

import h5py
import numpy as np
import pytest
from tf_keras_files import reference_outputs, run_tf_keras

import inspector
from inspector.io.files import read_model_file
from inspector.model.loading import load_info, needs_trust
from inspector.model.static import static_graph

DECODER = "kamal-rahimi_decoder_states.h5"

_MODELS = """
def initial_states():
    # Keras 2 seq2seq: recurrent layers called with initial_state, returning their states
    x = keras.Input((None, 5), name="x")
    _, h, c = keras.layers.LSTM(4, return_state=True, name="encoder")(x)
    y = keras.Input((None, 3), name="y")
    out, h2, c2 = keras.layers.LSTM(4, return_sequences=True, return_state=True, name="decoder")(y, initial_state=[h, c])
    g = keras.layers.GRU(4, return_sequences=True, name="gru")(out, initial_state=h2)
    b = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True), name="bi")(g, initial_state=[h, c, h2, c2])
    model = keras.Model([x, y], [keras.layers.Dense(2, name="head")(b), h2, c2])
    save(model, "initial_states", [rng.normal(size=(2, 6, 5)).astype("float32"),
                                   rng.normal(size=(2, 7, 3)).astype("float32")], ("h5", "keras"))

def more_layers():
    # arguments tf.keras 2 wrote that Keras 3 rejects or reads otherwise
    q = keras.Input((5, 8), name="q")
    v = keras.Input((6, 8), name="v")
    attended = keras.layers.MultiHeadAttention(2, 4, name="mha")(q, v)
    frames = keras.Input((3, 4, 4, 2), name="frames")
    convolved = keras.layers.ConvLSTM2D(3, 3, padding="same", recurrent_activation="hard_sigmoid",
                                        name="convlstm")(frames)
    recurrent = keras.layers.RNN(keras.layers.LSTMCell(4), name="rnn")(q)
    dot = keras.layers.Attention(name="dot_attention")([q, v])  # score_mode="dot"
    spatial = keras.layers.SpatialDropout1D(0.5, name="spatial")(q)
    stacked = keras.layers.RNN([keras.layers.GRUCell(3), keras.layers.LSTMCell(2)], name="stacked")(q)
    model = keras.Model([q, v, frames], [attended, convolved, recurrent, dot, spatial, stacked])
    save(model, "more_layers", [rng.normal(size=(2, 5, 8)).astype("float32"), rng.normal(size=(2, 6, 8)).astype("float32"),
                                rng.normal(size=(2, 3, 4, 4, 2)).astype("float32")], ("h5", "keras"))

def ops(formats, ellipsis):
    a = keras.Input((4, 6), name="a")
    b = keras.Input((6, 3), name="b")
    outs = [1.0 - a, a * 2.0, -a, a ** 2, a @ b, a / 3.0, a[:, tf.newaxis, 1:3], a[:, 0],
            tf.reduce_mean(a, axis=-1, keepdims=True), tf.nn.softmax(a), tf.clip_by_value(a, 0.0, 1.0),
            tf.squeeze(a[:, :1], axis=1), tf.stack([a, a], axis=1), tf.math.l2_normalize(a, axis=-1),
            tf.tile(a, [1, 2, 1]), tf.nn.leaky_relu(a), tf.nn.gelu(a), tf.math.maximum(a, 0.5), tf.transpose(a),
            tf.linalg.matmul(a, b, transpose_a=False), tf.math.sigmoid(a), tf.split(a, [2, 4], axis=-1)[1],
            tf.math.reduce_sum(a), tf.where(a > 0, a, 0.0), tf.add(a, a), tf.reshape(a, (-1, 24)),
            tf.concat([a, a], axis=-1), tf.expand_dims(a, 1), tf.nn.relu(a), tf.math.multiply(a, a),
            keras.layers.Dense(3, name="dense")(tf.math.add(a, 1.0))]
    if ellipsis:
        outs.append(a[..., 0])
    model = keras.Model([a, b], outs)
    save(model, "ops" if ellipsis else "ops_keras_format", [rng.normal(size=(2, 4, 6)).astype("float32"),
                                                            rng.normal(size=(2, 6, 3)).astype("float32")], formats)

def other_op():
    a = keras.Input((5,), name="a")
    model = keras.Model(a, keras.layers.Dense(2, name="dense")(tf.math.cumsum(a, axis=-1)))
    save(model, "other_op", [rng.normal(size=(2, 5)).astype("float32")])

def convolutions():
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2DTranspose(4, 3, name="ct2"),
                              keras.layers.SeparableConv2D(4, 3, name="sep2"), keras.layers.Reshape((-1, 4)),
                              keras.layers.Conv1DTranspose(2, 3, name="ct1"), keras.layers.SeparableConv1D(2, 3, name="sep1")])
    save(model, "convolutions", [rng.normal(size=(2, 8, 8, 3)).astype("float32")])

def nested_twice():
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")], name="seq")
    i = keras.Input((4,))
    fun = keras.Model(i, keras.layers.Dense(3, name="d2")(i), name="fun")
    a = keras.Input((4,), name="a")
    b = keras.Input((4,), name="b")
    joined = keras.layers.Concatenate(name="join")([seq(a), seq(b), fun(a), fun(keras.layers.Dense(4, name="pre")(b))])
    model = keras.Model([a, b], [joined, fun(b), seq(a)])
    save(model, "nested_twice", [rng.normal(size=(2, 4)).astype("float32"), rng.normal(size=(2, 4)).astype("float32")])

initial_states()
more_layers()
ops(("h5",), True)
ops(("keras",), False)  # tf.keras 2's .keras format cannot store an Ellipsis
other_op()
convolutions()
nested_twice()
decoder = DECODER_PATH
if decoder and os.path.exists(decoder):
    model = keras.models.load_model(decoder, compile=False)
    inputs = [rng.normal(size=(2, 5, 30)).astype("float32"), rng.normal(size=(2, 256)).astype("float32"),
              rng.normal(size=(2, 256)).astype("float32")]
    np.savez("decoder.npz", **{f"in_{i}": x for i, x in enumerate(inputs)},
             **{f"out_{i}": y for i, y in enumerate(outputs(model, inputs))}, params=model.count_params())
"""


@pytest.fixture(scope="module")
def tf_keras2(tmp_path_factory):
    """The folder of files tf.keras 2 wrote (one child process for all of them), with its outputs."""
    from conftest import REAL_MODELS

    folder = tmp_path_factory.mktemp("tf_keras2")
    run_tf_keras(_MODELS.replace("DECODER_PATH", repr(str(REAL_MODELS / DECODER))), folder)
    return folder


def _agrees_with_tf_keras(folder, name: str, path=None) -> tuple:
    """Load the file untrusted; its outputs equal tf.keras 2's, and its static view agrees with the loaded model."""
    path = path or folder / f"{name}.h5"
    inputs, expected = reference_outputs(folder, name)
    assert needs_trust(read_model_file(path)) == []
    model = inspector.load_model(path)  # untrusted
    got = model.predict(inputs, verbose=0)
    got = got if isinstance(got, list) else [got]
    assert len(got) == len(expected)
    for ours, theirs in zip(got, expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    static = static_graph(path)
    loaded = inspector.build_graph(model)
    assert static.total_params == loaded.total_params == model.count_params()
    assert static.opaque_nodes == []
    shapes = {n.id: n.output_shapes for n, _ in loaded.walk()}
    for node, _ in static.walk():
        assert node.output_shapes == shapes[node.id], node.id
    return model, static


def test_keras_2_2_seq2seq_decoder_loads_with_its_states(real_models, tf_keras2):
    """Keras 2.2.4 stored LSTM(x, initial_state=[h, c]) as one call on three tensors: Keras 3 refused it ("expects 1
    input(s), but it received 3") and the static view showed a nested shape.  Now: tf.keras 2's shapes, parameters
    and outputs."""
    path = real_models / DECODER
    static = static_graph(path)
    assert static.node("lstm_2").output_shapes == ((None, None, 256), (None, 256), (None, 256))
    assert static.node("dense_1").output_shapes == ((None, None, 30),)
    assert [e.dst_index for e in static.edges if e.dst == "lstm_2"] == [0, 1, 2]
    with np.load(tf_keras2 / "decoder.npz") as reference:
        params = int(reference["params"])
    assert static.total_params == params == 301_598
    model = inspector.load_model(path)  # untrusted
    assert any("its 2 initial states" in n and "initial_state" in n for n in load_info(model).notes)
    inputs, expected = reference_outputs(tf_keras2, "decoder")
    for ours, theirs in zip(model.predict(inputs, verbose=0), expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert model.count_params() == params


def test_initial_state_calls_of_lstm_gru_and_bidirectional(tf_keras2):
    model, static = _agrees_with_tf_keras(tf_keras2, "initial_states")
    assert static.node("bi").input_shapes == ((None, None, 4),) + ((None, 4),) * 4
    assert static.node("decoder").output_shapes == ((None, None, 4), (None, 4), (None, 4))


def test_tf_keras_2_keras_files_with_initial_states_and_build_shapes_load(tf_keras2):
    """tf.keras 2's .keras format recorded an RNN's build_config on all its inputs, and MultiHeadAttention's build
    shapes in its config.  (The static parameters of tf.keras 2 .keras files are the file readers' part.)"""
    for name in ("initial_states", "more_layers"):
        inputs, expected = reference_outputs(tf_keras2, name)
        model = inspector.load_model(tf_keras2 / f"{name}.keras")  # untrusted
        for ours, theirs in zip(model.predict(inputs, verbose=0), expected, strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_multi_head_attention_conv_lstm_and_rnn_of_a_cell(tf_keras2):
    """MultiHeadAttention's build shapes and softmax_robust_masking, time_major on ConvLSTM2D and RNN, the old
    hard_sigmoid of a ConvLSTM2D, Attention's score_mode="dot", which Keras 3's legacy loader took for the
    function keras.layers.dot, SpatialDropout1D's trainable and noise_shape, and
    an RNN of stacked cells."""
    from inspector.model.keras_internals import legacy_function_names
    from inspector.model.legacy import LAYER_FUNCTION_NAMES

    _, static = _agrees_with_tf_keras(tf_keras2, "more_layers")
    assert static.node("mha").output_shapes == ((None, 5, 8),)
    # inferring the shape of RNN(StackedRNNCells) leaves its config whole (Keras's from_config pops the cells)
    assert len(static.node("stacked").config["cell"]["config"]["cells"]) == 2
    assert LAYER_FUNCTION_NAMES == set(legacy_function_names())


def test_tf_op_layers_load_untrusted_and_compute_as_tf_keras(tf_keras2):
    """31 TensorFlow ops (operators, reductions, indexing with slices, newaxis and an Ellipsis, constants first,
    tensors by keyword) become our TFOpLambda layers computing them with Keras ops."""
    model, static = _agrees_with_tf_keras(tf_keras2, "ops")
    with h5py.File(tf_keras2 / "ops.h5") as f:
        stored = [lc["name"] for lc in json.loads(f.attrs["model_config"])["config"]["layers"]
                  if lc["class_name"] in ("TFOpLambda", "SlicingOpLambda")]
    assert len(stored) > 30 and not any(static.node(name).opaque for name in stored)
    assert static.node("tf.reshape").config["arguments"] == {"shape": [-1, 24]}
    assert static.node("tf.reshape").output_shapes == ((None, 24),)
    notes = load_info(model).notes
    assert any("TFOpLambda 'tf.reshape' (tf.reshape) is computed with Keras ops" in n for n in notes)


def test_tf_op_layers_in_a_tf_keras_2_keras_file(tf_keras2):
    _agrees_with_tf_keras(tf_keras2, "ops_keras_format", tf_keras2 / "ops_keras_format.keras")


def test_an_op_outside_the_allow_list_stays_static_with_the_op_named(tf_keras2):
    path = tf_keras2 / "other_op.h5"
    with pytest.raises(inspector.UnsafeModelError, match=r"tf\.math\.cumsum, which is not one of the pure"):
        inspector.load_model(path)
    graph = inspector.build_graph(path)
    assert graph.node("tf.math.cumsum").opaque and "tf.math.cumsum" in graph.node("tf.math.cumsum").opaque_reason
    assert graph.total_params == 12


def test_op_arguments_that_deserialize_to_objects_are_refused(tf_keras2, tmp_path):
    """An allowed op whose argument is a serialized object (Keras would rebuild it, calling code) is not converted."""
    path = tmp_path / "ops.h5"
    path.write_bytes((tf_keras2 / "ops.h5").read_bytes())
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        layer = next(lc for lc in config["config"]["layers"] if lc["name"] == "tf.reshape")
        layer["inbound_nodes"][0][3]["shape"] = {"class_name": "function", "module": "keras.activations",
                                                 "config": "relu", "registered_name": None}
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(inspector.UnsafeModelError, match=r"tf\.reshape"):
        inspector.load_model(path)
    assert inspector.build_graph(path).node("tf.reshape").opaque


def test_conv_transpose_and_separable_configs_of_tf_keras_2(tf_keras2):
    """tf.keras 2 wrote groups=1 on Conv*Transpose/SeparableConv* and SeparableConv's unused kernel_* arguments."""
    _agrees_with_tf_keras(tf_keras2, "convolutions")


def test_nested_models_called_twice(tf_keras2):
    """tf.keras 2 numbered a nested model's calls from 1 (its own node was 0); Keras 3 from 0."""
    _, static = _agrees_with_tf_keras(tf_keras2, "nested_twice")
    assert static.predecessors("join") == ["seq", "seq@1", "fun", "fun@1"]
    assert static.outputs == ("join", "fun@2", "seq@2")


def test_keras3_lstm_returning_states_has_three_outputs_in_the_static_view(tmp_path):
    """Keras 3 records the shapes its consumers took: one of the LSTM's three outputs here."""
    import keras

    x = keras.Input((5, 3))
    output, _, _ = keras.layers.LSTM(4, return_state=True, name="lstm")(x)
    path = tmp_path / "lstm.keras"
    keras.Model(x, keras.layers.Dense(2, name="d")(output)).save(path)
    assert static_graph(path).node("lstm").output_shapes == ((None, 4),) * 3
    assert inspector.build_graph(inspector.load_model(path)).node("lstm").output_shapes == ((None, 4),) * 3


def _custom_layers_file(tmp_path):
    """A Keras 3 Sequential whose Dense layers became a class of the saving script (module null, as tf.keras 2
    wrote it), as in QKeras models: their code is not in the file."""
    import keras

    path = tmp_path / "custom.keras"
    keras.Sequential([keras.Input((6,))] + [keras.layers.Dense(5 - i, name=f"q{i}") for i in range(4)]).save(path)
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    config = json.loads(members["config.json"])
    for layer in config["config"]["layers"][1:]:
        layer.update(module=None, class_name="QDense", registered_name="QDense")
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    return path


def test_a_class_saved_without_module_is_opaque_and_named_as_the_users(tmp_path):
    path = _custom_layers_file(tmp_path)
    graph = static_graph(path)
    assert all(graph.node(f"q{i}").opaque for i in range(4))
    assert "saved without a module" in graph.node("q0").opaque_reason
    with pytest.raises(inspector.UnsafeModelError, match="saved without a module"):
        inspector.load_model(path)
    with pytest.raises(inspector.ModelLoadError) as info:
        inspector.load_model(path, trust=True)
    assert "defined in the script that saved it" in info.value.what and "package" not in info.value.what
    assert "custom_objects={'QDense': QDense}" in info.value.fix


def test_an_unknown_layer_takes_its_output_shape_from_the_next_layers_build_config(tmp_path):
    graph = static_graph(_custom_layers_file(tmp_path))
    assert [graph.node(f"q{i}").output_shapes for i in range(3)] == [((None, 5),), ((None, 4),), ((None, 3),)]
    assert graph.node("q1").input_shapes == ((None, 5),)
    assert graph.total_params == 6 * 5 + 5 + 5 * 4 + 4 + 4 * 3 + 3 + 3 * 2 + 2


@pytest.mark.parametrize("multiples", [[1, 2048, 1], "a tensor"])
def test_a_tile_growing_a_tensor_without_bound_stays_static(tf_keras2, tmp_path, multiples):
    """tf.tile grows a tensor by the product of its multiples: past MAX_TILE_FACTOR, or as a tensor known only when
    the model runs, a file could make the forward pass allocate without bound, so the op is not converted."""
    path = tmp_path / "ops.h5"
    path.write_bytes((tf_keras2 / "ops.h5").read_bytes())
    with h5py.File(path, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        layer = next(lc for lc in config["config"]["layers"] if lc["config"].get("function") == "tile")
        assert layer["inbound_nodes"][0][3]["multiples"] == [1, 2, 1]  # as tf.keras 2 wrote it
        if multiples == "a tensor":  # the model's first input, as tf.keras 2 writes a tensor argument
            multiples = [config["config"]["input_layers"][0][0], 0, 0]
        layer["inbound_nodes"][0][3]["multiples"] = multiples
        f.attrs["model_config"] = json.dumps(config)
    with pytest.raises(inspector.UnsafeModelError, match=r"tf\.tile with multiples"):
        inspector.load_model(path)
    assert inspector.build_graph(path).node(layer["name"]).opaque


@pytest.mark.parametrize("merge_mode", ["concat", None])
def test_a_bidirectional_of_unequal_directions_is_refused_before_keras_builds_it(tmp_path, merge_mode):
    """tf.keras 2 lets the backward layer have its own size; Keras 3 builds the next layer for the forward size (a
    wrong shape, or a refused load): refused with what to do, the static view keeps tf.keras 2's shapes."""
    run_tf_keras(f"""
        backward = keras.layers.SimpleRNN(3, return_sequences=True, go_backwards=True)
        bi = keras.layers.Bidirectional(keras.layers.GRU(2, return_sequences=True), backward_layer=backward,
                                        merge_mode={merge_mode!r}, name="bi")
        x = keras.Input((5, 4))
        y = bi(x)
        y = keras.layers.Concatenate(name="cat")(y) if {merge_mode!r} is None else y
        model = keras.Model(x, keras.layers.Flatten(name="flat")(y))  # the next layer has no weights
        for fmt in ("h5", "keras"):
            model.save(f"bi.{{fmt}}")
    """, tmp_path)
    for fmt in ("h5", "keras"):
        with pytest.raises(inspector.ModelLoadError, match="backward layer .*size 3.* forward layer .*size 2"):
            inspector.load_model(tmp_path / f"bi.{fmt}")
        graph = inspector.build_graph(tmp_path / f"bi.{fmt}")
        assert graph.source.value == "static" and "Bidirectional" in graph.warnings[0]
        flat = next(n for n, _ in graph.walk() if n.name == "flat")
        assert flat.output_shapes[0] == (None, 5 * (2 + 3))
