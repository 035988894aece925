"""Shared by the bench scripts: timing, servers started for a run, the baseline worktree, and writing a
benchmark's table into docs/performance.md."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"


def best_of(fn: Callable[[], object], repeat: int) -> float:
    """Fastest of ``repeat`` timed runs (the machine is shared: the minimum is the least disturbed)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def wait_http(url: str, process: subprocess.Popen, seconds: float = 120, poll: float = 0.3) -> None:
    """Wait until ``url`` answers (a server ``process`` started), checking every ``poll`` seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}") from None
            time.sleep(poll)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def stop(process: subprocess.Popen) -> None:
    """Stop a server: SIGTERM, then SIGKILL after 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def baseline_commit(worktree: Path) -> str:
    """The short commit a baseline ``git worktree`` (the code a benchmark compares with) has checked out."""
    return subprocess.run(["git", "-C", str(worktree), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()


def table(rows: list[tuple[str, float, str]]) -> str:
    """A Markdown table of (what, seconds, comparison) rows.

    Example:
        >>> print(table([("plain", 1.0, "reference")]))
        | What | Seconds | Compared |
        |---|---:|---|
        | plain | 1.000 | reference |
    """
    lines = ["| What | Seconds | Compared |", "|---|---:|---|"]
    lines += [f"| {what} | {seconds:.3f} | {note} |" for what, seconds, note in rows]
    return "\n".join(lines)


def write_section(heading: str, text: str, doc: Path = DOC) -> None:
    """Replace the ``heading`` section of ``doc`` with ``text`` (appended when the section is new); say where.

    Example:
        >>> import tempfile
        >>> doc = Path(tempfile.mkdtemp()) / "performance.md"
        >>> for heading, text in (("## A", "first"), ("## B", "b"), ("## A", "new")):
        ...     write_section(heading, text, doc)  # doctest: +ELLIPSIS
        <BLANKLINE>
        written to .../performance.md
        <BLANKLINE>
        written to .../performance.md
        <BLANKLINE>
        written to .../performance.md
        >>> print(doc.read_text())
        # Performance
        <BLANKLINE>
        ## A
        <BLANKLINE>
        new
        <BLANKLINE>
        ## B
        <BLANKLINE>
        b
        <BLANKLINE>
    """
    doc.parent.mkdir(exist_ok=True)
    current = doc.read_text() if doc.exists() else "# Performance\n"
    section = f"{heading}\n\n{text.strip()}\n"
    if heading in current:
        start = current.index(heading)
        end = current.find("\n## ", start + len(heading))
        current = current[:start] + section + ("\n" + current[end + 1:] if end != -1 else "")
    else:
        current = current.rstrip("\n") + "\n\n" + section
    doc.write_text(current)
    print(f"\nwritten to {doc.relative_to(ROOT) if doc.is_relative_to(ROOT) else doc}")
