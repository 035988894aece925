"""Every HDF5 parse runs in a long-lived child process bounded by ``max_parse_seconds``, on a private copy.

A crafted file can make the HDF5 C library loop forever, and no in-process timeout can interrupt C
code, so the readers (``hdf5``, ``keras_zip``) send their functions here: :func:`_call_on_file` writes the
bytes to a private temporary file (``/dev/shm`` where Linux has one) and runs the function on it in an idle
child (:class:`_HDF5Children`, up to four), replacing a child that hangs or dies.

Example:
    >>> import os
    >>> path = _scratch_file(lambda out: out.write(b"x"), "test")
    >>> os.path.getsize(path)
    1
    >>> _remove_copy(path); os.path.exists(path)
    False
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

from inspector.errors import InspectorError, LimitExceededError, ModelFormatError, ModelLoadError
from inspector.limits import Limits

__all__: list[str] = []


def _open_hdf5(path: str) -> Any:
    """The child's temporary copy (:func:`_call_on_file`) opened read-only, and its name removed at once.

    The open file stays readable; with its name gone, nothing is left behind when the server
    is stopped in the middle of a long read (a vetting read of a large model's arrays).
    """
    import h5py

    f = h5py.File(path, "r")
    with contextlib.suppress(OSError):  # Windows keeps the name of an open file: the caller removes it after
        os.unlink(path)
    return f


def _call_on_file(function: Callable[..., Any], content: bytes | Callable[[IO[bytes]], object], args: tuple,
                  received: str, limits: Limits) -> Any:
    """``function(path, *args)`` in an HDF5 child, ``content`` (bytes, or what writes them) in a private temporary file.

    The child opens the file by path: sent through the pipe, the bytes were pickled and copied
    twice (NASNetMobile's 23 MB: 80 ms), and HDF5 reading a Python file object calls back into
    Python for each of its many small reads (the 1,600-column model's walk: about 1 s, against
    0.6 s from a file).  The file is removed when the call returns.
    """
    path = _scratch_file((lambda out: out.write(content)) if isinstance(content, bytes) else content, received)
    return _call_on_copy(function, path, args, received, limits)


def _call_on_copy(function: Callable[..., Any], path: str, args: tuple, received: str, limits: Limits) -> Any:
    """``function(path, *args)`` in an HDF5 child, ``path`` a private copy (:func:`_scratch_file`) removed after."""
    try:
        return _HDF5_CHILDREN.call(function, (path, *args), received, limits)
    finally:  # already gone once the child opened it; not when it failed (or hung) before that
        _remove_copy(path)


# this process's copies not removed yet: removed when it exits (a server stopped while a background load's copy
# waited for the child, or was being written, left 23-34 MB files in /dev/shm)
_LIVE_COPIES: set[str] = set()


@atexit.register
def _remove_live_copies() -> None:
    for path in list(_LIVE_COPIES):
        _remove_copy(path)


def _remove_copy(path: str) -> None:
    _LIVE_COPIES.discard(path)
    with contextlib.suppress(OSError):
        os.unlink(path)


def _scratch_file(write: Callable[[IO[bytes]], object], received: str) -> str:
    """A new file readable by this user only, filled by ``write``: in memory where Linux offers it (``/dev/shm``),
    else in the temporary folder (also when ``/dev/shm`` is full: a container's holds 64 MB)."""
    import tempfile

    folders = [d for d in ("/dev/shm",) if os.path.isdir(d) and os.access(d, os.W_OK)]
    _remove_stale_copies(tuple(folders) + (tempfile.gettempdir(),))
    for folder in [*folders, None]:
        fd, path = tempfile.mkstemp(prefix="keras-inspector-", suffix=".h5", dir=folder)
        _LIVE_COPIES.add(path)
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            return path
        except BaseException as e:
            _remove_copy(path)
            if not isinstance(e, OSError):
                raise  # a refusal of the bytes being written (a zip bomb), not of the folder
            if folder is None:
                raise ModelLoadError(
                    "The model's HDF5 data could not be written to a temporary file for the HDF5 reader.",
                    received=f"{received}: {e}",
                    fix=f"Free space in {tempfile.gettempdir()} (or point TMPDIR at a folder with room).") from e
    raise AssertionError("unreachable: the temporary folder returns or raises")


_STALE_SECONDS = 3600  # a copy this old outlived its call: no read lasts more than max_parse_seconds


@functools.cache
def _remove_stale_copies(folders: tuple[str, ...]) -> None:
    """Once per process: remove this user's copies left by a process killed before the child opened them."""
    import glob
    import time

    for path in (p for folder in folders for p in glob.glob(os.path.join(folder, "keras-inspector-*.h5"))):
        with contextlib.suppress(OSError):
            info = os.stat(path)
            mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()  # Windows: a temporary folder per user
            if mine and time.time() - info.st_mtime > _STALE_SECONDS:
                os.unlink(path)


def _in_thread(function: Callable[..., Any], *args: Any) -> Future:
    """``function(*args)`` in a thread of its own; its result (or exception) in the returned future."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(function(*args))
        except BaseException as e:  # noqa: BLE001 - handed to whoever waits for the result
            future.set_exception(e)

    threading.Thread(target=run, name="hdf5-call", daemon=True).start()
    return future


# ------------------------------------------------------------------ HDF5 in a child process
class _HDF5Child:
    """A long-lived child interpreter that does all our HDF5 parsing, replaced whenever it hangs or dies.

    A crafted file can make the HDF5 C library loop forever (the fuzz test found such files), and
    no in-process timeout can interrupt C code.  The child also reads every array once
    (:func:`_vet_hdf5`), so the reads Keras later makes in our process have already been seen
    to finish.  A child serves one call at a time (its lock is held for that call only);
    :class:`_HDF5Children` hands each call an idle child, so one session's long read does not
    hold up another's.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: Any = None
        self._connection: Any = None

    def call(self, function: Any, args: tuple, received: str, limits: Limits) -> Any:
        with self._lock:
            return self._call(function, args, received, limits)

    def _call(self, function: Any, args: tuple, received: str, limits: Limits) -> Any:
        """``call`` with ``self._lock`` already held by the caller."""
        if self._process is None or self._process.poll() is not None:
            self._stop()
            self._start()
        try:
            self._connection.send((function, args))
            if not self._connection.poll(limits.max_parse_seconds):
                self._stop()
                raise LimitExceededError(
                    f"Reading the HDF5 data took longer than {limits.max_parse_seconds} s (max_parse_seconds): "
                    "the file is crafted or corrupted so that the HDF5 library never finishes.",
                    received=received, fix="Do not open this file; re-save the model with model.save(...).")
            ok, payload = self._connection.recv()
        except (EOFError, OSError):
            self._stop()
            raise ModelFormatError(
                "The file's HDF5 data crashed the HDF5 reader.", received=received,
                fix="The file is corrupted; copy it again or re-save the model with model.save(...).") from None
        if not ok:
            raise payload
        return payload

    def start_early(self) -> None:
        """Start the child now if it is idle and not running: its interpreter starts and imports its modules
        (0.12 s) while the caller does other work, instead of inside the first call."""
        if self._lock.acquire(blocking=False):
            try:
                if self._process is None or self._process.poll() is not None:
                    self._stop()
                    self._start()
            finally:
                self._lock.release()

    def _start(self) -> None:
        # A fresh interpreter, not multiprocessing's spawn: spawn re-runs the parent's __main__, which
        # under Streamlit is the app script.  (fork would copy TensorFlow's threads.)
        import subprocess
        import sys
        from multiprocessing.connection import Pipe

        self._connection, theirs = Pipe()
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self._process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from inspector.io.hdf5_child import _hdf5_child; _hdf5_child(int(sys.argv[1]))",
             str(theirs.fileno())], pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env)
        theirs.close()

    def _stop(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(5)
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None


class _HDF5Children:
    """Up to ``most`` HDF5 children: each call gets an idle one (started on demand), or waits for a busy one.

    Started lazily and kept: the app's sessions open files at the same time, and a vetting
    read of a large model's arrays takes seconds.  The first child is the one an idle process uses.
    """

    def __init__(self, first: _HDF5Child, most: int = 4) -> None:
        self._children = [first]
        self._most = most
        self._guard = threading.Lock()
        self._turn = 0

    def call(self, function: Any, args: tuple, received: str, limits: Limits) -> Any:
        with self._guard:
            child = next((c for c in self._children if c._lock.acquire(blocking=False)), None)
            if child is None and len(self._children) < self._most:
                child = _HDF5Child()
                child._lock.acquire()
                self._children.append(child)
            if child is None:
                self._turn = (self._turn + 1) % len(self._children)
                busy = self._children[self._turn]
        if child is None:
            return busy.call(function, args, received, limits)
        try:
            return child._call(function, args, received, limits)
        finally:
            child._lock.release()


_HDF5 = _HDF5Child()
_HDF5_CHILDREN = _HDF5Children(_HDF5)


def _stop_children() -> None:
    """Kill every HDF5 child at once, busy ones too, without waiting for their callers (the process is exiting)."""
    for child in list(_HDF5_CHILDREN._children):
        process = child._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                process.kill()
                process.wait(2)


def _hdf5_child(fd: int) -> None:
    """The child's loop: run each ``(function, args)`` received, send back ``(ok, result or InspectorError)``."""
    from multiprocessing.connection import Connection

    _die_with_parent()
    connection = Connection(fd)
    while True:
        try:
            function, args = connection.recv()
        except (EOFError, OSError):
            return
        try:
            result = (True, function(*args))
        except InspectorError as e:
            result = (False, e)
        connection.send(result)


def _die_with_parent() -> None:
    """In the child: exit as soon as the server is gone, even killed by SIGKILL in the middle of a long read.

    A thread watches the parent's pid (the process is re-parented when the server dies).  Not Linux's
    ``PR_SET_PDEATHSIG``: that fires when the *thread* that started the child ends, and the server starts its
    children from threads that end.  (A server that died before this call closed the pipe: the next read ends it.)
    """
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
