"""Intermediate outputs against hand-built Keras sub-models, on real (tiny) models built in code."""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import zoo
from hostile_corpus import pickled_npy

import inspector
from inspector.analysis.activations import (
    Mode,
    activation_stats,
    compare_modes,
    inspect_layer,
    inspect_layers,
)
from inspector.errors import InputDataError, LayerNotFoundError, LimitExceededError
from inspector.io.inputs import NonFiniteInputWarning, input_specs, prepare_arrays
from inspector.limits import get_limits, set_limits

RNG = np.random.default_rng(0)
ATOL = 1e-5


def _close(a, b, atol=ATOL):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=atol, rtol=1e-5)


def _submodel(model, tensor):
    """The seed's recipe: a keras.Model from the model inputs to one tensor."""
    return keras.Model(model.inputs, tensor)


@pytest.fixture
def limits():
    old = get_limits()
    yield set_limits
    set_limits(**vars(old))


# ------------------------------------------------------------------------------ small zoo of our own
def cnn_sequential() -> keras.Model:
    return keras.Sequential([
        keras.Input((8, 8, 1), name="pixels"),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.MaxPooling2D(name="pool"),
        keras.layers.Flatten(name="flat"),
        keras.layers.Dropout(0.5, name="drop"),
        keras.layers.Dense(3, activation="softmax", name="probs"),
    ], name="cnn_sequential")


def branching_functional() -> keras.Model:
    x = keras.Input((5,), name="x")
    left = keras.layers.Dense(4, activation="relu", name="left")(x)
    right = keras.layers.Dense(4, activation="tanh", name="right")(x)
    added = keras.layers.Add(name="add")([left, right])
    scaled = keras.ops.multiply(added, 2.0)  # a bare operation node between layers
    return keras.Model(x, keras.layers.Dense(2, name="out")(scaled), name="branching")


def nested_after_a_layer() -> tuple[keras.Model, keras.Model]:
    """A nested model whose input is another layer's output, called twice (shared sub-model)."""
    inner_in = keras.Input((4,), name="enc_in")
    encoder = keras.Model(inner_in, keras.layers.Dense(3, activation="relu", name="enc_dense")(
        keras.layers.Dense(6, name="enc_hidden")(inner_in)), name="encoder")
    x = keras.Input((4,), name="x")
    pre = keras.layers.Dense(4, name="pre")(x)
    a = encoder(pre)
    b = encoder(keras.layers.Dense(4, name="other")(x))
    return keras.Model(x, keras.layers.Concatenate(name="cat")([a, b]), name="outer"), encoder


def lstm_with_states() -> keras.Model:
    """A layer with three outputs."""
    x = keras.Input((5, 3), name="seq")
    out, h, c = keras.layers.LSTM(4, return_state=True, name="lstm")(x)
    return keras.Model(x, keras.layers.Add(name="sum")([out, h, c]), name="lstm_states")


def categorical_columns() -> keras.Model:
    """One Input per table column, as in the seed's tabular model."""
    color = keras.Input((1,), dtype="int32", name="color")
    size = keras.Input((1,), name="size")
    embedded = keras.layers.Flatten(name="color_flat")(keras.layers.Embedding(5, 2, name="color_embed")(color))
    joined = keras.layers.Concatenate(name="join")([embedded, size])
    return keras.Model({"color": color, "size": size}, keras.layers.Dense(1, name="score")(joined), name="tabular")


@keras.saving.register_keras_serializable(package="test_activations")
class NumpyInside(keras.layers.Layer):
    """Does Python-side work on tensor values: cannot be traced, must still work (eagerly)."""

    def call(self, x):
        return x * float(np.asarray(x).max() > -1e9)

    def compute_output_shape(self, input_shape):
        return input_shape


# ------------------------------------------------------------------------------ equal to hand-built sub-models
def test_sequential_every_layer_matches_its_submodel():
    model = cnn_sequential()
    X = RNG.random((10, 8, 8, 1), dtype=np.float32)
    got = inspect_layers(model, "all", X, compiled=False)
    assert list(got) == [layer.name for layer in model.layers]
    for layer in model.layers:
        _close(got[layer.name], _submodel(model, layer.output).predict(X, verbose=0))


