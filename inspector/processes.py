"""Child programs we start and own: in a process group of their own, killed whole, and dead when we die.

Graphviz's ``dot`` (:mod:`inspector.rendering.dot`) and the first build of a model whose memory cannot be
predicted (:mod:`inspector.model.first_build`) run as children that an untrusted file can keep busy for
hours or make grow.  Each one starts in a new session (its own process group, so a kill reaches the
programs it started too) and asks Linux to kill it when its parent dies (``PR_SET_PDEATHSIG``): a server
killed in the middle of a layout leaves no ``dot`` behind.  That signal fires when the *thread* that started
the child ends, so a child is only ever started by a thread that then waits for it.

Example:
    >>> import subprocess, sys
    >>> child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], **owned())
    >>> stop(child)
    >>> child.returncode
    -9
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["owned", "stop", "resident_bytes"]


def owned() -> dict[str, Any]:
    """The :class:`subprocess.Popen` arguments that make a child ours: its own session, killed when we die."""
    return {"start_new_session": True, "preexec_fn": _die_with_parent()}


def stop(process: subprocess.Popen) -> None:
    """Kill a child's whole process group, if it still runs, and reap it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def resident_bytes(pid: int, *, peak: bool = False) -> int | None:
    """A process's resident memory now (Linux's ``VmRSS``), or its peak since it started its program
    (``VmHWM``, with ``peak=True``); ``None`` where it cannot be read.

    The peak is read here, not from ``getrusage``: Linux's ``ru_maxrss`` keeps, across ``exec``, the resident
    size of the parent's image the child was forked from, so a child of a 2 GiB test process reports 2 GiB.

    Example:
        >>> resident_bytes(os.getpid()) > 0 if sys.platform.startswith("linux") else True
        True
        >>> resident_bytes(os.getpid(), peak=True) >= resident_bytes(os.getpid()) if sys.platform == "linux" else True
        True
    """
    field = "VmHWM:" if peak else "VmRSS:"
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@functools.cache
def _die_with_parent() -> Callable[[], object] | None:
    """What a child runs before ``exec`` to be killed when this process dies (Linux's ``PR_SET_PDEATHSIG``).

    Made once, ahead of time: between fork and exec, a child may only call what needs no lock.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return functools.partial(prctl, 1, int(signal.SIGKILL), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
