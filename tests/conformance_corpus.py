"""The tf_keras conformance corpus: tf.keras 2 models in every format, with tf.keras 2's own numbers.

Every built-in layer family (``FAMILIES``) is built with tf.keras 2 — the ``tf_keras`` package, Keras 2 on the
installed TensorFlow — as Sequential, Functional, nested and shared-layer models (``CASES``), saved as ``.h5``,
as a SavedModel directory and as a tf.keras 2 ``.keras`` file (``FORMATS``).  Beside each model the generator
writes what tf.keras 2 itself says about it, on a fixed seeded input: ``<case>.json`` (parameter counts, total
and per layer; each layer call's output shapes) and ``<case>.npz`` (the input, and every layer call's outputs,
nested models' inner layers included).  Each file is read back by tf.keras 2, which must compute what the model
did: the oracle checks itself.  ``tests/test_conformance.py`` compares our static view, our loaded graph and
``inspect_layers`` with them (docs/conformance.md).

The corpus is generated, never committed: run as a script (``python tests/conformance_corpus.py DIR [CASE...]``)
it writes the named cases (all of them by default) into ``DIR``.  It must run in a process of its own: importing
``tf_keras`` registers Keras 2's dispatchers in TensorFlow (the ones that turn ``x + 1`` on a symbolic tensor into
a ``TFOpLambda`` layer), which the Keras 3 of the process under test must not see.  Same input, same files: the
weights are drawn from a generator seeded by the case's name, and the session is cleared before each case, so
the layer names Keras makes up (``tf.__operators__.add_1``) do not depend on which cases ran before.

This module imports neither TensorFlow nor Keras at import time: the tests read ``CASES`` from it.

Example:
    >>> [c.name for c in CASES if c.family == "dense"][:4]
    ['dense_sequential', 'dense_functional', 'dense_nested', 'dense_shared']
    >>> len(slice_cases()) == len(FAMILIES)
    True
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMATS = ("h5", "savedmodel", "keras")
BATCH = 3  # samples in the fixed input


@dataclass(frozen=True)
class Case:
    """One model of the corpus: its layer family, how it is assembled, and the function that builds it."""

    name: str
    family: str
    structure: str  # sequential | functional | nested | shared
    build: Callable[[Any, Any], Any]  # (tf_keras, tensorflow) -> model

    def path(self, folder: Path, fmt: str) -> Path:
        """Where the model is saved in format ``fmt`` (a directory for a SavedModel)."""
        return folder / {"h5": f"{self.name}.h5", "savedmodel": f"{self.name}_savedmodel",
                         "keras": f"{self.name}.keras"}[fmt]


CASES: list[Case] = []


def _case(family: str, structure: str) -> Callable[[Callable[[Any, Any], Any]], Callable[[Any, Any], Any]]:
    def register(build: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        CASES.append(Case(build.__name__, family, structure, build))
        return build

    return register


# ----------------------------------------------------------------------------- the models
# Every layer is named: the ids our graph gives are layer names, and tf.keras 2's made-up names change with the
# order models are built in.  Sizes are tiny: each case builds, saves three times and runs in about a second.

@_case("dense", "sequential")
def dense_sequential(k, tf):
    return k.Sequential([k.Input((6,), name="x"), k.layers.Dense(5, activation="relu", name="hidden"),
                         k.layers.Dropout(0.5, name="drop"), k.layers.Dense(3, activation="softmax", name="out")],
                        name="dense_sequential")


@_case("dense", "functional")
def dense_functional(k, tf):
    x = k.Input((6,), name="x")
    h = k.layers.Dense(5, activation="tanh", name="hidden")(x)
    skip = k.layers.Dense(5, use_bias=False, name="skip")(x)
    return k.Model(x, k.layers.Dense(2, name="out")(k.layers.Add(name="add")([h, skip])), name="dense_functional")


@_case("dense", "nested")
def dense_nested(k, tf):
    inner = k.Sequential([k.Input((6,)), k.layers.Dense(4, activation="relu", name="inner_dense"),
                          k.layers.Dense(3, name="inner_out")], name="block")
    x = k.Input((6,), name="x")
    return k.Model(x, k.layers.Dense(2, name="out")(inner(x)), name="dense_nested")


@_case("dense", "shared")
def dense_shared(k, tf):
    a, b = k.Input((4,), name="left"), k.Input((4,), name="right")
    shared = k.layers.Dense(3, activation="relu", name="shared")
    joined = k.layers.Concatenate(name="join")([shared(a), shared(b)])
    return k.Model([a, b], k.layers.Dense(1, name="out")(joined), name="dense_shared")


@_case("dense", "nested")
def dense_nested_deep(k, tf):
    """Sequential inside Functional inside Functional; the middle model is called on two inputs."""
    innermost = k.Sequential([k.Input((5,)), k.layers.Dense(4, name="deep_dense"),
                              k.layers.BatchNormalization(name="deep_bn")], name="level3")
    x = k.Input((5,), name="mid_in")
    middle = k.Model(x, k.layers.Dense(2, name="mid_dense")(innermost(x)), name="level2")
    a, b = k.Input((5,), name="a"), k.Input((5,), name="b")
    joined = k.layers.Concatenate(name="join")([middle(a), middle(b)])
    return k.Model([a, b], k.layers.Activation("sigmoid", name="top")(joined), name="dense_nested_deep")


@_case("dense", "functional")
def dense_multi_output(k, tf):
    """Two outputs, one layer feeding both heads, and Dense on a 3-D input."""
    x = k.Input((3, 4), name="x")
    trunk = k.layers.Dense(5, activation="relu", name="trunk")(x)
    flat = k.layers.Flatten(name="flat")(trunk)
    label = k.layers.Dense(3, activation="softmax", name="label")(flat)
    score = k.layers.EinsumDense("abc,cd->abd", output_shape=(3, 2), bias_axes="d", name="score")(trunk)
    return k.Model(x, [label, score], name="dense_multi_output")


@_case("conv1d", "sequential")
def conv1d(k, tf):
    return k.Sequential([k.Input((12, 3), name="x"), k.layers.Conv1D(4, 3, padding="same", name="conv"),
                         k.layers.MaxPooling1D(2, name="pool"),
                         k.layers.Conv1DTranspose(2, 3, strides=2, name="deconv"),
                         k.layers.Conv1D(3, 2, dilation_rate=2, activation="relu", name="dilated"),
                         k.layers.GlobalAveragePooling1D(name="gap")], name="conv1d")


@_case("conv2d", "functional")
def conv2d(k, tf):
    x = k.Input((9, 9, 2), name="x")
    h = k.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="conv")(x)
    h = k.layers.AveragePooling2D(2, padding="same", name="pool")(h)
    h = k.layers.Conv2DTranspose(3, 3, strides=2, name="deconv")(h)
    h = k.layers.Conv2D(2, (2, 3), name="rect")(h)
    return k.Model(x, k.layers.GlobalMaxPooling2D(name="gmp")(h), name="conv2d")


@_case("conv2d", "shared")
def conv2d_shared(k, tf):
    a, b = k.Input((6, 6, 2), name="left"), k.Input((6, 6, 2), name="right")
    conv = k.layers.Conv2D(3, 3, name="shared_conv")
    diff = k.layers.Subtract(name="diff")([conv(a), conv(b)])
    return k.Model([a, b], k.layers.Flatten(name="flat")(diff), name="conv2d_shared")


@_case("conv2d", "nested")
def conv2d_nested(k, tf):
    """A nested Sequential called twice: the outer config's inbound nodes name node_index 1 and 2."""
    block = k.Sequential([k.Input((6, 6, 2)), k.layers.Conv2D(3, 3, name="block_conv"),
                          k.layers.BatchNormalization(name="block_bn"), k.layers.Flatten(name="block_flat")],
                         name="block")
    a, b = k.Input((6, 6, 2), name="left"), k.Input((6, 6, 2), name="right")
    joined = k.layers.Concatenate(name="join")([block(a), block(b)])
    return k.Model([a, b], k.layers.Dense(2, name="out")(joined), name="conv2d_nested")


