"""Files written by tf.keras 2 (the ``tf_keras`` package, Keras 2 on the installed TensorFlow) and its own outputs.

A script runs in a child process: importing ``tf_keras`` registers Keras 2's dispatchers in TensorFlow (they turn
``x + 1`` on a symbolic tensor into a ``TFOpLambda`` layer), which the Keras 3 under test must not see.  Tests
using it skip with a reason when ``tf_keras`` is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

# what every script starts with: tf.keras 2 as `keras`, and `save`, writing a model and its outputs on inputs
_PRELUDE = """
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
import tensorflow as tf
import tf_keras as keras

def outputs(model, inputs):
    result = model.predict(inputs, verbose=0)
    return result if isinstance(result, list) else [result]

def save(model, name, inputs, formats=("h5",)):
    '''model.<format> for each format, and name.npz: the inputs (in_0...) and tf.keras 2's outputs (out_0...).'''
    for fmt in formats:
        model.save(f"{name}.{fmt}")
    arrays = {f"in_{i}": x for i, x in enumerate(inputs)}
    arrays.update({f"out_{i}": np.asarray(y) for i, y in enumerate(outputs(model, inputs))})
    np.savez(f"{name}.npz", **arrays)

rng = np.random.default_rng(0)
"""


def run_tf_keras(script: str, folder: Path) -> None:
    """Run ``script`` in ``folder`` with tf.keras 2 imported as ``keras`` (and ``tf``, ``np``, ``save``, ``rng``)."""
    if importlib.util.find_spec("tf_keras") is None:
        pytest.skip("tf_keras is not installed: tf.keras 2 writes these files and gives the reference numbers "
                    "(pip install tf_keras==<the installed TensorFlow's version>)")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", _PRELUDE + textwrap.dedent(script)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]


def reference_outputs(folder: Path, name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The inputs and tf.keras 2's outputs that ``save`` wrote as ``name.npz``."""
    with np.load(folder / f"{name}.npz") as arrays:
        inputs = [arrays[f"in_{i}"] for i in range(sum(k.startswith("in_") for k in arrays.files))]
        outputs = [arrays[f"out_{i}"] for i in range(sum(k.startswith("out_") for k in arrays.files))]
    return inputs, outputs
