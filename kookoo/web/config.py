"""Settings from ``KOOKOO_*`` environment variables, for every ``KooKoo(...)`` setting a
deployment changes, and a printable view of the settings in effect.

Explicit arguments win: ``KooKoo(debug=True)`` is in debug mode whatever ``KOOKOO_DEBUG``
says; an argument left out (``None``) is read from its variable, else it takes its default.
A variable that is set but empty counts as unset. A value that cannot be read raises
:class:`ConfigError` naming the variable, when the app is created (so gunicorn fails at boot,
not at the first call).

==========================  ======================  ==========================================
``KooKoo`` argument         variable                value
==========================  ======================  ==========================================
``store``                   ``KOOKOO_STORE``        a store URL (:func:`store_from_url`)
(the default SQLite file)   ``KOOKOO_DB``           a file path, as before
``fallback_prompt``         ``KOOKOO_FALLBACK_PROMPT``  text
``busy_prompt``             ``KOOKOO_BUSY_PROMPT``  text
``unavailable_prompt``      ``KOOKOO_UNAVAILABLE_PROMPT``  text
``debug``                   ``KOOKOO_DEBUG``        ``1``/``true``/``yes``/``on`` or ``0``/...
``max_query_bytes``         ``KOOKOO_MAX_QUERY_BYTES``  a whole number
``max_params``              ``KOOKOO_MAX_PARAMS``   a whole number
``conflict_retries``        ``KOOKOO_CONFLICT_RETRIES``  a whole number
``max_live_calls``          ``KOOKOO_MAX_LIVE_CALLS``  a whole number
``secret``                  ``KOOKOO_SECRET``       secrets, comma-separated (rotation)
``allow_ips``               ``KOOKOO_ALLOW_IPS``    CIDRs, comma-separated
``trusted_proxies``         ``KOOKOO_TRUSTED_PROXIES``  a whole number of proxy hops
``public_url``              ``KOOKOO_PUBLIC_URL``   ``https://ivr.example.in``
``trusted_hosts``           ``KOOKOO_TRUSTED_HOSTS``  host names, comma-separated
``health_path``             ``KOOKOO_HEALTH_PATH``  a path (``/healthz``); ``off`` for none
``metrics``                 ``KOOKOO_METRICS``      a yes/no, as for debug
``metrics_path``            ``KOOKOO_METRICS_PATH``  a path (``/metrics``)
(the default log handler)   ``KOOKOO_LOG_FORMAT``   ``text`` or ``json`` (:mod:`kookoo.web.logs`)
==========================  ======================  ==========================================

The security settings are read by :mod:`kookoo.web.security`; this module names them for the view.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from kookoo.core.errors import ConfigError
from kookoo.state.stores.base import CallStore

if TYPE_CHECKING:
    from kookoo.web.metrics import Metrics

__all__ = [
    "BUSY_PROMPT",
    "CONFLICT_RETRIES",
    "DEBUG",
    "FALLBACK_PROMPT",
    "HEALTH_PATH",
    "LOG_FORMAT",
    "MAX_LIVE_CALLS",
    "MAX_PARAMS",
    "MAX_QUERY_BYTES",
    "METRICS",
    "METRICS_PATH",
    "SETTINGS",
    "STORE_VARIABLE",
    "UNAVAILABLE_PROMPT",
    "ConfigError",
    "EffectiveSetting",
    "Setting",
    "describe",
    "format_settings",
    "metrics_from_settings",
    "parse_bool",
    "store_from_env",
    "store_from_url",
]

T = TypeVar("T")

STORE_VARIABLE = "KOOKOO_STORE"
"""The variable holding the store URL."""


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def parse_bool(raw: str) -> bool:
    """``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``, any case.

    >>> parse_bool("Yes"), parse_bool("0")
    (True, False)
    """
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("expected 1/true/yes/on or 0/false/no/off")


def _text(raw: str) -> str:
    return raw.strip()


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"expected a whole number (at least {minimum})") from None
        if value < minimum:
            raise ValueError(f"expected a whole number of at least {minimum}")
        return value

    return parse


def _path(raw: str) -> str:
    value = raw.strip()
    if value.lower() in ("off", "none"):
        return ""
    if not value.startswith("/"):
        raise ValueError("expected a path starting with '/' (or 'off')")
    return value.rstrip("/") or "/"


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One ``KooKoo(...)`` setting that a ``KOOKOO_*`` variable can give.

    Attributes:
        name: the ``KooKoo`` keyword argument.
        variable: the environment variable.
        default: the value when neither is given.
        parse: turns the variable's text into the value (raises ``ValueError``).
        doc: one line for ``kookoo config``.
    """

    name: str
    variable: str
    default: T
    parse: Callable[[str], T]
    doc: str

    def from_env(self, environ: Mapping[str, str] | None = None) -> T | None:
        """The variable's value, or ``None`` when it is unset or empty.

        Raises:
            ConfigError: the value cannot be read; the message names the variable.
        """
        raw = (os.environ if environ is None else environ).get(self.variable, "")
        if not raw.strip():
            return None
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{self.variable}={raw!r}: {exc}") from None

    def resolve(self, given: T | None, environ: Mapping[str, str] | None = None) -> T:
        """``given`` if it is not ``None``, else the variable's value, else the default."""
        if given is not None:
            return given
        value = self.from_env(environ)
        return self.default if value is None else value


