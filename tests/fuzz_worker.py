"""Fuzz worker: mutate valid model files and feed them to the loader, one JSON line per case.

Run by tests/test_fuzz.py in a subprocess, so a hard crash (a segfault in a C
library) is caught by the parent and pinned to the case that caused it.
Usage: ``python tests/fuzz_worker.py SEED COUNT TIMEOUT FILE...``.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import sys
import traceback
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from hostile_corpus import BOUNDED_FAMILIES, bounded_file  # noqa: E402

import inspector  # noqa: E402

_VALUES = [None, -1, 0, 2**40, 1.5, "", "x" * 300, [], {}, [None], {"class_name": "Dense"}, True, "keras.layers"]


class Hang(Exception):
    pass


def _on_alarm(signum, frame):
    raise Hang()


# references that make Keras call code: each family below hides one somewhere Keras will deserialize it
_CODE_REFERENCES = [
    {"module": "keras.utils", "class_name": "function", "config": "plot_model", "registered_name": "function"},
    {"module": "keras.applications.mobilenet", "class_name": "MobileNet", "config": {}, "registered_name": None},
    {"module": "keras.src.ops.core", "class_name": "WhileLoop", "config": {"name": "loop"}},
    {"module": "keras.src.ops.core", "class_name": "VectorizedMap", "config": {"name": "map"}},
    {"module": "keras", "class_name": "function", "config": "Input", "registered_name": "function"},
    {"module": "keras.layers", "class_name": "deserialize", "config": {}},
    {"module": "keras.layers", "class_name": "Lambda", "config": {"function": {"class_name": "__lambda__",
                                                                             "config": {"value": "AAAA"}}}},
    {"module": "keras.tree", "class_name": "function", "config": "map_structure", "registered_name": "function"},
]
# structured families (issue 12), with the outcomes load_model must give them
FAMILIES = {"nonfinite": {"ModelFormatError"}, "encoding": {"ModelFormatError"},
            # code may also break the config's shape first: refused before Keras sees it all the same
            "decoy": {"UnsafeModelError", "ModelFormatError"}, "hidden": {"UnsafeModelError", "ModelFormatError"},
            "code": {"UnsafeModelError", "ModelFormatError"},
            "npz": {"ModelLoadError"},
            # sizes and structures that cost memory or time (issue 25): each refused before anything is built
            **{f"bounded {family}": set(error.split("|")) for family, (error, _) in BOUNDED_FAMILIES.items()}}
_METADATA_ONLY = b""  # a .keras holding only metadata.json, for the bounded families of an .h5 original (main)


def mutate(data: bytes, rng: random.Random, others: list[bytes]) -> tuple[str, bytes]:
    kind = rng.choice(["bytes", "bytes", "bytes", "config", "config", "config", "weights", "family", "family"])
    if kind == "config":
        return kind, _mutate_config(data, rng)
    if kind == "family":
        family = rng.choice([f for f in FAMILIES if f != "npz" or data[:2] == b"PK"])
        return f"family-{family}", _family(family, data, rng)
    if kind == "weights" and data[:2] == b"PK":
        # the HDF5 weights inside a .keras, re-zipped so the zip's checksums are valid and HDF5 parses them
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = {n: z.read(n) for n in z.namelist()}
        how, members["model.weights.h5"] = _mutate_bytes(members["model.weights.h5"], rng, others)
        return f"weights-{how}", _zip(members)
    return _mutate_bytes(data, rng, others)


def _mutate_bytes(data: bytes, rng: random.Random, others: list[bytes]) -> tuple[str, bytes]:
    kind = rng.choice(["bitflip", "truncate", "splice"])
    buf = bytearray(data)
    if kind == "bitflip":
        for _ in range(rng.randint(1, 12)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        return kind, bytes(buf)
    if kind == "truncate":
        return kind, bytes(buf[: rng.randrange(len(buf))])
    other = rng.choice(others)
    start, length = rng.randrange(len(buf)), rng.randint(1, 4096)
    src = rng.randrange(len(other))
    buf[start:start + length] = other[src:src + length]
    return kind, bytes(buf)


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, payload in members.items():
            z.writestr(name, payload)
    return out.getvalue()


def _family(family: str, data: bytes, rng: random.Random) -> bytes:
    """One structured mutation of a family in FAMILIES."""
    if family.startswith("bounded "):
        return bounded_file(family.removeprefix("bounded "), data if data[:2] == b"PK" else _METADATA_ONLY, rng)
    if family == "npz":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = {n: z.read(n) for n in z.namelist() if n != "model.weights.h5"}
        import numpy as np

        npz = io.BytesIO()
        np.savez_compressed(npz, **{"layers/dense": np.zeros(rng.choice([1, 2**10, 2**22]), "float32")})
        return _zip({**members, "model.weights.npz": npz.getvalue()})

    def edit(text) -> bytes:
        config = json.loads(text)
        # Keras drops the top level's compile_config when loading with compile=False (tests/test_scan.py)
        compile_config = config.pop("compile_config", None)
        holders = _dicts(config)
        target = rng.choice(holders)
        reference = json.loads(json.dumps(rng.choice(_CODE_REFERENCES)))
        if family == "nonfinite":
            numbers = [(d, k) for d in holders for k, v in d.items() if isinstance(v, (int, float))
                       and not isinstance(v, bool)] or [(target, "units")]
            d, k = rng.choice(numbers)
            d[k] = rng.choice([float("inf"), float("-inf"), float("nan")])
        elif family == "decoy":  # the real layers hold the code, a benign list beside them does not
            config["layers"] = [{"class_name": "Dense", "config": {"name": "decoy", "units": 1}}]
            target[rng.choice(["extra", "kernel_initializer", "kwargs"])] = reference
        elif family == "hidden":
            target["layers"] = [{"module": "keras", "class_name": "Functional", "config": {
                "name": "hidden", "layers": [{**reference, "name": "r", "inbound_nodes": []}]}}]
        elif family == "code":
            target[rng.choice(["extra", "activation", "kernel_initializer", "args"])] = reference
        config["compile_config"] = compile_config
        encoded = json.dumps(config)
        if family == "encoding":
            return encoded.encode(rng.choice(["utf-16", "utf-32", "utf-8-sig", "utf-16-le"]))
        return encoded.encode()

    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = {n: z.read(n) for n in z.namelist()}
        members["config.json"] = edit(members["config.json"])
        return _zip(members)
    import h5py
    import numpy as np

    buf = io.BytesIO(data)
    with h5py.File(buf, "r+") as f:
        text = edit(f.attrs["model_config"])
        # bytes that are not UTF-8 must be stored as raw bytes, as a hostile writer would
        f.attrs["model_config"] = np.void(text) if family == "encoding" else text
    return buf.getvalue()


def _dicts(obj) -> list[dict]:
    found, stack = [], [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _mutate_config(data: bytes, rng: random.Random) -> bytes:
    """Change one value deep in the architecture config, keeping the container valid."""
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = {n: z.read(n) for n in z.namelist()}
        members["config.json"] = _mutate_json(members["config.json"], rng)
        return _zip(members)
    import h5py

    buf = io.BytesIO(data)
    with h5py.File(buf, "r+") as f:
        f.attrs["model_config"] = _mutate_json(f.attrs["model_config"], rng)
    return buf.getvalue()


def _mutate_json(text, rng: random.Random) -> bytes:
    config = json.loads(text)
    slots = []

    def collect(obj):
        items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
        for key, value in items:
            slots.append((obj, key))
            collect(value)

    collect(config)
    for _ in range(rng.randint(1, 3)):
        if not slots:
            break
        obj, key = rng.choice(slots)
        if isinstance(obj, dict) and rng.random() < 0.3:
            obj.pop(key, None)
        else:
            obj[key] = rng.choice(_VALUES)
    return json.dumps(config).encode()


def main() -> None:
    seed, count, timeout = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    originals = [open(p, "rb").read() for p in sys.argv[4:]]
    global _METADATA_ONLY
    with zipfile.ZipFile(io.BytesIO(next(o for o in originals if o[:2] == b"PK"))) as z:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as metadata:
            metadata.writestr("metadata.json", z.read("metadata.json"))
    _METADATA_ONLY = out.getvalue()
    rng = random.Random(seed)
    # a hang inside HDF5 must surface as the library's own time limit, well inside the per-case alarm
    inspector.set_limits(max_parse_seconds=max(1, timeout // 3))
    signal.signal(signal.SIGALRM, _on_alarm)
    for case in range(count):
        base = rng.randrange(len(originals))
        kind, data = mutate(originals[base], rng, originals)
        print(json.dumps({"case": case, "start": True, "kind": kind, "base": base}), flush=True)
        outcome = "ok"
        signal.alarm(timeout)
        try:
            try:
                inspector.load_model(data)
            except (inspector.UnsafeModelError, inspector.ModelLoadError) as e:
                outcome = type(e).__name__
                inspector.build_graph(data)  # the static view must survive whatever loading refused
        except inspector.InspectorError as e:
            outcome = type(e).__name__
        except Hang:
            outcome = "HANG"
        except BaseException as e:  # noqa: BLE001 - the point is to report anything else
            where = traceback.extract_tb(e.__traceback__)[-3:]
            outcome = f"ESCAPED {type(e).__name__}: {str(e)[:300]} at " + " <- ".join(
                f"{Path(f.filename).name}:{f.lineno}" for f in reversed(where))
        finally:
            signal.alarm(0)
        print(json.dumps({"case": case, "kind": kind, "base": base, "outcome": outcome}), flush=True)


if __name__ == "__main__":
    main()
