"""Store URLs: the call store a URL names (what the ``store`` setting, ``KOOKOO_STORE``,
holds): ``sqlite:///file``, ``redis://host:6379/0``, ``memory://``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from kookoo.core.errors import ConfigError
from kookoo.state.stores.base import CallStore

__all__ = ["store_from_url"]

_STORE_FORMS = (
    "sqlite:///relative/file.sqlite3, sqlite:////absolute/file.sqlite3, "
    "redis://host:6379/0 (rediss:// for TLS), or memory://"
)
_COMMON_OPTIONS = {"ttl_seconds": float, "grace_seconds": float}


def _options(
    url: str, query: str, allowed: Mapping[str, Callable[[str], Any]], where: str
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key, raw in parse_qsl(query, keep_blank_values=True):
        if key not in allowed:
            names = ", ".join(sorted(allowed))
            raise ConfigError(f"{where}{url!r}: unknown option {key!r} (known: {names})")
        try:
            options[key] = allowed[key](raw)
        except ValueError:
            raise ConfigError(f"{where}{url!r}: option {key}={raw!r} is not a number") from None
    return options


def store_from_url(url: str, *, variable: str | None = None) -> CallStore:
    """The call store a URL names.

    - ``sqlite:///calls.sqlite3`` (relative to the working directory) or
      ``sqlite:////var/lib/ivr/calls.sqlite3`` (absolute; four slashes, as in SQLAlchemy) —
      a :class:`~kookoo.state.stores.SQLiteStore`; options ``busy_timeout``, ``ttl_seconds``,
      ``grace_seconds`` as query parameters.
    - ``redis://[:password@]host:6379/0``, ``rediss://...`` or ``unix:///path.sock`` — a
      :class:`~kookoo.state.stores.RedisStore`; ``prefix``, ``kv_prefix``, ``ttl_seconds`` and
      ``grace_seconds``
      are taken out of the query, the rest (``socket_timeout=...``) goes to redis-py.
    - ``memory://`` — a :class:`~kookoo.state.stores.MemoryStore` (one process: tests only).

    Args:
        url: the URL.
        variable: where it came from (``"KOOKOO_STORE"``), named in errors and in the
            store's :attr:`~kookoo.state.stores.CallStore.name`.

    Raises:
        ConfigError: an unknown scheme, a missing path, an unknown option.

    >>> store_from_url("sqlite:////var/lib/ivr/calls.sqlite3").path
    '/var/lib/ivr/calls.sqlite3'
    """
    where = f"{variable}=" if variable else "store URL "
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    suffix = f" (from {variable})" if variable else ""
    if scheme == "memory":
        from kookoo.state.stores.memory import MemoryStore

        if parts.netloc or parts.path not in ("", "/"):
            raise ConfigError(f"{where}{url!r}: memory:// takes no host or path")
        store: CallStore = MemoryStore(**_options(url, parts.query, _COMMON_OPTIONS, where))
    elif scheme == "sqlite":
        from kookoo.state.stores.sqlite import SQLiteStore

        # sqlite:///x -> "x" (relative); sqlite:////x -> "/x" (absolute).
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if parts.netloc or not path or path.endswith("/"):
            raise ConfigError(
                f"{where}{url!r}: give the database file, e.g. "
                "sqlite:////var/lib/ivr/calls.sqlite3 (absolute) or sqlite:///calls.sqlite3"
            )
        allowed = {**_COMMON_OPTIONS, "busy_timeout": float}
        store = SQLiteStore(path, **_options(url, parts.query, allowed, where))
    elif scheme in ("redis", "rediss", "unix"):
        from kookoo.state.stores.redis_store import RedisStore

        kept: list[tuple[str, str]] = []
        options: dict[str, Any] = {}
        for key, raw in parse_qsl(parts.query, keep_blank_values=True):
            if key in ("prefix", "kv_prefix"):
                options[key] = raw
            elif key in _COMMON_OPTIONS:
                options.update(_options(url, f"{key}={raw}", _COMMON_OPTIONS, where))
            else:
                kept.append((key, raw))
        rest = urlunsplit(parts._replace(query=urlencode(kept)))
        try:
            store = RedisStore(rest, **options)
        except ValueError as exc:  # an empty or overlapping prefix, a bad timeout
            raise ConfigError(f"{where}{_mask_url(url)!r}: {exc}") from None
    else:
        shown = _mask_url(url)
        raise ConfigError(f"{where}{shown!r}: unknown kind of store; give {_STORE_FORMS}")
    store.name += suffix
    return store


def _mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:****@{host}"))
