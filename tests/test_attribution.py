"""Gradients of any layer call, saliency, Grad-CAM and integrated gradients, checked against what we did not write.

* gradients: central finite differences of a float64 forward pass written here by calling the layers by hand
  (a shared layer's two calls, a nested model's inner layer, the inputs), and ``tf.GradientTape`` on
  ``keras.Model(inputs, [layer.output, model.output])`` (the recipe users write);
* TensorFlow against JAX (a fresh interpreter with ``KERAS_BACKEND=jax`` on the same saved file): 1e-5 relative;
* Grad-CAM on ``keras.applications.MobileNetV2(weights=None)`` against NumPy formulas on the tape's layer
  outputs and gradients, the upsampling against ``tf.image.resize``;
* integrated gradients: the completeness check (attributions sum to score(x) - score(baseline)).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import inspector
from inspector.analysis.attribution import feature_map_layer
from inspector.errors import InputDataError, LayerNotFoundError

REPO = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(3)


# =============================================================================== float64 finite differences
@pytest.fixture()
def float64():
    """Layers built in float64: the dtype policy too, as a model loaded earlier fixes the global policy."""
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(floatx)
    keras.config.set_dtype_policy(policy)


def _shared_nested_model() -> tuple[keras.Model, dict]:
    """x -> d -> tanh -> d (shared, second call) -> inner (nested: dense) -> out."""
    keras.utils.set_random_seed(4)
    x = keras.Input((3,), name="x")
    d = keras.layers.Dense(3, name="d")
    act = keras.layers.Activation("tanh", name="act")
    inner_in = keras.Input((3,), name="inner_in")
    inner_dense = keras.layers.Dense(4, activation="sigmoid", name="dense")
    inner = keras.Model(inner_in, inner_dense(inner_in), name="inner")
    out = keras.layers.Dense(2, name="out")
    y = out(inner(d(act(d(x)))))
    return keras.Model(x, y, name="shared_nested"), {"d": d, "act": act, "inner_dense": inner_dense, "out": out}


def _by_hand(parts: dict, x: np.ndarray, eps: dict[str, np.ndarray]) -> np.ndarray:
    """The same forward pass, written out, with ``eps[node]`` added to each call's output."""
    def add(name, t):
        return t + eps[name] if name in eps else t

    a = add("d", parts["d"](x))
    b = add("act", parts["act"](a))
    c = add("d@1", parts["d"](b))
    h = add("inner/dense", parts["inner_dense"](c))
    return keras.ops.convert_to_numpy(parts["out"](h))


def _finite_difference(f, shape: tuple[int, ...], h: float = 1e-6) -> np.ndarray:
    grad = np.zeros(shape)
    for index in np.ndindex(*shape):
        step = np.zeros(shape)
        step[index] = h
        grad[index] = (f(step) - f(-step)) / (2 * h)
    return grad


def test_gradients_equal_finite_differences_for_shared_calls_nested_layers_and_inputs(float64):
    model, parts = _shared_nested_model()
    X = RNG.normal(size=(4, 3))
    unit = 1
    g = inspector.layer_gradients(model, X, target=unit, layers=["d", "d@1", "act", "inner/dense"])
    assert g.layers["d"].dtype == np.float64 and g.disconnected == ()
    shapes = {"d": (4, 3), "d@1": (4, 3), "act": (4, 3), "inner/dense": (4, 4)}
    for node_id, shape in shapes.items():
        expected = _finite_difference(lambda step, n=node_id: _by_hand(parts, X, {n: step})[:, unit].sum(), shape)
        np.testing.assert_allclose(g.layers[node_id], expected, rtol=1e-6, atol=1e-9, err_msg=node_id)
    expected = _finite_difference(lambda step: _by_hand(parts, X + step, {})[:, unit].sum(), X.shape)
    np.testing.assert_allclose(g.inputs["x"], expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g.score, _by_hand(parts, X, {})[:, unit])
    assert not np.allclose(g.layers["d"], g.layers["d@1"])  # one gradient per call, not the first call's twice
    only_layers = inspector.layer_gradients(model, X, target=unit, layers=["d@1"], inputs=False)
    assert only_layers.inputs == {}
    np.testing.assert_array_equal(only_layers.layers["d@1"], g.layers["d@1"])


