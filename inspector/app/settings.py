"""The app's settings and message formatting: environment variables and Streamlit markdown (no Streamlit import).

Example:
    >>> trust_allowed({"KERAS_INSPECTOR_ALLOW_TRUST": "1"}), trust_allowed({})
    (True, False)
    >>> upload_limit_mb(500 * 2**20)
    500
"""


from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from inspector.errors import (
    without_terminal_codes,
)
from inspector.limits import get_limits

if TYPE_CHECKING:
    pass

__all__ = ["TRUST_ENVIRONMENT_VARIABLE", "PRELOAD_ENVIRONMENT_VARIABLE", "trust_allowed", "preload_path", "upload_limit_mb", "graphviz_available", "message_markdown"]


TRUST_ENVIRONMENT_VARIABLE = "KERAS_INSPECTOR_ALLOW_TRUST"


PRELOAD_ENVIRONMENT_VARIABLE = "KERAS_INSPECTOR_PRELOAD"


def trust_allowed(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the server operator allows trusting uploads (``KERAS_INSPECTOR_ALLOW_TRUST=1``; off by default).

    Example:
        >>> trust_allowed({"KERAS_INSPECTOR_ALLOW_TRUST": "0"})
        False
    """
    environ = os.environ if environ is None else environ
    return environ.get(TRUST_ENVIRONMENT_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def preload_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """The model file the app opens first (``KERAS_INSPECTOR_PRELOAD``, set by ``keras-inspector app MODEL``).

    Example:
        >>> preload_path({}) is None
        True
        >>> preload_path({"KERAS_INSPECTOR_PRELOAD": "m.keras"}).name
        'm.keras'
    """
    environ = os.environ if environ is None else environ
    value = environ.get(PRELOAD_ENVIRONMENT_VARIABLE, "").strip()
    return Path(value).expanduser() if value else None


def upload_limit_mb(max_upload_bytes: int | None = None) -> int:
    """The upload limit in MB as Streamlit's ``server.maxUploadSize`` counts it (MiB, rounded down).

    Example:
        >>> upload_limit_mb(2**20 + 5)
        1
    """
    limit = get_limits().max_upload_bytes if max_upload_bytes is None else max_upload_bytes
    return max(1, int(limit) // 2**20)


def graphviz_available() -> bool:
    """Whether the Graphviz ``dot`` program is installed (SVG and PNG downloads need it).

    Example:
        >>> isinstance(graphviz_available(), bool)
        True
    """
    return shutil.which("dot") is not None


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~$!:])")  # ':' too: no bare link, no :material/icon:


def literal(text: object) -> str:
    r"""Text from a file (a model, layer or file name) as Streamlit markdown that shows it as itself, on one line.

    Every character Markdown or HTML gives a meaning is escaped: ``![x](http://host/x.png)`` in a layer name would
    otherwise be an image the browser fetches from that host when the page is shown.

    Example:
        >>> literal("![x](http://host/x.png) <img src=y> *b*")
        '\\!\\[x\\](http\\://host/x.png) \\<img src=y\\> \\*b\\*'
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(without_terminal_codes(str(text)).splitlines()))


def message_markdown(text: str) -> str:
    r"""An error message as Streamlit markdown: its lines kept, terminal colour codes and markup disarmed.

    Keras messages carry ANSI colour codes, and ``$``, ``*`` or ``_`` in a layer name would otherwise turn
    into maths or emphasis.

    Example:
        >>> message_markdown("Bad layer 'a_b'.\n  Fix: pay $5").splitlines()
        ["Bad layer 'a\\_b'.  ", '  Fix\\: pay \\$5']
        >>> message_markdown("\x1b[1mred\x1b[0m")
        'red'
    """
    plain = without_terminal_codes(str(text))
    return "  \n".join(literal(line) for line in plain.splitlines())
