"""``python -m inspector``: the ``keras-inspector`` command line (see :mod:`inspector.cli.commands`)."""

from __future__ import annotations

import sys

from inspector.cli.commands import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