@_case("conv2d", "sequential")
def conv_options(k, tf):
    return k.Sequential([k.Input((8, 8, 4), name="x"), k.layers.Conv2D(4, 3, groups=2, name="grouped"),
                         k.layers.Conv2D(3, 2, dilation_rate=2, use_bias=False, name="dilated"),
                         k.layers.Reshape((16, 3), name="to_1d"), k.layers.Conv1D(2, 3, padding="causal", name="causal"),
                         k.layers.Conv1D(2, 3, strides=2, padding="same", name="strided")], name="conv_options")


@_case("conv3d", "sequential")
def conv3d(k, tf):
    return k.Sequential([k.Input((4, 6, 6, 2), name="x"), k.layers.Conv3D(3, 3, padding="same", name="conv"),
                         k.layers.MaxPooling3D(2, name="pool"),
                         k.layers.Conv3DTranspose(2, 2, strides=2, name="deconv"),
                         k.layers.GlobalAveragePooling3D(name="gap")], name="conv3d")


@_case("depthwise_separable", "sequential")
def depthwise_separable(k, tf):
    return k.Sequential([k.Input((8, 8, 3), name="x"), k.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw"),
                         k.layers.SeparableConv2D(4, 3, padding="same", name="sep"),
                         k.layers.Reshape((36, 4), name="to_1d"),
                         k.layers.SeparableConv1D(3, 3, name="sep1d"),
                         k.layers.DepthwiseConv1D(3, name="dw1d")], name="depthwise_separable")


