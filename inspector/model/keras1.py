"""Reading files written by Keras 1 (2016-17): layer arguments, Merge layers and stored weights for Keras 3.

Keras 1 named layer arguments differently (``output_dim``, ``init``, ``border_mode``,
``nb_filter``, ``p``, ...), merged tensors with one ``Merge`` layer whose ``mode``
chose the operation, stored LSTM/GRU weights per gate (``W_i``, ``U_i``, ``b_i``, ...)
and, with the Theano backend, convolution kernels that Theano flipped (a true
convolution, where TensorFlow and Keras 3 compute a cross-correlation).

Two steps, both dict/array rewriting without Keras:

- :func:`convert_config` renames arguments and classes in a model config
  (called by :func:`inspector.model.legacy.normalize_config` for Keras 1 files);
- :func:`convert_weights` rewrites the file's ``model_weights`` group into the
  arrays Keras 3 expects (called by loading before Keras reads the file).

A ``Merge`` whose mode is a marshalled Python function is code: see
:func:`merge_runs_code`.

Example:
    >>> cfg = {"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {
    ...     "name": "dense_1", "output_dim": 3, "init": "glorot_uniform", "batch_input_shape": [None, 4]}}]}
    >>> fixed, notes = convert_config(cfg)
    >>> [(layer["class_name"], layer["config"].get("units")) for layer in fixed["config"]]
    [('InputLayer', None), ('Dense', 3)]
"""

from __future__ import annotations

import copy
import io
import re
from typing import TYPE_CHECKING, Any

from inspector.errors import ModelLoadError
from inspector.model.old_semantics import BATCH_NORMALIZATION_KERAS1

if TYPE_CHECKING:  # numpy is imported by the weight conversions only: the static view reads no arrays
    import numpy as np

__all__ = ["convert_config", "convert_weights", "is_keras1", "merge_runs_code"]

# Keras 1 class name -> Keras 3 class name
_CLASSES = {
    "Convolution1D": "Conv1D", "Convolution2D": "Conv2D", "Convolution3D": "Conv3D",
    "AtrousConvolution2D": "Conv2D", "Deconvolution2D": "Conv2DTranspose",
    "SeparableConvolution2D": "SeparableConv2D",
}
# argument renames shared by every layer (Keras 1 name -> Keras 3 name)
_COMMON = {
    "W_regularizer": "kernel_regularizer", "U_regularizer": "recurrent_regularizer",
    "b_regularizer": "bias_regularizer", "W_constraint": "kernel_constraint", "U_constraint": "recurrent_constraint",
    "b_constraint": "bias_constraint", "bias": "use_bias", "output_dim": "units", "nb_filter": "filters",
    "border_mode": "padding", "subsample": "strides", "subsample_length": "strides", "dim_ordering": "data_format",
    "inner_activation": "recurrent_activation", "dropout_W": "dropout", "dropout_U": "recurrent_dropout",
    "p": "rate", "pool_length": "pool_size", "stride": "strides", "input_dtype": "dtype",
    "atrous_rate": "dilation_rate",
}
# per-class renames that differ from the common ones
_PER_CLASS = {
    "Embedding": {"W_regularizer": "embeddings_regularizer", "W_constraint": "embeddings_constraint",
                  "output_dim": "output_dim"},
}
# Keras 1 arguments Keras 3 has no use for at inference: the input layer carries the shape, the stored weights
# replace whatever an initialiser would draw (and Keras 1 names like "one" are not Keras 3's)
_DROPPED = ("input_dim", "input_length", "consume_less", "forget_bias_init", "mode", "beta_init", "gamma_init",
            "dropout", "cache_enabled", "init", "inner_init")
_DROPPED_KEEP = {"Embedding": ("input_dim",), "LSTM": ("dropout",), "GRU": ("dropout",),
                 "SimpleRNN": ("dropout",), "Dropout": ()}
_DATA_FORMATS = {"th": "channels_first", "tf": "channels_last"}
_WRAPPERS = ("TimeDistributed", "Bidirectional")  # layers whose config holds another layer's ("layer")
_MERGE_CLASSES = {"sum": "Add", "mul": "Multiply", "ave": "Average", "max": "Maximum", "concat": "Concatenate",
                  "dot": "Dot", "cos": "Dot"}