def test_callable_and_loss_targets_match_gradient_tape():
    model, _ = _shared_nested_model()
    X = RNG.normal(size=(6, 3)).astype("float32")
    labels = np.array([0, 1, 1, 0, 1, 0])
    with tf.GradientTape() as tape:
        x = tf.constant(X)
        tape.watch(x)
        y = model(x)
        loss = keras.losses.sparse_categorical_crossentropy(labels, y, from_logits=True)
        difference = y[:, 0] - 2 * y[:, 1]
    loss_grad, difference_grad = tape.gradient(loss, x), None
    with tf.GradientTape() as tape:
        tape.watch(x)
        difference = model(x)[:, 0] - 2 * model(x)[:, 1]
    difference_grad = tape.gradient(difference, x)
    g = inspector.layer_gradients(model, X, target=lambda y: y[:, 0] - 2 * y[:, 1], batch_size=4)
    np.testing.assert_allclose(g.inputs["x"], difference_grad, rtol=1e-5, atol=1e-7)
    loss_fn = lambda t, p: keras.losses.sparse_categorical_crossentropy(t, p, from_logits=True)  # noqa: E731
    g = inspector.layer_gradients(model, X, target="loss", labels=labels, loss=loss_fn, batch_size=4)
    np.testing.assert_allclose(g.inputs["x"], loss_grad, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g.score, loss, rtol=1e-6)


def test_bad_targets_and_labels_are_typed_errors():
    model, _ = _shared_nested_model()
    X = np.ones((2, 3))
    with pytest.raises(InputDataError, match="out of range"):
        inspector.layer_gradients(model, X, target=7)
    with pytest.raises(InputDataError, match="one score per sample"):
        inspector.layer_gradients(model, X, target=lambda y: y)
    with pytest.raises(InputDataError, match="labels"):
        inspector.layer_gradients(model, X, target="loss", loss="mse")
    with pytest.raises(InputDataError, match="differ in number"):
        inspector.layer_gradients(model, X, target="loss", loss="mse", labels=np.ones((3, 2)))
    with pytest.raises(InputDataError, match="target must be"):
        inspector.layer_gradients(model, X, target="class 3")


def test_training_mode_gradients_leave_the_model_unchanged():
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="h"),
                              keras.layers.BatchNormalization(name="bn"), keras.layers.Dropout(0.5, name="drop"),
                              keras.layers.Dense(2, name="out")])
    before = [w.copy() for w in model.get_weights()]
    X = RNG.normal(size=(16, 4)).astype("float32")
    first = inspector.layer_gradients(model, X, target=0, layers="all", training=True)
    second = inspector.layer_gradients(model, X, target=0, layers="all", training=True)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.inputs[model.inputs[0].name], second.inputs[model.inputs[0].name])
    inference = inspector.layer_gradients(model, X, target=0, layers=["drop"])
    assert float(np.mean(first.layers["h"] == 0)) < 1  # dropout zeroes some gradients in training mode only
    assert np.count_nonzero(first.layers["bn"] == 0) > np.count_nonzero(inference.layers["drop"] == 0)


