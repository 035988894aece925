"""TensorFlow SavedModel directories (tf.keras 2's default format), read without TensorFlow and checked against
tf.keras 2 itself: the models are written by ``tf_keras`` in a process of its own, with its parameter counts and
outputs on a fixed input beside them."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import inspector
from inspector.io.files import read_model_file

REAL = Path(__file__).resolve().parents[2] / "shared" / "real_models" / "savedmodel"

needs_tf_keras = pytest.mark.skipif(importlib.util.find_spec("tf_keras") is None,
                                    reason="tf_keras (tf.keras 2, the writer of SavedModels) is not installed")
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real_models/savedmodel is absent")

# Written by tf.keras 2 in a child process: a Sequential CNN with BatchNormalization trained one step (so the
# checkpoint holds Adam's slots), a Functional model with a nested Sequential (a Dense after its BatchNormalization:
# its .h5 order, trainable first, is not its variables' order), an LSTM and a frozen layer, two stacked Bidirectional
# RNNs around an RNN of stacked cells (cells share names; a SavedModel's metadata names no module for a cell: also
# saved as tf.keras 2's .keras), and a model carrying a tf.function that writes a file when TensorFlow runs the
# SavedModel's graphs.
_WRITE = r"""
import json, os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
import tensorflow as tf
import tf_keras as k

out, target = sys.argv[1], sys.argv[2]
tf.random.set_seed(0)
rng = np.random.default_rng(0)
reference = {}

cnn = k.Sequential([k.layers.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), k.layers.BatchNormalization(),
                    k.layers.MaxPooling2D(), k.layers.Flatten(), k.layers.Dense(3, activation="softmax")])
cnn.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
x = rng.normal(size=(6, 8, 8, 1)).astype("float32")
cnn.fit(x, np.array([0, 1, 2, 0, 1, 2]), epochs=1, verbose=0)
cnn.save(f"{out}/cnn")

inner = k.Sequential([k.layers.Dense(5, activation="tanh", input_shape=(4,)), k.layers.BatchNormalization(),
                      k.layers.Dense(3)], name="inner")
a = k.Input((4,), name="a")
b = k.Input((3, 2), name="b")
frozen = k.layers.Dense(4, name="frozen")
frozen.trainable = False
h = k.layers.Concatenate()([inner(frozen(a)), k.layers.LSTM(6, name="lstm")(b)])
functional = k.Model([a, b], k.layers.Dense(2, name="out")(h), name="two_inputs")
for layer in functional.layers + inner.layers:  # moving statistics away from 0/1, so they matter
    if isinstance(layer, k.layers.BatchNormalization):
        layer.set_weights([w + rng.normal(size=w.shape).astype("float32") ** 2 for w in layer.get_weights()])
functional.save(f"{out}/functional")

recurrent = k.Sequential([k.layers.Bidirectional(k.layers.LSTM(4, return_sequences=True), input_shape=(5, 3)),
                          k.layers.RNN(k.layers.StackedRNNCells([k.layers.LSTMCell(3), k.layers.GRUCell(2)]),
                                       return_sequences=True),
                          k.layers.Bidirectional(k.layers.GRU(3)), k.layers.Dense(2)])
recurrent.save(f"{out}/recurrent")
recurrent.save(f"{out}/recurrent.keras")  # tf.keras 2's own .keras: weight groups named by Keras's snake case

augmented = k.Sequential([k.layers.RandomFlip(input_shape=(6, 6, 3)), k.layers.Conv2D(2, 3)])
augmented.save(f"{out}/augmented")  # its generator's seed state is in the checkpoint

ids = k.Input((2,), dtype="int64")
k.Model(ids, k.layers.IntegerLookup(vocabulary=[3, 5, 7], name="ids")(ids)).save(f"{out}/lookup")

evil = k.Sequential([k.layers.Dense(2, input_shape=(3,))])


@tf.function(input_signature=[])
def write_file():
    tf.io.write_file(target, "written by the graph")
    return tf.constant(1)


evil.write_file = write_file
evil.save(f"{out}/evil")

for name, model, inputs in [("cnn", cnn, [x]), ("functional", functional, [rng.normal(size=(5, 4)).astype("float32"),
                            rng.normal(size=(5, 3, 2)).astype("float32")]),
                            ("recurrent", recurrent, [rng.normal(size=(4, 5, 3)).astype("float32")]),
                            ("evil", evil, [rng.normal(size=(2, 3)).astype("float32")])]:
    np.savez(f"{out}/{name}.npz", *inputs, output=model.predict(inputs, verbose=0))
    reference[name] = {"params": model.count_params(),
                       "trainable": int(sum(np.prod(w.shape) for w in model.trainable_weights))}
