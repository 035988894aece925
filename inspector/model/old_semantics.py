"""Functions whose meaning Keras 3 changed, in the form older Keras computed them.

A file written before Keras 3 names ``"hard_sigmoid"``; Keras 3 would compute its
own ``relu6(x + 3) / 6`` (slope 1/6) where Keras 1 and 2 computed
``clip(0.2 x + 0.5, 0, 1)`` — the default recurrent activation of their LSTM and
GRU.  :func:`inspector.model.legacy.normalize_config` renames such activations to the
names below, and loading passes :func:`custom_objects` to Keras, so the old
formula is used.  These are our functions: nothing from the file runs.

Example:
    >>> import numpy as np
    >>> np.asarray(hard_sigmoid_keras2(np.array([-3.0, 0.0, 1.0, 3.0], "float32"))).tolist()
    [0.0, 0.5, 0.699999988079071, 1.0]
"""

from __future__ import annotations

from typing import Any

__all__ = ["HARD_SIGMOID_KERAS2", "custom_objects", "hard_sigmoid_keras2"]

# the name a rewritten config uses; chosen so that no Keras object or user class has it
HARD_SIGMOID_KERAS2 = "keras_inspector_hard_sigmoid_keras2"


def hard_sigmoid_keras2(x: Any) -> Any:
    """Keras 1/2's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)`` (Keras 3's has slope 1/6).

    Example:
        >>> round(float(hard_sigmoid_keras2(2.0)), 6)  # Keras 3's hard_sigmoid(2.0) is 0.833333
        0.9
    """
    from keras import ops  # lazy: importing inspector must not import Keras

    return ops.clip(ops.add(ops.multiply(x, 0.2), 0.5), 0.0, 1.0)


def custom_objects() -> dict[str, Any]:
    """The objects a rewritten legacy config may name, for ``keras.saving.load_model(custom_objects=...)``.

    Example:
        >>> sorted(custom_objects())
        ['keras_inspector_hard_sigmoid_keras2']
    """
    return {HARD_SIGMOID_KERAS2: hard_sigmoid_keras2}