@_case("recurrent", "sequential")
def recurrent(k, tf):
    return k.Sequential([k.Input((5, 4), name="x"), k.layers.SimpleRNN(6, return_sequences=True, name="rnn"),
                         k.layers.GRU(5, return_sequences=True, name="gru"),
                         k.layers.LSTM(3, name="lstm")], name="recurrent")


@_case("recurrent", "sequential")
def conv_lstm(k, tf):
    return k.Sequential([k.Input((3, 6, 6, 2), name="x"), k.layers.ConvLSTM2D(3, 3, name="convlstm"),
                         k.layers.Flatten(name="flat")], name="conv_lstm")


@_case("recurrent", "sequential")
def rnn_cells(k, tf):
    """RNN around cells, a stack of cells, and the GRU of Keras 2.1 and earlier (reset_after=False)."""
    cells = [k.layers.GRUCell(3, name="gru_cell"), k.layers.SimpleRNNCell(2, name="rnn_cell")]
    return k.Sequential([k.Input((5, 4), name="x"),
                         k.layers.RNN(k.layers.LSTMCell(4, name="lstm_cell"), return_sequences=True, name="rnn"),
                         k.layers.RNN(k.layers.StackedRNNCells(cells), return_sequences=True, name="stacked"),
                         k.layers.GRU(3, reset_after=False, name="gru_v1")], name="rnn_cells")


@_case("recurrent_states", "functional")
def recurrent_states(k, tf):
    """A seq2seq encoder/decoder: the encoder's states start the decoder (three inbound tensors)."""
    source, target = k.Input((5, 4), name="source"), k.Input((4, 3), name="target")
    _, h, c = k.layers.LSTM(6, return_state=True, name="encoder")(source)
    decoded = k.layers.LSTM(6, return_sequences=True, name="decoder")(target, initial_state=[h, c])
    return k.Model([source, target], k.layers.Dense(3, name="out")(decoded), name="recurrent_states")


@_case("recurrent_states", "functional")
def gru_states(k, tf):
    x = k.Input((5, 4), name="x")
    sequence, state = k.layers.GRU(4, return_sequences=True, return_state=True, name="gru")(x)
    average = k.layers.GlobalAveragePooling1D(name="avg")(sequence)
    return k.Model(x, k.layers.Concatenate(name="join")([average, state]), name="gru_states")


@_case("bidirectional", "sequential")
def bidirectional(k, tf):
    return k.Sequential([k.Input((5, 4), name="x"),
                         k.layers.Bidirectional(k.layers.LSTM(3, return_sequences=True), name="bi_lstm"),
                         k.layers.Bidirectional(k.layers.GRU(2), merge_mode="sum", name="bi_gru")],
                        name="bidirectional")