json.dump(reference, open(f"{out}/reference.json", "w"))
"""


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, dict, Path]:
    """The SavedModels tf.keras 2 wrote, its reference numbers, and the file the evil graph would write."""
    if importlib.util.find_spec("tf_keras") is None:
        pytest.skip("tf_keras (tf.keras 2, the writer of SavedModels) is not installed")
    folder = tmp_path_factory.mktemp("savedmodels")
    target = folder / "written_by_the_graph.txt"
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", _WRITE, str(folder), str(target)], capture_output=True, text=True,
                          timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder, json.loads((folder / "reference.json").read_text()), target


def _zip(folder: Path, prefix: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(folder).as_posix())
    return buffer.getvalue()


@needs_tf_keras
@pytest.mark.parametrize("name", ["cnn", "functional", "recurrent"])
def test_static_view_counts_the_parameters_tf_keras_counts(written, name):
    """Directory and zip (at the top or in a folder) give tf.keras 2's counts; optimizer slots are not parameters."""
    folder, reference, _ = written
    keras_file = [folder / f"{name}.keras"] if (folder / f"{name}.keras").exists() else []
    for source in (folder / name, _zip(folder / name), _zip(folder / name, f"{name}/"), *keras_file):
        graph = inspector.static_graph(source)
        assert graph.total_params == reference[name]["params"]
        assert graph.trainable_params == reference[name]["trainable"]
    if name == "cnn":
        loaded = inspector.build_graph(folder / name)
        assert loaded.source == inspector.Source.KERAS and loaded.total_params == graph.total_params
        for shown in (graph, loaded):
            assert any("optimizer" in w and "not parameters" in w for w in shown.warnings), shown.warnings


@needs_tf_keras
@pytest.mark.parametrize("name", ["cnn", "functional", "recurrent"])
def test_loaded_savedmodel_computes_what_tf_keras_computes(written, name):
    """The config and weights rebuilt in Keras 3, untrusted, give tf.keras 2's outputs (≤ 1e-5 relative)."""
    folder, reference, _ = written
    stored = np.load(folder / f"{name}.npz")
    inputs = [stored[f"arr_{i}"] for i in range(len(stored.files) - 1)]
    model = inspector.load_model(folder / name)
    assert model.count_params() == reference[name]["params"]
    got = np.asarray(model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0))
    np.testing.assert_allclose(got, stored["output"], rtol=1e-5, atol=1e-6)


@needs_tf_keras
def test_no_graph_of_saved_model_pb_ever_runs(written):
    """A SavedModel whose graphs write a file when TensorFlow runs them is read, drawn and loaded: the file is never
    written (saved_model.pb is not even read)."""
    folder, reference, target = written
    assert b"WriteFile" in (folder / "evil" / "saved_model.pb").read_bytes(), "the graph holds the op"
    graph = inspector.static_graph(folder / "evil")
    model = inspector.load_model(folder / "evil")
    stored = np.load(folder / "evil.npz")
    np.testing.assert_allclose(model.predict(stored["arr_0"], verbose=0), stored["output"], rtol=1e-5, atol=1e-6)
    assert graph.total_params == reference["evil"]["params"]
    assert not target.exists()


def test_a_directory_without_keras_metadata_is_a_clear_error(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"\x08\x01")
    (tmp_path / "variables").mkdir()
    for source in (tmp_path, _zip(tmp_path)):
        with pytest.raises(inspector.SavedModelError, match="keras_metadata.pb") as caught:
            read_model_file(source)
        assert "TFSMLayer" in caught.value.fix
    with pytest.raises(inspector.ModelFormatError, match="directory"):
        read_model_file(tmp_path / "variables")


@needs_tf_keras
def test_a_savedmodel_over_the_limits_or_incomplete_is_refused(written):
    folder, _, _ = written
    with pytest.raises(inspector.LimitExceededError, match="max_upload_bytes"):
        read_model_file(folder / "cnn", limits=inspector.Limits(max_upload_bytes=10_000))
    with pytest.raises(inspector.LimitExceededError, match="max_uncompressed_bytes"):
        read_model_file(_zip(folder / "cnn"), limits=inspector.Limits(max_uncompressed_bytes=10_000))
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_zip(folder / "cnn"))) as whole, zipfile.ZipFile(buffer, "w") as cut:
        for member in whole.namelist():
            if not member.endswith(".index"):
                cut.writestr(member, whole.read(member))
    with pytest.raises(inspector.SavedModelError, match="variables.index"):
        read_model_file(buffer.getvalue())


@needs_real
def test_real_savedmodels_read_with_tf_keras_counts():
    """../shared/real_models: 131,530 parameters as tf_keras counts (MANIFEST.md); the Functional encoder with a
    custom layer is drawn whole; the subclassed model shows its layers, its parameters, and why it has no wiring."""
    cnn = inspector.static_graph(REAL / "mnist_cnn_bn")
    assert cnn.total_params == 131_530 and cnn.node("dense_1").output_shapes == ((None, 10),)
    encoder = inspector.static_graph(REAL / "vae_encoder_sampling")
    assert {"z_mean", "z_logvar", "sampling"} <= {n.id for n in encoder.nodes}
    assert encoder.total_params == 802 * 128 + 128 + 128 * 128 + 128 + 2 * (128 * 16 + 16)
    vae = inspector.static_graph(REAL / "betavae_subclassed")
    assert vae.total_params == 169_241 and {"encoder", "decoder", "sampling"} <= {n.id for n in vae.nodes}
    assert not vae.edges and any("subclassed" in w and "call" in w for w in vae.warnings), vae.warnings