FALLBACK_PROMPT = Setting(
    "fallback_prompt",
    "KOOKOO_FALLBACK_PROMPT",
    "Sorry, something went wrong. Please call again later.",
    _text,
    "what a caller hears when a handler fails",
)
BUSY_PROMPT = Setting(
    "busy_prompt",
    "KOOKOO_BUSY_PROMPT",
    "All our lines are busy. Please call again in a few minutes.",
    _text,
    "what a caller hears when max_live_calls is reached",
)
UNAVAILABLE_PROMPT = Setting(
    "unavailable_prompt",
    "KOOKOO_UNAVAILABLE_PROMPT",
    "Sorry, this service is temporarily unavailable. Please call again in a few minutes.",
    _text,
    "what a caller hears when the call store is down",
)
DEBUG = Setting("debug", "KOOKOO_DEBUG", False, parse_bool, "lint every reply strictly")
MAX_QUERY_BYTES = Setting(
    "max_query_bytes", "KOOKOO_MAX_QUERY_BYTES", 8192, _whole(1), "longest query string"
)
MAX_PARAMS = Setting("max_params", "KOOKOO_MAX_PARAMS", 64, _whole(1), "most parameters")
CONFLICT_RETRIES = Setting(
    "conflict_retries", "KOOKOO_CONFLICT_RETRIES", 1, _whole(0), "re-runs after a lost race"
)
MAX_LIVE_CALLS: Setting[int | None] = Setting(
    "max_live_calls", "KOOKOO_MAX_LIVE_CALLS", None, _whole(1), "most calls live at once"
)
HEALTH_PATH = Setting(
    "health_path", "KOOKOO_HEALTH_PATH", "/healthz", _path, "the health check's path"
)
METRICS = Setting("metrics", "KOOKOO_METRICS", False, parse_bool, "Prometheus metrics")
METRICS_PATH = Setting(
    "metrics_path", "KOOKOO_METRICS_PATH", "/metrics", _path, "where metrics are scraped"
)


def _log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("text", "json"):
        raise ValueError("give text or json")
    return value


LOG_FORMAT = Setting(
    "log_format", "KOOKOO_LOG_FORMAT", "text", _log_format, "the default log handler's format"
)
"""Read by :mod:`kookoo.web.logs` (not a ``KooKoo`` argument); the app checks it when created."""

SETTINGS: tuple[Setting[Any], ...] = (
    FALLBACK_PROMPT,
    BUSY_PROMPT,
    UNAVAILABLE_PROMPT,
    DEBUG,
    MAX_QUERY_BYTES,
    MAX_PARAMS,
    CONFLICT_RETRIES,
    MAX_LIVE_CALLS,
    HEALTH_PATH,
    METRICS,
    METRICS_PATH,
)
"""The plain settings this module reads (the store and the security settings aside)."""


def metrics_from_settings(given: bool | None) -> Metrics | None:
    """A :class:`~kookoo.web.metrics.Metrics` when ``given`` (else ``KOOKOO_METRICS``) says so;
    ``None`` (and nothing imported) otherwise."""
    if not METRICS.resolve(given):
        return None
    from kookoo.web.metrics import Metrics

    return Metrics()


# -- the store ----------------------------------------------------------------------------------

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
      :class:`~kookoo.state.stores.RedisStore`; ``prefix``, ``ttl_seconds`` and ``grace_seconds``
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
            if key == "prefix":
                options["prefix"] = raw
            elif key in _COMMON_OPTIONS:
                options.update(_options(url, f"{key}={raw}", _COMMON_OPTIONS, where))
            else:
                kept.append((key, raw))
        rest = urlunsplit(parts._replace(query=urlencode(kept)))
        store = RedisStore(rest, **options)
    else:
        shown = _mask_url(url)
        raise ConfigError(f"{where}{shown!r}: unknown kind of store; give {_STORE_FORMS}")
    store.name += suffix
    return store


def store_from_env(environ: Mapping[str, str] | None = None) -> CallStore | None:
    """The store ``KOOKOO_STORE`` names, or ``None`` when it is unset (then the app uses its
    default SQLite store, whose file ``KOOKOO_DB`` chooses).

    Raises:
        ConfigError: a bad URL, or both ``KOOKOO_STORE`` and ``KOOKOO_DB`` set (which one
            was meant cannot be told).
    """
    env = os.environ if environ is None else environ
    url = env.get(STORE_VARIABLE, "").strip()
    if not url:
        return None
    if env.get("KOOKOO_DB", "").strip():
        raise ConfigError(
            f"both {STORE_VARIABLE} and KOOKOO_DB are set; set only one "
            f"(KOOKOO_DB=/path is {STORE_VARIABLE}=sqlite:////path)"
        )
    return store_from_url(url, variable=STORE_VARIABLE)