_KERAS1_ONLY_KEYS = ("output_dim", "nb_filter", "border_mode", "init", "inner_activation", "W_regularizer",
                     "input_dtype", "p")


def is_keras1(config: Any, keras_version: str | None) -> bool:
    """Whether a model config was written by Keras 1 (by its recorded version, or by Keras-1-only names).

    Example:
        >>> is_keras1({}, "1.2.2"), is_keras1({}, "2.4.0")
        (True, False)
        >>> is_keras1({"class_name": "Sequential", "config": [{"class_name": "Dense", "config": {"output_dim": 2}}]},
        ...           None)
        True
    """
    if keras_version:
        return keras_version.strip().startswith("1.")
    return any(layer.get("class_name") in ("Merge", *_CLASSES) or
               any(key in layer.get("config", {}) for key in _KERAS1_ONLY_KEYS if layer.get("class_name") != "Embedding")
               for layer in _layers(config))


def merge_runs_code(layer: dict) -> str | None:
    """Why a Keras 1 ``Merge`` layer config would run code from the file, or ``None``.

    A ``Merge`` whose ``mode`` (or ``output_shape``) is a Python function stores
    it marshalled (bytecode): loading it runs that code.  For the config scanner.

    Example:
        >>> merge_runs_code({"class_name": "Merge", "config": {"mode": "concat", "mode_type": "raw"}}) is None
        True
        >>> merge_runs_code({"class_name": "Merge", "config": {"mode": ["e3...", None, None], "mode_type": "lambda"}})
        'a Keras 1 Merge layer whose mode is a Python function (marshalled bytecode)'
    """
    if layer.get("class_name") != "Merge" or not isinstance(layer.get("config"), dict):
        return None
    cfg = layer["config"]
    if cfg.get("mode_type", "raw") != "raw" or not (cfg.get("mode") is None or cfg.get("mode") in _MERGE_CLASSES):
        return "a Keras 1 Merge layer whose mode is a Python function (marshalled bytecode)"
    if cfg.get("output_shape_type", "raw") != "raw" or cfg.get("output_mask_type", "raw") != "raw":
        return "a Keras 1 Merge layer whose output shape or mask is a Python function (marshalled bytecode)"
    return None


def convert_config(config: dict) -> tuple[dict, list[str]]:
    """Rename Keras 1 classes and arguments in a model config; returns the new config and a note per layer changed.

    Layers Keras 3 cannot express (a ``Merge`` running code or of whole
    Sequential branches) are left as they are: Keras then refuses them and the
    static view still shows them.  BatchNormalization ``mode=1``/``mode=2``
    becomes our :func:`~inspector.model.old_semantics.batch_normalization_keras1` layer.

    Example:
        >>> cfg = {"class_name": "Model", "config": {"name": "m", "layers": [
        ...     {"class_name": "Merge", "name": "merge_1", "inbound_nodes": [],
        ...      "config": {"name": "merge_1", "mode": "concat", "concat_axis": -1, "mode_type": "raw"}}]}}
        >>> layer = convert_config(cfg)[0]["config"]["layers"][0]
        >>> layer["class_name"], layer["config"]
        ('Concatenate', {'name': 'merge_1', 'axis': -1})
    """
    fixed = copy.deepcopy(config)
    notes: list[str] = []
    if fixed.get("class_name") == "Sequential" and isinstance(fixed.get("config"), list):
        _add_input_layer(fixed["config"], notes)
    for layer in _layers(fixed):
        _convert_layer(layer, notes)
    return fixed, notes


def _add_input_layer(layers: list, notes: list[str]) -> None:
    """A Keras 1 Sequential declares its input on the first layer (batch_input_shape, input_dtype): make it a layer."""
    first = layers[0].get("config") if layers and isinstance(layers[0], dict) else None
    if not isinstance(first, dict) or layers[0].get("class_name") == "InputLayer" or not first.get("batch_input_shape"):
        return
    # the input's dtype belongs to the input: on an Embedding, dtype=int32 would make its weights integers
    dtype = first.pop("input_dtype", None) or "float32"
    layers.insert(0, {"class_name": "InputLayer", "config": {
        "batch_shape": list(first.pop("batch_input_shape")), "dtype": dtype, "sparse": False,
        "name": f"{first.get('name', 'layer')}_input"}})
    notes.append(f"Keras 1 Sequential: its input (dtype {dtype}) declared on {first.get('name')!r} became an "
                 "InputLayer.")


