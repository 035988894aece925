"""Benchmark for issue 6 (safe loading), side by side with plain Keras, in one run.

What safety costs when opening a model: ``inspector.load_model`` (read and validate the file,
scan the config, parse all HDF5 in the child process and read every array there once, then
Keras with ``safe_mode=True``) next to ``keras.saving.load_model(path, compile=False)`` on the
same file, for a small sample and for keras.applications models (weights=None) saved as .keras
and as legacy .h5. Also ``read_model_file`` alone (the static part: what the static view needs).

Each figure is the best of ``--repeat`` runs after one warm-up open (the HDF5 child is started
then; its start-up, ~0.2 s, is paid once per process and shown on its own row).

Run (the machine is shared):  nice -n 10 python bench/loading.py [--repeat N] [--no-write]
Prints the table and writes it under "## Safe loading" in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from _common import best_of, write_section

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HEADING = "## Safe loading"


def model_files(folder: Path) -> list[tuple[str, Path]]:
    import keras

    import inspector

    sample = inspector.get_sample("otto_mlp")
    files = [("otto_mlp sample (.keras)", sample.path), ("otto_mlp sample (.h5)", sample.h5_path)]
    for name in ("MobileNetV2", "ResNet50"):
        model = getattr(keras.applications, name)(weights=None)
        for suffix in ("keras", "h5"):
            path = folder / f"{name}.{suffix}"
            model.save(path)
            files.append((f"{name} (.{suffix}, {path.stat().st_size / 2**20:.0f} MiB)", path))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import keras

    import inspector
    from inspector.io import files, hdf5_child

    start = time.perf_counter()
    hdf5_child._HDF5._stop()
    files.read_model_file(inspector.get_sample("otto_mlp").h5_path)
    child_start = time.perf_counter() - start

    lines = ["| Model file | `keras.saving.load_model` s | ours `load_model` s | ratio | ours `read_model_file` s |",
             "|---|---:|---:|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in model_files(Path(tmp)):
            keras.saving.load_model(path, compile=False)  # warm-up: imports, first trace
            inspector.load_model(path)
            theirs = best_of(lambda p=path: keras.saving.load_model(p, compile=False), args.repeat)
            ours = best_of(lambda p=path: inspector.load_model(p), args.repeat)
            static = best_of(lambda p=path: files.read_model_file(p), args.repeat)
            lines.append(f"| {label} | {theirs:.3f} | {ours:.3f} | {ours / theirs:.2f}x | {static:.3f} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines)
    machine = (f"Measured {time.strftime('%Y-%m-%d')} with `nice -n 10 python bench/loading.py` on "
               f"{os.cpu_count()} CPU cores ({platform.machine()}, shared with other jobs; best of {args.repeat} "
               f"runs after a warm-up), Keras {keras.__version__}. Starting the HDF5 child process: "
               f"{child_start:.2f} s, once per process.")
    notes = ("What ours adds: reading and validating the file (zip and declared sizes, JSON depth), the config "
             "scan for code and outside files, parsing the HDF5 in the child process and reading every array "
             "there once (so Keras's in-process read of the same bytes is known to finish), the declared-size "
             "check, and the input-shape check after Keras. `read_model_file` alone is what the static view needs.")
    print("\n" + text)
    if not args.no_write:
        write_section(HEADING, f"{machine}\n\n{text}\n\n{notes}")


if __name__ == "__main__":
    main()
