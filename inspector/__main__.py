"""``python -m inspector``: the ``keras-inspector`` command line (see :mod:`inspector.cli.program`)."""

from __future__ import annotations

import sys

from inspector.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
