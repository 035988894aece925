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
import random
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
    # ways past the scanner found in review (issue 12): each a class of its own
    "decoy layers beside the config (.keras)", "decoy layers beside the config (.h5)",
    "functional hidden in call kwargs (.keras)", "functional hidden in call kwargs (.h5)",
    "keras function where a layer belongs", "operation that calls a function it is given",
    "function naming a non-model keras function", "nested compile_config naming a keras function",
    "string naming a keras.layers function (.h5)", "module that is not loaded",
    "infinite units (.keras)", "huge number in batch_shape (.h5)", "NaN in a layer config",
    "config.json in UTF-16", "config.json with a BOM", "deep list inside the config", "npz weights",
    # sizes and structures that cost memory or time without storing anything (issue 25): one per family
    *(f"bounded: {family}" for family in ("input shape", "build_config shape", "kernel_size", "numpy sub-array dtype",
                                          "vocabulary asset", "vocabulary list", "nested calls", "lone surrogate",
                                          "combined")),
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
    cases.update(_scan_evasion_cases(folder, clean_keras, clean_h5, lambda_keras, lambda_h5))
    cases.update(_malformed_number_cases(folder, clean_keras, clean_h5))
    cases.update(_outside_file_cases(folder, clean_keras, clean_h5))
    cases["absurd Dense units"] = Case(_replace_config(
        clean_keras, folder / "huge_dense.keras",
        lambda c: c["config"]["layers"][1]["config"].update(units=2**34)), "LimitExceededError", "units", static_ok=True)
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
    clean = clean_keras.read_bytes()
    for family, (error, phrase) in BOUNDED_FAMILIES.items():
        path = _write(folder / f"bounded_{family.replace(' ', '_')}.keras", bounded_file(family, clean, random.Random(0)))
        cases[f"bounded: {family}"] = Case(path, error, phrase, static_ok=error != "ModelFormatError")
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


