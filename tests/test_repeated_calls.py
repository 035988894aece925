"""A repeated request is never slower than its first call: traced on the first call when that pays, else eager.

The rule of :mod:`inspector.analysis.forward` ("Compiled or eager"): a request through many layer calls
is traced into a ``tf.function`` on its first call (one trace, reused by every later call); a small one
runs eagerly every time (a trace on a later call made that call the slowest: docs/performance.md,
"Repeated calls").  Checked on the runner the request uses, and on the values against Keras.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from inspector import inspect_layers, set_limits
from inspector.analysis import forward

RNG = np.random.default_rng(7)


def _runner_of(model: keras.Model) -> forward._Runner:
    (runner,) = [r for r in forward._RUNNERS.values() if r.model_ref() is model]
    return runner


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tracing is the TensorFlow backend's")
def test_a_deep_request_is_traced_once_on_its_first_call():
    layers = [keras.layers.Dense(4, activation="tanh", name=f"d{i}") for i in range(forward._COMPILE_MIN_CALLS)]
    model = keras.Sequential([keras.Input((4,), name="x"), *layers])
    X = RNG.random((5, 4), dtype=np.float32)
    first = inspect_layers(model, "all", X)
    runner = _runner_of(model)
    assert runner.traced and runner._function.experimental_get_tracing_count() == 1
    for _ in range(2):
        again = inspect_layers(model, "all", X)
        assert runner._function.experimental_get_tracing_count() == 1
    expected = np.asarray(model(X))
    np.testing.assert_allclose(first[f"d{len(layers) - 1}"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(again[f"d{len(layers) - 1}"], expected, rtol=1e-5, atol=1e-6)


def test_a_small_request_stays_eager_on_every_call():
    model = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(2, name="a"),
                              keras.layers.Dense(1, name="b")])
    X = RNG.random((4, 3), dtype=np.float32)
    for _ in range(3):
        got = inspect_layers(model, "all", X)
    runner = _runner_of(model)
    assert not runner.traced and runner._function is None
    np.testing.assert_allclose(got["b"], np.asarray(model(X)), rtol=1e-6)


def _batches_seen(model: keras.Model, X: np.ndarray) -> list[str]:
    seen: list[str] = []
    inspect_layers(model, "all", X, progress=lambda fraction, message: seen.append(message))
    return seen


def test_in_memory_data_that_fits_runs_in_one_pass_as_model_x_does():
    """No batch is copied into the result: all of X runs at once when every output fits max_batch_bytes
    (MobileNetV2's 64 samples: 2 batches and a 1 GB copy cost 0.3 s more than model(X) itself)."""
    model = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(5, name="a"),
                              keras.layers.Dense(2, name="b")])
    X = RNG.random((100, 3), dtype=np.float32)
    assert len(_batches_seen(model, X)) == 1
    got = inspect_layers(model, "all", X)
    np.testing.assert_allclose(got["b"], np.asarray(model(X)), rtol=1e-6)
    # 100 samples x (3 + 5 + 2) float32 outputs = 4,000 bytes: a limit below it keeps batches of 32
    before = set_limits(max_batch_bytes=3_999)
    try:
        assert len(_batches_seen(model, X)) == 4
        np.testing.assert_allclose(inspect_layers(model, "all", X)["b"], got["b"], rtol=1e-6)
    finally:
        set_limits(max_batch_bytes=before.max_batch_bytes)


def test_a_sequence_of_free_length_keeps_batches():
    """The size of one pass is unknown when an output has a free dimension: batches of 32, as before."""
    model = keras.Sequential([keras.Input((None, 3), name="x"), keras.layers.Dense(2, name="a")])
    X = RNG.random((40, 6, 3), dtype=np.float32)
    assert len(_batches_seen(model, X)) == 2
