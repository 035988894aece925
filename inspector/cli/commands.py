"""The command line: ``keras-inspector summary | graph | activations | profile | project | diff | app``.

Every sub-command is a thin shell around the library: parse the arguments, call
one or two public functions of :mod:`inspector`, write the result.  Importing
this module is cheap (no TensorFlow): the heavy imports happen inside the
command that needs them, so ``--help`` and ``--version`` answer at once.

Exit codes (:class:`ExitCode`): 0 success, 1 an unexpected error (a bug: one
line, and the traceback with ``--debug``), 2 a usage error (argparse), 3 an
:class:`~inspector.errors.InspectorError` — a problem with the user's files or
arguments, explained on stderr with what was received and what to do.

``--trust`` is the only way to run code stored in a model file (Lambda layers,
custom classes); without it ``summary`` and ``graph`` fall back to the static
view of the file and the commands that must run the model refuse it.

Example:
    >>> parser = build_parser()
    >>> args = parser.parse_args(["graph", "model.keras", "-o", "model.svg", "--rankdir", "lr"])
    >>> args.command, args.rankdir, [p.name for p in args.output]
    ('graph', 'LR', ['model.svg'])
    >>> main(["summary", "no/such/model.keras", "--quiet"])
    3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from enum import Enum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import inspector
from inspector import __version__
from inspector.errors import InputDataError, InspectorError, UnsafeModelError
from inspector.progress import ProgressCallback

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ExitCode", "TableFormat", "GraphFormat", "build_parser", "main"]

PROG = "keras-inspector"
# a table cell longer than this is cut in the human-readable views (csv/json keep everything)
_MAX_CELL = 60


class ExitCode(int, Enum):
    """The process exit status of :func:`main`."""

    OK = 0
    UNEXPECTED = 1  # a bug: please report it with the --debug traceback
    USAGE = 2  # argparse's own status for bad flags
    INSPECTOR_ERROR = 3  # an InspectorError: bad file, bad data, limit hit, missing tool
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


class TableFormat(str, Enum):
    """How ``summary`` (and ``activations --stats``) print a table."""

    TABLE = "table"  # aligned text; rich-formatted when stdout is a terminal
    CSV = "csv"
    JSON = "json"
    MARKDOWN = "markdown"


class GraphFormat(str, Enum):
    """Output formats of ``graph``, chosen by the output file's suffix."""

    SVG = "svg"
    PNG = "png"
    PDF = "pdf"
    DOT = "dot"
    JSON = "json"
    HTML = "html"


class _ActivationFormat(str, Enum):
    NPY = "npy"
    NPZ = "npz"


class _ProjectionFormat(str, Enum):
    CSV = "csv"
    HTML = "html"


class _DiffGraphFormat(str, Enum):
    SVG = "svg"
    PNG = "png"
    PDF = "pdf"
    DOT = "dot"
    HTML = "html"


# =============================================================================== parser
_EXAMPLES = {
    "summary": """\
examples:
  keras-inspector summary model.keras
  keras-inspector summary model.h5 --format csv > layers.csv
  keras-inspector summary model.keras --format json | jq .total_params""",
    "graph": """\
examples:
  keras-inspector graph model.keras -o model.svg
  keras-inspector graph model.keras -o model.png --rankdir LR --expand-depth 1
  keras-inspector graph model.keras -o graph.json -o graph.html   (one load, two files)
  keras-inspector graph model.keras -o cost.svg --color-by macs
  keras-inspector profile model.keras --input X.npy --format csv > time.csv
  keras-inspector graph model.keras -o time.html --color-by seconds --values time.csv

The format follows the suffix: .svg .png .pdf (Graphviz `dot` program), .dot,
.json (node-link document), .html (one standalone interactive page).""",
    "activations": """\
examples:
  keras-inspector activations model.keras --layer 3 --input X.npy -o layer3.npy
  keras-inspector activations model.keras --layer dense --layer generator/dense_2 --input X.npz -o acts.npz
  keras-inspector activations model.keras --layer all --input X.csv --stats

--layer takes an index into model.layers, a layer name, a nested path
(generator/dense_2), a node id (dense@1 for the second call of a shared layer),
or `all`; repeat it for several layers.  .npy holds one layer's output, .npz one
array per node id.""",
    "profile": """\
examples:
  keras-inspector profile model.keras --input X.npy
  keras-inspector profile model.keras --input X.npz --repeats 5 --format csv > time.csv

Every layer call is timed in one instrumented forward pass per repeat (median
of the repeats; the whole input is one batch), next to a plain model(X) pass.
Colour the graph by the times with `graph --color-by seconds --values time.csv`.""",
    "project": """\
examples:
  keras-inspector project model.keras --layer word_embedding -o coords.csv
  keras-inspector project model.keras --layer word_embedding --method pca --dims 3 -o plot.html
  keras-inspector project model.keras --layer hidden --input X.npy -o hidden.html

Without --input the rows of an Embedding layer's weight matrix are projected;
with --input, the layer's activations on that data (one point per sample).""",
    "diff": """\
examples:
  keras-inspector diff base.keras finetuned.keras
  keras-inspector diff epoch_10.keras epoch_20.keras --format csv > diff.csv
  keras-inspector diff base.keras finetuned.keras --changed-only -o diff.html

Layers are matched by name, then by position for renamed ones; status is same,
added, removed or changed.  Weight columns are NaN for a model shown from its
static view (one that cannot load without --trust).  -o draws the second model
with added (green), removed (red, dashed) and changed (amber) layers marked.""",
    "app": """\
examples:
  keras-inspector app
  keras-inspector app model.keras --port 8600

Starts the Streamlit app (python -m streamlit run app/main.py); with MODEL the
app opens on that file.  --trust lets the app run code from model files
(KERAS_INSPECTOR_ALLOW_TRUST=1): only for files you wrote yourself.""",
}