def _layers(config: Any) -> list[dict]:
    """Every layer dict of a (possibly nested) model config, Keras 1 or later layout."""
    found: list[dict] = []
    if not isinstance(config, dict):
        return found
    inner = config.get("config")
    items = inner if isinstance(inner, list) else inner.get("layers") if isinstance(inner, dict) else None
    for layer in items if isinstance(items, list) else []:
        if isinstance(layer, dict):
            found.append(layer)
            if layer.get("class_name") in ("Sequential", "Model", "Functional"):
                found.extend(_layers(layer))
    return found


def _convert_layer(layer: dict, notes: list[str]) -> None:
    cls = str(layer.get("class_name"))
    cfg = layer.get("config")
    if not isinstance(cfg, dict) or cls in ("Sequential", "Model", "Functional"):
        return
    if cls == "Merge":
        _convert_merge(layer, cfg, notes)
        return
    if cls == "BatchNormalization" and cfg.get("mode", 0) != 0:
        _convert_batch_normalization(layer, cfg, notes)
        return
    if cls in _WRAPPERS and isinstance(cfg.get("layer"), dict):
        _convert_layer(cfg["layer"], notes)  # the wrapped layer's config uses Keras 1's names too
    if cls != "InputLayer":
        cfg.pop("input_dtype", None)  # the input's, never the layer's own dtype
    elif "batch_input_shape" in cfg:
        cfg["batch_shape"] = cfg.pop("batch_input_shape")
    renames = {**_COMMON, **_PER_CLASS.get(cls, {})}
    keep = _DROPPED_KEEP.get(cls, ())
    changed = []
    for old in list(cfg):
        if old in renames and renames[old] != old:
            cfg[renames[old]] = cfg.pop(old)
            changed.append(f"{old}->{renames[old]}")
        elif old in _DROPPED and old not in keep and old != "name":
            value = cfg.pop(old)
            if old == "forget_bias_init":
                cfg["unit_forget_bias"] = value == "one"  # the only initialiser Keras 3 can express
            changed.append(f"dropped {old}")
    if cls == "Convolution2D" or cls == "Convolution1D" or cls == "AtrousConvolution2D":
        rows, cols = cfg.pop("nb_row", None), cfg.pop("nb_col", None)
        length = cfg.pop("filter_length", None)
        cfg["kernel_size"] = [rows, cols] if rows is not None else [length]
    if cls in ("MaxPooling1D", "AveragePooling1D") and isinstance(cfg.get("pool_size"), int):
        cfg["pool_size"] = [cfg["pool_size"]]
    if isinstance(cfg.get("data_format"), str) and cfg["data_format"] in _DATA_FORMATS:
        cfg["data_format"] = _DATA_FORMATS[cfg["data_format"]]
    if "activity_regularizer" in cfg and cfg["activity_regularizer"] is None:
        del cfg["activity_regularizer"]
    for key in ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer", "kernel_constraint",
                "recurrent_constraint", "bias_constraint", "embeddings_regularizer", "embeddings_constraint"):
        if cfg.get(key) is not None:
            # Keras 1 serialised these as {"name": "WeightRegularizer", "l1": ..}; they matter only for training
            cfg.pop(key)
            changed.append(f"dropped {key} (training only)")
    if cls in _CLASSES:
        layer["class_name"] = _CLASSES[cls]
        changed.append(f"{cls}->{_CLASSES[cls]}")
    if cls == "GRU":
        cfg["reset_after"] = False  # Keras 1's only GRU
    if changed:
        notes.append(f"Keras 1 layer {cfg.get('name')!r} ({cls}): {', '.join(changed)}.")