@_case("time_distributed", "sequential")
def time_distributed(k, tf):
    return k.Sequential([k.Input((3, 6, 6, 2), name="x"),
                         k.layers.TimeDistributed(k.layers.Conv2D(2, 3), name="td_conv"),
                         k.layers.TimeDistributed(k.layers.Flatten(), name="td_flat"),
                         k.layers.TimeDistributed(k.layers.Dense(4, activation="relu"), name="td_dense")],
                        name="time_distributed")


@_case("attention", "functional")
def attention(k, tf):
    query, value = k.Input((5, 8), name="query"), k.Input((6, 8), name="value")
    mha = k.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(query, value)
    dot = k.layers.Attention(name="dot_attention")([query, value])
    additive = k.layers.AdditiveAttention(name="additive")([query, value])
    joined = k.layers.Concatenate(name="join")([mha, dot, additive])
    return k.Model([query, value], k.layers.Dense(2, name="out")(joined), name="attention")


@_case("normalization", "sequential")
def normalization(k, tf):
    return k.Sequential([k.Input((4, 8), name="x"), k.layers.BatchNormalization(name="bn"),
                         k.layers.LayerNormalization(name="ln"), k.layers.GroupNormalization(groups=2, name="gn"),
                         k.layers.UnitNormalization(name="unit")], name="normalization")


@_case("embedding_mask", "shared")
def embedding_shared(k, tf):
    """One masking Embedding shared by two inputs of different lengths; each call's mask reaches the average."""
    a, b = k.Input((6,), dtype="int32", name="a"), k.Input((4,), dtype="int32", name="b")
    embed = k.layers.Embedding(10, 3, mask_zero=True, name="embed")
    average = k.layers.GlobalAveragePooling1D(name="average")
    joined = k.layers.Concatenate(name="join")([average(embed(a)), average(embed(b))])
    return k.Model([a, b], k.layers.Dense(1, name="out")(joined), name="embedding_shared")


@_case("embedding_mask", "sequential")
def embedding_mask(k, tf):
    return k.Sequential([k.Input((7,), dtype="int32", name="tokens"),
                         k.layers.Embedding(10, 4, mask_zero=True, name="embed"),
                         k.layers.LSTM(5, name="lstm"), k.layers.Dense(2, name="out")], name="embedding_mask")


@_case("embedding_mask", "functional")
def masking(k, tf):
    x = k.Input((6, 3), name="x")
    masked = k.layers.Masking(0.0, name="mask")(x)
    sequence = k.layers.GRU(4, return_sequences=True, name="gru")(masked)
    return k.Model(x, k.layers.GlobalAveragePooling1D(name="avg")(sequence), name="masking")


@_case("merges", "functional")
def merges(k, tf):
    a, b = k.Input((4,), name="a"), k.Input((4,), name="b")
    merged = [k.layers.Add(name="add")([a, b]), k.layers.Subtract(name="subtract")([a, b]),
              k.layers.Multiply(name="multiply")([a, b]), k.layers.Average(name="average")([a, b]),
              k.layers.Maximum(name="maximum")([a, b]), k.layers.Minimum(name="minimum")([a, b]),
              k.layers.Dot(axes=1, name="dot")([a, b]), k.layers.Dot(axes=1, normalize=True, name="cosine")([a, b])]
    return k.Model([a, b], k.layers.Concatenate(name="concat")(merged), name="merges")


@_case("pooling", "sequential")
def pooling(k, tf):
    return k.Sequential([k.Input((9, 9, 3), name="x"), k.layers.MaxPooling2D(3, strides=2, padding="same", name="max"),
                         k.layers.AveragePooling2D((2, 1), name="avg"),
                         k.layers.GlobalAveragePooling2D(keepdims=True, name="gap"),
                         k.layers.Reshape((3, 1), name="seq"), k.layers.AveragePooling1D(2, padding="same", name="avg1d"),
                         k.layers.MaxPooling1D(2, strides=1, name="max1d"), k.layers.GlobalMaxPooling1D(name="gmp")],
                        name="pooling")


