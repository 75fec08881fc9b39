"""The one loader of what a command line names: ``module:app``, ``path/to/file.py[:app]``, or
for the commands that talk HTTP (``call``, ``stream-call --app``) the URL of a running app.

The import itself is :mod:`kookoo.core.loading`'s; this module turns its failures into a
:class:`~kookoo.cli.common.UsageError` (exit status 2) whose message says what went wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from kookoo.cli.common import UsageError
from kookoo.core.loading import load_app

if TYPE_CHECKING:
    from kookoo.web.app import KooKoo

__all__ = ["is_url", "load_kookoo", "load_target"]

_T = TypeVar("_T")


def is_url(target: str) -> bool:
    """Whether TARGET is the http(s) URL of a running app rather than something to import.

    >>> is_url("https://ivr.example/kookoo"), is_url("shop.py:app")
    (True, False)
    """
    return target.startswith(("http://", "https://"))


@overload
def load_target(target: str) -> Callable[..., Any]: ...
@overload
def load_target(target: str, loader: Callable[[str], _T]) -> _T: ...


def load_target(target: str, loader: Callable[[str], Any] = load_app) -> Any:
    """Import what TARGET names with ``loader`` (default: the WSGI app of ``module:app`` or
    ``path/to/file.py[:app]``; ``stream-serve`` passes :func:`kookoo.stream.bots.load_bots`).

    Raises:
        UsageError: TARGET is malformed or names nothing (the loader's ``ValueError``), or
            importing it raised (a bug in the file: the message names the exception).
    """
    try:
        return loader(target)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except Exception as exc:
        raise UsageError(f"importing {target} failed: {type(exc).__name__}: {exc}") from exc


def load_kookoo(target: str) -> KooKoo:
    """The :class:`~kookoo.web.app.KooKoo` app TARGET names (``check``, ``config``).

    Raises:
        UsageError: it cannot be loaded, or is some other WSGI app.
    """
    from kookoo.web.app import KooKoo  # the web layer is heavy; `kookoo lint` does without

    app = load_target(target)
    if not isinstance(app, KooKoo):
        raise UsageError(f"{target} is not a kookoo app")
    return app
