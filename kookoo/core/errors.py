"""The one base of every error kookoo raises, and the error of a setting that cannot be used.

Every exception class kookoo defines derives from :class:`KooKooError`, and so do the
errors of setting an app up (:class:`SetupError`, :class:`ConfigError`): catch it to catch
anything kookoo raised on purpose. Each also keeps the built-in base it always had
(``XMLValueError`` is a ``ValueError``, ``TransportError`` an ``OSError``), so
``except ValueError`` still works. An argument of the wrong Python type is a ``TypeError``,
as in the standard library.

>>> from kookoo import KooKooError, XMLValueError
>>> issubclass(XMLValueError, KooKooError) and issubclass(XMLValueError, ValueError)
True
"""

from __future__ import annotations

__all__ = ["ConfigError", "KooKooError", "SetupError"]


class KooKooError(Exception):
    """Base class of every exception kookoo raises."""


class ConfigError(KooKooError, ValueError):
    """A setting or a registration cannot be used; the message names the variable (or
    argument, or route) and the value."""


class SetupError(KooKooError, RuntimeError):
    """An app is set up in a way it cannot serve with, or too late: registration after its
    first request, handlers that keep call state in an app without a store, signed routes
    without a secret."""
