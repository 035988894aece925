"""The Ray engine: activation statistics and activation samples over a dataset of any size, on a Ray cluster.

How it works
    ``activation_stats(..., engine="ray")`` and ``sample_activations(..., engine="ray")`` hand the data to
    Ray Data: ``Dataset.map_batches`` with a pool of actors (:class:`_BlockWorker`), each holding the model.
    A worker opens the model once, from the model file's bytes (put once in Ray's object store, fetched once
    per worker), with :func:`~inspector.load_model` and the caller's ``trust`` — the same safety rules as
    anywhere else: a model needing code from its file is refused unless the caller trusts it, and no Keras
    object is ever pickled (a model given in memory is saved to ``.keras`` bytes on the driver first).  Each
    block the worker is given goes through the local path's one-pass forward walk
    (:class:`~inspector.analysis.requests._Request`) and only partial results come back: the running
    statistics of each requested output (:class:`~inspector.analysis.reductions._Running`: count, mean, M2,
    min, max, zeros, alive units — numbers per channel) or a uniform sample of the block's rows
    (:class:`~inspector.analysis.reservoir._Reservoir`).  The driver merges them as they arrive: statistics
    with Chan et al.'s merge (the one that merges the local path's batches), samples weighted by the rows
    each block saw.  The result is the local path's, up to float rounding.

Connecting
    An initialised Ray is used as it is; otherwise ``address`` (``"ray://head:10001"``, ``"auto"``) or the
    ``RAY_ADDRESS`` environment variable names the cluster, and with neither ``ray.init()`` starts a local
    one (kept for the next call; ``ray.shutdown()`` ends it).

Faults
    A worker whose process dies is restarted by Ray and its block given again: Ray Data's actor pools default
    to ``max_restarts=-1`` and ``max_task_retries=-1`` (``ActorPoolMapOperator._apply_default_remote_args``);
    setting them ourselves would take a ``ray_remote_args_fn``, which stops Ray Data from fusing the reading of
    the blocks into our workers (tests/test_distributed.py kills a worker).  A refusal (an untrusted model needing code) or a block the model cannot take
    (wrong shape or dtype, NaN for an integer input) is not a crash: the worker returns our typed error,
    naming the block (its rows, or the files it was read from), and the driver raises it; nothing partial
    is returned.  Ray failing beyond its retries is a :class:`~inspector.errors.ClusterError`.

Example:
    >>> _engine("Ray") is Engine.RAY
    True
    >>> _block_name({"data": np.zeros((3, 2)), "row": np.array([6, 7, 8])})
    'the block of 3 rows (rows 6 to 8 of the data)'
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

from inspector.analysis.forward import Mode
from inspector.analysis.reductions import _Running
from inspector.analysis.requests import _progress_reporter
from inspector.analysis.reservoir import _Reservoir
from inspector.errors import ClusterError, InputDataError, InspectorError, MissingDependencyError
from inspector.io.inputs import NonFiniteInputWarning
from inspector.progress import ProgressCallback

# Ray Data splits what it reads into blocks for parallelism (a file of 512 images became 7 blocks of 73): a worker
# is given them coalesced into calls of this many rows (32 full batches of the forward pass), which made one
# worker's MobileNetV2 run ~1.4x local's time where it was given every block alone (bench/distributed.py)
_ROWS_PER_CALL = 1024
_BOOKKEEPING = ("path", "row")  # columns saying where a row comes from (include_paths=True, our row ids)
# what ray.data reads, by file suffix
_READERS = {".parquet": "read_parquet", ".npy": "read_numpy", ".csv": "read_csv", **{
    s: "read_images" for s in (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")}}


class Engine(str, Enum):
    """Where activations are computed: in this process, or on a Ray cluster."""

    LOCAL = "local"
    RAY = "ray"


def _engine(engine: Engine | str) -> Engine:
    try:
        return Engine(str(getattr(engine, "value", engine)).lower())
    except ValueError:
        raise InputDataError("Unknown engine.", received=f"engine={engine!r}",
                             fix='Pass engine="local" (this process) or engine="ray" (a Ray cluster).') from None


# =============================================================================== the job every worker gets
@dataclass(frozen=True)
class _Job:
    """What a worker needs, sent once per worker (the model as a reference into Ray's object store)."""

    model: list[Any]  # [ObjectRef of the model file's bytes]: in a list, so Ray hands over the reference
    trust: bool
    layers: Any
    kind: str  # "stats" or "sample"
    mode: Mode
    per_channel: bool
    batch_size: int | None
    n: int = 0  # rows of the sample
    seed: int = 0


@dataclass
class _Merged:
    """The blocks' partial results, merged on the driver as they arrive."""

    kind: str
    sample: _Reservoir | None
    layout: list[tuple[str, str, list[str]]] | None = None
    totals: list[list[_Running | None]] | None = None
    samples: int = 0
    blocks: int = 0
    warnings: list[str] = field(default_factory=list)

    def add(self, payload: dict[str, Any]) -> None:
        if "error" in payload:
            raise payload["error"]
        self.layout = self.layout or payload["layout"]
        self.samples += int(payload["samples"])
        self.blocks += 1
        self.warnings += payload["warnings"]
        if self.kind == "sample":
            assert self.sample is not None
            self.sample.merge(payload["sample"])
            return
        totals = payload["totals"]
        if totals is None:
            return
        if self.totals is None:
            self.totals = totals
            return
        for mine, theirs in zip(self.totals, totals, strict=True):
            for acc, other in zip(mine, theirs, strict=True):
                if acc is not None and other is not None:
                    acc.merge(other)


def run(model: Any, layers: Any, data: Any, *, kind: str, mode: Mode, per_channel: bool = False,
        batch_size: int | None = None, n: int = 0, seed: int = 0, trust: bool = False, address: str | None = None,
        workers: int | None = None, cpus_per_worker: float = 1.0,
        progress: ProgressCallback | bool | None = None) -> _Merged:
    """Run a statistics or sample request on every block of ``data`` on a Ray cluster; the merged result."""
    ray = _ray()
    _connect(ray, address)
    pool = workers or max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_worker))
    # a fixed pool when asked for; else one growing to the cluster's CPUs as blocks wait, so that tasks before
    # ours which Ray Data does not fuse into our workers (they need other resources) still find a CPU
    compute = ray.data.ActorPoolStrategy(size=pool) if workers else ray.data.ActorPoolStrategy(min_size=1,
                                                                                                max_size=pool)
    dataset, sized = _dataset(ray, data, pool)
    model_ref = ray.put(_model_bytes(model))
    job = _Job([model_ref], trust, _wire_layers(model, layers), kind, mode, per_channel, batch_size, n, seed)
    total = dataset.num_blocks() if sized else None  # otherwise calls coalesce blocks Ray Data may still split
    merged = _Merged(kind, _Reservoir(n, np.random.default_rng(seed)) if kind == "sample" else None)
    report = _progress_reporter(progress, total, unit="block")
    started = time.perf_counter()
    with _quiet_ray_data(ray):
        out = dataset.map_batches(
            _BlockWorker, fn_constructor_kwargs={"job": job}, batch_size=None if sized else _ROWS_PER_CALL,
            batch_format="numpy", compute=compute, num_cpus=cpus_per_worker)
        blocks = iter(out.iter_batches(batch_size=None, batch_format="numpy"))
        try:
            for batch in blocks:
                for payload in batch["partial"]:
                    merged.add(pickle.loads(payload))  # our own workers' partials (see _BlockWorker.__call__)
                    if report is not None:
                        rate = merged.samples / max(time.perf_counter() - started, 1e-9)
                        report(merged.blocks / total if total else None,
                               f"block {merged.blocks}" + (f" of {total}" if total else "") + f", {rate:,.0f} samples/s")
        except ray.exceptions.RayError as e:
            raise ClusterError(f"Ray could not finish the work: {type(e).__name__}: {_first_line(e)}",
                               received=f"{merged.blocks} block(s) done",
                               fix="Check the cluster's health (`ray status`) and the worker logs; a worker that "
                                   "dies is restarted, so a repeated failure is a problem of the cluster.") from e
        finally:
            close = getattr(blocks, "close", None)
            if close is not None:
                close()  # stops the remaining blocks when a block failed
            if report is not None and hasattr(report, "close"):
                report.close()
    del model_ref
    if merged.blocks == 0:
        raise InputDataError("The dataset holds no samples.", received="0 blocks",
                             fix="Pass a dataset with at least one row.")
    return merged


