"""Shared by the bench scripts: timing, and writing a benchmark's table into docs/performance.md."""

from __future__ import annotations

import time
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
