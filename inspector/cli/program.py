"""The command line: ``keras-inspector summary | graph | activations | stats | profile | project | explain | diff |
app``.

Every sub-command is a thin shell around the library: parse the arguments, call
one or two public functions of :mod:`inspector`, write the result.  Importing
this package is cheap (no TensorFlow): the heavy imports happen inside the
command that needs them, so ``--help`` and ``--version`` answer at once.  The
parser is :mod:`inspector.cli.parser`; the commands live by what they need:
:mod:`~inspector.cli.static_commands` (a model's file only),
:mod:`~inspector.cli.compute` (the model run on data), :mod:`~inspector.cli.stats_command` (statistics,
here or on a Ray cluster), :mod:`~inspector.cli.explain` (attribution maps),
:mod:`~inspector.cli.app_command`.

Exit codes (:class:`ExitCode`): 0 success, 1 an unexpected error (a bug: one
line, and the traceback with ``--debug``), 2 a usage error (argparse), 3 an
:class:`~inspector.errors.InspectorError` — a problem with the user's files or
arguments, explained on stderr with what was received and what to do.

``summary`` and ``graph`` read the graph from the file (the static view: no
TensorFlow, no code from the file) unless ``--load`` or ``--trust`` asks Keras to
build the model.  ``--trust`` is the only way to run code stored in a model file
(Lambda layers, custom classes); the commands that must run the model refuse it without.

Example:
    >>> main(["summary", "no/such/model.keras", "--quiet"])
    3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from enum import Enum
from typing import IO, Any

from inspector.cli import common
from inspector.cli.app_command import run_app
from inspector.cli.compute import run_activations, run_profile, run_project
from inspector.cli.explain import run_explain
from inspector.cli.parser import build_parser
from inspector.cli.static_commands import run_diff, run_graph, run_summary
from inspector.cli.stats_command import run_stats
from inspector.errors import InspectorError

__all__ = ["ExitCode", "main"]


class ExitCode(int, Enum):
    """The process exit status of :func:`main`."""

    OK = 0
    UNEXPECTED = 1  # a bug: please report it with the --debug traceback
    USAGE = 2  # argparse's own status for bad flags
    INSPECTOR_ERROR = 3  # an InspectorError: bad file, bad data, limit hit, missing tool
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


_COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "summary": run_summary,
    "graph": run_graph,
    "activations": run_activations,
    "stats": run_stats,
    "profile": run_profile,
    "project": run_project,
    "explain": run_explain,
    "diff": run_diff,
    "app": run_app,
}


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
            common.refuse_untrusted_module(args)  # before any file is read: the module is never imported without --trust
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
