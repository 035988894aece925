"""The first build of an untrusted model whose memory cannot be predicted: in a child process, bounded.

:mod:`inspector.model.build_cost` predicts the weights of the layers most models are made of; a layer it
has no rule for (``MultiHeadAttention``, ``ConvLSTM2D``, any Keras class without one) could make Keras
allocate anything its config and input shapes ask for.  Such a file is never trusted to fit: before Keras
builds it in this process, :func:`build_in_child` builds it once in a child (a fresh interpreter, in its own
process group, killed if we die, :mod:`inspector.processes`) whose resident memory is watched every 20 ms:
past ``max_weight_bytes`` above what the child held once TensorFlow was imported, or past
``max_build_seconds``, the child is killed and the file refused with
:class:`~inspector.errors.LimitExceededError`.  Its address space is capped too, so that an allocation
faster than the watch fails in the child.  A child that finishes — built, or refused by Keras for another
reason — lets the build go on here, where it takes what it took there.  It costs a TensorFlow start
(5-15 s) for these files only; every real model and ``keras.applications`` model is predicted in full
(tests/test_bounded.py).

Example:
    >>> import inspector
    >>> data = open(inspector.get_sample("otto_mlp").path, "rb").read()
    >>> build_in_child(data, ".keras", "otto_mlp", inspector.Limits())  # builds within the limits: returns
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from inspector.errors import LimitExceededError
from inspector.limits import Limits, format_bytes
from inspector.processes import owned, resident_bytes, stop

__all__ = ["build_in_child"]

_WATCH_SECONDS = 0.02
_ADDRESS_SLACK = 2**30  # address space beyond the budget: thread stacks TensorFlow reserves on its first run
_OUT_OF_MEMORY = 3  # the child's exit code when an allocation failed


def build_in_child(data: bytes, suffix: str, received: str, limits: Limits) -> None:
    """Build the model in ``data`` (a ``.keras`` or ``.h5`` file's bytes) in a watched child process.

    Raises:
        LimitExceededError: the build took more than ``max_weight_bytes`` or ``max_build_seconds``.
    """
    with tempfile.TemporaryDirectory(prefix="keras-inspector-build-") as folder:
        path = Path(folder) / f"model{suffix}"
        path.write_bytes(data)
        package_root = str(Path(__file__).resolve().parents[2])  # the child imports this copy of inspector
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        # the with closes the child's stdout pipe, which otherwise stays open until collected (a ResourceWarning)
        with subprocess.Popen(
                [sys.executable, "-c",
                 "import sys; from inspector.model.first_build import _child; _child(*sys.argv[1:])",
                 str(path), str(limits.max_weight_bytes)],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env,
                **owned()) as child:
            try:
                _watch(child, received, limits)
            finally:
                stop(child)


def _watch(child: subprocess.Popen, received: str, limits: Limits) -> None:
    """Wait for the child, killing it past the limits; its first line is its memory once TensorFlow is imported,
    its last its peak (``-`` where it cannot tell)."""
    assert child.stdout is not None
    deadline = time.monotonic() + limits.max_build_seconds
    first: bytes | None = None
    while child.poll() is None:
        if time.monotonic() > deadline:
            raise LimitExceededError(
                f"Building this model took longer than {limits.max_build_seconds} s (max_build_seconds) in a child "
                "process: the memory of some of its layers cannot be predicted, so the file was built there first.",
                received=received, fix=_fix("max_build_seconds"))
        if first is None and select.select([child.stdout], [], [], 0)[0]:
            first = child.stdout.readline().strip()
        now = resident_bytes(child.pid)
        if first and first.isdigit() and now is not None and now - int(first) > limits.max_weight_bytes:
            _refuse(now - int(first), received, limits)
        time.sleep(_WATCH_SECONDS)
    if child.returncode == _OUT_OF_MEMORY or child.returncode < 0:  # an allocation failed, or crashed the child
        _refuse(None, received, limits)
    lines = ([first] if first is not None else []) + child.stdout.read().split()
    if len(lines) == 2 and lines[0].isdigit() and lines[1].isdigit():  # a peak too short for the watch to see
        grown = int(lines[1]) - int(lines[0])
        if grown > limits.max_weight_bytes:
            _refuse(grown, received, limits)


def _refuse(grown: int | None, received: str, limits: Limits) -> None:
    took = f"more than {format_bytes(grown)}" if grown is not None else "more than its address space allowed"
    raise LimitExceededError(
        f"Building this model took {took} in a child process, over the limit of "
        f"{format_bytes(limits.max_weight_bytes)} (max_weight_bytes): the memory of some of its layers cannot be "
        "predicted from the config, so the file was built there first.", received=received,
        fix=_fix("max_weight_bytes"))


def _fix(limit: str) -> str:
    return (f"Its graph is still shown from the file's config (static view). If the model is genuine and fits, raise "
            f"{limit} with inspector.set_limits (CLI and app: the environment variable KERAS_INSPECTOR_{limit.upper()}).")


def _child(path: str, budget: str) -> None:
    """In the child: import Keras, say how much memory that took, cap the address space, build the model."""
    import resource

    import keras

    from inspector.model import old_semantics

    print(resident_bytes(os.getpid()) or "-", flush=True)
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            mapped = next((int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:")), None)
    except OSError:
        mapped = None  # not Linux: the parent's watch alone
    if mapped is not None:
        cap = mapped + int(budget) + _ADDRESS_SLACK
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        objects = old_semantics.custom_objects()
        with keras.saving.custom_object_scope(objects):
            keras.saving.load_model(path, compile=False, safe_mode=True, custom_objects=objects)
    except MemoryError:
        os._exit(_OUT_OF_MEMORY)
    except Exception:  # noqa: BLE001 - Keras refusing the file is for the build in the parent to report
        pass
    print(resident_bytes(os.getpid(), peak=True) or "-", flush=True)  # its peak, in bytes (not ru_maxrss: see there)
    os._exit(0)