def test_seed_recipe_index_into_model_layers():
    model = cnn_sequential()
    X = RNG.random((6, 8, 8, 1), dtype=np.float32)
    reference = _submodel(model, model.layers[3].output).predict(X, verbose=0)  # K.function(..., [layers[3].output])
    _close(inspect_layer(model, 3, X), reference)
    _close(inspect_layer(model, -1, X), model.predict(X, verbose=0))


def test_functional_branches_and_bare_operations_match_submodels():
    model = branching_functional()
    X = RNG.random((7, 5), dtype=np.float32)
    got = inspect_layers(model, "all", X)
    by_name = {op.name: op for op in model.operations}
    assert set(got) == {op.name for op in model.operations if not isinstance(op, keras.layers.InputLayer)}
    for name, op in by_name.items():
        if name in got:
            _close(got[name], _submodel(model, op.output).predict(X, verbose=0))


def test_nested_model_inner_layers_match_the_inner_submodels():
    model = zoo.nested_3_levels()
    X = RNG.random((9, 6), dtype=np.float32)
    got = inspect_layers(model, "all", X)
    level2 = model.get_layer("level2")
    level3 = level2.get_layer("level3")
    _close(got["level2/level3/deep_dense"], _submodel(level3, level3.get_layer("deep_dense").output)(X))
    _close(got["level2/level3/deep_bn"], level3(X))
    _close(got["level2/mid_dense"], level2(X))
    _close(got["level2"], level2(X))
    _close(got["top_act"], model(X))
    _close(inspect_layer(model, "level2/level3/deep_dense", X), got["level2/level3/deep_dense"])
    _close(inspect_layer(model, "deep_dense", X), got["level2/level3/deep_dense"])  # unique inner name


def test_shared_nested_model_each_call_matches():
    model, encoder = nested_after_a_layer()
    X = RNG.random((8, 4), dtype=np.float32)
    got = inspect_layers(model, ["cat", "encoder@1/enc_hidden", "encoder@1", "encoder/enc_dense"], X)
    assert list(got) == ["encoder/enc_dense", "encoder@1", "encoder@1/enc_hidden", "cat"]  # graph order
    pre = _submodel(model, model.get_layer("pre").output).predict(X, verbose=0)
    other = _submodel(model, model.get_layer("other").output).predict(X, verbose=0)
    hidden = keras.Model(encoder.inputs, encoder.get_layer("enc_hidden").output)
    _close(got["encoder/enc_dense"], encoder(pre))
    _close(got["encoder@1/enc_hidden"], hidden(other))
    _close(got["encoder@1"], encoder(other))
    _close(got["cat"], model(X))
    _close(inspect_layer(model, "encoder", X, call_index=1), encoder(other))
    _close(inspect_layer(model, "encoder/enc_hidden", X, call_index=1), hidden(other))


def test_shared_layer_each_call_matches():
    model = zoo.shared_layer()
    left, right = RNG.random((6, 4), dtype=np.float32), RNG.random((6, 4), dtype=np.float32)
    shared = model.get_layer("shared_dense")
    got = inspect_layers(model, "all", [left, right])
    _close(got["shared_dense"], shared(left))
    _close(got["shared_dense@1"], shared(right))
    _close(inspect_layer(model, "shared_dense", [left, right], call_index=1), shared(right))
    _close(inspect_layer(model, "shared_dense@1", [left, right]), shared(right))
    _close(got["head"], model([left, right]))


def test_multi_input_dict_model_matches_submodel():
    model = zoo.multi_in_out_dict()
    X = {"image": RNG.random((5, 8, 8, 1), dtype=np.float32), "meta": RNG.random((5, 3), dtype=np.float32)}
    got = inspect_layers(model, ["join", "label", "score"], X)
    _close(got["join"], _submodel(model, model.get_layer("join").output).predict(X, verbose=0))
    reference = model.predict(X, verbose=0)
    _close(got["label"], reference["label"])
    _close(got["score"], reference["score"])
    _close(inspect_layers(model, ["join"], [X["image"], X["meta"]])["join"], got["join"])  # list, model order