_DESCRIPTION = """\
See inside saved Keras models (.keras, legacy .h5) from the command line.

No code from a model file runs unless you pass --trust; without it, models with
Lambda layers or custom classes are shown from their config (static view).

exit codes: 0 success, 1 unexpected error (a bug), 2 usage error,
            3 the file, data or arguments were refused (message on stderr)"""


def _global_options(parser: argparse.ArgumentParser, *, on_subcommand: bool) -> None:
    # Accepted before and after the sub-command; on the sub-command the default is
    # SUPPRESS so an absent flag does not overwrite one given before it.
    default: Any = argparse.SUPPRESS if on_subcommand else False
    group = parser.add_argument_group("global options")
    group.add_argument("-q", "--quiet", action="store_true", default=default,
                       help="no progress bars and no notes on stderr (errors are still shown)")
    group.add_argument("--debug", action="store_true", default=default,
                       help="show full tracebacks and library warnings")
    group.add_argument("--trust", action="store_true", default=default,
                       help="allow code stored in the model file to run (Lambda layers, custom classes); "
                            "only for files you wrote yourself")


def _custom_objects_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--custom-objects", metavar="MODULE.py", default=None,
                        help="with --trust: import this Python file and give Keras its classes and functions "
                             "(its CUSTOM_OBJECTS dict if it defines one, else every public class and function "
                             "defined in it); never imported without --trust")


def _suffix_type(enum: type[Enum], what: str) -> Callable[[str], Path]:
    """An argparse type: a path whose suffix names one of ``enum``'s values."""
    allowed = ", ".join("." + m.value for m in enum)  # type: ignore[attr-defined]

    def parse(text: str) -> Path:
        path = Path(text)
        if path.suffix.lower().lstrip(".") not in {m.value for m in enum}:  # type: ignore[attr-defined]
            raise argparse.ArgumentTypeError(
                f"{what} {text!r} has an unsupported suffix {path.suffix or '(none)'!r}; use one of {allowed}")
        return path

    parse.__name__ = what  # argparse names the type in its messages
    return parse


