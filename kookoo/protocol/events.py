"""Typed, immutable KooKoo events parsed from request parameters.

Every request KooKoo makes to an app carries an ``event`` parameter (``NewCall``, ``GotDTMF``,
``Record``, ...) and fields that depend on it. :func:`parse_event` turns the raw parameters into one
frozen dataclass per event, with typed fields, while keeping every raw parameter in
:attr:`Event.params` for anything not modelled (including the app's own query parameters that come
back from ``gotourl`` or outbound ``url`` targets).

Parsing is lenient, because a refused request ends a live call: number formats vary, empty
strings mean "absent", whitespace strays, a ``#`` terminator is left in digits, values come
url-encoded twice, and a duration may be written ``20``, ``20.0``, ``7.5`` or ``20s``.  What can
be typed is typed; what cannot is reported as unknown (``None``, with a warning on the
``kookoo.events`` logger) and stays as sent in :attr:`Event.params`.  A value that is absent
is ``None`` too, never an empty answer.  Only a missing or unprintable ``sid`` raises
:class:`EventParseError`, whose message is fit to send back as an HTTP 400 body.

A request without an ``event`` is :class:`Continue` (KooKoo asks what to do after a play-only
reply), or :class:`CallStatus` when it carries the outbound completion callback's fields (see
:func:`parse_event` for the rule).

>>> event = parse_event({"event": "GotDTMF", "sid": "123", "data": "42#"})
>>> event
GotDTMF(sid='123', digits='42')
>>> isinstance(event, GotDTMF) and event.name
'GotDTMF'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import ClassVar, Self
from urllib.parse import unquote, unquote_plus

from kookoo.core.errors import KooKooError
from kookoo.protocol.phone import PhoneNumber

__all__ = [
    "EVENT_TYPES",
    "IST",
    "CallStatus",
    "Conference",
    "Continue",
    "Dial",
    "Disconnect",
    "Event",
    "EventParseError",
    "GotDTMF",
    "Hangup",
    "NewCall",
    "NewSms",
    "Recognize",
    "Record",
    "Stream",
    "UnknownEvent",
    "parse_event",
    "parse_query",
]


def parse_query(query: str) -> list[tuple[str, str]]:
    """A query string's ``(name, value)`` pairs, in order: exactly what
    ``urllib.parse.parse_qsl(query, keep_blank_values=True)`` returns, without unquoting the
    (usual) fields that hold no ``%`` or ``+``.

    >>> parse_query("event=NewCall&cid=%2B9198&x&data=a+b")
    [('event', 'NewCall'), ('cid', '+9198'), ('x', ''), ('data', 'a b')]
    """
    pairs: list[tuple[str, str]] = []
    append = pairs.append
    for field_ in query.split("&"):
        if not field_:
            continue
        name, _, value = field_.partition("=")
        if "%" in name or "+" in name:
            name = unquote(name.replace("+", " "))
        if "%" in value or "+" in value:
            value = unquote(value.replace("+", " "))
        append((name, value))
    return pairs


IST = timezone(timedelta(hours=5, minutes=30), "IST")
"""India Standard Time; a fixed offset is exact (India has no daylight saving), no tzdata needed."""

_log = logging.getLogger("kookoo.events")

# Whole seconds, optionally with a fraction and a unit ("20", "20.0", "7.5", "20s", "20 sec").
# At most 12 digits (over 30,000 years): longer values are nonsense, and int() refuses strings
# over 4,300 digits with an error of its own.
_SECONDS = re.compile(
    r"([0-9]{1,12})(?:\.([0-9]{1,9}))?\s*(?:s|secs?|seconds?)?", re.ASCII | re.IGNORECASE
)
# KooKoo's (and its Java/PHP stacks') ways of writing "no value" where a URL belongs.
_NO_URL = frozenset({"-1", "null"})
# Longest value echoed back in an error message; the message becomes an HTTP body.
_MAX_ECHO = 60


class EventParseError(KooKooError, ValueError):
    """A request that cannot be a valid KooKoo event.

    ``str(error)`` is one sentence naming the parameter and what is wrong with it, suitable as the
    body of an HTTP 400 answer.

    Parameters:
        message: the sentence describing the problem.
        parameter: the name of the offending request parameter (e.g. ``"sid"``).
    """

    def __init__(self, message: str, *, parameter: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def _frozen_params() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base class of every KooKoo event.

    Parameters:
        sid: KooKoo's call id, the same on every request of one call (``""`` only for the
            portal's test ping, see :attr:`NewCall.is_test_ping`).
        params: all raw request parameters (first value of each), read-only. Left out of
            ``repr`` because it repeats the typed fields; it still takes part in equality.

    ``name`` is the KooKoo event string the class handles (``"GotDTMF"``; ``""`` for
    :class:`Continue`).
    """

    name: ClassVar[str] = ""

    sid: str
    params: Mapping[str, str] = field(default_factory=_frozen_params, repr=False, hash=False)

    def __post_init__(self) -> None:
        # Events are shared between handlers and stored with calls; a caller-supplied dict must
        # not let anyone mutate an event after the fact.
        if not isinstance(self.params, MappingProxyType):
            object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @classmethod
    def _from_request(cls, request: _Request) -> Self:
        # Subclasses with fields override this; events without fields need nothing more.
        return cls(sid=request.sid, params=request.params)


