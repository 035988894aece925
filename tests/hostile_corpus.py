"""Generate a corpus of hostile and malformed model files.

Each case is a real file on disk with the error it must produce and a phrase
the message must contain.  Files meant to run code try to create ``MARKER``
(a path inside the corpus folder); the tests assert that it never appears.

Run as a script to write the corpus somewhere for manual poking:
``python tests/hostile_corpus.py /tmp/corpus``.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import h5py

MARKER_NAME = "PWNED"
# a file on "this machine" that hostile models try to read; its text must never reach any output
SECRET_NAME, SECRET_TEXT = "secret.txt", "TOP-SECRET-0123456789-abcdefghijklmnop"
# the limits the corpus is built for: the bombs and the oversized file exceed them, nothing else comes close
CORPUS_LIMITS = {"max_uncompressed_bytes": 16 * 2**20, "max_upload_bytes": 16 * 2**20, "max_parse_seconds": 5}
# a legacy .h5 (a spliced copy of a small model, found by tests/fuzz_worker.py seed 7) on which the HDF5 library
# loops forever, and Keras with it; kept as a file because such bytes cannot be written on purpose
HDF5_HANG = Path(__file__).with_name("data") / "hdf5_hang.h5"

CASE_NAMES = [
    "lambda bytecode (.keras)", "lambda bytecode (.h5)", "layer naming os.system", "initializer naming builtins.exec",
    "custom class from a module", "model class naming os.system", "absurd Dense units", "weights do not match",
    "deeply nested json", "empty", "truncated zip", "random bytes", "text renamed .h5", "zip without config.json",
    "invalid json", "config of the wrong shape", "hdf5 without model_config", "weights-only .weights.h5",
    "SavedModel directory", "zip bomb", "keras.utils.get_file gadget", "enable_unsafe_deserialization gadget",
    "keras.models.load_model as a function", "vocabulary read from a local path", "hdf5 dataset stored in a local file",
    "hdf5 external link to a local file", "zip with a lying size header", "zip member escaping the archive",
    "file over the size limit", "hdf5 that hangs the HDF5 library",
]


class CreatesMarker:
    """Unpickling this runs ``open(marker, 'w')``: proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickled_npy(marker: Path) -> bytes:
    """A .npy holding a pickled object whose unpickling creates ``marker``."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.array([CreatesMarker(marker)], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def terabyte_npy_header() -> bytes:
    """A valid .npy header for 2**40 float64s (8 TiB), and no data at all."""
    import numpy as np

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)})
    return buffer.getvalue()


@dataclass(frozen=True)
class Case:
    path: Path
    error: str  # name of the InspectorError subclass expected from load_model ("A|B": either)
    phrase: str  # must appear in the message (case-insensitive)
    static_ok: bool = False  # build_graph still shows the architecture


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    return path


def _tiny_keras_files(folder: Path, marker: Path) -> tuple[Path, Path, Path, Path]:
    """A clean model (.keras, .h5) and a Lambda model whose body writes the marker (.keras, .h5)."""
    import keras

    x = keras.Input((3,), name="x")
    clean = keras.Model(x, keras.layers.Dense(2, name="dense")(x), name="clean")
    clean_keras, clean_h5 = folder / "clean.keras", folder / "clean.h5"
    clean.save(clean_keras)
    clean.save(clean_h5)

    # a lambda is saved as marshalled bytecode; it runs at build time here and must never run when loading
    # (built with eval so the path is a constant inside the bytecode: Keras mangles default arguments)
    evil = eval(f"lambda t: (open({str(marker)!r}, 'w').write('code from the file ran'), t)[1]")
    y = keras.Input((3,), name="y")
    hostile = keras.Model(y, keras.layers.Lambda(evil, output_shape=(3,), name="evil")(y), name="hostile")
    lambda_keras, lambda_h5 = folder / "lambda_marker.keras", folder / "lambda_marker.h5"
    hostile.save(lambda_keras)
    hostile.save(lambda_h5)
    marker.unlink(missing_ok=True)
    return clean_keras, clean_h5, lambda_keras, lambda_h5


def _replace_config(source: Path, target: Path, edit) -> Path:
    with zipfile.ZipFile(source) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    return _zip(target, members)


def build_corpus(folder: Path) -> dict[str, Case]:
    """Write every hostile/malformed case into ``folder``; returns them by name."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / MARKER_NAME
    clean_keras, clean_h5, lambda_keras, lambda_h5 = _tiny_keras_files(folder, marker)
    cases: dict[str, Case] = {
        "lambda bytecode (.keras)": Case(lambda_keras, "UnsafeModelError", "lambda", static_ok=True),
        "lambda bytecode (.h5)": Case(lambda_h5, "UnsafeModelError", "lambda", static_ok=True),
    }

    def layer(config: dict, entry: dict) -> None:
        config["config"]["layers"].append(entry)

    cases["layer naming os.system"] = Case(_replace_config(clean_keras, folder / "os_system.keras", lambda c: layer(
        c, {"module": "os", "class_name": "system", "config": {"command": f"touch {marker}"}, "name": "sys",
            "inbound_nodes": []})), "UnsafeModelError", "os", static_ok=True)
    cases["initializer naming builtins.exec"] = Case(_replace_config(
        clean_keras, folder / "builtins_exec.keras",
        lambda c: c["config"]["layers"][1]["config"].update(kernel_initializer={
            "module": "builtins", "class_name": "exec", "config": {"source": f"open({str(marker)!r}, 'w')"},
            "registered_name": None})), "UnsafeModelError", "builtins", static_ok=True)
    # a module on sys.path whose import writes the marker: it must never be imported
    evil_module = folder / "evil_layers_module.py"
    evil_module.write_text(f"open({str(marker)!r}, 'w').write('imported')\n")
    cases["custom class from a module"] = Case(_replace_config(
        clean_keras, folder / "custom_module.keras",
        lambda c: c["config"]["layers"][1].update(module="evil_layers_module", registered_name="Evil>Dense")),
        "UnsafeModelError", "evil_layers_module", static_ok=True)
    cases["model class naming os.system"] = Case(_zip(folder / "top_os.keras", {"config.json": json.dumps(
        {"module": "os", "class_name": "system", "config": {"layers": []}}).encode()}),
        "UnsafeModelError", "os", static_ok=True)
    cases.update(_keras_gadget_cases(folder, clean_keras, marker))
    cases.update(_outside_file_cases(folder, clean_keras, clean_h5))
    cases["absurd Dense units"] = Case(_replace_config(
        clean_keras, folder / "huge_dense.keras",
        lambda c: c["config"]["layers"][1]["config"].update(units=2**34)), "LimitExceededError", "units")
    cases["weights do not match"] = Case(_replace_config(
        clean_keras, folder / "mismatch.keras",
        lambda c: c["config"]["layers"][1]["config"].update(units=5)), "ModelLoadError", "weights",
        static_ok=True)
    cases["deeply nested json"] = Case(_zip(folder / "deep.keras", {"config.json": b"[" * 100_000 + b"]" * 100_000}),
                                       "LimitExceededError", "nested")
    cases["empty"] = Case(_write(folder / "empty.keras", b""), "ModelFormatError", "empty")
    cases["truncated zip"] = Case(_write(folder / "truncated.keras", clean_keras.read_bytes()[:300]),
                                  "ModelFormatError", "damaged")
    cases["random bytes"] = Case(_write(folder / "random.h5", bytes((i * 7919) % 256 for i in range(4096))),
                                 "ModelFormatError", "not a keras model file")
    cases["text renamed .h5"] = Case(_write(folder / "notes.h5", b"just some notes\n"), "ModelFormatError", "text")
    cases["zip without config.json"] = Case(_zip(folder / "noconfig.keras", {"model.weights.h5": b"\0" * 64}),
                                            "ModelFormatError", "config.json")
    cases["invalid json"] = Case(_zip(folder / "badjson.keras", {"config.json": b'{"class_name": '}),
                                 "ModelFormatError", "json")
    cases["config of the wrong shape"] = Case(_zip(folder / "wrongshape.keras", {"config.json": b'{"a": [1]}'}),
                                              "ModelFormatError", "wrong shape")
    cases["hdf5 without model_config"] = Case(_h5(folder / "plain.h5", {"creator": "not keras"}),
                                              "ModelFormatError", "model_config")
    weights_only = folder / "model.weights.h5"
    _save_weights(clean_keras, weights_only)
    cases["weights-only .weights.h5"] = Case(weights_only, "WeightsOnlyError", "only weights")
    saved_model = folder / "saved_model_dir"
    saved_model.mkdir(exist_ok=True)
    (saved_model / "saved_model.pb").write_bytes(b"\x08\x01")
    cases["SavedModel directory"] = Case(saved_model, "SavedModelError", "TFSMLayer")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", b'{"class_name": "Sequential", "config": {}}')
        z.writestr("model.weights.h5", b"\0" * (64 * 2**20))  # 64 MiB of zeros compress to ~64 KiB
    cases["zip bomb"] = Case(_write(folder / "bomb.keras", bomb.getvalue()), "LimitExceededError",
                             "max_uncompressed_bytes")
    lying = bytearray(_zip(folder / "lying.keras", {"config.json": b'{"class_name": "Sequential", "config": {}}'
                                                                   + b" " * (17 * 2**20)}).read_bytes())
    # both size fields claim 100 bytes: Python's zipfile stops inflating there, so the lie shows up as damage
    for header, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = lying.find(header) + offset
        lying[at:at + 4] = (100).to_bytes(4, "little")
    cases["zip with a lying size header"] = Case(_write(folder / "lying.keras", bytes(lying)),
                                                  "ModelFormatError", "damaged")
    with zipfile.ZipFile(clean_keras) as z:
        members = {n: z.read(n) for n in z.namelist()}
    cases["zip member escaping the archive"] = Case(_zip(folder / "slip.keras", {
        **members, f"assets/../../{MARKER_NAME}": b"written outside the archive"}), "ModelFormatError", "outside")
    cases["hdf5 that hangs the HDF5 library"] = Case(  # should HDF5 ever fix the loop: a damaged file
        _write(folder / "hang.h5", HDF5_HANG.read_bytes()), "LimitExceededError|ModelFormatError", "HDF5")
    cases["file over the size limit"] = Case(_write(folder / "huge.h5", clean_h5.read_bytes() + b"\0" * (17 * 2**20)),
                                             "LimitExceededError", "max_upload_bytes")
    return cases


