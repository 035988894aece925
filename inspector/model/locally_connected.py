"""tf.keras 2's ``LocallyConnected1D`` and ``LocallyConnected2D``, which Keras 3 removed, as our own Keras 3 layers.

A locally connected layer is a convolution whose weights are not shared: each
output position has its own kernel.  tf.keras 2 stores those weights in one of
three layouts, by the layer's ``implementation``:

- ``1``: ``kernel`` of shape ``(output positions, kernel window * in channels, filters)``,
  each window flattened in the input's own axis order (``padding="valid"`` only);
- ``2``: a dense ``kernel`` from every input value to every output value,
  ``(*input spatial, in channels, *output spatial, filters)`` channels-last or
  ``(in channels, *input spatial, filters, *output spatial)`` channels-first, of
  which only the connected entries count;
- ``3``: ``kernel`` holding just the connected entries, ordered by
  ``(output index, input index)`` of the flattened tensors.

All three reduce to one list of connections: output value ``o`` gets
``x[i] * kernel[k]`` for each ``(o, i, k)``.  :func:`connections` computes that
list in NumPy from the config; the layer sums the products by output.
The bias, of shape ``(*output spatial, filters)`` in every layout, is added as
tf.keras 2's ``bias_add`` adds it (a reshape to ``(filters, *output spatial)``
channels-first).  Loading passes these classes under the removed classes' names
(:func:`inspector.model.old_semantics.custom_objects`): nothing from the file runs.

Example:
    >>> import numpy as np
    >>> layer = locally_connected_class(1)(filters=1, kernel_size=2, use_bias=False)
    >>> y = layer(np.ones((1, 3, 1), "float32"))  # two output positions, each with its own kernel
    >>> layer.set_weights([np.array([[[1.0], [2.0]], [[3.0], [4.0]]], "float32")])
    >>> np.asarray(layer(np.array([[[1.0], [10.0], [100.0]]], "float32"))).ravel().tolist()
    [21.0, 430.0]
"""

from __future__ import annotations

import functools
import math
from typing import Any

__all__ = ["connected_pairs", "connections", "kernel_shape", "locally_connected_class", "output_size"]


def output_size(size: int, kernel: int, stride: int, padding: str) -> int:
    """tf.keras 2's ``conv_output_length`` for ``"valid"`` or ``"same"`` padding (no dilation).

    Example:
        >>> output_size(10, 3, 2, "valid"), output_size(10, 3, 2, "same")
        (4, 5)
    """
    if padding == "same":
        return (size + stride - 1) // stride
    return (size - kernel + stride) // stride


def _window(position: int, size: int, kernel: int, stride: int, padding: str) -> range:
    """The input positions one output position reads along one axis (tf.keras 2's ``conv_connected_inputs``)."""
    left = kernel // 2
    center = position * stride + (left if padding == "valid" else 0)
    return range(max(0, center - left), min(size, center + kernel - left))


def connected_pairs(sizes: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...], padding: str) -> int:
    """How many (input position, output position) pairs are connected: the kernel size of ``implementation=3``
    per in-channel and filter.

    Example:
        >>> connected_pairs((5,), (3,), (1,), "valid"), connected_pairs((5,), (3,), (1,), "same")
        (9, 13)
    """
    return math.prod(sum(len(_window(o, n, k, s, padding)) for o in range(output_size(n, k, s, padding)))
                     for n, k, s in zip(sizes, kernel, strides, strict=True))


def kernel_shape(sizes: tuple[int, ...], channels: int, filters: int, kernel: tuple[int, ...],
                 strides: tuple[int, ...], padding: str, channels_first: bool, implementation: int) -> tuple[int, ...]:
    """The shape of tf.keras 2's ``kernel`` in the layout of ``implementation`` (its bias: ``(*outputs, filters)``).

    Example:
        >>> [kernel_shape((10,), 3, 4, (3,), (2,), "valid", False, n) for n in (1, 2, 3)]
        [(4, 9, 4), (10, 3, 4, 4), (144,)]
    """
    outs = tuple(output_size(n, k, s, padding) for n, k, s in zip(sizes, kernel, strides, strict=True))
    if implementation == 1:
        return (math.prod(outs), math.prod(kernel) * channels, filters)
    if implementation == 2:
        return (channels, *sizes, filters, *outs) if channels_first else (*sizes, channels, *outs, filters)
    return (connected_pairs(sizes, kernel, strides, padding) * channels * filters,)