def _scan_evasion_cases(folder: Path, clean_keras: Path, clean_h5: Path, lambda_keras: Path,
                        lambda_h5: Path) -> dict[str, Case]:
    """Configs that put what Keras builds where a scanner might not look, or name code that looks like a model part."""
    secret = folder / SECRET_NAME

    def decoy(config: dict) -> None:  # Keras builds config["config"]["layers"]; a scanner reading this sees nothing
        config["layers"] = [{"class_name": "Dense", "name": "decoy", "config": {"name": "decoy", "units": 1}}]

    mobilenet = {"module": "keras.applications.mobilenet", "class_name": "MobileNet", "registered_name": None,
                 "name": "mobilenet", "config": {"name": "mobilenet"},
                 "inbound_nodes": [{"args": [], "kwargs": {"weights": str(secret), "include_top": False}}]}

    def hidden(config: dict) -> None:  # a whole Functional, built by Keras while it deserializes the call's kwargs
        dense = config["config"]["layers"][1]
        dense["inbound_nodes"][0]["kwargs"]["layers"] = [{
            "module": "keras", "class_name": "Functional", "registered_name": "Functional",
            "config": {"name": "hidden", "layers": [mobilenet], "input_layers": [], "output_layers": []}}]

    def function_as_layer(config: dict) -> None:
        config["config"]["layers"].append(mobilenet)

    def switch(config: dict) -> None:  # Switch calls its branches while the model is built
        branch = {"module": "keras.utils", "class_name": "function", "config": "plot_model",
                  "registered_name": "function"}
        config["config"]["layers"].append({
            "module": "keras.src.ops.core", "class_name": "Switch", "registered_name": None, "name": "switch",
            "config": {"name": "switch"}, "inbound_nodes": [{"args": [0, [branch], str(folder / MARKER_NAME)],
                                                             "kwargs": {}}]})

    def tree_function(config: dict) -> None:  # keras.tree is Keras, but not a model part
        config["config"]["layers"][1]["config"]["activation"] = {
            "module": "keras.tree", "class_name": "function", "config": "map_structure", "registered_name": "function"}

    def nested_compile(config: dict) -> None:  # Keras compiles a nested model from its own compile_config
        inner = json.loads(json.dumps(config))
        inner["compile_config"] = {"loss": {"module": "keras.utils", "class_name": "function", "config": "get_file",
                                            "registered_name": "function"}, "optimizer": "sgd"}
        inner["name"] = "inner"
        inner["inbound_nodes"] = [{"args": [{"class_name": "__keras_tensor__", "config": {
            "shape": [None, 3], "dtype": "float32", "keras_history": ["x", 0, 0]}}], "kwargs": {}}]
        config["config"]["layers"].append(inner)

    def legacy_string(config: dict) -> None:  # the legacy loader turns this string into keras.layers.deserialize
        dense = config["config"]["layers"][1]
        dense.pop("module", None)
        dense["config"]["activation"] = "deserialize"

    def unloaded_module(config: dict) -> None:  # Keras would import it (a Keras module, but not loaded by us)
        config["config"]["layers"][1].update(
            module="keras.src.layers.preprocessing.image_preprocessing.bounding_boxes.formats", class_name="XYXY")

    return {
        "decoy layers beside the config (.keras)": Case(
            _replace_config(lambda_keras, folder / "decoy.keras", decoy), "UnsafeModelError", "lambda", True),
        "decoy layers beside the config (.h5)": Case(
            _replace_h5_config(lambda_h5, folder / "decoy.h5", decoy), "UnsafeModelError", "lambda", True),
        "functional hidden in call kwargs (.keras)": Case(
            _replace_config(clean_keras, folder / "hidden.keras", hidden), "UnsafeModelError", "function", True),
        "functional hidden in call kwargs (.h5)": Case(
            _replace_h5_config(clean_h5, folder / "hidden.h5", hidden), "UnsafeModelError", "function", True),
        "keras function where a layer belongs": Case(
            _replace_config(clean_keras, folder / "function_layer.keras", function_as_layer), "UnsafeModelError",
            "MobileNet is a function", True),
        "operation that calls a function it is given": Case(
            _replace_config(clean_keras, folder / "switch.keras", switch), "UnsafeModelError", "Switch", True),
        "function naming a non-model keras function": Case(
            _replace_config(clean_keras, folder / "tree.keras", tree_function), "UnsafeModelError",
            "keras.tree.map_structure", True),
        "nested compile_config naming a keras function": Case(
            _replace_config(clean_keras, folder / "nested_compile.keras", nested_compile), "UnsafeModelError",
            "get_file", True),
        "string naming a keras.layers function (.h5)": Case(
            _replace_h5_config(clean_h5, folder / "legacy_string.h5", legacy_string), "UnsafeModelError",
            "keras.layers.deserialize", True),
        "module that is not loaded": Case(
            _replace_config(clean_keras, folder / "unloaded.keras", unloaded_module), "UnsafeModelError",
            "not loaded", True),
    }


def _malformed_number_cases(folder: Path, clean_keras: Path, clean_h5: Path) -> dict[str, Case]:
    """Numbers and encodings that Python's json accepts and no Keras model holds."""
    with zipfile.ZipFile(clean_keras) as z:
        members = {n: z.read(n) for n in z.namelist()}
    text = members["config.json"].decode()
    config = json.loads(text)

    def with_text(name: str, payload: bytes) -> Path:
        return _zip(folder / name, {**members, "config.json": payload})

    infinite = text.replace('"units": 2', '"units": Infinity')
    nan = text.replace('"units": 2', '"units": 2, "epsilon": NaN')
    deep = json.loads(text)
    deep["config"]["layers"][1]["config"]["extra"] = json.loads("[" * 500 + "]" * 500)
    h5 = folder / "huge_number.h5"
    h5.write_bytes(clean_h5.read_bytes())
    with h5py.File(h5, "a") as f:
        raw = f.attrs["model_config"]
        raw = raw.decode() if isinstance(raw, bytes) else raw
        f.attrs["model_config"] = raw.replace('"batch_shape": [null, 3]', '"batch_shape": [null, 1e999]')
    import numpy as np

    npz = io.BytesIO()  # a numeric array that Keras would expand with .tolist(): 16 M zeros in a few KiB
    np.savez_compressed(npz, **{"layers/dense": np.zeros(2**24, "float32")})
    npz_members = {n: p for n, p in members.items() if n != "model.weights.h5"}
    return {
        "infinite units (.keras)": Case(with_text("infinite.keras", infinite.encode()), "ModelFormatError", "finite"),
        "huge number in batch_shape (.h5)": Case(h5, "ModelFormatError", "1e999"),
        "NaN in a layer config": Case(with_text("nan.keras", nan.encode()), "ModelFormatError", "NaN"),
        "config.json in UTF-16": Case(with_text("utf16.keras", json.dumps(config).encode("utf-16")),
                                      "ModelFormatError", "UTF-8"),
        "config.json with a BOM": Case(with_text("bom.keras", b"\xef\xbb\xbf" + text.encode()), "ModelFormatError",
                                       "UTF-8"),
        "deep list inside the config": Case(with_text("deep_list.keras", json.dumps(deep).encode()),
                                            "LimitExceededError", "max_config_depth"),
        "npz weights": Case(_zip(folder / "npz.keras", {**npz_members, "model.weights.npz": npz.getvalue()}),
                            "ModelLoadError", "model.weights.npz", static_ok=True),
    }


