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

Each field is declared once, with the KooKoo parameter(s) it comes from and the reader that
types it (``param("data", read=fields.digits)``, see :mod:`kookoo.protocol.fields`): one
generic reader builds every event by those declarations, and :func:`request_params` writes a
request back from typed values (what the simulator and the fakes send).

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

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar
from urllib.parse import unquote

from kookoo.core.errors import KooKooError
from kookoo.protocol import fields
from kookoo.protocol.fields import Repeated, param, read_fields, write_fields
from kookoo.protocol.phone import PhoneNumber
from kookoo.protocol.times import IST

__all__ = [
    "CALL_STATUS_FIELDS",
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
    "request_params",
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


class _RepeatsCaller:
    """Events on which KooKoo may repeat the caller (protocol.md §3): typed on access, so
    parsing the request costs nothing for apps that do not ask."""

    __slots__ = ()

    caller = Repeated(
        "cid",
        "cid_e164",
        read=fields.repeated_caller,
        doc="The caller (``cid``, else ``cid_e164``) as on :attr:`NewCall.caller`; ``None`` "
        "when this request does not repeat it.",
    )


class _RepeatsNumbers(_RepeatsCaller):
    __slots__ = ()

    called_number = Repeated(
        "called_number",
        read=fields.phone,
        doc="The DID that was called (``called_number``), ``None`` when not repeated here.",
    )


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

    caller: PhoneNumber | None = param("cid", "cid_e164", read=fields.caller)
    called_number: PhoneNumber | None = param("called_number", read=fields.phone)
    circle: str | None = param("circle")
    operator: str | None = param("operator")
    cid_type: str | None = param("cid_type")
    country_code: str | None = param("cid_country")
    country_name: str | None = param("cid_countryname")
    request_time: datetime | None = param("request_time", read=fields.ist_time)
    outbound_sid: str | None = param("outbound_sid")

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

    digits: str | None = param("data", read=fields.digits)

    @property
    def no_input(self) -> bool:
        """True when the caller pressed nothing before the timeout (``digits == ""``)."""
        return self.digits == ""


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

    url: str | None = param("data", read=fields.url)
    status: str | None = param("status")
    duration_seconds: int | None = param("record_duration", "duration", read=fields.seconds)


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

    status: str | None = param("status")
    recording_url: str | None = param("data", read=fields.url)
    talk_seconds: int | None = param("callduration", "duration", read=fields.seconds)
    message: str | None = param("message")

    @property
    def answered(self) -> bool:
        """True when the dialled party answered."""
        return _is(self.status, "answered")


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

    process: str | None = param("process", read=fields.process)
    total_call_seconds: int | None = param("total_call_duration", "duration", read=fields.seconds)
    digits: str | None = param("data", read=fields.digits, when="collectdtmf")
    recording_url: str | None = param("data", read=fields.url, when="record")
    record_duration_seconds: int | None = param("record_duration", read=fields.seconds)
    dial_status: str | None = param("status", when="dial")
    dial_recording_url: str | None = param("data", read=fields.url, when="dial")
    dial_talk_seconds: int | None = param("callduration", read=fields.seconds, when="dial")
    stream_status: str | None = param("status", when="stream")
    stream_seconds: int | None = param("callduration", read=fields.seconds, when="stream")
    call_recording_url: str | None = param("call_recording_url", read=fields.url)

    @property
    def dial_answered(self) -> bool:
        """True when the caller hung up during a dial whose other party had answered."""
        return _is(self.dial_status, "answered")


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

    message: str | None = param("message")
    total_call_seconds: int | None = param("total_call_duration", "duration", read=fields.seconds)
    process: str | None = param("process", read=fields.process)


@dataclass(frozen=True, slots=True, kw_only=True)
class Conference(Event):
    """The caller left a ``<conference>`` by pressing ``#``.

    Parameters:
        data: the ``data`` parameter as sent; its meaning is undocumented.
    """

    name: ClassVar[str] = "Conference"

    data: str | None = param("data")


@dataclass(frozen=True, slots=True, kw_only=True)
class Recognize(Event):
    """``<recognize>`` (speech recognition) finished.

    Parameters:
        text: the recognised text, ``""`` when nothing was recognised (an empty ``data``),
            ``None`` when the request has no ``data`` at all.  It is url-decoded once more (as
            Ozonetel's own samples do) because KooKoo encodes it twice.
    """

    name: ClassVar[str] = "Recognize"

    text: str | None = param("data", read=fields.decoded)


@dataclass(frozen=True, slots=True, kw_only=True)
class Stream(Event):
    """A ``<stream>`` (WebSocket voice bot) ended while the call is still up.

    Parameters:
        status: KooKoo's call status.
        duration_seconds: how long the stream ran (``callduration``).
    """

    name: ClassVar[str] = "Stream"

    status: str | None = param("status")
    duration_seconds: int | None = param("callduration", read=fields.seconds)


@dataclass(frozen=True, slots=True, kw_only=True)
class NewSms(Event):
    """An SMS with the app's keyword arrived on KooKoo's shared number.

    Parameters:
        sender: who sent it (``cid``).
        message: the text, url-decoded once more like :attr:`Recognize.text`; ``None`` when
            the request has no ``message``.
    """

    name: ClassVar[str] = "NewSms"

    sender: PhoneNumber | None = param("cid", read=fields.phone)
    message: str | None = param("message", read=fields.decoded)


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

    status: str | None = param("status")
    status_details: str | None = param("status_details")
    phone_no: PhoneNumber | None = param("phone_no", read=fields.phone)
    caller_id: PhoneNumber | None = param("caller_id", read=fields.phone)
    start_time: datetime | None = param("start_time", read=fields.ist_time)
    duration_seconds: int | None = param("duration", read=fields.seconds)
    ringing_seconds: int | None = param("ringing_time", read=fields.seconds)

    @property
    def answered(self) -> bool:
        """True when the called party answered (``status`` is ``answered``)."""
        return _is(self.status, "answered")


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

CALL_STATUS_FIELDS: tuple[str, ...] = tuple(
    name
    for field_name, spec in fields.params_of(CallStatus).items()
    if field_name != "status"
    for name in spec.names
)
"""Fields of the outbound completion callback (protocol.md §4.2) that tell it apart from a
:class:`Continue`: with ``status``, any of these marks an event-less request as
:class:`CallStatus` (see :func:`parse_event`).  Its parameters other than ``status``."""


def parse_event(params: Mapping[str, str]) -> Event:
    """Build the typed event for one KooKoo request.

    Parameters:
        params: the request's parameters; a plain dict or a Werkzeug ``MultiDict`` (its first
            value per key is used). The event name is matched case-insensitively.

    Each field is read as its class declares it (:mod:`kookoo.protocol.fields`);
    :func:`request_params` writes the parameters back.

    A request with no ``event`` (or an empty one) is the outbound completion callback,
    :class:`CallStatus`, when it has a non-empty ``status`` and at least one of
    :data:`CALL_STATUS_FIELDS` (``status_details``, ``phone_no``, ``caller_id``,
    ``start_time``, ``duration``, ``ringing_time``); otherwise it is :class:`Continue`.
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
    if cls is None:
        return UnknownEvent(sid=sid, params=raw, name=event_name)
    return read_fields(cls, sid, raw, label)


def _has_callback_field(raw: Mapping[str, str]) -> bool:
    return any(raw.get(key, "").strip() for key in CALL_STATUS_FIELDS)


def _shorten(value: str) -> str:
    return value if len(value) <= _MAX_ECHO else value[:_MAX_ECHO] + "..."


def _is(value: str | None, expected: str) -> bool:
    return value is not None and value.casefold() == expected


def request_params(event: type[Event], /, sid: str, **values: object) -> dict[str, str]:
    """The parameters KooKoo sends for an ``event`` of this class with these typed values:
    what :func:`parse_event` reads back as the same values.

    ``event`` and ``sid`` come first (no ``event`` for :class:`CallStatus`, ``event=`` for
    :class:`Continue`), then each value in the order given, in its KooKoo parameter(s) as
    its field declares them (``digits`` -> ``data``, ``duration_seconds`` ->
    ``record_duration``, ``caller`` -> ``cid`` and ``cid_e164``, ...), including the values
    read on access (``caller`` and ``called_number`` of a :class:`Hangup`).

    A value is of its field's type, or a ``str`` sent as given (``digits="42#"``, as pressed);
    ``None`` writes KooKoo's "no value" marker where it has one (``data=-1`` for a URL,
    ``process=none``) and nothing otherwise.  A :class:`Hangup` leftover implies its
    ``process`` (``digits`` -> ``process=collectdtmf``).  :class:`UnknownEvent` takes its
    ``name``.

    Raises:
        TypeError: a name that is not a typed value of ``event``, or a value of the wrong type.
        ValueError: values no request could carry: a ``sid`` :func:`parse_event` would refuse
            or change, a negative duration, leftovers of two processes, a
            :class:`CallStatus` without ``status`` and one of :data:`CALL_STATUS_FIELDS`, an
            :class:`UnknownEvent` named like a known event, ...

    >>> request_params(Record, sid="7", url="http://r.kookoo.in/a.wav", duration_seconds=5)
    {'event': 'Record', 'sid': '7', 'data': 'http://r.kookoo.in/a.wav', 'record_duration': '5'}
    >>> request_params(Hangup, sid="7", digits="12", dial_talk_seconds=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: Hangup.dial_talk_seconds is sent when process is 'dial', and ...
    >>> request_params(Hangup, sid="7", digits="")
    {'event': 'Hangup', 'sid': '7', 'process': 'collectdtmf', 'data': ''}
    """
    if sid != sid.strip() or not sid.isprintable() or (not sid and event is not NewCall):
        raise ValueError(f"{event.__name__}: sid {sid!r} would not be read back as sent")
    params: dict[str, str] = {}
    if event is UnknownEvent:
        name = values.pop("name", None)
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"UnknownEvent needs its event name, got {name!r}")
        if name.casefold() in _BY_FOLDED_NAME:
            raise ValueError(f"{name!r} is a known event: use its class")
        params["event"] = name
    elif event is not CallStatus:
        if _BY_FOLDED_NAME.get(event.name.casefold()) is not event:
            raise TypeError(f"{event.__name__} is not an event class")
        params["event"] = event.name
    params["sid"] = sid
    for key, value in write_fields(event, values):
        params[key] = value
    if event is CallStatus and not (
        params.get("status", "").strip() and _has_callback_field(params)
    ):
        raise ValueError(
            "a CallStatus needs a status and one of "
            f"{', '.join(CALL_STATUS_FIELDS)}, or it reads as Continue"
        )
    return params