def connections(sizes: tuple[int, ...], channels: int, filters: int, kernel: tuple[int, ...],
                strides: tuple[int, ...], padding: str, channels_first: bool, implementation: int) -> Any:
    """``(out, inp, k)``: flat output index, flat input index and flat kernel index of every connection.

    Indices are into the tensors flattened in their data format's order, one
    sample at a time; the kernel's is into tf.keras 2's kernel of ``implementation``.

    Example:
        >>> out, inp, k = connections((3,), 1, 1, (2,), (1,), "valid", False, 1)
        >>> out.tolist(), inp.tolist(), k.tolist()
        ([0, 0, 1, 1], [0, 1, 1, 2], [0, 1, 2, 3])
    """
    import numpy as np

    outs = tuple(output_size(n, k, s, padding) for n, k, s in zip(sizes, kernel, strides, strict=True))
    # per axis, every connected (output position, input position) pair and the input's offset in its window
    axes = []
    for n, k, s, o_size in zip(sizes, kernel, strides, outs, strict=True):
        pairs = [(o, i, i - o * s) for o in range(o_size) for i in _window(o, n, k, s, padding)]
        axes.append(np.array(pairs, dtype=np.int64).reshape(-1, 3))
    grids = np.meshgrid(*[np.arange(len(a)) for a in axes], np.arange(channels), np.arange(filters), indexing="ij")
    picks = [axes[d][grids[d].ravel()] for d in range(len(axes))]
    c, f = grids[-2].ravel(), grids[-1].ravel()
    o_pos = tuple(p[:, 0] for p in picks)
    i_pos = tuple(p[:, 1] for p in picks)
    offset = tuple(p[:, 2] for p in picks)
    if channels_first:
        inp = np.ravel_multi_index((c, *i_pos), (channels, *sizes))
        out = np.ravel_multi_index((f, *o_pos), (filters, *outs))
    else:
        inp = np.ravel_multi_index((*i_pos, c), (*sizes, channels))
        out = np.ravel_multi_index((*o_pos, f), (*outs, filters))
    if implementation == 1:
        window = ((c, *offset), (channels, *kernel)) if channels_first else ((*offset, c), (*kernel, channels))
        position = np.ravel_multi_index(o_pos, outs)
        index = np.ravel_multi_index(*window)
        k_flat = np.ravel_multi_index((position, index, f), (math.prod(outs), math.prod(kernel) * channels, filters))
    elif implementation == 2:
        k_flat = inp * (filters * math.prod(outs)) + out
    else:
        k_flat = np.empty(len(out), dtype=np.int64)
        k_flat[np.lexsort((inp, out))] = np.arange(len(out))
    order = np.argsort(out, kind="stable")
    return out[order], inp[order], k_flat[order]


