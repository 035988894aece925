"""What every sub-command shares: notes and progress on stderr, output files, the model and data read from the arguments.

Keras is imported here only, by :func:`import_keras`, with TensorFlow's native
start-up noise hidden; ``--custom-objects`` is imported only with ``--trust``.

Example:
    >>> import argparse
    >>> note(argparse.Namespace(quiet=True), "not shown")
    >>> progress_option(argparse.Namespace(quiet=True))
    False
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import inspector
from inspector.errors import InputDataError, InspectorError, UnsafeModelError
from inspector.progress import ProgressCallback

__all__ = ["note", "progress_option", "fraction_bar", "import_keras", "check_output", "write", "read_model_file",
           "load_model", "build_graph", "drawn_graph", "import_in_background", "refuse_untrusted_module",
           "custom_objects", "load_data"]


def note(args: argparse.Namespace, text: str) -> None:
    """Information for a person at the terminal: stderr, so stdout stays clean for pipes."""
    if not args.quiet:
        print(text, file=sys.stderr)


def progress_option(args: argparse.Namespace) -> bool | None:
    """``progress=`` for :mod:`inspector.analysis.activations`: None draws a tqdm bar when stderr is a terminal."""
    return False if args.quiet else None


@contextlib.contextmanager
def fraction_bar(args: argparse.Namespace, description: str) -> Iterator[ProgressCallback | None]:
    """A ``progress(fraction, message)`` callback drawing a tqdm bar, or None when quiet or not a terminal."""
    if args.quiet or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=100, desc=description, leave=False, bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}")

    def report(fraction: float | None, message: str) -> None:
        if fraction is not None:
            bar.n = round(100 * min(max(float(fraction), 0.0), 1.0))
        bar.set_description(message[:50] or description, refresh=False)
        bar.refresh()

    try:
        yield report
    finally:
        bar.close()


@contextlib.contextmanager
def _quiet_native_stderr(args: argparse.Namespace) -> Iterator[None]:
    """Silence what TensorFlow's C++ side prints while it is imported (absl, oneDNN and CUDA notes).

    ``TF_CPP_MIN_LOG_LEVEL`` no longer covers the lines absl writes before it is
    initialised, so file descriptor 2 points at /dev/null for the import only.
    """
    if args.debug or "tensorflow" in sys.modules:
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced by an object without a descriptor
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def import_keras(args: argparse.Namespace) -> None:
    """Import Keras with its native start-up noise hidden (the trust scan resolves names through Keras too)."""
    with _quiet_native_stderr(args):
        import keras  # noqa: F401 - imported here so its native start-up noise is hidden


def check_output(path: Path) -> Path:
    """Fail before the slow work when the output cannot be written."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputDataError("The output folder does not exist.", received=str(path),
                             fix=f"Create the folder first (mkdir -p {folder}) or write somewhere else.")
    if path.is_dir():
        raise InputDataError("The output path is a folder, not a file.", received=str(path),
                             fix="Give a file name, such as out/model.svg.")
    return path


