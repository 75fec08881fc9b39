"""The WSGI application: registration, routing, dispatch and error handling.

One request, end to end::

    KooKoo  GET /ivr?event=GotDTMF&sid=123&data=1
      -> KooKoo.__call__ -> wsgi_app
      -> limits; parse the query into a typed event (kookoo.events)
      -> load the Call for sid (only when some handler asks for ``call`` or uses steps)
      -> pick the handler: route x event type x the call's current step
      -> handler(event, call=...) returns a Response  -> make_response -> XML bytes
      -> save the Call; 200 text/xml; charset=utf-8

A handler that raises is logged with the call's sid, and the caller hears a spoken fallback
prompt and is hung up instead of dead air.  A request that is not KooKoo's gets a 4xx whose
plain-text body says what is wrong.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sized
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urljoin

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from kookoo.calls import Call
from kookoo.events import (
    Disconnect,
    Event,
    EventParseError,
    Hangup,
    NewCall,
    NewSms,
    parse_event,
)
from kookoo.parser import parse_response
from kookoo.response import CollectDtmf, Response, ResponseParseError
from kookoo.scaffold import HandlerGroup, _Handler, _Scaffold
from kookoo.stores.base import CallStore, ConflictError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


__all__ = ["HandlerError", "HandlerGroup", "KooKoo"]

logger = logging.getLogger("kookoo")

_ENDING_EVENTS = (Hangup, Disconnect)
_XML_CONTENT_TYPE = "text/xml; charset=utf-8"
_TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"


class HandlerError(Exception):
    """A handler broke the framework's contract (returned the wrong thing, or none was found).

    Handled like any handler exception: logged with the sid, the caller hears the fallback.
    """


class _RequestContext:
    """What one request carries through the pipeline.

    The Werkzeug :class:`~werkzeug.wrappers.Request` is built only when something needs it (a
    handler that asks for ``request``, a POST body, a relative URL to resolve): most KooKoo
    requests are a GET whose query string is all there is, and that is parsed directly.
    """

    __slots__ = (
        "_request",
        "call",
        "environ",
        "event",
        "failed",
        "handler",
        "path_args",
        "request_class",
        "route",
    )

    def __init__(self, environ: WSGIEnvironment, request_class: type[Request]) -> None:
        self.environ = environ
        self.request_class = request_class
        self._request: Request | None = None
        self.event: Event | None = None
        self.route = "-"
        self.handler: _Handler | None = None
        self.call: Call | None = None
        self.failed = False
        self.path_args: dict[str, Any] = {}

    @property
    def request(self) -> Request:
        """The Werkzeug request, built on first use."""
        if self._request is None:
            self._request = self.request_class(self.environ)
        return self._request


class KooKoo(_Scaffold):
    """A KooKoo IVR application: a WSGI callable.

    Args:
        name: a name for logs (defaults to ``"kookoo"``).
        store: where per-call state lives: a :class:`~kookoo.stores.CallStore`, ``None`` for
            the default :class:`~kookoo.stores.SQLiteStore` (created on first use), or
            ``False`` for an app that keeps no state (handlers may then not ask for ``call``).
            Calls are only loaded and saved when some handler asks for ``call`` or uses steps.
        fallback_prompt: what the caller hears when a handler fails, before the hangup.
        debug: lint every response strictly and fail (into the fallback) on any finding.
        max_query_bytes: longest query string accepted (414 beyond).
        max_params: most parameters accepted (400 beyond).
        conflict_retries: how often a request is re-run when another request changed the same
            call meanwhile (see :class:`~kookoo.stores.ConflictError`); then the fallback.

    Example::

        app = KooKoo()

        @app.on_new_call
        def welcome(event, call):
            call.state["visits"] = 1
            with (r := Response()).collect_dtmf(max_digits=1) as menu:
                menu.play_text("Press 1 for English")
            return r.next_step("language")
    """

    #: The Werkzeug request class handed to handlers that ask for ``request``.
    request_class: type[Request] = Request

    def __init__(
        self,
        name: str = "kookoo",
        *,
        store: CallStore | bool | None = None,
        fallback_prompt: str = "Sorry, something went wrong. Please call again later.",
        debug: bool = False,
        max_query_bytes: int = 8192,
        max_params: int = 64,
        conflict_retries: int = 1,
    ) -> None:
        super().__init__()
        self.name = name
        if store is True:
            raise TypeError("store must be a CallStore, None (SQLite default) or False")
        self._store: CallStore | bool | None = store
        self.fallback_prompt = fallback_prompt
        self.debug = debug
        self.max_query_bytes = max_query_bytes
        self.max_params = max_params
        self.conflict_retries = conflict_retries
        self._serving = False
        # route -> error handlers of the HandlerGroup mounted there (see mount()).
        self._route_error_handlers: dict[
            str, dict[type[BaseException], tuple[Callable[..., Any], bool]]
        ] = {}
        self._table: dict[tuple[str, type[Event], str | None], _Handler] = {}
        self._static_routes: set[str] = set()
        self._url_map = Map(strict_slashes=False)
        self._tracks_calls = False

    # -- setup ------------------------------------------------------------------------------

    def _check_setup(self, method: str) -> None:
        if self._serving:
            raise RuntimeError(
                f"{method}() can no longer be called on app {self.name!r}: it has already "
                "handled a request. Register every handler before serving."
            )

    def mount(self, group: HandlerGroup, *, prefix: str = "") -> None:
        """Add every handler of ``group`` under ``prefix`` (``"/survey"``)."""
        self._check_setup("mount")
        prefix = prefix.rstrip("/")
        if prefix and not prefix.startswith("/"):
            raise ValueError(f"prefix {prefix!r} must start with '/'")
        for h in group._handlers:
            route = prefix + h.route if h.route != "/" else prefix or "/"
            self.add_handler(h.event_type, h.func, route=route, step=h.step)
            if group._error_handlers:
                # The group's error handlers answer for its own routes only.
                self._route_error_handlers.setdefault(route, {}).update(group._error_handlers)

    @property
    def store(self) -> CallStore | None:
        """The call store in use, or ``None`` for an app without state.

        May be replaced before the first request (tests swap in a
        :class:`~kookoo.stores.MemoryStore`).
        """
        if self._store is None:
            from kookoo.stores.sqlite import SQLiteStore

            self._store = SQLiteStore()
        return self._store if isinstance(self._store, CallStore) else None

    @store.setter
    def store(self, store: CallStore) -> None:
        self._check_setup("store")
        self._store = store

    @property
    def store_if_created(self) -> CallStore | None:
        """The store given to the app or already created; unlike :attr:`store`, reading it
        never creates the default SQLite store (and its file)."""
        return self._store if isinstance(self._store, CallStore) else None

    @property
    def uses_default_store(self) -> bool:
        """True while the app will create the default SQLite store on first use (it was given
        neither a store nor ``store=False``)."""
        return self._store is None

    def routes(self) -> list[tuple[str, str, str | None, str]]:
        """The handler table as ``(route, event name, step, handler name)`` rows, sorted."""
        rows = [(h.route, h.event_type.__name__, h.step, h.name) for h in self._handlers]
        return sorted(rows, key=lambda r: (r[0], r[1], r[2] or ""))

    def _freeze(self) -> None:
        """Build the lookup tables once, at the first request."""
        self._table = {(h.route, h.event_type, h.step): h for h in self._handlers}
        routes = {h.route for h in self._handlers}
        self._static_routes = {r for r in routes if "<" not in r}
        self._url_map = Map(
            [Rule(r, endpoint=r) for r in sorted(routes - self._static_routes)],
            strict_slashes=False,
        )
        error_tables = (self._error_handlers, *self._route_error_handlers.values())
        self._tracks_calls = any(h.wants_call or h.step is not None for h in self._handlers) or any(
            wants_call for table in error_tables for _, wants_call in table.values()
        )
        if self._tracks_calls and self._store is False:
            names = ", ".join(h.name for h in self._handlers if h.wants_call or h.step)
            raise RuntimeError(
                f"app {self.name!r} was created with store=False but handlers need call "
                f"state: {names}"
            )
        self._serving = True

    # -- WSGI -------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The WSGI entry point; see :meth:`wsgi_app`."""
        return self.wsgi_app(environ, start_response)

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request: run :meth:`full_dispatch`, send the reply, log one line."""
        if not self._serving:
            self._freeze()
        started = time.perf_counter()
        ctx = _RequestContext(environ, self.request_class)
        status, content_type, body = self.full_dispatch(ctx)
        start_response(
            _STATUS_LINES.get(status) or _status_line(status),
            [("Content-Type", content_type), ("Content-Length", str(len(body)))],
        )
        if logger.isEnabledFor(logging.INFO):
            event = ctx.event
            logger.info(
                "sid=%s event=%s route=%s handler=%s status=%d ms=%.2f",
                event.sid if event is not None and event.sid else "-",
                (event.name or "Continue") if event is not None else "-",
                ctx.route,
                ctx.handler.name if ctx.handler is not None else "-",
                status,
                (time.perf_counter() - started) * 1000,
            )
        if environ.get("REQUEST_METHOD") == "HEAD":
            return []
        return [body]

    def full_dispatch(self, ctx: _RequestContext) -> tuple[int, str, bytes]:
        """Check the request, parse the event, route it; return (status, content type, body)."""
        environ = ctx.environ
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "HEAD":
            # Monitoring probes, not KooKoo: answer without running handlers or saving state.
            return 200, _XML_CONTENT_TYPE, b""
        if method not in ("GET", "POST"):
            return _plain(405, f"KooKoo requests are GET (or POST), not {method}.")
        query: str = environ.get("QUERY_STRING", "")
        if len(query) > self.max_query_bytes:
            return _plain(
                414,
                f"The query string is {len(query)} bytes; this app accepts at most "
                f"{self.max_query_bytes}.",
            )
        # WSGI hands PATH_INFO over as latin-1; URLs are UTF-8.
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", "replace") or "/"
        route = self._match_route(path, ctx)
        if route is None:
            return _plain(404, f"No KooKoo app answers at {path}.")
        ctx.route = route
        if not query.isascii():
            # Raw (not percent-encoded) UTF-8 reaches WSGI as latin-1, like PATH_INFO.
            query = query.encode("latin-1").decode("utf-8", "replace")
        # max_query_bytes already bounds this work.
        pairs = parse_qsl(query, keep_blank_values=True)
        if len(pairs) > self.max_params:
            return self._too_many(pairs)
        params: dict[str, str] = {}
        for key, value in pairs:
            params.setdefault(key, value)  # the first value wins, as in Werkzeug's MultiDict
        if method == "POST":
            request = ctx.request
            request.max_content_length = self.max_query_bytes
            request.max_form_parts = self.max_params
            try:
                form = request.form
            except Exception as exc:  # werkzeug raises RequestEntityTooLarge & co
                return _plain(400, f"The request body could not be read: {exc}.")
            for key in form:
                params.setdefault(key, form[key])
        if len(params) > self.max_params:
            return self._too_many(params)
        try:
            ctx.event = event = parse_event(params)
        except EventParseError as exc:
            return _plain(400, str(exc))
        return 200, _XML_CONTENT_TYPE, self._dispatch_with_retries(ctx, event)

    def _too_many(self, params: Sized) -> tuple[int, str, bytes]:
        return _plain(
            400,
            f"The request has {len(params)} parameters; this app accepts at most "
            f"{self.max_params}.",
        )

    def _match_route(self, path: str, ctx: _RequestContext) -> str | None:
        route = path.rstrip("/") or "/"
        if route in self._static_routes:
            return route
        adapter = self._url_map.bind("localhost", path_info=path)
        try:
            endpoint, args = adapter.match(path, method="GET")
        except (NotFound, MethodNotAllowed):
            return None
        except Exception:  # a redirect for slashes and the like: treat as not found
            return None
        ctx.path_args = dict(args)
        return str(endpoint)

    # -- dispatch ---------------------------------------------------------------------------

    def _dispatch_with_retries(self, ctx: _RequestContext, event: Event) -> bytes:
        store = self.store if self._tracks_calls and not _is_ping(event) else None
        # A NewCall starts a call, so the first try skips the read and creates the record.
        # If one already exists (state saved before the call, or a repeated NewCall), the
        # create conflicts and the request runs again on the stored call: that extra run
        # does not count against conflict_retries.
        fresh = isinstance(event, NewCall)
        attempt = 0
        while True:
            try:
                call = (
                    self._load_call(None if fresh else store, event) if self._tracks_calls else None
                )
            except Exception:
                logger.exception("sid=%s could not load the call state", event.sid)
                return self._fallback(event)
            ctx.call = call
            ctx.failed = False
            body = self.dispatch(ctx, event, call)
            if store is None or call is None or ctx.failed:
                # A request whose handler failed changes nothing in the stored call.
                return body
            try:
                store.save(call)
                return body
            except ConflictError as exc:
                if fresh:
                    fresh = False
                    continue
                attempt += 1
                if attempt <= self.conflict_retries:
                    logger.info("sid=%s conflict, retrying: %s", event.sid, exc)
                    continue
                logger.error("sid=%s gave up after conflicts: %s", event.sid, exc)
                return self._fallback(event)
            except Exception:
                logger.exception("sid=%s could not save the call state", event.sid)
                return self._fallback(event)

    def _load_call(self, store: CallStore | None, event: Event) -> Call:
        call = store.load(event.sid) if store is not None else None
        if call is None:
            call = Call(sid=event.sid)  # "" only for the portal's test ping, never saved
        if isinstance(event, NewCall | NewSms):
            call.caller = event.params.get("cid") or call.caller
            call.called_number = event.params.get("called_number") or call.called_number
        elif call.caller is None and event.params.get("cid"):
            call.caller = event.params["cid"]
        call.record_event(event.name or "Continue")
        if isinstance(event, _ENDING_EVENTS) and not call.ended:
            call.mark_ended()
        return call

    def find_handler(self, route: str, event: Event, call: Call | None) -> _Handler | None:
        """The handler for ``event`` on ``route``: the call's step first, then the default."""
        event_type = type(event)
        if call is not None and call.step is not None:
            handler = self._table.get((route, event_type, call.step))
            if handler is not None:
                return handler
        return self._table.get((route, event_type, None))

    def dispatch(self, ctx: _RequestContext, event: Event, call: Call | None) -> bytes:
        """Run the handler for ``event`` and return the XML body (never raises)."""
        handler = ctx.handler = self.find_handler(ctx.route, event, call)
        try:
            if handler is None:
                if isinstance(event, _ENDING_EVENTS):
                    return b""  # KooKoo ignores replies to the end-of-call notifications
                raise HandlerError(
                    f"no handler for {type(event).__name__} on route {ctx.route!r}"
                    + (f" in step {call.step!r}" if call is not None and call.step else "")
                )
            result = self._invoke(handler, event, call, ctx)
            return self.make_response(result, event, call, ctx, handler.name)
        except Exception as exc:
            return self._handle_exception(exc, event, call, ctx)

    def _invoke(
        self, handler: _Handler, event: Event, call: Call | None, ctx: _RequestContext
    ) -> object:
        kwargs: dict[str, Any] = {}
        if handler.wants_call:
            kwargs["call"] = call
        if handler.wants_request:
            kwargs["request"] = ctx.request
        if ctx.path_args:
            for key, value in ctx.path_args.items():
                if key in handler.path_params or handler.accepts_kwargs:
                    kwargs[key] = value
        return handler.func(event, **kwargs)

    def make_response(
        self,
        result: object,
        event: Event,
        call: Call | None,
        ctx: _RequestContext,
        source: str = "handler",
    ) -> bytes:
        """Turn what a handler returned into the XML body.

        A :class:`Response` is serialised: its :meth:`~Response.next_step` is recorded on the
        call and relative ``gotourl``/``playaudio`` URLs are resolved against the request URL.
        A :class:`CollectDtmf` (what chaining on ``collect_dtmf()`` returns) sends the reply it
        belongs to.  A ``str``/``bytes`` must be valid KooKoo XML and is sent as it is;
        ``None`` is only allowed for Hangup and Disconnect.
        """
        if isinstance(result, CollectDtmf):
            # `return Response().collect_dtmf(...).play_text(...)` chains to the menu: send
            # the whole reply it belongs to.
            result = Response._wrap(result._element.getroottree().getroot())
        if isinstance(result, Response):
            if result.step_given and call is not None:
                call.step = result.step
            _resolve_urls(result, ctx)
            if self.debug:
                _lint_strictly(result, source)
            return result.to_xml()
        if isinstance(result, str | bytes):
            try:
                parsed = parse_response(result)
            except ResponseParseError as exc:
                raise HandlerError(f"{source} returned text that is not KooKoo XML: {exc}") from exc
            if self.debug:
                _lint_strictly(parsed, source)
            return result.encode("utf-8") if isinstance(result, str) else result
        if result is None:
            if isinstance(event, _ENDING_EVENTS):
                return b""
            raise HandlerError(
                f"{source} returned None for {type(event).__name__}; return a Response "
                "(None is only allowed for Hangup and Disconnect)"
            )
        raise HandlerError(
            f"{source} returned {type(result).__name__}; return a Response, KooKoo XML as "
            "str/bytes, or None for Hangup/Disconnect"
        )

    def _handle_exception(
        self, exc: Exception, event: Event, call: Call | None, ctx: _RequestContext
    ) -> bytes:
        scoped = self._route_error_handlers.get(ctx.route)
        for cls in type(exc).__mro__:
            entry = (scoped.get(cls) if scoped else None) or self._error_handlers.get(cls)
            if entry is None:
                continue
            func, wants_call = entry
            try:
                result = func(exc, event, call=call) if wants_call else func(exc, event)
                return self.make_response(result, event, call, ctx, f"error handler {func!r}")
            except Exception:
                logger.exception("sid=%s error handler failed", event.sid or "-")
                break
        logger.error(
            "sid=%s event=%s route=%s handler failed",
            event.sid or "-",
            event.name or "Continue",
            ctx.route,
            exc_info=exc,
        )
        ctx.failed = True
        return self._fallback(event)

    def _fallback(self, event: Event) -> bytes:
        if isinstance(event, _ENDING_EVENTS):
            return b""
        # The last line of defence: it must not fail, whatever the sid holds.
        try:
            reply = Response(sid=event.sid) if event.sid else Response()
        except ValueError:
            reply = Response()
        return reply.play_text(self.fallback_prompt).hangup().to_xml()


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase.upper()}"
    except ValueError:
        return f"{status} UNKNOWN"


_STATUS_LINES = {code: _status_line(code) for code in (200, 400, 404, 405, 414)}


def _plain(status: int, message: str) -> tuple[int, str, bytes]:
    """A plain-text error reply whose body is one sentence."""
    return status, _TEXT_CONTENT_TYPE, (message + "\n").encode("utf-8")


def _is_ping(event: Event) -> bool:
    return isinstance(event, NewCall) and event.is_test_ping


def _resolve_urls(response: Response, request: _RequestContext) -> None:
    # Cheap scan first: building request.base_url costs more than most replies.
    for element in response._element.iter("gotourl", "playaudio"):
        text = element.text
        if text and "://" not in text:
            element.text = urljoin(request.request.base_url, text)


def _lint_strictly(response: Response, source: str) -> None:
    from kookoo.lint import lint

    findings = lint(response)
    if findings:
        details = "; ".join(str(f) for f in findings)
        raise HandlerError(f"{source} returned XML that fails lint (debug mode): {details}")