def test_gradient_stats_match_numpy_and_colour_the_graph():
    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.Input((5,), name="features"), keras.layers.Dense(6, activation="relu", name="h"),
                              keras.layers.Dense(3, name="out")])
    X = RNG.normal(size=(50, 5)).astype("float32")
    frame = inspector.gradient_stats(model, X, target=2, batch_size=16)
    g = inspector.layer_gradients(model, X, target=2, layers="all")
    assert frame["layer"].tolist() == ["features", "h", "out"]
    for node_id, grad in [("features", g.inputs["features"]), ("h", g.layers["h"]), ("out", g.layers["out"])]:
        row = frame.set_index("layer").loc[node_id]
        norms = np.linalg.norm(grad.reshape(len(grad), -1).astype(np.float64), axis=1)
        assert row["grad_norm"] == pytest.approx(norms.mean(), rel=1e-6)
        assert row["grad_norm_max"] == pytest.approx(norms.max(), rel=1e-6)
        assert row["zero_fraction"] == pytest.approx(np.mean(grad == 0))
        assert row["count"] == grad.size and row["nan_count"] == 0
    assert frame.set_index("layer").loc["out", "zero_fraction"] == pytest.approx(2 / 3)
    from inspector.rendering.colour import colour_scale

    graph = inspector.build_graph(model)
    scale = colour_scale(graph, "grad_norm", frame)
    assert scale.log and set(scale.values) == {"features", "h", "out"}
    assert scale.values["h"] == pytest.approx(frame.set_index("layer").loc["h", "grad_norm"])
    dot = inspector.to_dot(graph, color_by="grad_norm", values=frame)
    assert dot.count("fillcolor") >= 3 and "grad_norm" in dot


# =============================================================================== TensorFlow equals JAX
JAX_WORKER = """
import pickle, sys
import keras, numpy as np, inspector
model = inspector.load_model(sys.argv[1])
X = np.load(sys.argv[2])
g = inspector.layer_gradients(model, X, target=1, layers="all", batch_size=16)
result = {"backend": keras.backend.backend(), "inputs": g.inputs, "layers": g.layers, "score": g.score,
          "saliency": inspector.saliency(model, X, target=1).map,
          "ig": inspector.integrated_gradients(model, X[:4], target=1, steps=16).attributions,
          "cam": inspector.grad_cam(model, X, target=1).heatmap,
          "health": inspector.gradient_stats(model, X, target=1, batch_size=16)}
with open(sys.argv[3], "wb") as f:
    pickle.dump(result, f)
"""


def _conv_shared_model() -> keras.Model:
    keras.utils.set_random_seed(8)
    image = keras.Input((8, 8, 2), name="image")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(image)
    x = keras.layers.BatchNormalization(name="bn")(x)
    head = keras.Sequential([keras.Input((6, 6, 4)), keras.layers.GlobalAveragePooling2D(name="pool"),
                             keras.layers.Dense(5, activation="tanh", name="dense")], name="head")
    shared = keras.layers.Dense(5, name="shared")
    y = keras.layers.Dense(3, name="logits")(keras.layers.Add(name="add")([shared(head(x)), shared(head(x))]))
    return keras.Model(image, y, name="conv_shared")


def test_tensorflow_equals_jax(tmp_path: Path):
    pytest.importorskip("jax", reason="JAX is not installed (pip install -e '.[test]' installs it)")
    path, data, out = tmp_path / "model.keras", tmp_path / "X.npy", tmp_path / "jax.pkl"
    _conv_shared_model().save(path)
    X = RNG.normal(size=(40, 8, 8, 2)).astype("float32")
    np.save(data, X)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", JAX_WORKER, str(path), str(data), str(out)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr[-4000:]
    with open(out, "rb") as f:
        jax = pickle.load(f)
    assert jax["backend"] == "jax"
    model = inspector.load_model(path)
    g = inspector.layer_gradients(model, X, target=1, layers="all", batch_size=16)
    assert list(jax["layers"]) == list(g.layers) and "head/dense" in g.layers and "shared@1" in g.layers

    def close(a, b, what):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        scale = max(np.abs(b).max(), 1e-30)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale, err_msg=what)

    close(jax["score"], g.score, "score")
    close(jax["inputs"]["image"], g.inputs["image"], "input gradient")
    for node_id, grad in g.layers.items():
        close(jax["layers"][node_id], grad, node_id)
    close(jax["saliency"], inspector.saliency(model, X, target=1).map, "saliency")
    close(jax["ig"], inspector.integrated_gradients(model, X[:4], target=1, steps=16).attributions, "ig")
    close(jax["cam"], inspector.grad_cam(model, X, target=1).heatmap, "grad-cam")
    health = inspector.gradient_stats(model, X, target=1, batch_size=16)
    close(jax["health"]["grad_norm"], health["grad_norm"], "grad_norm")