# =============================================================================== on a worker
class _BlockWorker:
    """A Ray actor holding the model: one block of rows in, its partial statistics (or sample) out."""

    def __init__(self, job: _Job) -> None:
        import ray

        from inspector.model.loading import load_model

        self.job = job
        self.model: Any = None
        self.refusal: InspectorError | None = None
        _share_cpus(ray)
        try:  # the safety rules of any load: no code from an untrusted file runs here either
            self.model = load_model(ray.get(job.model[0]), trust=job.trust)
        except InspectorError as e:
            self.refusal = type(e)(f"A Ray worker refused to open the model: {e.what}", received=e.received,
                                   fix=e.fix)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        block = _block_name(batch)
        try:
            if self.refusal is not None:
                raise self.refusal
            payload = self._run(batch, block)
        except InspectorError as e:  # returned, not raised: the driver raises it, without a Ray traceback
            payload = {"error": e if e is self.refusal else type(e)(f"In {block}: {e.what}", received=e.received,
                                                                     fix=e.fix)}
        # Ray moves Python objects by pickling them anyway; as bytes they fill an Arrow binary column, where
        # an object column makes Ray warn once per worker before falling back to pickling them itself
        return {"partial": np.array([pickle.dumps(payload)], dtype=object)}

    def _run(self, batch: dict[str, np.ndarray], block: str) -> dict[str, Any]:
        from inspector.analysis.requests import _Request
        from inspector.io.inputs import input_specs

        job = self.job
        X = _block_inputs(batch, input_specs(self.model))
        with warnings.catch_warnings():  # reported on the driver, with the block's name
            warnings.simplefilter("ignore", NonFiniteInputWarning)
            request = _Request(self.model, job.layers, X, mode=job.mode, kind="stats" if job.kind == "stats" else
                               "values", batch_size=job.batch_size, progress=False, compiled=None,
                               keep_in_memory=False, per_channel=job.per_channel)
            payload: dict[str, Any] = {"layout": request.layout(), "samples": request.stream.n_samples,
                                       "warnings": [f"{block}: {w}" for w in request.stream.warnings]}
            if job.kind == "stats":
                payload["totals"] = request.running_totals()
            else:
                sample = _Reservoir(job.n, np.random.default_rng(_block_seed(job.seed, batch)))
                # a row's position in the data is known for arrays given in memory (their row ids) only
                rows = np.asarray(batch["row"], np.int64) if "row" in batch else np.full(request.stream.n_samples,
                                                                                          -1, np.int64)
                request.sample(sample, positions=rows)
                payload["sample"] = sample
        return payload