def _int_at_least(minimum: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a number ≥ {minimum}, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(1, text)


def _non_negative_int(text: str) -> int:
    return _int_at_least(0, text)


def _port(text: str) -> int:
    value = _positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, got {value}")
    return value


def _layer_spec(text: str) -> int | str:
    """``"3"``/``"-1"`` → an index into ``model.layers``; anything else is a name, path or node id."""
    stripped = text.strip()
    if not stripped:
        raise argparse.ArgumentTypeError("a layer cannot be empty")
    try:
        return int(stripped)
    except ValueError:
        return stripped


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``keras-inspector`` (all sub-commands).

    Example:
        >>> build_parser().parse_args(["summary", "m.keras", "--format", "CSV"]).format
        'csv'
    """
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog=PROG, description=_DESCRIPTION, formatter_class=formatter,
                                     epilog="Run `keras-inspector COMMAND --help` for a command's options "
                                            "and examples.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _global_options(parser, on_subcommand=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=_EXAMPLES[name],
                                  formatter_class=formatter)
        _global_options(sub, on_subcommand=True)
        return sub

    model_help = "model file: .keras or legacy .h5"

    summary = command("summary", "Print the layer table of a model, with parameter totals.")
    summary.add_argument("model", metavar="MODEL", help=model_help)
    summary.add_argument("--format", type=str.lower, choices=[f.value for f in TableFormat], default="table",
                         help="table (default; coloured in a terminal), csv and json (every column, for "
                              "scripts), markdown")
    _custom_objects_option(summary)

    graph = command("graph", "Draw the model's graph to a file; the format follows the suffix.")
    graph.add_argument("model", metavar="MODEL", help=model_help)
    graph.add_argument("-o", "--output", type=_suffix_type(GraphFormat, "output file"), action="append",
                       required=True, metavar="FILE",
                       help="output file (.svg .png .pdf .dot .json .html); repeat for several")
    graph.add_argument("--rankdir", type=str.upper, choices=["TB", "LR", "BT", "RL"], default="TB",
                       help="direction of the drawing: TB top to bottom (default), LR left to right")
    graph.add_argument("--expand-depth", type=_non_negative_int, default=None, metavar="N",
                       help="draw nested models open to this depth (default: all; 0: every nested model is "
                            "one box)")
    graph.add_argument("--expand-model", dest="expand_models", action="append", default=None, metavar="ID",
                       help="draw this nested model open whatever --expand-depth says (a node id, e.g. encoder or "
                            "encoder/block); repeatable")
    graph.add_argument("--collapse-model", dest="collapse_models", action="append", default=None, metavar="ID",
                       help="draw this nested model as one box whatever --expand-depth says; repeatable")
    graph.add_argument("--no-fold", dest="fold", action="store_false",
                       help="draw every repeated parallel branch instead of folding it into one ×N node")
    graph.add_argument("--color-by", "--colour-by", dest="color_by", metavar="COLUMN", default=None,
                       help="fill the layers by a number: params, macs, output_bytes, or a column of --values "
                            "(seconds from `profile`, nan_count, zero_fraction, … from `activations --stats`)")
    graph.add_argument("--values", metavar="CSV", default=None,
                       help="with --color-by: a CSV table with an `id` (or `layer`) column, e.g. "
                            "`profile --format csv` or `activations --stats --format csv`")
    _custom_objects_option(graph)

    activations = command("activations", "Save the outputs of layers on your data (and/or their statistics).")
    activations.add_argument("model", metavar="MODEL", help=model_help)
    activations.add_argument("--layer", type=_layer_spec, action="append", required=True, metavar="LAYER",
                             help="index, name, nested path, node id, or `all`; repeatable")
    activations.add_argument("--input", required=True, metavar="DATA",
                             help="input data: .npy (one input), .npz (one array per model input name) or .csv")
    activations.add_argument("-o", "--output", type=_suffix_type(_ActivationFormat, "output file"),
                             metavar="FILE", help="where to save the activations: .npy (one layer) or .npz")
    activations.add_argument("--stats", action="store_true",
                             help="print per-layer statistics (mean, std, min, max, zero and dead fractions)")
    activations.add_argument("--per-channel", action="store_true",
                             help="with --stats: one row per channel (last axis) instead of per layer")
    activations.add_argument("--format", type=str.lower, choices=[f.value for f in TableFormat], default="table",
                             help="format of the --stats table (default: table)")
    activations.add_argument("--training", action="store_true",
                             help="run Dropout, BatchNormalization, … as in training (the model is not changed)")
    activations.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                             help="samples per forward pass (default: the largest up to 32 that fits the "
                                  "memory limit)")
    _custom_objects_option(activations)

    profile = command("profile", "Time every layer call of a forward pass on your data.")
    profile.add_argument("model", metavar="MODEL", help=model_help)
    profile.add_argument("--input", required=True, metavar="DATA",
                         help="input data, one batch: .npy (one input), .npz (one array per model input name) "
                              "or .csv")
    profile.add_argument("--repeats", type=_positive_int, default=3, metavar="N",
                         help="timed passes; each layer's median is shown (default: 3)")
    profile.add_argument("--training", action="store_true",
                         help="run Dropout, BatchNormalization, … as in training (the model is not changed)")
    profile.add_argument("--format", type=str.lower, choices=[f.value for f in TableFormat], default="table",
                         help="table (default), csv and json (every column, seconds unrounded), markdown")
    _custom_objects_option(profile)

    project = command("project", "Project an embedding (or a layer's activations) to 2-D/3-D with UMAP or PCA.")
    project.add_argument("model", metavar="MODEL", help=model_help)
    project.add_argument("--layer", required=True, metavar="LAYER",
                         help="Embedding layer name (or any layer with --input)")
    project.add_argument("--method", choices=["umap", "pca"], default="umap", help="default: umap")
    project.add_argument("--dims", type=int, choices=[2, 3], default=2, help="output dimensions (default: 2)")
    project.add_argument("--input", metavar="DATA",
                         help="project the layer's activations on this data (.npy/.npz/.csv) instead of "
                              "embedding weights")
    project.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                         help="with --input: samples per forward pass")
    project.add_argument("-o", "--output", type=_suffix_type(_ProjectionFormat, "output file"), required=True,
                         metavar="FILE", help="coords.csv (one row per point) or plot.html (standalone plotly page)")
    _custom_objects_option(project)

    diff = command("diff", "Compare two models layer by layer: added, removed, changed layers and weight deltas.")
    diff.add_argument("model_a", metavar="A", help=model_help + " (the reference, e.g. the base model)")
    diff.add_argument("model_b", metavar="B", help=model_help + " (compared against A)")
    diff.add_argument("--format", type=str.lower, choices=[f.value for f in TableFormat], default="table",
                      help="table (default), csv and json (every column), markdown")
    diff.add_argument("--changed-only", action="store_true", help="list only added, removed and changed layers")
    diff.add_argument("-o", "--output", type=_suffix_type(_DiffGraphFormat, "output file"), metavar="FILE",
                      help="also draw the difference on B's graph (.svg .png .pdf .dot .html)")
    _custom_objects_option(diff)

    app = command("app", "Start the Streamlit app, optionally opened on MODEL.")
    app.add_argument("model", metavar="MODEL", nargs="?", help=model_help + " to open first (optional)")
    app.add_argument("--port", type=_port, default=8501, help="port to serve on (default: 8501)")
    app.add_argument("--no-browser", action="store_true",
                     help="do not open a browser (always the case when not run from a terminal)")
    return parser


# =============================================================================== main
def main(argv: Sequence[str] | None = None) -> int:
    """Run ``keras-inspector`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    Example:
        >>> main(["--version"])  # doctest: +ELLIPSIS
        keras-inspector ...
        0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version (0) and usage errors (2)
        return int(e.code) if isinstance(e.code, int) else int(ExitCode.USAGE)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        with _warnings_shown(debug=args.debug):
            _refuse_untrusted_module(args)  # before any file is read: the module is never imported without --trust
            _COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows up here, not as noise at interpreter exit
    except InspectorError as e:
        if args.debug:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return int(ExitCode.INSPECTOR_ERROR)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # the reader went away (`keras-inspector summary m.keras | head`): nothing left to say
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return int(ExitCode.UNEXPECTED)
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if args.debug:
            traceback.print_exc()
            print(f"error: unexpected {type(e).__name__} (a bug in keras-inspector; please report it with the "
                  "traceback above)", file=sys.stderr)
        else:
            message = " ".join(str(e).split())
            message = message if len(message) < 300 else message[:300] + "…"
            print(f"error: unexpected {type(e).__name__}: {message}\n"
                  "  This is a bug in keras-inspector; run the same command with --debug for the traceback and "
                  "please report it.", file=sys.stderr)
        return int(ExitCode.UNEXPECTED)
    return int(ExitCode.OK)


@contextlib.contextmanager
def _warnings_shown(*, debug: bool) -> Iterator[None]:
    """Warnings as one ``warning: …`` line each; deprecation chatter from libraries only with --debug."""

    def show(message: Any, category: type[Warning], filename: str, lineno: int, file: IO[str] | None = None,
             line: str | None = None) -> None:
        text = " ".join(str(message).split())
        print(f"warning: {text}" + (f" ({category.__name__}, {filename}:{lineno})" if debug else ""),
              file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        if not debug:
            for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
                warnings.simplefilter("ignore", category)
        yield


def _note(args: argparse.Namespace, text: str) -> None:
    """Information for a person at the terminal: stderr, so stdout stays clean for pipes."""
    if not args.quiet:
        print(text, file=sys.stderr)


def _progress(args: argparse.Namespace) -> bool | None:
    """``progress=`` for :mod:`inspector.analysis.activations`: None draws a tqdm bar when stderr is a terminal."""
    return False if args.quiet else None


@contextlib.contextmanager
def _fraction_bar(args: argparse.Namespace, description: str) -> Iterator[ProgressCallback | None]:
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


def _import_keras(args: argparse.Namespace) -> None:
    """Import Keras with its native start-up noise hidden (the trust scan resolves names through Keras too)."""
    with _quiet_native_stderr(args):
        import keras  # noqa: F401 - imported here so its native start-up noise is hidden


def _check_output(path: Path) -> Path:
    """Fail before the slow work when the output cannot be written."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputDataError("The output folder does not exist.", received=str(path),
                             fix=f"Create the folder first (mkdir -p {folder}) or write somewhere else.")
    if path.is_dir():
        raise InputDataError("The output path is a folder, not a file.", received=str(path),
                             fix="Give a file name, such as out/model.svg.")
    return path


def _write(path: Path, content: bytes | str) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        path.write_bytes(data)
    except OSError as e:
        raise InspectorError("The output file could not be written.", received=f"{path}: {e.strerror or e}",
                             fix="Check the folder exists and is writable, and that the disk is not full.") from e


def _read_model_file(args: argparse.Namespace) -> Any:
    """The validated model file (fast, no TensorFlow): a missing or broken file fails before the slow import."""
    from inspector.io.files import read_model_file

    return read_model_file(args.model)


def _load_model(args: argparse.Namespace, model_file: Any = None) -> Any:
    model_file = model_file if model_file is not None else _read_model_file(args)
    load_model = inspector.load_model
    _import_keras(args)
    return load_model(model_file, trust=args.trust, custom_objects=_custom_objects(args))


def _build_graph(args: argparse.Namespace) -> Any:
    model_file = _read_model_file(args)
    build_graph = inspector.build_graph
    _import_keras(args)
    graph = build_graph(model_file, trust=args.trust, custom_objects=_custom_objects(args))
    for warning in graph.warnings:
        _note(args, f"note: {warning}")
    return graph


# the module's own choice of names, when it makes one (see docs/cli.md)
_CUSTOM_OBJECTS_NAME = "CUSTOM_OBJECTS"


def _refuse_untrusted_module(args: argparse.Namespace) -> None:
    """``--custom-objects`` without ``--trust``: refused before anything is read or imported."""
    module = getattr(args, "custom_objects", None)
    if module is not None and not args.trust:
        raise UnsafeModelError(
            "--custom-objects imports a Python file and runs it, and gives its classes to Keras: the model file then "
            "chooses which of them run and with what arguments. That needs --trust.",
            received=f"--custom-objects {module} without --trust (the file was not imported)",
            fix="Add --trust, only for a model file and a module you wrote yourself.")


def _custom_objects(args: argparse.Namespace) -> dict[str, Any] | None:
    """The ``--custom-objects`` module's classes and functions for Keras (``None`` without the option).

    The module is imported here, once per command, and only with ``--trust`` (checked
    first by :func:`_refuse_untrusted_module`, again here so no caller can skip it).  It
    gives its ``CUSTOM_OBJECTS`` dict when it defines one, else every public class and
    function defined in it (not the ones it imports), each under its own ``__name__``.
    """
    text = getattr(args, "custom_objects", None)
    if text is None:
        return None
    _refuse_untrusted_module(args)
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


def _load_data(args: argparse.Namespace) -> Any:
    from inspector.io.inputs import load_data_file

    return load_data_file(args.input)


# =============================================================================== summary
def _summary(args: argparse.Namespace) -> None:
    fmt = TableFormat(args.format)
    graph = _build_graph(args)
    frame = inspector.summary_frame(graph)
    totals = _totals(frame.attrs)
    if fmt is TableFormat.JSON:
        document = {"model": frame.attrs.get("name"), "source": frame.attrs.get("source"),
                    **{k: frame.attrs.get(k) for k in ("total_params", "trainable_params", "non_trainable_params",
                                                       "total_bytes", "total_macs", "total_output_bytes")},
                    "warnings": list(graph.warnings), "layers": _records(frame)}
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return
    if fmt is TableFormat.CSV:
        sys.stdout.write(frame.to_csv(index=False))
        return
    view = frame[["id", "class_name", "output_shape", "params", "connected_to"]].rename(columns={
        "id": "Layer", "class_name": "Type", "output_shape": "Output shape", "params": "Params",
        "connected_to": "Connected to"})
    title = f"Model: {frame.attrs.get('name', '')}" + (" (static view)" if frame.attrs.get("source") == "static"
                                                      else "")
    _print_table(view, fmt, title=title, footer=totals)


def _totals(attrs: dict[str, Any]) -> str:
    from inspector.cost import format_macs
    from inspector.limits import format_bytes

    total = int(attrs.get("total_params") or 0)
    size = attrs.get("total_bytes")
    size_text = f" ({format_bytes(size)})" if size else ""
    return (f"Total params: {total:,}{size_text} | Trainable: {int(attrs.get('trainable_params') or 0):,} | "
            f"Non-trainable: {int(attrs.get('non_trainable_params') or 0):,} | "
            f"MACs per sample: {format_macs(attrs.get('total_macs'))}")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON values (numpy scalars and NaN become int/float/None)."""
    return json.loads(frame.to_json(orient="records", force_ascii=False))


# =============================================================================== tables
def _print_table(frame: pd.DataFrame, fmt: TableFormat, *, title: str = "", footer: str = "") -> None:
    """Print ``frame`` as text: rich in a terminal, aligned plain text when piped, or csv/json/markdown."""
    if fmt is TableFormat.CSV:
        sys.stdout.write(frame.to_csv(index=False))
        return
    if fmt is TableFormat.JSON:
        print(json.dumps(_records(frame), indent=2, ensure_ascii=False))
        return
    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    headers = [str(c) for c in frame.columns]
    numeric = [_is_numeric_column(frame[c]) for c in frame.columns]
    if fmt is TableFormat.MARKDOWN:
        print(_markdown(headers, cells, numeric, title=title, footer=footer))
    elif sys.stdout.isatty():
        _rich_table(headers, cells, numeric, title=title, footer=footer)
    else:
        print(_plain_table(headers, cells, numeric, title=title, footer=footer))


def _cell(value: Any) -> str:
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iu"):
        return f"{int(value):,}"
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f"):
        return f"{float(value):.6g}"
    text = " ".join(str(value).split())
    return text if len(text) <= _MAX_CELL else text[:_MAX_CELL - 1] + "…"


def _is_numeric_column(column: Any) -> bool:
    return getattr(column.dtype, "kind", "") in "iuf"


def _plain_table(headers: list[str], cells: list[list[str]], numeric: list[bool], *, title: str = "",
                 footer: str = "") -> str:
    """An aligned text table (numbers right-aligned), no colour.

    Example:
        >>> print(_plain_table(["Layer", "Params"], [["dense", "40"], ["out", "4"]], [False, True],
        ...                    footer="Total params: 44"))
        Layer  Params
        -----  ------
        dense      40
        out         4
        <BLANKLINE>
        Total params: 44
    """
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    lines = [title] if title else []
    lines += [line(headers), "  ".join("-" * w for w in widths)] + [line(row) for row in cells]
    if footer:
        lines += ["", footer]
    return "\n".join(lines)


def _markdown(headers: list[str], cells: list[list[str]], numeric: list[bool], *, title: str = "",
              footer: str = "") -> str:
    """A GitHub-flavoured markdown table (pipes in cells escaped).

    Example:
        >>> print(_markdown(["Layer", "Params"], [["a|b", "4"]], [False, True]))
        | Layer | Params |
        | --- | ---: |
        | a\\|b | 4 |
    """
    def row(values: list[str]) -> str:
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"

    lines = [f"**{title}**", ""] if title else []
    lines += [row(headers), "| " + " | ".join("---:" if n else "---" for n in numeric) + " |"]
    lines += [row(r) for r in cells]
    if footer:
        lines += ["", footer]
    return "\n".join(lines)


def _rich_table(headers: list[str], cells: list[list[str]], numeric: list[bool], *, title: str = "",
                footer: str = "") -> None:
    from rich.console import Console
    from rich.measure import Measurement
    from rich.table import Table

    console = Console()
    table = Table(title=title or None, title_justify="left", header_style="bold")
    for i, (header, num) in enumerate(zip(headers, numeric, strict=True)):
        longest = max([len(row[i]) for row in cells], default=0)
        # numbers are never split across lines; text may wrap once it has a readable width
        table.add_column(header.replace("_", " "), justify="right" if num else "left", no_wrap=num,
                         min_width=longest if num else min(longest, 24), overflow="fold")
    for row in cells:
        table.add_row(*row)
    narrowest = Measurement.get(console, console.options.update(width=100_000), table).minimum
    if narrowest > console.width:  # wider than the terminal: keep cells whole rather than squash them to nothing
        console = Console(width=narrowest)
    console.print(table)
    if footer:
        console.print(footer, style="bold", highlight=False)


# =============================================================================== graph
def _graph(args: argparse.Namespace) -> None:
    outputs = [(_check_output(path), GraphFormat(path.suffix.lower().lstrip("."))) for path in args.output]
    from inspector.rendering import render, to_dot, to_html, to_json

    # named from the package itself: once inspector.rendering (the subpackage) is imported, the attribute
    # `inspector.rendering` is that module, not the function (`-o g.html -o g.svg` failed)
    functions = {"render": render, "to_dot": to_dot, "to_html": to_html, "to_json": to_json}
    renderers = {fmt: functions[_RENDERER[fmt]] for _, fmt in outputs}
    fold_repeats = inspector.fold_repeats if GraphFormat.JSON in renderers and args.fold else None
    values = _load_values(args.values) if args.values else None
    if values is not None and args.color_by is None:
        raise InputDataError("--values colours the graph only together with --color-by.",
                             received=f"--values {args.values}", fix="Add --color-by COLUMN (a column of the CSV).")
    graph = _build_graph(args)
    drawing: dict[str, Any] = {"rankdir": args.rankdir, "expand_depth": args.expand_depth, "fold": args.fold,
                               "expand_models": args.expand_models, "collapse_models": args.collapse_models}
    if args.color_by is not None:
        drawing.update(color_by=args.color_by, values=values)
        if GraphFormat.JSON in renderers:
            _note(args, "note: --color-by colours the drawings; the .json graph holds no colours")
    for path, fmt in outputs:
        render = renderers[fmt]
        if fmt in (GraphFormat.SVG, GraphFormat.PNG, GraphFormat.PDF):
            content: bytes | str = render(graph, fmt.value, **drawing)
        elif fmt is GraphFormat.JSON:
            # the machine-readable graph: folded like the drawings unless --no-fold; nested graphs stay nested
            data = fold_repeats(graph) if fold_repeats is not None else graph
            content = json.dumps(render(data), indent=1, ensure_ascii=False) + "\n"
        else:
            content = render(graph, **drawing)
        _write(path, content)
        _note(args, f"wrote {path}")


def _load_values(path_text: str) -> pd.DataFrame:
    """The ``--values`` table: a CSV file, size-checked before pandas reads it."""
    import pandas as pd

    from inspector.limits import format_bytes, get_limits

    path = Path(path_text)
    if path.suffix.lower() != ".csv":
        raise InputDataError("--values takes a CSV table.", received=str(path),
                             fix="Write one with `keras-inspector profile ... --format csv > time.csv`.")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputDataError("The --values file cannot be read.", received=f"{path}: {e.strerror or e}",
                             fix="Check the path.") from e
    limit = get_limits().max_data_bytes
    if size > limit:
        raise InputDataError(f"The --values file is larger than max_data_bytes = {format_bytes(limit)}.",
                             received=f"{path}: {format_bytes(size)}", fix="Pass the per-layer table only.")
    try:
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as e:
        raise InputDataError("The --values file is not a readable CSV table.", received=f"{path}: {e}",
                             fix="Pass the CSV written by `profile --format csv` or `activations --stats "
                                 "--format csv`.") from e