def _keras_gadget_cases(folder: Path, clean_keras: Path, marker: Path) -> dict[str, Case]:
    """Configs naming Keras's own non-model functions, as in the safe_mode bypasses CVE-2025-8747 and -9906."""
    def dense_layer(config: dict) -> dict:
        return config["config"]["layers"][1]

    def get_file(config: dict) -> None:  # would copy the secret to the marker path
        dense_layer(config).update(module="keras.utils", class_name="get_file", registered_name=None, config={
            "fname": MARKER_NAME, "origin": (folder / SECRET_NAME).as_uri(), "cache_dir": str(folder),
            "cache_subdir": "."})

    def unsafe_switch(config: dict) -> None:  # would turn Keras's safe mode off for every later load
        dense_layer(config)["config"]["kernel_initializer"] = {
            "module": "keras.config", "class_name": "enable_unsafe_deserialization", "config": {},
            "registered_name": None}

    def load_model_activation(config: dict) -> None:  # a function that loads another file with safe_mode off
        dense_layer(config)["config"]["activation"] = {
            "module": "keras.models", "class_name": "function", "config": "load_model", "registered_name": "function"}

    return {
        "keras.utils.get_file gadget": Case(_replace_config(clean_keras, folder / "get_file.keras", get_file),
                                            "UnsafeModelError", "keras.utils.get_file", static_ok=True),
        "enable_unsafe_deserialization gadget": Case(
            _replace_config(clean_keras, folder / "unsafe_switch.keras", unsafe_switch), "UnsafeModelError",
            "keras.config.enable_unsafe_deserialization", static_ok=True),
        "keras.models.load_model as a function": Case(
            _replace_config(clean_keras, folder / "load_model_fn.keras", load_model_activation), "UnsafeModelError",
            "keras.models.load_model", static_ok=True),
    }


