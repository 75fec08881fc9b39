"""One exception base: every exception class kookoo defines is a kookoo.KooKooError, and keeps
the built-in base it had (``except ValueError`` still catches an XMLValueError)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import kookoo
from kookoo import KooKooError


def public_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(kookoo.__path__, "kookoo."):
        if info.name == "kookoo.stream.pipecat":  # needs the pipecat extra
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[f"{module.__name__}.{name}"] = value
    return [found[key] for key in sorted(found)]


@pytest.mark.parametrize("error", public_exceptions(), ids=lambda e: e.__qualname__)
def test_every_public_exception_is_a_kookoo_error(error: type[BaseException]) -> None:
    assert issubclass(error, KooKooError)


def test_the_search_finds_the_errors_users_catch() -> None:
    names = {e.__name__ for e in public_exceptions()}
    assert {
        "ConflictError",
        "StoreUnavailableError",
        "XMLValueError",
        "EventParseError",
        "CallStateError",
        "ConfigError",
        "SignatureError",
        "OutboundError",
        "SimulatorError",
        "StreamTokenError",
    } <= names


def test_errors_keep_their_builtin_bases() -> None:
    assert issubclass(kookoo.XMLValueError, ValueError)
    assert issubclass(kookoo.CallStateError, TypeError)
    assert issubclass(kookoo.ConfigError, ValueError)
    from kookoo.testing.transport import TransportError

    assert issubclass(TransportError, OSError)
    assert isinstance(TransportError("x"), OSError)