_RENDERER = {GraphFormat.SVG: "render", GraphFormat.PNG: "render", GraphFormat.PDF: "render",
             GraphFormat.DOT: "to_dot", GraphFormat.JSON: "to_json", GraphFormat.HTML: "to_html"}


# =============================================================================== activations
def _activations(args: argparse.Namespace) -> None:
    parser_hint = "keras-inspector activations --help"
    if args.output is None and not args.stats:
        raise InputDataError("Nothing to do: give -o FILE to save the activations, --stats to print their "
                             "statistics, or both.", received=" ".join(sys.argv[1:]) or "no -o and no --stats",
                             fix=f"Add -o acts.npz or --stats (see {parser_hint}).")
    layers: Any = args.layer
    if any(spec == "all" for spec in layers):
        layers = "all"
    output = _check_output(args.output) if args.output is not None else None
    if output is not None and output.suffix.lower() == ".npy" and (layers == "all" or len(layers) > 1):
        raise InputDataError("A .npy file holds one array, but several layers were asked for.",
                             received=f"-o {output} with --layer {' --layer '.join(map(str, args.layer))}",
                             fix=f"Write them to {output.with_suffix('.npz')} (one array per node id), or ask "
                                 "for one layer.")
    data = _load_data(args)
    model = _load_model(args)
    if output is not None:
        values = inspector.inspect_layers(model, layers, data, training=args.training,
                                            batch_size=args.batch_size, progress=_progress(args))
        arrays = _flatten_outputs(values)
        _save_arrays(output, arrays)
        described = ", ".join(f"{key} {tuple(a.shape)} {a.dtype}" for key, a in list(arrays.items())[:6])
        more = f", … ({len(arrays)} arrays)" if len(arrays) > 6 else ""
        _note(args, f"wrote {output}: {described}{more}")
    if args.stats:
        stats = inspector.activation_stats(model, layers, data, batch_size=args.batch_size,
                                             per_channel=args.per_channel, training=args.training,
                                             progress=_progress(args))
        for message in stats.attrs.get("input_warnings", []) or []:
            _note(args, f"note: {message}")
        mode = "training" if args.training else "inference"
        _print_table(stats, TableFormat(args.format), title=f"Activation statistics ({mode} mode)")


