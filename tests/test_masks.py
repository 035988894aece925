"""Mask flow checked against Keras itself: the mask Keras attaches to every layer's output (``_keras_mask``),
whether the layer's ``call`` takes the mask, and the warning Keras gives when a layer destroys it."""

from __future__ import annotations

import warnings
from pathlib import Path

import keras
import numpy as np
import pytest

import inspector
from inspector.masks import CONSUMERS, PROPAGATORS, MaskRole, mask_flow


def text_model() -> keras.Model:
    """Embedding(mask_zero) → LSTM(sequences) → Dense → GlobalAveragePooling1D, and an LSTM that ends the mask."""
    tokens = keras.Input((7,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(30, 4, mask_zero=True, name="emb")(tokens)
    seq = keras.layers.LSTM(5, return_sequences=True, name="lstm_seq")(x)
    dense = keras.layers.Dense(4, name="per_step")(seq)
    pooled = keras.layers.GlobalAveragePooling1D(name="gap")(dense)
    last = keras.layers.LSTM(3, name="lstm_last")(seq)
    both_ways = keras.layers.Bidirectional(keras.layers.GRU(2, return_sequences=True), name="bi")(x)
    both_pooled = keras.layers.GlobalAveragePooling1D(name="bi_pool")(both_ways)
    merged = keras.layers.Concatenate(name="joined")([pooled, last, both_pooled])
    return keras.Model(tokens, keras.layers.Dense(1, name="head")(merged), name="text")


def merge_model() -> keras.Model:
    """Masked and unmasked sequences through Average and Concatenate, and layers that drop the mask."""
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    a = keras.layers.Embedding(20, 4, mask_zero=True, name="emb_a")(tokens)
    b = keras.layers.Embedding(20, 4, mask_zero=True, name="emb_b")(tokens)
    plain = keras.layers.Embedding(20, 4, name="emb_plain")(tokens)
    both = keras.layers.Average(name="avg_both")([a, b])
    half = keras.layers.Average(name="avg_half")([a, plain])
    cat = keras.layers.Concatenate(name="cat_half")([a, plain])
    rnn = keras.layers.GRU(3, name="gru")(cat)
    conv = keras.layers.Conv1D(2, 2, name="conv")(both)
    flat = keras.layers.Flatten(name="flat")(a)
    half_pooled = keras.layers.GlobalMaxPooling1D(name="half_pool")(half)  # the mask is already gone
    dropped = keras.layers.Dense(2, name="after_drop")(keras.layers.Flatten(name="flat_conv")(conv))
    masked_again = keras.layers.Masking(name="remask")(both)
    attention = keras.layers.Attention(name="attn")([masked_again, plain])
    pooled = keras.layers.GlobalAveragePooling1D(name="attn_pool")(attention)
    out = keras.layers.Concatenate(name="all")([rnn, flat, dropped, pooled, half_pooled])
    return keras.Model(tokens, out, name="merges")


def keras_masked(model: keras.Model) -> dict[str, bool]:
    """What Keras computed: does each layer's output tensor carry a mask."""
    return {layer.name: getattr(layer.output, "_keras_mask", None) is not None for layer in model.layers}


@pytest.mark.parametrize("build", [text_model, merge_model])
def test_masked_outputs_match_keras(build) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build()
    flow = mask_flow(inspector.build_graph(model))
    expected = keras_masked(model)
    ours = {name: (name, 0) in flow.masked for name in expected}
    assert ours == expected
    assert any(expected.values()) and not all(expected.values())


def test_roles_on_the_text_model() -> None:
    model = text_model()
    flow = mask_flow(inspector.build_graph(model))
    roles = {layer.name: flow.role(layer.name) for layer in model.layers}
    assert roles == {"tokens": "", "emb": "produces", "lstm_seq": "consumes", "per_step": "propagates",
                     "gap": "consumes", "lstm_last": "consumes", "bi": "consumes", "bi_pool": "consumes",
                     "joined": "", "head": ""}
    # "consumes" is exactly Keras's own test: the layer's call takes a mask argument
    for layer in model.layers:
        if roles[layer.name] in ("consumes", "propagates"):
            takes_mask = any(p.endswith("mask") for p in layer.call_signature_parameters)
            assert takes_mask == (roles[layer.name] == "consumes"), layer.name


def test_roles_through_merges_and_the_layers_that_drop_the_mask() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = merge_model()
    flow = mask_flow(inspector.build_graph(model))
    roles = {layer.name: flow.role(layer.name) for layer in model.layers}
    assert roles["avg_both"] == "propagates" and roles["avg_half"] == "drops"  # Average needs every input masked
    assert roles["cat_half"] == "propagates"  # Concatenate: any one will do
    assert roles["gru"] == roles["attn"] == roles["attn_pool"] == "consumes"
    assert roles["remask"] == "produces" and roles["emb_plain"] == roles["half_pool"] == ""
    dropping = {name for name, role in roles.items() if role == "drops"}
    assert dropping == {"avg_half", "conv", "flat"}
    # Keras warns for each layer that destroys a mask because it does not support masking (not for Average,
    # which supports masking but combines a missing mask into none)
    warned = {name for name in roles if any(f"Layer '{name}'" in str(w.message) and "destroy the mask" in
                                             str(w.message) for w in caught)}
    assert warned == {"conv", "flat"}
    frame = inspector.summary_frame(inspector.build_graph(model)).set_index("name")
    assert frame.loc["flat", "mask"] == "drops" and frame.loc["emb_a", "mask"] == "produces"
    assert list(frame.columns)[-1] == "mask"


def test_the_static_view_gives_the_same_roles(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = merge_model()
    model.save(tmp_path / "merges.keras")
    loaded = mask_flow(inspector.build_graph(model))
    static_graph = inspector.static_graph(tmp_path / "merges.keras")
    static = mask_flow(static_graph)
    names = [layer.name for layer in model.layers]
    assert {n: static.role(n) for n in names} == {n: loaded.role(n) for n in names}
    assert {(n, 0) in static.masked for n in names} == {(n, 0) in loaded.masked for n in names}


def test_rule_tables_agree_with_keras_supports_masking() -> None:
    """Every propagating/consuming class supports masking in Keras; a class outside the tables does not."""
    build = {"Dense": (2,), "Dropout": (0.1,), "Activation": ("relu",), "LayerNormalization": (),
             "BatchNormalization": (), "Softmax": (), "GlobalAveragePooling1D": (), "Attention": (),
             "MultiHeadAttention": (2, 2), "LSTM": (2,), "GRU": (2,), "SimpleRNN": (2,), "Rescaling": (1.0,),
             "TimeDistributed": (keras.layers.Dense(2),), "Conv1D": (2, 2), "Flatten": (), "Reshape": ((2,),),
             "MaxPooling1D": (), "GlobalMaxPooling1D": (), "RepeatVector": (2,)}
    for name, args in build.items():
        layer = getattr(keras.layers, name)(*args)
        in_tables = name in PROPAGATORS or name in CONSUMERS
        assert layer.supports_masking == in_tables, name
        if in_tables:  # Keras hands a mask to call(mask=...) or call(query_mask=..., value_mask=...)
            takes_mask = any(p.endswith("mask") for p in layer.call_signature_parameters)
            assert takes_mask == (name in CONSUMERS), name


def test_mask_carrying_edges_are_drawn_differently() -> None:
    from inspector.rendering.dot import MASK_COLOUR

    graph = inspector.build_graph(text_model())
    flow = mask_flow(graph)
    carried = [e for e in graph.edges if flow.carries(e)]
    assert {(e.src, e.dst) for e in carried} >= {("emb", "lstm_seq"), ("lstm_seq", "per_step"),
                                                 ("per_step", "gap"), ("lstm_seq", "lstm_last")}
    dot = inspector.to_dot(graph)
    assert dot.count(MASK_COLOUR) == len(carried)
    assert inspector.to_dot(graph, show_masks=False).count(MASK_COLOUR) == 0
    page = inspector.to_html(graph, engine="builtin")
    assert page.count(f'stroke="{MASK_COLOUR}"') == len(carried)
    figure = inspector.graph_figure(graph)
    (purple,) = [t for t in figure.data if t.name == "masked edges"]
    assert purple.line.color == MASK_COLOUR and list(purple.x).count(None) == len(carried)
    plain = inspector.build_graph(inspector.get_sample("otto_mlp").path)
    assert "masked edges" not in [t.name for t in inspector.graph_figure(plain).data]
    assert MASK_COLOUR not in inspector.to_dot(plain)
    assert set(mask_flow(plain).roles.values()) == {MaskRole.NONE}


def test_a_mask_goes_through_a_nested_model_as_keras_runs_it() -> None:
    """Keras's symbolic tensors lose the mask at a nested model's output, but a real call keeps it: the pooling
    after the nested model averages only the unpadded steps (checked with NumPy on the model's own outputs)."""
    inner_in = keras.Input((5, 4), name="inner_in")
    block = keras.Model(inner_in, keras.layers.Dense(3, name="inner_dense")(inner_in), name="block")
    tokens = keras.Input((5,), dtype="int32", name="tokens")
    steps = block(keras.layers.Embedding(9, 4, mask_zero=True, name="emb")(tokens))
    model = keras.Model(tokens, keras.layers.GlobalAveragePooling1D(name="gap")(steps))
    flow = mask_flow(inspector.build_graph(model))
    assert [flow.role(n) for n in ("emb", "block/inner_dense", "block", "gap")] == [
        "produces", "propagates", "propagates", "consumes"]
    x = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 6, 0]])
    per_step = np.asarray(keras.Model(tokens, steps)(x))
    expected = np.stack([per_step[0, :2].mean(0), per_step[1, :4].mean(0)])
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-6)
    assert not np.allclose(expected, per_step.mean(1))  # the mask made a difference


def test_inspect_layers_passes_the_mask_into_a_nested_model() -> None:
    """The walk hands a nested model the mask its call receives (it raised AttributeError before): the nested
    LSTM's output read by inspect_layers is Keras's own masked output, not the output over the padding."""
    inner_in = keras.Input((5, 4), name="inner_in")
    encoder = keras.Model(inner_in, keras.layers.LSTM(3, name="inner_lstm")(inner_in), name="encoder")
    tokens = keras.Input((5,), dtype="int32", name="tokens")
    embedded = keras.layers.Embedding(9, 4, mask_zero=True, name="emb")(tokens)
    model = keras.Model(tokens, encoder(embedded))
    x = np.array([[1, 2, 0, 0, 0], [3, 4, 5, 0, 0]])
    outputs = inspector.inspect_layers(model, ["encoder", "encoder/inner_lstm"], x)
    np.testing.assert_allclose(outputs["encoder"], np.asarray(model(x)), rtol=1e-6)
    np.testing.assert_allclose(outputs["encoder/inner_lstm"], outputs["encoder"], rtol=1e-6)
    unmasked = np.asarray(encoder(np.asarray(keras.Model(tokens, embedded)(x))))
    assert not np.allclose(outputs["encoder"], unmasked)  # the mask made a difference
