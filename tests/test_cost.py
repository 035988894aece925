"""MACs and activation bytes: every layer family against a hand formula, unknowns as None, published totals."""

from __future__ import annotations

import gc

import keras
import numpy as np
import pytest
import zoo

import inspector
from inspector.cost import LayerCost, format_macs, layer_costs, total_macs, total_output_bytes
from inspector.graph import LayerNode, ModelGraph

L = keras.layers


def cost(layer: keras.layers.Layer, *shapes: tuple, dtype: str = "float32", **call_kwargs) -> LayerCost:
    """The cost of ``layer`` called once on inputs of ``shapes``, read from the graph of a real model."""
    inputs = [keras.Input(shape, dtype=dtype) for shape in shapes]
    outputs = layer(inputs) if _is_merge(layer) else layer(*inputs, **call_kwargs)
    model = keras.Model(inputs, outputs)
    return layer_costs(inspector.build_graph(model))[layer.name]


def _is_merge(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum, L.Concatenate, L.Dot))


def spatial_positions(layer: keras.layers.Layer) -> int:
    """Output positions of a channels-last conv layer after it was called (its output shape, batch and channels off)."""
    return int(np.prod(layer.output.shape[1:-1]))


# ---------------------------------------------------------------------------------------------- dense
def test_dense_rank_2_and_rank_3():
    assert cost(L.Dense(3, name="d"), (8,)) == LayerCost(8 * 3, 3 * 4)
    # a Dense on (time, features) applies its kernel at every time step
    assert cost(L.Dense(3, activation="relu", name="d"), (5, 8)).macs == 5 * 8 * 3


@pytest.mark.parametrize("equation, output_shape, shape, macs", [
    ("abc,cd->abd", (5, 3), (5, 8), 5 * 8 * 3),  # a Dense over the last axis of (time, features)
    ("...b,bc->...c", 3, (5, 8), 5 * 8 * 3),  # the same with an ellipsis
    ("ab,bcd->acd", (2, 3), (8,), 8 * 2 * 3),  # a projection into (heads, size)
])
def test_einsum_dense(equation, output_shape, shape, macs):
    layer = L.EinsumDense(equation, output_shape=output_shape, name="e")
    assert cost(layer, shape).macs == macs
    positions = int(np.prod(shape[:-1]))  # independent: the kernel is applied once per position
    assert macs == positions * int(np.prod(layer.kernel.shape))


# ----------------------------------------------------------------------------------------- convolutions
def test_conv1d_strides_and_dilation():
    assert cost(L.Conv1D(4, 3, strides=2, name="c"), (10, 3)).macs == 4 * 4 * 3 * 3  # (10-3)//2+1 = 4 positions
    assert cost(L.Conv1D(4, 3, dilation_rate=2, padding="same", name="c"), (10, 3)).macs == 10 * 4 * 3 * 3


def test_conv2d_groups_strides_padding():
    # 8x8 'same' with stride 2 -> 4x4; each output value reads 3x3 x (4 / 2 groups) inputs
    assert cost(L.Conv2D(6, 3, strides=2, padding="same", groups=2, name="c"), (8, 8, 4)).macs == 4 * 4 * 6 * 9 * 2
    assert cost(L.Conv2D(6, (3, 5), padding="valid", name="c"), (8, 8, 4)).macs == 6 * 4 * 6 * 15 * 4


def test_conv2d_channels_first():
    layer = L.Conv2D(4, 3, data_format="channels_first", name="c")
    assert cost(layer, (3, 8, 8)).macs == 6 * 6 * 4 * 9 * 3


def test_conv3d():
    assert cost(L.Conv3D(3, 3, name="c"), (6, 6, 6, 2)).macs == 4 * 4 * 4 * 3 * 27 * 2


def test_conv_macs_equal_kernel_size_times_positions():
    """An independent count: every kernel weight is used once per output position (groups shrink the kernel)."""
    for layer, shape in [(L.Conv2D(8, 3, strides=2, dilation_rate=1, groups=4, name="c"), (9, 9, 8)),
                         (L.Conv2D(5, 3, dilation_rate=2, name="c"), (11, 11, 3)),
                         (L.Conv1D(7, 5, strides=3, padding="same", name="c"), (20, 6)),
                         (L.DepthwiseConv2D(3, depth_multiplier=3, strides=2, name="c"), (9, 9, 4))]:
        macs = cost(layer, shape).macs
        kernel = layer.kernel if hasattr(layer, "kernel") else layer.depthwise_kernel
        assert macs == int(np.prod(kernel.shape)) * spatial_positions(layer), layer