def _convert_batch_normalization(layer: dict, cfg: dict, notes: list[str]) -> None:
    """Keras 1 BatchNormalization mode 1 or 2 -> our layer computing the same (Keras 3 has neither mode)."""
    mode = cfg.get("mode")
    if mode not in (1, 2):
        notes.append(f"BatchNormalization {cfg.get('name')!r}: Keras 1 mode={mode!r} is not one Keras 1 had (0, 1 or "
                     "2); left for Keras to refuse.")
        return
    layer["class_name"] = BATCH_NORMALIZATION_KERAS1
    layer["config"] = {"name": cfg.get("name"), "trainable": cfg.get("trainable", True), "mode": mode,
                       "axis": cfg.get("axis", -1), "epsilon": cfg.get("epsilon", 1e-3)}
    what = ("each sample normalised over its features" if mode == 1
            else "normalised with the statistics of each batch, at inference too")
    notes.append(f"BatchNormalization {cfg.get('name')!r} uses Keras 1 mode={mode} ({what}): computed by our "
                 f"{BATCH_NORMALIZATION_KERAS1} layer, as Keras 1 did (Keras 3 has no such mode).")


def _convert_merge(layer: dict, cfg: dict, notes: list[str]) -> None:
    mode = cfg.get("mode")
    if "layers" in cfg:  # a Merge of whole Sequential branches (Keras 1's Sequential API): no Keras 3 layer
        notes.append(f"Keras 1 Merge {cfg.get('name')!r} merges Sequential branches; Keras 3 cannot express it.")
        return
    if merge_runs_code(layer) or mode not in _MERGE_CLASSES:
        notes.append(f"Keras 1 Merge {cfg.get('name')!r}: mode {str(mode)[:40]!r} is not one Keras 3 has; left as is.")
        return
    new: dict[str, Any] = {"name": cfg.get("name")}
    if mode == "concat":
        new["axis"] = cfg.get("concat_axis", -1)
    elif mode in ("dot", "cos"):
        axes = cfg.get("dot_axes", -1)
        new["axes"] = axes
        new["normalize"] = mode == "cos"  # cos: the dot product of the L2-normalised inputs
    layer["class_name"] = _MERGE_CLASSES[mode]
    layer["config"] = new
    notes.append(f"Keras 1 Merge {cfg.get('name')!r} (mode={mode!r}) became {layer['class_name']}.")


# --------------------------------------------------------------------------- weights
_GATES = {"LSTM": "ifco", "GRU": "zrh"}  # Keras 3's order of the gates in kernel/recurrent_kernel/bias


def convert_weights(data: bytes, config: dict) -> bytes:
    """A Keras 1 ``.h5`` file's bytes with its weights laid out for Keras 3.

    Per-gate LSTM/GRU weights are packed into ``kernel``, ``recurrent_kernel``
    and ``bias``; Theano-ordered convolution kernels are transposed, and kernels
    trained with the Theano backend are flipped (Theano convolved, Keras 3
    cross-correlates).  ``config`` is the file's original (Keras 1) config.

    Raises:
        ModelLoadError: a convolution kernel whose backend the file does not record.

    Example:
        >>> convert_weights(b"", {})  # no Keras 1 weights to rewrite: the bytes are returned as they were
        b''
    """
    classes: dict[str, str] = {}  # layer name -> the class whose weights it stores (a wrapper's: its layer's)
    for lc in _layers(config):
        cls, cfg = str(lc.get("class_name")), lc.get("config") if isinstance(lc.get("config"), dict) else {}
        if cls in _WRAPPERS and isinstance(cfg.get("layer"), dict):
            cls = f"{cls}:{cfg['layer'].get('class_name')}"
        classes[str(cfg.get("name", lc.get("name")))] = cls
    if not any(cls.rsplit(":", 1)[-1] in ("LSTM", "GRU", *_CLASSES) for cls in classes.values()):
        return data
    import h5py
    import numpy as np

    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as f:
        backend = _text(f.attrs.get("backend"))
        group = f["model_weights"] if "model_weights" in f else f
        for name in [_text(n) for n in group.attrs.get("layer_names", [])]:
            wrapper, _, cls = classes.get(name, "").rpartition(":")
            if not cls or name not in group:
                continue
            layer_group = group[name]
            names = [_text(n) for n in layer_group.attrs.get("weight_names", [])]
            if not names:
                continue
            arrays = [np.asarray(layer_group[n]) for n in names]
            per_layer = 3 * len(_GATES.get(cls, ""))
            if cls in _GATES and len(arrays) == per_layer:
                arrays = _pack_gates(cls, names, arrays)
                new_names = [f"{name}/{w}" for w in ("kernel", "recurrent_kernel", "bias")]
            elif cls in _GATES and wrapper == "Bidirectional" and len(arrays) == 2 * per_layer:
                # Keras 1 stored the forward layer's weights, then the backward one's, each per gate
                arrays = _pack_gates(cls, names[:per_layer], arrays[:per_layer]) + \
                    _pack_gates(cls, names[per_layer:], arrays[per_layer:])
                new_names = [f"{name}/{side}/{w}" for side in ("forward", "backward")
                             for w in ("kernel", "recurrent_kernel", "bias")]
            elif cls in _CLASSES:
                arrays = _convert_kernel(cls, name, arrays, _data_format(config, name), backend)
                new_names = [f"{name}/{w}" for w in ("kernel", "bias")[:len(arrays)]]
            else:
                continue
            for n in names:
                del layer_group[n]
            for n, array in zip(new_names, arrays, strict=True):
                layer_group.create_dataset(n, data=array)
            layer_group.attrs["weight_names"] = np.array([n.encode() for n in new_names])
    return buffer.getvalue()


