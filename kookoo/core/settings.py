"""The one table of kookoo's settings, and the only code that reads ``KOOKOO_*`` variables.

Each field of :class:`Settings` is one setting, declared once: its name (the ``KooKoo(...)``
keyword), type, ``KOOKOO_*`` variable, parser, default and a line of documentation.
:meth:`Settings.from_environ` reads them once; the app keeps the result as ``app.settings``,
and ``kookoo config TARGET`` prints it with where each value came from.

Explicit arguments win: ``KooKoo(debug=True)`` is in debug mode whatever ``KOOKOO_DEBUG``
says; a setting left out (``None``) is read from its variable, else it takes its default. A
variable that is set but empty counts as unset. A value that cannot be read raises
:class:`~kookoo.core.errors.ConfigError` naming the variable when the settings are read (so
gunicorn fails at boot, not at the first call).

>>> settings = Settings.from_environ({"KOOKOO_MAX_PARAMS": "10"}, debug=True)
>>> settings.max_params, settings.debug, settings.sources["max_params"]
(10, True, 'KOOKOO_MAX_PARAMS')
>>> [(s.name, s.variable) for s in SETTINGS][:2]
[('store', 'KOOKOO_STORE'), ('db', 'KOOKOO_DB')]
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from kookoo.core.errors import ConfigError

__all__ = [
    "DEFAULT_TRUSTED_HOSTS",
    "SETTINGS",
    "EffectiveSetting",
    "Setting",
    "Settings",
    "format_settings",
    "parse_bool",
]

T = TypeVar("T")

DEFAULT_TRUSTED_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1", "[::1]")
"""Hosts relative URLs may be resolved against when neither ``public_url`` nor
``trusted_hosts`` is set: loopback only, so development and tests work and a production app
gets a clear error instead of trusting whatever ``Host`` header arrived."""

# -- parsers: text from a variable -> the value (ValueError says what was expected) ----------

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


def _optional_text(raw: str) -> str | None:
    return raw.strip() or None


def _as_given(raw: str) -> str | None:
    # Kept as set (spaces too), for a value whose user checks it and says what is wrong.
    return raw


def _items(raw: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    if not items:
        raise ValueError("holds only commas; give at least one value")
    return items


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


def _log_format(raw: str) -> str:
    value = raw.strip().lower()
    if value not in ("text", "json"):
        raise ValueError("give text or json")
    return value


# -- the table ---------------------------------------------------------------------------------

_NO_ITEMS: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Setting(Generic[T]):
    """One row of the table: how a setting is read and shown.

    Attributes:
        name: the ``KooKoo`` keyword argument and the :class:`Settings` attribute.
        variable: the ``KOOKOO_*`` environment variable.
        parse: turns the variable's text into the value (raises ``ValueError``).
        default: the value when neither an argument nor the variable gives one.
        doc: one line for ``kookoo config`` and the docs.
        minimum: for whole numbers, the least value an argument may have too.
        secret: masked wherever it is shown.
    """

    name: str
    variable: str
    parse: Callable[[str], T]
    default: T
    doc: str
    minimum: int | None = None
    secret: bool = False

    def from_environ(self, environ: Mapping[str, str] | None = None) -> T | None:
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
            shown = "****" if self.secret else repr(raw)
            raise ConfigError(f"{self.variable}={shown}: {exc}") from None

    def check(self, value: T) -> T:
        """An argument given for this setting, checked as the variable's text would be.

        Raises:
            ConfigError: a whole number below :attr:`minimum`.
        """
        if self.minimum is not None and isinstance(value, int) and value < self.minimum:
            raise ConfigError(f"{self.name} must be at least {self.minimum}, got {value}")
        return value

    def show(self, value: object) -> str:
        """How ``kookoo config`` prints ``value``: text quoted, secrets masked, empty as off."""
        if self.secret:
            if not value:
                return "off"
            count = len(value) if isinstance(value, tuple) else 1
            return f"**** ({count} secret{'s' if count != 1 else ''})"
        if value in (None, "", ()):
            return "off"
        if isinstance(value, tuple):
            return ", ".join(str(v) for v in value)
        return repr(value) if isinstance(value, str) else str(value)


def _setting(
    variable: str,
    parse: Callable[[str], T],
    default: T,
    doc: str,
    *,
    minimum: int | None = None,
    secret: bool = False,
) -> Any:
    # A dataclass field carrying its row of the table (the name is the field's).
    row = {"variable": variable, "parse": parse, "default": default, "doc": doc}
    row.update(minimum=minimum, secret=secret)
    return dataclasses.field(default=default, metadata={"kookoo.setting": row})


@dataclass(frozen=True, slots=True)
class Settings:
    """The settings in effect, read once (:meth:`from_environ`); each field is a setting.

    Attributes:
        sources: where each value came from: ``"argument"``, its variable, or ``"default"``.
    """

    store: str | None = _setting(
        "KOOKOO_STORE",
        _optional_text,
        None,
        "where call state lives: sqlite:///file, redis://host:6379/0 or memory://",
    )
    db: str | None = _setting("KOOKOO_DB", _optional_text, None, "the default SQLite store's file")
    secret: tuple[str, ...] = _setting(
        "KOOKOO_SECRET",
        _items,
        _NO_ITEMS,
        "the secret(s) every request must carry, comma-separated for rotation",
        secret=True,
    )
    allow_ips: tuple[str, ...] = _setting(
        "KOOKOO_ALLOW_IPS", _items, _NO_ITEMS, "only these networks (CIDRs, comma-separated) get in"
    )
    trusted_proxies: int = _setting(
        "KOOKOO_TRUSTED_PROXIES", _whole(0), 0, "proxy hops whose X-Forwarded-* are believed"
    )
    public_url: str | None = _setting(
        "KOOKOO_PUBLIC_URL", _optional_text, None, "the URL KooKoo reaches the app's root at"
    )
    trusted_hosts: tuple[str, ...] = _setting(
        "KOOKOO_TRUSTED_HOSTS",
        _items,
        DEFAULT_TRUSTED_HOSTS,
        "Host values relative URLs may be resolved against (without public_url)",
    )
    fallback_prompt: str = _setting(
        "KOOKOO_FALLBACK_PROMPT",
        _text,
        "Sorry, something went wrong. Please call again later.",
        "what a caller hears when a handler fails",
    )
    busy_prompt: str = _setting(
        "KOOKOO_BUSY_PROMPT",
        _text,
        "All our lines are busy. Please call again in a few minutes.",
        "what a caller hears when max_live_calls is reached",
    )
    unavailable_prompt: str = _setting(
        "KOOKOO_UNAVAILABLE_PROMPT",
        _text,
        "Sorry, this service is temporarily unavailable. Please call again in a few minutes.",
        "what a caller hears when the call store is down",
    )
    debug: bool = _setting("KOOKOO_DEBUG", parse_bool, False, "lint every reply strictly")
    max_query_bytes: int = _setting(
        "KOOKOO_MAX_QUERY_BYTES", _whole(1), 8192, "longest query string", minimum=1
    )
    max_params: int = _setting("KOOKOO_MAX_PARAMS", _whole(1), 64, "most parameters", minimum=1)
    conflict_retries: int = _setting(
        "KOOKOO_CONFLICT_RETRIES", _whole(0), 1, "re-runs after a lost race", minimum=0
    )
    max_live_calls: int | None = _setting(
        "KOOKOO_MAX_LIVE_CALLS", _whole(1), None, "most calls live at once", minimum=1
    )
    health_path: str = _setting(
        "KOOKOO_HEALTH_PATH", _path, "/healthz", "the health check's path ('off' for none)"
    )
    metrics: bool = _setting("KOOKOO_METRICS", parse_bool, False, "Prometheus metrics")
    metrics_path: str = _setting(
        "KOOKOO_METRICS_PATH", _path, "/metrics", "where metrics are scraped"
    )
    log_format: str = _setting(
        "KOOKOO_LOG_FORMAT", _log_format, "text", "the default log handler's format: text, json"
    )
    api_key: str | None = _setting(
        "KOOKOO_API_KEY",
        _as_given,
        None,
        "the outbound API's key (kookoo.outbound.Client)",
        secret=True,
    )
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str] | None = None,
        /,
        *,
        only: Sequence[str] | None = None,
        **arguments: Any,
    ) -> Settings:
        """Read the settings: each argument that is not ``None``, else its variable in
        ``environ`` (default ``os.environ``), else its default.

        Args:
            environ: where the variables are (default ``os.environ``).
            only: read only these settings' variables (the others take their defaults), for
                code that needs one value, e.g. ``Settings.from_environ(only=["db"]).db``.
            arguments: values given in code, by setting name.

        Raises:
            ConfigError: a variable that cannot be read (naming it), an argument out of
                range.
            TypeError: an argument that names no setting.
        """
        env = os.environ if environ is None else environ
        unknown = set(arguments) - set(_ROWS) or set(only or ()) - set(_ROWS)
        if unknown:
            raise TypeError(f"no such setting: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for setting in SETTINGS:
            name = setting.name
            given = arguments.get(name)
            if given is not None:
                values[name], sources[name] = setting.check(given), "argument"
                continue
            found = setting.from_environ(env) if only is None or name in only else None
            if found is not None:
                values[name], sources[name] = found, setting.variable
            else:
                sources[name] = "default"
        return cls(**values, sources=sources)

    def describe(self) -> list[EffectiveSetting]:
        """Every setting's value (printable, secrets masked) and where it came from."""
        return [
            EffectiveSetting(
                s.name, s.show(getattr(self, s.name)), self.sources.get(s.name, "default")
            )
            for s in SETTINGS
        ]


def _rows() -> dict[str, Setting[Any]]:
    rows: dict[str, Setting[Any]] = {}
    for f in dataclasses.fields(Settings):
        row = f.metadata.get("kookoo.setting")
        if row is not None:
            rows[f.name] = Setting(name=f.name, **row)
    return rows


_ROWS = _rows()

SETTINGS: tuple[Setting[Any], ...] = tuple(_ROWS.values())
"""The table: one :class:`Setting` per field of :class:`Settings`, in order."""


class EffectiveSetting(NamedTuple):
    """One line of :meth:`Settings.describe` and ``kookoo config``."""

    name: str
    """The setting (the ``KooKoo`` argument)."""
    value: str
    """Its value in effect, printable; secrets are masked."""
    source: str
    """``"argument"``, the variable it came from, or ``"default"``."""


def format_settings(rows: Sequence[EffectiveSetting]) -> str:
    """Rows as text, one setting a line: name, value, ``[source]``.

    >>> print(format_settings([EffectiveSetting("debug", "False", "default")]))
    debug  False  [default]
    """
    width = max((len(r.name) for r in rows), default=0)
    return "\n".join(f"{r.name.ljust(width)}  {r.value}  [{r.source}]" for r in rows)