@functools.cache
def locally_connected_class(rank: int) -> type:
    """Our Keras 3 layer computing tf.keras 2's ``LocallyConnected1D`` (``rank`` 1) or ``LocallyConnected2D`` (2).

    Made on first use (defining a Keras layer imports Keras).  Its config is
    tf.keras 2's; its weights are tf.keras 2's, in the layout of ``implementation``.
    """
    import keras
    import numpy as np
    from keras import ops

    class LocallyConnected(keras.layers.Layer):
        """tf.keras 2's locally connected layer: a convolution with a separate kernel at each output position."""

        def __init__(self, filters: int, kernel_size: Any, strides: Any = 1, padding: str = "valid",
                     data_format: str | None = None, activation: Any = None, use_bias: bool = True,
                     kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                     implementation: int = 1, **kwargs: Any) -> None:
            for unused in ("kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
                           "bias_constraint"):
                kwargs.pop(unused, None)  # training-only settings: inference does not use them
            super().__init__(**kwargs)
            self.filters = int(filters)
            self.kernel_size = _sizes(kernel_size, rank, "kernel_size")
            self.strides = _sizes(strides, rank, "strides")
            self.padding = str(padding).lower()
            self.data_format = data_format or "channels_last"
            self.implementation = int(implementation)
            if self.padding not in ("valid", "same") or (self.padding == "same" and self.implementation == 1):
                raise ValueError(f"padding must be 'valid' (or 'same' with implementation 2 or 3), got {padding!r}")
            if self.implementation not in (1, 2, 3):
                raise ValueError(f"implementation must be 1, 2 or 3, got {implementation!r}")
            if self.data_format not in ("channels_last", "channels_first"):
                raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
            self.activation = keras.activations.get(activation)
            self.use_bias = bool(use_bias)
            self.kernel_initializer = keras.initializers.get(kernel_initializer)
            self.bias_initializer = keras.initializers.get(bias_initializer)

        def _geometry(self, input_shape: Any) -> tuple[tuple[int, ...], int, tuple[int, ...]]:
            first = self.data_format == "channels_first"
            sizes = tuple(input_shape[2:] if first else input_shape[1:-1])
            channels = input_shape[1] if first else input_shape[-1]
            if None in sizes or channels is None:
                raise ValueError(f"a locally connected layer needs a fully defined input shape, got {input_shape}")
            outs = tuple(output_size(n, k, s, self.padding)
                         for n, k, s in zip(sizes, self.kernel_size, self.strides, strict=True))
            return sizes, int(channels), outs

        def build(self, input_shape: Any) -> None:
            sizes, channels, outs = self._geometry(input_shape)
            first = self.data_format == "channels_first"
            out, inp, k = connections(sizes, channels, self.filters, self.kernel_size, self.strides, self.padding,
                                      first, self.implementation)
            shape = kernel_shape(sizes, channels, self.filters, self.kernel_size, self.strides, self.padding, first,
                                 self.implementation)
            self.kernel = self.add_weight(shape=shape, initializer=self.kernel_initializer, name="kernel")
            self.bias = (self.add_weight(shape=(*outs, self.filters), initializer=self.bias_initializer, name="bias")
                         if self.use_bias else None)
            self._out, self._inp, self._k = (np.asarray(a, "int32") for a in (out, inp, k))
            self._outs = outs
            self._out_count = self.filters * math.prod(outs)

        def call(self, x: Any) -> Any:
            flat = ops.reshape(x, (ops.shape(x)[0], -1))
            values = ops.take(ops.reshape(self.kernel, (-1,)), self._k)
            products = ops.transpose(ops.take(flat, self._inp, axis=1) * values)  # (connections, batch)
            summed = ops.segment_sum(products, self._out, num_segments=self._out_count)
            first = self.data_format == "channels_first"
            shape = (self.filters, *self._outs) if first else (*self._outs, self.filters)
            y = ops.reshape(ops.transpose(summed), (-1, *shape))
            if self.bias is not None:
                y = y + ops.reshape(self.bias, (1, *shape))  # tf.keras 2's bias_add: a reshape, channels-first too
            return self.activation(y)

        def compute_output_shape(self, input_shape: Any) -> Any:
            _, _, outs = self._geometry(input_shape)
            first = self.data_format == "channels_first"
            return (input_shape[0], self.filters, *outs) if first else (input_shape[0], *outs, self.filters)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                    "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                    "activation": keras.activations.serialize(self.activation), "use_bias": self.use_bias,
                    "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                    "bias_initializer": keras.initializers.serialize(self.bias_initializer),
                    "implementation": self.implementation}

    name = f"LocallyConnected{rank}D"
    LocallyConnected.__name__ = LocallyConnected.__qualname__ = name
    return LocallyConnected


def _sizes(value: Any, rank: int, what: str) -> tuple[int, ...]:
    sizes = (value,) * rank if isinstance(value, int) else tuple(value)
    if len(sizes) != rank or not all(isinstance(v, int) and v > 0 for v in sizes):
        raise ValueError(f"{what} must be {rank} positive integer(s), got {value!r}")
    return tuple(int(v) for v in sizes)