# =============================================================================== attribution maps
def test_saliency_is_the_absolute_tape_gradient_and_smoothgrad_is_seeded():
    model = _conv_shared_model()
    X = RNG.normal(size=(3, 8, 8, 2)).astype("float32")
    x = tf.constant(X)
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = model(x)[:, 2]
    expected = np.abs(tape.gradient(score, x).numpy())
    result = inspector.saliency(model, X, target=2)
    np.testing.assert_allclose(result.map, expected, rtol=1e-5, atol=1e-8)
    assert result.attributed_to == "input 'image'" and result.map.shape == X.shape
    smooth = inspector.saliency(model, X, target=2, smoothgrad=5, seed=1)
    again = inspector.saliency(model, X, target=2, smoothgrad=5, seed=1)
    np.testing.assert_array_equal(smooth.map, again.map)
    assert smooth.map.shape == X.shape and smooth.smoothgrad == 5 and not np.allclose(smooth.map, result.map)


@pytest.fixture(scope="module")
def mobilenet() -> keras.Model:
    keras.utils.set_random_seed(9)
    return keras.applications.MobileNetV2(input_shape=(64, 64, 3), weights=None, classes=6)


def test_grad_cam_on_mobilenet_matches_numpy(mobilenet: keras.Model):
    """In training mode: BatchNormalization's batch statistics keep a freshly initialised MobileNetV2's feature
    maps alive (with its initial moving statistics they shrink to 1e-11 by the last block)."""
    X = np.random.default_rng(12).uniform(-1, 1, size=(3, 64, 64, 3)).astype("float32")
    before = [w.copy() for w in mobilenet.get_weights()]
    result = inspector.grad_cam(mobilenet, X, target=4, training=True)
    assert result.layer == "out_relu" == feature_map_layer(mobilenet)
    for a, b in zip(before, mobilenet.get_weights(), strict=True):  # training mode changed no statistics
        np.testing.assert_array_equal(a, b)
    # independent: the layer's output and gradient from a tape on the usual two-output model, then NumPy
    probe = keras.Model(mobilenet.inputs, [mobilenet.get_layer("out_relu").output, mobilenet.output])
    with tf.GradientTape() as tape:
        maps, probs = probe(tf.constant(X), training=True)
        score = probs[:, 4]
    grads = tape.gradient(score, maps).numpy().astype(np.float64)
    maps = maps.numpy().astype(np.float64)
    weights = grads.mean(axis=(1, 2))
    cam = np.maximum((maps * weights[:, None, None, :]).sum(axis=-1), 0)
    assert cam.max() > 1e-3  # a live map, not rounding noise
    np.testing.assert_allclose(result.cam, cam, rtol=1e-4, atol=1e-6 * np.abs(cam).max())
    resized = tf.image.resize(cam[..., None], (64, 64), method="bilinear").numpy()[..., 0]
    peak = resized.reshape(3, -1).max(axis=1)
    np.testing.assert_allclose(result.heatmap, resized / np.where(peak > 0, peak, 1)[:, None, None], atol=1e-4)
    assert result.heatmap.min() >= 0 and result.heatmap.max() <= 1 + 1e-9


def test_grad_cam_refuses_a_model_without_feature_maps():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(LayerNotFoundError, match="feature-map"):
        inspector.grad_cam(model, np.ones((1, 4)), target=0)
    with pytest.raises(LayerNotFoundError, match="feature map"):
        inspector.grad_cam(model, np.ones((1, 4)), target=0, layer=0)