def test_dataframe_and_csv_for_one_input_per_column(tmp_path):
    model = categorical_columns()
    frame = pd.DataFrame({"size": RNG.random(12), "color": RNG.integers(0, 5, 12), "label": np.zeros(12)})
    reference = _submodel(model, model.get_layer("join").output).predict(
        {"color": frame["color"].to_numpy()[:, None], "size": frame["size"].to_numpy()[:, None]}, verbose=0)
    _close(inspect_layer(model, "join", frame), reference)
    frame.to_csv(tmp_path / "rows.csv", index=False)
    _close(inspect_layer(model, "join", tmp_path / "rows.csv"), reference)
    frame.drop(columns="color").to_csv(tmp_path / "broken.csv", index=False)
    with pytest.raises(InputDataError) as info:
        inspect_layer(model, "join", tmp_path / "broken.csv")
    assert "expected columns ['color', 'size']" in str(info.value)
    assert "'color' shape (None, 1) dtype int32" in str(info.value)


def test_npy_and_npz_paths(tmp_path):
    model = zoo.multi_in_out_dict()
    image, meta = RNG.random((4, 8, 8, 1), dtype=np.float32), RNG.random((4, 3), dtype=np.float32)
    np.savez(tmp_path / "x.npz", image=image, meta=meta)
    _close(inspect_layer(model, "score", tmp_path / "x.npz"), model.predict({"image": image, "meta": meta},
                                                                             verbose=0)["score"])
    seq = zoo.sequential_mlp()
    np.save(tmp_path / "x.npy", RNG.random((3, 8)))
    assert inspect_layer(seq, 0, str(tmp_path / "x.npy")).shape == (3, 16)


def test_multi_output_layer_returns_a_list():
    model = lstm_with_states()
    X = RNG.random((4, 5, 3), dtype=np.float32)
    got = inspect_layer(model, "lstm", X)
    assert isinstance(got, list) and len(got) == 3
    lstm = model.get_layer("lstm")
    reference = keras.Model(model.inputs, list(lstm._inbound_nodes[0].outputs)).predict(X, verbose=0)
    for a, b in zip(got, reference, strict=True):
        _close(a, b)


def test_masks_propagate_as_in_the_model():
    model = zoo.masking()
    tokens = np.array([[3, 4, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7]], dtype="int32")
    reference = _submodel(model, model.get_layer("pool").output).predict(tokens, verbose=0)
    for compiled in (False, True):
        _close(inspect_layer(model, "pool", tokens, compiled=compiled), reference)


def test_string_inputs():
    words = keras.Input((1,), dtype="string", name="word")
    ids = keras.layers.StringLookup(vocabulary=["cat", "dog"], name="lookup")(words)
    model = keras.Model(words, keras.layers.Embedding(3, 2, name="embed")(ids))
    X = np.array([["dog"], ["cat"], ["emu"]])
    for compiled in (False, True):
        np.testing.assert_array_equal(inspect_layer(model, "lookup", X, compiled=compiled)[:, 0], [2, 1, 0])
    stats = activation_stats(model, "all", X)
    assert stats["layer"].tolist() == ["lookup", "embed"] and stats["count"].tolist() == [3, 6]


def test_node_ids_are_the_graph_ids():
    for model in (zoo.nested_3_levels(), zoo.shared_layer(), nested_after_a_layer()[0], branching_functional()):
        graph_ids = [n.id for n, _ in inspector.build_graph(model).walk() if n.kind != inspector.NodeKind.INPUT]
        assert list(inspect_layers(model, "all", _zeros_for(model))) == graph_ids
        node = inspector.build_graph(model).nodes[-1]
        assert inspect_layer(model, node, _zeros_for(model)).shape[0] == 2  # a LayerNode picks its node


