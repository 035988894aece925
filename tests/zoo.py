"""A zoo of tiny Keras models, each named after the edge case it covers.

Built in code (nothing downloaded), deterministic (seeded), small enough to
build in well under a second.
"""

from __future__ import annotations

import json

import h5py
import keras
import numpy as np

keras.utils.set_random_seed(0)


def sequential_mlp() -> keras.Model:
    return keras.Sequential([keras.Input((8,), name="features"), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(3, activation="softmax")], name="sequential_mlp")


def shared_layer() -> keras.Model:
    """One Dense called on two inputs: two nodes, one set of weights."""
    a, b = keras.Input((4,), name="left"), keras.Input((4,), name="right")
    shared = keras.layers.Dense(5, name="shared_dense")
    merged = keras.layers.Concatenate(name="merge")([shared(a), shared(b)])
    return keras.Model([a, b], keras.layers.Dense(1, name="head")(merged), name="shared_layer")


def nested_3_levels() -> keras.Model:
    """Sequential inside Functional inside Functional."""
    innermost = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="deep_dense"),
                                  keras.layers.BatchNormalization(name="deep_bn")], name="level3")
    x = keras.Input((6,), name="mid_in")
    middle = keras.Model(x, keras.layers.Dense(2, name="mid_dense")(innermost(x)), name="level2")
    y = keras.Input((6,), name="top_in")
    return keras.Model(y, keras.layers.Activation("sigmoid", name="top_act")(middle(y)), name="nested_3_levels")


def nested_siblings() -> keras.Model:
    """Two different nested models side by side (one called twice, one holding a third model): each opens alone."""
    left = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="left_dense"),
                             keras.layers.ReLU(name="left_relu")], name="left")
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, name="inner_dense")], name="inner")
    r = keras.Input((6,), name="right_in")
    right = keras.Model(r, keras.layers.Dense(2, name="right_dense")(inner(r)), name="right")
    x = keras.Input((6,), name="x")
    joined = keras.layers.Concatenate(name="join")([left(x), right(x), left(x)])
    return keras.Model(x, keras.layers.Dense(1, name="head")(joined), name="nested_siblings")


def multi_in_out_dict() -> keras.Model:
    """Dict inputs and two named outputs."""
    image = keras.Input((8, 8, 1), name="image")
    meta = keras.Input((3,), name="meta")
    x = keras.layers.Conv2D(2, 3, name="conv")(image)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Concatenate(name="join")([x, meta])
    out_class = keras.layers.Dense(4, activation="softmax", name="label")(x)
    out_score = keras.layers.Dense(1, name="score")(x)
    return keras.Model({"image": image, "meta": meta}, {"label": out_class, "score": out_score},
                       name="multi_in_out_dict")


def lambda_abs() -> keras.Model:
    """A Lambda layer: its bytecode must never run unless trusted."""
    a = keras.Input((3,), name="a")
    return keras.Model(a, keras.layers.Lambda(lambda t: abs(t), output_shape=(3,), name="abs")(a), name="lambda_abs")


def masking() -> keras.Model:
    """Embedding(mask_zero=True) and a pooling that respects the mask."""
    tokens = keras.Input((7,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(20, 4, mask_zero=True, name="embed")(tokens)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    return keras.Model(tokens, keras.layers.Dense(1, name="out")(x), name="masking")


def frozen_layers() -> keras.Model:
    """A frozen Dense and a BatchNormalization: non-trainable params."""
    x = keras.Input((5,), name="x")
    frozen = keras.layers.Dense(4, name="frozen_dense")
    frozen.trainable = False
    y = keras.layers.BatchNormalization(name="bn")(frozen(x))
    return keras.Model(x, keras.layers.Dense(2, name="top")(y), name="frozen_layers")


def dropout_batchnorm() -> keras.Model:
    """Layers that behave differently in training mode."""
    x = keras.Input((6,), name="x")
    h = keras.layers.Dense(8, activation="relu", name="hidden")(x)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.Dropout(0.5, name="drop")(h)
    return keras.Model(x, keras.layers.Dense(1, name="out")(h), name="dropout_batchnorm")


@keras.saving.register_keras_serializable(package="zoo")
class TinySubclassed(keras.Model):
    """A subclassed model: no functional graph."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(4, name="hidden")
        self.out = keras.layers.Dense(1, name="out")

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def subclassed() -> keras.Model:
    model = TinySubclassed(name="subclassed")
    model(np.zeros((1, 3), dtype="float32"))
    return model


def odd_names() -> keras.Model:
    """Names with quotes, spaces, angle brackets and ampersands."""
    x = keras.Input((2,), name='in "quoted" <x>')
    y = keras.layers.Dense(2, name="a & b's <dense>")(x)
    return keras.Model(x, y, name="odd names")


ZOO = {
    "sequential_mlp": sequential_mlp,
    "shared_layer": shared_layer,
    "nested_3_levels": nested_3_levels,
    "multi_in_out_dict": multi_in_out_dict,
    "lambda_abs": lambda_abs,
    "masking": masking,
    "frozen_layers": frozen_layers,
    "dropout_batchnorm": dropout_batchnorm,
    "subclassed": subclassed,
    "odd_names": odd_names,
}
SAFE = [name for name in ZOO if name not in ("lambda_abs", "subclassed")]


def keras2_h5_with_layer(path, layer: dict, *, input_shape: tuple[int, ...] = (4,), units: int = 3,
                         keras_version: str = "2.4.0") -> str:
    """A tf.keras-2-style .h5: Input → Dense ``d`` saved by Keras 3, marked ``keras_version``, with ``layer``
    appended to its config (a layer Keras 3 no longer writes, or a hostile one)."""
    keras.Sequential([keras.Input(input_shape), keras.layers.Dense(units, name="d")]).save(path)
    with h5py.File(path, "r+") as f:
        f.attrs["keras_version"] = keras_version
        config = json.loads(f.attrs["model_config"])
        config["config"]["layers"].append(layer)
        f.attrs["model_config"] = json.dumps(config)
    return str(path)
