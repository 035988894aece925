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

from inspector import inspect_layers
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