def _zeros_for(model, n=2):
    arrays = [np.zeros((n, *t.shape[1:]), dtype=t.dtype) for t in model.inputs]
    return arrays[0] if len(arrays) == 1 else arrays


# ------------------------------------------------------------------------------ training mode
def _state(model):
    return [v.numpy().copy() for v in model.variables]


@pytest.mark.parametrize("compiled", [False, True])
def test_training_mode_changes_dropout_and_batchnorm_but_not_the_model(compiled):
    model = zoo.dropout_batchnorm()
    X = RNG.random((64, 6), dtype=np.float32) * 3
    bn = model.get_layer("bn")
    before = _state(model)
    moving = bn.moving_mean.numpy().copy(), bn.moving_variance.numpy().copy()
    train = inspect_layers(model, ["bn", "drop"], X, training=True, batch_size=16, compiled=compiled)
    infer = inspect_layers(model, ["bn", "drop"], X, training=Mode.INFERENCE, batch_size=16, compiled=compiled)
    after = _state(model)
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))  # weights, BN stats, seed state
    np.testing.assert_array_equal(bn.moving_mean.numpy(), moving[0])
    np.testing.assert_array_equal(bn.moving_variance.numpy(), moving[1])
    drop = train["drop"]
    assert (drop == 0).mean() > 0.3  # about half dropped
    kept = drop != 0
    _close(drop[kept], train["bn"][kept] * 2)  # survivors scaled by 1 / (1 - rate)
    assert not np.allclose(train["bn"], infer["bn"], atol=1e-3)  # batch statistics vs moving statistics
    _close(infer["drop"], infer["bn"])  # inference: dropout is the identity
    masks = (drop == 0).reshape(4, 16, -1)
    assert not all(np.array_equal(masks[0], m) for m in masks[1:])  # each batch draws its own mask
    again = inspect_layers(model, ["drop"], X, training=True, batch_size=16, compiled=compiled)["drop"]
    np.testing.assert_array_equal(again, drop)  # reproducible: starts from the model's own seed state


def test_training_batchnorm_uses_batch_statistics():
    model = zoo.dropout_batchnorm()
    X = RNG.random((32, 6), dtype=np.float32)
    hidden = inspect_layer(model, "hidden", X)
    bn = model.get_layer("bn")
    expected = (hidden - hidden.mean(0)) / np.sqrt(hidden.var(0) + bn.epsilon) * bn.gamma.numpy() + bn.beta.numpy()
    _close(inspect_layer(model, "bn", X, training=True), expected, atol=1e-4)


def test_compare_modes_reports_dropout_and_batchnorm_only():
    model = zoo.dropout_batchnorm()
    X = RNG.random((64, 6), dtype=np.float32)
    before = _state(model)
    frame = compare_modes(model, "all", X, batch_size=16)
    assert all(np.array_equal(a, b) for a, b in zip(before, _state(model), strict=True))
    diff = dict(zip(frame["layer"], frame["mean_abs_diff"], strict=True))
    assert diff["hidden"] == 0
    assert diff["bn"] > 0 and diff["drop"] > 0 and diff["out"] > 0
    assert list(frame.columns) == ["layer", "output", "class_name", "mean_abs_diff", "max_abs_diff",
                                   "mean_abs_inference", "relative_diff"]
    train = inspect_layer(model, "bn", X, training=True, batch_size=16)
    infer = inspect_layer(model, "bn", X)
    assert frame.set_index("layer").loc["bn", "mean_abs_diff"] == pytest.approx(np.abs(train - infer).mean(), rel=1e-5)


# ------------------------------------------------------------------------------ batching, compiling, streaming
@pytest.mark.parametrize("compiled", [False, True])
def test_batches_give_the_same_result_as_one_batch(compiled):
    model = cnn_sequential()
    X = RNG.random((23, 8, 8, 1), dtype=np.float32)
    whole = inspect_layers(model, "all", X, batch_size=23, compiled=False)
    pieces = inspect_layers(model, "all", X, batch_size=5, compiled=compiled)
    for name in whole:
        _close(pieces[name], whole[name])
        assert not pieces[name].flags.writeable  # results are read-only facts


