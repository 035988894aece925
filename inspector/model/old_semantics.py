"""Functions and layers whose meaning Keras 3 changed or dropped, in the form older Keras computed them.

A file written before Keras 3 names ``"hard_sigmoid"``; Keras 3 would compute its
own ``relu6(x + 3) / 6`` (slope 1/6) where Keras 1 and 2 computed
``clip(0.2 x + 0.5, 0, 1)`` — the default recurrent activation of their LSTM and
GRU.  Keras 1's ``BatchNormalization(mode=1)`` (each sample normalised over its
features) and ``mode=2`` (the batch's own statistics, at inference too) have no
Keras 3 layer at all: :data:`BATCH_NORMALIZATION_KERAS1` computes them.
:func:`inspector.model.legacy.normalize_config` renames such activations and layers to the
names below, and loading passes :func:`custom_objects` to Keras, so the old
formulas are used.  These are our functions and layers: nothing from the file runs.

Example:
    >>> import numpy as np
    >>> np.asarray(hard_sigmoid_keras2(np.array([-3.0, 0.0, 1.0, 3.0], "float32"))).tolist()
    [0.0, 0.5, 0.699999988079071, 1.0]
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["BATCH_NORMALIZATION_KERAS1", "HARD_SIGMOID_KERAS2", "LOCALLY_CONNECTED", "batch_normalization_keras1",
           "custom_objects", "hard_sigmoid_keras2"]

# the names a rewritten config uses; chosen so that no Keras object or user class has them
HARD_SIGMOID_KERAS2 = "keras_inspector_hard_sigmoid_keras2"
BATCH_NORMALIZATION_KERAS1 = "BatchNormalizationKeras1"  # also the class's name: the graph shows the same either way
# tf.keras 2's layers that Keras 3 removed, computed by ours (inspector.model.locally_connected) under the same names
LOCALLY_CONNECTED = ("LocallyConnected1D", "LocallyConnected2D")


def hard_sigmoid_keras2(x: Any) -> Any:
    """Keras 1/2's ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)`` (Keras 3's has slope 1/6).

    Example:
        >>> round(float(hard_sigmoid_keras2(2.0)), 6)  # Keras 3's hard_sigmoid(2.0) is 0.833333
        0.9
    """
    from keras import ops  # lazy: importing inspector must not import Keras

    return ops.clip(ops.add(ops.multiply(x, 0.2), 0.5), 0.0, 1.0)


# Keras serialises a function by its __name__ and looks it up by that name: Bidirectional copies its layer through
# get_config, so the copy must name the function as the rewritten config does
hard_sigmoid_keras2.__name__ = hard_sigmoid_keras2.__qualname__ = HARD_SIGMOID_KERAS2


@functools.cache
def batch_normalization_keras1() -> type:
    """The layer class computing Keras 1's ``BatchNormalization`` in ``mode=1`` or ``mode=2``.

    Made on first use (defining a Keras layer imports Keras).  Keras 1.2 computed, with
    ``gamma``, ``beta`` and ``epsilon`` from the file:

    - ``mode=1``, sample-wise: each sample over its last axis,
      ``gamma * (x - mean) / (sqrt(var + epsilon) + epsilon) + beta``;
    - ``mode=2``, feature-wise with the batch's own statistics, in training and at
      inference alike: ``(x - mean) / sqrt(var + epsilon) * gamma + beta``, the mean and
      (biased) variance taken over every axis but ``axis``.  So one sample's output
      depends on the other samples of its batch, as it did in Keras 1.

    The file's running mean and variance are loaded (Keras 1 stored them in every mode)
    but neither mode uses them.

    Example:
        >>> import numpy as np
        >>> layer = batch_normalization_keras1()(mode=1)
        >>> [round(float(v), 4) for v in np.asarray(layer(np.array([[1.0, 3.0]], "float32")))[0]]  # gamma 1, beta 0
        [-0.9985, 0.9985]
    """
    import keras
    from keras import ops

    class BatchNormalizationKeras1(keras.layers.Layer):
        """Keras 1's BatchNormalization in mode 1 (sample-wise) or 2 (batch statistics at inference too)."""

        def __init__(self, mode: int, axis: int = -1, epsilon: float = 1e-3, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if mode not in (1, 2):
                raise ValueError(f"Keras 1 BatchNormalization mode must be 1 or 2 here, got {mode!r}")
            self.mode, self.axis, self.epsilon = int(mode), int(axis), float(epsilon)

        def build(self, input_shape: Any) -> None:
            size = (input_shape[self.axis],)
            # in Keras 1's order (its weights are loaded by position): gamma, beta, running mean, running variance
            self.gamma = self.add_weight(shape=size, name="gamma", initializer="ones")
            self.beta = self.add_weight(shape=size, name="beta", initializer="zeros")
            self.moving_mean = self.add_weight(shape=size, name="moving_mean", initializer="zeros", trainable=False)
            self.moving_variance = self.add_weight(shape=size, name="moving_variance", initializer="ones",
                                                   trainable=False)

        def call(self, x: Any) -> Any:
            if self.mode == 1:
                mean = ops.mean(x, axis=-1, keepdims=True)
                std = ops.sqrt(ops.var(x, axis=-1, keepdims=True) + self.epsilon)
                return self.gamma * ((x - mean) / (std + self.epsilon)) + self.beta
            rank = len(x.shape)
            axis = self.axis % rank
            others = [i for i in range(rank) if i != axis]
            mean = ops.mean(x, axis=others, keepdims=True)
            variance = ops.var(x, axis=others, keepdims=True)
            along = [1] * rank
            along[axis] = -1
            return ((x - mean) / ops.sqrt(variance + self.epsilon) * ops.reshape(self.gamma, along)
                    + ops.reshape(self.beta, along))

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "mode": self.mode, "axis": self.axis, "epsilon": self.epsilon}

    BatchNormalizationKeras1.__name__ = BatchNormalizationKeras1.__qualname__ = BATCH_NORMALIZATION_KERAS1
    return BatchNormalizationKeras1


def custom_objects() -> dict[str, Any]:
    """The objects a rewritten legacy config may name, for ``keras.saving.load_model(custom_objects=...)``.

    With them, tf.keras 2's TensorFlow-op layers of the operations we compute with Keras ops
    (:mod:`inspector.model.tf_ops`) and its locally connected layers
    (:mod:`inspector.model.locally_connected`), which Keras 3 removed.

    Example:
        >>> sorted(custom_objects())  # doctest: +NORMALIZE_WHITESPACE
        ['BatchNormalizationKeras1', 'LocallyConnected1D', 'LocallyConnected2D', 'SlicingOpLambda', 'TFOpLambda',
         'keras_inspector_hard_sigmoid_keras2']
    """
    from inspector.model.locally_connected import locally_connected_class
    from inspector.model.tf_ops import op_layer_classes

    return {HARD_SIGMOID_KERAS2: hard_sigmoid_keras2, BATCH_NORMALIZATION_KERAS1: batch_normalization_keras1(),
            **{name: locally_connected_class(rank) for rank, name in enumerate(LOCALLY_CONNECTED, 1)},
            **op_layer_classes()}
