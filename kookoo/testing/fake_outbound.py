"""A fake of KooKoo's outbound APIs, for tests: it answers like KooKoo and plays the call.

:class:`FakeOutbound` is a WSGI app serving ``outbound.php`` and ``outbound_sms.php``
(``protocol.md`` §4). It records every request, answers ``queued`` with a sid (or any of
KooKoo's errors, configurable per number), and then plays the outbound call into your app the
way KooKoo would: ``NewCall`` with ``sid`` and ``outbound_sid`` to the ``url`` (its own query
parameters kept), the simulated person's key presses (through :mod:`kookoo.testing`'s
simulator), and finally the completion callback, a form POST to ``callback_url``.

It needs no urllib3 and no network beyond loopback::

    fake = FakeOutbound()
    with fake.serve() as base_url:                  # a real HTTP server on 127.0.0.1
        client = Client(TEST_API_KEY, base_url=base_url)
        queued = client.place_call("9876543210", url="http://localhost/remind?visit=7",
                                   callback_url="http://localhost/ended")
    played = fake.answer(queued.sid, app)           # NewCall into the app, in-process
    played.call.press("1")
    played.complete()                               # the person hangs up; callback POSTed
    assert played.callback.status == 200

What KooKoo does that nobody has documented, and what the fake does instead ([U] in
``protocol.md``): the exact wording of the invalid-number and "other" errors (the fake uses
:data:`MESSAGES`); the format of ``start_time`` (the fake sends ``YYYY-MM-DD HH:MM:SS`` in
IST, like ``request_time``); the ``status_details`` of an answered call (the fake sends
``NormalCallClearing``); what KooKoo does after ``extra_data`` waits for input (the fake plays
``extra_data`` and hangs up after it).
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol, get_args
from urllib.parse import urlencode, urlsplit, urlunsplit

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response as HTTPResponse

from kookoo.outbound.window import CallingWindow
from kookoo.protocol.events import CallStatus, request_params
from kookoo.protocol.phone import normalize_indian_number
from kookoo.protocol.times import IST
from kookoo.testing.transport import _is_loopback

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from kookoo.testing.simulator import SimulatedCall, Simulator

# kookoo.testing is imported where it is used, so that kookoo.testing can re-export this
# module's names at its top without an import cycle.

__all__ = [
    "DEFAULT_CALLER_ID",
    "MESSAGES",
    "SMS_CALLING_HOURS_MESSAGE",
    "TEST_API_KEY",
    "CallbackResult",
    "FakeOutbound",
    "FakeRequest",
    "HasSid",
    "OutboundCallPlay",
    "Outcome",
    "QueuedFakeCall",
]

DEFAULT_CALLER_ID = "918065740671"
"""The DID a call shows when ``caller_id`` was not sent (the simulator's default
``called_number``)."""
TEST_API_KEY = "KK0123456789abcdef0123456789abcdef"
"""The key :class:`FakeOutbound` accepts by default (KooKoo's shape: ``KK`` + 32 hex)."""

Outcome = Literal[
    "queued", "authentication", "dnd", "calling_hours", "invalid_number", "other",
    "stall", "drop", "raw",
]  # fmt: skip
"""How the fake answers a number: ``queued``; one of KooKoo's errors; ``stall`` (record the
request, then answer only after :meth:`FakeOutbound.release_stalled` or ``stall_seconds``,
too late for a client with a shorter timeout); ``drop`` (record it, then close the connection
without an answer; served fakes only); ``raw`` (answer a given body and HTTP status)."""

MESSAGES: Mapping[str, str] = {
    "authentication": "Authentication error",
    "dnd": "Phone number in DND list",
    "calling_hours": "Calls will not be made between 9PM to 9AM.",
    "invalid_number": "Invalid phone number",  # [U] wording not in any public source
    "other": "Outbound calls are not enabled for this account",  # [U]
}
"""KooKoo's error messages as the fake sends them for calls ([O] for the first three)."""
SMS_CALLING_HOURS_MESSAGE = "Cannot process the request before your working start hour."
"""KooKoo's SMS refusal outside working hours ([O] KOOQ)."""

_REJECTIONS = frozenset(MESSAGES)
_OUTCOMES = frozenset(get_args(Outcome))


@dataclass(slots=True)
class FakeRequest:
    """One request the fake received.

    Attributes:
        api: ``"call"``, ``"sms"`` or ``"unknown"`` (another path).
        method: the HTTP method.
        path: the request path.
        params: the query (and form) parameters, first value of each.
        query: the raw query string, as sent.
        outcome: how the fake answered.
        status: the HTTP status answered (0 for a dropped connection).
        body: the body answered.
    """

    api: Literal["call", "sms", "unknown"]
    method: str
    path: str
    params: dict[str, str]
    query: str
    outcome: Outcome = "queued"
    status: int = 0
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class QueuedFakeCall:
    """A call the fake queued: its sid and the parameters it was asked with."""

    sid: str
    phone_no: str
    url: str | None
    extra_data: str | None
    caller_id: str | None
    callback_url: str | None
    params: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class CallbackResult:
    """The completion callback the fake POSTed: where, what, and what the app answered."""

    url: str
    fields: Mapping[str, str]
    status: int
    body: bytes


@dataclass(slots=True)
class _Rule:
    outcome: Outcome
    message: str | None = None
    body: bytes = b""
    http_status: int = 200


class HasSid(Protocol):
    """Anything naming a call by its sid (a :class:`~kookoo.outbound.QueuedCall`)."""

    @property
    def sid(self) -> str: ...


class _QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler without the access log: request lines carry the API key."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class FakeOutbound:
    """The fake ``outbound.php`` / ``outbound_sms.php``; a WSGI app (see the module docs).

    Args:
        api_key: the key it accepts; any other (or none) gets KooKoo's ``Authentication
            error``.
        root: the root element of its replies: ``"response"`` or ``"request"`` (public code
            shows both, ``protocol.md`` §4.1 [U]).
        window: when set, calls and SMS outside it are refused like KooKoo does (9 pm-9 am).
        clock: unix time, for ``window`` and the callback's ``start_time``.
        first_sid: the sid of the first queued call; later ones count up.
        stall_seconds: longest a ``stall`` answer waits for :meth:`release_stalled`.

    Attributes:
        requests: every request, in order.
        calls: every call it queued.
        sms: the parameters of every SMS it accepted.
    """

    def __init__(
        self,
        *,
        api_key: str = TEST_API_KEY,
        root: Literal["response", "request"] = "response",
        window: CallingWindow | None = None,
        clock: Callable[[], float] = time.time,
        first_sid: int = 2470213640781001,
        stall_seconds: float = 10.0,
    ) -> None:
        self.api_key = api_key
        self.root = root
        self.window = window
        self.clock = clock
        self.stall_seconds = stall_seconds
        self.requests: list[FakeRequest] = []
        self.calls: list[QueuedFakeCall] = []
        self.sms: list[dict[str, str]] = []
        self._rules: dict[str, _Rule] = {}
        self._sids = itertools.count(first_sid)
        self._lock = threading.Lock()
        self._released = threading.Event()

    def __repr__(self) -> str:
        return f"<FakeOutbound {len(self.requests)} requests, {len(self.calls)} calls>"

    # -- configuration -----------------------------------------------------------------------

    def on_number(
        self,
        phone_no: str,
        outcome: Outcome,
        *,
        message: str | None = None,
        body: bytes = b"",
        http_status: int = 200,
    ) -> None:
        """Answer requests for ``phone_no`` (any spelling of the same Indian number) with
        ``outcome``; ``message`` overrides KooKoo's message for an error, ``body`` and
        ``http_status`` are the answer for ``raw``."""
        if outcome not in _OUTCOMES:
            raise ValueError(f"outcome must be one of {sorted(_OUTCOMES)}, got {outcome!r}")
        self._rules[_key(phone_no)] = _Rule(outcome, message, body, http_status)

    def release_stalled(self) -> None:
        """Let every stalled request answer (late)."""
        self._released.set()

    def call(self, sid: HasSid | str | None = None) -> QueuedFakeCall:
        """The queued call with this sid (or the sid of ``sid``, e.g. a
        :class:`~kookoo.outbound.QueuedCall`; default: the latest)."""
        if isinstance(sid, QueuedFakeCall):
            return sid
        if sid is not None and not isinstance(sid, str):
            sid = sid.sid
        if not self.calls:
            raise LookupError("the fake queued no call yet")
        if sid is None:
            return self.calls[-1]
        for queued in self.calls:
            if queued.sid == sid:
                return queued
        raise LookupError(f"the fake queued no call with sid {sid!r}")

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        params = {key: request.values.get(key, "") for key in request.values}
        path = request.path
        api: Literal["call", "sms", "unknown"] = (
            "call"
            if path.endswith("/outbound.php")
            else "sms"
            if path.endswith("/outbound_sms.php")
            else "unknown"
        )
        record = FakeRequest(
            api, request.method, path, params, environ.get("QUERY_STRING", "")
        )  # fmt: skip
        with self._lock:
            self.requests.append(record)
        if api == "unknown":
            record.status, record.body = 404, b"Not Found"
            return HTTPResponse(record.body, 404)(environ, start_response)
        rule = self._decide(api, params)
        record.outcome = rule.outcome
        if rule.outcome == "drop":
            sock = environ.get("werkzeug.socket")
            if not isinstance(sock, socket.socket):
                raise RuntimeError("the 'drop' outcome needs a served fake (FakeOutbound.serve)")
            sock.shutdown(socket.SHUT_RDWR)  # no answer; werkzeug's write then fails quietly
            return HTTPResponse(b"", 200)(environ, start_response)
        if rule.outcome == "stall":
            self._released.wait(self.stall_seconds)
        if rule.outcome == "raw":
            status, body = rule.http_status, rule.body
        elif rule.outcome in ("queued", "stall"):
            status, body = 200, self._accept(api, params)
        else:
            status, body = 200, self._xml("error", rule.message or self._message(api, rule))
        record.status, record.body = status, body
        reply = HTTPResponse(body, status, content_type="text/html; charset=UTF-8")
        return reply(environ, start_response)

    def _decide(self, api: str, params: Mapping[str, str]) -> _Rule:
        if params.get("api_key") != self.api_key:
            return _Rule("authentication")
        number = params.get("phone_no", "")
        rule = self._rules.get(_key(number))
        if rule is not None:
            return rule
        if not number:
            return _Rule("other", "phone_no is mandatory")
        if self.window is not None and not self.window.is_open(self.clock()):
            return _Rule("calling_hours")
        valid = normalize_indian_number(number) is not None or (
            api == "call" and number.startswith("00") and number[2:].isdigit()
        )
        if not valid:
            return _Rule("invalid_number")
        return _Rule("queued")

    def _message(self, api: str, rule: _Rule) -> str:
        if api == "sms" and rule.outcome == "calling_hours":
            return SMS_CALLING_HOURS_MESSAGE
        return MESSAGES[rule.outcome]

    def _accept(self, api: str, params: Mapping[str, str]) -> bytes:
        if api == "sms":
            with self._lock:
                self.sms.append(dict(params))
            return self._xml("success", "Message sent successfully")  # [U] wording
        with self._lock:
            sid = str(next(self._sids))
            self.calls.append(
                QueuedFakeCall(
                    sid=sid,
                    phone_no=params["phone_no"],
                    url=params.get("url"),
                    extra_data=params.get("extra_data"),
                    caller_id=params.get("caller_id"),
                    callback_url=params.get("callback_url"),
                    params=dict(params),
                )
            )
        return self._xml("queued", sid)

    def _xml(self, status: str, message: str) -> bytes:
        from xml.sax.saxutils import escape

        return (
            f"<{self.root}><status>{escape(status)}</status>"
            f"<message>{escape(message)}</message></{self.root}>"
        ).encode()

    # -- serving -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Serve the fake on loopback (a thread running werkzeug's server); yield its base
        URL, ``http://127.0.0.1:<port>/outbound/``, for ``Client(base_url=...)``.

        On exit stalled requests are released and the server stops.
        """
        if not _is_loopback(host):
            raise ValueError(f"the fake serves on loopback only, not {host!r}")
        self._released.clear()
        server = make_server(host, port, self, threaded=True, request_handler=_QuietHandler)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        try:
            yield f"http://{host}:{server.port}/outbound/"
        finally:
            self._released.set()
            server.shutdown()
            server.server_close()
            thread.join(10)

    # -- playing calls -----------------------------------------------------------------------

    def _target(self, queued: QueuedFakeCall, app: WSGIApplication | str | None) -> Simulator:
        from kookoo.testing.simulator import Simulator

        if queued.url is None and queued.extra_data is not None and app is None:
            return Simulator(_ExtraData(queued.extra_data), url="http://kookoo.invalid/extra")
        if app is None:
            if queued.url is None:
                raise ValueError(
                    f"call {queued.sid} has neither url nor extra_data: pass the app to play"
                )
            return Simulator(_loopback_only(queued.url, "url"))
        if isinstance(app, str):
            return Simulator(_loopback_only(app, "app"))
        return Simulator(app, url=queued.url or "http://localhost/")

    def answer(
        self,
        call: HasSid | str | None = None,
        app: WSGIApplication | str | None = None,
        *,
        ring_seconds: int = 4,
        callback_app: WSGIApplication | None = None,
    ) -> OutboundCallPlay:
        """The person answers: send ``NewCall`` (``sid`` and ``outbound_sid`` = the call's
        sid, ``cid`` = the number dialled, ``called_number`` = ``caller_id``) to the call's
        ``url`` over HTTP (loopback URLs only), or to ``app`` in-process (with the ``url``'s
        host, path and query). A call with only ``extra_data`` plays that XML.

        Returns an :class:`OutboundCallPlay`: drive the person through ``.call`` (a
        :class:`~kookoo.testing.SimulatedCall`), then :meth:`OutboundCallPlay.complete`.
        ``callback_app`` receives the callback in-process (default: ``app`` when it is a WSGI
        app, else HTTP to ``callback_url``).
        """
        queued = self.call(call)
        started = self.clock() + ring_seconds
        simulator = self._target(queued, app)
        simulated = simulator.call(
            queued.phone_no,
            called_number=queued.caller_id or DEFAULT_CALLER_ID,
            sid=queued.sid,
            params={"outbound_sid": queued.sid},
        )
        receiver = callback_app if callback_app is not None else app
        return OutboundCallPlay(
            self,
            queued,
            simulated,
            started_at=started,
            ringing_seconds=ring_seconds,
            callback_app=receiver if not isinstance(receiver, str) else None,
        )

    def play(
        self,
        call: HasSid | str | None = None,
        app: WSGIApplication | str | None = None,
        *,
        presses: Iterable[str] = (),
        ring_seconds: int = 4,
        callback_app: WSGIApplication | None = None,
    ) -> OutboundCallPlay:
        """:meth:`answer`, press each of ``presses`` in turn, then
        :meth:`~OutboundCallPlay.complete`: the whole answered call in one line."""
        played = self.answer(call, app, ring_seconds=ring_seconds, callback_app=callback_app)
        for keys in presses:
            played.call.press(keys)
        played.complete()
        return played

    def not_answered(
        self,
        call: HasSid | str | None = None,
        *,
        status: str = "ring",
        status_details: str = "NoAnswer",
        ring_seconds: int = 30,
        callback_app: WSGIApplication | None = None,
    ) -> CallbackResult | None:
        """Nobody answers: no ``NewCall``, only the completion callback (``status=ring``,
        ``status_details=NoAnswer``, ``duration=0`` by default; ``busy`` and others are
        [U]). Returns what the app answered, or ``None`` without a ``callback_url``."""
        queued = self.call(call)
        fields = self.callback_fields(
            queued,
            status=status,
            status_details=status_details,
            started_at=self.clock(),
            duration=0,
            ringing_seconds=ring_seconds,
        )
        return self._post_callback(queued, fields, callback_app)

    def callback_fields(
        self,
        queued: QueuedFakeCall,
        *,
        status: str,
        status_details: str,
        started_at: float,
        duration: int,
        ringing_seconds: int,
    ) -> dict[str, str]:
        """The completion callback's form fields (``protocol.md`` §4.2), in HQ's order, as
        :func:`~kookoo.protocol.events.request_params` writes a
        :class:`~kookoo.protocol.events.CallStatus` (``start_time`` to the second)."""
        return request_params(
            CallStatus,
            sid=queued.sid,
            status=status,
            status_details=status_details,
            caller_id=queued.caller_id or DEFAULT_CALLER_ID,
            phone_no=queued.phone_no,
            start_time=datetime.fromtimestamp(started_at, IST).replace(microsecond=0),
            duration_seconds=duration,
            ringing_seconds=ringing_seconds,
        )

    def _post_callback(
        self,
        queued: QueuedFakeCall,
        fields: Mapping[str, str],
        app: WSGIApplication | None,
    ) -> CallbackResult | None:
        if queued.callback_url is None:
            return None
        url = queued.callback_url
        body = urlencode(fields).encode()
        if app is not None:
            from werkzeug.test import Client as TestClient

            parts = urlsplit(url)
            target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
            base = urlunsplit((parts.scheme or "http", parts.netloc or "localhost", "", "", ""))
            response = TestClient(app).post(
                target,
                base_url=base,
                data=body,
                content_type="application/x-www-form-urlencoded",
            )
            try:
                return CallbackResult(url, dict(fields), response.status_code, response.get_data())
            finally:
                response.close()
        _loopback_only(url, "callback_url")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with opener.open(request, timeout=10) as reply:
                return CallbackResult(url, dict(fields), reply.status, reply.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return CallbackResult(url, dict(fields), exc.code, exc.read())


class OutboundCallPlay:
    """An answered outbound call in progress (from :meth:`FakeOutbound.answer`).

    Attributes:
        queued: the call as the fake queued it.
        call: the simulated call: press keys, read what the person heard.
        callback: what :meth:`complete` POSTed and the app answered (``None`` before, or
            without a ``callback_url``).
    """

    def __init__(
        self,
        fake: FakeOutbound,
        queued: QueuedFakeCall,
        call: SimulatedCall,
        *,
        started_at: float,
        ringing_seconds: int,
        callback_app: WSGIApplication | None,
    ) -> None:
        self.fake = fake
        self.queued = queued
        self.call = call
        self.started_at = started_at
        self.ringing_seconds = ringing_seconds
        self.callback_app = callback_app
        self.callback: CallbackResult | None = None
        self.completed = False

    def __repr__(self) -> str:
        return f"<OutboundCallPlay sid={self.queued.sid} {self.call!r}>"

    def complete(self, *, status_details: str = "NormalCallClearing") -> CallbackResult | None:
        """End the call: the person hangs up if the app has not, then the completion
        callback (``status=answered``, ``duration`` = the call's simulated seconds) is POSTed.

        Raises:
            RuntimeError: called twice.
        """
        if self.completed:
            raise RuntimeError(f"call {self.queued.sid} is already complete")
        self.completed = True
        if not self.call.ended:
            self.call.hangup()
        fields = self.fake.callback_fields(
            self.queued,
            status="answered",
            status_details=status_details,
            started_at=self.started_at,
            duration=self.call.elapsed_seconds,
            ringing_seconds=self.ringing_seconds,
        )
        self.callback = self.fake._post_callback(self.queued, fields, self.callback_app)
        return self.callback


class _ExtraData:
    """KooKoo playing ``extra_data``: the XML for ``NewCall``, then a hangup [U]."""

    def __init__(self, xml: str) -> None:
        self.xml = xml.encode("utf-8")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        body = (
            self.xml
            if request.args.get("event") == "NewCall"
            else b"<response><hangup/></response>"
        )
        return HTTPResponse(body, content_type="text/xml; charset=utf-8")(environ, start_response)


_HANGUP = b"<response><hangup/></response>"


def _loopback_only(url: str, name: str) -> str:
    """A test fake must not reach the internet: over HTTP it plays to loopback URLs only."""
    if not _is_loopback(urlsplit(url).hostname):
        raise ValueError(
            f"the fake reaches apps over HTTP on loopback only, and {name} is {url!r}: pass "
            "the WSGI app (app=, callback_app=) to play the call in-process"
        )
    return url


def _key(phone_no: str) -> str:
    return normalize_indian_number(phone_no) or phone_no