class _RepeatsCaller:
    """Events on which KooKoo may repeat the caller (protocol.md §3): typed on access, so
    parsing the request costs nothing for apps that do not ask."""

    __slots__ = ()
    params: Mapping[str, str]

    @property
    def caller(self) -> PhoneNumber | None:
        """The caller (``cid``, else ``cid_e164``) as on :attr:`NewCall.caller`; ``None`` when
        this request does not repeat it."""
        return _caller(self.params)


class _RepeatsNumbers(_RepeatsCaller):
    __slots__ = ()

    @property
    def called_number(self) -> PhoneNumber | None:
        """The DID that was called (``called_number``), ``None`` when not repeated here."""
        return _phone(self.params, "called_number")


@dataclass(frozen=True, slots=True, kw_only=True)
class NewCall(Event):
    """A call was answered: an inbound call, or an outbound API call (``outbound_sid`` is set).

    Parameters:
        caller: the caller from ``cid`` (for outbound calls the dialled party); when ``cid`` is
            not a recognisable Indian number its national form is taken from ``cid_e164``.
        called_number: the DID that was called (``called_number``).
        circle: the caller's telecom circle, e.g. ``"KARNATAKA"``.
        operator: the caller's operator, e.g. ``"Airtel"``.
        cid_type: ``"MOBILE"``, ``"FIXED_LINE"``, ...
        country_code: the caller's country calling code (``cid_country``), e.g. ``"91"``.
        country_name: the caller's country (``cid_countryname``), e.g. ``"India"``.
        request_time: ``request_time`` as an aware datetime in :data:`IST` (KooKoo sends local
            Indian time without an offset); ``None`` when absent or not in a known format.
        outbound_sid: KooKoo's ``outbound_sid`` parameter, sent only when the call was placed
            through the outbound API (``outbound.php``), ``None`` for inbound calls
            (protocol.md §3.1, observed in VoIP Drupal, CommCare HQ and two other public
            apps; not in KooKoo's docs).  For such calls :attr:`sid` is the call id that
            ``outbound.php`` answered with (its ``<message>``), and ``caller`` is the
            dialled party.

    The query parameters of the ``url`` given to ``outbound.php`` (or of a ``gotourl``) come
    back verbatim on the requests KooKoo makes to it; they are in :attr:`params` next to
    KooKoo's own (``params["patient"]`` for ``url=https://app/ivr?patient=42``).

    >>> call = parse_event({"event": "NewCall", "sid": "1", "cid": "09876543210"})
    >>> str(call.caller), call.is_outbound
    ('+919876543210', False)
    """

    name: ClassVar[str] = "NewCall"

    caller: PhoneNumber | None = None
    called_number: PhoneNumber | None = None
    circle: str | None = None
    operator: str | None = None
    cid_type: str | None = None
    country_code: str | None = None
    country_name: str | None = None
    request_time: datetime | None = None
    outbound_sid: str | None = None

    @property
    def is_outbound(self) -> bool:
        """True when the call was placed through KooKoo's outbound API.

        Decided by the presence of a non-empty ``outbound_sid`` (the only marker any source
        shows; KooKoo documents none).
        """
        return self.outbound_sid is not None

    @property
    def is_test_ping(self) -> bool:
        """True for the portal's "Test application URL" probe (``event=NewCall`` and no ``sid``).

        Apps should answer it with valid XML and no side effects: no real call exists.
        """
        return self.sid == ""

    @classmethod
    def _from_request(cls, request: _Request) -> Self:
        return cls(
            sid=request.sid,
            params=request.params,
            caller=request.caller(),
            called_number=request.phone("called_number"),
            circle=request.text("circle"),
            operator=request.text("operator"),
            cid_type=request.text("cid_type"),
            country_code=request.text("cid_country"),
            country_name=request.text("cid_countryname"),
            request_time=request.time("request_time"),
            outbound_sid=request.text("outbound_sid"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class GotDTMF(_RepeatsCaller, Event):
    """``<collectdtmf>`` finished.

    Parameters:
        digits: the keys pressed, ``""`` when the caller pressed nothing (KooKoo sends
            ``data=``), ``None`` when the request has no ``data`` at all (unknown).  A
            trailing ``#`` terminator (also as an undecoded ``%23``) and whitespace are
            removed; the value as sent stays in ``params["data"]``.

    :attr:`caller` is the caller (``cid``) when KooKoo repeats it here, as it sometimes does.
    """

    name: ClassVar[str] = "GotDTMF"

    digits: str | None = None

    @property
    def no_input(self) -> bool:
        """True when the caller pressed nothing before the timeout (``digits == ""``)."""
        return self.digits == ""

    @classmethod
    def _from_request(cls, request: _Request) -> Self:
        return cls(
            sid=request.sid,
            params=request.params,
            digits=request.digits(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Record(_RepeatsCaller, Event):
    """``<record>`` finished.

    Parameters:
        url: the recording's URL (``data``), ``None`` when KooKoo sent none (no ``data``, an
            empty one, ``-1`` or ``null``).
        status: KooKoo's record status, e.g. ``"silence"``.
        duration_seconds: length of the recording (``record_duration``, else ``duration``).

    :attr:`caller` is the caller (``cid``) when KooKoo repeats it here.
    """

    name: ClassVar[str] = "Record"

    url: str | None = None
    status: str | None = None
    duration_seconds: int | None = None

    @classmethod
    def _from_request(cls, request: _Request) -> Self:
        return cls(
            sid=request.sid,
            params=request.params,
            url=request.url("data"),
            status=request.text("status"),
            duration_seconds=request.seconds("record_duration", "duration"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Dial(Event):
    """A ``<dial>``ed leg finished while the caller is still on the line.

    Parameters:
        status: ``"answered"`` or ``"not_answered"``.
        recording_url: the dial recording (``data``); ``None`` when not recorded (KooKoo sends
            ``-1``, ``null`` or nothing).
        talk_seconds: talk time after answer (``callduration``, else ``duration``).
        message: KooKoo's reason text, e.g. ``"NormalCallClearing"`` or ``"NoAnswer"``.
    """

    name: ClassVar[str] = "Dial"

    status: str | None = None
    recording_url: str | None = None
    talk_seconds: int | None = None
    message: str | None = None

    @property
    def answered(self) -> bool:
        """True when the dialled party answered."""
        return _is(self.status, "answered")

    @classmethod
    def _from_request(cls, request: _Request) -> Self:
        return cls(
            sid=request.sid,
            params=request.params,
            status=request.text("status"),
            recording_url=request.url("data"),
            talk_seconds=request.seconds("callduration", "duration"),
            message=request.text("message"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup(_RepeatsNumbers, Event):
    """The caller hung up (at any point of the call).

    KooKoo adds the leftovers of whatever was running (``process``); they are typed by what
    they mean for that process, and ``None`` for every other one (the raw values stay in
    :attr:`params`).

    Parameters:
        process: what was running when the caller hung up (``"collectdtmf"``, ``"record"``,
            ``"dial"``, ``"stream"``, ...) as sent; ``None`` when nothing was (KooKoo's ``none``).
        total_call_seconds: length of the whole call (``total_call_duration``, else
            ``duration``, which some outbound calls send instead).
        digits: keys pressed so far when ``process`` is ``collectdtmf`` (``""`` for none,
            ``None`` when KooKoo sent no ``data``).
        recording_url: the partial recording when ``process`` is ``record``.
        record_duration_seconds: its length (``record_duration``).
        dial_status: the dialled leg's status when ``process`` is ``dial``.
        dial_recording_url: the dial recording when ``process`` is ``dial``.
        dial_talk_seconds: the dialled leg's talk time (``callduration``) when ``process`` is
            ``dial``.
        stream_status: the stream's ``status`` when ``process`` is ``stream``.
        stream_seconds: how long the stream ran (``callduration``) when ``process`` is
            ``stream``.
        call_recording_url: the whole-call recording started with ``<start-record>``.

    :attr:`caller` (``cid``) and :attr:`called_number`, which KooKoo repeats on Hangup, are
    read from :attr:`params` when asked for.
    """

    name: ClassVar[str] = "Hangup"

    process: str | None = None
    total_call_seconds: int | None = None
    digits: str | None = None
    recording_url: str | None = None
    record_duration_seconds: int | None = None
    dial_status: str | None = None
    dial_recording_url: str | None = None
    dial_talk_seconds: int | None = None
    stream_status: str | None = None
    stream_seconds: int | None = None
    call_recording_url: str | None = None

    @property
    def dial_answered(self) -> bool:
        """True when the caller hung up during a dial whose other party had answered."""
        return _is(self.dial_status, "answered")

    @classmethod
    def _from_request(cls, request: _Request) -> Self:
        process = request.process()
        kind = None if process is None else process.casefold()
        in_dial, in_stream = kind == "dial", kind == "stream"
        return cls(
            sid=request.sid,
            params=request.params,
            process=process,
            total_call_seconds=request.seconds("total_call_duration", "duration"),
            digits=request.digits() if kind == "collectdtmf" else None,
            recording_url=request.url("data") if kind == "record" else None,
            record_duration_seconds=request.seconds("record_duration"),
            dial_status=request.text("status") if in_dial else None,
            dial_recording_url=request.url("data") if in_dial else None,
            dial_talk_seconds=request.seconds("callduration") if in_dial else None,
            stream_status=request.text("status") if in_stream else None,
            stream_seconds=request.seconds("callduration") if in_stream else None,
            call_recording_url=request.url("call_recording_url"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnect(_RepeatsNumbers, Event):
    """KooKoo ended the call because the app's response contained ``<hangup>``.

    Parameters:
        message: KooKoo's reason text.
        total_call_seconds: length of the whole call (``total_call_duration``).
        process: what was running, as for :class:`Hangup`.

    :attr:`caller` (``cid``) and :attr:`called_number` as for :class:`Hangup`.
    """

    name: ClassVar[str] = "Disconnect"

    message: str | None = None
    total_call_seconds: int | None = None
    process: str | None = None

    @classmethod
    def _from_request(cls, request: _Request) -> Self:
        return cls(
            sid=request.sid,
            params=request.params,
            message=request.text("message"),
            total_call_seconds=request.seconds("total_call_duration", "duration"),
            process=request.process(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Conference(Event):
    """The caller left a ``<conference>`` by pressing ``#``.

    Parameters:
        data: the ``data`` parameter as sent; its meaning is undocumented.
    """

    name: ClassVar[str] = "Conference"

    data: str | None = None

    @classmethod
    def _from_request(cls, request: _Request) -> Self:
        return cls(sid=request.sid, params=request.params, data=request.text("data"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Recognize(Event):
    """``<recognize>`` (speech recognition) finished.

    Parameters:
        text: the recognised text, ``""`` when nothing was recognised (an empty ``data``),
            ``None`` when the request has no ``data`` at all.  It is url-decoded once more (as
            Ozonetel's own samples do) because KooKoo encodes it twice.
    """

    name: ClassVar[str] = "Recognize"

    text: str | None = None

    @classmethod
    def _from_request(cls, request: _Request) -> Self:
        return cls(sid=request.sid, params=request.params, text=request.decoded("data"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Stream(Event):
    """A ``<stream>`` (WebSocket voice bot) ended while the call is still up.

    Parameters:
        status: KooKoo's call status.
        duration_seconds: how long the stream ran (``callduration``).
    """

    name: ClassVar[str] = "Stream"

    status: str | None = None
    duration_seconds: int | None = None

    @classmethod
    def _from_request(cls, request: _Request) -> Self:
        return cls(
            sid=request.sid,
            params=request.params,
            status=request.text("status"),
            duration_seconds=request.seconds("callduration"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSms(Event):
    """An SMS with the app's keyword arrived on KooKoo's shared number.

    Parameters:
        sender: who sent it (``cid``).
        message: the text, url-decoded once more like :attr:`Recognize.text`; ``None`` when
            the request has no ``message``.
    """

    name: ClassVar[str] = "NewSms"

    sender: PhoneNumber | None = None
    message: str | None = None

    @classmethod
    def _from_request(cls, request: _Request) -> Self:
        return cls(
            sid=request.sid,
            params=request.params,
            sender=request.phone("cid"),
            message=request.decoded("message"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Continue(Event):
    """KooKoo asks what to do next after playing a response that produced no event.

    Sent with an empty or missing ``event`` once a play-only response (no result-producing tag and
    no ``<hangup>``) has been played.
    """

    name: ClassVar[str] = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStatus(Event):
    """How an outbound call ended: KooKoo's completion callback to ``callback_url``.

    KooKoo POSTs it (form-encoded, no ``event``) once a call placed through ``outbound.php``
    is over, answered or not (protocol.md §4.2; field names from CommCare HQ's handler,
    ``status=ring`` / ``status_details=NoAnswer`` from MOTECH's tests; KooKoo documents
    neither).  Every field is optional and lenient: a value that is absent or cannot be
    typed is ``None``, and every parameter, known or not, stays in :attr:`params`.  Its reply
    is ignored by KooKoo.

    Parameters:
        status: ``"answered"``, or why not: ``"ring"`` (not answered), and per VoIP Drupal
            also ``"busy"``, ``"invalid_number"``, ``"network_congestion"``, ``"exception"``.
        status_details: KooKoo's detail text, e.g. ``"NoAnswer"``.
        phone_no: the number that was called (``phone_no``).
        caller_id: the caller id the call was placed with (``caller_id``, a DID).
        start_time: ``start_time`` as an aware datetime (:data:`IST` unless it carries an
            offset); ``None`` when absent or in an unknown format (its format is unverified).
        duration_seconds: length of the call (``duration``).
        ringing_seconds: how long it rang (``ringing_time``).

    ``name`` is ``"CallStatus"``, a label for logs: KooKoo sends no event string.

    >>> status = parse_event({"sid": "7", "status": "ring", "status_details": "NoAnswer"})
    >>> type(status).__name__, status.answered, status.status_details
    ('CallStatus', False, 'NoAnswer')
    """

    name: ClassVar[str] = "CallStatus"

    status: str | None = None
    status_details: str | None = None
    phone_no: PhoneNumber | None = None
    caller_id: PhoneNumber | None = None
    start_time: datetime | None = None
    duration_seconds: int | None = None
    ringing_seconds: int | None = None

    @property
    def answered(self) -> bool:
        """True when the called party answered (``status`` is ``answered``)."""
        return _is(self.status, "answered")

    @classmethod
    def _from_request(cls, request: _Request) -> Self:
        return cls(
            sid=request.sid,
            params=request.params,
            status=request.text("status"),
            status_details=request.text("status_details"),
            phone_no=request.phone("phone_no"),
            caller_id=request.phone("caller_id"),
            start_time=request.time("start_time"),
            duration_seconds=request.seconds("duration"),
            ringing_seconds=request.seconds("ringing_time"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(Event):
    """An event string this library does not know, kept instead of rejected.

    Parameters:
        name: the ``event`` value exactly as sent (KooKoo adds events over time).
    """

    # An instance field on purpose: each unknown event carries its own name.
    name: str = field()  # type: ignore[misc]


EVENT_TYPES: Mapping[str, type[Event]] = MappingProxyType(
    {
        cls.name: cls
        for cls in (
            NewCall,
            GotDTMF,
            Record,
            Dial,
            Hangup,
            Disconnect,
            Conference,
            Recognize,
            Stream,
            NewSms,
            Continue,
        )
    }
)
"""The event class for each KooKoo ``event`` string (``""`` maps to :class:`Continue`).

:class:`CallStatus` is not here: KooKoo sends it without an event string."""

# KooKoo's spelling is fixed, but hand-written test URLs and emulators vary the case.
_BY_FOLDED_NAME = {key.casefold(): cls for key, cls in EVENT_TYPES.items()}

#: With ``status``, any of these marks an event-less request as the completion callback.
CALL_STATUS_FIELDS: tuple[str, ...] = (
    "status_details",
    "phone_no",
    "duration",
    "ringing_time",
    "start_time",
    "caller_id",
)
"""Fields of the outbound completion callback (protocol.md §4.2) that tell it apart from a
:class:`Continue`; see :func:`parse_event`."""


def parse_event(params: Mapping[str, str]) -> Event:
    """Build the typed event for one KooKoo request.

    Parameters:
        params: the request's parameters; a plain dict or a Werkzeug ``MultiDict`` (its first
            value per key is used). The event name is matched case-insensitively.

    A request with no ``event`` (or an empty one) is the outbound completion callback,
    :class:`CallStatus`, when it has a non-empty ``status`` and at least one of
    :data:`CALL_STATUS_FIELDS` (``status_details``, ``phone_no``, ``duration``,
    ``ringing_time``, ``start_time``, ``caller_id``); otherwise it is :class:`Continue`.
    Confidence: observed, not documented.  Every callback sample carries ``status`` (CommCare
    HQ's handler and test, MOTECH's test), and the continuation requests seen carry only
    ``sid``, ``cid`` and ``data``; a play-only reply's continuation with an app parameter
    named ``status`` *and* one named like a callback field would be misread.

    Raises:
        EventParseError: ``sid`` is missing or empty (except on the portal's ``NewCall`` test
            ping) or holds control characters.  Nothing else raises: optional values that
            cannot be typed are ``None`` (see the module docstring).

    >>> parse_event({"event": "Dial", "sid": "7", "status": "answered", "data": "-1"})
    Dial(sid='7', status='answered', recording_url=None, talk_seconds=None, message=None)
    """
    # A plain dict (what the app passes) copies in C; a MultiDict needs its first values.
    copied = dict(params) if type(params) is dict else {key: params[key] for key in params}
    raw = MappingProxyType(copied)
    event_name = raw.get("event", "").strip()
    cls = _BY_FOLDED_NAME.get(event_name.casefold())
    if cls is Continue and raw.get("status", "").strip() and _has_callback_field(raw):
        cls = CallStatus
    label = _shorten(event_name) if cls is None else cls.name or "Continue"
    sid = raw.get("sid", "").strip()
    if not sid and cls is not NewCall:
        raise EventParseError(
            f"{label} request is missing the required 'sid' parameter", parameter="sid"
        )
    if not sid.isprintable():
        # The sid is echoed into replies and used as a storage key; KooKoo's are digits.
        raise EventParseError(
            f"{label} request has a 'sid' with control characters ({_shorten(sid)!r}); "
            "KooKoo's call ids are printable (digits)",
            parameter="sid",
        )
    request = _Request(label, sid, raw)
    if cls is None:
        return UnknownEvent(sid=sid, params=raw, name=event_name)
    return cls._from_request(request)


def _has_callback_field(raw: Mapping[str, str]) -> bool:
    return any(raw.get(key, "").strip() for key in CALL_STATUS_FIELDS)


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


def _caller(params: Mapping[str, str]) -> PhoneNumber | None:
    cid, e164 = _phone(params, "cid"), _phone(params, "cid_e164")
    if cid is None:
        return e164
    if cid.national is None and e164 is not None and e164.national is not None:
        return PhoneNumber(raw=cid.raw, national=e164.national)
    return cid


def _shorten(value: str) -> str:
    return value if len(value) <= _MAX_ECHO else value[:_MAX_ECHO] + "..."


def _is(value: str | None, expected: str) -> bool:
    return value is not None and value.casefold() == expected


class _Request:
    """Typed, lenient access to one request's raw parameters."""

    __slots__ = ("event", "params", "sid")

    def __init__(self, event: str, sid: str, params: Mapping[str, str]) -> None:
        self.event = event
        self.sid = sid
        self.params = params

    def text(self, key: str) -> str | None:
        # KooKoo and hand-made URLs send "key=" for "no value"; treat it like an absent key.
        value = self.params.get(key, "").strip()
        return value or None

    def decoded(self, key: str) -> str | None:
        value = self.params.get(key)
        return None if value is None else unquote_plus(value.strip()).strip()

    def url(self, key: str) -> str | None:
        value = self.text(key)
        # "-1" is KooKoo's marker for "no recording"; "null" is what a Java or JS stack
        # writes for a missing value.
        if value is None or value.casefold() in _NO_URL:
            return None
        if "://" not in value and "://" in unquote(value):
            value = unquote(value)
        return value

    def phone(self, key: str) -> PhoneNumber | None:
        return _phone(self.params, key)

    def caller(self) -> PhoneNumber | None:
        return _caller(self.params)

    def digits(self) -> str | None:
        # An empty data is an answer (no keys pressed); no data at all is unknown.
        value = self.params.get("data")
        if value is None:
            return None
        value = value.strip()
        while True:
            trimmed = value.removesuffix("#").removesuffix("%23").rstrip()
            if trimmed == value:
                return value
            value = trimmed

    def process(self) -> str | None:
        value = self.text("process")
        return None if _is(value, "none") else value

    def seconds(self, key: str, *fallbacks: str) -> int | None:
        for name in (key, *fallbacks):
            value = self.text(name)
            if value is None:
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
                    self.event,
                    self.sid,
                    name,
                    _shorten(value),
                )
        return None

    def time(self, key: str) -> datetime | None:
        value = self.text(key)
        if value is None:
            return None
        try:
            parsed = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
        except ValueError:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                # Informational only; an unexpected format must not fail the call.
                return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=IST)