def _flatten_outputs(values: dict[str, Any]) -> dict[str, Any]:
    """``{node_id: array or list of arrays}`` → ``{key: array}``; a layer's k-th output is ``node_id:k``.

    Example:
        >>> import numpy as np
        >>> sorted(_flatten_outputs({"d": np.zeros(2), "split": [np.zeros(1), np.ones(1)]}))
        ['d', 'split:0', 'split:1']
    """
    import numpy as np

    arrays: dict[str, Any] = {}
    for node_id, value in values.items():
        if isinstance(value, (list, tuple)):
            for k, item in enumerate(value):
                arrays[f"{node_id}:{k}"] = np.asarray(item)
        else:
            arrays[node_id] = np.asarray(value)
    return arrays


def _save_arrays(path: Path, arrays: dict[str, Any]) -> None:
    import io

    import numpy as np

    buffer = io.BytesIO()
    if path.suffix.lower() == ".npy":
        if len(arrays) != 1:
            raise InputDataError("A .npy file holds one array, but this layer has several outputs.",
                                 received=f"outputs {', '.join(arrays)}",
                                 fix=f"Write them to {path.with_suffix('.npz')} instead.")
        np.save(buffer, next(iter(arrays.values())), allow_pickle=False)
    else:
        np.savez(buffer, **arrays)
    _write(path, buffer.getvalue())


