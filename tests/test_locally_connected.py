"""tf.keras 2's LocallyConnected1D and LocallyConnected2D, which Keras 3 removed (issue 24): files tf.keras 2 wrote
with them, in each of its three weight layouts (``implementation`` 1, 2, 3), load untrusted with our own layers
(:mod:`inspector.model.locally_connected`) and compute tf.keras 2's outputs; their static view knows the layers'
shapes and parameters.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from tf_keras_files import reference_outputs, run_tf_keras

import inspector
from inspector.io.files import read_model_file
from inspector.model.loading import load_info, needs_trust
from inspector.model.locally_connected import locally_connected_class
from inspector.model.output_shapes import output_shapes
from inspector.model.static import static_graph
from inspector.model.weight_shapes import layer_weights

_MODELS = """
import json
for n in (1, 2, 3):
    same = "same" if n > 1 else "valid"  # tf.keras 2 pads only implementations 2 and 3
    a = keras.Input((10, 3), name="a")
    b = keras.Input((7, 6, 2), name="b")
    outs = [keras.layers.LocallyConnected1D(4, 3, strides=2, activation="relu", implementation=n, name="lc1")(a),
            keras.layers.LocallyConnected1D(2, 2, padding=same, use_bias=False, data_format="channels_first",
                                            implementation=n, name="lc1_first")(a),
            keras.layers.LocallyConnected2D(3, (3, 2), strides=(2, 1), padding=same, implementation=n, name="lc2")(b),
            keras.layers.LocallyConnected2D(2, 2, strides=(1, 2), data_format="channels_first", activation="tanh",
                                            implementation=n, name="lc2_first")(b)]
    model = keras.Model([a, b], outs)
    for layer in model.layers:  # biases too: zeros would hide a misplaced one
        if layer.weights:
            layer.set_weights([rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()])
    save(model, f"implementation_{n}", [rng.normal(size=(2, 10, 3)).astype("float32"),
                                        rng.normal(size=(2, 7, 6, 2)).astype("float32")], ("h5", "keras"))
    np.save(f"implementation_{n}_params.npy", model.count_params())
    with open(f"implementation_{n}_weights.json", "w") as f:
        json.dump({layer.name: [list(w.shape) for w in layer.weights] for layer in model.layers}, f)
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The folder of files tf.keras 2 wrote with its locally connected layers, and its outputs."""
    folder = tmp_path_factory.mktemp("locally_connected")
    run_tf_keras(_MODELS, folder)
    return folder


@pytest.mark.parametrize("fmt", ["h5", "keras"])
@pytest.mark.parametrize("implementation", [1, 2, 3])
def test_tf_keras_2_locally_connected_layers_load_untrusted_and_compute_as_tf_keras(written, implementation, fmt):
    """Each layout, in an .h5 and a .keras file, loads untrusted, computes tf.keras 2's outputs, and its static view
    has tf.keras 2's parameter count and the loaded model's shapes."""
    name = f"implementation_{implementation}"
    path = written / f"{name}.{fmt}"
    inputs, expected = reference_outputs(written, name)
    assert needs_trust(read_model_file(path)) == []
    model = inspector.load_model(path)  # untrusted
    assert any("inspector's own layer" in note and f"(implementation {implementation})" in note
               for note in load_info(model).notes)
    got = model.predict(inputs, verbose=0)
    for ours, theirs in zip(got, expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    params = int(np.load(written / f"{name}_params.npy"))
    static = static_graph(path)
    loaded = inspector.build_graph(model)
    assert static.total_params == loaded.total_params == model.count_params() == params
    assert static.opaque_nodes == []
    shapes = {n.id: n.output_shapes for n, _ in loaded.walk()}
    for node, _ in static.walk():
        assert node.output_shapes == shapes[node.id], node.id
    assert static.node("lc2_first").output_shapes == ((None, 2, 5, 1),)
    # the rules tables (static view, early layout, build budget) know tf.keras 2's weight shapes and output shapes
    stored = json.loads((written / f"{name}_weights.json").read_text())
    for layer in ("lc1", "lc1_first", "lc2", "lc2_first"):
        node = static.node(layer)
        predicted = layer_weights(node.class_name, node.config, node.input_shapes)
        assert [list(shape) for _, shape in predicted] == stored[layer], layer
        assert output_shapes(node.class_name, node.config, node.input_shapes) == shapes[node.id], layer


def _numpy_locally_connected_2d(x, kernel, bias):
    """The definition, with loops: output (i, j, f) = sum over its 2x2 window and channels of x * its own kernel."""
    rows, cols = x.shape[1] - 1, x.shape[2] - 1
    y = np.zeros((x.shape[0], rows, cols, kernel.shape[-1]), "float64")
    for i in range(rows):
        for j in range(cols):
            window = x[:, i:i + 2, j:j + 2, :].reshape(x.shape[0], -1)  # (row, column, channel) order
            y[:, i, j, :] = window @ kernel[i * cols + j] + bias[i, j]
    return y


def test_locally_connected_2d_equals_a_numpy_reference():
    """Implementation 1 (kernel per output position over its flattened window) against NumPy loops."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 5, 3)).astype("float32")
    layer = locally_connected_class(2)(filters=2, kernel_size=2)
    layer.build((None, 4, 5, 3))
    kernel = rng.normal(size=(3 * 4, 2 * 2 * 3, 2)).astype("float32")
    bias = rng.normal(size=(3, 4, 2)).astype("float32")
    layer.set_weights([kernel, bias])
    np.testing.assert_allclose(np.asarray(layer(x)), _numpy_locally_connected_2d(x, kernel, bias), rtol=1e-5,
                               atol=1e-6)
