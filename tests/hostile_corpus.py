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


@dataclass(frozen=True)
class Case:
    path: Path
    error: str  # name of the InspectorError subclass expected from load_model
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
        z.writestr("config.json", clean_keras.read_bytes()[:0] + b'{"class_name": "Sequential", "config": {}}')
        z.writestr("model.weights.h5", b"\0" * (64 * 2**20))  # 64 MiB of zeros compress to ~64 KiB
    cases["zip bomb"] = Case(_write(folder / "bomb.keras", bomb.getvalue()), "LimitExceededError",
                             "max_uncompressed_bytes")
    return cases


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
        print(f"{name:35} {case.path.name:28} -> {case.error}")
