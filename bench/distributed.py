"""Benchmark for issue 28 (activation statistics on a Ray cluster): samples per second, local against Ray.

MobileNetV2 at 96x96 (weights=None), ``activation_stats(model, "all", ...)`` (every layer's statistics) over
``--samples`` images stored as ``.npy`` files of 512 images, in one run, side by side:

- ``local``: what a user runs today, the images loaded into memory and streamed through this process
  (TensorFlow using every core);
- ``ray, 1 worker``: one Ray worker given every core (``workers=1, cpus_per_worker=CORES``), reading the files
  itself — the overhead of Ray at one worker (goal <= 1.3x local's time);
- ``ray, 2 workers``: two workers of ``CORES / 2`` CPUs each.

Every Ray run starts its workers (a Python process importing TensorFlow and opening the model each) and is timed
from the call to the result, start-up included; "start-up" is the time to the first block done. The local
Ray cluster itself (``ray.init``, one logical CPU more than the cores for Ray Data's file reading) is started
before the timing. The results are checked equal to the local ones. The default 40,960 samples make a worker's
start-up (about 22 s on 2 quiet cores) under 10 % of its run; about 15 minutes in all on 2 cores.

Run (the machine is shared):  nice -n 10 python bench/distributed.py [--samples N] [--no-write]
Prints the table and writes it under "## Activation statistics on Ray" in docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from _common import write_section

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HEADING = "## Activation statistics on Ray"
FILE_ROWS = 512


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=40_960)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    import keras
    import numpy as np
    import ray

    import inspector

    cores = os.cpu_count() or 1
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None)
    folder = Path(tempfile.mkdtemp(prefix="bench_distributed_"))
    model_path = folder / "mobilenet_v2.keras"
    model.save(model_path)
    data = folder / "images"
    data.mkdir()
    rng = np.random.default_rng(0)
    for start in range(0, args.samples, FILE_ROWS):
        rows = min(FILE_ROWS, args.samples - start)
        np.save(data / f"part-{start // FILE_ROWS:05d}.npy", rng.random((rows, 96, 96, 3), dtype=np.float32))

    # one logical CPU beyond the cores: a worker given every core (cpus_per_worker=cores) is not fused with
    # Ray Data's reading of the files (a task of 1 CPU), which would otherwise wait for a CPU forever
    ray.init(num_cpus=cores + 1, include_dashboard=False,
             runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}})
    results = []

    def timed(name: str, run) -> None:
        first: list[float] = []
        start = time.perf_counter()
        frame = run(lambda fraction, message: first or first.append(time.perf_counter() - start))
        seconds = time.perf_counter() - start
        results.append((name, seconds, first[0] if first else float("nan"), frame))
        print(f"{name}: {seconds:.1f} s, {args.samples / seconds:.1f} samples/s", flush=True)

    images = np.concatenate([np.load(p) for p in sorted(data.glob("*.npy"))])
    timed("local (this process)", lambda progress: inspector.activation_stats(
        inspector.load_model(model_path), "all", images, progress=progress))
    images = None  # the workers read the files themselves
    timed("ray, 1 worker", lambda progress: inspector.activation_stats(
        model_path, "all", data, engine="ray", workers=1, cpus_per_worker=cores, progress=progress))
    timed(f"ray, {cores} workers", lambda progress: inspector.activation_stats(
        model_path, "all", data, engine="ray", workers=cores, cpus_per_worker=1, progress=progress))
    ray.shutdown()

    local = results[0][3]
    for _, _, _, frame in results[1:]:
        assert frame.attrs["samples"] == args.samples
        np.testing.assert_allclose(frame["mean"], local["mean"], rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(frame["count"], local["count"])

    base = results[0][1]
    # the first report comes after one batch of 32 (local) or one worker call of up to 1,024 rows (Ray)
    first_rows = [min(32, args.samples)] + [min(1024, args.samples)] * (len(results) - 1)
    lines = ["| engine | wall s | samples/s | first block done after s | time vs local | steady samples/s |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for (name, seconds, startup, _), rows in zip(results, first_rows, strict=True):
        steady = (args.samples - rows) / max(seconds - startup, 1e-9)
        lines.append(f"| {name} | {seconds:.1f} | {args.samples / seconds:,.1f} | {startup:.1f} | "
                     f"{seconds / base:.2f}x | {steady:,.1f} |")
    table = "\n".join(lines)
    print(table)
    if args.no_write:
        return
    load = os.getloadavg()
    machine = (f"`python bench/distributed.py --samples {args.samples}`: MobileNetV2 (96x96, weights=None), "
               f"`activation_stats(..., \"all\")` over {args.samples:,} images in .npy files of {FILE_ROWS}; "
               f"{cores} cores shared with other jobs (load average {load[0]:.1f} at the end), Ray "
               f"{ray.__version__}, Keras {keras.__version__}, Python {platform.python_version()}. The statistics "
               "of every run are checked equal to the local ones.")
    write_section(HEADING, f"{machine}\n\n{table}")


if __name__ == "__main__":
    main()