@_case("preprocessing", "sequential")
def preprocessing(k, tf):
    """Resizing, cropping, rescaling, and a Normalization holding its adapted mean, variance and count as weights."""
    normalization = k.layers.Normalization(name="norm")
    normalization.adapt(np.arange(96, dtype="float32").reshape(2, 4, 4, 3))
    return k.Sequential([k.Input((8, 8, 3), name="x"), k.layers.Resizing(6, 6, name="resize"),
                         k.layers.CenterCrop(4, 4, name="crop"), k.layers.Rescaling(0.5, offset=-1.0, name="rescale"),
                         normalization, k.layers.Flatten(name="flat"), k.layers.Dense(2, name="out")],
                        name="preprocessing")


@_case("noise_dropout", "sequential")
def noise_dropout(k, tf):
    """Layers that only act in training: at inference each passes its input through."""
    return k.Sequential([k.Input((5, 4), name="x"), k.layers.GaussianNoise(0.3, name="noise"),
                         k.layers.GaussianDropout(0.3, name="gdrop"), k.layers.AlphaDropout(0.3, name="adrop"),
                         k.layers.SpatialDropout1D(0.3, name="sdrop"), k.layers.Dropout(0.3, name="drop"),
                         k.layers.ActivityRegularization(l1=0.1, name="reg"), k.layers.Dense(2, name="out")],
                        name="noise_dropout")


@_case("locally_connected", "sequential")
def locally_connected(k, tf):
    """Keras 3 removed LocallyConnected1D/2D; tf.keras 2 files with them exist."""
    return k.Sequential([k.Input((6, 6, 2), name="x"), k.layers.LocallyConnected2D(2, 3, name="local2d"),
                         k.layers.Reshape((16, 2), name="seq"), k.layers.LocallyConnected1D(3, 2, name="local1d")],
                        name="locally_connected")


@_case("reshapes", "sequential")
def reshapes(k, tf):
    return k.Sequential([k.Input((4, 4, 2), name="x"), k.layers.ZeroPadding2D(1, name="pad"),
                         k.layers.Cropping2D(((1, 0), (0, 1)), name="crop"), k.layers.UpSampling2D(2, name="up"),
                         k.layers.Permute((3, 1, 2), name="permute"), k.layers.Reshape((20, 10), name="reshape"),
                         k.layers.Flatten(name="flat"), k.layers.RepeatVector(2, name="repeat"),
                         k.layers.Reshape((20, 20), name="reshape_back"), k.layers.Cropping1D((1, 2), name="crop1d"), k.layers.UpSampling1D(2, name="up1d"),
                         k.layers.ZeroPadding1D(1, name="pad1d")], name="reshapes")


@_case("tf_op_lambda", "functional")
def tf_op_lambda(k, tf):
    """Raw TensorFlow ops on symbolic tensors: tf.keras 2 writes them as TFOpLambda / SlicingOpLambda layers."""
    x = k.Input((4, 6), name="x")
    shifted = x + 1.0
    flat = tf.reshape(shifted, (-1, 24))
    tail = flat[:, 4:]
    doubled = tf.math.multiply(tail, 2.0)
    joined = tf.concat([doubled, tf.nn.relu(tail)], axis=-1)
    return k.Model(x, k.layers.Dense(2, name="out")(joined), name="tf_op_lambda")


@_case("activations", "sequential")
def activations(k, tf):
    return k.Sequential([k.Input((6,), name="x"), k.layers.Dense(8, name="dense"), k.layers.PReLU(name="prelu"),
                         k.layers.LeakyReLU(0.2, name="leaky"), k.layers.ELU(name="elu"), k.layers.ReLU(6, name="relu6"),
                         k.layers.Activation("hard_sigmoid", name="hard_sigmoid"),
                         k.layers.Activation("swish", name="swish"), k.layers.Activation("gelu", name="gelu"),
                         k.layers.Activation("selu", name="selu"), k.layers.Softmax(name="softmax")],
                        name="activations")


