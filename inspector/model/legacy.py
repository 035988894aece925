"""Normalising configs written by older Keras versions so Keras 3 reads them correctly.

Pure dict-to-dict rewriting; no Keras import.  Each rewrite is reported, so the
user can see what was changed and why.

Example:
    >>> cfg = {"class_name": "Sequential", "config": {"name": "s", "layers": [
    ...     {"class_name": "Dense", "config": {"name": "d", "units": 1, "batch_input_shape": [None, 13]}}]}}
    >>> fixed, notes = normalize_config(cfg)
    >>> [lc["class_name"] for lc in fixed["config"]["layers"]]
    ['InputLayer', 'Dense']
"""

from __future__ import annotations

import pickle
import re
from typing import Any

from inspector.model import keras1, legacy_nodes, tf_ops
from inspector.model.old_semantics import HARD_SIGMOID_KERAS2, LOCALLY_CONNECTED
from inspector.model.scan import config_objects

__all__ = ["LAYER_FUNCTION_NAMES", "normalize_config", "written_before_keras3"]

_DROP_KEYS = {
    # Keras 3 rejects these arguments, which tf.keras 2 wrote with their default values
    **dict.fromkeys(("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "Conv1DTranspose",
                     "Conv2DTranspose", "Conv3DTranspose"), ("groups",)),
    **dict.fromkeys(("LSTM", "GRU", "SimpleRNN", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"), ("time_major",)),
    "MultiHeadAttention": ("softmax_robust_masking",),
}
_DEFAULTS = {"groups": 1, "time_major": False, "softmax_robust_masking": False}
# arguments tf.keras 2 wrote for a layer that never used them (its SeparableConv inherited Conv's kernel_*, while
# its weights are depthwise_kernel and pointwise_kernel); Keras 3 rejects them whatever their value
_UNUSED_KEYS = {**dict.fromkeys(("SeparableConv1D", "SeparableConv2D"),
                                ("kernel_initializer", "kernel_regularizer", "kernel_constraint")),
                "MultiHeadAttention": ("query_shape", "key_shape", "value_shape"),  # its build shapes
                # without weights, its noise shape its own: Keras 3's SpatialDropout takes neither argument
                **dict.fromkeys(("SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"),
                                ("trainable", "noise_shape")),
                "Discretization": ("trainable",),  # its boundaries are its config, not weights
                # the kind of random generator tf.keras 2's augmentation layers draw from ("stateful"): only
                # training draws, and Keras 3's layers take a seed alone
                **dict.fromkeys(("RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomHeight",
                                 "RandomRotation", "RandomTranslation", "RandomWidth", "RandomZoom"), ("rng_type",))}
# the layers whose ``axis`` may name several axes (a list): Keras 3's legacy loader keeps only a one-entry list
_AXES_LAYERS = frozenset({"LayerNormalization", "Normalization", "UnitNormalization"})


def normalize_config(config: dict, *, keras_version: str | None = None) -> tuple[dict, list[str]]:
    """Rewrite a model config for Keras 3; returns the new config and a note per change.

    ``keras_version`` is the version recorded in the file: a file written before
    Keras 3 also gets the old meaning of what Keras 3 changed (see :mod:`inspector.model.old_semantics`);
    the rewritten config then needs ``old_semantics.custom_objects()`` to load.
    """
    fixed = pickle.loads(pickle.dumps(config, pickle.HIGHEST_PROTOCOL))  # a deep copy of plain JSON data, twice as fast
    notes: list[str] = []
    if keras1.is_keras1(fixed, keras_version):
        fixed, notes = keras1.convert_config(fixed)
        keras_version = keras_version or "1"  # Keras 1's hard_sigmoid and GRU, whatever the file recorded
    # Keras 3.0-3.9 wrote a nested model's one input or output as a one-element list too, and Keras 3.15 reads
    # that as Keras 3 meant it (checked on files of 3.0.5, 3.4.1 and 3.9.2): only older files need the unwrap
    _fix_model(fixed, notes, unwrap=not _written_by_keras3(keras_version))
    if written_before_keras3(keras_version):
        _locate_model_classes(fixed, notes)
        _keep_old_semantics(fixed, notes)
    return fixed, notes


def written_before_keras3(keras_version: str | None) -> bool:
    """Whether a recorded ``keras_version`` (``"2.4.0"``, ``"1.2.2"``, ``"2.13.1-tf"``) is older than Keras 3.

    Example:
        >>> written_before_keras3("2.4.0"), written_before_keras3("3.3.3"), written_before_keras3(None)
        (True, False, False)
    """
    major = _major(keras_version)
    return major is not None and major < 3


def _written_by_keras3(keras_version: str | None) -> bool:
    major = _major(keras_version)
    return major is not None and major >= 3


def _major(keras_version: str | None) -> int | None:
    """The major version a recorded ``keras_version`` names (``None`` when none is recorded or readable)."""
    match = re.match(r"\s*(\d+)\.", keras_version or "")
    return int(match.group(1)) if match else None


# activation arguments that can name "hard_sigmoid" (inner_activation: Keras 1's name for recurrent_activation)
_ACTIVATION_KEYS = ("activation", "recurrent_activation", "inner_activation")


# where a layer's config holds another layer's: Keras 3 builds that one with its new deserializer
_INNER_LAYER_KEYS = ("layer", "backward_layer", "cell", "cells")


def _keep_old_semantics(node: Any, notes: list[str], inner: bool = False) -> None:
    """Rewrite, anywhere in the config (nested models, RNN cells, wrapped layers), what Keras 3 computes differently.

    ``inner``: inside a wrapped layer or cell.  Keras 3 builds those, and every layer whose config names its
    module (a tf.keras 2 ``.keras`` file), with its new deserializer, where an activation given by name is looked
    up among Keras's own only; a serialized function is looked up among the custom objects too (loading passes ours).
    """
    if isinstance(node, list):
        for item in node:
            _keep_old_semantics(item, notes, inner)
        return
    if not isinstance(node, dict):
        return
    cfg = node.get("config")
    if isinstance(cfg, dict):
        for key in _ACTIVATION_KEYS:
            if cfg.get(key) == "hard_sigmoid":
                cfg[key] = HARD_SIGMOID_KERAS2 if not inner and "module" not in node else {
                    "module": "keras.activations", "class_name": "function", "config": HARD_SIGMOID_KERAS2,
                    "registered_name": HARD_SIGMOID_KERAS2}
                notes.append(f"{node.get('class_name')} {cfg.get('name')!r}: {key}='hard_sigmoid' computes Keras 1/2's "
                             "clip(0.2x + 0.5, 0, 1), as when it was saved (Keras 3's hard_sigmoid is relu6(x + 3) / 6).")
        if node.get("class_name") == "ThresholdedReLU":
            # Keras 3 removed the layer; ReLU(threshold=theta) computes x where x >= theta, else 0 (the two differ
            # only at x == theta exactly, where the old layer gave 0)
            node["class_name"] = "ReLU"
            node["config"] = cfg = {"name": cfg.get("name"), "trainable": cfg.get("trainable", True),
                                    "dtype": cfg.get("dtype", "float32"), "threshold": float(cfg.get("theta", 1.0))}
            notes.append(f"ThresholdedReLU {cfg['name']!r} (removed in Keras 3) became ReLU(threshold="
                         f"{cfg['threshold']}), the same function.")
        if node.get("class_name") in LOCALLY_CONNECTED:
            if "module" in node:  # a tf.keras 2 .keras file: registered_name None would hide ours from Keras's lookup
                node["registered_name"] = node["class_name"]
            notes.append(f"{node['class_name']} {cfg.get('name')!r} (removed in Keras 3) is computed by the "
                         f"inspector's own layer, in tf.keras 2's weight layout (implementation "
                         f"{cfg.get('implementation', 1)}).")
        if node.get("class_name") in ("TimeDistributed", "Bidirectional"):
            _locate_wrapped_layers(cfg, notes)
        if node.get("class_name") in ("RNN", "StackedRNNCells"):
            _locate_cells(cfg, notes)
        if node.get("class_name") in ("GRU", "GRUCell") and "reset_after" not in cfg:
            # Keras <= 2.1.4 had no reset_after and computed reset_after=False; Keras 3 defaults to True
            cfg["reset_after"] = False
            notes.append(f"GRU {cfg.get('name')!r}: reset_after=False, the only GRU of the Keras version that wrote "
                         "it (Keras 3's default is True).")
    for key, value in node.items():
        if isinstance(value, (dict, list)):
            _keep_old_semantics(value, notes, inner or key in _INNER_LAYER_KEYS)


# where tf.keras 2's .keras files (2.13+) say its model classes live, and where Keras 3's are
_MODEL_MODULES = re.compile(r"^(tf_keras|keras)(\.src)?\.engine\.(functional|sequential|training)$")
_KERAS3_MODEL_MODULES = {"Functional": "keras.src.models.functional", "Sequential": "keras.src.models.sequential",
                         "Model": "keras.src.models.model"}


def _locate_model_classes(node: Any, notes: list[str]) -> None:
    """Point the model classes of a tf.keras 2 ``.keras`` config at Keras 3's modules.

    tf.keras 2 named them by its own package layout (``keras.src.engine.functional``; ``tf_keras.src.engine...``
    for the tf_keras package), which Keras 3 does not have: it would try to import that module.
    """
    for _, item in config_objects(node):
        module, cls = item.get("module"), item.get("class_name")
        if isinstance(module, str) and _MODEL_MODULES.match(module) and cls in _KERAS3_MODEL_MODULES:
            item["module"] = _KERAS3_MODEL_MODULES[cls]
            notes.append(f"{cls} (module {module}, tf.keras 2's) is Keras 3's {item['module']}.{cls}.")


def _fix_model(model: dict, notes: list[str], *, unwrap: bool = True) -> None:
    inner = model.get("config")
    if model.get("class_name") == "Sequential" and isinstance(inner, list):
        # Keras <= 2.1 stored a Sequential as a bare list of layers
        inner = model["config"] = {"name": "sequential", "layers": inner}
        notes.append("Converted a Keras 2.0/2.1 Sequential config (a bare layer list) to the current form.")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        return
    layers = inner["layers"]
    legacy_nodes.renumber_nested_calls(inner, layers, notes)
    tf_ops.convert_op_layers(layers, notes)  # before the generic rewrites: an op layer's node has a form of its own
    legacy_nodes.keyword_tensors(layers, notes)
    legacy_nodes.initial_states(layers, notes)
    if model.get("class_name") == "Sequential" and layers and isinstance(layers[0], dict) \
            and layers[0].get("class_name") != "InputLayer":
        _add_sequential_input(inner, layers, notes)
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        cfg = layer.get("config")
        if not isinstance(cfg, dict):
            continue
        _drop_rejected_arguments(layer, cfg, notes)
        _keep_strings(layer, cfg, notes)
        _keep_axes(layer, cfg, notes)
        if layer.get("class_name") != "InputLayer" and cfg.pop("batch_input_shape", None) is not None:
            notes.append(f"Dropped batch_input_shape from {cfg.get('name')!r}: the model's InputLayer already "
                         "declares it (Keras 3 rejects it on other layers).")
        if layer.get("class_name") == "BatchNormalization" and isinstance(cfg.get("axis"), list) \
                and len(cfg["axis"]) == 1:
            cfg["axis"] = cfg["axis"][0]
            notes.append(f"Turned BatchNormalization {cfg.get('name')!r} axis=[{cfg['axis']}] into {cfg['axis']} "
                         "(tf.keras 2 wrote a list; Keras 3 wants an integer).")
        if layer.get("class_name") in legacy_nodes.MODEL_CLASSES:
            if unwrap:
                _unwrap_single_endpoints(layer, notes)
            _fix_model(layer, notes, unwrap=unwrap)


# the functions of keras.layers, which Keras 3's legacy loader puts in place of a layer argument naming one
# (tests/test_tf_keras2_files.py checks this list against Keras's)
LAYER_FUNCTION_NAMES = frozenset({"Input", "add", "average", "concatenate", "deserialize", "dot", "maximum", "minimum",
                                  "multiply", "serialize", "subtract"})
# the layer arguments whose legitimate values include such a name; anywhere else the name stays for the scan to refuse
_STRING_ARGUMENTS = {"Attention": ("score_mode",)}


def _keep_strings(layer: dict, cfg: dict, notes: list[str]) -> None:
    """Have Keras 3 read ``Attention(score_mode="dot")`` (the default) as the string it is.

    Keras 3 reads a layer config without a module (a Keras 1/2 ``.h5``) with its legacy loader, which turns a
    string naming a ``keras.layers`` function into that function: ``score_mode=keras.layers.dot``, refused by the
    scan, and by Attention.  Given its module, the layer is read by the new deserializer, which leaves strings
    alone; only when its other arguments are plain values or objects naming their module, as that deserializer
    needs.
    """
    keys = _STRING_ARGUMENTS.get(str(layer.get("class_name")), ())
    if "module" in layer or not any(cfg.get(key) in LAYER_FUNCTION_NAMES for key in keys):
        return
    others = [v for k, v in cfg.items() if k not in keys]
    if all(not isinstance(v, (dict, list)) or (isinstance(v, dict) and "module" in v) for v in others) and not any(
            isinstance(v, str) and v in LAYER_FUNCTION_NAMES for v in others):
        layer["module"] = "keras.layers"
        notes.append(f"{layer.get('class_name')} {cfg.get('name')!r}: read as Keras 3 reads its own files, so its "
                     f"{', '.join(keys)} stays the string it is (Keras 3's legacy loader would make it a function).")


def _keep_axes(layer: dict, cfg: dict, notes: list[str]) -> None:
    """Have Keras 3 read ``LayerNormalization(axis=[1, 2])`` over the axes it names.

    Keras 3 reads a layer config without a module (a Keras 1/2 ``.h5``, a SavedModel's metadata) with its legacy
    loader, which turns a one-entry ``axis`` list into its integer and drops any other list: the layer is rebuilt
    over the last axis alone (its weights no longer fit; a Normalization adapted over several axes would compute
    another function).  Given its module, the layer is read by the new deserializer, which keeps the list and
    reads the initializers and regularizers in the config as the legacy loader does.
    """
    axis = cfg.get("axis")
    if layer.get("class_name") in _AXES_LAYERS and "module" not in layer and isinstance(axis, list) and len(axis) > 1:
        layer["module"] = "keras.layers"
        notes.append(f"{layer.get('class_name')} {cfg.get('name')!r}: read as Keras 3 reads its own files, so it "
                     f"keeps axis={axis} (Keras 3's legacy loader would keep only the last axis).")


def _drop_rejected_arguments(layer: dict, cfg: dict, notes: list[str]) -> None:
    """Drop the arguments tf.keras 2 wrote that Keras 3 rejects, from a layer and from the layers it wraps."""
    cls = str(layer.get("class_name"))
    for key in _DROP_KEYS.get(cls, ()):
        if key in cfg and cfg[key] in (_DEFAULTS[key], None):
            del cfg[key]
            notes.append(f"Dropped {key}={_DEFAULTS[key]!r} from {cls} {cfg.get('name')!r} (tf.keras 2 wrote it; "
                         "Keras 3 rejects it).")
    if cls == "MultiHeadAttention" and isinstance(layer.get("build_config"), dict) and cfg.get("query_shape"):
        # tf.keras 2 recorded the build shapes in the config, and the query's alone in its build_config; Keras 3
        # builds the layer from the three
        value = cfg.get("value_shape") or cfg["query_shape"]
        layer["build_config"] = {"shapes_dict": {"query_shape": cfg["query_shape"], "value_shape": value,
                                                 "key_shape": cfg.get("key_shape") or value}}
    unused = [key for key in _UNUSED_KEYS.get(cls, ()) if key in cfg and cfg.pop(key) is not None]
    if unused:
        notes.append(f"Dropped {', '.join(unused)} from {cls} {cfg.get('name')!r} (tf.keras 2 wrote them, unused; "
                     "Keras 3 rejects them).")
    for key in ("layer", "backward_layer"):  # Bidirectional's and TimeDistributed's layer
        inner = cfg.get(key)
        if isinstance(inner, dict) and isinstance(inner.get("config"), dict):
            _drop_rejected_arguments(inner, inner["config"], notes)


def _locate_wrapped_layers(cfg: dict, notes: list[str]) -> None:
    """Give a wrapper's inner layer configs the module Keras 3 needs to find their class.

    Keras 1/2 wrote ``TimeDistributed(Dense)``'s inner layer as ``{"class_name": "Dense", "config": ...}``;
    Keras 3's wrappers rebuild it with the new deserializer, which finds a class without a module only among
    registered custom objects ("Could not locate class 'Dense'").  Your own class, given as a custom object,
    is still found first, by its name.
    """
    for key in ("layer", "backward_layer"):
        inner = cfg.get(key)
        if isinstance(inner, dict) and isinstance(inner.get("class_name"), str) and "module" not in inner:
            inner["module"] = "keras.layers"
            notes.append(f"{cfg.get('name')!r}: its wrapped {inner['class_name']} is looked up in keras.layers "
                         "(the file names no module; Keras 3 needs one).")


def _locate_cells(cfg: dict, notes: list[str]) -> None:
    """Give the cell configs of an ``RNN`` (``cell``) or ``StackedRNNCells`` (``cells``) the module Keras 3 needs.

    tf.keras 2 wrote them without one in a SavedModel's metadata (and before 2.13 in an ``.h5``); Keras 3 builds
    them with its new deserializer, as a wrapper's layer ("Could not locate class 'LSTMCell'").

    Example:
        >>> cfg = {"name": "rnn", "cell": {"class_name": "LSTMCell", "config": {"units": 2}}}
        >>> notes = []
        >>> _locate_cells(cfg, notes)
        >>> cfg["cell"]["module"], len(notes)
        ('keras.layers', 1)
    """
    cells = cfg.get("cells") if isinstance(cfg.get("cells"), list) else [cfg.get("cell")]
    for cell in cells:
        if isinstance(cell, dict) and isinstance(cell.get("class_name"), str) and "module" not in cell:
            cell["module"] = "keras.layers"
            notes.append(f"{cfg.get('name')!r}: its cell {cell['class_name']} is looked up in keras.layers "
                         "(the file names no module; Keras 3 needs one).")


def _unwrap_single_endpoints(model: dict, notes: list[str]) -> None:
    """Turn a nested model's one-element ``input_layers``/``output_layers`` into the bare ``[name, node, tensor]``.

    tf.keras 2 always wrote lists; a nested model with one output then returned one tensor.  Keras 3 rebuilds a
    list as a list, so the next layer receives ``[tensor]`` and the outer model fails with "expects 1 named
    input(s) ... received 2" (every Teachable Machine export).
    """
    inner = model.get("config")
    if not isinstance(inner, dict):
        return
    for key in ("input_layers", "output_layers"):
        value = inner.get(key)
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list) and value[0] \
                and isinstance(value[0][0], str):
            inner[key] = value[0]
            notes.append(f"Unwrapped the one-element {key} of nested model {inner.get('name')!r} (tf.keras 2 wrote a "
                         "list; Keras 3 would pass a one-element list to the next layer).")


def _add_sequential_input(inner: dict, layers: list[dict], notes: list[str]) -> None:
    first = layers[0].get("config")
    if not isinstance(first, dict):
        return
    shape = first.pop("batch_input_shape", None) or first.pop("batch_shape", None)
    if shape is None:
        return
    # Keras 3.15 turns a Sequential's batch_input_shape into an input of shape (None, None, ...):
    # an explicit InputLayer keeps the stored shape
    layers.insert(0, {"class_name": "InputLayer", "config": {
        "batch_shape": list(shape), "dtype": _dtype(first.get("dtype")), "sparse": False,
        "name": f"{first.get('name', 'layer')}_input"}})
    notes.append(f"Gave the Sequential model an explicit input of shape {tuple(shape)} taken from its first "
                 "layer's batch_input_shape (Keras 3 would otherwise add a second batch dimension).")


def _dtype(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("config"), dict):
        return str(value["config"].get("name", "float32"))
    return "float32"
