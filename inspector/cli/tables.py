"""Tables on stdout: rich in a terminal, aligned plain text when piped, or csv / json / markdown.

Example:
    >>> import pandas as pd
    >>> print_table(pd.DataFrame({"Layer": ["dense"], "Params": [40]}), TableFormat.MARKDOWN)
    | Layer | Params |
    | --- | ---: |
    | dense | 40 |
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from inspector.cli.parser import TableFormat

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["print_table", "records"]

# a table cell longer than this is cut in the human-readable views (csv/json keep everything)
_MAX_CELL = 60


def print_table(frame: pd.DataFrame, fmt: TableFormat, *, title: str = "", footer: str = "") -> None:
    """Print ``frame`` as text: rich in a terminal, aligned plain text when piped, or csv/json/markdown."""
    if fmt is TableFormat.CSV:
        sys.stdout.write(frame.to_csv(index=False))
        return
    if fmt is TableFormat.JSON:
        print(json.dumps(records(frame), indent=2, ensure_ascii=False))
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


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON values (numpy scalars and NaN become int/float/None)."""
    return json.loads(frame.to_json(orient="records", force_ascii=False))


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