# =============================================================================== profile
def _profile(args: argparse.Namespace) -> None:
    fmt = TableFormat(args.format)
    data = _load_data(args)
    model = _load_model(args)
    frame = inspector.profile_layers(model, data, training=args.training, repeats=args.repeats)
    attrs = frame.attrs
    footer = (f"Layers: {attrs['total_seconds'] * 1e3:.3f} ms in all | plain model(X): "
              f"{attrs['forward_seconds'] * 1e3:.3f} ms ({attrs['overhead']:+.0%}) | "
              f"{attrs['samples']:,} samples, median of {attrs['repeats']}, {attrs['mode']} mode, {attrs['backend']}")
    if fmt in (TableFormat.CSV, TableFormat.JSON):
        _print_table(frame, fmt)
        if not args.quiet:
            _note(args, footer)
        return
    view = frame.assign(
        ms=(frame["seconds"] * 1e3).round(3), share=(frame["share"] * 100).round(1),
        id=["  " * d + i for d, i in zip(frame["depth"], frame["id"], strict=True)],
    )[["id", "class_name", "ms", "share"]].rename(columns={"id": "Layer", "class_name": "Type", "ms": "Time (ms)",
                                                            "share": "Share (%)"})
    _print_table(view, fmt, title=f"Profile: {getattr(model, 'name', '')}", footer=footer)


