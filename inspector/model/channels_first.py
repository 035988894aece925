"""Channels-first convolutions computed channels-last, so they give the right numbers on any CPU.

Two faults meet in a channels-first convolution on Keras 3's TensorFlow backend:

- TensorFlow's CPU kernels for ``Conv2D`` and the transposed convolution accept only channels-last (NHWC)
  data unless TensorFlow found a CPU with AVX-512-class features and turned oneDNN on, so a channels-first
  model — every Keras 1 file written with Theano's dimension ordering, any ``data_format="channels_first"``
  layer — computes on one machine and fails on the next (``UnimplementedError: The Conv2D op currently only
  supports the NHWC tensor format on the CPU``); ``TF_ENABLE_ONEDNN_OPTS=0`` shows it anywhere.
- Keras's TensorFlow ``ops.add`` turns ``x + bias`` into ``tf.nn.bias_add``, guessing the channel axis from the
  sizes: it picks the *last* axis whenever the last size equals the number of channels.  A channels-first
  convolution (plain, transposed, depthwise or separable) whose last output size equals its filter count gets
  its bias added along the wrong axis, silently, on every CPU (Keras 3.15).

:func:`compute_channels_last` makes each channels-first convolution of a loaded model (nested models and
wrapped layers included) run its own computation channels-last: the input's channels moved last, the layer's
``call`` with ``data_format="channels_last"`` (kernels are ``(*spatial, in, out)`` in either format, so the
weights are used as they are), the channels moved back.  The same numbers a convolution gives anywhere, on
every CPU and backend; nothing else in the model changes.  Pooling and normalisation layers already compute
channels-first correctly and are left alone.  :func:`inspector.load_model` applies it, and so does every
activations or gradients walk on a model built in code (its ``model(X)`` is then right too).

Example:
    >>> import keras, numpy as np
    >>> layer = keras.layers.Conv2D(2, 3, data_format="channels_first", bias_initializer="ones")
    >>> model = keras.Sequential([keras.Input((1, 4, 4)), layer])  # output (2, 2, 2): last size == filters
    >>> compute_channels_last(model)
    1
    >>> x = np.arange(16, dtype="float32").reshape(1, 1, 4, 4)
    >>> kernel = np.asarray(layer.kernel)[:, :, 0, :]  # (rows, cols, filters)
    >>> expected = np.einsum("ijf,ij->f", kernel, x[0, 0, :3, :3]) + 1.0
    >>> bool(np.allclose(np.asarray(model(x))[0, :, 0, 0], expected, atol=1e-4))
    True
"""

from __future__ import annotations

import threading
from typing import Any

from inspector.model.keras_internals import sub_layers

__all__ = ["compute_channels_last"]

_REROUTED = "_keras_inspector_channels_last"


def compute_channels_last(model: Any) -> int:
    """Make every channels-first convolution of ``model`` compute channels-last; returns how many.

    Idempotent: a layer already rerouted is not counted again.
    """
    from keras import layers

    convolutions = (layers.Conv1D, layers.Conv2D, layers.Conv3D, layers.Conv1DTranspose, layers.Conv2DTranspose,
                    layers.Conv3DTranspose, layers.DepthwiseConv1D, layers.DepthwiseConv2D, layers.SeparableConv1D,
                    layers.SeparableConv2D)
    rerouted = 0
    for layer in [model, *sub_layers(model)]:
        if getattr(layer, "data_format", None) != "channels_first" or getattr(layer, _REROUTED, False):
            continue
        if isinstance(layer, convolutions):
            layer.call = _channels_last_call(layer, layer.call)
        elif hasattr(layer, "input_conv") and hasattr(layer, "recurrent_conv"):  # a ConvLSTM cell
            _reroute_conv_lstm_cell(layer)
        else:
            continue
        object.__setattr__(layer, _REROUTED, True)
        rerouted += 1
    return rerouted


def _to_last(x: Any) -> Any:
    from keras import ops

    rank = len(x.shape)
    return ops.transpose(x, (0, *range(2, rank), 1))


def _to_first(x: Any) -> Any:
    from keras import ops

    rank = len(x.shape)
    return ops.transpose(x, (0, rank - 1, *range(1, rank - 1)))


def _channels_last_call(layer: Any, call: Any) -> Any:
    # the layer's own call reads ``data_format``: it is switched for the call's duration, under a lock, since a
    # model opened by the app is shared by the sessions' threads (and a tf.function runs this once, to trace)
    lock = threading.Lock()

    def channels_last_call(inputs: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            layer.data_format = "channels_last"
            try:
                outputs = call(_to_last(inputs), *args, **kwargs)
            finally:
                layer.data_format = "channels_first"
        return _to_first(outputs)

    return channels_last_call


def _reroute_conv_lstm_cell(cell: Any) -> None:
    # the ConvLSTM layer around the cell reads the cell's data_format for its states: only the two convolutions
    # move, each adding its bias channels-last
    from keras import ops

    def input_conv(x: Any, w: Any, b: Any = None, padding: str = "valid") -> Any:
        out = ops.conv(_to_last(x), w, strides=cell.strides, padding=padding, dilation_rate=cell.dilation_rate,
                       data_format="channels_last")
        return _to_first(out if b is None else ops.add(out, b))

    def recurrent_conv(x: Any, w: Any) -> Any:
        return _to_first(ops.conv(_to_last(x), w, strides=1, padding="same", data_format="channels_last"))

    cell.input_conv = input_conv
    cell.recurrent_conv = recurrent_conv
