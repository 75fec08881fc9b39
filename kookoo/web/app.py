"""The WSGI application: the request pipeline (registration lives in :mod:`kookoo.web.scaffold`).

One request, end to end, as named public steps (each one a method a subclass may extend)::

    KooKoo  GET /ivr?event=GotDTMF&sid=123&data=1
      -> KooKoo.__call__ -> wsgi_app -> full_dispatch(ctx)
      -> preprocess(ctx): method, limits, guards (secret, allow-list behind proxies;
         kookoo.web.security), route                       (a Reply refuses the request)
      -> parse_request(ctx): query (+ form) -> typed event (kookoo.protocol.events)
      -> run_call(ctx): a CallSession (kookoo.state.session) opens the Call for sid
         (only when some handler asks for ``call`` or uses steps)
      -> dispatch(ctx): pick the handler (route x event type x the call's current step),
         handler(event, call=...) -> make_response -> XML bytes; handle_exception on failure
      -> the session saves the Call (compare-and-set; a lost race re-runs the request)
      -> 200 text/xml; charset=utf-8

A handler that raises is logged with the call's sid, and the caller hears a spoken fallback
prompt and is hung up instead of dead air.  A request that is not KooKoo's gets a 4xx whose
plain-text body says what is wrong.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from typing import TYPE_CHECKING, Any, Literal

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from kookoo.core.text import escape_for_log
from kookoo.protocol.events import (
    CallStatus,
    Disconnect,
    Event,
    EventParseError,
    Hangup,
    NewCall,
    Stream,
    parse_event,
    parse_query,
)
from kookoo.state.calls import Call
from kookoo.state.limits import LiveCallLimit, is_reserved_sid
from kookoo.state.session import CallSession, UnknownCallError
from kookoo.state.stores.base import CallStore, ConflictError, StoreUnavailableError
from kookoo.web import config, logs
from kookoo.web.checks import route_problems
from kookoo.web.context import (
    _STATUS_LINES,
    TEXT_CONTENT_TYPE,
    XML_CONTENT_TYPE,
    HandlerError,
    Reply,
    RequestContext,
    plain_reply,
    status_line,
)
from kookoo.web.logs import request_fields
from kookoo.web.scaffold import Handler, HandlerGroup, Scaffold, named_steps
from kookoo.web.security import (
    NOSNIFF_HEADER,
    TOKEN_PARAM,
    RequestGuard,
    SharedSecret,
    URLResolver,
)
from kookoo.web.signing import SignatureError, signed_url, verify_signed
from kookoo.xml.parser import parse_response
from kookoo.xml.response import CollectDtmf, Response, ResponseParseError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from kookoo.web.metrics import Metrics


__all__ = [
    "TEXT_CONTENT_TYPE",
    "XML_CONTENT_TYPE",
    "HandlerError",
    "HandlerGroup",
    "KooKoo",
    "Reply",
    "RequestContext",
    "plain_reply",
]

logger = logging.getLogger("kookoo")

_ENDING_EVENTS = (Hangup, Disconnect, CallStatus)


class KooKoo(Scaffold):
    """A KooKoo IVR application: a WSGI callable.

    Args:
        name: a name for logs (defaults to ``"kookoo"``).
        store: where per-call state lives: a :class:`~kookoo.state.stores.CallStore`, ``None`` for
            the default :class:`~kookoo.state.stores.SQLiteStore` (created on first use), or
            ``False`` for an app that keeps no state (handlers may then not ask for ``call``).
            Calls are only loaded and saved when some handler asks for ``call`` or uses steps.
            ``None`` first reads ``KOOKOO_STORE``, a store URL
            (:func:`kookoo.web.config.store_from_url`).
        fallback_prompt: what the caller hears when a handler fails, before the hangup.
        debug: lint every response strictly and fail (into the fallback) on any finding.
        max_query_bytes: longest query string accepted (414 beyond; default 8192).
        max_params: most parameters accepted (400 beyond; default 64).
        conflict_retries: how often a request is re-run when another request changed the same
            call meanwhile (see :class:`~kookoo.state.stores.ConflictError`); then the fallback
            (default 1).
        secret: the shared secret every request must carry (``?kk_token=<secret>`` or
            ``/<secret>/...``), a list of them for rotation, ``None`` to read
            ``KOOKOO_SECRET`` (comma-separated), or ``False`` for none even if it is set.
        allow_ips: only these networks (CIDRs) get in; ``None`` reads ``KOOKOO_ALLOW_IPS``
            (off when unset).
        trusted_proxies: how many proxies in front of the app to believe in
            ``X-Forwarded-For`` / ``-Proto`` / ``-Host`` (Werkzeug's ``ProxyFix``); ``None``
            reads ``KOOKOO_TRUSTED_PROXIES`` (default 0).
        public_url: the URL KooKoo reaches the app's root at; relative ``gotourl`` and
            ``playaudio`` URLs are resolved against it (``None`` reads ``KOOKOO_PUBLIC_URL``).
        trusted_hosts: without ``public_url``, the only ``Host`` values relative URLs are
            resolved against (default: loopback only); never an arbitrary ``Host`` header.
        max_live_calls: most calls live at once (counted in the store, across workers);
            beyond it a NewCall hears :attr:`busy_prompt` and the store is not grown.
        busy_prompt: what a caller hears when ``max_live_calls`` is reached.
        unavailable_prompt: what a caller hears, before the hangup, when the call store
            cannot be reached (:class:`~kookoo.state.stores.StoreUnavailableError`): distinct from
            the handler-failure fallback, so a store outage is recognisable on the line too.
        health_path: answered with 200 ``ok`` when the store answers, 503 and the reason when
            not, before the secret check and without running a handler (``"/healthz"``;
            ``""`` for none). See :mod:`kookoo.web.health`.
        metrics: count requests, latency, fallbacks, store errors and live calls in Prometheus
            metrics (:mod:`kookoo.web.metrics`, ``pip install 'kookoo[metrics]'``).
        metrics_path: where the metrics are scraped (``"/metrics"``), answered like the health
            path: keep it off the public internet (``deploy/nginx-kookoo.conf`` does).

    Every setting left out (``None``) is read from its ``KOOKOO_*`` variable, else takes
    its default: ``KOOKOO_DEBUG=1``, ``KOOKOO_MAX_PARAMS=32``, ... (:mod:`kookoo.web.config`
    lists them; ``kookoo config TARGET`` prints what is in effect). An argument always wins.

    Example::

        app = KooKoo()

        @app.on_new_call
        def welcome(event: NewCall, call: Call) -> Response:
            call.state["visits"] = 1
            with (r := Response()).collect_dtmf(max_digits=1) as menu:
                menu.play_text("Press 1 for English")
            return r.next_step("language")
    """

    #: The Werkzeug request class handed to handlers that ask for ``request``.
    request_class: type[Request] = Request
    #: The class of the call handlers receive; a subclass of :class:`~kookoo.state.calls.Call` may
    #: add methods (and class-wide settings such as ``history_limit``).
    call_class: type[Call] = Call
    #: The class of the per-request call session (:class:`~kookoo.state.session.CallSession`).
    session_class: type[CallSession] = CallSession

    def __init__(
        self,
        name: str = "kookoo",
        *,
        store: CallStore | bool | None = None,
        fallback_prompt: str | None = None,
        debug: bool | None = None,
        max_query_bytes: int | None = None,
        max_params: int | None = None,
        conflict_retries: int | None = None,
        secret: str | Sequence[str] | SharedSecret | Literal[False] | None = None,
        allow_ips: Sequence[str] | None = None,
        trusted_proxies: int | None = None,
        public_url: str | None = None,
        trusted_hosts: Sequence[str] | None = None,
        max_live_calls: int | None = None,
        busy_prompt: str | None = None,
        unavailable_prompt: str | None = None,
        health_path: str | None = None,
        metrics: bool | None = None,
        metrics_path: str | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        if store is True:
            raise TypeError("store must be a CallStore, None (SQLite default) or False")
        if store is None:
            store = config.store_from_env()  # KOOKOO_STORE; None keeps the SQLite default
        self._store: CallStore | bool | None = store
        self.fallback_prompt = config.FALLBACK_PROMPT.resolve(fallback_prompt)
        self.debug = config.DEBUG.resolve(debug)
        self.max_query_bytes = config.MAX_QUERY_BYTES.resolve(max_query_bytes)
        self.max_params = config.MAX_PARAMS.resolve(max_params)
        self.conflict_retries = config.CONFLICT_RETRIES.resolve(conflict_retries)
        max_live_calls = config.MAX_LIVE_CALLS.resolve(max_live_calls)
        self.health_path = config.HEALTH_PATH.resolve(health_path)
        self.metrics_path = config.METRICS_PATH.resolve(metrics_path)
        #: The app's :class:`~kookoo.web.metrics.Metrics`, or ``None`` (off: nothing imported).
        self.metrics: Metrics | None = config.metrics_from_settings(metrics)
        # Answered before the guards, without handlers: the health (and metrics) paths.
        self._ops_paths = {self.health_path, self.metrics_path if self.metrics else ""} - {""}
        config.LOG_FORMAT.from_env()  # a bad KOOKOO_LOG_FORMAT fails here, not at a request
        self._serving = False
        # route -> error handlers of the HandlerGroup mounted there (see mount()).
        self._route_error_handlers: dict[
            str, dict[type[BaseException], tuple[Callable[..., Any], bool]]
        ] = {}
        self._table: dict[tuple[str, type[Event], str | None], Handler] = {}
        self._static_routes: set[str] = set()
        self._url_map = Map(strict_slashes=False)
        self._tracks_calls = False
        self._known_steps: frozenset[str] = frozenset()
        self._warned_steps: set[str] = set()
        self.guard = RequestGuard.from_settings(
            secret=secret, allow_ips=allow_ips, trusted_proxies=trusted_proxies
        )
        self.url_resolver = URLResolver.from_settings(public_url, trusted_hosts)
        if max_live_calls is not None and max_live_calls < 1:
            raise ValueError(f"max_live_calls must be at least 1, got {max_live_calls}")
        if max_live_calls is not None and store is False:
            raise ValueError("max_live_calls counts calls in the store; it needs a store")
        self.max_live_calls = max_live_calls
        self.busy_prompt = config.BUSY_PROMPT.resolve(busy_prompt)
        self.unavailable_prompt = config.UNAVAILABLE_PROMPT.resolve(unavailable_prompt)
        self._live_limit: LiveCallLimit | None = None
        self._signed_routes: set[str] = set()

    @property
    def secret(self) -> SharedSecret | None:
        """The app's shared secret(s), or ``None`` when requests need none."""
        return self.guard.secret

    def require_signed(self, *routes: str) -> None:
        """Declare ``routes`` signed: a request there must carry app parameters made by
        :meth:`signed_url` (unchanged, unexpired) or it gets a 403; the handler then finds the
        verified values in ``event.params`` (and only them in
        ``request.environ["kookoo.signed"]``). Needs a secret.
        """
        self._check_setup("require_signed")
        if self.guard.secret is None:
            raise RuntimeError("require_signed() needs a secret (secret= or KOOKOO_SECRET)")
        self._signed_routes.update(r.rstrip("/") or "/" for r in routes)

    def signed_url(
        self, url: str, /, *, expires_in: float | None = None, **params: str | int
    ) -> str:
        """A URL carrying ``params`` signed with the app's secret (and its token); see
        :func:`kookoo.web.signing.signed_url`. For ``gotourl`` and outbound ``url`` and
        ``callback_url``.
        """
        if self.guard.secret is None:
            raise RuntimeError("signed_url() needs a secret (secret= or KOOKOO_SECRET)")
        app_params: dict[str, Any] = dict(params)  # names are checked by signed_url
        return signed_url(url, secret=self.guard.secret, expires_in=expires_in, **app_params)

    # -- setup ------------------------------------------------------------------------------

    def _check_setup(self, method: str) -> None:
        if self._serving:
            raise RuntimeError(
                f"{method}() can no longer be called on app {self.name!r}: it has already "
                "handled a request. Register every handler before serving."
            )

    def mount(self, group: HandlerGroup, *, prefix: str = "") -> None:
        """Add every handler of ``group`` under ``prefix`` (``"/survey"``).

        Handlers added to the group later are added here too, as with Flask's blueprints,
        until this app serves its first request.
        """
        self._check_setup("mount")
        prefix = prefix.rstrip("/")
        if prefix and not prefix.startswith("/"):
            raise ValueError(f"prefix {prefix!r} must start with '/'")
        for h in group._handlers:
            self._add_from_group(group, h, prefix)
        group._mounts.append((self, prefix))

    def _add_from_group(self, group: HandlerGroup, handler: Handler, prefix: str) -> None:
        route = prefix + handler.route if handler.route != "/" else prefix or "/"
        self.add_handler(handler.event_type, handler.func, route=route, step=handler.step)
        if group._error_handlers:
            # The group's error handlers answer for its own routes only.
            self._route_error_handlers.setdefault(route, {}).update(group._error_handlers)

    def _add_group_error_handlers(self, group: HandlerGroup, prefix: str) -> None:
        self._check_setup("add_error_handler")
        for h in group._handlers:
            route = prefix + h.route if h.route != "/" else prefix or "/"
            self._route_error_handlers.setdefault(route, {}).update(group._error_handlers)

    @property
    def store(self) -> CallStore | None:
        """The call store in use, or ``None`` for an app without state.

        May be replaced before the first request (tests swap in a
        :class:`~kookoo.state.stores.MemoryStore`).
        """
        if self._store is None:
            from kookoo.state.stores.sqlite import SQLiteStore

            self._store = SQLiteStore()
        return self._store if isinstance(self._store, CallStore) else None

    @store.setter
    def store(self, store: CallStore) -> None:
        if self._serving:
            raise RuntimeError(
                f"app {self.name!r} has already handled a request, so its store can no longer "
                "be replaced for good. In a test, use `with app.using_store(MemoryStore()):` "
                "(the pytest plugin's kookoo_app fixture does it for every test), or set the "
                "store before the first request (e.g. in a session-scoped fixture)."
            )
        self._store = store

    @contextlib.contextmanager
    def using_store(self, store: CallStore) -> Iterator[CallStore]:
        """Serve with ``store`` inside the ``with`` block, then go back to the app's own, even
        after the app has served (for tests: a fresh store per test).

        Not for production: requests served by other threads meanwhile see the swap too.

        >>> from kookoo.state.stores import MemoryStore
        >>> app = KooKoo()
        >>> with app.using_store(MemoryStore()) as store:
        ...     assert app.store is store
        >>> app.uses_default_store
        True
        """
        previous = self._store
        self._store = store
        try:
            yield store
        finally:
            self._store = previous

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

    def check(self) -> list[str]:
        """Problems in the handler table that would only show on a live call, as sentences.

        A step named in a handler's ``next_step("...")`` that no handler serves (with a "did
        you mean" from the known steps), and a route that never gets a request
        (:func:`kookoo.web.checks.route_problems`). Logged at WARNING at each worker's first
        request; ``kookoo check`` prints them.
        """
        known = {h.step for h in self._handlers if h.step is not None}
        problems = []
        seen: set[tuple[str, str]] = set()
        for h in self._handlers:
            for step in named_steps(h.func):
                if step in known or (h.name, step) in seen:
                    continue
                seen.add((h.name, step))
                problems.append(_unknown_step(step, known, f"handler {h.name}"))
        return problems + route_problems(self)

    def _freeze(self) -> None:
        """Build the lookup tables once, at the first request (in each worker): also the
        default log handler (:mod:`kookoo.web.logs`) and a check that the store answers."""
        logs.install_default_handler()
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
        self._known_steps = frozenset(h.step for h in self._handlers if h.step is not None)
        for problem in self.check():
            logger.warning("app %s: %s", self.name, problem)
        if self._tracks_calls:
            from kookoo.web.health import log_store_problem

            log_store_problem(self.name, self.store)
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
        ctx = RequestContext(environ, self.request_class)
        status, content_type, body = self.full_dispatch(ctx)
        start_response(
            _STATUS_LINES.get(status) or status_line(status),
            [("Content-Type", content_type), ("Content-Length", str(len(body))), NOSNIFF_HEADER],
        )
        if status != 200 or ctx.route not in self._ops_paths:  # (a passed probe: no line)
            if self.metrics is not None:
                self.metrics.request_done(ctx, status, time.perf_counter() - started)
            if logger.isEnabledFor(logging.INFO):
                fields = request_fields(ctx, status, (time.perf_counter() - started) * 1000)
                logs.log_request_line(logger, fields)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return []
        return [body]

    def full_dispatch(self, ctx: RequestContext) -> Reply:
        """The whole pipeline for one request: :meth:`preprocess`, :meth:`parse_request`,
        :meth:`run_call`."""
        refused = self.preprocess(ctx)
        if refused is not None:
            return refused
        event = self.parse_request(ctx)
        if isinstance(event, Reply):
            return event
        body = self.run_call(ctx, event)
        if isinstance(event, CallStatus):
            # KooKoo's completion callback wants no XML: a plain acknowledgement.
            return Reply(200, TEXT_CONTENT_TYPE, b"OK")
        return Reply(200, XML_CONTENT_TYPE, body)

    def preprocess(self, ctx: RequestContext) -> Reply | None:
        """Check the method and the limits and match the route; a :class:`Reply` refuses the
        request, ``None`` lets it through (``ctx.route`` and ``ctx.path_args`` set)."""
        environ = ctx.environ
        if environ.get("PATH_INFO") in self._ops_paths:
            ctx.route = environ["PATH_INFO"]
            return self.ops_reply(ctx.route)
        method = environ.get("REQUEST_METHOD", "GET")
        if method == "HEAD":
            # Monitoring probes, not KooKoo: answer without running handlers or saving state.
            return Reply(200, XML_CONTENT_TYPE, b"")
        if method not in ("GET", "POST"):
            return plain_reply(405, f"KooKoo requests are GET (or POST), not {method}.")
        query: str = environ.get("QUERY_STRING", "")
        if len(query) > self.max_query_bytes:
            return plain_reply(
                414,
                f"The query string is {len(query)} bytes; this app accepts at most "
                f"{self.max_query_bytes}.",
            )
        if self.guard.active:
            guarded = ctx.guard = self.guard.check(environ)
            if not guarded.allowed:
                return plain_reply(guarded.status, guarded.message)
            raw_path = guarded.path
        else:
            raw_path = environ.get("PATH_INFO", "")
        # WSGI hands PATH_INFO over as latin-1; URLs are UTF-8.
        path = raw_path.encode("latin-1").decode("utf-8", "replace") or "/"
        ctx.path = path
        route = self._match_route(path, ctx)
        if route is None:
            return plain_reply(404, f"No KooKoo app answers at {path}.")
        ctx.route = route
        return None

    def parse_request(self, ctx: RequestContext) -> Event | Reply:
        """Read the parameters (query, then a POST form) into ``ctx.params`` and parse the
        typed event; a :class:`Reply` (400) when the request is not KooKoo's."""
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
        # max_query_bytes already bounds this work.
        pairs = parse_query(query)
        if len(pairs) > self.max_params:
            return self._too_many(pairs)
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
                return plain_reply(400, f"The request body could not be read: {exc}.")
            for key in form:
                params.setdefault(key, form[key])
        if len(params) > self.max_params:
            return self._too_many(params)
        if guarded is not None and guarded.token is not None:
            params.pop(TOKEN_PARAM, None)  # the secret stays out of handlers and their logs
        try:
            ctx.event = event = parse_event(params)
        except EventParseError as exc:
            return plain_reply(400, str(exc))
        if is_reserved_sid(event.sid):
            return plain_reply(400, "The sid names one of kookoo's own records; it is refused.")
        if self._signed_routes and ctx.route in self._signed_routes:
            try:
                secret = self.guard.secret
                assert secret is not None  # require_signed() refuses to run without one
                ctx.signed = verify_signed(params, secret=secret)
                ctx.environ["kookoo.signed"] = ctx.signed
            except SignatureError as exc:
                logger.warning(
                    "sid=%s route=%s refused: %s",
                    escape_for_log(event.sid or "-"),
                    ctx.route,
                    escape_for_log(exc),
                )
                return plain_reply(403, f"Forbidden: {exc}.")
        return event

    def _too_many(self, params: Sized) -> Reply:
        return plain_reply(
            400,
            f"The request has {len(params)} parameters; this app accepts at most "
            f"{self.max_params}.",
        )

    def _match_route(self, path: str, ctx: RequestContext) -> str | None:
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

    # -- the call ---------------------------------------------------------------------------

    def open_session(self, ctx: RequestContext, event: Event) -> CallSession | None:
        """The call session for this request, or ``None`` when no handler keeps state."""
        if not self._tracks_calls:
            return None
        # The portal's test ping is no real call: it gets a call object that is never saved.
        store = None if _is_ping(event) else self.store
        return self.session_class(store, event, call_class=self.call_class)

    def run_call(self, ctx: RequestContext, event: Event) -> bytes:
        """Open the call, :meth:`dispatch`, save; re-run on a lost compare-and-set race.

        A store that cannot be read or written gives the fallback (logged with the sid).
        """
        if self.max_live_calls is not None and not _is_ping(event):
            busy = self._count_live(event)
            if busy is not None:
                return busy
        session = ctx.session = self.open_session(ctx, event)
        if session is None:
            return self.dispatch(ctx, event)
        retries = 0
        while True:
            ctx.failed = False
            try:
                ctx.call = session.open()
            except UnknownCallError as exc:
                logger.warning("sid=%s refused: %s", escape_for_log(event.sid), exc)
                return self.fallback(event)
            except StoreUnavailableError as exc:
                return self.store_unavailable(event, exc)
            except Exception:
                logger.exception("sid=%s could not load the call state", event.sid)
                return self.fallback(event)
            if session.duplicate:
                logger.warning(
                    "sid=%s duplicate NewCall for a call already started: nothing is saved",
                    escape_for_log(event.sid),
                )
            body = self.dispatch(ctx, event)
            try:
                if session.conflict is not None:  # a checkpoint lost a race mid-request
                    raise session.conflict
                session.commit()
                return body
            except ConflictError as exc:
                if session.retry_is_free(exc):
                    continue
                retries += 1
                if retries <= self.conflict_retries:
                    logger.info("sid=%s conflict, retrying: %s", event.sid, exc)
                    continue
                logger.error("sid=%s gave up after conflicts: %s", event.sid, exc)
                return self.fallback(event)
            except StoreUnavailableError as exc:
                return self.store_unavailable(event, exc)
            except Exception:
                logger.exception("sid=%s could not save the call state", event.sid)
                return self.fallback(event)

    def _count_live(self, event: Event) -> bytes | None:
        """Admit a NewCall under ``max_live_calls`` (else the busy reply); release an ending."""
        store = self.store
        if store is None or self.max_live_calls is None:
            return None
        limit = self._live_limit
        if limit is None or limit.store is not store:
            limit = self._live_limit = LiveCallLimit(store, self.max_live_calls)
        try:
            if isinstance(event, NewCall):
                if not limit.admit(event.sid):
                    logger.warning(
                        "sid=%s busy: %d calls are live (max_live_calls)",
                        escape_for_log(event.sid),
                        self.max_live_calls,
                    )
                    return Response().play_text(self.busy_prompt).hangup().to_xml()
            elif isinstance(event, _ENDING_EVENTS):
                limit.release(event.sid)
        except Exception:
            logger.exception("sid=%s could not count live calls", escape_for_log(event.sid))
            return self.fallback(event)
        return None

    # -- dispatch ---------------------------------------------------------------------------

    def find_handler(self, route: str, event: Event, call: Call | None) -> Handler | None:
        """The handler for ``event`` on ``route``: the call's step first, then the default."""
        event_type = type(event)
        if call is not None and call.step is not None:
            handler = self._table.get((route, event_type, call.step))
            if handler is not None:
                return handler
        return self._table.get((route, event_type, None))

    def dispatch(self, ctx: RequestContext, event: Event) -> bytes:
        """Run the handler for ``event`` on ``ctx.call`` and return the XML body (never
        raises: a failure goes to :meth:`handle_exception`)."""
        call = ctx.call
        handler = ctx.handler = self.find_handler(ctx.route, event, call)
        try:
            if handler is None:
                if isinstance(event, _ENDING_EVENTS):
                    return b""  # KooKoo ignores replies to the end-of-call notifications
                if isinstance(event, Stream):
                    from kookoo.web.streams import pending_stream_reply

                    if pending := pending_stream_reply(self, ctx):
                        return pending
                if call is not None and call.step is not None and call.last_reply:
                    # A retried or unexpected request: say the step's reply again rather
                    # than end the call (kookoo cannot tell a retry from a repeat).
                    logger.warning(
                        "sid=%s step %r has no handler for %s on route %s: sending its last "
                        "reply again",
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
            result = self._invoke(handler, event, call, ctx)
            return self.make_response(result, event, call, ctx, f"handler {handler.name}")
        except Exception as exc:
            return self.handle_exception(exc, event, ctx)

    def _invoke(
        self, handler: Handler, event: Event, call: Call | None, ctx: RequestContext
    ) -> object:
        kwargs: dict[str, Any] = {}
        if handler.wants_call:
            kwargs["call"] = call
        if handler.wants_request:
            kwargs["request"] = ctx.request
        if handler.wants_session:
            kwargs["session"] = ctx.session
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
        ctx: RequestContext,
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
                step = call.step = result.step
                if step is not None and step not in self._known_steps:
                    self._warn_unknown_step(step, source)
            self._resolve_urls(result, ctx)
            if self.debug:
                _lint_strictly(result, source)
            body = result.to_xml()
            if call is not None:
                call.last_reply = body.decode("utf-8") if call.step is not None else None
            return body
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

    def _warn_unknown_step(self, step: str, source: str) -> None:
        if step in self._warned_steps:
            return
        self._warned_steps.add(step)
        logger.warning("app %s: %s", self.name, _unknown_step(step, self._known_steps, source))

    def handle_exception(self, exc: Exception, event: Event, ctx: RequestContext) -> bytes:
        """Answer a handler's exception: the matching error handler (on the call as stored,
        without the failed handler's changes), else log it with the sid and play the
        fallback; either way nothing the failed handler changed is saved."""
        session = ctx.session
        if session is not None and exc is session.conflict:
            return b""  # run_call re-runs the request on the stored call
        scoped = self._route_error_handlers.get(ctx.route)
        for cls in type(exc).__mro__:
            entry = (scoped.get(cls) if scoped else None) or self._error_handlers.get(cls)
            if entry is None:
                continue
            func, wants_call = entry
            try:
                call = ctx.call = session.restore() if session is not None else ctx.call
                result = func(exc, event, call=call) if wants_call else func(exc, event)
                return self.make_response(result, event, call, ctx, f"error handler {func!r}")
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
        ctx.failed = True
        if session is not None:
            session.discard()
        return self.fallback(event)

    def _resolve_urls(self, response: Response, ctx: RequestContext) -> None:
        """Make relative ``gotourl``/``playaudio`` URLs absolute (``public_url`` or a trusted
        host, never any ``Host``); a ``gotourl`` keeps the request's token (audio does not
        need it, so the secret does not travel further); ``//host`` is refused."""
        guard = ctx.guard
        token = guard.token if guard is not None else None
        in_path = guard is not None and guard.token_in_path
        for element in response._element.iter("gotourl", "playaudio", "stream"):
            if element.tag == "stream":
                # imported here: kookoo.stream (asyncio & co) loads only for apps that stream
                from kookoo.web.streams import sign_stream

                sign_stream(element, ctx.event.sid if ctx.event else "", self.secret)
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

    def ops_reply(self, path: str) -> Reply:
        """The answer at :attr:`health_path` (see :mod:`kookoo.web.health`) or
        :attr:`metrics_path`; no guard, handler or call is involved."""
        from kookoo.web.health import ops_reply

        return ops_reply(self, path)

    @property
    def store_if_tracked(self) -> CallStore | None:
        """The store the handlers keep calls in (created if need be); ``None``: they keep none."""
        return self.store if self._tracks_calls else None

    def store_unavailable(self, event: Event, error: StoreUnavailableError) -> bytes:
        """The store is down: log the store and the cause (one ERROR line, no traceback),
        and let the caller hear :attr:`unavailable_prompt` and a hangup."""
        logger.error("sid=%s %s", escape_for_log(event.sid or "-"), escape_for_log(error))
        if self.metrics is not None:
            self.metrics.store_error()
        if isinstance(event, _ENDING_EVENTS):
            return b""
        return _prompt_and_hangup(event, self.unavailable_prompt)

    def fallback(self, event: Event) -> bytes:
        """What the caller hears when the app cannot answer: :attr:`fallback_prompt`, then a
        hangup (nothing for Hangup/Disconnect, whose replies KooKoo ignores)."""
        if self.metrics is not None:
            self.metrics.fallback()
        if isinstance(event, _ENDING_EVENTS):
            return b""
        return _prompt_and_hangup(event, self.fallback_prompt)


def _prompt_and_hangup(event: Event, prompt: str) -> bytes:
    # The last line of defence: it must not fail, whatever the sid holds.
    try:
        reply = Response(sid=event.sid) if event.sid else Response()
    except ValueError:
        reply = Response()
    return reply.play_text(prompt).hangup().to_xml()


def _unknown_step(step: str, known: Iterable[str], source: str) -> str:
    close = difflib.get_close_matches(step, sorted(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        f"{source} names step {step!r}, which no handler serves (the call's next event goes "
        f"to the route's default handler){hint}"
    )


def _is_ping(event: Event) -> bool:
    return isinstance(event, NewCall) and event.is_test_ping


def _lint_strictly(response: Response, source: str) -> None:
    from kookoo.xml.lint import lint

    findings = lint(response)
    if findings:
        details = "; ".join(str(f) for f in findings)
        raise HandlerError(f"{source} returned XML that fails lint (debug mode): {details}")
