"""Test a KooKoo app without a phone: a call simulator that plays KooKoo's part.

:class:`Simulator` drives an app the way KooKoo does (``protocol.md`` §1-§3): it sends
``NewCall``, reads each XML reply, "plays" its prompts into a transcript, stops where KooKoo
would wait for the caller or the network (``collectdtmf``, ``record``, ``dial``, ``recognize``,
``conference``, ``stream``, ``cctransfer``), follows ``gotourl``, asks again after a play-only
reply and sends ``Disconnect`` after ``<hangup>``.  The test then acts as the caller and the
network through :class:`SimulatedCall`: press digits, finish a recording, answer a dial, hang up.

The app is driven in-process (any WSGI callable, through Werkzeug's test client) or over HTTP
(a base URL such as ``http://127.0.0.1:8000/``)::

    from kookoo.testing import Simulator

    sim = Simulator(app)
    call = sim.call(caller="09876543210")
    assert call.last_heard == ["Welcome to Acme. For English press 1.", "..."]
    call.press("1")
    assert call.waiting_for == "digits"
    call.hangup()
    assert call.ended

What the caller hears is a list of strings: ``playtext`` text (whitespace collapsed),
``"[say-as 401 EN] 5000"`` for ``say-as`` (format code, then language when given),
``"[audio http://...]"`` for ``playaudio``.  ``sendsms`` goes to :attr:`SimulatedCall.sms`.

Decisions on points KooKoo does not document (``protocol.md`` §8), so tests know what they get:

- The continuation request after a play-only reply carries ``event=`` (empty) and ``sid``;
  kookoo apps route it to :class:`~kookoo.protocol.events.Continue`.  More than ``max_auto_turns``
  such requests in a row is an error (an app that never waits or hangs up).
- Tags after the first event-producing tag are not played (lint warns, KK101); a ``gotourl``
  anywhere in the reply changes the URL of the next request, so ``collectdtmf`` + ``gotourl``
  sends ``GotDTMF`` to the new URL.  A ``gotourl`` without an event tag leads to a
  continuation request to the new URL.
- KooKoo appends its parameters (written by :func:`~kookoo.protocol.events.request_params`
  from typed values) to the query string the URL already has.
- ``NewCall`` has ``cid`` and, for an Indian number, ``cid_e164``; later requests repeat ``cid``.
- ``press()`` sends the keys as pressed, a terminator (``t``) included (``"42#"``); more digits
  than ``l`` or keys after the terminator are refused with :class:`UnexpectedActionError`.
- ``Disconnect`` carries ``message=NormalCallClearing`` and ``process=none``.
- Time is simulated: every request takes one second, and timeouts, recordings, dials and
  streams add their durations; ``total_call_duration`` is that clock.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode, urljoin, urlsplit

from kookoo.core.errors import KooKooError
from kookoo.core.settings import Settings
from kookoo.protocol import events, schema
from kookoo.protocol.events import request_params
from kookoo.protocol.schema import WaitingFor
from kookoo.testing.transport import HTTPTransport, Transport, TransportError, WSGITransport
from kookoo.web.security import with_token
from kookoo.xml.parser import parse_response
from kookoo.xml.response import Node, Response, ResponseParseError

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from kookoo.state.calls import Call
    from kookoo.state.stores.base import CallStore
    from kookoo.xml.lint import Finding

__all__ = [
    "DEFAULT_CALLED_NUMBER",
    "DEFAULT_CALLER",
    "CallEndedError",
    "InvalidReplyError",
    "SimulatedCall",
    "Simulator",
    "SimulatorError",
    "Sms",
    "Turn",
    "UnexpectedActionError",
    "WaitingFor",
]

#: Tag that makes KooKoo wait -> what it waits for (:data:`kookoo.protocol.schema.WAITS_FOR`).
_WAITS: Mapping[str, WaitingFor] = schema.WAITS_FOR
#: What the caller interrupts when hanging up -> KooKoo's ``process`` value.
_PROCESS: Mapping[WaitingFor, str] = schema.HANGUP_PROCESS
#: Tags that play nothing and change nothing the simulator models.
_SILENT = frozenset({"playdtmf-i", "start-record"})
_DTMF_KEYS = frozenset("0123456789*#")

DEFAULT_CALLER = schema.DEFAULT_CALLER
DEFAULT_CALLED_NUMBER = schema.DEFAULT_CALLED_NUMBER
DEFAULT_URL = "http://localhost/"
#: Where simulated recordings live (KooKoo's real host is ``recordings.kookoo.in``).
RECORDINGS_URL = "http://recordings.kookoo.in/simulator/"


class SimulatorError(KooKooError):
    """The simulated call cannot go on; the message says why.

    Attributes:
        call: the call concerned (also when :meth:`Simulator.call` itself failed).
    """

    call: SimulatedCall | None = None


class InvalidReplyError(SimulatorError):
    """The app's reply is not something KooKoo could play: an HTTP status other than 200, XML
    that does not parse, lint errors, or (in-process) a handler error the app logged.

    Attributes:
        turn: the request and reply concerned.
        findings: the lint findings of the reply (errors and warnings).
    """

    def __init__(self, message: str, turn: Turn) -> None:
        super().__init__(message)
        self.turn = turn
        self.findings = turn.findings


class UnexpectedActionError(SimulatorError):
    """The test acted in a way the app is not waiting for (``press()`` during a recording)."""


class CallEndedError(SimulatorError):
    """An action on a call that is already over."""


@dataclass(frozen=True, slots=True)
class Sms:
    """An SMS the app sent with ``<sendsms>``: its text and destination (``None`` when the
    reply names none; KooKoo then sends it to the caller)."""

    text: str
    to: str | None = None


@dataclass(slots=True)
class Turn:
    """One request KooKoo made and the app's reply.

    Attributes:
        url: the full request URL, query string included.
        params: the parameters KooKoo added (``event``, ``sid``, ``data``, ...), in order.
        status: the HTTP status of the reply.
        body: the raw reply body.
        response: the parsed reply; ``None`` for Hangup/Disconnect (KooKoo ignores those
            replies) and for a reply that did not parse.
        heard: what the caller heard from this reply.
        sms: the SMS this reply sent.
        findings: lint findings on the reply.
        app_errors: errors the app logged while answering (in-process only).
        skipped: tags after the event-producing tag, which the simulator did not play.
        waiting_for: what the app waits for after this reply, if anything.
    """

    url: str
    params: dict[str, str]
    status: int = 0
    body: bytes = b""
    response: Response | None = None
    heard: list[str] = field(default_factory=list)
    sms: list[Sms] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    app_errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    waiting_for: WaitingFor | None = None

    @property
    def event(self) -> str:
        """The request's ``event`` (``""`` for a continuation request)."""
        return self.params.get("event", "")

    @property
    def xml(self) -> str:
        """The reply body as text."""
        return self.body.decode("utf-8", errors="replace")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what ``kookoo call --json`` prints for each turn)."""
        return {
            "url": self.url,
            "params": dict(self.params),
            "status": self.status,
            "xml": self.xml,
            "heard": list(self.heard),
            "sms": [{"to": s.to, "text": s.text} for s in self.sms],
            "findings": [
                {"code": f.code, "severity": f.severity, "message": f.message, "line": f.line}
                for f in self.findings
            ],
            "app_errors": list(self.app_errors),
            "skipped": list(self.skipped),
            "waiting_for": self.waiting_for,
        }


# -- the simulator -----------------------------------------------------------------------------


def _with_token(url: str, token: str | None) -> str:
    """``url`` with ``kk_token``, unless it carries the token already (query or path)."""
    return url if token is None or token in url else with_token(url, token)


def _token_for(app: WSGIApplication | None, secret: str | Literal[False] | None) -> str | None:
    """The token a simulated call sends: the given secret, the app's, or KOOKOO_SECRET's."""
    if secret is False:
        return None
    if secret is not None:
        return secret
    if app is not None:
        from kookoo.web.app import KooKoo

        own = app.secret if isinstance(app, KooKoo) else None
        return own.primary if own is not None else None
    configured = Settings.from_environ(only=["secret"]).secret  # an app served over HTTP
    return configured[0] if configured else None


class Simulator:
    """Plays KooKoo's part against one app; :meth:`call` starts a simulated call.

    Args:
        target: a WSGI app (driven in-process) or the app's URL (``http://127.0.0.1:8000/ivr``,
            driven over HTTP).
        url: for an in-process app, the Application URL KooKoo would call (its host and path
            are what the app sees); ignored for an HTTP target.
        store: where the app keeps its calls, for :attr:`SimulatedCall.state`; by default
            the store of a :class:`~kookoo.KooKoo` app.
        raise_app_errors: in-process only: raise :class:`InvalidReplyError` when the app
            logs an error (a handler raised and the caller heard the fallback prompt).  Turn
            it off to test the fallback itself; the errors stay on :attr:`Turn.app_errors`.
        lint: lint each reply; error findings raise :class:`InvalidReplyError`.
        max_auto_turns: most continuation requests in a row before giving up.
        timeout: seconds to wait for each HTTP reply.
        seed: makes generated sids reproducible.
        secret: the app's shared secret, sent as ``kk_token`` on every call's first URL (the
            app keeps it in the URLs it sends back). By default a :class:`~kookoo.KooKoo`
            app's own primary secret, and for a URL target the first one in
            ``KOOKOO_SECRET``; ``False`` sends none (to test the refusal).

    >>> from kookoo import KooKoo, Response
    >>> app = KooKoo(store=False)
    >>> @app.on_new_call
    ... def hello(event):
    ...     return Response().play_text("Hello").hangup()
    >>> Simulator(app).call().heard
    ['Hello']
    """

    def __init__(
        self,
        target: WSGIApplication | str,
        *,
        url: str = DEFAULT_URL,
        store: CallStore | None = None,
        raise_app_errors: bool = True,
        lint: bool = True,
        max_auto_turns: int = 20,
        timeout: float = 10.0,
        seed: int | None = None,
        secret: str | Literal[False] | None = None,
    ) -> None:
        if isinstance(target, str):
            scheme = urlsplit(target).scheme
            if scheme not in ("http", "https"):
                raise ValueError(f"target URL must be http(s)://..., got {target!r}")
            self.url = target
            self.app: WSGIApplication | None = None
        else:
            if not callable(target):
                raise TypeError(f"target must be a WSGI app or an http(s) URL, got {target!r}")
            self.url = url
            self.app = target
        self._store = store
        self.raise_app_errors = raise_app_errors
        self.lint = lint
        self.max_auto_turns = max_auto_turns
        self.timeout = timeout
        self._random = random.Random(seed)
        self.token = _token_for(self.app, secret)

    @property
    def store(self) -> CallStore | None:
        """The app's call store: the one given, else a :class:`~kookoo.KooKoo` app's own, else
        ``None`` (HTTP targets, other WSGI apps, apps without state)."""
        if self._store is not None:
            return self._store
        from kookoo.web.app import KooKoo

        if isinstance(self.app, KooKoo):
            # Only a store the app already has: `app.store` would create the default file.
            return self.app.store_if_created
        return None

    def new_sid(self) -> str:
        """A sid as KooKoo makes them: a 16-digit number."""
        return str(self._random.randrange(10**15, 10**16))

    def _transport(self) -> Transport:
        if self.app is not None:
            return WSGITransport(self.app)
        return HTTPTransport(self.timeout)

    def call(
        self,
        caller: str = DEFAULT_CALLER,
        *,
        called_number: str = DEFAULT_CALLED_NUMBER,
        circle: str | None = "KARNATAKA",
        operator: str | None = "Airtel",
        sid: str | None = None,
        url: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> SimulatedCall:
        """Start a call: send ``NewCall`` and play the replies until the app waits or ends.

        Args:
            caller: the caller's number as KooKoo sends it in ``cid``; ``cid_e164`` is added
                when it is an Indian number.
            called_number: the DID dialled (``called_number``).
            circle: the caller's telecom circle (``None`` leaves it out).
            operator: the caller's operator (``None`` leaves it out).
            sid: the call id; a random 16-digit one by default.
            url: the Application URL for this call (default: the simulator's).
            params: more ``NewCall`` parameters, e.g. ``{"outbound_sid": "..."}``.

        >>> from kookoo import KooKoo, Response
        >>> app = KooKoo(store=False)
        >>> @app.on_new_call
        ... def menu(event):
        ...     reply = Response()
        ...     reply.collect_dtmf(max_digits=1).play_text("Press 1")
        ...     return reply
        >>> call = Simulator(app).call("09876543210", sid="1104528084461170")
        >>> call.turns[0].params["cid_e164"], call.waiting_for
        ('+919876543210', 'digits')
        """
        new_call = SimulatedCall(
            self,
            sid=sid if sid is not None else self.new_sid(),
            caller=caller,
            called_number=called_number,
            url=_with_token(url or self.url, self.token),
        )
        first = request_params(
            events.NewCall,
            sid=new_call.sid,
            caller=caller,
            called_number=called_number,
            circle=circle,
            operator=operator,
        )
        first.update(params or {})
        new_call._exchange(first)
        return new_call


class SimulatedCall:
    """One call in progress: what the caller heard, what the app waits for, and the actions
    of the caller and the network.  Made by :meth:`Simulator.call`.

    Every action returns the call, so actions chain: ``call.press("1").press("2")``.

    Attributes:
        sid: the call id sent on every request.
        caller: the ``cid`` of the call.
        called_number: the DID dialled.
        url: the URL the next request goes to (changed by ``gotourl``).
        turns: every request and reply, in order.
        heard: everything the caller heard in the whole call.
        last_heard: what the caller heard since the last action (over all the replies that
            action caused).
        sms: every SMS the app sent.
        waiting_for: what the app waits for (``"digits"``, ``"recording"``, ...), ``None``
            once the call is over.
        waiting_node: the element the app is waiting on (its attributes: ``l``, ``o``, ...).
        ended_by: ``"app"`` (``<hangup>``), ``"caller"`` (:meth:`hangup`), ``"error"`` or
            ``None`` while the call is live.
        elapsed_seconds: the simulated clock (see the module docstring).
    """

    def __init__(
        self, simulator: Simulator, *, sid: str, caller: str, called_number: str, url: str
    ) -> None:
        self.simulator = simulator
        self.sid = sid
        self.caller = caller
        self.called_number = called_number
        self.url = url
        self.turns: list[Turn] = []
        self.heard: list[str] = []
        self.last_heard: list[str] = []
        self.sms: list[Sms] = []
        self.waiting_for: WaitingFor | None = None
        self.waiting_node: Node | None = None
        self.ended_by: Literal["app", "caller", "error"] | None = None
        self.elapsed_seconds = 0
        self._transport = simulator._transport()

    def __repr__(self) -> str:
        status = f"ended by {self.ended_by}" if self.ended_by else f"waiting for {self.waiting_for}"
        return f"<SimulatedCall sid={self.sid} {status}, {len(self.turns)} turns>"

    # -- what the test reads ------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        """Whether the call is over."""
        return self.ended_by is not None

    @property
    def last_turn(self) -> Turn:
        """The latest request and reply."""
        return self.turns[-1]

    @property
    def last_response(self) -> Response | None:
        """The parsed reply the app is currently waiting on (the latest reply that parsed)."""
        for turn in reversed(self.turns):
            if turn.response is not None:
                return turn.response
        return None

    @property
    def stored_call(self) -> Call | None:
        """The app's :class:`~kookoo.state.calls.Call` for this sid, loaded from its store now;
        ``None`` when the store is unknown (see :attr:`Simulator.store`) or has no record."""
        store = self.simulator.store
        return None if store is None else store.load(self.sid)

    @property
    def state(self) -> dict[str, Any] | None:
        """The app's per-call state (``Call.state``), or ``None`` (see :attr:`stored_call`).

        >>> call.state["lang"]  # doctest: +SKIP
        'hi'
        """
        stored = self.stored_call
        return None if stored is None else stored.state

    def transcript(self) -> list[str]:
        """The call as readable lines: ``"heard: ..."``, ``"sms to ...: ..."``, and the
        caller's and network's actions (``"pressed: 1"``)."""
        lines: list[str] = []
        for turn in self.turns:
            lines.append(_describe_request(turn.params))
            lines.extend(f"heard: {text}" for text in turn.heard)
            lines.extend(f"sms to {s.to or 'caller'}: {s.text}" for s in turn.sms)
        return lines

    def assert_heard(self, *fragments: str, whole_call: bool = False) -> None:
        """Assert that each fragment is part of something heard since the last action (or in
        the whole call); the failure message lists what was heard.

        >>> call.assert_heard("press 1")  # doctest: +SKIP
        """
        __tracebackhide__ = True  # pytest shows the test's line, not this one
        heard = self.heard if whole_call else self.last_heard
        missing = [f for f in fragments if not any(f in text for text in heard)]
        if missing:
            shown = "\n".join(f"  {text!r}" for text in heard) or "  (nothing)"
            raise AssertionError(f"the caller did not hear {missing!r}; heard:\n{shown}")

    # -- the caller's and the network's actions -------------------------------------------

    def press(self, digits: str) -> SimulatedCall:
        """The caller presses ``digits`` (``""`` = nothing until the timeout); sends
        ``GotDTMF`` with ``data`` = the keys as pressed.

        Raises:
            UnexpectedActionError: the app is not collecting digits, a key is not a phone key,
                more than ``l`` digits, or keys after the terminator.
        """
        node = self._expect("digits", f"press({digits!r})")
        bad = sorted(set(digits) - _DTMF_KEYS)
        if bad:
            raise UnexpectedActionError(
                f"press({digits!r}): {''.join(bad)!r} is not a phone key (0-9, * and #)"
            )
        if not digits:
            return self.timeout()
        terminator = node.get("t")
        keys = digits
        if terminator and terminator in digits:
            keys, _, after = digits.partition(terminator)
            if after:
                raise UnexpectedActionError(
                    f"press({digits!r}): input ends at the terminator {terminator!r}; "
                    f"{after!r} after it would be lost"
                )
        max_digits = node.get_int("l")
        if max_digits is not None and len(keys) > max_digits:
            raise UnexpectedActionError(
                f"press({digits!r}): the app collects at most {max_digits} "
                f"digit{'s' if max_digits != 1 else ''} (l={max_digits}); KooKoo would stop "
                f"after {keys[:max_digits]!r}"
            )
        self.elapsed_seconds += len(digits)
        return self._act(events.GotDTMF, digits=digits)

    def timeout(self) -> SimulatedCall:
        """The caller presses nothing: ``GotDTMF`` with empty ``data`` after the timeout."""
        node = self._expect("digits", "timeout()")
        timeout_ms = node.get_int("o")
        if timeout_ms is None:
            timeout_ms = schema.DEFAULT_DTMF_TIMEOUT_MS
        self.elapsed_seconds += timeout_ms // 1000
        return self._act(events.GotDTMF, digits="")

    def record(
        self, url: str | None = None, *, duration: int = 5, status: str = "silence"
    ) -> SimulatedCall:
        """The recording finishes: ``Record`` with ``data`` = its URL, ``status`` and
        ``record_duration``.

        Args:
            url: the recording's URL; by default one on KooKoo's recordings host named after
                the ``<record>`` file name and format.
            duration: its length in seconds (at most the reply's ``maxduration``).
            status: KooKoo's record status; ``"silence"`` (the caller stopped talking) is the
                only documented value.
        """
        node = self._expect("recording", "record()")
        max_seconds = node.get_int("max_seconds")
        if max_seconds is not None and duration > max_seconds:
            raise UnexpectedActionError(
                f"record(duration={duration}): the app records at most {max_seconds} s "
                f"(maxduration={max_seconds})"
            )
        if url is None:
            url = f"{RECORDINGS_URL}{node.text.strip() or self.sid}.{node.get('format') or 'wav'}"
        self.elapsed_seconds += duration
        return self._act(events.Record, url=url, status=status, duration_seconds=duration)

    def answer_dial(
        self,
        *,
        duration: int = 30,
        recording_url: str | None = None,
        message: str = "NormalCallClearing",
    ) -> SimulatedCall:
        """The dialled party answers, talks ``duration`` seconds and hangs up: ``Dial`` with
        ``status=answered``, ``callduration``, ``message`` and ``data`` = the recording URL
        (``-1`` when the dial is not recorded; a default URL when it is and none is given)."""
        node = self._expect("dial", "answer_dial()")
        if recording_url is None and (node.get("record") or "").lower() == "true":
            recording_url = f"{RECORDINGS_URL}{self.sid}-dial.wav"
        self.elapsed_seconds += duration
        dial = {"status": "answered", "recording_url": recording_url or None}  # None: data=-1
        return self._act(events.Dial, **dial, talk_seconds=duration, message=message)

    def dial_not_answered(self, *, message: str = "NoAnswer") -> SimulatedCall:
        """Nobody answers the dialled number: ``Dial`` with ``status=not_answered``,
        ``data=-1``, ``callduration=0`` and ``message`` (e.g. ``"NoAnswer"``)."""
        self._expect("dial", "dial_not_answered()")
        self.elapsed_seconds += 30
        return self._act(
            events.Dial, status="not_answered", recording_url=None, talk_seconds=0, message=message
        )

    def say(self, text: str) -> SimulatedCall:
        """The caller speaks to ``<recognize>``: ``Recognize`` with ``data`` = ``text``
        (encoded once more, as KooKoo does, when it holds ``%`` or ``+``, so that
        :attr:`~kookoo.protocol.events.Recognize.text` is ``text``)."""
        self._expect("speech", f"say({text!r})")
        self.elapsed_seconds += 2
        return self._act(events.Recognize, text=text)

    def leave_conference(self) -> SimulatedCall:
        """The caller leaves the conference with ``#``: ``Conference``."""
        self._expect("conference", "leave_conference()")
        return self._act(events.Conference)

    def end_stream(self, *, status: str = "completed", duration: int = 10) -> SimulatedCall:
        """The bot's stream ends with the caller still on the line: ``Stream`` with
        ``status`` and ``callduration``."""
        self._expect("stream", "end_stream()")
        self.elapsed_seconds += duration
        return self._act(events.Stream, status=status, duration_seconds=duration)

    def hangup(self, **leftovers: str) -> SimulatedCall:
        """The caller hangs up now: ``Hangup`` with ``process`` (what the app was waiting on:
        ``collectdtmf``, ``record``, ``dial``, ``stream``, ...), ``total_call_duration`` and
        the interrupted action's leftovers.

        Args:
            leftovers: parameters to add or override, e.g. ``data="12"`` (digits pressed so
                far) or ``data=URL, record_duration="3"`` for a partial recording.  Defaults:
                ``data=""`` during a collect, ``data=-1 status=answered callduration=0``
                during a dial.
        """
        if self.ended:
            raise CallEndedError(self._over("hangup()"))
        process = "none" if self.waiting_for is None else _PROCESS[self.waiting_for]
        values: dict[str, object] = {"caller": self.caller, "called_number": self.called_number}
        values.update(process=process, total_call_seconds=self.elapsed_seconds + 1)
        if process == "collectdtmf":
            values["digits"] = ""
        elif process == "dial":
            values.update(dial_recording_url=None, dial_status="answered", dial_talk_seconds=0)
        return self._act(events.Hangup, leftovers, **values)

    # -- the exchange -----------------------------------------------------------------------

    def _over(self, action: str) -> str:
        how = {
            "app": "the app hung up",
            "caller": "the caller hung up",
            "error": "the app's reply was invalid",
        }[self.ended_by or "app"]
        return f"{action}: the call is already over ({how})"

    def _expect(self, waiting: WaitingFor, action: str) -> Node:
        __tracebackhide__ = True
        if self.ended:
            raise CallEndedError(self._over(action))
        if self.waiting_for != waiting or self.waiting_node is None:
            raise UnexpectedActionError(
                f"{action} but the app is waiting for {_WANTS[self.waiting_for]}"
            )
        return self.waiting_node

    def _act(
        self, event: type[events.Event], raw: Mapping[str, str] | None = None, /, **values: object
    ) -> SimulatedCall:
        """Send ``event`` with these typed values, then the ``raw`` parameters as given."""
        self.last_heard = []
        self._exchange({**request_params(event, sid=self.sid, **values), **(raw or {})})
        return self

    def _exchange(self, params: dict[str, str]) -> None:
        """Send ``params`` and keep KooKoo's loop going until the app waits or the call ends."""
        try:
            self._loop(params)
        except SimulatorError as exc:
            exc.call = self
            raise

    def _loop(self, params: dict[str, str]) -> None:
        self.waiting_for = None
        self.waiting_node = None
        auto_turns = 0
        while True:
            turn = self._send(params)
            if params["event"] in ("Hangup", "Disconnect"):
                self.ended_by = "caller" if params["event"] == "Hangup" else "app"
                return
            response = self._parse(turn)
            stop = self._play(turn, response)
            if stop is not None and stop.tag == "hangup":
                ended: dict[str, object] = {"caller": self.caller}
                ended.update(called_number=self.called_number, message="NormalCallClearing")
                ended.update(process=None, total_call_seconds=self.elapsed_seconds + 1)  # none
                params = request_params(events.Disconnect, sid=self.sid, **ended)
                continue
            if stop is not None:
                self.waiting_for = turn.waiting_for = _WAITS[stop.tag]
                self.waiting_node = stop
                return
            auto_turns += 1
            if auto_turns > self.simulator.max_auto_turns:
                self.ended_by = "error"
                raise SimulatorError(
                    f"the app answered {auto_turns} requests in a row without waiting for the "
                    "caller or hanging up (play-only replies make KooKoo ask again); "
                    "end the reply with collectdtmf, record, dial, ... or hangup"
                )
            params = request_params(events.Continue, sid=self.sid)

    def _send(self, params: dict[str, str]) -> Turn:
        base = self.url.split("#", 1)[0]
        url = base + ("&" if "?" in base else "?") + urlencode(params)
        turn = Turn(url=url, params=params)
        self.turns.append(turn)
        try:
            turn.status, turn.body, turn.app_errors = self._transport.get(url)
        except TransportError as exc:
            raise SimulatorError(str(exc)) from exc
        self.elapsed_seconds += 1
        if turn.status != 200:
            self.ended_by = "error"
            body = turn.xml.strip()
            raise InvalidReplyError(
                f"the app answered {_describe_request(params)} with HTTP {turn.status}"
                + (f": {body[:500]}" if body else ""),
                turn,
            )
        if turn.app_errors and self.simulator.raise_app_errors:
            self.ended_by = "error"
            raise InvalidReplyError(
                f"the app logged an error answering {_describe_request(params)}: "
                + "; ".join(turn.app_errors),
                turn,
            )
        return turn

    def _parse(self, turn: Turn) -> Response:
        if self.simulator.lint:
            from kookoo.xml.lint import lint

            turn.findings = lint(turn.body)
        errors = [f for f in turn.findings if f.severity == "error"]
        try:
            response = parse_response(turn.body)
        except ResponseParseError as exc:
            self.ended_by = "error"
            raise InvalidReplyError(
                f"the app's reply to {_describe_request(turn.params)} is not KooKoo XML:"
                + (_findings_text(errors) if errors else f" {exc}"),
                turn,
            ) from None
        if errors:
            self.ended_by = "error"
            raise InvalidReplyError(
                f"the app's reply to {_describe_request(turn.params)} fails lint:"
                + _findings_text(errors),
                turn,
            )
        turn.response = response
        return response

    def _play(self, turn: Turn, response: Response) -> Node | None:
        """Play ``response`` into the transcript; return the tag KooKoo stops at, if any."""
        stop: Node | None = None
        for node in response.children:
            tag = node.tag
            if tag == "gotourl":
                self.url = urljoin(self.url, node.text.strip())
            elif stop is not None:
                turn.skipped.append(tag)
            elif tag == "sendsms":
                sms = Sms(text=" ".join(node.text.split()), to=node.get("to"))
                turn.sms.append(sms)
                self.sms.append(sms)
            elif tag == "collectdtmf":
                for child in node.children:
                    self._hear(turn, child)
                stop = node
            elif tag in _WAITS or tag == "hangup":
                stop = node
            elif tag not in _SILENT:
                self._hear(turn, node)
        return stop

    def _hear(self, turn: Turn, node: Node) -> None:
        text = " ".join(node.text.split())
        if node.tag == "playtext":
            heard = text
        elif node.tag == "say-as":
            labels = " ".join(v for v in (node.get("format") or "501", node.get("lang")) if v)
            heard = f"[say-as {labels}] {text}"
        elif node.tag == "playaudio":
            heard = f"[audio {text}]"
        else:  # an unknown element (lint warns about it): KooKoo plays nothing
            return
        if heard:
            turn.heard.append(heard)
            self.heard.append(heard)
            self.last_heard.append(heard)


_WANTS: Mapping[WaitingFor | None, str] = {
    "digits": "digits (press() or timeout())",
    "recording": "a recording (record())",
    "dial": "a dial outcome (answer_dial() or dial_not_answered())",
    "speech": "speech (say())",
    "conference": "the caller to leave the conference (leave_conference())",
    "stream": "the stream to end (end_stream())",
    "transfer": "a contact-centre transfer (only hangup() is simulated)",
    None: "nothing",
}


def _describe_request(params: Mapping[str, str]) -> str:
    """``"GotDTMF data='1'"``: the event and its interesting parameters, for messages."""
    event = params.get("event") or "Continue"
    shown = [
        f"{key}={value!r}"
        for key, value in params.items()
        if key not in ("event", "sid", "cid", "cid_e164", "called_number", "circle", "operator")
    ]
    return " ".join([event, *shown])


def _findings_text(findings: Iterable[Finding]) -> str:
    return "".join(
        f"\n  line {f.line if f.line is not None else '?'}: {f.code} {f.message}" for f in findings
    )