def test_generator_tf_data_and_pydataset_streams_give_the_same_stats():
    model = cnn_sequential()
    X = RNG.standard_normal((40, 8, 8, 1)).astype(np.float32)
    y = np.zeros(40)
    expected = activation_stats(model, "all", X, batch_size=40)

    def generator():
        for i in range(0, 40, 7):
            yield X[i:i + 7], y[i:i + 7]

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return X[i * 10:(i + 1) * 10]

    streams = {"generator": generator(), "tf.data": tf.data.Dataset.from_tensor_slices((X, y)).batch(9),
               "PyDataset": Batches()}
    for name, stream in streams.items():
        seen = []
        got = activation_stats(model, "all", stream, progress=lambda fraction, message, seen=seen: seen.append(message))
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-6, atol=1e-6, obj=name)
        assert got.attrs["samples"] == 40
        assert seen[-1] in (f"batch {len(seen)}", f"batch {len(seen)} of {len(seen)}")
    assert seen == [f"batch {i} of 4" for i in range(1, 5)]


def test_streams_for_inspect_layers_are_concatenated():
    model = zoo.sequential_mlp()
    X = RNG.random((20, 8), dtype=np.float32)
    streamed = inspect_layers(model, "all", (X[i:i + 6] for i in range(0, 20, 6)))
    for name, array in inspect_layers(model, "all", X).items():
        _close(streamed[name], array)


def test_a_rebuilt_sequential_is_not_served_from_the_cache():
    model = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(2, name="a")])
    X = RNG.random((4, 3), dtype=np.float32)
    for _ in range(2):  # traced once and cached
        inspect_layers(model, "all", X, compiled=True)
    model.add(keras.layers.Dense(5, name="b"))
    got = inspect_layers(model, "all", X)
    assert list(got) == ["a", "b"] and got["b"].shape == (4, 5)
    _close(got["b"], model(X))


def test_untraceable_layer_falls_back_to_eager():
    x = keras.Input((3,), name="x")
    model = keras.Model(x, NumpyInside(name="numpy_inside")(keras.layers.Dense(2, name="d")(x)))
    X = RNG.random((5, 3), dtype=np.float32)
    _close(inspect_layer(model, "numpy_inside", X, compiled=True), model(X))


# ------------------------------------------------------------------------------ statistics
def _numpy_stats(a: np.ndarray) -> dict:
    finite = a[np.isfinite(a)].astype(np.float64)
    units = a.reshape(len(a), -1)
    return {"count": a.size, "mean": finite.mean(), "std": finite.std(), "min": finite.min(), "max": finite.max(),
            "zero_fraction": (a == 0).mean(), "dead_fraction": (units == 0).all(axis=0).mean(),
            "nan_count": np.isnan(a).sum(), "inf_count": np.isinf(a).sum()}


@pytest.mark.parametrize("compiled", [False, True])
def test_stats_match_numpy_on_the_full_array(compiled):
    model = cnn_sequential()
    X = RNG.standard_normal((30, 8, 8, 1)).astype(np.float32) * 10 + 1000  # offset: naive sums lose digits
    X[3, 2, 2, 0] = np.nan
    X[5, 0, 0, 0] = np.inf
    with pytest.warns(NonFiniteInputWarning, match="1 NaN and 1 Inf"):
        # same execution both ways: a fused compiled relu may turn NaN into 0 where eager keeps NaN
        full = inspect_layers(model, "all", X, compiled=compiled)
        frame = activation_stats(model, "all", X, batch_size=4, compiled=compiled)
    assert frame.attrs["input_warnings"] and len(frame) == len(model.layers)
    for row in frame.itertuples():
        expected = _numpy_stats(full[row.layer])
        for key, value in expected.items():
            assert getattr(row, key) == pytest.approx(value, rel=1e-6, abs=1e-9), (row.layer, key)
    conv = frame.set_index("layer").loc["conv"]
    assert conv.zero_fraction > 0 and conv.inf_count > 0
    if not compiled:  # TensorFlow's fused compiled conv+relu may turn NaN into 0; eager keeps it
        assert conv.nan_count > 0


