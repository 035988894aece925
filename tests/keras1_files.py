"""Keras 1.2 model files written with h5py, as Keras 1.2's save_model wrote them (no Keras 1 install needed)."""

from __future__ import annotations

import json

import h5py
import numpy as np


def keras1_file(path, config: dict, weights: dict[str, dict[str, np.ndarray]], backend: str = "theano") -> str:
    """Write an .h5 the way Keras 1.2's save_model did: byte-string attributes, model_weights/<layer>/<layer>_<w>."""
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"1.2.2"
        f.attrs["backend"] = backend.encode()
        f.attrs["model_config"] = json.dumps(config).encode()
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([name.encode() for name in weights])
        for layer, arrays in weights.items():
            g = group.create_group(layer)
            g.attrs["weight_names"] = np.array([f"{layer}_{w}".encode() for w in arrays])
            for w, array in arrays.items():
                g.create_dataset(f"{layer}_{w}", data=np.asarray(array, "float32"))
    return str(path)