def test_integrated_gradients_pass_completeness():
    model = _conv_shared_model()
    X = np.random.default_rng(13).normal(size=(4, 8, 8, 2)).astype("float32")
    result = inspector.integrated_gradients(model, X, target=0, steps=64)
    assert result.complete and result.completeness_error.max() < 0.01, result.completeness_error
    assert np.abs(result.score - result.baseline_score).min() > 1e-3  # a real change to account for
    np.testing.assert_allclose(result.attributions.reshape(4, -1).sum(axis=1), result.score - result.baseline_score,
                               rtol=0.01)
    coarse = inspector.integrated_gradients(model, X, target=0, steps=1, tolerance=1e-9)
    assert not coarse.complete  # one trapezoid is not the integral: the check can fail, and says so
    baseline = inspector.integrated_gradients(model, X[:1], target=0, baseline=X[1], steps=64)
    assert baseline.complete and baseline.baseline_score[0] == pytest.approx(result.score[1], rel=1e-5)


def _text_model() -> keras.Model:
    keras.utils.set_random_seed(10)
    tokens = keras.Input((6,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(20, 4, mask_zero=True, name="emb")(tokens)
    x = keras.layers.LSTM(5, name="lstm")(x)
    return keras.Model(tokens, keras.layers.Dense(2, name="out")(x), name="text")


def test_integer_inputs_are_attributed_to_the_embedding_output():
    model = _text_model()
    X = np.array([[3, 5, 7, 0, 0, 0], [1, 2, 3, 4, 5, 6]], dtype="int32")
    g = inspector.layer_gradients(model, X, target=1, layers=["emb"])
    assert g.inputs["tokens"] is None and g.layers["emb"].shape == (2, 6, 4)
    result = inspector.saliency(model, X, target=1)
    assert "Embedding 'emb'" in result.attributed_to and result.map.shape == (2, 6)
    np.testing.assert_allclose(result.map, np.linalg.norm(g.layers["emb"], axis=-1), rtol=1e-6)
    assert np.all(result.map[0, 3:] == 0)  # masked positions do not reach the score
    with pytest.raises(InputDataError, match="token ids cannot take noise"):
        inspector.saliency(model, X, target=1, smoothgrad=4)
    ig = inspector.integrated_gradients(model, X, target=1, steps=64)
    assert ig.attributions.shape == (2, 6) and "Embedding" in ig.attributed_to
    assert ig.complete, ig.completeness_error


def test_a_score_not_depending_on_the_input_is_refused_not_drawn_as_zeros():
    keras.utils.set_random_seed(11)
    x = keras.Input((3,), name="x")
    rounded = keras.layers.Lambda(lambda t: keras.ops.cast(keras.ops.cast(t * 10, "int32"), "float32"),
                                  name="to_int")(x)
    model = keras.Model(x, keras.layers.Dense(2, name="d")(rounded))
    with pytest.raises(InputDataError, match="no gradient with respect to input 'x'"):
        inspector.saliency(model, np.ones((2, 3)), target=0)
    g = inspector.layer_gradients(model, np.ones((2, 3)), target=0, layers=["d"])
    assert g.disconnected == ("x",)
    a, b = keras.Input((2,), name="a"), keras.Input((2,), name="b")
    two = keras.Model([a, b], [keras.layers.Dense(1, name="da")(a), keras.layers.Dense(1, name="db")(b)])
    with pytest.raises(InputDataError, match="input 'b'"):
        inspector.saliency(two, [np.ones((1, 2)), np.ones((1, 2))], target=0, input="b")
    np.testing.assert_array_equal(inspector.saliency(two, [np.ones((1, 2)), np.ones((1, 2))], target=0,
                                                     input="b", output=1).map.shape, (1, 2))