def _block_inputs(batch: Mapping[str, np.ndarray], specs: Any) -> Any:
    """A block's columns as the model's inputs: by input name, the one column of a one-input model, or the
    columns as the features of a one-input model (a table)."""
    columns = {k: v for k, v in batch.items() if k not in _BOOKKEEPING}
    names = [s.name for s in specs]
    if all(name in columns for name in names):
        return {name: columns[name] for name in names}
    if len(specs) == 1 and len(columns) == 1:
        return next(iter(columns.values()))
    if len(specs) == 1 and all(np.ndim(v) == 1 for v in columns.values()):
        import pandas as pd

        return pd.DataFrame(columns)
    raise InputDataError(f"The dataset's columns {sorted(columns)} do not name the model's inputs {names}.",
                         received=f"columns {sorted(columns)}",
                         fix="Name the columns like the inputs (Dataset.rename_columns) or keep only the input "
                             "columns (Dataset.select_columns).")


def _block_name(batch: Mapping[str, np.ndarray]) -> str:
    rows = len(next(iter(batch.values()))) if batch else 0
    name = f"the block of {rows} rows"
    if "row" in batch and rows:
        name += f" (rows {int(np.min(batch['row']))} to {int(np.max(batch['row']))} of the data)"
    if "path" in batch and rows:
        files = sorted({str(p) for p in batch["path"]})
        name += " read from " + ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    if "row" not in batch and "path" not in batch:
        name += " (read the data with include_paths=True to have its files named here)"
    return name


def _block_seed(seed: int, batch: Mapping[str, np.ndarray]) -> list[int]:
    """The random seed of a block's sample: the caller's seed and the block's content, so a block sampled
    again (a retried task) draws the same rows."""
    digest = hashlib.blake2b(digest_size=8)
    for key in sorted(batch):
        column = np.asarray(batch[key])
        digest.update(key.encode())
        digest.update(str(column.shape).encode())
        if column.dtype.kind != "O" and len(column):
            digest.update(np.ascontiguousarray(column[[0, -1]]).tobytes())
    return [seed, int.from_bytes(digest.digest(), "little")]


def _share_cpus(ray: Any) -> None:
    """TensorFlow in a worker uses the CPUs Ray gave it, not every core of the machine it shares."""
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU")
    if not cpus:
        return
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        with contextlib.suppress(RuntimeError):  # TensorFlow was already initialised in this process
            tf.config.threading.set_intra_op_parallelism_threads(max(1, int(cpus)))
            tf.config.threading.set_inter_op_parallelism_threads(max(1, int(cpus)))


# =============================================================================== on the driver
def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise MissingDependencyError("engine='ray' needs Ray Data, which is not installed.",
                                     received=f"import ray: {e}",
                                     fix="pip install 'keras-inspector[ray]' (or pip install 'ray[data]').") from e
    return ray