def test_depthwise_conv():
    assert cost(L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="c"), (8, 8, 3)).macs == 8 * 8 * 6 * 9
    assert cost(L.DepthwiseConv1D(3, name="c"), (10, 4)).macs == 8 * 4 * 3


def test_separable_conv():
    # depthwise: 6x6 positions x (3 x 2) channels x 9 taps; pointwise: 6x6 x 6 -> 5
    assert cost(L.SeparableConv2D(5, 3, depth_multiplier=2, name="c"), (8, 8, 3)).macs == 36 * 6 * 9 + 36 * 6 * 5
    assert cost(L.SeparableConv1D(4, 3, name="c"), (10, 2)).macs == 8 * 2 * 3 + 8 * 2 * 4


def test_conv_transpose_counts_input_positions():
    layer = L.Conv2DTranspose(5, 3, strides=2, name="c")
    result = cost(layer, (4, 4, 3))
    assert layer.output.shape[1:] == (9, 9, 5)
    assert result.macs == 4 * 4 * 3 * 9 * 5
    assert cost(L.Conv1DTranspose(2, 4, strides=2, padding="same", name="c"), (6, 3)).macs == 6 * 3 * 4 * 2
    assert cost(L.Conv3DTranspose(2, 2, name="c"), (3, 3, 3, 4)).macs == 27 * 4 * 8 * 2


# ---------------------------------------------------------------------------------------------- pooling
def test_pooling():
    assert cost(L.MaxPooling2D(2, name="p"), (8, 8, 3)) == LayerCost(0, 4 * 4 * 3 * 4)
    assert cost(L.AveragePooling2D(2, name="p"), (8, 8, 3)).macs == 4 * 4 * 3
    assert cost(L.AveragePooling1D(3, strides=1, name="p"), (10, 2)).macs == 8 * 2
    assert cost(L.GlobalAveragePooling2D(name="p"), (8, 8, 3)).macs == 3
    assert cost(L.GlobalMaxPooling1D(name="p"), (10, 2)).macs == 0


# ----------------------------------------------------------------------------------------- normalisation
def test_normalization():
    assert cost(L.BatchNormalization(name="n"), (5, 4)).macs == 5 * 4
    assert cost(L.LayerNormalization(name="n"), (5, 4)).macs == 3 * 5 * 4
    assert cost(L.LayerNormalization(scale=False, name="n"), (5, 4)).macs == 2 * 5 * 4
    assert cost(L.Rescaling(1 / 255, name="n"), (4, 4, 3)).macs == 48


# ---------------------------------------------------------------------------------------------- merges
@pytest.mark.parametrize("layer, inputs, macs", [
    (L.Add, 2, 0), (L.Subtract, 2, 0), (L.Maximum, 3, 0), (L.Minimum, 2, 0), (L.Concatenate, 2, 0),
    (L.Multiply, 3, 2 * 6), (L.Average, 2, 6),
])
def test_elementwise_merges(layer, inputs, macs):
    result = cost(layer(name="m"), *[(6,)] * inputs)
    assert result.macs == macs
    assert result.output_bytes == (12 if layer is L.Concatenate else 6) * 4


def test_dot():
    assert cost(L.Dot(axes=1, name="m"), (6,), (6,)).macs == 6
    assert cost(L.Dot(axes=(2, 2), name="m"), (3, 5), (4, 5)).macs == 3 * 4 * 5


def test_keras_ops_in_a_functional_graph():
    a, b = keras.Input((3, 5), name="a"), keras.Input((5, 4), name="b")
    product = keras.ops.matmul(a, b)
    mask = keras.ops.not_equal(product, 0.0)
    graph = inspector.build_graph(keras.Model([a, b], [product, mask]))
    costs = {n.class_name: layer_costs(graph)[n.id] for n in graph.nodes}
    assert costs["Matmul"] == LayerCost(3 * 4 * 5, 3 * 4 * 4)
    assert costs["NotEqual"] == LayerCost(0, 3 * 4 * 1)  # booleans take one byte


# ------------------------------------------------------------------------------------------- embedding
def test_embedding_is_free_but_its_output_is_not():
    assert cost(L.Embedding(20, 4, name="e"), (7,), dtype="int32") == LayerCost(0, 7 * 4 * 4)