@_case("layer_options", "sequential")
def layer_options(k, tf):
    """Options of layers other cases build with their defaults: normalization over several axes or without its
    centre and scale, a PReLU sharing its slopes, a softmax over the time axis, an EinsumDense biased on two axes."""
    return k.Sequential([k.Input((4, 6, 5), name="x"), k.layers.LayerNormalization(axis=[1, 2], name="ln_axes"),
                         k.layers.BatchNormalization(center=False, scale=False, name="bn_bare"),
                         k.layers.LayerNormalization(axis=(-2, -1), center=False, name="ln_no_center"),
                         k.layers.PReLU(shared_axes=[1, 2], name="prelu_shared"),
                         k.layers.ThresholdedReLU(0.1, name="thresholded"), k.layers.Softmax(axis=1, name="softmax_t"),
                         k.layers.EinsumDense("abcd,de->abce", output_shape=(4, 6, 3), bias_axes="ce",
                                              name="einsum_bias2"),
                         k.layers.BatchNormalization(axis=1, name="bn_axis1")], name="layer_options")


@_case("layer_options", "functional")
def attention_options(k, tf):
    """MultiHeadAttention over two axes of a 4-D input, with its own value size and output shape, and without biases;
    an Embedding with a constraint."""
    query, value = k.Input((3, 4, 6), name="query"), k.Input((2, 4, 5), name="value")
    axes = k.layers.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=5, attention_axes=(1, 2), output_shape=7,
                                       name="mha_axes")(query, value)
    tokens = k.Input((5,), dtype="int32", name="tokens")
    embedded = k.layers.Embedding(10, 4, embeddings_constraint=k.constraints.MaxNorm(1.0), name="embed")(tokens)
    no_bias = k.layers.MultiHeadAttention(num_heads=1, key_dim=2, use_bias=False, name="mha_no_bias")(
        embedded, embedded)
    joined = k.layers.Concatenate(name="join")([k.layers.Flatten(name="flat_axes")(axes),
                                                k.layers.Flatten(name="flat_tokens")(no_bias)])
    return k.Model([query, value, tokens], k.layers.Dense(2, name="out")(joined), name="attention_options")


@_case("layer_options", "nested")
def recurrent_options(k, tf):
    """Bidirectional with merge_mode None (two outputs) and "concat" with its own backward layer, an unrolled LSTM,
    a backwards GRU, and a SimpleRNN returning sequences inside a nested Sequential."""
    x = k.Input((5, 4), name="x")
    forward, backward = k.layers.Bidirectional(k.layers.LSTM(3, return_sequences=True), merge_mode=None,
                                               name="bi_none")(x)
    paired = k.layers.Bidirectional(k.layers.GRU(2, return_sequences=True),
                                    backward_layer=k.layers.SimpleRNN(2, return_sequences=True, go_backwards=True),
                                    name="bi_backward_layer")(x)
    inner = k.Sequential([k.Input((5, 4)), k.layers.SimpleRNN(3, return_sequences=True, name="inner_rnn"),
                          k.layers.GRU(2, go_backwards=True, return_sequences=True, name="inner_gru")], name="block")
    joined = k.layers.Concatenate(name="join")([forward, backward, paired, inner(x)])
    return k.Model(x, k.layers.LSTM(2, unroll=True, name="unrolled")(joined), name="recurrent_options")


@_case("layer_options", "sequential")
def bidirectional_unequal(k, tf):
    """A backward layer larger than the forward one: tf.keras 2 concatenates 2 + 3 features."""
    backward = k.layers.SimpleRNN(3, return_sequences=True, go_backwards=True)
    return k.Sequential([k.Input((5, 4), name="x"),
                         k.layers.Bidirectional(k.layers.GRU(2, return_sequences=True), backward_layer=backward,
                                                name="bi_unequal"),
                         k.layers.Dense(2, name="out")], name="bidirectional_unequal")


@_case("volumetric", "sequential")
def volumetric(k, tf):
    """3-D padding, cropping, upsampling and pooling, channel dropout of 2-D and 3-D maps, Flatten after Conv3D."""
    return k.Sequential([k.Input((3, 4, 4, 2), name="x"), k.layers.ZeroPadding3D((1, 0, 1), name="pad3d"),
                         k.layers.Cropping3D(((1, 0), (0, 1), (1, 1)), name="crop3d"),
                         k.layers.UpSampling3D((1, 2, 1), name="up3d"),
                         k.layers.SpatialDropout3D(0.3, name="sdrop3d"),
                         k.layers.AveragePooling3D((1, 2, 2), padding="same", name="avg3d"),
                         k.layers.Conv3D(3, 2, name="conv3d"), k.layers.Flatten(name="flat"),
                         k.layers.Reshape((2, 3, 3), name="to_2d"), k.layers.SpatialDropout2D(0.3, name="sdrop2d"),
                         k.layers.Reshape((1, 2, 3, 3), name="to_3d"),
                         k.layers.GlobalMaxPooling3D(name="gmp3d")], name="volumetric")


