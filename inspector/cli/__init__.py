"""The ``keras-inspector`` command line: sub-commands over the public API, ``InspectorError`` -> exit code 3.

Example:
    >>> main(["--version"]) == 0  # doctest: +ELLIPSIS
    keras-inspector ...
    True
"""

from inspector.cli.program import main

__all__ = ["main"]