# ------------------------------------------------------------------------------------------- attention
def test_multi_head_attention_cross():
    q, v = keras.Input((5, 8)), keras.Input((7, 6))
    layer = L.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")
    graph = inspector.build_graph(keras.Model([q, v], layer(q, v)))
    h, dk, dv, tq, tv = 2, 4, 4, 5, 7
    expected = (tq * 8 * h * dk + tv * 6 * h * dk + tv * 6 * h * dv  # query, key (= value), value projections
                + tq * h * dk  # query scaling
                + h * tq * tv * dk + h * tq * tv * dv  # scores, weighted sum
                + tq * h * dv * 8)  # output projection back to the query's 8 features
    assert layer_costs(graph)["mha"].macs == expected


def test_multi_head_attention_self_with_key_value_sizes_and_output_shape():
    x = keras.Input((6, 10))
    layer = L.MultiHeadAttention(num_heads=3, key_dim=2, value_dim=5, output_shape=7, name="mha")
    graph = inspector.build_graph(keras.Model(x, layer(x, x)))
    h, dk, dv, t = 3, 2, 5, 6
    expected = (t * 10 * h * dk * 2 + t * 10 * h * dv + t * h * dk + h * t * t * (dk + dv) + t * h * dv * 7)
    assert layer_costs(graph)["mha"] == LayerCost(expected, 6 * 7 * 4)


def test_attention_projection_macs_match_the_kernels():
    """Independent of the config: each projection kernel is applied once per position of its input."""
    q, v = keras.Input((5, 8)), keras.Input((7, 6))
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=4, name="mha")
    graph = inspector.build_graph(keras.Model([q, v], layer(q, v)))
    kernels = {w.path.split("/")[-2]: int(np.prod(w.shape)) for w in layer.weights if w.path.endswith("kernel")}
    projections = 5 * kernels["query"] + 7 * kernels["key"] + 7 * kernels["value"] + 5 * kernels["attention_output"]
    attention = 5 * 2 * 3 + 2 * 5 * 7 * (3 + 4)
    assert layer_costs(graph)["mha"].macs == projections + attention


def test_dot_product_attention_layer():
    q, v = keras.Input((5, 4)), keras.Input((7, 4))
    for use_scale, extra in ((False, 0), (True, 5 * 7)):
        layer = L.Attention(use_scale=use_scale, name="att")
        graph = inspector.build_graph(keras.Model([q, v], layer([q, v])))
        assert layer_costs(graph)["att"].macs == 5 * 7 * 4 + 5 * 7 * 4 + extra


# ------------------------------------------------------------------------------------------- recurrent
def test_simple_rnn():
    assert cost(L.SimpleRNN(3, name="r"), (5, 8)).macs == 5 * 3 * (8 + 3)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru(reset_after):
    layer = L.GRU(3, reset_after=reset_after, return_sequences=True, return_state=True, name="r")
    result = cost(layer, (5, 8))
    assert result.macs == 5 * (3 * 3 * (8 + 3) + 3 * 3)
    assert result.output_bytes == (5 * 3 + 3) * 4  # the sequence and the state


def test_lstm_and_its_matmuls_match_the_kernels():
    layer = L.LSTM(3, name="r")
    macs = cost(layer, (5, 8)).macs
    assert macs == 5 * (4 * 3 * (8 + 3) + 3 * 3)
    kernel, recurrent = layer.cell.kernel, layer.cell.recurrent_kernel
    assert macs == 5 * (int(np.prod(kernel.shape)) + int(np.prod(recurrent.shape)) + 3 * 3)


def test_bidirectional_and_time_distributed():
    one_way = 5 * (4 * 3 * (8 + 3) + 3 * 3)
    assert cost(L.Bidirectional(L.LSTM(3), name="b"), (5, 8)).macs == 2 * one_way
    assert cost(L.Bidirectional(L.LSTM(3), merge_mode="mul", name="b"), (5, 8)).macs == 2 * one_way + 3
    assert cost(L.TimeDistributed(L.Dense(4), name="t"), (5, 8)).macs == 5 * 8 * 4


def test_conv_lstm_and_its_convolutions_match_the_kernels():
    layer = L.ConvLSTM2D(3, 3, padding="same", name="r")
    macs = cost(layer, (4, 6, 6, 2)).macs
    assert macs == 4 * (36 * 4 * 3 * 9 * (2 + 3) + 3 * 36 * 3)
    kernel, recurrent = layer.cell.kernel, layer.cell.recurrent_kernel
    assert macs == 4 * (36 * (int(np.prod(kernel.shape)) + int(np.prod(recurrent.shape))) + 3 * 36 * 3)
    sequences = L.ConvLSTM1D(2, 3, return_sequences=True, name="r")  # 'valid': 8 -> 6 positions
    assert cost(sequences, (5, 8, 3)).macs == 5 * (6 * 4 * 2 * 3 * (3 + 2) + 3 * 6 * 2)


