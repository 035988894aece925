"""Benchmark for issue 14 part 1 and 4: time to a drawable graph, in the library, before and after progressive open.

"before" is what the app did until now for an upload: ``open_model`` (read the file and vet every
array in the HDF5 child, load with Keras, walk the model) — nothing could be drawn until it ended.
"after" is ``start_opening``: read the config and weight shapes, build the static graph, return;
the Keras load runs in a background thread.  "+ payload" adds the viewer's drawing
(``viewer_payload``: Graphviz SVG when ``dot`` is installed), timed while the load runs beside it.
Keras is imported before the clock starts (the app has imported it by the time a user uploads).

``--concurrent`` then opens four different models at once from four threads (four app sessions):
each one's time to its static graph and to its loaded model, and the process's peak RSS.

Files: keras.applications models (``weights=None``) saved as .keras in ``--models DIR`` (made when absent).

Run (the machine is shared):  nice -n 10 python bench/progressive_open.py [--models DIR] [--concurrent]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODELS = ("EfficientNetB0", "NASNetMobile")
CONCURRENT = ("EfficientNetB0", "NASNetMobile", "MobileNetV2", "DenseNet121")


def model_file(folder: Path, name: str) -> Path:
    path = folder / f"{name}.keras"
    if not path.exists():
        import keras

        getattr(keras.applications, name)(weights=None).save(path)
    return path


def sequential(folder: Path, repeat: int) -> None:
    import inspector
    from inspector.model import opening

    print("| file | before: `open_model` (graph after Keras) s | after: `start_opening` static graph s | "
          "after + viewer payload s | after: model loaded (background) s |")
    print("|---|---:|---:|---:|---:|")
    for name in MODELS:
        data = model_file(folder, name).read_bytes()
        before, static, drawn, loaded = [], [], [], []
        for _ in range(repeat):
            start = time.perf_counter()
            opening.open_model(data, name=name)
            before.append(time.perf_counter() - start)
            start = time.perf_counter()
            started = opening.start_opening(data, name=name)
            static.append(time.perf_counter() - start)
            inspector.viewer_payload(started.static.graph)
            drawn.append(time.perf_counter() - start)
            started.result()
            loaded.append(time.perf_counter() - start)
        print(f"| {name} | {min(before):.2f} | **{min(static):.2f}** | {min(drawn):.2f} | {min(loaded):.2f} |",
              flush=True)


def concurrent(folder: Path) -> None:
    from inspector.model import opening

    files = {name: model_file(folder, name).read_bytes() for name in CONCURRENT}
    results: dict[str, tuple[float, float, bool]] = {}
    barrier = threading.Barrier(len(files))

    def session(name: str, data: bytes) -> None:
        barrier.wait()
        start = time.perf_counter()
        started = opening.start_opening(data, name=name)
        static = time.perf_counter() - start
        opened = started.result()
        results[name] = (static, time.perf_counter() - start, opened.can_run)

    threads = [threading.Thread(target=session, args=item) for item in files.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print("\n| four sessions at once | static graph s | model loaded s | loaded |")
    print("|---|---:|---:|---|")
    for name in CONCURRENT:
        static, loaded, ok = results[name]
        print(f"| {name} | {static:.2f} | {loaded:.2f} | {ok} |")
    from inspector.io import hdf5_child

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    # the HDF5 children are alive (ru_maxrss of RUSAGE_CHILDREN counts ended ones only): read their VmHWM
    children = [_peak_gb(child._process.pid) for child in hdf5_child._HDF5_CHILDREN._children
                if child._process is not None]
    print(f"\npeak RSS: this process {peak:.2f} GB; {len(children)} HDF5 children "
          f"{' + '.join(f'{c:.2f}' for c in children)} GB; sum {peak + sum(children):.2f} GB")


def _peak_gb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=None, help="folder holding <name>.keras (made if absent)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per file; the fastest is kept")
    parser.add_argument("--concurrent", action="store_true", help="only the four-sessions run")
    args = parser.parse_args()
    folder = args.models or Path(tempfile.mkdtemp(prefix="progressive-open-"))
    folder.mkdir(parents=True, exist_ok=True)
    import keras  # noqa: F401 - imported before any clock, as in the app

    if args.concurrent:
        concurrent(folder)
    else:
        sequential(folder, args.repeat)


if __name__ == "__main__":
    main()
