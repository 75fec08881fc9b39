"""What one request carries through the pipeline (:class:`RequestContext`), what it is
answered with (:class:`Reply`, the app's ``response_class``), the hooks' types, and the error a
handler that breaks the contract raises (:class:`HandlerError`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from werkzeug.wrappers import Request

from kookoo.core.errors import KooKooError
from kookoo.core.text import plain_error_body
from kookoo.protocol.events import Event
from kookoo.state.calls import Call
from kookoo.state.session import CallSession
from kookoo.web.handlers import Handler, HandlerResult
from kookoo.web.security import NOSNIFF_HEADER, GuardResult

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = [
    "TEXT_CONTENT_TYPE",
    "XML_CONTENT_TYPE",
    "AfterResponse",
    "BeforeDispatch",
    "HandlerError",
    "Outcome",
    "Reply",
    "RequestContext",
    "plain_reply",
    "status_line",
]

XML_CONTENT_TYPE = "text/xml; charset=utf-8"
"""The content type of every KooKoo XML reply."""
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
"""The content type of the pipeline's one-sentence error replies."""

#: How the pipeline answered a request: as the app meant (``"ok"``), with the fallback prompt
#: (a handler failed, a race was lost for good, the call could not be loaded or saved), or
#: with the outage prompt (``"unavailable"``: the store could not be reached).
Outcome = Literal["ok", "fallback", "unavailable"]


class HandlerError(KooKooError):
    """A handler broke the framework's contract (returned the wrong thing, or none was found).

    Handled like any handler exception: logged with the sid, the caller hears the fallback.
    """


def status_line(status: int) -> str:
    """The WSGI status line for ``status`` (``"403 FORBIDDEN"``)."""
    try:
        return f"{status} {HTTPStatus(status).phrase.upper()}"
    except ValueError:
        return f"{status} UNKNOWN"


_STATUS_LINES = {code: status_line(code) for code in (200, 400, 403, 404, 405, 414, 503)}


class Reply(NamedTuple):
    """The one response object a request is answered with, built once at the end of the
    pipeline (the app's ``response_class``); a WSGI application of its own.

    Werkzeug's ``Response`` would do, but a KooKoo reply is a status, a content type and a
    body, sent on every request: this builds the same headers without Werkzeug's header
    machinery (see BENCHMARKS.md).
    """

    status: int
    """The HTTP status code."""
    content_type: str
    """The ``Content-Type`` header."""
    body: bytes
    """The body: KooKoo XML, or one plain-text sentence for a 4xx."""
    extra_headers: tuple[tuple[str, str], ...] = ()
    """Headers besides ``Content-Type``, ``Content-Length`` and ``nosniff`` (``Allow``)."""

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Send the reply (headers only for ``HEAD``)."""
        status = self.status
        headers = [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            NOSNIFF_HEADER,
        ]
        if self.extra_headers:
            headers.extend(self.extra_headers)
        start_response(_STATUS_LINES.get(status) or status_line(status), headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return []
        return [self.body]


def plain_reply(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    """A plain-text error reply whose body is one sentence (the pipeline's 4xx): one line, at
    most ~200 characters, control characters escaped
    (:func:`~kookoo.core.text.plain_error_body`)."""
    return Reply(status, TEXT_CONTENT_TYPE, plain_error_body(message), headers)


class RequestContext:
    """What one request carries through the pipeline; hooks receive it.

    The Werkzeug :class:`~werkzeug.wrappers.Request` is built only when something needs it (a
    handler that asks for ``request``, a POST body, a relative URL to resolve): most KooKoo
    requests are a GET whose query string is all there is, and that is parsed directly.

    Attributes:
        environ: the WSGI environment.
        started: ``time.perf_counter()`` when the request arrived.
        route: the matched route (``"-"`` until routing).
        path_args: the route variables of the matched route.
        params: the request parameters (query, then form), first value of each.
        event: the parsed event, once parsed.
        handler: the handler chosen, once dispatched.
        session: the request's :class:`~kookoo.state.session.CallSession`, when the app keeps
            state.
        guard: what the app's guards decided (:class:`~kookoo.web.security.GuardResult`), or
            ``None`` when none is configured; its token is kept in relative URLs.
        path: the path the router saw (without a secret path segment).
        signed: the verified app parameters on a signed route, else ``{}``.
        call: the call the handler runs on (``None`` for an app without state).
        outcome: how the request was answered (:data:`Outcome`).
        probe: the request is for the health or metrics path (answered before everything).
    """

    __slots__ = (
        "_request",
        "call",
        "environ",
        "event",
        "guard",
        "handler",
        "outcome",
        "params",
        "path",
        "path_args",
        "probe",
        "request_class",
        "route",
        "session",
        "signed",
        "started",
    )

    def __init__(self, environ: WSGIEnvironment, request_class: type[Request] = Request) -> None:
        self.started = time.perf_counter()
        self.environ = environ
        self.request_class = request_class
        self._request: Request | None = None
        self.params: dict[str, str] = {}
        self.event: Event | None = None
        self.route = "-"
        self.path_args: dict[str, Any] = {}
        self.handler: Handler | None = None
        self.session: CallSession | None = None
        self.call: Call | None = None
        self.outcome: Outcome = "ok"
        self.guard: GuardResult | None = None
        self.path = "/"
        self.signed: dict[str, str] = {}
        self.probe = False

    @property
    def request(self) -> Request:
        """The Werkzeug request, built on first use."""
        if self._request is None:
            self._request = self.request_class(self.environ)
        return self._request


#: A ``@app.before_dispatch`` hook: called with the event and the request's context after the
#: request was parsed, before the call is opened; ``None`` lets the request go on, anything
#: else is the reply (what a handler returns), and then no handler runs and no call is saved.
BeforeDispatch = Callable[[Event, RequestContext], HandlerResult]

#: An ``@app.after_response`` hook: called with the request's context and its reply, once it
#: is built (for every request, refused ones too); what it returns is ignored.
AfterResponse = Callable[[RequestContext, Reply], object]
