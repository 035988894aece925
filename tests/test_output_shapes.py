"""The output shapes computed without Keras, against Keras's own ``compute_output_shape`` on the same layer.

Each case builds a real Keras layer, takes its ``get_config()`` (what a file stores) and compares our
arithmetic on it with what Keras computes; every case must be answered (``None`` only where stated).
The static view of every sample file is checked against the loaded model in test_one_static_view.py;
here, that a static graph needs no Keras import when every layer is one this module knows.
"""

from __future__ import annotations

import subprocess
import sys

import keras
import pytest

from inspector.model.output_shapes import output_shapes

L = keras.layers
CASES = [
    (L.Dense(5), [(None, 3), (None, 7, 3)]),
    (L.Activation("relu"), [(None, 3)]), (L.Dropout(0.5), [(None, 4, 4)]), (L.BatchNormalization(), [(None, 8, 8, 3)]),
    (L.LayerNormalization(), [(None, 5, 6)]), (L.Softmax(), [(None, 3)]), (L.Rescaling(0.5), [(None, 3)]),
    (L.Conv1D(4, 3), [(None, 10, 2), (None, None, 2)]),
    (L.Conv1D(4, 3, padding="causal", dilation_rate=2), [(None, 10, 2)]),
    (L.Conv2D(8, 3, strides=2, padding="same"), [(None, 32, 31, 3)]),
    (L.Conv2D(8, (3, 5), strides=(2, 1)), [(None, 32, 31, 3)]),
    (L.Conv2D(8, 3, dilation_rate=2), [(None, 16, 16, 3)]),
    (L.Conv2D(8, 3, data_format="channels_first"), [(None, 3, 16, 12)]),
    (L.Conv3D(2, 2), [(None, 5, 6, 7, 1)]),
    (L.Conv2DTranspose(4, 3, strides=2), [(None, 7, 9, 2)]),
    (L.Conv2DTranspose(4, 3, strides=2, padding="same"), [(None, 7, 9, 2)]),
    (L.Conv2DTranspose(4, 4, strides=2, padding="same", output_padding=1), [(None, 7, 9, 2)]),
    (L.Conv1DTranspose(4, 5, strides=3, padding="valid", output_padding=2), [(None, 7, 2)]),
    (L.DepthwiseConv2D(3, depth_multiplier=2), [(None, 10, 10, 3)]),
    (L.SeparableConv2D(6, 3, strides=2, padding="same"), [(None, 11, 11, 3)]),
    (L.MaxPooling2D(), [(None, 9, 8, 3)]), (L.MaxPooling2D(3, strides=2, padding="same"), [(None, 9, 8, 3)]),
    (L.AveragePooling1D(4), [(None, 17, 2)]), (L.MaxPooling3D(2), [(None, 4, 5, 6, 1)]),
    (L.GlobalAveragePooling2D(), [(None, 7, 7, 5)]), (L.GlobalMaxPooling1D(keepdims=True), [(None, 7, 5)]),
    (L.GlobalAveragePooling2D(data_format="channels_first"), [(None, 5, 7, 7)]),
    (L.ZeroPadding2D(((1, 2), (3, 4))), [(None, 5, 5, 3)]), (L.ZeroPadding1D(2), [(None, 5, 3)]),
    (L.Cropping2D(((1, 0), (2, 2))), [(None, 8, 8, 3)]), (L.Cropping1D((1, 2)), [(None, 8, 3)]),
    (L.UpSampling2D((2, 3)), [(None, 4, 5, 3)]), (L.UpSampling1D(3), [(None, 4, 3)]),
    (L.Flatten(), [(None, 4, 5, 3), (None, None, 3)]),
    (L.Reshape((-1, 4)), [(None, 6, 2)]), (L.Reshape((3, 2)), [(None, 6)]), (L.Permute((2, 1)), [(None, 6, 2)]),
    (L.RepeatVector(3), [(None, 4)]),
    (L.Embedding(100, 16), [(None, 12), (None, None)]),
    (L.LSTM(7), [(None, 5, 3)]), (L.GRU(7, return_sequences=True), [(None, None, 3)]),
    (L.SimpleRNN(2, return_sequences=True), [(None, 5, 3)]), (L.LSTM(3, return_state=True), [(None, 5, 2)]),
    (L.GRU(3, return_state=True, return_sequences=True), [(None, 5, 2)]),
    (L.Bidirectional(L.LSTM(4, return_sequences=True)), [(None, 5, 3)]),
    (L.Bidirectional(L.GRU(4), merge_mode="sum"), [(None, 5, 3)]),
    (L.Bidirectional(L.LSTM(3, return_sequences=True), merge_mode=None), [(None, 5, 4)]),
    (L.TimeDistributed(L.Dense(3)), [(None, 6, 4)]), (L.TimeDistributed(L.Conv2D(2, 3)), [(None, 6, 8, 8, 1)]),
]
MERGES = [
    (L.Add(), [(None, 4), (None, 4)]), (L.Multiply(), [(None, 2, 4), (None, 2, 4), (None, 2, 4)]),
    (L.Concatenate(), [(None, 4), (None, 3)]), (L.Concatenate(axis=1), [(None, 4, 2), (None, 3, 2)]),
    (L.Concatenate(axis=1), [(None, None, 2), (None, 3, 2)]),
]


