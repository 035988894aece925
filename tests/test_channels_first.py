"""Channels-first models compute on any CPU, and compute the right numbers.

TensorFlow's CPU convolutions refuse NCHW unless oneDNN is on (it is on only on CPUs with AVX-512-class
features), so these tests are marked ``channels_first`` and ``make test`` runs them a second time with
``TF_ENABLE_ONEDNN_OPTS=0``: both sides of the switch, on any machine. Every expected value is an independent
NumPy convolution of the stored weights (a ConvLSTM is compared with the same cell run channels-last by Keras).
Several cases have a last output size equal to the filter count: Keras's TensorFlow ``ops.add`` then adds a
channels-first bias along the last axis (it guesses the axis from the sizes), on any CPU.
"""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

import inspector

pytestmark = pytest.mark.channels_first

RNG = np.random.default_rng(11)
L = keras.layers


def _normal(*shape):
    return RNG.normal(0, 1, shape).astype("float32")


def _pad_same(x, kernel_size, strides, dilation):
    """'same' padding as TensorFlow places it: the odd pixel at the end."""
    pads = [(0, 0), (0, 0)]
    for size, k, s, d in zip(x.shape[2:], kernel_size, strides, dilation, strict=True):
        extent = (k - 1) * d + 1
        total = max((-(-size // s) - 1) * s + extent - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, pads)


def conv_nd(x, kernel, bias, *, strides=None, dilation=None, padding="valid", groups=1):
    """Cross-correlation of channels-first ``x`` (N, C, *spatial) with a Keras kernel (*k, C/groups, F)."""
    rank = x.ndim - 2
    strides, dilation = strides or (1,) * rank, dilation or (1,) * rank
    k = kernel.shape[:rank]
    if padding == "same":
        x = _pad_same(x, k, strides, dilation)
    extents = [(kk - 1) * d + 1 for kk, d in zip(k, dilation, strict=True)]
    out_size = [(size - e) // s + 1 for size, e, s in zip(x.shape[2:], extents, strides, strict=True)]
    filters, per_group = kernel.shape[-1], kernel.shape[-2]
    out = np.zeros((x.shape[0], filters, *out_size))
    for position in itertools.product(*[range(n) for n in out_size]):
        window = tuple(slice(p * s, p * s + e, d) for p, s, e, d in zip(position, strides, extents, dilation,
                                                                     strict=True))
        patch = x[(slice(None), slice(None), *window)]  # (N, C, *k)
        for g in range(groups):
            f = slice(g * filters // groups, (g + 1) * filters // groups)
            c = slice(g * per_group, (g + 1) * per_group)
            out[(slice(None), f, *position)] = np.tensordot(
                patch[:, c], np.moveaxis(kernel[..., f], -2, 0), axes=rank + 1)
    return out + bias.reshape(1, -1, *([1] * rank))


def conv_transpose_nd(x, kernel, bias, strides):
    """Keras's 'valid' transposed convolution of channels-first ``x`` with a kernel (*k, F, C): a scatter-add."""
    rank = x.ndim - 2
    k = kernel.shape[:rank]
    out_size = [(n - 1) * s + kk for n, s, kk in zip(x.shape[2:], strides, k, strict=True)]
    out = np.zeros((x.shape[0], kernel.shape[-2], *out_size))
    for position in itertools.product(*[range(n) for n in x.shape[2:]]):
        window = tuple(slice(p * s, p * s + kk) for p, s, kk in zip(position, strides, k, strict=True))
        contribution = np.tensordot(x[(slice(None), slice(None), *position)], kernel, axes=([1], [rank + 1]))
        out[(slice(None), slice(None), *window)] += np.moveaxis(contribution, -1, 1)
    return out + bias.reshape(1, -1, *([1] * rank))


CASES = {
    "conv1d_causal_dilated": (lambda: L.Conv1D(3, 3, padding="causal", dilation_rate=2, data_format="channels_first"),
                              (4, 9)),
    "conv2d_strided_same": (lambda: L.Conv2D(3, 3, strides=2, padding="same", data_format="channels_first"),
                            (2, 7, 6)),
    "conv2d_dilated": (lambda: L.Conv2D(4, 2, dilation_rate=2, data_format="channels_first"), (3, 7, 7)),
    "conv2d_grouped": (lambda: L.Conv2D(4, 2, groups=2, data_format="channels_first"), (4, 5, 6)),
    "conv3d": (lambda: L.Conv3D(2, 2, data_format="channels_first"), (3, 4, 5, 3)),
    "depthwise2d": (lambda: L.DepthwiseConv2D(2, depth_multiplier=2, data_format="channels_first"), (3, 5, 7)),
    "separable1d": (lambda: L.SeparableConv1D(3, 2, data_format="channels_first"), (2, 4)),
    "conv2d_transpose": (lambda: L.Conv2DTranspose(3, 3, strides=2, data_format="channels_first"), (2, 4, 5)),
    "conv1d_transpose": (lambda: L.Conv1DTranspose(2, 3, strides=3, data_format="channels_first"), (3, 4)),
}


def _expected(name, layer, x):
    config = layer.get_config()
    if name.startswith(("depthwise", "separable")):
        depthwise, *rest = (np.asarray(w, "float64") for w in layer.get_weights())
        channels, multiplier = depthwise.shape[-2:]  # output channel c * multiplier + m, as Keras orders them
        grouped = depthwise.reshape(*depthwise.shape[:-2], 1, channels * multiplier)
        if name.startswith("depthwise"):
            return conv_nd(x.astype("float64"), grouped, rest[0], groups=channels)
        pointwise, bias = rest
        return conv_nd(conv_nd(x.astype("float64"), grouped, np.zeros(grouped.shape[-1]), groups=channels),
                       pointwise, bias)
    kernel, bias = (np.asarray(w, "float64") for w in layer.get_weights())
    if "transpose" in name:
        return conv_transpose_nd(x.astype("float64"), kernel, bias, config["strides"])
    padding = config["padding"]
    if padding == "causal":
        x = np.pad(x, [(0, 0), (0, 0), ((kernel.shape[0] - 1) * config["dilation_rate"][0], 0)])
        padding = "valid"
    return conv_nd(x.astype("float64"), kernel, bias, strides=config["strides"], dilation=config["dilation_rate"],
                   padding=padding, groups=config.get("groups", 1))


@pytest.mark.parametrize("name", sorted(CASES))
def test_channels_first_convolution_loads_and_matches_numpy(tmp_path, name):
    make_layer, shape = CASES[name]
    built = keras.Sequential([keras.Input(shape), make_layer()], name=name)
    for weight in built.weights:  # random bias too, so a bias added along the wrong axis shows
        weight.assign(_normal(*weight.shape))
    path = tmp_path / f"{name}.keras"
    built.save(path)

    model = inspector.load_model(path)
    X = _normal(3, *shape)
    expected = _expected(name, model.layers[0], X)
    layer_name = model.layers[0].name
    np.testing.assert_allclose(inspector.inspect_layer(model, layer_name, X), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-4, atol=1e-4)
    static = {n.name: n.output_shapes for n in inspector.static_graph(path).nodes}
    assert static[layer_name] == ((None, *expected.shape[1:]),)


def test_channels_first_conv_lstm_equals_the_same_cell_run_channels_last(tmp_path):
    built = keras.Sequential([keras.Input((3, 2, 6, 5)),
                              L.ConvLSTM2D(3, 2, return_sequences=True, data_format="channels_first")])
    path = tmp_path / "conv_lstm.keras"
    built.save(path)
    model = inspector.load_model(path)
    twin = keras.Sequential([keras.Input((3, 6, 5, 2)), L.ConvLSTM2D(3, 2, return_sequences=True)])
    twin.set_weights(model.get_weights())
    X = _normal(2, 3, 2, 6, 5)
    expected = np.moveaxis(np.asarray(twin(np.moveaxis(X, 2, -1))), -1, 2)
    np.testing.assert_allclose(inspector.inspect_layer(model, model.layers[0].name, X), expected,
                               rtol=1e-5, atol=1e-5)


def test_channels_first_layers_inside_nested_models_and_wrappers_are_rerouted(tmp_path):
    inner = keras.Sequential([keras.Input((2, 6, 6)), L.Conv2D(2, 3, data_format="channels_first", name="inner_conv")],
                             name="inner")
    inputs = keras.Input((4, 2, 6, 6))
    outputs = L.TimeDistributed(inner, name="per_step")(inputs)
    path = tmp_path / "nested.keras"
    keras.Model(inputs, outputs).save(path)
    model = inspector.load_model(path)
    X = _normal(2, 4, 2, 6, 6)
    kernel, bias = (np.asarray(w) for w in model.get_layer("per_step").layer.layers[0].get_weights())
    expected = np.stack([conv_nd(X[:, t].astype("float64"), kernel, bias) for t in range(4)], axis=1)
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-4, atol=1e-4)



def test_a_model_built_in_code_is_rerouted_by_the_activations_walk():
    layer = L.Conv2D(3, 2, data_format="channels_first")  # output (3, 4, 3): the last size equals the filters
    model = keras.Sequential([keras.Input((2, 5, 4)), layer])
    for weight in model.weights:
        weight.assign(_normal(*weight.shape))
    X = _normal(2, 2, 5, 4)
    kernel, bias = (np.asarray(w, "float64") for w in layer.get_weights())
    expected = conv_nd(X.astype("float64"), kernel, bias)
    np.testing.assert_allclose(inspector.inspect_layer(model, layer.name, X), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(model(X)), expected, rtol=1e-4, atol=1e-4)
