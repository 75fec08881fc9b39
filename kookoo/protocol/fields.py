"""Event fields declared once: their KooKoo parameters, how they are read and written back.

An event class (:mod:`kookoo.protocol.events`) declares each typed field with :func:`param`,
naming the request parameter(s) KooKoo sends it in and the :class:`Reader` that types it::

    duration_seconds: int | None = param("record_duration", "duration", read=fields.seconds)

That one declaration is all there is: :func:`read_fields` (the generic reader behind
:func:`~kookoo.protocol.events.parse_event`) builds any event from a request by it, and
:func:`write_fields` (behind :func:`~kookoo.protocol.events.request_params`) writes the
parameters KooKoo would send for typed values.  Values KooKoo only sometimes repeats (the caller
on ``GotDTMF``) are :class:`Repeated` attributes, declared the same way but read when asked for,
so that parsing costs nothing for apps that do not ask.

The readers are lenient, because a refused request ends a live call: an empty value is
``None``, whitespace is stripped, a ``#`` terminator is trimmed from digits, ``-1`` and ``null``
are "no URL", a URL or text encoded twice is decoded once more, a duration may be ``20``,
``7.5`` or ``20s``; a value that cannot be typed is ``None`` (durations also log a warning on
the ``kookoo.events`` logger).  The writers take the field's type, or a ``str`` that is sent as
given (to write what KooKoo may send, ``"42#"`` or ``"20s"``); ``None`` writes KooKoo's marker
for "no value" where it has one (``-1`` for a URL, ``none`` for ``process``) and nothing
otherwise.  A typed value no request could give back (a negative duration, a
:class:`~kookoo.protocol.phone.PhoneNumber` whose national form is not its raw value's) is
refused with :class:`ValueError`.

>>> from kookoo.protocol.events import Record
>>> params_of(Record)["duration_seconds"].names
('record_duration', 'duration')
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Generic, Protocol, Self, TypeVar, overload
from urllib.parse import quote_plus, unquote, unquote_plus

from kookoo.protocol.phone import PhoneNumber, normalize_indian_number
from kookoo.protocol.times import format_time, parse_time

__all__ = [
    "METADATA_KEY",
    "Param",
    "Reader",
    "Repeated",
    "Source",
    "Where",
    "caller",
    "decoded",
    "digits",
    "ist_time",
    "param",
    "params_of",
    "phone",
    "process",
    "read_fields",
    "repeated_caller",
    "seconds",
    "text",
    "url",
    "write_fields",
]

T = TypeVar("T")
E = TypeVar("E")

_log = logging.getLogger("kookoo.events")

METADATA_KEY = "kookoo"
"""The key of a field's :class:`Param` in its ``dataclasses.field`` metadata."""

# Whole seconds, optionally with a fraction and a unit ("20", "20.0", "7.5", "20s", "20 sec").
# At most 12 digits (over 30,000 years): longer values are nonsense, and int() refuses strings
# over 4,300 digits with an error of its own.
_SECONDS = re.compile(
    r"([0-9]{1,12})(?:\.([0-9]{1,9}))?\s*(?:s|secs?|seconds?)?", re.ASCII | re.IGNORECASE
)
_MAX_SECONDS = 10**12 - 1
# KooKoo's (and its Java/PHP stacks') ways of writing "no value" where a URL belongs.
_NO_URL = frozenset({"-1", "null"})
# Longest value echoed back in a log or error message.
_MAX_ECHO = 60


Where = tuple[str, str]
"""The event's name and the call's sid, for a reader's log messages."""


class Source(Protocol):
    """What a :class:`Repeated` attribute reads from: an event, with its raw parameters."""

    @property
    def name(self) -> str:
        """The event's name, for log messages (``"Hangup"``)."""
        ...

    @property
    def sid(self) -> str:
        """The call's sid, for log messages."""
        ...

    @property
    def params(self) -> Mapping[str, str]:
        """The raw request parameters (first value of each)."""
        ...