def _connect(ray: Any, address: str | None) -> None:
    if ray.is_initialized():
        return
    try:
        if address is None and not os.environ.get("RAY_ADDRESS"):
            ray.init(include_dashboard=False, logging_level=logging.WARNING,  # a local cluster on this machine
                     runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2"}})  # TensorFlow's start-up notes
        else:
            ray.init(address=address, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise ClusterError(f"Could not connect to the Ray cluster: {_first_line(e)}",
                           received=f"address={address or os.environ.get('RAY_ADDRESS')!r}",
                           fix="Check the address (ray://HEAD:10001 for a remote cluster, 'auto' for one started "
                               "with `ray start` here), or leave it out to start a local cluster.") from e


def _model_bytes(model: Any) -> bytes:
    """The bytes workers open: a file's own, or a model given in memory saved as ``.keras`` here."""
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        try:
            return Path(model).read_bytes()
        except OSError as e:
            raise InputDataError(f"Could not read the model file: {e.strerror}.", received=str(model),
                                 fix="Pass the path of a .keras or .h5 file, its bytes, or a keras.Model.") from e
    if hasattr(model, "read"):
        return bytes(model.read())
    with tempfile.TemporaryDirectory() as folder:  # never pickled: workers load the file as any file
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def _wire_layers(model: Any, layers: Any) -> Any:
    """What the workers resolve: node ids for a model in memory (a layer object cannot travel), else as given."""
    from inspector.graph import LayerNode

    if isinstance(model, (bytes, bytearray, memoryview, str, os.PathLike)) or hasattr(model, "read"):
        if isinstance(layers, LayerNode):
            return layers.id
        if isinstance(layers, (list, tuple)):
            return [x.id if isinstance(x, LayerNode) else x for x in layers]
        return layers
    from inspector.analysis.layer_calls import _catalog, _resolve_many

    return _resolve_many(model, _catalog(model), layers)


def _dataset(ray: Any, data: Any, pool: int) -> tuple[Any, bool]:
    """``data`` as a Ray Dataset — as it is, read from a path or URI, or made from arrays in memory — and whether
    its blocks are sized for the workers already (made here from arrays: each block is one call)."""
    if isinstance(data, ray.data.Dataset):
        return data, False
    if isinstance(data, (str, os.PathLike)):
        return _read(ray, os.fspath(data)), False
    if isinstance(data, np.ndarray) or isinstance(data, Mapping) and data:
        columns = {"data": np.asarray(data)} if isinstance(data, np.ndarray) else {
            str(k): np.asarray(v) for k, v in data.items()}
        rows = {len(v) for v in columns.values()}
        if len(rows) != 1:
            raise InputDataError("The inputs have different numbers of samples.",
                                 received=f"{ {k: len(v) for k, v in columns.items()} }",
                                 fix="Give every input the same number of rows.")
        count = rows.pop()
        # two blocks per worker at least (of 32 rows or more), up to blocks of 4,096 rows
        blocks = max(1, min(count // 32, max(2 * pool, count // 4096)))
        # a row id per sample, so a block is named by its rows and a sample knows where its rows came from
        return ray.data.from_items([{**{k: v[i] for k, v in columns.items()}, "row": i} for i in range(count)],
                                   override_num_blocks=blocks), True
    raise InputDataError("engine='ray' cannot read this data.", received=type(data).__name__,
                         fix="Pass a ray.data.Dataset, a path or URI ray.data reads (.parquet, .npy, .csv, images, "
                             "or a folder of them), a NumPy array or a dict of arrays.")


def _read(ray: Any, path: str) -> Any:
    suffix = _suffix(path)
    reader = getattr(ray.data, _READERS[suffix])
    if suffix == ".npy":  # as inspector.io.inputs reads .npy files: a pickle in a data file never runs
        return reader(path, include_paths=True, allow_pickle=False)
    return reader(path, include_paths=True)


def _suffix(path: str) -> str:
    suffix = Path(path.rstrip("/")).suffix.lower()
    if suffix in _READERS:
        return suffix
    if os.path.isdir(path):  # a local folder: the kind of file it mostly holds
        found = Counter(p.suffix.lower() for p in Path(path).rglob("*") if p.suffix.lower() in _READERS)
        if found:
            return found.most_common(1)[0][0]
    raise InputDataError("ray.data cannot tell how to read this data from its name.", received=path,
                         fix=f"Name a file or folder of {', '.join(sorted(_READERS))} files, or read it yourself "
                             "(ray.data.read_parquet(...), ...) and pass the Dataset.")


@contextlib.contextmanager
def _quiet_ray_data(ray: Any) -> Iterator[None]:
    """Ray Data's own progress bars and execution logs off: the caller's progress report is ours."""
    context = ray.data.DataContext.get_current()
    bars, logger = context.enable_progress_bars, logging.getLogger("ray.data")
    level = logger.level
    context.enable_progress_bars = False
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        context.enable_progress_bars = bars
        logger.setLevel(level)


def _first_line(e: BaseException) -> str:
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(e).__name__