# =============================================================================== project
def _project(args: argparse.Namespace) -> None:
    output = _check_output(args.output)
    data = _load_data(args) if args.input else None
    model_file = _read_model_file(args)
    function = getattr(inspector, "project_activations" if args.input else "project_embedding")
    model = _load_model(args, model_file)
    with _fraction_bar(args, args.method.upper()) as progress:
        options = {"method": args.method, "n_components": args.dims, "progress": progress}
        if data is not None:
            projection = function(model, args.layer, data, batch_size=args.batch_size, **options)
        else:
            projection = function(model, args.layer, **options)
    if output.suffix.lower() == ".csv":
        _write(output, projection.to_csv())
    else:
        figure = projection.figure()
        _write(output, figure.to_html(include_plotlyjs=True, full_html=True))
    _note(args, f"wrote {output} ({args.method.upper()}, {args.dims} dimensions)")


# =============================================================================== app
def _app(args: argparse.Namespace) -> None:
    from inspector.app.settings import (
        PRELOAD_ENVIRONMENT_VARIABLE,
        TRUST_ENVIRONMENT_VARIABLE,
        upload_limit_mb,
    )

    env = dict(os.environ)
    # only this command's flags decide: an inherited variable must not preload a file or allow trust
    env.pop(PRELOAD_ENVIRONMENT_VARIABLE, None)
    env.pop(TRUST_ENVIRONMENT_VARIABLE, None)
    if args.model:
        model = Path(args.model).expanduser().resolve()
        if not model.is_file():
            raise InputDataError("No model file at this path.", received=str(args.model),
                                 fix="Check the path, or start the app without a model and upload one.")
        env[PRELOAD_ENVIRONMENT_VARIABLE] = str(model)
    script = Path(__file__).resolve().parents[1] / "app" / "main.py"  # the app ships in the package
    if args.trust:
        env[TRUST_ENVIRONMENT_VARIABLE] = "1"
    headless = args.no_browser or not sys.stdin.isatty()
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(args.port),
               "--server.headless", "true" if headless else "false", "--browser.gatherUsageStats", "false",
               # .streamlit/config.toml is read from the working directory only: pass the app's settings here
               "--server.maxUploadSize", str(upload_limit_mb()), "--server.runOnSave", "false",
               "--client.toolbarMode", "viewer", "--client.showErrorDetails", "none"]
    _note(args, f"starting the app on http://localhost:{args.port} (Ctrl-C to stop)")
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        # become the server: signals (Ctrl-C, a supervisor's SIGTERM) reach Streamlit directly, no orphan
        os.execve(sys.executable, command, env)
    import subprocess

    completed = subprocess.run(command, env=env, check=False)  # pragma: no cover - Windows
    if completed.returncode:  # pragma: no cover
        raise InspectorError("The Streamlit app stopped with an error.", received=f"exit code {completed.returncode}",
                             fix="Read the messages above; run `python -m streamlit run` on inspector/app/main.py to debug.")