def test_per_channel_stats_match_numpy():
    model = cnn_sequential()
    X = RNG.standard_normal((17, 8, 8, 1)).astype(np.float32)
    conv = inspect_layer(model, "conv", X)
    frame = activation_stats(model, ["conv", "probs"], X, batch_size=5, per_channel=True)
    assert frame["layer"].tolist() == ["conv"] * 4 + ["probs"] * 3
    for row in frame[frame.layer == "conv"].itertuples():
        channel = conv[..., row.channel]
        assert row.mean == pytest.approx(channel.mean(), rel=1e-6)
        assert row.std == pytest.approx(channel.std(), rel=1e-6)
        assert row.max == pytest.approx(channel.max())
        assert row.zero_fraction == pytest.approx((channel == 0).mean())
        assert row.dead_fraction == pytest.approx((channel.reshape(17, -1) == 0).all(axis=0).mean())


def test_dead_units_are_found():
    x = keras.Input((4,), name="x")
    dense = keras.layers.Dense(6, activation="relu", name="relu")
    model = keras.Model(x, dense(x))
    kernel, bias = dense.get_weights()
    bias[:2] = -100.0  # units 0 and 1 never fire for inputs in [0, 1)
    dense.set_weights([kernel, bias])
    frame = activation_stats(model, "relu", RNG.random((50, 4), dtype=np.float32), per_channel=True)
    assert frame["dead_fraction"].tolist()[:2] == [1.0, 1.0]
    assert activation_stats(model, "relu", RNG.random((50, 4), dtype=np.float32))["dead_fraction"].item() >= 2 / 6


# ------------------------------------------------------------------------------ refusals
def test_bad_layers_raise_layer_not_found_with_choices():
    model = zoo.nested_3_levels()
    X = np.zeros((2, 6))
    for bad in (99, "nope", "level2/nope", 2.5, "top_act@1"):
        with pytest.raises(LayerNotFoundError) as info:
            inspect_layer(model, bad, X)
        assert "'level2/level3/deep_dense'" in str(info.value), bad
    with pytest.raises(LayerNotFoundError, match="has 1 call"):
        inspect_layer(model, "top_act", X, call_index=1)
    with pytest.raises(LayerNotFoundError, match="subclassed"):
        inspect_layer(zoo.subclassed(), 0, np.zeros((2, 3)))
    with pytest.raises(LayerNotFoundError, match="not built"):
        inspect_layer(keras.Sequential([keras.layers.Dense(2)]), 0, np.zeros((2, 3)))


@pytest.mark.parametrize("data, needle", [
    (np.zeros((3, 8, 8, 1)), "single array"),
    ({"image": np.zeros((3, 8, 8, 1)), "metadata": np.zeros((3, 3))}, "No data for input(s) ['meta']"),
    ([np.zeros((3, 8, 8, 1)), np.zeros((3, 4))], "has shape (3, 4)"),
    ([np.zeros((3, 8, 8, 1)), np.array([["a"] * 3] * 3)], "dtype <U1"),
    ([np.zeros((3, 8, 8, 1)), np.zeros((2, 3))], "different numbers of samples"),
])
def test_bad_inputs_raise_input_data_error_naming_every_input(data, needle):
    model = zoo.multi_in_out_dict()
    with pytest.raises(InputDataError) as info:
        inspect_layer(model, "join", data)
    text = str(info.value)
    assert needle in text
    assert "'image' shape (None, 8, 8, 1) dtype float32" in text and "'meta' shape (None, 3) dtype float32" in text