# ------------------------------------------------------------------------------------------ activations
@pytest.mark.parametrize("layer", [L.Activation("relu", name="a"), L.ReLU(name="a"), L.Softmax(name="a"),
                                   L.LeakyReLU(name="a"), L.ELU(name="a"), L.PReLU(name="a")])
def test_activations_are_free(layer):
    assert cost(layer, (5, 4)) == LayerCost(0, 5 * 4 * 4)


def test_output_bytes_follow_the_dtype():
    assert cost(L.Dense(6, dtype="float16", name="d"), (4,), dtype="float16").output_bytes == 6 * 2
    assert cost(L.Dense(6, dtype="float64", name="d"), (4,), dtype="float64").output_bytes == 6 * 8


# ------------------------------------------------------------------------------------ nesting and sharing
def test_nested_model_is_the_sum_of_its_children():
    graph = inspector.build_graph(zoo.nested_3_levels())
    costs = layer_costs(graph)
    assert costs["level2/level3/deep_dense"].macs == 6 * 4
    assert costs["level2/level3/deep_bn"].macs == 4
    assert costs["level2/level3"].macs == 6 * 4 + 4
    assert costs["level2"].macs == 6 * 4 + 4 + 4 * 2
    assert total_macs(graph) == 6 * 4 + 4 + 4 * 2
    # activations are counted where they are made: the nested models' outputs are their children's
    made = 4 * 4 + 4 * 4 + 2 * 4 + 2 * 4  # deep_dense, deep_bn, mid_dense, top_act
    assert total_output_bytes(graph) == made


def test_every_call_of_a_shared_layer_counts():
    graph = inspector.build_graph(zoo.shared_layer())
    costs = layer_costs(graph)
    assert costs["shared_dense"].macs == costs["shared_dense@1"].macs == 4 * 5
    assert total_macs(graph) == 2 * 4 * 5 + 10 * 1


def test_a_shared_nested_model_counts_per_call():
    encoder = keras.Sequential([keras.Input((4,)), L.Dense(3, name="enc_dense")], name="encoder")
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    graph = inspector.build_graph(keras.Model([a, b], L.Add(name="add")([encoder(a), encoder(b)])))
    costs = layer_costs(graph)
    assert costs["encoder"].macs == costs["encoder@1"].macs == 12
    assert total_macs(graph) == 24


# ----------------------------------------------------------------------------------------- unknowns
def test_unknown_dimensions_give_none_not_a_guess():
    result = cost(L.Conv2D(4, 3, name="c"), (None, None, 3))
    assert result.macs is None and result.output_bytes is None
    assert "unknown dimension" in result.note
    assert cost(L.LSTM(3, name="r"), (None, 8)).macs is None
    assert cost(L.Dense(3, name="d"), (None, 8)).macs is None


def test_unknown_layers_give_none_and_make_the_total_unknown():
    x = keras.Input((4,))
    graph = inspector.build_graph(keras.Model(x, L.Dense(2)(zoo.TinySubclassed(name="custom")(x))))
    costs = layer_costs(graph)
    assert costs["custom"].macs is None and "TinySubclassed" in costs["custom"].note
    assert total_macs(graph) is None
    assert format_macs(total_macs(graph)) == "unknown"


def test_a_custom_class_named_like_a_keras_layer_is_not_counted():
    class Dense(L.Dense):  # the user's own Dense: its call may do anything
        pass

    result = cost(Dense(3, name="d"), (8,))
    assert result.macs is None and "custom class" in result.note
    assert result.output_bytes == 3 * 4


def test_opaque_lambda_in_the_static_view_is_unknown(tmp_path):
    path = tmp_path / "lambda.keras"
    zoo.lambda_abs().save(path)
    graph = inspector.static_graph(path)
    costs = layer_costs(graph)
    assert costs["abs"].macs is None and costs["abs"].note
    assert total_macs(graph) is None