# =============================================================================== diff
def _diff(args: argparse.Namespace) -> None:
    from inspector.io.files import read_model_file

    fmt = TableFormat(args.format)
    output = _check_output(args.output) if args.output is not None else None
    compare = inspector.compare
    files = [read_model_file(path) for path in (args.model_a, args.model_b)]  # fail fast, before TensorFlow
    _import_keras(args)
    diff = compare(files[0], files[1], trust=args.trust, custom_objects=_custom_objects(args))
    frame = diff.frame
    if args.changed_only:
        frame = frame[frame["status"] != "same"]
    counts = ", ".join(f"{n} {status}" for status, n in diff.counts().items())
    if fmt is TableFormat.JSON:
        document = {"a": diff.name_a, "b": diff.name_b, "counts": diff.counts(),
                    "layers": json.loads(frame.to_json(orient="records"))}
        print(json.dumps(document, indent=2, ensure_ascii=False))
    elif fmt is TableFormat.CSV:
        sys.stdout.write(frame.to_csv(index=False))
    else:
        view = frame[["name", "status", "class_b", "output_shape_a", "output_shape_b", "params_a", "params_b",
                      "weight_max_abs_diff", "weight_rel_diff", "changes"]].rename(columns={
            "name": "Layer", "status": "Status", "class_b": "Type", "output_shape_a": "Output A",
            "output_shape_b": "Output B", "params_a": "Params A", "params_b": "Params B",
            "weight_max_abs_diff": "Max |Δw|", "weight_rel_diff": "Rel Δw", "changes": "Changes"})
        view = view.astype(object).where(view.notna(), "")
        _print_table(view, fmt, title=f"{diff.name_a} → {diff.name_b}", footer=counts)
    if output is not None:
        suffix = _DiffGraphFormat(output.suffix.lower().lstrip("."))
        if suffix is _DiffGraphFormat.HTML:
            content: bytes | str = diff.to_html()
        elif suffix is _DiffGraphFormat.DOT:
            content = diff.to_dot()
        else:
            content = inspector.rendering(diff.graph, suffix.value, marks=diff.marks)
        _write(output, content)
        _note(args, f"wrote {output}")


_COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "summary": _summary,
    "graph": _graph,
    "activations": _activations,
    "profile": _profile,
    "project": _project,
    "diff": _diff,
    "app": _app,
}