def _outside_file_cases(folder: Path, clean_keras: Path, clean_h5: Path) -> dict[str, Case]:
    """Files that make Keras read another file of this machine: a vocabulary path, HDF5 external data and links."""
    import keras
    import numpy as np

    secret = folder / SECRET_NAME
    secret.write_text(SECRET_TEXT[:24])  # 24 bytes: exactly the 3x2 float32 kernel below
    words = keras.Input((1,), dtype="string", name="words")
    lookup = keras.Model(words, keras.layers.StringLookup(vocabulary=["a", "b"], name="lookup")(words), name="lookup")
    lookup.save(folder / "lookup.keras")
    vocabulary = _replace_config(folder / "lookup.keras", folder / "vocabulary_path.keras",
                                 lambda c: c["config"]["layers"][1]["config"].update(vocabulary=str(secret)))

    external_h5 = folder / "external_data.h5"
    external_h5.write_bytes(clean_h5.read_bytes())
    with h5py.File(external_h5, "a") as f:
        group = f["model_weights/dense/dense"]
        kernel = next(k for k in group if "kernel" in k)
        del group[kernel]
        group.create_dataset(kernel, shape=(3, 2), dtype="<f4", external=[(str(secret), 0, 24)])

    with h5py.File(folder / "other.h5", "w") as f:
        f.create_dataset("kernel", data=np.frombuffer(secret.read_bytes(), "<f4").reshape(3, 2))
    with zipfile.ZipFile(clean_keras) as z:
        members = {n: z.read(n) for n in z.namelist()}
    weights = folder / "linked.weights.h5"
    weights.write_bytes(members["model.weights.h5"])
    with h5py.File(weights, "a") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink(str(folder / "other.h5"), "kernel")
    linked = _zip(folder / "external_link.keras", {**members, "model.weights.h5": weights.read_bytes()})
    return {
        "vocabulary read from a local path": Case(vocabulary, "UnsafeModelError", "vocabulary", static_ok=True),
        "hdf5 dataset stored in a local file": Case(external_h5, "UnsafeModelError", SECRET_NAME, static_ok=True),
        "hdf5 external link to a local file": Case(linked, "UnsafeModelError", "other.h5", static_ok=True),
    }


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _h5(path: Path, attrs: dict) -> Path:
    with h5py.File(path, "w") as f:
        for k, v in attrs.items():
            f.attrs[k] = v
        f.create_dataset("data", data=[1, 2, 3])
    return path


def _save_weights(model_path: Path, target: Path) -> None:
    import keras

    keras.saving.load_model(model_path).save_weights(target)


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus")
    for name, case in build_corpus(out).items():
        print(f"{name:40} {case.path.name:24} -> {case.error}")