@needs_tf_keras
def test_damaged_savedmodel_files_are_typed_errors(written):
    """Every prefix and a flipped byte of keras_metadata.pb and of the checkpoint's index: a SavedModelError (or the
    config's own ModelFormatError), never a traceback."""
    folder, _, _ = written
    with zipfile.ZipFile(io.BytesIO(_zip(folder / "functional"))) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    for damaged in ("keras_metadata.pb", "variables/variables.index"):
        original = members[damaged]
        cuts = [original[:n] for n in range(0, len(original), max(1, len(original) // 40))]
        flips = [original[:n] + bytes([original[n] ^ 0xFF]) + original[n + 1:]
                 for n in range(0, len(original), max(1, len(original) // 40))]
        for content in cuts + flips:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                for name, data in members.items():
                    archive.writestr(name, content if name == damaged else data)
            try:
                read_model_file(buffer.getvalue(), limits=inspector.Limits(max_parse_seconds=20))
            except inspector.InspectorError:
                pass


def test_a_random_layers_generator_state_is_named_as_such_and_not_counted(written):
    shown = inspector.build_graph(written[0] / "augmented")
    assert shown.total_params == 3 * 3 * 3 * 2 + 2
    assert any("random layers' generator state" in w for w in shown.warnings), shown.warnings
    assert not any("optimizer" in w for w in shown.warnings), shown.warnings


def test_a_lookup_whose_vocabulary_is_in_the_tensorflow_graph_is_named(written):
    shown = inspector.build_graph(written[0] / "lookup")
    assert any("IntegerLookup 'ids': its vocabulary" in w and ".h5 or .keras" in w for w in shown.warnings), \
        shown.warnings


def test_a_flipped_bit_in_a_weight_or_the_index_is_refused_by_its_checksum(written, tmp_path):
    """TensorFlow stores a CRC-32C of every tensor's bytes and of every index block: one bit flipped in a kernel
    is refused naming the variable (read as it is, it would be another number), and one in the index is refused as
    a damaged index; the untouched folder reads, and so does one whose flipped byte lies outside every tensor."""
    import shutil

    from inspector.io.tf_checkpoint import read_index

    folder = tmp_path / "functional"
    shutil.copytree(written[0] / "functional", folder)
    assert read_model_file(folder).weights
    index_path = folder / "variables" / "variables.index"
    entries = read_index(index_path.read_bytes())
    (data_path,) = (folder / "variables").glob("variables.data-*")
    original = data_path.read_bytes()
    kernel = next(e for key, e in sorted(entries.items()) if key.endswith("kernel/.ATTRIBUTES/VARIABLE_VALUE"))
    assert kernel.crc32c is not None
    middle = kernel.offset + kernel.size // 2
    data_path.write_bytes(original[:middle] + bytes([original[middle] ^ 0x01]) + original[middle + 1:])
    with pytest.raises(inspector.SavedModelError, match="checksum") as refused:
        read_model_file(folder)
    assert kernel.key.split("/")[0] in str(refused.value)
    data_path.write_bytes(original)

    index = index_path.read_bytes()
    index_path.write_bytes(bytes([index[0] ^ 0x01]) + index[1:])  # inside the first data block
    with pytest.raises(inspector.SavedModelError, match="checksum"):
        read_model_file(folder)


@needs_real
@needs_tf_keras
def test_a_real_savedmodel_computes_what_tf_keras_computes(tmp_path):
    """The real Sequential CNN (TF 2.10): loaded untrusted, its outputs equal tf_keras's own load of the folder."""
    script = ("import os, sys\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\nimport numpy as np\nimport tf_keras as k\n"
              "x = np.random.default_rng(0).random((4, 28, 28, 1)).astype('float32')\n"
              "model = k.models.load_model(sys.argv[1], compile=False)\n"
              "np.savez(sys.argv[2], x=x, y=model.predict(x, verbose=0), params=model.count_params())\n")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", script, str(REAL / "mnist_cnn_bn"), str(tmp_path / "ref.npz")],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    reference = np.load(tmp_path / "ref.npz")
    model = inspector.load_model(REAL / "mnist_cnn_bn")
    assert model.count_params() == int(reference["params"]) == 131_530
    np.testing.assert_allclose(model.predict(reference["x"], verbose=0), reference["y"], rtol=1e-5, atol=1e-6)


@needs_tf_keras
def test_the_cli_takes_a_savedmodel_folder_and_its_zip(written, tmp_path):
    folder, reference, _ = written
    archive = tmp_path / "cnn.zip"
    archive.write_bytes(_zip(folder / "cnn", "cnn/"))
    for source in (folder / "cnn", archive):
        done = subprocess.run([sys.executable, "-m", "inspector", "summary", str(source), "--format", "json"],
                              capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1])
        assert done.returncode == 0, done.stderr[-2000:]
        summary = json.loads(done.stdout)
        assert summary["total_params"] == reference["cnn"]["params"]
        assert any("optimizer" in w for w in summary["warnings"])