def test_pickled_npy_is_refused_by_inspect_layer(tmp_path):
    marker = tmp_path / "PWNED"
    (tmp_path / "x.npy").write_bytes(pickled_npy(marker))
    with pytest.raises(InputDataError, match="never loaded"):
        inspect_layer(zoo.sequential_mlp(), 0, tmp_path / "x.npy")
    assert not marker.exists()


def test_batch_memory_limit_refuses_and_suggests_a_batch_size(limits):
    model = cnn_sequential()  # conv output 6*6*4 floats = 576 bytes per sample; all layers 1508 bytes
    X = np.zeros((40, 8, 8, 1), np.float32)
    limits(max_batch_bytes=576 * 10)
    with pytest.raises(LimitExceededError) as info:
        activation_stats(model, ["conv"], X, batch_size=20)
    assert "batch_size=10 or less" in str(info.value) and "max_batch_bytes" in str(info.value)
    assert len(activation_stats(model, ["conv"], X)) == 1  # automatic batch size fits
    assert inspect_layer(model, "conv", X).shape == (40, 6, 6, 4)  # results have their own limit
    limits(max_result_bytes=576 * 10)
    with pytest.raises(LimitExceededError, match="max_result_bytes"):
        inspect_layer(model, "conv", X)  # 40 samples' activations kept: 23 KB > 5.8 KB
    limits(max_batch_bytes=100)
    with pytest.raises(LimitExceededError, match="One sample"):
        inspect_layer(model, "conv", X[:1])


def test_sample_limit_applies_to_in_memory_results_only(limits):
    model = zoo.sequential_mlp()
    X = np.zeros((30, 8), np.float32)
    limits(max_samples=20)
    with pytest.raises(LimitExceededError, match="max_samples = 20"):
        inspect_layers(model, "all", X)
    with pytest.raises(LimitExceededError, match="max_samples = 20"):
        inspect_layers(model, "all", (X[i:i + 8] for i in range(0, 30, 8)))
    assert activation_stats(model, "all", X).attrs["samples"] == 30


def test_nan_inputs_are_reported_not_hidden():
    model = zoo.sequential_mlp()
    X = np.ones((4, 8))
    X[2, 5] = np.nan
    with pytest.warns(NonFiniteInputWarning, match="Input 'features' holds 1 NaN"):
        out = inspect_layer(model, 0, X)
    assert np.isnan(out[2]).all() and np.isfinite(out[[0, 1, 3]]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        inspect_layer(model, 0, np.ones((4, 8)))


def test_a_failing_layer_is_an_input_error_with_the_backend_reason():
    ids = keras.Input((1,), dtype="int32", name="ids")
    model = keras.Model(ids, keras.layers.Embedding(3, 2, name="embed")(ids))
    with pytest.raises(InputDataError, match=r"indices\[0,0\] = 7 is not in \[0, 3\)") as info:
        inspect_layer(model, "embed", np.array([[7], [1]]))
    assert "'ids' shape (None, 1) dtype int32" in str(info.value)


@pytest.mark.parametrize("name", ["entity_embeddings", "masked_text", "nested_gan", "otto_mlp", "tanh_hinge"])
def test_bundled_samples_with_their_input_files(name):
    folder = Path(__file__).resolve().parents[1] / "sample_models" / name
    model = inspector.load_model(folder / "model.keras")
    arrays = prepare_arrays(folder / "inputs.npz", input_specs(model))
    got = inspect_layers(model, "all", folder / "inputs.npz")
    outputs = model.predict(arrays if len(arrays) > 1 else arrays[0], verbose=0)
    outputs = outputs if isinstance(outputs, list) else list(outputs.values()) if isinstance(outputs, dict) else [
        outputs]
    graph = inspector.build_graph(model)
    for node_id, expected in zip(graph.outputs, outputs, strict=True):
        _close(got[node_id], expected, atol=1e-4)


def test_training_argument_is_checked():
    with pytest.raises(InputDataError, match="training must be"):
        inspect_layer(zoo.sequential_mlp(), 0, np.ones((2, 8)), training="yes")
