"""The request pipeline: one KooKoo request, end to end, as named steps.

An app builds its :class:`Pipeline` at its first request, from what was registered (the
handler table, hooks, error handlers, signed routes) and its settings; from then on every
request runs through it::

    KooKoo  GET /ivr?event=GotDTMF&sid=123&data=1
      -> KooKoo.__call__ -> Pipeline.wsgi_app
      -> full_dispatch(ctx)
           ops path (health, metrics): answered at once, before any guard
           preprocess(ctx)       method, limits, guards (secret, allow-list), route
           parse_request(ctx)    query (+ form) -> typed event; signed parameters checked
           run_call(ctx, event)  before_dispatch hooks; the call opened, dispatched, saved
                                 (compare-and-set: a lost race runs again)
             dispatch(ctx, event)   handler (route x event type x the call's step)
               make_response(...)   what it returned -> XML bytes (it is not changed)
           finalize(ctx, event, body)   the one response object
      -> after_response hooks (the request line, metrics)
      -> 200 text/xml; charset=utf-8

Each step returns its value or raises: a request that is not KooKoo's raises a Werkzeug
:class:`~werkzeug.exceptions.HTTPException` (answered with its one-sentence plain-text body);
a handler that raises is logged with the call's sid and the caller hears the fallback prompt
and a hangup instead of dead air.
"""

from __future__ import annotations

import copy
import difflib
import logging
from collections.abc import Iterable, Mapping, Sequence, Sized
from typing import TYPE_CHECKING, Any, Protocol

from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestURITooLarge,
)
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from kookoo.core.settings import Settings
from kookoo.core.text import escape_for_log, plain_error_body
from kookoo.protocol.events import (
    CallStatus,
    Disconnect,
    Event,
    EventParseError,
    Hangup,
    NewCall,
    parse_event,
    parse_query,
)
from kookoo.state.calls import Call
from kookoo.state.session import CallSession, LostRace, UnknownCallError
from kookoo.state.stores.base import CallStore, ConflictError, StoreUnavailableError
from kookoo.web.checks import uses_call_state
from kookoo.web.context import (
    TEXT_CONTENT_TYPE,
    XML_CONTENT_TYPE,
    AfterResponse,
    BeforeDispatch,
    HandlerError,
    Reply,
    RequestContext,
)
from kookoo.web.handlers import ErrorHandler, Handler
from kookoo.web.security import TOKEN_PARAM, RequestGuard, URLResolver
from kookoo.web.signing import SignatureError, verify_signed
from kookoo.xml.parser import parse_response
from kookoo.xml.response import CollectDtmf, Response, ResponseParseError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from kookoo.web.metrics import Metrics

__all__ = ["ENDING_EVENTS", "Pipeline", "PipelineApp", "Source", "source_name"]

logger = logging.getLogger("kookoo")

ENDING_EVENTS = (Hangup, Disconnect, CallStatus)
"""Events that report the end of a call: KooKoo ignores what they are answered with."""


class PipelineApp(Protocol):
    """What the pipeline reads of its app (a :class:`~kookoo.KooKoo`) when it is built, and
    :attr:`store` at each request (a test may swap it, see ``KooKoo.using_store``)."""

    @property
    def name(self) -> str: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def guard(self) -> RequestGuard: ...
    @property
    def url_resolver(self) -> URLResolver: ...
    @property
    def metrics(self) -> Metrics | None: ...
    @property
    def request_class(self) -> type[Request]: ...
    @property
    def call_class(self) -> type[Call]: ...
    @property
    def session_class(self) -> type[CallSession]: ...
    @property
    def response_class(self) -> type[Reply]: ...
    @property
    def handlers(self) -> Sequence[Handler]: ...
    @property
    def error_handlers(self) -> Mapping[type[BaseException], ErrorHandler]: ...
    @property
    def route_error_handlers(self) -> Mapping[str, Mapping[type[BaseException], ErrorHandler]]: ...
    @property
    def before_dispatch_funcs(self) -> Sequence[BeforeDispatch]: ...
    @property
    def route_before_dispatch(self) -> Mapping[str, Sequence[BeforeDispatch]]: ...
    @property
    def after_response_funcs(self) -> Sequence[AfterResponse]: ...
    @property
    def route_after_response(self) -> Mapping[str, Sequence[AfterResponse]]: ...
    @property
    def signed_routes(self) -> Iterable[str]: ...
    @property
    def store(self) -> CallStore | None: ...


