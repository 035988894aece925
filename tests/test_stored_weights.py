"""The parameters a file stores are counted exactly: Windows-written tf.keras 2.13–2.15 ``.keras`` weight groups
(``layers\\conv1d``) are found, and optimizer and metric state is never a parameter."""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

import inspector

WINDOWS_FILE = Path(__file__).resolve().parents[2] / "shared" / "real_models" / "AllaudinAli_ecg_cnn_model_windows.keras"


def _trained(model: keras.Model, x: np.ndarray) -> keras.Model:
    model.compile("adam", "mse", metrics=["mae"])
    model.fit(x, np.zeros((len(x), 2), "float32"), epochs=1, verbose=0)
    return model


def _as_windows_wrote_it(data: bytes) -> bytes:
    """The same .keras with model.weights.h5's groups named as tf.keras 2.13–2.15 on Windows named them: every
    path below the top level joined with a backslash into one group name (``layers\\dense``)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    weights = io.BytesIO()
    with h5py.File(io.BytesIO(source.read("model.weights.h5")), "r") as old, h5py.File(weights, "w") as new:
        def copy(name: str, item: object) -> None:
            if isinstance(item, h5py.Dataset):
                top, _, rest = name.partition("/")
                group, _, leaf = rest.rpartition("/vars/")
                target = f"{top}\\{group.replace('/', chr(92))}/vars/{leaf}" if group else name
                new.create_dataset(target, data=item[()])
        old.visititems(copy)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member in source.namelist():
            archive.writestr(member, weights.getvalue() if member == "model.weights.h5" else source.read(member))
    return out.getvalue()


def test_windows_weight_groups_are_found_with_every_parameter(tmp_path):
    """A model saved by Keras, its weight groups renamed the Windows way: the static view counts what Keras counts
    (not 0), layer by layer, nested model included."""
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="inner_dense")], name="inner")
    x = keras.Input((5,))
    h = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(4, name="first")(x))
    model = _trained(keras.Model(x, keras.layers.Dense(2, name="last")(inner(h))), np.ones((4, 5), "float32"))
    path = tmp_path / "model.keras"
    model.save(path)
    windows = _as_windows_wrote_it(path.read_bytes())
    assert b"layers\\sequential\\layers\\dense" in windows
    graph = inspector.static_graph(windows)
    assert graph.total_params == model.count_params()
    for layer in model.layers[1:]:
        assert graph.node(layer.name).params == layer.count_params(), layer.name
    assert graph.non_trainable_params == sum(math.prod(w.shape) for w in model.non_trainable_weights)


@pytest.mark.skipif(not WINDOWS_FILE.exists(), reason="../shared/real_models is absent")
def test_the_real_windows_file_counts_every_stored_layer_value_and_loads():
    """The tf.keras 2.15 file from Windows: the layers' values, summed straight from its HDF5 (its 8 metric values
    aside), are the graph's parameters, and the model loads with the file's arrays."""
    with zipfile.ZipFile(WINDOWS_FILE) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as f:
        layer_values = sum(math.prod(f[name]["vars"][n].shape) for name in f if name.startswith("layers\\")
                           for n in f[name]["vars"])
        metric_values = sum(math.prod(f[name]["vars"][n].shape) for name in f if name.startswith("metrics\\")
                            for n in f[name]["vars"])
        kernel = f["layers\\conv1d_1"]["vars"]["0"][()]
    assert layer_values + metric_values == 234_729  # MANIFEST.md
    graph = inspector.static_graph(WINDOWS_FILE)
    assert graph.total_params == layer_values == 234_721
    assert graph.node("conv1d_1").params == 3 * 512 * 128 + 128
    model = inspector.load_model(WINDOWS_FILE)  # neither tf_keras nor Keras 3 loads it (MANIFEST.md)
    assert model.count_params() == 234_721
    np.testing.assert_array_equal(model.get_layer("conv1d_1").get_weights()[0], kernel)


def test_optimizer_and_metric_state_in_a_keras_file_are_not_parameters(tmp_path):
    """A subclassed model (no layer graph: its stored weights are counted whole) trained with Adam and a metric:
    the .keras holds twice its weights again as optimizer slots, and only the weights are parameters."""

    @keras.saving.register_keras_serializable(package="test_stored_weights")
    class Twice(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.first = keras.layers.Dense(8)
            self.second = keras.layers.Dense(2)

        def call(self, x):
            return self.second(self.first(x))

    model = _trained(Twice(), np.ones((4, 3), "float32"))
    path = tmp_path / "twice.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as f:
        slots = []
        f["optimizer"].visititems(lambda n, o: slots.append(o.size) if isinstance(o, h5py.Dataset) else None)
    assert sum(slots) > 2 * model.count_params()
    assert inspector.static_graph(path).total_params == model.count_params() == 3 * 8 + 8 + 8 * 2 + 2


def test_a_windows_file_loads_and_computes_what_the_original_computes(tmp_path):
    """Beyond tf.keras and Keras 3, which both fail on such a file: the weights are copied under the names Keras
    looks for, so the model loads (untrusted) and gives the original's outputs; the graph says what was done."""
    x = keras.Input((5,))
    h = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(4, name="first")(x))
    model = _trained(keras.Model(x, keras.layers.Dense(2, name="last")(h)), np.ones((4, 5), "float32"))
    path = tmp_path / "model.keras"
    model.save(path)
    windows = tmp_path / "windows.keras"
    windows.write_bytes(_as_windows_wrote_it(path.read_bytes()))
    with pytest.raises(Exception):  # noqa: B017 - what Keras itself raises for such a file is not ours to name
        keras.saving.load_model(windows)
    loaded = inspector.load_model(windows)
    data = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0), rtol=1e-6)
    graph = inspector.build_graph(windows)
    assert any("Windows" in w for w in graph.warnings) and graph.total_params == model.count_params()
    assert any("Windows" in w for w in inspector.static_graph(windows).warnings)


def test_weights_no_layer_owns_are_a_warning_never_a_quiet_zero(tmp_path):
    """A file whose weight group names no layer of its config (here renamed by hand): the graph counts 0 for that
    layer, and says how many stored values it could not place — in the graph's warnings, the CLI's notes and the
    app's Overview (both show the graph's warnings)."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="d")])
    path = tmp_path / "model.keras"
    model.save(path)
    source = zipfile.ZipFile(path)
    weights = io.BytesIO()
    with h5py.File(io.BytesIO(source.read("model.weights.h5")), "r") as old, h5py.File(weights, "w") as new:
        def copy(name: str, item: object) -> None:  # visititems stops at the first callback returning a value
            if isinstance(item, h5py.Dataset):
                new.create_dataset(name.replace("layers/dense", "layers/mystery"), data=item[()])
        old.visititems(copy)
    renamed = io.BytesIO()
    with zipfile.ZipFile(renamed, "w") as archive:
        for member in source.namelist():
            archive.writestr(member, weights.getvalue() if member == "model.weights.h5" else source.read(member))
    graph = inspector.static_graph(renamed.getvalue())
    assert graph.total_params == 0
    assert any("stores 16 weight values" in w and "16 are stored under names no layer" in w for w in graph.warnings), \
        graph.warnings
    assert not any("weight values" in w for w in inspector.static_graph(path).warnings)