def _pack_gates(cls: str, names: list[str], arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Keras 1's per-gate W_g, U_g, b_g (stored gate by gate) -> Keras 3's [kernel, recurrent_kernel, bias]."""
    import numpy as np

    by_gate: dict[tuple[str, str], np.ndarray] = {}
    for position, (name, array) in enumerate(zip(names, arrays, strict=True)):
        match = re.search(r"_([WUb])_([a-z])(?::\d+)?$", name)
        if match:
            by_gate[(match.group(1), match.group(2))] = array
        else:  # unnamed: Keras 1's trainable_weights order (LSTM i, c, f, o; GRU z, r, h), W, U, b per gate
            order = "icfo" if cls == "LSTM" else "zrh"
            by_gate[("WUb"[position % 3], order[position // 3])] = array
    gates = _GATES[cls]
    return [np.concatenate([by_gate[(kind, g)] for g in gates], axis=-1) for kind in "WUb"]


def _convert_kernel(cls: str, name: str, arrays: list[np.ndarray], data_format: str | None,
                    backend: str | None) -> list[np.ndarray]:
    kernel, rest = arrays[0], arrays[1:]
    if backend not in ("theano", "tensorflow"):
        raise ModelLoadError(
            f"Keras 1 convolution {name!r}: the file does not record which backend trained it, and Theano stored "
            "kernels flipped relative to TensorFlow — converting it blindly could compute wrong numbers.",
            received=f"backend attribute {backend!r}, kernel shape {kernel.shape}",
            fix="Load the file in Keras 1 or 2 with the backend that trained it and re-save it as .keras.")
    if cls in ("Convolution2D", "AtrousConvolution2D") and data_format == "channels_first":
        kernel = kernel.transpose(2, 3, 1, 0)  # (filters, channels, rows, cols) -> (rows, cols, channels, filters)
    if cls == "Convolution1D" and kernel.ndim == 4:
        kernel = kernel[:, 0]  # Keras 1 ran a Conv1D as a Conv2D of width 1: (length, 1, channels, filters)
    if backend == "theano":
        spatial = kernel.ndim - 2
        kernel = kernel[(slice(None, None, -1),) * spatial].copy()
    return [kernel, *rest]


def _data_format(config: dict, name: str) -> str | None:
    for layer in _layers(config):
        cfg = layer.get("config", {})
        if cfg.get("name") == name:
            inner = cfg.get("layer", {}).get("config", {}) if isinstance(cfg.get("layer"), dict) else {}
            ordering = cfg.get("dim_ordering", inner.get("dim_ordering"))  # a wrapper's: its layer's
            return _DATA_FORMATS.get(ordering, ordering)
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
