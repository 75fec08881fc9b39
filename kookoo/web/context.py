"""What one request carries through the pipeline of :class:`kookoo.KooKoo` and what it is
answered with: :class:`RequestContext`, :class:`Reply`, :func:`plain_reply`, and the error a
handler that breaks the contract raises (:class:`HandlerError`)."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any, NamedTuple

from werkzeug.wrappers import Request

from kookoo.core.errors import KooKooError
from kookoo.core.text import plain_error_body
from kookoo.protocol.events import Event
from kookoo.state.calls import Call
from kookoo.state.session import CallSession
from kookoo.web.scaffold import Handler
from kookoo.web.security import GuardResult

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

__all__ = [
    "TEXT_CONTENT_TYPE",
    "XML_CONTENT_TYPE",
    "HandlerError",
    "Reply",
    "RequestContext",
    "plain_reply",
    "status_line",
]

XML_CONTENT_TYPE = "text/xml; charset=utf-8"
"""The content type of every KooKoo XML reply."""
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
"""The content type of the pipeline's one-sentence error replies."""


class HandlerError(KooKooError):
    """A handler broke the framework's contract (returned the wrong thing, or none was found).

    Handled like any handler exception: logged with the sid, the caller hears the fallback.
    """


class Reply(NamedTuple):
    """What the pipeline answers one request with (before WSGI sends it)."""

    status: int
    """The HTTP status code."""
    content_type: str
    """The ``Content-Type`` header."""
    body: bytes
    """The body: KooKoo XML, or one plain-text sentence for a 4xx."""


def plain_reply(status: int, message: str) -> Reply:
    """A plain-text error reply whose body is one sentence (the pipeline's 4xx): one line, at
    most ~200 characters, control characters escaped
    (:func:`~kookoo.core.text.plain_error_body`)."""
    return Reply(status, TEXT_CONTENT_TYPE, plain_error_body(message))


class RequestContext:
    """What one request carries through the pipeline.

    The Werkzeug :class:`~werkzeug.wrappers.Request` is built only when something needs it (a
    handler that asks for ``request``, a POST body, a relative URL to resolve): most KooKoo
    requests are a GET whose query string is all there is, and that is parsed directly.

    Attributes:
        environ: the WSGI environment.
        route: the matched route (``"-"`` until routing).
        path_args: the route variables of the matched route.
        params: the request parameters (query, then form), first value of each.
        event: the parsed event, once parsed.
        handler: the handler chosen, once dispatched.
        session: the request's :class:`~kookoo.state.session.CallSession`, when the app keeps state.
        guard: what the app's guards decided (:class:`~kookoo.web.security.GuardResult`), or
            ``None`` when none is configured; its token is kept in relative URLs.
        path: the path the router saw (without a secret path segment).
        signed: the verified app parameters on a route declared signed, else ``{}``.
        call: the call the handler runs on (``None`` for an app without state).
        failed: True when the handler failed and the caller heard the fallback.
    """

    __slots__ = (
        "_request",
        "call",
        "environ",
        "event",
        "failed",
        "guard",
        "handler",
        "params",
        "path",
        "path_args",
        "request_class",
        "route",
        "session",
        "signed",
    )

    def __init__(self, environ: WSGIEnvironment, request_class: type[Request] = Request) -> None:
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
        self.failed = False
        self.guard: GuardResult | None = None
        self.path = "/"
        self.signed: dict[str, str] = {}

    @property
    def request(self) -> Request:
        """The Werkzeug request, built on first use."""
        if self._request is None:
            self._request = self.request_class(self.environ)
        return self._request


def status_line(status: int) -> str:
    """The WSGI status line for ``status`` (``"403 FORBIDDEN"``)."""
    try:
        return f"{status} {HTTPStatus(status).phrase.upper()}"
    except ValueError:
        return f"{status} UNKNOWN"


_STATUS_LINES = {code: status_line(code) for code in (200, 400, 403, 404, 405, 414)}
