"""Opening a model file as an interactive front end holds it: the Keras model when it loads, the graph always.

:func:`open_model` loads in the caller's thread.  :func:`start_opening` is the progressive
form the app uses: it returns as soon as the file's config and stored weight shapes are read
(no array read, no Keras), with the static graph to draw at once, and loads the model —
vetting the arrays, then Keras — in a background thread of its own, so one opening never
waits for another.  Safety is :func:`~inspector.model.loading.load_model`'s, unchanged: nothing
runs before the scan, and the arrays are read in the HDF5 child before Keras reads them.

Example:
    >>> opened = open_model(read_model_bytes("sample_models/lambda_merge/model.keras"), name="lambda.keras")
    >>> opened.can_run, opened.needs_trust, opened.graph.source.value
    (False, True, 'static')
"""


from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import io
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from inspector.errors import (
    InspectorError,
    ModelLoadError,
    UnsafeModelError,
)
from inspector.graph import ModelGraph
from inspector.io.files import read_source

__all__ = ["OpenedModel", "ModelOpening", "file_digest", "read_model_bytes", "open_model", "start_opening",
           "exit_if_loading", "start_reader"]


@dataclass(frozen=True)
class OpenedModel:
    """A model file as the app holds it: the graph always, the Keras model when it could be loaded.

    ``model`` is ``None`` when loading needed code from an untrusted file or
    failed in Keras; then ``graph`` is the static parse (``graph.source`` is
    ``Source.STATIC``) and ``static_reason`` is the error that explains why.
    """

    name: str
    sha256: str
    format: str
    trusted: bool
    graph: ModelGraph
    model: Any = field(default=None, compare=False, repr=False)
    static_reason: str = ""
    needs_trust: bool = False  # the static view is because the file needs code (trusting would load it)
    loading: bool = False  # the static graph drawn while the model loads in the background (start_opening)
    refused: bool = False  # the background load refused the file (limits, damaged arrays): static_reason says why

    @property
    def can_run(self) -> bool:
        """Whether activations and embeddings can be computed (a Keras model is loaded)."""
        return self.model is not None


def file_digest(data: bytes) -> str:
    """The SHA-256 of a file's bytes: the cache key of a loaded model.

    Example:
        >>> file_digest(b"")[:12]
        'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()


def read_model_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a model file on disk, refusing a missing file, a directory or one over ``max_upload_bytes``.

    Example:
        >>> read_model_bytes("no/such/model.keras")
        Traceback (most recent call last):
        ...
        inspector.errors.ModelFormatError: No model file at this path.
          Received: no/such/model.keras
          Fix: Check the path; Keras models are saved as .keras (or legacy .h5) files.
    """
    return read_source(Path(path))[1]


def open_model(data: bytes, *, name: str = "", trust: bool = False) -> OpenedModel:
    """Open a model file's bytes: load it with Keras, or fall back to the static view of its config.

    A file that is not a model at all raises its :class:`~inspector.errors.InspectorError`;
    one that needs code (untrusted) or that Keras cannot rebuild opens with
    ``model=None`` and the static graph, whose first warning says why.

    Example:
        >>> open_model(b"PK\\x05\\x06" + bytes(18), name="empty.keras")
        Traceback (most recent call last):
        ...
        inspector.errors.ModelFormatError: The zip archive has no config.json, so it is not a .keras model (a .keras file holds config.json, metadata.json and model.weights.h5).
          Received: 'empty.keras', 22 bytes containing []
          Fix: Save the whole model with model.save('model.keras'); model.save_weights() files hold no architecture.
    """
    from inspector.io.files import read_model_file
    from inspector.model.loading import load_or_view

    buffer = io.BytesIO(data)
    buffer.name = name  # so every error message names the file
    model_file = read_model_file(buffer)
    model, graph, why = load_or_view(model_file, trust=trust)
    return OpenedModel(name or model_file.name, model_file.sha256, model_file.format, trust, graph, model,
                       str(why) if why else "", needs_trust=isinstance(why, UnsafeModelError) and not trust)


class ModelOpening:
    """A model file being opened: its static view now, the loaded model (or the static view and why) later.

    Made by :func:`start_opening`.  ``current()`` never waits: the loaded :class:`OpenedModel` when
    the background load has ended, else the static one (``loading`` true).  ``result()`` waits.
    ``data`` is the file's bytes (what Ray workers open, :mod:`inspector.analysis.distributed`).
    """

    def __init__(self, static: OpenedModel, future: Future[OpenedModel], data: bytes,
                 load: threading.Thread | None = None) -> None:
        self.static = static
        self.data = data
        self.started = time.monotonic()
        self._future = future
        self._load = load
        self._begun = threading.Lock()

    def begin(self) -> None:
        """Start the background load if it has not started yet (a deferred opening waits for this call)."""
        if self._load is not None and self._begun.acquire(blocking=False):
            _exit_promptly_while_loading()
            _IN_FLIGHT.add(self._load)
            self._load.start()

    def done(self) -> bool:
        """Whether the background load has ended (loaded, or fallen back to the static view)."""
        return self._future.done()

    def current(self) -> OpenedModel:
        """The loaded model if the load has ended, else the static view (never waits)."""
        return self._future.result() if self._future.done() else self.static

    def result(self, timeout: float | None = None) -> OpenedModel:
        """Wait for the background load (``TimeoutError`` after ``timeout`` seconds) and return its result."""
        self.begin()
        return self._future.result(timeout)

    def seconds(self) -> float:
        """Seconds since the opening started."""
        return time.monotonic() - self.started