_ReadFunction = Callable[[Mapping[str, str], tuple[str, ...], Where], Any]
_WriteFunction = Callable[[Any, tuple[str, ...]], list[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class Reader(Generic[T]):
    """How one kind of field is read from KooKoo's parameters and written back.

    Attributes:
        name: a label for messages (``"seconds"``).
        read: ``read(params, names, where)``: the typed value from the first of ``names``
            present in the request's ``params`` (``None`` when absent or not typeable;
            readers never raise); ``where`` is the event's name and sid, for log messages.
        write: ``write(value, names)``: the ``(parameter, value)`` pairs KooKoo sends for
            ``value`` (a ``T``, a ``str`` sent as given, or ``None``).
    """

    name: str
    read: Callable[[Mapping[str, str], tuple[str, ...], Where], T | None]
    write: Callable[[T | str | None, tuple[str, ...]], list[tuple[str, str]]]

    def __repr__(self) -> str:
        return f"<Reader {self.name}>"


@dataclass(frozen=True, slots=True)
class Param:
    """The KooKoo side of one event field, kept in the field's metadata.

    Attributes:
        names: the request parameters the value is read from, first present wins; the first
            is the one written.
        reader: how the value is typed and written.
        when: for an event's leftovers (``Hangup``): read only when the request's
            ``process`` is this value (compared case-insensitively); writing the field
            implies that ``process``.
    """

    names: tuple[str, ...]
    reader: Reader[Any]
    when: str | None = None


# -- readers ------------------------------------------------------------------------------------


def _shorten(value: str) -> str:
    return value if len(value) <= _MAX_ECHO else value[:_MAX_ECHO] + "..."


def _read_text(params: Mapping[str, str], names: tuple[str, ...], where: Where) -> str | None:
    # KooKoo and hand-made URLs send "key=" for "no value"; treat it like an absent key.
    value = params.get(names[0], "").strip()
    return value or None


def _read_decoded(params: Mapping[str, str], names: tuple[str, ...], where: Where) -> str | None:
    value = params.get(names[0])
    return None if value is None else unquote_plus(value.strip()).strip()


def _read_url(params: Mapping[str, str], names: tuple[str, ...], where: Where) -> str | None:
    value = params.get(names[0], "").strip()
    # "-1" is KooKoo's marker for "no recording"; "null" is what a Java or JS stack writes
    # for a missing value.
    if not value or value.casefold() in _NO_URL:
        return None
    if "://" not in value and "://" in unquote(value):
        value = unquote(value)
    return value


def _read_digits(params: Mapping[str, str], names: tuple[str, ...], where: Where) -> str | None:
    # An empty data is an answer (no keys pressed); no data at all is unknown.
    value = params.get(names[0])
    if value is None:
        return None
    value = value.strip()
    while True:
        trimmed = value.removesuffix("#").removesuffix("%23").rstrip()
        if trimmed == value:
            return value
        value = trimmed


def _read_process(params: Mapping[str, str], names: tuple[str, ...], where: Where) -> str | None:
    value = params.get(names[0], "").strip()
    return None if not value or value.casefold() == "none" else value


def _read_seconds(params: Mapping[str, str], names: tuple[str, ...], where: Where) -> int | None:
    for name in names:
        value = params.get(name, "").strip()
        if not value:
            continue
        match = _SECONDS.fullmatch(value)
        if match is not None:
            whole, fraction = match.groups()
            # To the nearest second, halves up: "7.5" is 8, "20.0" is 20.
            return int(whole) + (fraction is not None and fraction[0] >= "5")
        # KooKoo uses -1 for "no value" in data; read it the same way for durations.
        if value != "-1":
            _log.warning(
                "%s request %s: parameter %r is not a number of seconds (%r); "
                "it is reported as unknown and kept in params",
                where[0],
                where[1],
                name,
                _shorten(value),
            )
    return None


# Parsed numbers by their text: the called DID repeats on every call, a caller on each of
# their calls. PhoneNumber is immutable, so sharing one is safe; the cache is emptied when full.
_PHONES: dict[str, PhoneNumber] = {}
_PHONES_MAX = 4096


def _phone(params: Mapping[str, str], key: str) -> PhoneNumber | None:
    value = params.get(key, "").strip()
    if not value:
        return None
    number = _PHONES.get(value)
    if number is None:
        number = PhoneNumber.parse(value)
        if len(_PHONES) >= _PHONES_MAX:
            _PHONES.clear()
        _PHONES[value] = number
    return number


def _read_phone(
    params: Mapping[str, str], names: tuple[str, ...], where: Where
) -> PhoneNumber | None:
    return _phone(params, names[0])


def _read_caller(
    params: Mapping[str, str], names: tuple[str, ...], where: Where
) -> PhoneNumber | None:
    # cid, and the national number from cid_e164 when cid is not a recognisable Indian one.
    cid, e164 = _phone(params, names[0]), _phone(params, names[1])
    if cid is None:
        return e164
    if cid.national is None and e164 is not None and e164.national is not None:
        return PhoneNumber(raw=cid.raw, national=e164.national)
    return cid


def _read_time(params: Mapping[str, str], names: tuple[str, ...], where: Where) -> datetime | None:
    value = params.get(names[0], "").strip()
    return parse_time(value) if value else None


# -- writers ------------------------------------------------------------------------------------


def _expect(value: object, kind: type | tuple[type, ...], what: str) -> None:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {what} or a str as sent, got {value!r}")


def _write_text(value: str | None, names: tuple[str, ...]) -> list[tuple[str, str]]:
    if value is None:
        return []
    _expect(value, str, "a str")
    return [(names[0], value)]


def _write_decoded(value: str | None, names: tuple[str, ...]) -> list[tuple[str, str]]:
    if value is None:
        return []
    _expect(value, str, "a str")
    # KooKoo encodes these twice; a text that decodes to itself reads the same either way, so
    # it is sent readable ("my balance", not "my+balance").
    return [(names[0], value if unquote_plus(value) == value else quote_plus(value))]


def _write_url(value: str | None, names: tuple[str, ...]) -> list[tuple[str, str]]:
    if value is None:
        return [(names[0], "-1")]  # KooKoo's "no recording"
    _expect(value, str, "a URL")
    return [(names[0], value)]


def _write_process(value: str | None, names: tuple[str, ...]) -> list[tuple[str, str]]:
    if value is None:
        return [(names[0], "none")]  # KooKoo's "nothing was running"
    _expect(value, str, "a str")
    return [(names[0], value)]


def _write_seconds(value: int | str | None, names: tuple[str, ...]) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [(names[0], value)]
    _expect(value, int, "whole seconds (an int)")
    if not 0 <= value <= _MAX_SECONDS:
        raise ValueError(f"seconds must be 0 to {_MAX_SECONDS} (None for unknown), got {value}")
    return [(names[0], str(value))]


def _number_text(value: PhoneNumber) -> tuple[str, str | None]:
    """``value.raw`` checked to be sendable, and the national number it reads as alone."""
    raw = value.raw
    if not raw or raw != raw.strip():
        raise ValueError(f"{value!r} cannot be sent: an empty or padded number reads differently")
    return raw, normalize_indian_number(raw)


def _write_phone(value: PhoneNumber | str | None, names: tuple[str, ...]) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [(names[0], value)]
    _expect(value, PhoneNumber, "a PhoneNumber")
    raw, national = _number_text(value)
    if national != value.national:
        raise ValueError(f"{value!r} cannot be sent in {names[0]!r}: {raw!r} reads as {national!r}")
    return [(names[0], raw)]


def _caller_writer(always_e164: bool) -> _WriteFunction:
    def write(value: PhoneNumber | str | None, names: tuple[str, ...]) -> list[tuple[str, str]]:
        if value is None:
            return []
        cid, e164 = names
        if isinstance(value, str):
            raw, national = value, normalize_indian_number(value)
            needs_e164 = False
        else:
            _expect(value, PhoneNumber, "a PhoneNumber")
            raw, own = _number_text(value)
            national = value.national
            if own is not None and own != national:
                raise ValueError(f"{value!r} cannot be sent: {cid} {raw!r} reads as {own!r}")
            # A cid KooKoo could not make national carries its national form in cid_e164.
            needs_e164 = own is None and national is not None
        pairs = [(cid, raw)]
        if national is not None and (always_e164 or needs_e164):
            pairs.append((e164, "+91" + national))
        return pairs

    return write


def _write_time(value: datetime | str | None, names: tuple[str, ...]) -> list[tuple[str, str]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [(names[0], value)]
    _expect(value, datetime, "a datetime")
    return [(names[0], format_time(value))]


text: Reader[str] = Reader("text", _read_text, _write_text)
"""A string, stripped; empty is ``None``."""
decoded: Reader[str] = Reader("decoded", _read_decoded, _write_decoded)
"""A text KooKoo url-encodes twice (recognised speech, an SMS), decoded once more; empty is
``""`` (nothing said), absent is ``None``."""
url: Reader[str] = Reader("url", _read_url, _write_url)
"""A URL; empty, ``-1`` and ``null`` are ``None``; a URL encoded twice is decoded once more.
``None`` is written as KooKoo's ``-1``."""
digits: Reader[str] = Reader("digits", _read_digits, _write_text)
"""DTMF keys with the ``#`` terminator (also ``%23``) and whitespace trimmed; empty is ``""``
(nothing pressed), absent is ``None``."""
process: Reader[str] = Reader("process", _read_process, _write_process)
"""What was running (``collectdtmf``, ``dial``, ...); KooKoo's ``none`` is ``None`` and
``None`` is written as ``none``."""
seconds: Reader[int] = Reader("seconds", _read_seconds, _write_seconds)
"""A duration in whole seconds (``20``, ``7.5``, ``20s``; halves round up), from the first
name present that has one; ``-1`` is ``None``, anything else untypeable is ``None`` and logged."""
phone: Reader[PhoneNumber] = Reader("phone", _read_phone, _write_phone)
"""A :class:`~kookoo.protocol.phone.PhoneNumber`; written as its raw value."""
caller: Reader[PhoneNumber] = Reader("caller", _read_caller, _caller_writer(always_e164=True))
"""The caller from ``cid`` (names[0]), its national form from ``cid_e164`` (names[1]) when
``cid`` is odd.  Written as KooKoo does on ``NewCall``: ``cid``, and ``cid_e164`` when the
number is Indian."""
repeated_caller: Reader[PhoneNumber] = Reader(
    "repeated_caller", _read_caller, _caller_writer(always_e164=False)
)
""":data:`caller` as KooKoo repeats it on later events: written as ``cid`` alone (and
``cid_e164`` only when ``cid`` cannot carry the national number)."""
ist_time: Reader[datetime] = Reader("ist_time", _read_time, _write_time)
"""A time as :func:`~kookoo.protocol.times.parse_time` reads it (IST unless it says
otherwise); written with :func:`~kookoo.protocol.times.format_time`."""


# -- declaring fields ---------------------------------------------------------------------------


@overload
def param(*names: str, when: str | None = None) -> str | None: ...
@overload
def param(*names: str, read: Reader[T], when: str | None = None) -> T | None: ...
def param(*names: str, read: Reader[Any] = text, when: str | None = None) -> Any:
    """An event field read from the KooKoo parameter(s) ``names`` by ``read`` (default
    :data:`text`): a ``dataclasses.field`` defaulting to ``None`` with a :class:`Param` in its
    metadata.  ``when`` makes it one of ``Hangup``'s leftovers (see :attr:`Param.when`)."""
    if not names:
        raise TypeError("param() needs at least one KooKoo parameter name")
    spec = Param(names, read, when)
    return dataclasses.field(default=None, metadata={METADATA_KEY: spec})


class Repeated(Generic[T]):
    """A typed value read from the event's :attr:`~kookoo.protocol.events.Event.params` when
    asked for, not when the request is parsed: for parameters KooKoo only sometimes repeats.

    Declared like :func:`param`, as a class attribute::

        caller = Repeated("cid", "cid_e164", read=repeated_caller, doc="The caller ...")

    :func:`write_fields` writes it like a field.
    """

    def __init__(self, *names: str, read: Reader[T], doc: str) -> None:
        self.param = Param(names, read)
        self.name = ""
        self.__doc__ = doc

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, instance: Source, owner: type[Any]) -> T | None: ...
    def __get__(self, instance: Source | None, owner: type[Any]) -> Self | T | None:
        if instance is None:
            return self
        spec = self.param
        return spec.reader.read(instance.params, spec.names, (instance.name, instance.sid))

    def __repr__(self) -> str:
        return f"<Repeated {self.name} from {'/'.join(self.param.names)}>"


def params_of(cls: type[Any]) -> Mapping[str, Param]:
    """Every typed value of the event class ``cls`` (its fields, then its :class:`Repeated`
    attributes) with its :class:`Param`, by name."""
    found = _SPECS.get(cls)
    if found is None:
        specs: dict[str, Param] = {}
        for each in dataclasses.fields(cls):
            spec = each.metadata.get(METADATA_KEY)
            if isinstance(spec, Param):
                specs[each.name] = spec
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Repeated):
                    specs[name] = value.param
        found = _SPECS[cls] = MappingProxyType(specs)
    return found


_SPECS: dict[type[Any], Mapping[str, Param]] = {}


# -- the generic reader -------------------------------------------------------------------------

_Step = tuple[str, _ReadFunction, tuple[str, ...]]
# Per event class: the fields read on every request, and the leftovers by process.
_Plan = tuple[tuple[_Step, ...], Mapping[str, tuple[_Step, ...]]]
_PLANS: dict[type[Any], _Plan] = {}


def _plan(cls: type[Any]) -> _Plan:
    always: list[_Step] = []
    by_process: dict[str, list[_Step]] = {}
    for each in dataclasses.fields(cls):
        spec = each.metadata.get(METADATA_KEY)
        if not isinstance(spec, Param):
            continue
        step = (each.name, spec.reader.read, spec.names)
        if spec.when is None:
            always.append(step)
        else:
            by_process.setdefault(spec.when.casefold(), []).append(step)
    if by_process and not any(name == "process" for name, _, _ in always):
        raise TypeError(f"{cls.__name__} has fields read 'when' a process but no process field")
    plan = (tuple(always), {kind: tuple(steps) for kind, steps in by_process.items()})
    _PLANS[cls] = plan
    return plan


def read_fields(cls: type[E], sid: str, params: Mapping[str, str], name: str) -> E:
    """The event ``cls`` for one request: its ``sid`` and ``params``, and every :func:`param`
    field typed by its reader (leftovers only for their ``process``).  ``name`` is the event's
    name for log messages.  Never raises for a field's value (readers are lenient)."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _plan(cls)
    always, by_process = plan
    where = (name, sid)
    values: dict[str, Any] = {"sid": sid, "params": params}
    for field_name, read, names in always:
        values[field_name] = read(params, names, where)
    if by_process:
        running = values["process"]
        if running is not None:
            for field_name, read, names in by_process.get(running.casefold(), ()):
                values[field_name] = read(params, names, where)
    return cls(**values)


# -- the generic writer -------------------------------------------------------------------------

_UNSET: Any = object()


def write_fields(cls: type[Any], values: Mapping[str, object]) -> list[tuple[str, str]]:
    """The ``(parameter, value)`` pairs KooKoo sends for these typed values of ``cls``'s
    fields and :class:`Repeated` attributes, in the order given.

    A leftover (:attr:`Param.when`) implies its ``process``, which is written before it unless
    given.

    Raises:
        TypeError: a name that is no typed value of ``cls``, or a value of the wrong type.
        ValueError: a value no request could give back, leftovers of two processes (or of
            another process than the one given), or two values sent in the same parameter.
    """
    specs = params_of(cls)
    where = cls.__name__
    given = values.get("process", _UNSET)
    running = _UNSET if given is _UNSET else _process_kind(given)
    needed: str | None = None  # the process the leftovers so far need
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None:
            raise TypeError(f"{where} has no typed value {name!r}; it has {', '.join(specs)}")
        try:
            written = spec.reader.write(value, spec.names)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{where}.{name}: {exc}") from None
        when = spec.when
        if when is not None and written:
            if running is not _UNSET and running != when.casefold():
                raise ValueError(f"{where}.{name} is sent only when process is {when!r}")
            if needed is not None and needed != when:
                raise ValueError(
                    f"{where}.{name} is sent when process is {when!r}, and another value "
                    f"given when it is {needed!r}"
                )
            if running is _UNSET and needed is None:
                process_spec = specs["process"]
                pairs.extend(process_spec.reader.write(when, process_spec.names))
            needed = when
        pairs.extend(written)
    sent = [key for key, _ in pairs]
    for key in sent:
        if sent.count(key) > 1:
            raise ValueError(f"{where}: two values are sent in the parameter {key!r}")
    return pairs


def _process_kind(value: object) -> str | None:
    """What a given ``process`` value reads as, case-folded (``None`` for nothing running)."""
    if not isinstance(value, str):
        return None
    kind = value.strip().casefold()
    return None if kind in ("", "none") else kind