def _mask_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:****@{host}"))


# -- the view -----------------------------------------------------------------------------------


class EffectiveSetting(NamedTuple):
    """One line of :func:`describe`."""

    name: str
    """The setting (the ``KooKoo`` argument)."""
    value: str
    """Its value in effect, printable; secrets are masked."""
    source: str
    """``"argument"``, the variable it came from, or ``"default"``."""


def _source(value: object, setting: Setting[Any], env: Mapping[str, str]) -> str:
    try:
        from_env = setting.from_env(env)
    except ConfigError:
        from_env = None
    if from_env is not None and from_env == value:
        return setting.variable
    if value == setting.default:
        return "default"
    return "argument"


def _security_source(given: bool, variable: str, env: Mapping[str, str]) -> str:
    if not given:
        return "default"
    return variable if env.get(variable, "").strip() else "argument"


def describe(app: Any, environ: Mapping[str, str] | None = None) -> list[EffectiveSetting]:
    """The settings in effect in ``app`` (a :class:`~kookoo.KooKoo`), with where each came
    from. Never creates the store; secrets are shown as ``****`` with their count.

    A value equal to its variable's counts as coming from the variable, one equal to the
    default as the default, anything else as an argument.
    """
    env = os.environ if environ is None else environ
    rows = [_describe_store(app, env)]
    for setting in SETTINGS:
        if not hasattr(app, setting.name):
            continue
        value = getattr(app, setting.name)
        shown = "off" if value in ("", None) and setting.name.endswith("_path") else value
        rows.append(EffectiveSetting(setting.name, repr_value(shown), _source(value, setting, env)))
    guard = getattr(app, "guard", None)
    if guard is not None:
        secret = guard.secret
        count = len(secret.secrets) if secret is not None else 0
        rows.append(
            EffectiveSetting(
                "secret",
                f"**** ({count} secret{'s' if count != 1 else ''})" if count else "off",
                _security_source(bool(count), "KOOKOO_SECRET", env),
            )
        )
        allow = guard.allow_list
        nets = ", ".join(str(n) for n in allow.networks) if allow is not None else "off"
        rows.append(
            EffectiveSetting(
                "allow_ips", nets, _security_source(allow is not None, "KOOKOO_ALLOW_IPS", env)
            )
        )
        rows.append(
            EffectiveSetting(
                "trusted_proxies",
                str(guard.trusted_proxies),
                _security_source(guard.trusted_proxies != 0, "KOOKOO_TRUSTED_PROXIES", env),
            )
        )
    resolver = getattr(app, "url_resolver", None)
    if resolver is not None:
        rows.append(
            EffectiveSetting(
                "public_url",
                resolver.public_url or "off",
                _security_source(bool(resolver.public_url), "KOOKOO_PUBLIC_URL", env),
            )
        )
        from kookoo.web.security import DEFAULT_TRUSTED_HOSTS

        hosts = tuple(resolver.trusted_hosts)
        rows.append(
            EffectiveSetting(
                "trusted_hosts",
                ", ".join(hosts),
                _security_source(hosts != DEFAULT_TRUSTED_HOSTS, "KOOKOO_TRUSTED_HOSTS", env),
            )
        )
    log_format = env.get("KOOKOO_LOG_FORMAT", "").strip() or "text"
    rows.append(
        EffectiveSetting(
            "log_format",
            log_format,
            "KOOKOO_LOG_FORMAT" if env.get("KOOKOO_LOG_FORMAT", "").strip() else "default",
        )
    )
    return rows


def repr_value(value: object) -> str:
    """How the view prints a value: text quoted, others as they are."""
    return repr(value) if isinstance(value, str) and value != "off" else str(value)


def _describe_store(app: Any, env: Mapping[str, str]) -> EffectiveSetting:
    store = app.store_if_created
    if store is not None:
        source = STORE_VARIABLE if store.name.endswith(f"(from {STORE_VARIABLE})") else "argument"
        if "(from KOOKOO_DB)" in store.name:
            source = "KOOKOO_DB"
        return EffectiveSetting("store", store.name, source)
    if not app.uses_default_store:
        return EffectiveSetting("store", "none (store=False: no call state)", "argument")
    from kookoo.state.stores.sqlite import SQLiteStore

    path = os.path.abspath(env.get("KOOKOO_DB", "").strip() or SQLiteStore.default_path())
    source = "KOOKOO_DB" if env.get("KOOKOO_DB", "").strip() else "default"
    return EffectiveSetting("store", f"SQLite database {path}", source)


def format_settings(rows: list[EffectiveSetting]) -> str:
    """The rows of :func:`describe` as text, one setting a line: name, value, ``[source]``.

    >>> print(format_settings([EffectiveSetting("debug", "False", "default")]))
    debug  False  [default]
    """
    width = max((len(r.name) for r in rows), default=0)
    return "\n".join(f"{r.name.ljust(width)}  {r.value}  [{r.source}]" for r in rows)