def start_opening(data: bytes, *, name: str = "", trust: bool = False, defer: bool = False,
                  sha256: str | None = None, predicted: Callable[[ModelGraph], object] | None = None) -> ModelOpening:
    """Open a model file's bytes progressively: the static graph at once, the Keras load in a background thread.

    The file is read and validated here (a file that is not a model raises its
    :class:`~inspector.errors.InspectorError` at once), with its weight shapes but not its arrays
    (``read_model_file(vet_arrays=False)``); the static graph is built from that.  A thread of its
    own then runs :func:`~inspector.model.loading.load_or_view`, which vets the arrays before Keras
    reads them.  A load that fails in any way ends as the static view with the error as its
    ``static_reason`` (the graph stays what it was).

    With ``defer=True`` the load waits for :meth:`ModelOpening.begin` (or ``result()``): a front end
    draws the static graph first, then starts the load, so Keras does not take the CPU (and
    Python's lock) from the drawing.  The app begins it when its page has been sent.  ``sha256``:
    the bytes' :func:`file_digest`, when the caller has it already (not computed twice).  ``predicted``:
    :func:`~inspector.model.static.static_graph`'s (the graph with predicted weights, while the stored ones
    are read).

    Example:
        >>> import inspector
        >>> opening = start_opening(inspector.get_sample("otto_mlp").path.read_bytes(), name="otto.keras")
        >>> opening.static.loading, opening.static.graph.source.value
        (True, 'static')
        >>> opened = opening.result(timeout=120)
        >>> opened.loading, opened.can_run, opened.graph.total_params == opening.static.graph.total_params
        (False, True, True)
    """
    from inspector.io.files import start_reading
    from inspector.model.static import static_graph

    buffer = io.BytesIO(data)
    buffer.name = name  # so every error message names the file
    reading = start_reading(buffer, vet_arrays=False, sha256=sha256)
    future: Future[OpenedModel] = Future()
    try:
        graph = static_graph(reading, predicted=predicted)  # built while the HDF5 child walks the weights
    except InspectorError:  # a config only Keras makes sense of: nothing to draw early, so load in this thread
        reading.result()  # unless the weights were the problem: their error is the file's (not read twice)
        opened = open_model(data, name=name, trust=trust)
        future.set_result(opened)
        return ModelOpening(opened, future, data)
    model_file = reading.result()
    static = OpenedModel(name or model_file.name, model_file.sha256, model_file.format, trust, graph, loading=True)

    def load() -> None:
        from inspector.model.loading import load_or_view

        try:
            model, graph, why = load_or_view(model_file, trust=trust)
        except InspectorError as e:  # a refusal after the static view was drawn: the static view stays
            future.set_result(replace(static, loading=False, static_reason=str(e), refused=True))
        except Exception as e:  # noqa: BLE001 - a thread's error would vanish; the user gets it in the message
            error = ModelLoadError("Loading the model failed unexpectedly.", received=f"{type(e).__name__}: {e}",
                                   fix="Report this with the file; the graph is still shown from its config.")
            future.set_result(replace(static, loading=False, static_reason=str(error), refused=True))
        else:
            future.set_result(replace(static, graph=graph, model=model, loading=False,
                                      static_reason=str(why) if why else "",
                                      needs_trust=isinstance(why, UnsafeModelError) and not trust))

    opened = ModelOpening(static, future, data, threading.Thread(target=_tracked(load),
                                                                  name=f"open-{model_file.sha256[:12]}", daemon=True))
    if not defer:
        opened.begin()
    return opened


# the background loads running now: at exit, the process ends at once while one still runs (exit_if_loading)
_IN_FLIGHT: set[threading.Thread] = set()


def _tracked(load: Callable[[], None]) -> Callable[[], None]:
    """``load``, counted in ``_IN_FLIGHT`` until it returns."""
    def run() -> None:
        try:
            load()
        finally:
            _IN_FLIGHT.discard(threading.current_thread())
    return run


@functools.cache
def _exit_promptly_while_loading() -> None:
    atexit.register(exit_if_loading)  # registered late, so it runs before the atexit handlers of the imports


def start_reader() -> None:
    """Start the HDF5 reader's child process now, if none runs, without waiting for it: its interpreter starts
    and imports its modules (0.12 s) while the caller does other work, instead of inside the first opening
    (the app calls it when a run begins, before the landing sample is opened)."""
    from inspector.io.hdf5_child import _HDF5

    _HDF5.start_early()


def exit_if_loading() -> None:
    """With a background load still running: end the process now (at interpreter exit; the app calls it too, as
    soon as its server begins to stop).

    Python would stop the load's daemon thread wherever it is and then finalize the interpreter: a thread stopped
    while it held h5py's lock left a deallocation waiting for that lock forever (a server stopped mid-load hung in
    "Stopping..." for minutes, its HDF5 child alive), and finalizing a TensorFlow caught mid-load takes seconds.
    Nothing is left to save: the HDF5 children are killed and their copies removed, the standard streams flushed,
    and the process exits with ``os._exit`` (status 1 after an uncaught exception, else 0).
    """
    if not any(thread.is_alive() for thread in list(_IN_FLIGHT)):
        return
    from inspector.io.hdf5_child import _remove_live_copies, _stop_children

    _stop_children()
    _remove_live_copies()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(1 if hasattr(sys, "last_value") else 0)