@pytest.mark.parametrize("class_name, config", [
    ("Conv2D", {"kernel_size": "x"}), ("Conv2D", {"kernel_size": [3, 3], "groups": 0}),
    ("Dense", {"units": -4}), ("MultiHeadAttention", {"num_heads": "two", "key_dim": 4}),
    ("Bidirectional", {"layer": ["not", "a", "dict"]}), ("EinsumDense", {"equation": 7}),
])
def test_malformed_configs_from_a_file_give_none_not_an_error(class_name, config):
    node = LayerNode("n", "n", class_name, input_shapes=((None, 5, 5, 4),), output_shapes=((None, 3, 3, 2),),
                     dtype="float32", config=config)
    graph = ModelGraph("m", "Functional", (node,), (), (), ("n",))
    result = layer_costs(graph)["n"]
    assert result.macs is None and result.note
    assert result.output_bytes == 3 * 3 * 2 * 4


def test_every_node_at_every_depth_has_a_cost():
    for name in zoo.SAFE:
        graph = inspector.build_graph(zoo.ZOO[name]())
        costs = layer_costs(graph)
        assert list(costs) == [n.id for n, _ in graph.walk()]
        assert all(c.macs is not None and c.output_bytes is not None for c in costs.values()), name


def test_static_view_counts_agree_with_the_loaded_model(tmp_path):
    """Same rules, same facts: wherever the static parse knows a count, it is the walked model's."""
    for name in zoo.SAFE:
        path = tmp_path / f"{name}.keras"
        zoo.ZOO[name]().save(path)
        walked, parsed = layer_costs(inspector.build_graph(path)), layer_costs(inspector.static_graph(path))
        assert set(parsed) == set(walked), name
        known = [node_id for node_id, c in parsed.items() if c.macs is not None]
        assert len(known) >= len(parsed) // 2, (name, parsed)
        for node_id in known:
            assert parsed[node_id].macs == walked[node_id].macs, (name, node_id)


def test_scale_layers_of_keras_applications():
    from keras.src.applications.convnext import LayerScale
    from keras.src.applications.inception_resnet_v2 import CustomScaleLayer

    assert cost(LayerScale(1e-6, 4, name="s"), (3, 3, 4)).macs == 3 * 3 * 4
    x, residual = keras.Input((3, 3, 4)), keras.Input((3, 3, 4))
    graph = inspector.build_graph(keras.Model([x, residual], CustomScaleLayer(0.2, name="s")([x, residual])))
    assert layer_costs(graph)["s"].macs == 3 * 3 * 4


# ----------------------------------------------------------------------------------- published figures
@pytest.mark.parametrize("name, published", [("VGG16", 15.47e9), ("MobileNetV2", 300e6), ("ResNet50", 3.86e9)])
def test_totals_match_published_figures_at_224(name, published):
    model = getattr(keras.applications, name)(weights=None, input_shape=(224, 224, 3))
    graph = inspector.build_graph(model)
    macs = total_macs(graph)
    assert macs is not None
    assert abs(macs / published - 1) < 0.03, (name, format_macs(macs))
    # activations: every layer output once, float32
    made = sum(int(np.prod(layer.output.shape[1:])) * 4 for layer in model.layers
               if not isinstance(layer, keras.layers.InputLayer))
    assert total_output_bytes(graph) == made
    del model
    keras.backend.clear_session()
    gc.collect()


def test_vgg16_total_by_hand():
    """VGG16's convolutions and dense layers summed from the architecture table, independent of the graph."""
    blocks = [(224, 3, 64, 2), (112, 64, 128, 2), (56, 128, 256, 3), (28, 256, 512, 3), (14, 512, 512, 3)]
    convs = 0
    for size, c_in, c_out, count in blocks:
        convs += size * size * c_out * 9 * c_in + (count - 1) * size * size * c_out * 9 * c_out
    dense = 7 * 7 * 512 * 4096 + 4096 * 4096 + 4096 * 1000
    graph = inspector.build_graph(keras.applications.VGG16(weights=None))
    assert total_macs(graph) == convs + dense
    keras.backend.clear_session()


APPLICATIONS = sorted(
    name for name in dir(keras.applications) if name[0].isupper() and callable(getattr(keras.applications, name)))


@pytest.mark.slow
@pytest.mark.parametrize("name", APPLICATIONS)
def test_every_keras_application_has_a_total(name):
    """Every layer of the 40 architectures has a rule; MobileNetV3's default input has no size, so no total."""
    model = getattr(keras.applications, name)(weights=None)
    graph = inspector.build_graph(model)
    macs = total_macs(graph)
    if name.startswith("MobileNetV3"):
        assert model.input_shape[1] is None and macs is None
    else:
        assert macs is not None and macs > 100e6, (name, macs)
        assert total_output_bytes(graph) is not None
    del model
    keras.backend.clear_session()
    gc.collect()