class Pipeline:
    """One app's request pipeline, built from its registrations at its first request.

    Its tables do not change while it serves; each request's own state travels in a
    :class:`~kookoo.web.context.RequestContext`.
    """

    def __init__(self, app: PipelineApp) -> None:
        self.app = app
        settings = self.settings = app.settings
        self.max_query_bytes = settings.max_query_bytes
        self.max_params = settings.max_params
        self.conflict_retries = settings.conflict_retries
        self.debug = settings.debug
        self.guard = app.guard
        self.guarded = self.guard.active  # the guards have something to check
        self.url_resolver = app.url_resolver
        self.request_class = app.request_class
        self.call_class = app.call_class
        self.session_class = app.session_class
        self.response_class = app.response_class
        handlers = app.handlers
        self.table = {(h.route, h.event_type, h.step): h for h in handlers}
        routes = {h.route for h in handlers}
        self.static_routes = frozenset(r for r in routes if "<" not in r)
        self.url_map = Map(
            [Rule(r, endpoint=r) for r in sorted(routes - self.static_routes)],
            strict_slashes=False,
        )
        self.tracks_calls = uses_call_state(app)
        self.known_steps = frozenset(h.step for h in handlers if h.step is not None)
        self.signed_routes = frozenset(app.signed_routes)
        self.error_handlers = dict(app.error_handlers)
        self.route_error_handlers = {r: dict(t) for r, t in app.route_error_handlers.items()}
        # Hooks per route (the app's, then those of the group mounted there), worked out once.
        before, after = tuple(app.before_dispatch_funcs), tuple(app.after_response_funcs)
        self.before: dict[str, tuple[BeforeDispatch, ...]] = {
            r: before + tuple(app.route_before_dispatch.get(r, ())) for r in routes
        }
        self.after: dict[str, tuple[AfterResponse, ...]] = {
            r: after + tuple(app.route_after_response.get(r, ())) for r in routes
        }
        self.after_unrouted = after
        paths = {settings.health_path, settings.metrics_path if app.metrics else ""}
        self.ops_paths = frozenset(paths - {""})
        self.metrics = app.metrics
        #: Steps a reply named that no handler serves, already warned about (once each).
        self.warned_steps: set[str] = set()

    # -- WSGI -----------------------------------------------------------------------------------

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request: :meth:`full_dispatch` (a refusal is its HTTP error's reply),
        then the ``after_response`` hooks, then send."""
        ctx = RequestContext(environ, self.request_class)
        try:
            reply = self.full_dispatch(ctx)
        except HTTPException as exc:
            reply = self.http_error(exc)
        for hook in self.after.get(ctx.route, self.after_unrouted):
            hook(ctx, reply)
        return reply(environ, start_response)

    def full_dispatch(self, ctx: RequestContext) -> Reply:
        """The whole pipeline for one request, to its one response object.

        Raises:
            HTTPException: the request is refused (405, 414, 403, 404, 400).
        """
        environ = ctx.environ
        path = environ.get("PATH_INFO")
        if path in self.ops_paths:
            ctx.route, ctx.probe = path, True
            return self.ops_reply(path)
        if environ.get("REQUEST_METHOD") == "HEAD":
            # Monitoring probes, not KooKoo: answered without running handlers or saving state.
            return self.response_class(200, XML_CONTENT_TYPE, b"")
        self.preprocess(ctx)
        event = self.parse_request(ctx)
        body = self.run_call(ctx, event)
        return self.finalize(ctx, event, body)

    def http_error(self, exc: HTTPException) -> Reply:
        """The reply of a refused request: the status and its one-sentence plain body."""
        headers: tuple[tuple[str, str], ...] = ()
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            headers = (("Allow", ", ".join(exc.valid_methods)),)
        message = plain_error_body(exc.description or exc.name)
        return self.response_class(exc.code or 500, TEXT_CONTENT_TYPE, message, headers)

    def finalize(self, ctx: RequestContext, event: Event, body: bytes) -> Reply:
        """The one response object: KooKoo XML, except for the events that end a call, whose
        replies KooKoo ignores (an empty body; ``OK`` to the completion callback)."""
        if isinstance(event, ENDING_EVENTS):
            if isinstance(event, CallStatus):
                return self.response_class(200, TEXT_CONTENT_TYPE, b"OK")
            body = b""
        return self.response_class(200, XML_CONTENT_TYPE, body)

    def ops_reply(self, path: str) -> Reply:
        """The answer at the health path (a probe of the store the handlers use, if any:
        :mod:`kookoo.web.health`) or the metrics path (a scrape); no guard, handler or call
        is involved."""
        if path == self.settings.health_path:
            from kookoo.web.health import check_store, health_body

            status, body = health_body(check_store(self.app.store if self.tracks_calls else None))
            return self.response_class(status, TEXT_CONTENT_TYPE, body)
        from kookoo.web.metrics import CONTENT_TYPE

        assert self.metrics is not None  # the metrics path is served only with metrics on
        return self.response_class(200, CONTENT_TYPE, self.metrics.render())

    # -- refusing what is not KooKoo's ------------------------------------------------------

    def preprocess(self, ctx: RequestContext) -> None:
        """Check the method and the limits, apply the guards and match the route (setting
        ``ctx.route``, ``ctx.path`` and ``ctx.path_args``).

        Raises:
            HTTPException: 405, 414, 403 (the guards) or 404, with a one-sentence reason.
        """
        environ = ctx.environ
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "POST"):
            raise MethodNotAllowed(
                ["GET", "POST", "HEAD"], f"KooKoo requests are GET (or POST), not {method}."
            )
        query: str = environ.get("QUERY_STRING", "")
        if len(query) > self.max_query_bytes:
            raise RequestURITooLarge(
                f"The query string is {len(query)} bytes; this app accepts at most "
                f"{self.max_query_bytes}."
            )
        if self.guarded:
            guarded = ctx.guard = self.guard.check(environ)
            if not guarded.allowed:
                raise Forbidden(guarded.message)
            raw_path = guarded.path
        else:
            raw_path = environ.get("PATH_INFO", "")
        # WSGI hands PATH_INFO over as latin-1; URLs are UTF-8.
        path = ctx.path = raw_path.encode("latin-1").decode("utf-8", "replace") or "/"
        route = path.rstrip("/") or "/"
        if route not in self.static_routes:
            route = self.match_route(path, ctx)
        ctx.route = route

    def match_route(self, path: str, ctx: RequestContext) -> str:
        """The variable route ``path`` matches (its variables into ``ctx.path_args``).

        Raises:
            NotFound: no route matches.
        """
        adapter = self.url_map.bind("localhost", path_info=path)
        try:
            endpoint, args = adapter.match(path, method="GET")
        except Exception:  # not found, or a redirect for slashes and the like
            raise NotFound(f"No KooKoo app answers at {path}.") from None
        ctx.path_args = dict(args)
        return str(endpoint)

    def parse_request(self, ctx: RequestContext) -> Event:
        """Read the parameters (query, then a POST form) into ``ctx.params`` and parse the
        typed event; on a signed route, verify the signed app parameters.

        Raises:
            BadRequest: too many parameters, an unreadable body, no usable ``sid``.
            Forbidden: a signed route's parameters are unsigned, tampered with or expired.
        """
        environ = ctx.environ
        guarded = ctx.guard
        query: str
        if guarded is not None and guarded.query is not None:
            query = guarded.query  # the checked kk_token pair already cut out
        else:
            query = environ.get("QUERY_STRING", "")
        if not query.isascii():
            # Raw (not percent-encoded) UTF-8 reaches WSGI as latin-1, like PATH_INFO.
            query = query.encode("latin-1").decode("utf-8", "replace")
        pairs = parse_query(query)  # max_query_bytes already bounds this work
        if len(pairs) > self.max_params:
            raise self._too_many(pairs)
        params = ctx.params
        for key, value in pairs:
            params.setdefault(key, value)  # the first value wins, as in Werkzeug's MultiDict
        if environ.get("REQUEST_METHOD") == "POST":
            request = ctx.request
            request.max_content_length = self.max_query_bytes
            request.max_form_parts = self.max_params
            try:
                form = request.form
            except Exception as exc:  # werkzeug raises RequestEntityTooLarge & co
                raise BadRequest(f"The request body could not be read: {exc}.") from None
            for key in form:
                params.setdefault(key, form[key])
        if len(params) > self.max_params:
            raise self._too_many(params)
        if guarded is not None and guarded.token is not None:
            params.pop(TOKEN_PARAM, None)  # the secret stays out of handlers and their logs
        try:
            ctx.event = event = parse_event(params)
        except EventParseError as exc:
            raise BadRequest(str(exc)) from None
        if ctx.route in self.signed_routes:
            self.verify_signed(ctx, event)
        return event

    def verify_signed(self, ctx: RequestContext, event: Event) -> None:
        """Keep the verified app parameters of a signed route in ``ctx.signed`` (and
        ``environ["kookoo.signed"]``).

        Raises:
            Forbidden: unsigned, malformed, tampered with or expired (logged at WARNING).
        """
        secret = self.guard.secret
        assert secret is not None  # a signed route needs a secret: refused at setup
        try:
            ctx.signed = verify_signed(ctx.params, secret=secret)
        except SignatureError as exc:
            logger.warning(
                "sid=%s route=%s refused: %s",
                escape_for_log(event.sid or "-"),
                ctx.route,
                escape_for_log(exc),
            )
            raise Forbidden(f"Forbidden: {exc}.") from None
        ctx.environ["kookoo.signed"] = ctx.signed

    def _too_many(self, params: Sized) -> BadRequest:
        return BadRequest(
            f"The request has {len(params)} parameters; this app accepts at most {self.max_params}."
        )

    # -- the call -----------------------------------------------------------------------------

    def open_session(self, event: Event) -> CallSession | None:
        """The call session for this request, or ``None`` when no handler keeps state."""
        if not self.tracks_calls:
            return None
        # The portal's test ping is no real call: it gets a call object that is never saved.
        ping = isinstance(event, NewCall) and event.is_test_ping
        store = None if ping else self.app.store
        return self.session_class(store, event, call_class=self.call_class)

    def run_call(self, ctx: RequestContext, event: Event) -> bytes:
        """Run the ``before_dispatch`` hooks, then open the call, :meth:`dispatch` and save,
        again on the stored call when the save lost a race; the XML body.

        A hook that raises is logged with the sid and the caller hears the fallback (a
        Werkzeug ``HTTPException`` it raises refuses the request, as the pipeline's own do).

        A call that cannot be loaded or saved gives the fallback (the outage prompt when the
        store is unreachable), logged with the sid.
        """
        for hook in self.before.get(ctx.route, ()):
            try:
                result = hook(event, ctx)
                if result is not None:
                    return self.make_response(result, ctx, hook)
            except HTTPException:
                raise  # a hook may refuse the request as the pipeline does (403, ...)
            except Exception:
                # No handler ran and no call is open: the app's error handlers do not apply.
                logger.exception(
                    "sid=%s %s failed", escape_for_log(event.sid or "-"), source_name(hook)
                )
                return self.fallback(ctx, event)
        session = ctx.session = self.open_session(event)
        if session is None:
            return self.dispatch(ctx, event)
        try:
            for attempt in session.attempts(self.conflict_retries):
                ctx.call = None
                ctx.outcome = "ok"
                with attempt as call:
                    ctx.call = call
                    if session.duplicate:
                        logger.warning(
                            "sid=%s duplicate NewCall for a call already started: nothing is saved",
                            escape_for_log(event.sid),
                        )
                    body = self.dispatch(ctx, event)
            return body
        except UnknownCallError as exc:
            logger.warning("sid=%s refused: %s", escape_for_log(event.sid), exc)
        except StoreUnavailableError as exc:
            return self.store_unavailable(ctx, event, exc)
        except ConflictError as exc:
            logger.error("sid=%s gave up after conflicts: %s", event.sid, exc)
        except Exception:
            stage = "load" if ctx.call is None else "save"
            logger.exception("sid=%s could not %s the call state", event.sid, stage)
        return self.fallback(ctx, event)

    # -- dispatch -----------------------------------------------------------------------------

    def find_handler(self, route: str, event: Event, call: Call | None) -> Handler | None:
        """The handler for ``event`` on ``route``: the call's step first, then the default."""
        event_type = type(event)
        if call is not None and call.step is not None:
            handler = self.table.get((route, event_type, call.step))
            if handler is not None:
                return handler
        return self.table.get((route, event_type, None))

    def dispatch(self, ctx: RequestContext, event: Event) -> bytes:
        """Run the handler for ``event`` on ``ctx.call``; the XML body. A failure goes to
        :meth:`handle_exception`; only a race lost mid-request goes on (to run again)."""
        call = ctx.call
        handler = ctx.handler = self.find_handler(ctx.route, event, call)
        try:
            if handler is None:
                return self.no_handler(ctx, event, call)
            return self.make_response(self.invoke(handler, event, ctx), ctx, handler)
        except LostRace:
            raise
        except Exception as exc:
            return self.handle_exception(exc, event, ctx)

    def no_handler(self, ctx: RequestContext, event: Event, call: Call | None) -> bytes:
        """What a request no handler takes gets: nothing for the end of a call; the step's
        last reply again (a retried request: kookoo cannot tell a retry from a repeat, and
        ending the call would be worse). (The reply a voice bot left for ``event=Stream`` is
        the :class:`~kookoo.web.streams.StreamReplies` hook's.)

        Raises:
            HandlerError: none of those applies.
        """
        if isinstance(event, ENDING_EVENTS):
            return b""  # nothing to answer: KooKoo ignores the reply (see finalize)
        if call is not None and call.step is not None and call.last_reply:
            logger.warning(
                "sid=%s step %r has no handler for %s on route %s: sending its last reply again",
                event.sid or "-",
                call.step,
                type(event).__name__,
                ctx.route,
            )
            return call.last_reply.encode("utf-8")
        raise HandlerError(
            f"no handler for {type(event).__name__} on route {ctx.route!r}"
            + (f" in step {call.step!r}" if call is not None and call.step else "")
        )

    def invoke(self, handler: Handler, event: Event, ctx: RequestContext) -> object:
        """Call ``handler`` with the event and what it asks for by name."""
        kwargs: dict[str, Any] = {}
        if handler.wants_call:
            kwargs["call"] = ctx.call
        if handler.wants_request:
            kwargs["request"] = ctx.request
        if handler.wants_session:
            kwargs["session"] = ctx.session
        if ctx.path_args:
            for key, value in ctx.path_args.items():
                if key in handler.path_params or handler.accepts_kwargs:
                    kwargs[key] = value
        return handler.func(event, **kwargs)

    def make_response(self, result: object, ctx: RequestContext, source: Source) -> bytes:
        """Turn what a handler returned into the XML body, without changing it.

        A :class:`~kookoo.Response` is serialised: its :meth:`~kookoo.Response.next_step` is
        recorded on the call, and relative ``gotourl``/``playaudio`` URLs (and a
        ``stream(handler=...)`` token) are written into a copy of it. A
        :class:`~kookoo.CollectDtmf` (what chaining on ``collect_dtmf()`` returns) sends the
        reply it belongs to, step and all. A ``str``/``bytes`` must be valid KooKoo XML and
        is sent as it is; ``None`` is only allowed for Hangup and Disconnect.

        Raises:
            HandlerError: anything else, or (in debug mode) a reply that fails lint.
        """
        if isinstance(result, CollectDtmf):
            result = result.response
        if isinstance(result, Response):
            call = ctx.call
            if result.step_given and call is not None:
                step = call.step = result.step
                if step is not None and step not in self.known_steps:
                    self._warn_unknown_step(step, source_name(source))
            body = self.serialize(result, ctx, source)
            if call is not None:
                call.last_reply = body.decode("utf-8") if call.step is not None else None
            return body
        if isinstance(result, str | bytes):
            try:
                parsed = parse_response(result)
            except ResponseParseError as exc:
                raise HandlerError(
                    f"{source_name(source)} returned text that is not KooKoo XML: {exc}"
                ) from exc
            if self.debug:
                _lint_strictly(parsed, source_name(source))
            return result.encode("utf-8") if isinstance(result, str) else result
        if result is None:
            if isinstance(ctx.event, ENDING_EVENTS):
                return b""
            raise HandlerError(
                f"{source_name(source)} returned None for {type(ctx.event).__name__}; return a "
                "Response "
                "(None is only allowed for Hangup and Disconnect)"
            )
        raise HandlerError(
            f"{source_name(source)} returned {type(result).__name__}; return a Response, "
            "KooKoo XML as "
            "str/bytes, or None for Hangup/Disconnect"
        )

    def serialize(self, response: Response, ctx: RequestContext, source: Source) -> bytes:
        """The XML of ``response`` for this request: relative ``gotourl``/``playaudio`` URLs
        made absolute (``public_url`` or a trusted host, never any ``Host``; a ``gotourl``
        keeps the request's token, audio does not need it) and ``stream(handler=...)``
        signed, in a copy, so a reply kept in a constant serves every request alike."""
        for element in response._element.iter("gotourl", "playaudio", "stream"):
            if _rewritten(element):
                response = Response._wrap(copy.deepcopy(response._element))
                self._rewrite(response, ctx)
                break
        if self.debug:
            _lint_strictly(response, source_name(source))
        return response.to_xml()

    def _rewrite(self, response: Response, ctx: RequestContext) -> None:
        guard = ctx.guard
        token = guard.token if guard is not None else None
        in_path = guard is not None and guard.token_in_path
        for element in response._element.iter("gotourl", "playaudio", "stream"):
            if element.tag == "stream":
                # imported here: kookoo.stream (asyncio & co) loads only for apps that stream
                from kookoo.web.streams import sign_stream

                sign_stream(element, ctx.event.sid if ctx.event else "", self.guard.secret)
                continue
            text = element.text
            if text and "://" not in text:
                keep = element.tag == "gotourl"
                element.text = self.url_resolver.resolve(
                    text,
                    ctx.environ,
                    path=ctx.path,
                    token=token if keep else None,
                    token_in_path=in_path and keep,
                )

    def _warn_unknown_step(self, step: str, source: str) -> None:
        if step in self.warned_steps:
            return
        self.warned_steps.add(step)
        logger.warning("app %s: %s", self.app.name, unknown_step(step, self.known_steps, source))

    # -- failure --------------------------------------------------------------------------------

    def handle_exception(self, exc: Exception, event: Event, ctx: RequestContext) -> bytes:
        """Answer a handler's exception: the matching error handler (on the call as stored,
        without the failed handler's changes), else log it with the sid and play the
        fallback; either way nothing the failed handler changed is saved."""
        session = ctx.session
        scoped = self.route_error_handlers.get(ctx.route)
        for cls in type(exc).__mro__:
            entry = (scoped.get(cls) if scoped else None) or self.error_handlers.get(cls)
            if entry is None:
                continue
            try:
                call = ctx.call = session.restore() if session is not None else ctx.call
                func = entry.func
                result = func(exc, event, call=call) if entry.wants_call else func(exc, event)
                return self.make_response(result, ctx, entry)
            except Exception:
                logger.exception("sid=%s error handler failed", event.sid or "-")
                break
        logger.error(
            "sid=%s event=%s route=%s handler failed",
            event.sid or "-",
            escape_for_log(event.name or "Continue"),
            ctx.route,
            exc_info=exc,
        )
        if session is not None:
            session.discard()
        return self.fallback(ctx, event)

    def store_unavailable(
        self, ctx: RequestContext, event: Event, error: StoreUnavailableError
    ) -> bytes:
        """The store is down: log the store and the cause (one ERROR line, no traceback),
        and let the caller hear the outage prompt and a hangup."""
        logger.error("sid=%s %s", escape_for_log(event.sid or "-"), escape_for_log(error))
        ctx.outcome = "unavailable"
        return prompt_and_hangup(event, self.settings.unavailable_prompt)

    def fallback(self, ctx: RequestContext, event: Event) -> bytes:
        """What the caller hears when the app cannot answer: the fallback prompt, then a
        hangup."""
        ctx.outcome = "fallback"
        return prompt_and_hangup(event, self.settings.fallback_prompt)


#: What made a reply, named in errors about it: a handler, an error handler or a hook.
Source = Handler | ErrorHandler | BeforeDispatch


def source_name(source: Source) -> str:
    """``source`` in words for an error message (``handler menu``, ``error handler x``)."""
    if isinstance(source, Handler):
        return f"handler {source.name}"
    if isinstance(source, ErrorHandler):
        return f"error handler {source.name}"
    return f"before_dispatch hook {getattr(source, '__qualname__', repr(source))}"


def prompt_and_hangup(event: Event, prompt: str) -> bytes:
    """``prompt`` then a hangup, as XML for ``event``'s call: the last line of defence, so it
    never fails, whatever the sid holds."""
    try:
        reply = Response(sid=event.sid) if event.sid else Response()
    except ValueError:
        reply = Response()
    return reply.play_text(prompt).hangup().to_xml()


def unknown_step(step: str, known: Iterable[str], source: str) -> str:
    """The sentence for a step no handler serves, with a "did you mean"."""
    close = difflib.get_close_matches(step, sorted(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"{source} names step {step!r}, which no handler serves (the call's next event goes "
        f"to the route's default handler){hint}"
    )


def _rewritten(element: Any) -> bool:
    """Whether serving ``element`` changes it (a relative URL, a stream token to sign)."""
    if element.tag == "stream":
        from kookoo.xml.response import STREAM_HANDLER_KEY

        return STREAM_HANDLER_KEY in (element.get("x-uui") or "")
    text = element.text
    return bool(text) and "://" not in text


def _lint_strictly(response: Response, source: str) -> None:
    from kookoo.xml.lint import lint

    findings = lint(response)
    if findings:
        details = "; ".join(str(f) for f in findings)
        raise HandlerError(f"{source} returned XML that fails lint (debug mode): {details}")
