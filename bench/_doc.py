"""Shared by the bench scripts: write a benchmark's table into its section of docs/performance.md."""

from __future__ import annotations

from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def write_section(heading: str, text: str, doc: Path = DOC) -> None:
    """Replace the ``heading`` section of ``doc`` with ``text`` (appended when the section is new).

    Example:
        >>> import tempfile
        >>> doc = Path(tempfile.mkdtemp()) / "performance.md"
        >>> write_section("## A", "first", doc); write_section("## B", "b", doc); write_section("## A", "new", doc)
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