@_case("volumetric", "functional")
def lookups(k, tf):
    """Preprocessing of tokens and values: lookup, hashing, bucketing, one-hot counts; image flips and rotations
    (which pass their input through at inference)."""
    tokens, values = k.Input((5,), dtype="int32", name="tokens"), k.Input((4,), name="values")
    image = k.Input((6, 6, 2), name="image")
    looked_up = k.layers.IntegerLookup(vocabulary=[1, 2, 3, 5, 8], name="lookup")(tokens)
    hashed = k.layers.Hashing(num_bins=4, name="hashing")(tokens)
    counts = k.layers.CategoryEncoding(num_tokens=10, output_mode="count", name="counts")(tokens)
    buckets = k.layers.Discretization(bin_boundaries=[-0.5, 0.0, 0.5], name="buckets")(values)
    one_hot = k.layers.CategoryEncoding(num_tokens=4, output_mode="multi_hot", name="multi_hot")(buckets)
    flipped = k.layers.RandomFlip(name="flip")(image)
    rotated = k.layers.RandomRotation(0.2, name="rotate")(flipped)
    cast = [k.layers.Flatten(name="flat_image")(rotated), counts, one_hot]
    ids = k.layers.Concatenate(name="ids")([looked_up, hashed])
    return k.Model([tokens, values, image], [k.layers.Concatenate(name="join")(cast), ids], name="lookups")


FAMILIES: list[str] = list(dict.fromkeys(c.family for c in CASES))


def slice_cases() -> list[Case]:
    """The representative slice CI runs: the first case of each family.

    Example:
        >>> [c.name for c in slice_cases()][:3]
        ['dense_sequential', 'conv1d', 'conv2d']
    """
    first: dict[str, Case] = {}
    for case in CASES:
        first.setdefault(case.family, case)
    return list(first.values())


def source_digest() -> str:
    """A digest of this file: a cached corpus is reused only when it was written by the same generator.

    Example:
        >>> len(source_digest())
        16
    """
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


# ----------------------------------------------------------------------------- the references
def _seed(name: str) -> int:
    return zlib.crc32(name.encode())


def _set_weights(k: Any, model: Any, rng: np.random.Generator) -> None:
    """Random values for every weight, biases and BatchNormalization statistics included (Keras starts those at
    0 and 1, which would hide a bias added on the wrong axis or a statistic read from the wrong slot)."""
    for weight in model.weights:
        shape = tuple(weight.shape)
        if "variance" in weight.name:
            values = rng.uniform(0.5, 1.5, shape)
        else:
            values = rng.normal(0.0, 0.5, shape)
        weight.assign(values.astype(weight.dtype.as_numpy_dtype))
    for layer in model.submodules:  # a Normalization computes from its stored state only when told it changed
        if isinstance(layer, k.layers.Layer):
            layer.finalize_state()


def _inputs(model: Any, rng: np.random.Generator) -> list[np.ndarray]:
    arrays = []
    for tensor in model.inputs:
        shape = (BATCH, *tensor.shape[1:])
        if tensor.dtype.is_integer:  # token ids, zeros included so masks mask something
            arrays.append(rng.integers(0, 10, shape).astype(tensor.dtype.as_numpy_dtype))
        else:
            arrays.append(rng.normal(0.0, 1.0, shape).astype("float32"))
    return arrays


def _calls(model: Any) -> list[tuple[Any, int, str]]:
    """``(layer, node index, our node id)`` for each call of each layer in this model, in the model's order."""
    calls = []
    for layer in model.layers:
        own = [i for i in range(len(layer._inbound_nodes))
               if f"{layer.name}_ib-{i}" in model._network_nodes]  # tf_keras's functional._make_node_key
        calls.extend((layer, node, layer.name if call == 0 else f"{layer.name}@{call}")
                     for call, node in enumerate(own))
    return calls