def _keras_shapes(layer: keras.Layer, inputs: list) -> tuple:
    result = layer.compute_output_shape(inputs[0] if len(inputs) == 1 else inputs)
    return tuple(tuple(r) for r in result) if isinstance(result[0], (tuple, list)) else (tuple(result),)


@pytest.mark.parametrize(("layer", "shapes"), CASES, ids=lambda v: type(v).__name__ if isinstance(v, L.Layer) else "")
def test_one_input_layers_match_keras(layer, shapes):
    config = layer.get_config()
    for shape in shapes:
        ours = output_shapes(type(layer).__name__, config, (shape,))
        assert ours is not None, (type(layer).__name__, shape)
        assert ours == _keras_shapes(layer, [shape]), (config, shape)


@pytest.mark.parametrize(("layer", "shapes"), MERGES, ids=lambda v: type(v).__name__ if isinstance(v, L.Layer) else "")
def test_merge_layers_match_keras(layer, shapes):
    ours = output_shapes(type(layer).__name__, layer.get_config(), tuple(shapes))
    assert ours is not None and ours == _keras_shapes(layer, shapes)


def test_a_backward_layer_of_another_size_concatenates_both_sizes():
    """tf.keras 2's number (conformance case bidirectional_unequal): Keras 3's own rule doubles the forward size."""
    layer = L.Bidirectional(L.GRU(2, return_sequences=True),
                            backward_layer=L.SimpleRNN(3, return_sequences=True, go_backwards=True))
    assert output_shapes("Bidirectional", layer.get_config(), ((None, 5, 4),)) == ((None, 5, 5),)


def test_what_is_not_known_exactly_is_none():
    assert output_shapes("CustomThing", {}, ((None, 3),)) is None
    assert output_shapes("LSTM", {"units": 3, "time_major": True}, ((None, 5, 2),)) is None
    assert output_shapes("Add", {}, ((None, 1), (None, 4))) is None  # broadcasting: ask Keras
    assert output_shapes("Dense", {"units": 0}, ((None, 3),)) is None
    assert output_shapes("Conv2D", {"filters": 2, "kernel_size": 5}, ((None, 3, 3, 1),)) is None  # window too large
    assert output_shapes("Dense", {"units": 2}, (None,)) is None


def test_a_static_graph_of_known_layers_imports_neither_keras_nor_tensorflow(tmp_path):
    model = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(4, 3), L.MaxPooling2D(), L.Flatten(), L.Dense(10)])
    path = tmp_path / "m.keras"
    model.save(path)
    code = (f"import sys, inspector; g = inspector.static_graph({str(path)!r}); "
            "print([n.output_shapes for n in g.nodes]); "
            "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    shapes, imported = result.stdout.strip().splitlines()
    assert imported == "[]"
    assert shapes == str([(tuple(model.inputs[0].shape),)] + [(tuple(layer.output.shape),) for layer in model.layers])
