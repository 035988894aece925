"""Keras's JAX backend gives the TensorFlow backend's numbers, without importing TensorFlow.

One model file is saved here (TensorFlow backend, the test process's) and read back by a fresh interpreter with
``KERAS_BACKEND=jax``: ``inspect_layers``, ``activation_stats`` (whole layers and per channel) and
``compare_modes`` run there and their results come back as a pickle, next to the same calls in this process.
Statistics are also checked against NumPy's float64 formulas on the activations themselves.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

import inspector

REPO = Path(__file__).resolve().parents[1]

JAX_WORKER = """
import pickle, sys, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import keras, numpy as np, inspector
    model = inspector.load_model(sys.argv[1])
    X = np.load(sys.argv[2])
    result = {
        "backend": keras.backend.backend(),
        "values": {k: np.array(v) for k, v in inspector.inspect_layers(model, "all", X).items()},
        "stats": inspector.activation_stats(model, "all", X, batch_size=64),
        "channels": inspector.activation_stats(model, "all", X, batch_size=100, per_channel=True),
        "training": inspector.activation_stats(model, "all", X, batch_size=64, training=True),
        "compare": inspector.compare_modes(model, "all", X, batch_size=64),
    }
result["warnings"] = [str(w.message) for w in caught]
result["tensorflow_imported"] = sorted(m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow."))
with open(sys.argv[3], "wb") as f:
    pickle.dump(result, f)
"""


def backend_model() -> keras.Model:
    """Conv + BatchNorm (training and inference differ, deterministically) + a nested model + a large-offset
    Dense (a mean far from zero with a small spread, where float32 totals would lose digits)."""
    rng = np.random.default_rng(7)
    image = keras.Input((6, 6, 2), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv")(image)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    head = keras.Sequential([keras.Input((4, 4, 4)), keras.layers.Flatten(name="flat"),
                             keras.layers.Dense(8, name="offset")], name="head")
    y = keras.layers.Dense(3, activation="softmax", name="probs")(head(x))
    model = keras.Model(image, y, name="backend_model")
    for layer in (model.get_layer("conv"), model.get_layer("probs"), head.get_layer("offset")):
        kernel, bias = layer.get_weights()
        layer.set_weights([rng.normal(0, 0.3, kernel.shape), rng.normal(0, 0.1, bias.shape)])
    offset = head.get_layer("offset")
    offset.set_weights([offset.get_weights()[0] * 0.01, np.full(8, 3000.0)])
    bn = model.get_layer("bn")
    bn.set_weights([rng.uniform(0.5, 2, 4), rng.normal(0, 0.5, 4), rng.normal(0.3, 0.2, 4), rng.uniform(0.5, 3, 4)])
    return model


@pytest.fixture(scope="module")
def both_backends(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, np.ndarray]:
    pytest.importorskip("jax", reason="JAX is not installed (pip install -e '.[test]' installs it)")
    assert keras.backend.backend() == "tensorflow"
    folder = tmp_path_factory.mktemp("backends")
    path, data, out = folder / "model.keras", folder / "X.npy", folder / "jax.pkl"
    backend_model().save(path)
    X = np.random.default_rng(1).normal(size=(1000, 6, 6, 2)).astype("float32")
    np.save(data, X)
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    env.pop("JAX_ENABLE_X64", None)  # the case to handle: float64 unavailable in the backend
    run = subprocess.run([sys.executable, "-c", JAX_WORKER, str(path), str(data), str(out)], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr[-4000:]
    with open(out, "rb") as f:
        jax_result = pickle.load(f)
    model = inspector.load_model(path)
    tf_result = {
        "values": inspector.inspect_layers(model, "all", X),
        "stats": inspector.activation_stats(model, "all", X, batch_size=64),
        "channels": inspector.activation_stats(model, "all", X, batch_size=100, per_channel=True),
        "training": inspector.activation_stats(model, "all", X, batch_size=64, training=True),
        "compare": inspector.compare_modes(model, "all", X, batch_size=64),
    }
    return jax_result, tf_result, X


def test_jax_runs_without_tensorflow_and_without_float64_truncation(both_backends) -> None:
    jax_result, _, _ = both_backends
    assert jax_result["backend"] == "jax"
    assert jax_result["tensorflow_imported"] == []
    assert not [w for w in jax_result["warnings"] if "float64" in w], jax_result["warnings"]


def test_inspect_layers_match(both_backends) -> None:
    jax_result, tf_result, _ = both_backends
    assert list(jax_result["values"]) == list(tf_result["values"])
    assert "head/offset" in jax_result["values"]
    for node_id, expected in tf_result["values"].items():
        np.testing.assert_allclose(jax_result["values"][node_id], expected, rtol=1e-5, atol=1e-5, err_msg=node_id)


@pytest.mark.parametrize("which", ["stats", "channels", "training"])
def test_activation_stats_match_tensorflow_and_numpy(both_backends, which: str) -> None:
    jax_result, tf_result, _ = both_backends
    jax_frame, tf_frame = jax_result[which], tf_result[which]
    pd.testing.assert_frame_equal(jax_frame.drop(columns=["mean", "std", "min", "max"]),
                                  tf_frame.drop(columns=["mean", "std", "min", "max"]))
    for column in ("mean", "std", "min", "max"):
        np.testing.assert_allclose(jax_frame[column], tf_frame[column], rtol=2e-6, atol=1e-6, err_msg=column)
    if which == "training":
        return
    # independent float64 formulas on the JAX backend's own activations
    for layer, expected in jax_result["values"].items():
        a = expected.astype(np.float64)
        rows = jax_frame[jax_frame["layer"] == layer]
        if which == "channels":
            a = a.reshape(-1, a.shape[-1])
            mean, std, low, high = a.mean(axis=0), a.std(axis=0), a.min(axis=0), a.max(axis=0)
        else:
            mean, std, low, high = a.mean(), a.std(), a.min(), a.max()
        # per-sample sums are float32 (as on TensorFlow): exact to float32 rounding of each sample's sum
        scale = 1e-6 * np.abs(a).mean()
        np.testing.assert_allclose(rows["mean"], mean, rtol=1e-7, atol=scale, err_msg=layer)
        np.testing.assert_allclose(rows["std"], std, rtol=1e-5, atol=scale, err_msg=layer)
        np.testing.assert_array_equal(rows["min"], np.broadcast_to(low, len(rows)))
        np.testing.assert_array_equal(rows["max"], np.broadcast_to(high, len(rows)))
        np.testing.assert_array_equal(rows["zero_fraction"], np.broadcast_to((a == 0).mean(axis=0 if which ==
                                                                                             "channels" else None),
                                                                             len(rows)))
    offset = jax_frame[jax_frame["layer"] == "head/offset"]
    assert (offset["mean"] > 2990).all() and (offset["std"] < 1).all()  # the large-offset case is exercised


def test_compare_modes_match(both_backends) -> None:
    jax_result, tf_result, X = both_backends
    jax_frame, tf_frame = jax_result["compare"], tf_result["compare"]
    assert jax_frame[["layer", "output", "class_name"]].equals(tf_frame[["layer", "output", "class_name"]])
    numbers = ["mean_abs_diff", "max_abs_diff", "mean_abs_inference", "relative_diff"]
    np.testing.assert_allclose(jax_frame[numbers], tf_frame[numbers], rtol=1e-5, atol=1e-6)
    bn = jax_frame.set_index("layer").loc["bn"]
    assert bn["mean_abs_diff"] > 0.01  # BatchNormalization's batch statistics differ from its moving ones
    # the inference scale against NumPy on the inference activations
    for layer, a in jax_result["values"].items():
        scale = np.abs(a.astype(np.float64)).mean()
        assert jax_frame.set_index("layer").loc[layer, "mean_abs_inference"] == pytest.approx(scale, rel=1e-6)
