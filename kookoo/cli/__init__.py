"""The ``kookoo`` command (see :mod:`kookoo.cli.main`)."""

from __future__ import annotations

from kookoo.cli.main import EXIT_BROKEN_PIPE, format_finding, main

__all__ = ["EXIT_BROKEN_PIPE", "format_finding", "main"]