# --------------------------------------------------------------------------- bounded by construction (issue 25)
# each family: a file of a few kilobytes that would make Keras (or the static view) take gigabytes or minutes;
# what load_model must answer, and a phrase of the message.  The static view of each still works (no weights).
BOUNDED_FAMILIES = {
    "input shape": ("LimitExceededError", "max_weight_bytes"),
    "build_config shape": ("LimitExceededError", "max_weight_bytes"),
    "kernel_size": ("LimitExceededError", "max_weight_bytes"),
    "numpy sub-array dtype": ("LimitExceededError", "max_weight_bytes"),
    "vocabulary asset": ("LimitExceededError", "max_weight_bytes"),
    "vocabulary list": ("LimitExceededError", "max_weight_bytes"),
    "nested calls": ("LimitExceededError", "max_graph_nodes"),
    "lone surrogate": ("ModelFormatError", "surrogate"),
    "combined": ("LimitExceededError", "max_"),
}
# families of files that open (load_model answers the model, or a static view): their drawings and text are tested
DRAWING_FAMILIES = ("dense graph", "markup names")
# names a hostile file may give its model and layers: Markdown and HTML that a browser would fetch or run
MARKUP_NAMES = ("![x](http://127.0.0.1:9/pixel.png)", "<img src='http://127.0.0.1:9/tag.png'>", "**bold** `code`")