def write(path: Path, content: bytes | str) -> None:
    """Write an output file; a failure is an :class:`~inspector.errors.InspectorError`."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        path.write_bytes(data)
    except OSError as e:
        raise InspectorError("The output file could not be written.", received=f"{path}: {e.strerror or e}",
                             fix="Check the folder exists and is writable, and that the disk is not full.") from e


def read_model_file(args: argparse.Namespace) -> Any:
    """The validated model file (fast, no TensorFlow): a missing or broken file fails before the slow import."""
    from inspector.io import files

    return files.read_model_file(args.model)


def load_model(args: argparse.Namespace, model_file: Any = None) -> Any:
    """The Keras model of ``args.model`` (read and checked first, then Keras imported quietly)."""
    model_file = model_file if model_file is not None else read_model_file(args)
    library_load_model = inspector.load_model
    import_keras(args)
    return library_load_model(model_file, trust=args.trust, custom_objects=custom_objects(args))


def import_in_background(*modules: str) -> None:
    """Import ``modules`` in a daemon thread: this process waits on the HDF5 child meanwhile (``summary`` spent a
    third of its time importing pandas after the graph was built)."""
    import importlib
    import threading

    def run() -> None:
        for module in modules:
            with contextlib.suppress(ImportError):  # the import where the module is used says what is missing
                importlib.import_module(module)

    threading.Thread(target=run, name="keras-inspector-imports", daemon=True).start()


def build_graph(args: argparse.Namespace, model_file: Any = None) -> Any:
    """The graph of ``args.model`` (the loaded model's, or the static view's), its warnings shown as notes."""
    model_file = model_file if model_file is not None else read_model_file(args)
    library_build_graph = inspector.build_graph
    import_keras(args)
    graph = library_build_graph(model_file, trust=args.trust, custom_objects=custom_objects(args))
    for warning in graph.warnings:
        note(args, f"note: {warning}")
    return graph


def drawn_graph(args: argparse.Namespace) -> Any:
    """The graph ``summary`` and ``graph`` show: the static view, unless Keras must build the model.

    The static view reads the file's config and weight shapes (no TensorFlow, no code from the
    file): the same layers, ids, parameter counts and edges as the loaded model's graph (tested).
    Keras builds the model with ``--trust`` (the file's code may run) or ``--load``.  A layer whose
    output shape only Keras's own arithmetic knows imports Keras (and TensorFlow): a note says so.
    """
    if args.trust or args.load:
        return build_graph(args)
    from inspector.io import files
    from inspector.model.static import static_graph

    had_keras = "keras" in sys.modules
    reading = files.start_reading(args.model, vet_arrays=False)
    graph = static_graph(reading)  # built from the config while the HDF5 child walks the weights
    if not had_keras and "keras" in sys.modules:
        note(args, "note: some output shapes needed Keras's own arithmetic: Keras and TensorFlow were imported "
                   "(slower); the graph is still read from the file, no code from it ran")
    from inspector.model.loading import limit_refusal

    refusal = limit_refusal(reading.result())
    if refusal is not None:  # nothing is built here, but the user should know a load would be refused
        note(args, f"note: Static view (nothing built): loading this model would be refused: {refusal.what}")
    opaque = graph.opaque_nodes
    if opaque:
        names = ", ".join(n.id for n in opaque[:3]) + (f" and {len(opaque) - 3} more" if len(opaque) > 3 else "")
        note(args, f"note: Static view (no code run, some shapes unknown): {names} hold code that runs only with "
                   f"--trust ({opaque[0].opaque_reason})")
    for warning in graph.warnings:
        note(args, f"note: {warning}")
    return graph


# the module's own choice of names, when it makes one (see docs/cli.md)
_CUSTOM_OBJECTS_NAME = "CUSTOM_OBJECTS"


def refuse_untrusted_module(args: argparse.Namespace) -> None:
    """``--custom-objects`` without ``--trust``: refused before anything is read or imported."""
    module = getattr(args, "custom_objects", None)
    if module is not None and not args.trust:
        raise UnsafeModelError(
            "--custom-objects imports a Python file and runs it, and gives its classes to Keras: the model file then "
            "chooses which of them run and with what arguments. That needs --trust.",
            received=f"--custom-objects {module} without --trust (the file was not imported)",
            fix="Add --trust, only for a model file and a module you wrote yourself.")


def custom_objects(args: argparse.Namespace) -> dict[str, Any] | None:
    """The ``--custom-objects`` module's classes and functions for Keras (``None`` without the option).

    The module is imported here, once per command, and only with ``--trust`` (checked
    first by :func:`refuse_untrusted_module`, again here so no caller can skip it).  It
    gives its ``CUSTOM_OBJECTS`` dict when it defines one, else every public class and
    function defined in it (not the ones it imports), each under its own ``__name__``.
    """
    text = getattr(args, "custom_objects", None)
    if text is None:
        return None
    refuse_untrusted_module(args)
    path = Path(text)
    if path.suffix != ".py" or not path.is_file():
        raise InputDataError("--custom-objects takes a Python file (.py) that defines your classes.",
                             received=f"--custom-objects {text}" + ("" if path.is_file() else " (no such file)"),
                             fix="Give the path of the .py file that defines the model's custom classes.")
    import importlib.util
    import re

    # a name of our own, so the module shadows no installed package and no package is imported by it
    name = "keras_inspector_custom_objects_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputDataError("--custom-objects: this file cannot be imported as a Python module.",
                             received=str(path), fix="Give a .py file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses, pickling and Keras's registry look classes up by module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as e:  # noqa: BLE001 - the user's own code can raise anything
        sys.modules.pop(name, None)
        raise InputDataError("The --custom-objects module failed while it was imported.",
                             received=f"{path}: {type(e).__name__}: {e}",
                             fix=f"Run `python {path}` to see the error and fix it.") from e
    chosen = getattr(module, _CUSTOM_OBJECTS_NAME, None)
    if chosen is not None:
        if not isinstance(chosen, dict) or not all(isinstance(k, str) for k in chosen):
            raise InputDataError(f"{_CUSTOM_OBJECTS_NAME} in the --custom-objects module must be a dict from the "
                                 "names the model file uses to classes or functions.",
                                 received=f"{path}: {_CUSTOM_OBJECTS_NAME} is a {type(chosen).__name__}",
                                 fix=f'Write {_CUSTOM_OBJECTS_NAME} = {{"L1Dist": L1Dist}}, or remove it to give '
                                     "every public class and function of the module.")
        return dict(chosen)
    import inspect

    found = {key: value for key, value in vars(module).items()
             if not key.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
             and getattr(value, "__module__", None) == name}
    if not found:
        raise InputDataError("The --custom-objects module defines no public class or function.",
                             received=str(path),
                             fix=f"Define the model's custom classes in it, or a {_CUSTOM_OBJECTS_NAME} dict.")
    return found


def load_data(args: argparse.Namespace) -> Any:
    """The ``--input`` data, checked at the edge."""
    from inspector.io.inputs import load_data_file

    return load_data_file(args.input)
