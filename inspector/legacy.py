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

import copy
from typing import Any

__all__ = ["normalize_config"]

_DROP_KEYS = {
    # Keras 3 rejects these arguments, which tf.keras 2 wrote with their default values
    "DepthwiseConv2D": ("groups",),
    "LSTM": ("time_major",),
    "GRU": ("time_major",),
    "SimpleRNN": ("time_major",),
}
_DEFAULTS = {"groups": 1, "time_major": False}


def normalize_config(config: dict) -> tuple[dict, list[str]]:
    """Rewrite a model config for Keras 3; returns the new config and a note per change."""
    fixed = copy.deepcopy(config)
    notes: list[str] = []
    _fix_model(fixed, notes)
    return fixed, notes


def _fix_model(model: dict, notes: list[str]) -> None:
    inner = model.get("config")
    if model.get("class_name") == "Sequential" and isinstance(inner, list):
        # Keras <= 2.1 stored a Sequential as a bare list of layers
        inner = model["config"] = {"name": "sequential", "layers": inner}
        notes.append("Converted a Keras 2.0/2.1 Sequential config (a bare layer list) to the current form.")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        return
    layers = inner["layers"]
    if model.get("class_name") == "Sequential" and layers and isinstance(layers[0], dict) \
            and layers[0].get("class_name") != "InputLayer":
        _add_sequential_input(inner, layers, notes)
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        cfg = layer.get("config")
        if not isinstance(cfg, dict):
            continue
        for key in _DROP_KEYS.get(str(layer.get("class_name")), ()):
            if key in cfg and cfg[key] in (_DEFAULTS[key], None):
                del cfg[key]
                notes.append(f"Dropped {key}={_DEFAULTS[key]!r} from {layer.get('class_name')} {cfg.get('name')!r} "
                             "(tf.keras 2 wrote it; Keras 3 rejects it).")
        if layer.get("class_name") != "InputLayer" and cfg.pop("batch_input_shape", None) is not None:
            notes.append(f"Dropped batch_input_shape from {cfg.get('name')!r}: the model's InputLayer already "
                         "declares it (Keras 3 rejects it on other layers).")
        if layer.get("class_name") == "BatchNormalization" and isinstance(cfg.get("axis"), list) \
                and len(cfg["axis"]) == 1:
            cfg["axis"] = cfg["axis"][0]
            notes.append(f"Turned BatchNormalization {cfg.get('name')!r} axis=[{cfg['axis']}] into {cfg['axis']} "
                         "(tf.keras 2 wrote a list; Keras 3 wants an integer).")
        if layer.get("class_name") in ("Sequential", "Functional", "Model"):
            _unwrap_single_endpoints(layer, notes)
            _fix_model(layer, notes)


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
