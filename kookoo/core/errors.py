"""The one base of every error kookoo raises, and the error of a setting that cannot be used.

Catch :class:`KooKooError` to catch anything kookoo raised on purpose; each error also keeps
the built-in base it always had (``XMLValueError`` is a ``ValueError``, ``TransportError`` an
``OSError``), so ``except ValueError`` still works.

>>> from kookoo import KooKooError, XMLValueError
>>> issubclass(XMLValueError, KooKooError) and issubclass(XMLValueError, ValueError)
True
"""

from __future__ import annotations

__all__ = ["ConfigError", "KooKooError"]


class KooKooError(Exception):
    """Base class of every exception kookoo raises."""


class ConfigError(KooKooError, ValueError):
    """A setting cannot be used; the message names the variable (or argument) and the value."""
