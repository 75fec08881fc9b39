"""``python -m kookoo``: the same as the ``kookoo`` command."""

from __future__ import annotations

import sys

from kookoo.cli import main

if __name__ == "__main__":
    sys.exit(main())