def _record(k: Any, model: Any, inputs: list[np.ndarray], prefix: str, layers: dict, outputs: dict) -> None:
    """Per-layer facts and outputs of ``model`` fed with ``inputs``; nested models recursively."""
    import tensorflow as tf

    calls = _calls(model)
    tensors = [tf.nest.flatten(layer.get_output_at(node)) for layer, node, _ in calls]
    extractor = k.Model(model.inputs, [t for group in tensors for t in group])
    values = extractor(inputs if len(inputs) > 1 else inputs[0], training=False)
    values = [np.asarray(v) for v in tf.nest.flatten(values)]
    position = 0
    for (layer, node, node_id), group in zip(calls, tensors, strict=True):
        key = prefix + node_id
        layers[key] = {"class_name": type(layer).__name__, "params": int(layer.count_params()),
                       "trainable_params": int(sum(np.prod(w.shape) for w in layer.trainable_weights)),
                       "output_shapes": [t.shape.as_list() for t in group]}
        for i in range(len(group)):
            outputs[f"{key}::{i}"] = values[position + i]
        position += len(group)
        if isinstance(layer, k.Model):  # the inner layers, fed what this call of the nested model received
            feed = tf.nest.flatten(layer.get_input_at(node))
            feeder = k.Model(model.inputs, feed)
            fed = feeder(inputs if len(inputs) > 1 else inputs[0], training=False)
            _record(k, layer, [np.asarray(v) for v in tf.nest.flatten(fed)], key + "/", layers, outputs)


def _write_case(case: Case, folder: Path, k: Any, tf: Any) -> None:
    k.backend.clear_session()
    k.utils.set_random_seed(_seed(case.name))
    model = case.build(k, tf)
    rng = np.random.default_rng(_seed(case.name))
    _set_weights(k, model, rng)
    inputs = _inputs(model, rng)
    layers: dict[str, dict] = {}
    outputs: dict[str, np.ndarray] = {}
    _record(k, model, inputs, "", layers, outputs)
    reference = {
        "case": case.name, "family": case.family, "structure": case.structure, "model_class": type(model).__name__,
        "total_params": int(model.count_params()),
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "inputs": [t.name for t in model.inputs], "layers": layers,
        "formats": {fmt: case.path(folder, fmt).name for fmt in FORMATS},
    }
    feed = inputs if len(inputs) > 1 else inputs[0]
    expected = [np.asarray(v) for v in tf.nest.flatten(model(feed, training=False))]
    for fmt in FORMATS:
        path = case.path(folder, fmt)
        model.save(path, **({"save_format": "tf"} if fmt == "savedmodel" else {}))
        # the oracle checks itself: the file, read back by tf.keras 2, computes the references
        again = [np.asarray(v) for v in tf.nest.flatten(k.models.load_model(path, compile=False)(feed, training=False))]
        for got, want in zip(again, expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6, err_msg=f"{case.name}: tf_keras reading {path}")
    arrays = {f"input::{i}": array for i, array in enumerate(inputs)}
    np.savez(folder / f"{case.name}.npz", **arrays, **outputs)
    (folder / f"{case.name}.json").write_text(json.dumps(reference, indent=1))


def generate(folder: Path, names: list[str] | None = None) -> dict:
    """Write the named cases (all by default) into ``folder`` with tf_keras; returns the manifest written.

    Call it in a process of its own (see the module docstring): it imports ``tf_keras``.
    """
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf
    import tf_keras as k

    wanted = [c for c in CASES if names is None or c.name in names]
    unknown = set(names or ()) - {c.name for c in CASES}
    if unknown:
        raise SystemExit(f"unknown cases: {sorted(unknown)}; known: {[c.name for c in CASES]}")
    folder.mkdir(parents=True, exist_ok=True)
    for case in wanted:
        started = time.perf_counter()
        _write_case(case, folder, k, tf)
        print(f"{case.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    manifest = {"generator": source_digest(), "tensorflow": tf.__version__, "tf_keras": k.__version__,
                "cases": sorted(c.name for c in wanted)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: python tests/conformance_corpus.py DIR [CASE ...]")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    print(json.dumps(generate(Path(sys.argv[1]), sys.argv[2:] or None)))