def bounded_file(family: str, clean: bytes, rng: random.Random) -> bytes:
    """A ``.keras`` file of family ``family`` (a key of :data:`BOUNDED_FAMILIES`), its sizes drawn from ``rng``.

    ``clean``: a small valid ``.keras`` (its metadata is kept). No weights are stored: the sizes come from the
    config alone, as in the attacker's files.
    """
    with zipfile.ZipFile(io.BytesIO(clean)) as z:
        metadata = z.read("metadata.json")
    members: dict[str, bytes] = {"metadata.json": metadata}
    name = rng.choice(MARKUP_NAMES)
    big = rng.choice([2**20, 2**22, 2**24])  # an input dimension: with 1,024 units, 4 GiB to 64 GiB of kernel
    if family == "input shape":
        config = _functional([_input("x", [None, big]), _layer("Dense", name, {"units": 1024}, ["x"])], name)
    elif family == "build_config shape":
        dense = _layer("Dense", "d", {"units": 1024}, ["x"], build_shape=[None, big])
        config = _functional([_input("x", [None, 4]), dense], name)
    elif family == "kernel_size":
        side = rng.choice([2**12, 2**13])
        conv = _layer("Conv2D", "c", {"filters": 64, "kernel_size": [side, side]}, ["x"])
        config = _functional([_input("x", [None, side, side, 3]), conv], name)
    elif family == "numpy sub-array dtype":
        value = {"class_name": "__numpy__", "config": {"value": [0.0] * rng.randint(16, 64),
                                                      "dtype": f"({rng.choice([2**24, 2**27])},)f8"}}
        dense = _layer("Dense", "d", {"units": 2}, ["x"])
        dense["inbound_nodes"][0]["kwargs"]["training"] = value
        config = _functional([_input("x", [None, 4]), dense], name)
    elif family in ("vocabulary asset", "vocabulary list"):
        lines, longest = rng.choice([2**21, 2**22]), rng.choice([2**10, 2**12])
        lookup = _layer("StringLookup", "lookup", {"vocabulary": None, "max_tokens": None}, ["w"])
        config = _functional([_input("w", [None, 1], "string"), lookup], name)
        if family == "vocabulary asset":
            members["assets/layers/string_lookup/vocabulary.txt"] = b"\n" * lines + b"x" * longest
        else:
            lookup["config"]["vocabulary"] = [""] * (lines // 8) + ["x" * longest]
    elif family == "nested calls":
        config = _nested_calls(levels=rng.choice([6, 7, 8]), calls=rng.choice([6, 8]), name=name)
    elif family == "lone surrogate":
        config = _functional([_input("x", [None, 4]), _layer("Dense", "d\ud800" + name, {"units": 2}, ["x"])], name)
    elif family == "dense graph":  # each layer joined to every earlier one: hard for Graphviz to lay out
        layers = [_input("x", [None, 4]), _layer("Dense", "d0", {"units": 2}, ["x"])]
        for k in range(1, rng.choice([40, 60])):
            earlier = ["x", *(f"d{j}" for j in range(k))]
            layers.append({**_layer("Concatenate", f"c{k}", {"axis": -1}, []), "inbound_nodes": [
                {"args": [[_tensor(e) for e in earlier]], "kwargs": {}}]})
            layers.append(_layer("Dense", f"d{k}", {"units": 2}, [f"c{k}"]))
        config = _functional(layers, name)
    elif family == "markup names":  # a model that opens: its names are Markdown and HTML
        config = _functional([_input(MARKUP_NAMES[2], [None, 4]),
                              _layer("Dense", MARKUP_NAMES[1], {"units": 2}, [MARKUP_NAMES[2]])], MARKUP_NAMES[0])
    elif family == "combined":  # nested calls whose innermost level is the input-shape bomb, Markup names
        config = _nested_calls(levels=6, calls=6, name=name, inner_width=big)
    else:
        raise ValueError(f"unknown family {family!r}")
    members["config.json"] = json.dumps(config).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for member, payload in members.items():
            z.writestr(member, payload)
    return out.getvalue()


def _tensor(layer: str, call: int = 0, shape: list | None = None, dtype: str = "float32") -> dict:
    return {"class_name": "__keras_tensor__", "config": {"shape": shape, "dtype": dtype,
                                                         "keras_history": [layer, call, 0]}}


def _input(name: str, shape: list, dtype: str = "float32") -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None, "name": name,
            "config": {"batch_shape": shape, "dtype": dtype, "sparse": False, "name": name}, "inbound_nodes": []}


def _layer(cls: str, name: str, config: dict, inputs: list, build_shape: list | None = None) -> dict:
    calls = [{"args": [_tensor(*i) if isinstance(i, tuple) else _tensor(i)], "kwargs": {}} for i in inputs]
    out = {"module": "keras.layers", "class_name": cls, "registered_name": None, "name": name,
           "config": {"name": name, "trainable": True, "dtype": "float32", **config}, "inbound_nodes": calls}
    if build_shape is not None:
        out["build_config"] = {"input_shape": build_shape}
    return out


def _functional(layers: list[dict], name: str, output: tuple[str, int] | None = None) -> dict:
    last = output or (layers[-1]["name"], len(layers[-1]["inbound_nodes"]) - 1 if layers[-1]["inbound_nodes"] else 0)
    return {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": "Functional",
            "config": {"name": name, "trainable": True, "layers": layers, "input_layers": [layers[0]["name"], 0, 0],
                       "output_layers": [last[0], last[1], 0]}}


def _nested_calls(levels: int, calls: int, name: str, inner_width: int = 4) -> dict:
    """Each level calls the level below ``calls`` times in a row: ``calls ** levels`` layer calls once expanded."""
    model = _functional([_input("x0", [None, inner_width]), _layer("Dense", "d0", {"units": 4}, ["x0"])], "level0")
    for level in range(1, levels + 1):
        below = {**model, "name": f"level{level - 1}", "inbound_nodes": [
            {"args": [_tensor(f"x{level}") if k == 0 else _tensor(f"level{level - 1}", k - 1)], "kwargs": {}}
            for k in range(calls)]}
        model = _functional([_input(f"x{level}", [None, inner_width]), below],
                            name if level == levels else f"level{level}", output=(f"level{level - 1}", calls - 1))
    return model


def _replace_h5_config(source: Path, target: Path, edit) -> Path:
    target.write_bytes(source.read_bytes())
    with h5py.File(target, "a") as f:
        raw = f.attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        edit(config)
        f.attrs["model_config"] = json.dumps(config)
    return target


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
