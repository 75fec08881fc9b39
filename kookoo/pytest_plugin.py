"""pytest fixtures for testing kookoo apps (registered through the ``pytest11`` entry point)."""

from __future__ import annotations
